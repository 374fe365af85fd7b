//! In-process backends for the embedded default: presence, gateway sessions
//! and pub/sub held in memory (they describe live connections, so losing
//! them with the process loses nothing a client cannot recover by
//! reconnecting).

mod presence;
mod pubsub;
mod session;

pub use presence::MemoryPresence;
pub use pubsub::MemoryPubSub;
pub use session::MemorySessions;
