//! One module per backend.

pub mod memory;
pub mod sql;
