//! A stock discord.py bot against an in-process server, using only
//! discord.py's documented overrides (`Route.BASE`,
//! `DiscordWebSocket.DEFAULT_GATEWAY`). The bot script is
//! `tests/compat/discord_py_bot.py`; it needs a Python with discord.py,
//! named by `DISCORD_PY_PYTHON` (`.ci/run` makes one). Skipped loudly
//! without it, and a failure when `E2E_REQUIRE` lists `discord.py`.

use std::time::Duration;

use reference_server::{Config, Server};

#[tokio::test]
async fn a_stock_discord_py_bot_works_against_the_server() {
    let Some(python) = std::env::var("DISCORD_PY_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        let required = std::env::var("E2E_REQUIRE").unwrap_or_default();
        if required.split(',').any(|r| r.trim() == "discord.py") {
            panic!(
                "the discord.py test is required by E2E_REQUIRE but DISCORD_PY_PYTHON is not set"
            );
        }
        eprintln!(
            "\n*** SKIPPED: the discord.py test did not run because DISCORD_PY_PYTHON is not set. ***"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    config.rate_limits.enabled = false;
    config.drain = Duration::from_secs(1);
    let server = Server::bind(config).await.unwrap().spawn();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/compat/discord_py_bot.py");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(&python)
            .arg(script)
            .arg(server.url())
            .output(),
    )
    .await
    .expect("the discord.py bot hung")
    .expect("cannot run the discord.py bot");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "discord.py bot failed\nstdout: {stdout}\nstderr: {stderr}"
    );
    let result: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert_eq!(result["guilds"], serde_json::json!(["dpy guild"]));
    assert_eq!(result["got"], "!ping");
    assert_eq!(
        result["history"],
        serde_json::json!(["pong (edited)", "!ping"])
    );
    assert_eq!(
        result["members"],
        serde_json::json!(["dpy_alice", "dpybot"])
    );
    server.stop().await.unwrap();
}
