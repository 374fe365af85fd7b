#![doc = include_str!("../README.md")]

mod bucket;
mod error;
mod generator;
mod serde_impl;
mod snowflake;

pub use bucket::{BucketIter, TimeBuckets};
pub use error::SnowflakeError;
pub use generator::{Clock, Generator, SystemClock};
pub use snowflake::{DISCORD_EPOCH_MS, Snowflake};

#[cfg(test)]
mod assertions {
    //! Compile-time checks on the public types.
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        send_sync::<super::Snowflake>();
        send_sync::<super::Generator>();
        send_sync::<super::TimeBuckets>();
        send_sync::<super::SnowflakeError>();
    }
}
