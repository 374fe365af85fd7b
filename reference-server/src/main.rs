//! The reference server binary. Not built yet: its work is issue #5.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "reference-server {}: not built yet. The REST API, gateway and voice server \
         are tracked in issue #5; today only the discord-snowflake and discord-proto \
         crates work.",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::FAILURE
}
