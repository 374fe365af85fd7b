//! Small serde helpers shared by the models.

/// For `#[serde(skip_serializing_if = "is_false")]` on optional flags.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Fields whose type Discord documents as `null`: present means "true",
/// absent means "false" (role tags such as `premium_subscriber`).
pub(crate) mod null_flag {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(_: &bool, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_none()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<bool, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer)?;
        Ok(true)
    }
}

/// An optional integer of milliseconds; anything that is not a
/// non-negative integer (an object, a string, a float) reads as `None`.
pub(crate) fn lenient_millis<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<u64>, D::Error> {
    let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
    Ok(v.as_u64())
}
