//! An unmodified twilight bot (the published twilight-http and
//! twilight-gateway crates) against an in-process reference server, using
//! only twilight's documented overrides: the HTTP client's `proxy` and the
//! gateway config's `proxy_url`.

use std::time::Duration;

mod common;

use serde_json::json;
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt};

/// The next event the shard yields within 10 s, skipping heartbeats.
async fn next(shard: &mut Shard) -> Event {
    loop {
        let item = tokio::time::timeout(
            Duration::from_secs(10),
            shard.next_event(EventTypeFlags::all()),
        )
        .await
        .expect("the shard went quiet")
        .expect("the shard stream ended");
        match item {
            Ok(Event::GatewayHeartbeatAck | Event::GatewayHello(_) | Event::GatewayHeartbeat) => {
                continue;
            }
            Ok(event) => return event,
            Err(e) => panic!("twilight could not read the gateway: {e:?}"),
        }
    }
}

#[tokio::test]
async fn a_stock_twilight_bot_works_against_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let base = server.url();
    let api = common::Rest::new(base.clone());
    let common::BotSetup {
        alice,
        guild_id,
        general,
        bot_id: app_id,
        bot_token: token,
    } = api.bot_setup("Twilight Test", "twibot").await;

    // The bot, configured as twilight documents for a proxy.
    let host = base.trim_start_matches("http://").to_owned();
    let client = twilight_http::Client::builder()
        .token(token.clone())
        .proxy(host, true)
        .build();
    let gateway_url = client.gateway().await.unwrap().model().await.unwrap().url;
    assert_eq!(gateway_url, server.state.gateway_url);
    let intents = Intents::GUILDS
        | Intents::GUILD_MESSAGES
        | Intents::MESSAGE_CONTENT
        | Intents::GUILD_MEMBERS;
    let shard_config = ConfigBuilder::new(token, intents)
        .proxy_url(gateway_url)
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, shard_config);

    // Ready, then its guild.
    let ready = match next(&mut shard).await {
        Event::Ready(r) => r,
        other => panic!("expected READY, got {other:?}"),
    };
    assert_eq!(ready.user.id.get().to_string(), app_id);
    assert_eq!(ready.guilds.len(), 1);
    let created = match next(&mut shard).await {
        Event::GuildCreate(g) => g,
        other => panic!("expected GUILD_CREATE, got {other:?}"),
    };
    assert_eq!(created.id().get().to_string(), guild_id);

    // Another user's message arrives with its content.
    let sent = api
        .post(
            &format!("/channels/{general}/messages"),
            &alice,
            json!({"content": "!ping"}),
        )
        .await;
    let msg = loop {
        if let Event::MessageCreate(m) = next(&mut shard).await {
            break m;
        }
    };
    assert_eq!(msg.content, "!ping");
    assert_eq!(msg.id.get().to_string(), sent["id"].as_str().unwrap());
    assert_eq!(
        msg.guild_id.map(|g| g.get().to_string()),
        Some(guild_id.clone())
    );

    // It replies, edits the reply, pages history and deletes.
    let channel = msg.channel_id;
    let reply = client
        .create_message(channel)
        .content("pong")
        .reply(msg.id)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(reply.content, "pong");
    assert_eq!(
        reply.referenced_message.as_ref().map(|m| m.id),
        Some(msg.id)
    );
    let edited = client
        .update_message(channel, reply.id)
        .content(Some("pong (edited)"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.content, "pong (edited)");
    assert!(edited.edited_timestamp.is_some());
    let history = client
        .channel_messages(channel)
        .limit(10)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    let texts: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["pong (edited)", "!ping"]);
    let older = client
        .channel_messages(channel)
        .before(reply.id)
        .limit(10)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    client.delete_message(channel, reply.id).await.unwrap();
    let after = api
        .get(&format!("/channels/{general}/messages"), &alice)
        .await;
    assert_eq!(after.as_array().unwrap().len(), 1);
    // Members and the guild through twilight's models.
    let g = client
        .guild(created.id())
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(g.name, "Twilight Test");
    let members = client
        .guild_members(created.id())
        .limit(10)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(members.len(), 2);
}
