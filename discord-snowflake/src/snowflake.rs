//! The `Snowflake` type: Discord's 64-bit ID layout and its accessors.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::SnowflakeError;

/// The Discord epoch: 2015-01-01T00:00:00Z, in milliseconds since the Unix epoch.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

pub(crate) const TIMESTAMP_SHIFT: u32 = 22;
pub(crate) const WORKER_SHIFT: u32 = 17;
pub(crate) const PROCESS_SHIFT: u32 = 12;
pub(crate) const MAX_EPOCH_MS: u64 = (1 << 42) - 1;
pub(crate) const MAX_INCREMENT: u64 = (1 << 12) - 1;
const FIVE_BITS: u64 = 0x1f;

/// A Discord snowflake ID.
///
/// Ordering follows the raw integer, so IDs sort by creation time first.
/// Serialised as a decimal string; deserialised from a string or an integer.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Snowflake(u64);

impl Snowflake {
    /// The smallest ID.
    pub const MIN: Snowflake = Snowflake(0);
    /// The largest ID.
    pub const MAX: Snowflake = Snowflake(u64::MAX);

    /// Wraps a raw 64-bit value.
    pub const fn new(raw: u64) -> Self {
        Snowflake(raw)
    }

    /// The raw 64-bit value.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Builds an ID from its parts. `timestamp_ms` is Unix time in milliseconds.
    pub fn from_parts(
        timestamp_ms: u64,
        worker: u8,
        process: u8,
        increment: u16,
    ) -> Result<Self, SnowflakeError> {
        let since_epoch = epoch_offset(timestamp_ms)?;
        check_five_bits("worker", u64::from(worker))?;
        check_five_bits("process", u64::from(process))?;
        if u64::from(increment) > MAX_INCREMENT {
            return Err(SnowflakeError::IncrementOverflow(u64::from(increment)));
        }
        Ok(Self::pack(
            since_epoch,
            u64::from(worker),
            u64::from(process),
            u64::from(increment),
        ))
    }

    /// The smallest ID created at `timestamp_ms` (Unix milliseconds): every ID
    /// created at that millisecond or later compares `>=` to it. Use it as a
    /// bound for range queries ("messages after this time").
    pub fn from_timestamp_ms(timestamp_ms: u64) -> Result<Self, SnowflakeError> {
        Ok(Snowflake(epoch_offset(timestamp_ms)? << TIMESTAMP_SHIFT))
    }

    /// The smallest ID created at `time`: [`Snowflake::from_timestamp_ms`] for a
    /// [`SystemTime`], the bound for range queries such as "messages since".
    pub fn from_timestamp(time: SystemTime) -> Result<Self, SnowflakeError> {
        let ms = time
            .duration_since(UNIX_EPOCH)
            .map_err(|_| SnowflakeError::BeforeEpoch(0))?
            .as_millis();
        Self::from_timestamp_ms(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    pub(crate) const fn pack(since_epoch: u64, worker: u64, process: u64, increment: u64) -> Self {
        Snowflake(
            (since_epoch << TIMESTAMP_SHIFT)
                | (worker << WORKER_SHIFT)
                | (process << PROCESS_SHIFT)
                | increment,
        )
    }

    /// Milliseconds since the Discord epoch (the top 42 bits).
    pub const fn epoch_ms(self) -> u64 {
        self.0 >> TIMESTAMP_SHIFT
    }

    /// Creation time as Unix milliseconds.
    pub const fn timestamp_ms(self) -> u64 {
        self.epoch_ms() + DISCORD_EPOCH_MS
    }

    /// Creation time as a [`SystemTime`].
    pub fn system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.timestamp_ms())
    }

    /// The internal worker id (bits 21-17).
    pub const fn worker_id(self) -> u8 {
        ((self.0 >> WORKER_SHIFT) & FIVE_BITS) as u8
    }

    /// The internal process id (bits 16-12).
    pub const fn process_id(self) -> u8 {
        ((self.0 >> PROCESS_SHIFT) & FIVE_BITS) as u8
    }

    /// The per-millisecond increment (bits 11-0).
    pub const fn increment(self) -> u16 {
        (self.0 & MAX_INCREMENT) as u16
    }
}

fn epoch_offset(timestamp_ms: u64) -> Result<u64, SnowflakeError> {
    let since = timestamp_ms
        .checked_sub(DISCORD_EPOCH_MS)
        .ok_or(SnowflakeError::BeforeEpoch(timestamp_ms))?;
    if since > MAX_EPOCH_MS {
        return Err(SnowflakeError::TimestampOverflow(timestamp_ms));
    }
    Ok(since)
}

pub(crate) fn check_five_bits(field: &'static str, value: u64) -> Result<(), SnowflakeError> {
    if value > FIVE_BITS {
        Err(SnowflakeError::FieldOverflow { field, value })
    } else {
        Ok(())
    }
}

impl fmt::Debug for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snowflake({})", self.0)
    }
}

impl fmt::Display for Snowflake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Snowflake {
    type Err = SnowflakeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // `u64::from_str` accepts a leading `+`; Discord IDs never carry one.
        if s.starts_with('+') {
            return Err(SnowflakeError::Parse(s.to_owned()));
        }
        s.parse::<u64>()
            .map(Snowflake)
            .map_err(|_| SnowflakeError::Parse(s.to_owned()))
    }
}

impl From<u64> for Snowflake {
    fn from(raw: u64) -> Self {
        Snowflake(raw)
    }
}

impl From<Snowflake> for u64 {
    fn from(id: Snowflake) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example_decodes() {
        // The worked example from Discord's reference documentation.
        let id: Snowflake = "175928847299117063".parse().unwrap();
        assert_eq!(id.timestamp_ms(), 1_462_015_105_796);
        assert_eq!(id.worker_id(), 1);
        assert_eq!(id.process_id(), 0);
        assert_eq!(id.increment(), 7);
        assert_eq!(
            Snowflake::from_parts(1_462_015_105_796, 1, 0, 7).unwrap(),
            id
        );
    }

    #[test]
    fn out_of_range_parts_are_rejected() {
        assert_eq!(
            Snowflake::from_parts(DISCORD_EPOCH_MS - 1, 0, 0, 0),
            Err(SnowflakeError::BeforeEpoch(DISCORD_EPOCH_MS - 1))
        );
        let too_late = DISCORD_EPOCH_MS + MAX_EPOCH_MS + 1;
        assert_eq!(
            Snowflake::from_timestamp_ms(too_late),
            Err(SnowflakeError::TimestampOverflow(too_late))
        );
        assert!(matches!(
            Snowflake::from_parts(DISCORD_EPOCH_MS, 32, 0, 0),
            Err(SnowflakeError::FieldOverflow {
                field: "worker",
                value: 32
            })
        ));
        assert!(matches!(
            Snowflake::from_parts(DISCORD_EPOCH_MS, 0, 40, 0),
            Err(SnowflakeError::FieldOverflow {
                field: "process",
                value: 40
            })
        ));
        assert_eq!(
            Snowflake::from_parts(DISCORD_EPOCH_MS, 0, 0, 4096),
            Err(SnowflakeError::IncrementOverflow(4096))
        );
    }

    #[test]
    fn parse_rejects_non_decimal_text() {
        for bad in ["", "abc", "-1", "+5", "1.5", " 1", "18446744073709551616"] {
            assert!(bad.parse::<Snowflake>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn system_time_round_trips_at_millisecond_precision() {
        let id = Snowflake::from_timestamp_ms(1_700_000_000_123).unwrap();
        assert_eq!(Snowflake::from_timestamp(id.system_time()).unwrap(), id);
    }
}
