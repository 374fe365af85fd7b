//! One module per backend.

pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
pub mod sql;
