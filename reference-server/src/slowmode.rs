//! Slowmode: a channel's `rate_limit_per_user` lets each member send one
//! message per that many seconds. Bots and members with MANAGE_MESSAGES or
//! MANAGE_CHANNELS (or BYPASS_SLOWMODE) are exempt, as on Discord. Counted
//! per node, in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use discord_proto::Snowflake;

/// Last send per (channel, user).
#[derive(Debug, Default)]
pub struct Slowmode {
    last: Mutex<HashMap<(Snowflake, Snowflake), Instant>>,
}

impl Slowmode {
    /// Records a send at `now` if `interval` has passed since the last one;
    /// otherwise returns how long is left.
    pub fn check(
        &self,
        channel: Snowflake,
        user: Snowflake,
        interval: Duration,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.len() > 100_000 {
            // Forget sends older than the longest slowmode (6 h).
            last.retain(|_, t| now.duration_since(*t) < Duration::from_secs(21_600));
        }
        if let Some(t) = last.get(&(channel, user)) {
            let since = now.duration_since(*t);
            if since < interval {
                return Err(interval - since);
            }
        }
        last.insert((channel, user), now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_interval_per_user_and_channel() {
        let s = Slowmode::default();
        let (c, u, v) = (Snowflake::new(1), Snowflake::new(2), Snowflake::new(3));
        let t0 = Instant::now();
        let ten = Duration::from_secs(10);
        assert!(s.check(c, u, ten, t0).is_ok());
        assert_eq!(
            s.check(c, u, ten, t0 + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        assert!(s.check(c, v, ten, t0).is_ok());
        assert!(s.check(Snowflake::new(9), u, ten, t0).is_ok());
        assert!(s.check(c, u, ten, t0 + ten).is_ok());
    }
}
