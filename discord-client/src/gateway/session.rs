//! [`ClientSession`]: HELLO, heartbeats with jitter, zombie detection,
//! IDENTIFY or RESUME, sequence tracking, and what each close code or
//! INVALID_SESSION means for the next connection.

use std::time::{Duration, Instant};

use discord_proto::compression::TransportCompression;
use discord_proto::gateway::{
    ClientCommand, ConnectionProperties, DispatchEvent, Identify, Intents, Resume, ServerMessage,
};

/// What a session needs to identify.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The token (`Bot ` prefix optional).
    pub token: String,
    /// The intents.
    pub intents: Intents,
    /// `[shard_id, shard_count]`, or `None` for one shard.
    pub shard: Option<[u32; 2]>,
    /// The gateway URL from `GET /gateway/bot` (no query).
    pub gateway_url: String,
    /// Transport compression for the whole connection, or none.
    pub compression: Option<TransportCompression>,
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send this command.
    Send(ClientCommand),
    /// Hand this event to the application.
    Deliver {
        /// Its sequence number.
        seq: u64,
        /// The event.
        event: DispatchEvent,
    },
    /// Close the connection (if open) and connect again to `url` after
    /// `after`; the session resumes if `resume`, else identifies anew.
    Reconnect {
        /// Where to connect (with the query string).
        url: String,
        /// Resume (`true`) or identify (`false`).
        resume: bool,
        /// How long to wait first.
        after: Duration,
    },
    /// Stop: the server refused the session for good (bad token, bad
    /// intents, bad shard); the close code says why.
    Fatal(u16),
}

/// A gateway session as the client sees it.
#[derive(Debug)]
pub struct ClientSession {
    config: SessionConfig,
    seq: Option<u64>,
    session_id: Option<String>,
    resume_url: Option<String>,
    interval: Option<Duration>,
    next_beat: Option<Instant>,
    awaiting_ack: bool,
    failures: u32,
}

/// Close codes after which reconnecting cannot help.
const FATAL: [u16; 6] = [4004, 4010, 4011, 4012, 4013, 4014];
/// Close codes after which the session cannot be resumed.
const NOT_RESUMABLE: [u16; 2] = [4007, 4009];

fn with_query(url: &str, compression: Option<TransportCompression>) -> String {
    let mut out = format!("{}/?v=10&encoding=json", url.trim_end_matches('/'));
    if let Some(c) = compression {
        out.push_str("&compress=");
        out.push_str(c.as_str());
    }
    out
}

impl ClientSession {
    /// A session that has not connected yet.
    pub fn new(config: SessionConfig) -> Self {
        ClientSession {
            config,
            seq: None,
            session_id: None,
            resume_url: None,
            interval: None,
            next_beat: None,
            awaiting_ack: false,
            failures: 0,
        }
    }

    /// The shard's ID (0 without sharding).
    pub fn shard_id(&self) -> u32 {
        self.config.shard.map_or(0, |[id, _]| id)
    }

    /// Whether the next connection resumes (else it identifies).
    pub fn resumable(&self) -> bool {
        self.session_id.is_some() && self.seq.is_some()
    }

    /// The heartbeat interval of the current connection, once HELLO came.
    pub fn heartbeat_interval(&self) -> Option<Duration> {
        self.interval
    }

    /// The transport compression each connection uses.
    pub fn compression(&self) -> Option<TransportCompression> {
        self.config.compression
    }

    /// The last sequence number seen.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// Where to connect now: the resume URL for a resumable session, else
    /// the gateway URL.
    pub fn connect_url(&self) -> String {
        match (&self.resume_url, self.resumable()) {
            (Some(url), true) => with_query(url, self.config.compression),
            _ => with_query(&self.config.gateway_url, self.config.compression),
        }
    }

    /// When [`ClientSession::on_tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next_beat
    }

    fn reconnect(&mut self, resume: bool, after: Duration) -> Output {
        if !resume {
            self.session_id = None;
            self.seq = None;
            self.resume_url = None;
        }
        self.interval = None;
        self.next_beat = None;
        self.awaiting_ack = false;
        Output::Reconnect {
            url: self.connect_url(),
            resume,
            after,
        }
    }

    fn start(&self) -> ClientCommand {
        let token = self.config.token.clone();
        match (&self.session_id, self.seq) {
            (Some(session_id), Some(seq)) => ClientCommand::Resume(Box::new(Resume {
                token,
                session_id: session_id.clone(),
                seq,
            })),
            _ => ClientCommand::Identify(Box::new(Identify {
                token,
                properties: ConnectionProperties {
                    os: std::env::consts::OS.to_owned(),
                    browser: "discord-client".to_owned(),
                    device: "discord-client".to_owned(),
                },
                compress: None,
                large_threshold: None,
                shard: self.config.shard,
                presence: None,
                intents: self.config.intents,
            })),
        }
    }

    /// A payload from the server at `now`. `jitter` is a number in
    /// `[0, 1)` (random in production) that spreads the first heartbeat.
    pub fn on_message(&mut self, msg: ServerMessage, now: Instant, jitter: f64) -> Vec<Output> {
        match msg {
            ServerMessage::Hello(hello) => {
                let interval = Duration::from_millis(hello.heartbeat_interval);
                self.interval = Some(interval);
                self.next_beat = Some(now + interval.mul_f64(jitter.clamp(0.0, 1.0)));
                self.awaiting_ack = false;
                vec![Output::Send(self.start())]
            }
            ServerMessage::Dispatch { seq, event } => {
                self.seq = Some(self.seq.map_or(seq, |s| s.max(seq)));
                match &event {
                    DispatchEvent::Ready(ready) => {
                        self.session_id = Some(ready.session_id.clone());
                        self.resume_url = Some(ready.resume_gateway_url.clone());
                        self.failures = 0;
                    }
                    DispatchEvent::Resumed => self.failures = 0,
                    _ => {}
                }
                vec![Output::Deliver { seq, event }]
            }
            ServerMessage::Heartbeat => vec![Output::Send(ClientCommand::Heartbeat(self.seq))],
            ServerMessage::HeartbeatAck => {
                self.awaiting_ack = false;
                Vec::new()
            }
            ServerMessage::Reconnect => vec![self.reconnect(true, Duration::ZERO)],
            ServerMessage::InvalidSession(resumable) => {
                // Discord asks for a 1-5 s wait before identifying again.
                let after = Duration::from_millis(1000 + (jitter * 4000.0) as u64);
                let resume = resumable && self.resumable();
                vec![self.reconnect(resume, if resume { Duration::ZERO } else { after })]
            }
            // Payloads a later protocol version may add: nothing to do.
            _ => Vec::new(),
        }
    }

    /// Time passed: sends a heartbeat when one is due; a heartbeat still
    /// unacknowledged when the next is due means a zombie connection, which
    /// is dropped and resumed.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Output> {
        let (Some(due), Some(interval)) = (self.next_beat, self.interval) else {
            return Vec::new();
        };
        if now < due {
            return Vec::new();
        }
        if self.awaiting_ack {
            let resume = self.resumable();
            return vec![self.reconnect(resume, Duration::ZERO)];
        }
        self.awaiting_ack = true;
        self.next_beat = Some(now + interval);
        vec![Output::Send(ClientCommand::Heartbeat(self.seq))]
    }

    /// The connection closed with `code` (or dropped without one).
    pub fn on_close(&mut self, code: Option<u16>, jitter: f64) -> Output {
        if let Some(code) = code.filter(|c| FATAL.contains(c)) {
            return Output::Fatal(code);
        }
        let resume = self.resumable() && !code.is_some_and(|c| NOT_RESUMABLE.contains(&c));
        let after = self.backoff(jitter);
        self.reconnect(resume, after)
    }

    /// A connection attempt failed: try again later, waiting longer each
    /// time (exponential backoff with jitter, at most a minute).
    pub fn on_connect_failed(&mut self, jitter: f64) -> Output {
        let after = self.backoff(jitter);
        let resume = self.resumable();
        self.reconnect(resume, after)
    }

    fn backoff(&mut self, jitter: f64) -> Duration {
        let n = self.failures.min(6);
        self.failures = self.failures.saturating_add(1);
        if n == 0 {
            return Duration::ZERO;
        }
        let base = Duration::from_secs(1 << n).min(Duration::from_secs(60));
        base.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests;
