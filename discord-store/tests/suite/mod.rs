//! The conformance suite: one function per behaviour, each taking the trait
//! object under test. Every backend's test file runs all of them unchanged.
#![allow(dead_code, unreachable_pub)] // each backend file uses the parts its backend implements

pub mod bus;
pub mod guilds;
pub mod live;
pub mod messages;
pub mod voice;

use discord_proto::Snowflake;

/// An ID created `ms` milliseconds after 2024-01-01 with this increment.
pub fn id_at(ms: u64, increment: u16) -> Snowflake {
    const BASE: u64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
    Snowflake::from_parts(BASE + ms, 0, 0, increment).expect("valid snowflake")
}

/// A distinct namespace of IDs per test, so suites can share a database.
pub fn namespace() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let pid = u64::from(std::process::id());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    ((nanos ^ (pid << 20)) % 1_000_000_000) * 1000 + NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The URL of a real service's suite from `env`, or `None` after saying
/// loudly that the suite is skipped. If `DISCORD_STORE_REQUIRE` names the
/// backend (comma-separated, as `.ci/run` sets it), a missing URL fails the
/// test instead: CI must not pass with a backend untested.
pub fn service_url(backend: &str, env: &str) -> Option<String> {
    if let Ok(url) = std::env::var(env)
        && !url.is_empty()
    {
        return Some(url);
    }
    let required = std::env::var("DISCORD_STORE_REQUIRE").unwrap_or_default();
    if required.split(',').any(|b| b.trim() == backend) {
        panic!("{backend} suite required by DISCORD_STORE_REQUIRE but {env} is not set");
    }
    loud_skip(&format!(
        "the {backend} conformance suite did not run because {env} is not set"
    ));
    None
}

/// Says that something was skipped on the real stderr, which the test
/// harness does not capture, so it shows even when the test passes.
pub fn loud_skip(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {what}. ***");
}
