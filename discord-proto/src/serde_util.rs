//! Small serde helpers shared by the models.

/// For `#[serde(skip_serializing_if = "is_false")]` on optional flags.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
