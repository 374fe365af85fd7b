#![doc = include_str!("../README.md")]

pub mod backend;
mod blob;
mod error;
pub mod event_bus;
pub mod guild;
pub mod message;
pub mod presence;
pub mod pubsub;
pub mod session;
pub mod voice;

use std::path::Path;
use std::sync::Arc;

pub use blob::{BlobStore, ObjectBlobStore};
pub use error::{BoxError, Result, StoreError};
pub use event_bus::{BusConsumer, BusEvent, Delivery, EventBus};
pub use guild::GuildStore;
pub use message::MessageStore;
pub use presence::PresenceStore;
pub use pubsub::{PubSub, Subscriber, Topic};
pub use session::{LogBatch, LogHandle, SessionStore};
pub use voice::{VoiceJoin, VoiceStateStore};

/// Every store a server needs, each behind its trait so that backends can be
/// mixed (SQLite messages with Redis presence, ...).
#[derive(Clone)]
pub struct Stores {
    /// Channel history.
    pub messages: Arc<dyn MessageStore>,
    /// Users, guilds, channels, roles, members, invites.
    pub guilds: Arc<dyn GuildStore>,
    /// Online status.
    pub presence: Arc<dyn PresenceStore>,
    /// Gateway sessions and replay logs.
    pub sessions: Arc<dyn SessionStore>,
    /// Who is in which voice channel.
    pub voice: Arc<dyn VoiceStateStore>,
    /// Pub/sub between gateway nodes.
    pub pubsub: Arc<dyn PubSub>,
    /// The durable message event bus.
    pub events: Arc<dyn EventBus>,
    /// Attachment files.
    pub blobs: Arc<dyn BlobStore>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

/// How many events a session's replay log keeps by default.
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000;

impl Stores {
    /// The embedded default under `data_dir`: SQLite (`discord.sqlite3`) for
    /// messages, guild data and the event bus; attachments under
    /// `attachments/`; presence, sessions, voice states and pub/sub in memory.
    pub async fn embedded(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let sqlite = Arc::new(
            backend::sql::SqlStore::open_sqlite(
                &data_dir.join("discord.sqlite3"),
                backend::sql::Durability::default(),
            )
            .await?,
        );
        Ok(Stores {
            messages: sqlite.clone(),
            guilds: sqlite.clone(),
            events: sqlite,
            presence: Arc::new(backend::memory::MemoryPresence::new()),
            sessions: Arc::new(backend::memory::MemorySessions::new(
                DEFAULT_REPLAY_CAPACITY,
            )),
            voice: Arc::new(backend::memory::MemoryVoiceStates::new()),
            pubsub: Arc::new(backend::memory::MemoryPubSub::new()),
            blobs: Arc::new(ObjectBlobStore::local(&data_dir.join("attachments"))?),
        })
    }
}

#[cfg(test)]
mod assertions {
    //! Compile-time checks: the traits are usable as `dyn`, and the stores
    //! can be shared across tasks.
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn stores_are_shareable_and_traits_object_safe() {
        send_sync::<Stores>();
        send_sync::<StoreError>();
        send_sync::<backend::sql::SqlStore>();
        send_sync::<backend::memory::MemoryPresence>();
        send_sync::<backend::memory::MemorySessions>();
        send_sync::<backend::memory::MemoryPubSub>();
        send_sync::<ObjectBlobStore>();
        #[cfg(feature = "redis")]
        send_sync::<backend::redis::RedisStore>();
        #[cfg(feature = "kafka")]
        send_sync::<backend::kafka::KafkaBus>();
        #[cfg(feature = "scylla")]
        send_sync::<backend::scylla::ScyllaMessages>();
        fn subscriber_is_send(_: Option<Box<dyn Subscriber>>) {}
        fn consumer_is_send(_: Option<Box<dyn BusConsumer>>) {}
        subscriber_is_send(None);
        consumer_is_send(None);
    }
}
