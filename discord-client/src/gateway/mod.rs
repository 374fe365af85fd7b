//! The gateway client's session logic, with no I/O: it reads server
//! payloads, close codes and the clock, and says what to send, what to
//! deliver and when and how to reconnect. A socket loop drives it (not
//! built yet; issue #6).

mod session;

pub use session::{ClientSession, Output, SessionConfig};
