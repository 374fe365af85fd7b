//! The gateway client's session logic, with no I/O: it reads server
//! payloads, close codes and the clock, and says what to send, what to
//! deliver and when and how to reconnect. [`Shard`] drives it over a
//! WebSocket on a background task.

mod identify;
mod limit;
mod session;
mod shard;

pub use identify::IdentifyQueue;
pub use limit::{COMMAND_WINDOW, COMMANDS_PER_WINDOW, CommandLimit};
pub use session::{ClientSession, Output, SessionConfig};
pub use shard::{Shard, ShardEvent, start_shards};
