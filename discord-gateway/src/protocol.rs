//! The per-connection protocol as a state machine with no I/O.
//!
//! Inputs are decoded frames and the current time; outputs are frames to
//! send, a close code, or a request for the driver (authenticate this
//! IDENTIFY, look up this RESUME, apply this presence). The connection
//! loop behind [`crate::Gateway`] feeds it from a WebSocket; the unit tests
//! here feed it directly.

use std::sync::Arc;
use std::time::{Duration, Instant};

use discord_proto::gateway::{ClientCommand, CloseCode, Hello, ServerMessage};
use discord_proto::gateway::{
    Identify, RequestGuildMembers, Resume, UpdatePresence, UpdateVoiceState,
};

use crate::frame;

/// The limits a [`Protocol`] enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Sent in HELLO.
    pub heartbeat_interval: Duration,
    /// Silence after which the connection is a zombie (4009).
    pub heartbeat_timeout: Duration,
    /// Time allowed before IDENTIFY or RESUME (4009 after it).
    pub identify_timeout: Duration,
    /// Commands per window (4008 above it).
    pub commands_per_window: u32,
    /// The rate-limit window.
    pub command_window: Duration,
    /// The largest accepted frame in bytes (4002 above it).
    pub max_frame_size: usize,
}

impl From<&crate::GatewayConfig> for Limits {
    fn from(c: &crate::GatewayConfig) -> Self {
        Limits {
            heartbeat_interval: c.heartbeat_interval,
            heartbeat_timeout: c.heartbeat_timeout,
            identify_timeout: c.identify_timeout,
            commands_per_window: c.commands_per_window,
            command_window: c.command_window,
            max_frame_size: c.max_frame_size,
        }
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// HELLO sent; waiting for IDENTIFY or RESUME.
    Connected,
    /// IDENTIFY or RESUME handed to the driver; waiting for its answer.
    Authenticating,
    /// The session is established and receives dispatches.
    Ready,
    /// The connection is closing or closed; everything is ignored.
    Closed,
}

/// What the driver must do after an input.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Nothing.
    Nothing,
    /// Send this frame.
    Send(String),
    /// Close the connection with this code.
    Close(CloseCode),
    /// Authenticate and start a session (answer with
    /// [`Protocol::identified`], [`Protocol::invalid_session`] or a close).
    Identify(Box<Identify>),
    /// Look up and resume a session (answer with [`Protocol::resumed`],
    /// [`Protocol::invalid_session`] or a close).
    Resume(Box<Resume>),
    /// Apply a presence update.
    PresenceUpdate(Box<UpdatePresence>),
    /// Hand a voice state update to the voice hook.
    VoiceStateUpdate(Box<UpdateVoiceState>),
    /// Answer a member request with GUILD_MEMBERS_CHUNK events.
    RequestGuildMembers(Box<RequestGuildMembers>),
}

/// One connection's protocol state.
#[derive(Debug)]
pub struct Protocol {
    /// Shared by every connection of a node (an idle connection's state
    /// is its memory; a copy of these was about 80 bytes of it).
    limits: Arc<Limits>,
    phase: Phase,
    opened: Instant,
    last_heartbeat: Instant,
    heartbeat_requested: bool,
    window_start: Instant,
    window_count: u32,
    seq: u64,
}

impl Protocol {
    /// A new connection at `now`; send [`Protocol::hello`] first.
    pub fn new(limits: impl Into<Arc<Limits>>, now: Instant) -> Self {
        Protocol {
            limits: limits.into(),
            phase: Phase::Connected,
            opened: now,
            last_heartbeat: now,
            heartbeat_requested: false,
            window_start: now,
            window_count: 0,
            seq: 0,
        }
    }

    /// The HELLO frame.
    pub fn hello(&self) -> String {
        ServerMessage::Hello(Hello {
            heartbeat_interval: self.limits.heartbeat_interval.as_millis() as u64,
        })
        .encode()
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// When the client's last heartbeat arrived (the connection's start
    /// until one has).
    pub fn last_heartbeat(&self) -> Instant {
        self.last_heartbeat
    }

    /// The sequence number of the last dispatch sent.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// A frame arrived from the client.
    pub fn receive(&mut self, frame: &[u8], now: Instant) -> Step {
        if self.phase == Phase::Closed {
            return Step::Nothing;
        }
        if frame.len() > self.limits.max_frame_size {
            return self.close(CloseCode::DecodeError);
        }
        if now.duration_since(self.window_start) >= self.limits.command_window {
            self.window_start = now;
            self.window_count = 0;
        }
        self.window_count += 1;
        if self.window_count > self.limits.commands_per_window {
            return self.close(CloseCode::RateLimited);
        }
        let command = match ClientCommand::decode(frame) {
            Ok(command) => command,
            Err(e) => return self.close(e.close_code()),
        };
        match command {
            ClientCommand::Heartbeat(_) => {
                self.last_heartbeat = now;
                self.heartbeat_requested = false;
                Step::Send(ServerMessage::HeartbeatAck.encode())
            }
            ClientCommand::Identify(identify) => {
                if self.phase != Phase::Connected {
                    return self.close(CloseCode::AlreadyAuthenticated);
                }
                if !identify.intents.is_valid() {
                    return self.close(CloseCode::InvalidIntents);
                }
                if let Some([id, count]) = identify.shard
                    && (count == 0 || id >= count)
                {
                    return self.close(CloseCode::InvalidShard);
                }
                self.phase = Phase::Authenticating;
                Step::Identify(identify)
            }
            ClientCommand::Resume(resume) => {
                if self.phase != Phase::Connected {
                    return self.close(CloseCode::AlreadyAuthenticated);
                }
                self.phase = Phase::Authenticating;
                Step::Resume(resume)
            }
            other if self.phase != Phase::Ready => {
                drop(other);
                self.close(CloseCode::NotAuthenticated)
            }
            ClientCommand::PresenceUpdate(p) => Step::PresenceUpdate(p),
            ClientCommand::VoiceStateUpdate(v) => Step::VoiceStateUpdate(v),
            ClientCommand::RequestGuildMembers(r) => Step::RequestGuildMembers(r),
            // `ClientCommand` is non-exhaustive; a command this gateway does
            // not handle is an opcode it does not know.
            _ => self.close(CloseCode::UnknownOpcode),
        }
    }

    /// Time passed; returns a heartbeat request or a timeout close.
    pub fn tick(&mut self, now: Instant) -> Step {
        match self.phase {
            Phase::Closed => Step::Nothing,
            Phase::Connected | Phase::Authenticating
                if now.duration_since(self.opened) >= self.limits.identify_timeout =>
            {
                self.close(CloseCode::SessionTimedOut)
            }
            _ => {
                let silent = now.duration_since(self.last_heartbeat);
                if silent >= self.limits.heartbeat_timeout {
                    self.close(CloseCode::SessionTimedOut)
                } else if !self.heartbeat_requested
                    && silent >= self.limits.heartbeat_interval + self.limits.heartbeat_interval / 4
                {
                    // Late: ask once for a heartbeat now (op 1).
                    self.heartbeat_requested = true;
                    Step::Send(ServerMessage::Heartbeat.encode())
                } else {
                    Step::Nothing
                }
            }
        }
    }

    /// When [`Protocol::tick`] next has something to check.
    pub fn next_deadline(&self) -> Instant {
        match self.phase {
            Phase::Connected | Phase::Authenticating => self.opened + self.limits.identify_timeout,
            _ if !self.heartbeat_requested => {
                self.last_heartbeat
                    + self.limits.heartbeat_interval
                    + self.limits.heartbeat_interval / 4
            }
            _ => self.last_heartbeat + self.limits.heartbeat_timeout,
        }
    }

    /// The IDENTIFY succeeded: the session starts at sequence 0 (READY is
    /// sent next, as 1).
    pub fn identified(&mut self) {
        if self.phase == Phase::Authenticating {
            self.phase = Phase::Ready;
            self.seq = 0;
        }
    }

    /// The RESUME succeeded; the session continues after `seq` (the last
    /// sequence number the session assigned, replay included).
    pub fn resumed(&mut self, seq: u64) {
        if self.phase == Phase::Authenticating {
            self.phase = Phase::Ready;
            self.seq = seq;
        }
    }

    /// IDENTIFY or RESUME was refused with op 9; the client may IDENTIFY
    /// again on this connection. Returns the frame to send.
    pub fn invalid_session(&mut self, resumable: bool) -> String {
        if self.phase != Phase::Closed {
            self.phase = Phase::Connected;
        }
        ServerMessage::InvalidSession(resumable).encode()
    }

    /// Frames the next dispatch around `data` (already JSON).
    pub fn dispatch(&mut self, name: &str, data: &str) -> String {
        frame::dispatch(name, self.next_seq(), data)
    }

    /// Continues numbering after `seq`: the last sequence number assigned
    /// while someone else numbered the session's dispatches (the writer
    /// loops, while the connection lent them its socket).
    pub fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Takes the next sequence number for a dispatch the caller frames
    /// itself (see [`frame::dispatch_tail`]).
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Marks the connection closed and returns the step that closes it.
    pub fn close(&mut self, code: CloseCode) -> Step {
        self.phase = Phase::Closed;
        Step::Close(code)
    }
}

#[cfg(test)]
mod tests;
