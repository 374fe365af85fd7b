//! In-process backends for the embedded default: presence, gateway sessions,
//! voice states and pub/sub held in memory (they describe live connections, so losing
//! them with the process loses nothing a client cannot recover by
//! reconnecting).

mod log;
mod presence;
mod pubsub;
mod session;
mod voice;

pub use presence::MemoryPresence;
pub use pubsub::MemoryPubSub;
pub use session::MemorySessions;
pub use voice::MemoryVoiceStates;
