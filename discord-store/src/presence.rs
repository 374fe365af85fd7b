//! Presence: who is online, kept alive by heartbeats and offline on expiry.

use std::time::Duration;

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::{Activity, ClientStatus, Status};
use serde::{Deserialize, Serialize};

use crate::Result;

/// A user's presence as last set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceRecord {
    /// The status.
    pub status: Status,
    /// Activities.
    #[serde(default)]
    pub activities: Vec<Activity>,
    /// Status per platform.
    #[serde(default)]
    pub client_status: ClientStatus,
}

/// Presence with expiry. A presence not refreshed within its time to live
/// reads as absent (offline), and [`PresenceStore::sweep_expired`] reports it
/// once so the gateway can announce it.
#[async_trait]
pub trait PresenceStore: Send + Sync + 'static {
    /// Sets (or refreshes) a user's presence for `ttl`.
    async fn set(&self, user_id: Snowflake, presence: &PresenceRecord, ttl: Duration)
    -> Result<()>;
    /// Presences of these users; expired or unset ones are left out.
    async fn get_many(&self, user_ids: &[Snowflake]) -> Result<Vec<(Snowflake, PresenceRecord)>>;
    /// Removes a user's presence now (explicit offline); `false` if there was none.
    async fn remove(&self, user_id: Snowflake) -> Result<bool>;
    /// Users whose presence expired since the last sweep, each reported once.
    async fn sweep_expired(&self) -> Result<Vec<Snowflake>>;
}
