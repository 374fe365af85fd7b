//! ISO 8601 timestamps as Discord writes them, e.g.
//! `2017-07-11T17:27:07.299000+00:00`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time with microsecond precision, written in JSON as an ISO 8601
/// string in UTC with six fractional digits and a `+00:00` offset (Discord's
/// style), and read from any RFC 3339 string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    micros: i64,
}

impl Timestamp {
    /// The timestamp `micros` microseconds after the Unix epoch.
    pub const fn from_unix_micros(micros: i64) -> Self {
        Timestamp { micros }
    }

    /// The timestamp `ms` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(ms: i64) -> Self {
        Timestamp {
            micros: ms.saturating_mul(1000),
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn unix_micros(self) -> i64 {
        self.micros
    }

    /// Milliseconds since the Unix epoch (rounded down).
    pub const fn unix_millis(self) -> i64 {
        self.micros.div_euclid(1000)
    }

    /// The current time.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Parses an RFC 3339 / ISO 8601 timestamp such as
    /// `2017-07-11T17:27:07.299000+00:00` or `2021-01-01T00:00:00Z`.
    pub fn parse(s: &str) -> Result<Self, time::error::Parse> {
        let dt = OffsetDateTime::parse(s, &Rfc3339)?;
        let nanos = dt.unix_timestamp_nanos();
        // Years 1-9999 always fit in i64 microseconds.
        Ok(Timestamp::from_unix_micros((nanos / 1000) as i64))
    }

    fn to_datetime(self) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.micros) * 1000).ok()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        let micros = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
        };
        Timestamp::from_unix_micros(micros)
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        if t.micros >= 0 {
            UNIX_EPOCH + Duration::from_micros(t.micros as u64)
        } else {
            UNIX_EPOCH - Duration::from_micros(t.micros.unsigned_abs())
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(dt) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second(),
                dt.microsecond()
            ),
            // Outside the range `time` supports: fall back to the raw number
            // rather than panic.
            None => write!(f, "@{}us", self.micros),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn writes_discord_style_and_reads_it_back() {
        let t = Timestamp::parse("2017-07-11T17:27:07.299000+00:00").unwrap();
        assert_eq!(t.unix_millis(), 1_499_794_027_299);
        assert_eq!(t.to_string(), "2017-07-11T17:27:07.299000+00:00");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2017-07-11T17:27:07.299000+00:00\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn reads_other_offsets_and_z() {
        let z = Timestamp::parse("2021-01-01T00:00:00Z").unwrap();
        let plus = Timestamp::parse("2021-01-01T02:00:00+02:00").unwrap();
        assert_eq!(z, plus);
        assert_eq!(z.to_string(), "2021-01-01T00:00:00.000000+00:00");
    }

    #[test]
    fn rejects_garbage() {
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<Timestamp>("12345").is_err());
    }

    #[test]
    fn system_time_round_trip() {
        let t = Timestamp::from_unix_micros(1_700_000_000_123_456);
        let st: std::time::SystemTime = t.into();
        assert_eq!(Timestamp::from(st), t);
        let before = Timestamp::from_unix_micros(-5);
        assert_eq!(Timestamp::from(std::time::SystemTime::from(before)), before);
    }
}
