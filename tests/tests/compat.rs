//! Stock bot libraries in other languages against an in-process server,
//! each using only its documented base-URL override:
//!
//! - discord.py (`Route.BASE`, `DiscordWebSocket.DEFAULT_GATEWAY`), run by
//!   the Python named in `DISCORD_PY_PYTHON`;
//! - discord.js (the `rest.api` client option), run by `node` with the
//!   package installed under `DISCORD_JS_DIR`.
//!
//! The server runs with its rate limits on, so the libraries' own rate
//! limiters read our headers. The bot scripts are in `tests/compat/`; `.ci/run` installs the libraries
//! once per machine. A test whose library is missing is skipped loudly, and
//! fails when `E2E_REQUIRE` names it.

mod common;

use std::time::Duration;

use serde_json::{Value, json};

/// Skips loudly, or fails when `E2E_REQUIRE` names `library`; `missing`
/// says what the test lacks.
fn skip_or_fail(library: &str, missing: &str) {
    let required = std::env::var("E2E_REQUIRE").unwrap_or_default();
    if required.split(',').any(|r| r.trim() == library) {
        panic!("the {library} test is required by E2E_REQUIRE but {missing}");
    }
    eprintln!("\n*** SKIPPED: the {library} test did not run: {missing}. ***");
}

/// Runs a bot script to completion; returns the JSON it printed last.
async fn run(mut command: tokio::process::Command) -> Value {
    let out = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the bot hung")
        .expect("cannot run the bot");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the bot failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap()
}

fn script(name: &str) -> String {
    format!("{}/compat/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The Python that runs discord.py, if there is one.
fn discord_py() -> Option<String> {
    let python = std::env::var("DISCORD_PY_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if python.is_none() {
        skip_or_fail("discord.py", "DISCORD_PY_PYTHON is not set");
    }
    python
}

/// Runs the discord.py bot on `compression` (what it asks the gateway for)
/// against a fresh server, and checks everything it did.
async fn discord_py_bot(python: &str, compression: &str) {
    let dir = tempfile::tempdir().unwrap();
    // Heartbeats every second, so that the bot's connection idles through
    // a few of them (and a zlib compressor is let go) in a short test.
    let mut config = common::server_config(dir.path());
    config.heartbeat_interval = Duration::from_secs(1);
    let server = common::server_with(config).await;
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(script("discord_py_bot.py"))
        .arg(server.url())
        .arg(compression);
    let result = run(cmd).await;
    assert_eq!(result["compression"], compression, "{result}");
    assert_eq!(result["guilds"], json!(["dpy guild"]));
    assert_eq!(result["got"], "!ping");
    assert_eq!(result["history"], json!(["pong (edited)", "!ping"]));
    assert_eq!(result["members"], json!(["dpy_alice", "dpybot"]));
    // One connection throughout: no decode error, and no ACK missed,
    // made it reconnect or resume.
    assert_eq!(result["connects"], 1);
    assert_eq!(result["resumes"], 0);
    // discord.py's latency is infinite until it reads an ACK. (Its figure
    // can be up to an interval here: its keep-alive thread records the
    // send after the loop thread may have read the ACK.)
    assert!(result["latency_ms"].as_f64().is_some(), "{result}");
    server.stop().await.unwrap();
}

/// discord.py without a zstd decompressor: zlib-stream.
#[tokio::test]
async fn a_stock_discord_py_bot_works_against_the_server() {
    if let Some(python) = discord_py() {
        discord_py_bot(&python, "zlib-stream").await;
    }
}

/// discord.py with its `speed` extra (the zstandard package), or on
/// Python 3.14: zstd-stream, one zstd frame for the whole connection.
#[tokio::test]
async fn a_stock_discord_py_bot_works_against_the_server_on_zstd_stream() {
    let Some(python) = discord_py() else { return };
    let probe = std::process::Command::new(&python)
        .args([
            "-c",
            "import discord.utils as u; print(u._ActiveDecompressionContext.COMPRESSION_TYPE)",
        ])
        .output()
        .expect("cannot run DISCORD_PY_PYTHON");
    if String::from_utf8_lossy(&probe.stdout).trim() != "zstd-stream" {
        return skip_or_fail(
            "discord.py",
            "DISCORD_PY_PYTHON has no zstd decompressor (pip install zstandard)",
        );
    }
    discord_py_bot(&python, "zstd-stream").await;
}

#[tokio::test]
async fn a_stock_discord_js_bot_works_against_the_server() {
    let Some(modules) = std::env::var("DISCORD_JS_DIR")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        return skip_or_fail("discord.js", "DISCORD_JS_DIR is not set");
    };
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script("discord_js_bot.js"))
        .arg(server.url())
        .env("NODE_PATH", format!("{modules}/node_modules"));
    let result = run(cmd).await;
    assert_eq!(result["guilds"], json!(["djs guild"]));
    assert_eq!(result["got"], "!ping");
    assert_eq!(result["history"], json!(["pong (edited)", "!ping"]));
    assert_eq!(result["members"], json!(["djs_alice", "djsbot"]));
    server.stop().await.unwrap();
}
