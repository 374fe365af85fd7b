//! serde: IDs are written as decimal strings and read from strings or integers.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Snowflake;

impl Serialize for Snowflake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Format into a stack buffer: no allocation per ID.
        let mut buf = [0u8; 20];
        let mut n = self.get();
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let text = std::str::from_utf8(&buf[i..]).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

struct SnowflakeVisitor;

impl Visitor<'_> for SnowflakeVisitor {
    type Value = Snowflake;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a snowflake as a decimal string or a non-negative integer")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Snowflake, E> {
        Ok(Snowflake::new(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Snowflake, E> {
        u64::try_from(v)
            .map(Snowflake::new)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Snowflake, E> {
        v.parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SnowflakeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_string_and_reads_both_forms() {
        let id = Snowflake::new(175_928_847_299_117_063);
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"175928847299117063\""
        );
        assert_eq!(
            serde_json::from_str::<Snowflake>("\"175928847299117063\"").unwrap(),
            id
        );
        assert_eq!(
            serde_json::from_str::<Snowflake>("175928847299117063").unwrap(),
            id
        );
        assert_eq!(serde_json::to_string(&Snowflake::new(0)).unwrap(), "\"0\"");
        assert_eq!(
            serde_json::to_string(&Snowflake::MAX).unwrap(),
            "\"18446744073709551615\""
        );
    }

    #[test]
    fn rejects_what_is_not_an_id() {
        for bad in ["-1", "\"x\"", "1.5", "null", "[]", "\"-3\""] {
            assert!(serde_json::from_str::<Snowflake>(bad).is_err(), "{bad}");
        }
    }
}
