//! The gateway's command limit on the client side: at most 120 commands
//! per 60 seconds per connection (close 4008 beyond), with room always kept
//! for heartbeats.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Commands per window.
pub const COMMANDS_PER_WINDOW: usize = 120;
/// The window.
pub const COMMAND_WINDOW: Duration = Duration::from_secs(60);

/// A sliding window of the commands sent on one connection.
#[derive(Debug, Default)]
pub struct CommandLimit {
    sent: VecDeque<Instant>,
    /// Sends held back for heartbeats.
    reserved: usize,
}

impl CommandLimit {
    /// A limit that keeps room for the heartbeats of `interval`.
    pub fn new(interval: Duration) -> Self {
        let beats = COMMAND_WINDOW.as_millis() / interval.as_millis().max(1);
        CommandLimit {
            sent: VecDeque::new(),
            reserved: (beats as usize + 1).min(COMMANDS_PER_WINDOW / 2),
        }
    }

    fn prune(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= COMMAND_WINDOW)
        {
            self.sent.pop_front();
        }
    }

    /// When an application command may go (`now` if it may go at once).
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        self.prune(now);
        let budget = COMMANDS_PER_WINDOW - self.reserved;
        if self.sent.len() < budget {
            return now;
        }
        // The oldest send that must leave the window first.
        self.sent[self.sent.len() - budget] + COMMAND_WINDOW
    }

    /// Records a send (application command or heartbeat).
    pub fn record(&mut self, now: Instant) {
        self.prune(now);
        self.sent.push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_wait_for_the_window_and_heartbeats_keep_their_room() {
        // 41.25 s heartbeats: 1 per window, plus one spare.
        let mut limit = CommandLimit::new(Duration::from_millis(41_250));
        let t0 = Instant::now();
        for i in 0..118 {
            let now = t0 + Duration::from_millis(i);
            assert_eq!(limit.ready_at(now), now, "command {i}");
            limit.record(now);
        }
        let now = t0 + Duration::from_millis(200);
        assert_eq!(limit.ready_at(now), t0 + COMMAND_WINDOW, "the 119th waits");
        // Heartbeats still fit in the window's last two sends.
        limit.record(now);
        limit.record(now);
        assert_eq!(limit.sent.len(), COMMANDS_PER_WINDOW);
        let later = t0 + COMMAND_WINDOW + Duration::from_millis(5);
        assert_eq!(limit.ready_at(later), later);
    }
}
