//! The crate's one error type.

/// What can go wrong when building or parsing a snowflake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnowflakeError {
    /// The timestamp is before the Discord epoch (2015-01-01T00:00:00Z).
    #[error("timestamp {0} ms is before the Discord epoch")]
    BeforeEpoch(u64),
    /// The timestamp does not fit the 42 bits a snowflake has for it.
    #[error("timestamp {0} ms is past the last one a snowflake can hold")]
    TimestampOverflow(u64),
    /// A worker or process id is not in 0..=31.
    #[error("{field} {value} does not fit in 5 bits (0-31)")]
    FieldOverflow {
        /// `"worker"` or `"process"`.
        field: &'static str,
        /// The rejected value.
        value: u64,
    },
    /// An increment is not in 0..=4095.
    #[error("increment {0} does not fit in 12 bits (0-4095)")]
    IncrementOverflow(u64),
    /// The text is not a decimal 64-bit integer.
    #[error("{0:?} is not a snowflake (a decimal 64-bit integer)")]
    Parse(String),
    /// A time-bucket width is too small (or zero).
    #[error("bucket width {0} ms is below the minimum of {min} ms", min = crate::TimeBuckets::MIN_WIDTH_MS)]
    BucketWidth(u64),
}
