//! An in-process reference server and a user with a guild, for the
//! client's tests.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::Duration;

use discord_client::RestClient;
use discord_proto::Snowflake;
use reference_server::{Config, RunningServer, Server};
use serde_json::{Value, json};

pub async fn server(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> RunningServer {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    config.drain = Duration::from_secs(1);
    tweak(&mut config);
    Server::bind(config).await.unwrap().spawn()
}

/// Alice's client, her new guild and its text channel.
pub async fn setup(api: &str) -> (RestClient, Snowflake, Snowflake) {
    let anon = RestClient::builder().base_url(api).build();
    let reg: Value = anon
        .request(
            reqwest::Method::POST,
            "/auth/register",
            Some(&json!({"username": "alice", "password": "correct horse"})),
        )
        .await
        .unwrap();
    let token = reg["token"].as_str().unwrap().to_owned();
    let user = RestClient::builder()
        .base_url(api)
        .user_token(&token)
        .build();
    let guild: Value = user
        .request(
            reqwest::Method::POST,
            "/guilds",
            Some(&json!({"name": "Client"})),
        )
        .await
        .unwrap();
    let gid = Snowflake::new(guild["id"].as_str().unwrap().parse().unwrap());
    let channels = user.guild_channels(gid).await.unwrap();
    let general = channels
        .iter()
        .find(|c| c.name.as_deref() == Some("general"))
        .unwrap();
    (user, gid, general.id)
}

/// A bot application owned by `owner`, added to `guild`; its token.
pub async fn bot(owner: &RestClient, guild: Snowflake, name: &str) -> String {
    let app: Value = owner
        .request(
            reqwest::Method::POST,
            "/applications",
            Some(&json!({"name": name})),
        )
        .await
        .unwrap();
    let app_id = app["id"].as_str().unwrap();
    let reset: Value = owner
        .request(
            reqwest::Method::POST,
            &format!("/applications/{app_id}/bot/reset"),
            Some(&json!({})),
        )
        .await
        .unwrap();
    owner
        .request_empty(
            reqwest::Method::PUT,
            &format!("/guilds/{guild}/members/{app_id}"),
            Some(&json!({})),
        )
        .await
        .unwrap();
    reset["token"].as_str().unwrap().to_owned()
}
