//! One module per backend.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
pub mod sql;
