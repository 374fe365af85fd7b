//! The cache kept from a real session's events against the reference
//! server: guilds, channels, roles, members, voice states.

#[path = "client_common/mod.rs"]
mod common;

use std::time::Duration;

use discord_client::cache::Cache;
use discord_client::gateway::{SessionConfig, Shard, ShardEvent};
use discord_proto::Snowflake;
use discord_proto::gateway::{ClientCommand, Intents, UpdatePresence, UpdateVoiceState};
use discord_proto::model::ChannelType;
use discord_proto::model::Status;
use reqwest::Method;
use serde_json::{Value, json};

/// Feeds events into the cache until `done` holds (15 s at most).
async fn until(shard: &mut Shard, cache: &Cache, what: &str, done: impl Fn(&Cache) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done(cache) {
        match tokio::time::timeout_at(deadline, shard.next_event()).await {
            Ok(Some(ShardEvent::Dispatch { event, .. })) => cache.update(&event),
            Ok(Some(ShardEvent::Fatal(code))) => panic!("fatal close {code}"),
            Ok(None) => panic!("the shard stopped"),
            Err(_) => panic!("the cache never showed {what}"),
        }
    }
}

fn id(v: &Value) -> Snowflake {
    Snowflake::new(v["id"].as_str().unwrap().parse().unwrap())
}

#[tokio::test]
async fn the_cache_follows_the_guild_as_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |_| {}).await;
    let api = format!("{}/api/v10", server.url());
    let (alice, guild, general) = common::setup(&api).await;
    let gateway = alice.gateway().await.unwrap().url;
    let token = alice_token(&alice).await;
    let mut shard = Shard::start(SessionConfig {
        token,
        intents: Intents::GUILDS
            | Intents::GUILD_MEMBERS
            | Intents::GUILD_VOICE_STATES
            | Intents::GUILD_PRESENCES,
        shard: None,
        gateway_url: gateway,
        compression: None,
    });
    let cache = Cache::new();

    // GUILD_CREATE fills it.
    until(&mut shard, &cache, "the guild", |c| {
        c.guild(guild).is_some()
    })
    .await;
    let me = cache.current_user().expect("READY's user").id;
    assert_eq!(cache.guild(guild).unwrap().name, "Client");
    assert!(cache.channel(general).is_some());
    let voice = cache
        .guild_channels(guild)
        .into_iter()
        .find(|c| c.kind == ChannelType::GuildVoice)
        .expect("the voice channel")
        .id;
    assert_eq!(
        cache.roles(guild).first().map(|r| r.id),
        Some(guild),
        "@everyone"
    );
    assert!(cache.member(guild, me).unwrap().user.is_some());
    assert!(!cache.is_unavailable(guild));

    // Channels come, change and go.
    let news: Value = alice
        .request(
            Method::POST,
            &format!("/guilds/{guild}/channels"),
            Some(&json!({"name": "news"})),
        )
        .await
        .unwrap();
    let news = id(&news);
    until(&mut shard, &cache, "#news", |c| c.channel(news).is_some()).await;
    let _: Value = alice
        .request(
            Method::PATCH,
            &format!("/channels/{news}"),
            Some(&json!({"name": "announcements"})),
        )
        .await
        .unwrap();
    until(&mut shard, &cache, "the rename", |c| {
        c.channel(news).and_then(|ch| ch.name).as_deref() == Some("announcements")
    })
    .await;
    let _: Value = alice
        .request(Method::DELETE, &format!("/channels/{news}"), None::<&()>)
        .await
        .unwrap();
    until(&mut shard, &cache, "#news gone", |c| {
        c.channel(news).is_none()
    })
    .await;
    assert!(!cache.guild_channels(guild).iter().any(|c| c.id == news));

    // A role, granted to alice, then deleted: gone from her roles too.
    let role: Value = alice
        .request(
            Method::POST,
            &format!("/guilds/{guild}/roles"),
            Some(&json!({"name": "mods"})),
        )
        .await
        .unwrap();
    let role = id(&role);
    until(&mut shard, &cache, "the role", |c| {
        c.role(guild, role).is_some()
    })
    .await;
    alice
        .request_empty(
            Method::PUT,
            &format!("/guilds/{guild}/members/{me}/roles/{role}"),
            None::<&()>,
        )
        .await
        .unwrap();
    until(&mut shard, &cache, "alice's new role", |c| {
        c.member(guild, me).is_some_and(|m| m.roles.contains(&role))
    })
    .await;
    alice
        .request_empty(
            Method::DELETE,
            &format!("/guilds/{guild}/roles/{role}"),
            None::<&()>,
        )
        .await
        .unwrap();
    until(&mut shard, &cache, "the role gone", |c| {
        c.role(guild, role).is_none()
    })
    .await;
    assert!(!cache.member(guild, me).unwrap().roles.contains(&role));

    // A bot joins: a new member and user.
    let bot_token = common::bot(&alice, guild, "cachebot").await;
    until(&mut shard, &cache, "the bot's membership", |c| {
        c.member_count(guild) == 2
    })
    .await;

    // The bot comes online and goes idle: its presence is cached.
    let bot_id = cache
        .members(guild)
        .into_iter()
        .filter_map(|m| m.user)
        .find(|u| u.bot)
        .expect("the bot's member record")
        .id;
    let bot_shard = Shard::start(SessionConfig {
        token: format!("Bot {bot_token}"),
        intents: Intents::GUILDS,
        shard: None,
        gateway_url: alice.gateway().await.unwrap().url,
        compression: None,
    });
    bot_shard.send(ClientCommand::PresenceUpdate(Box::new(UpdatePresence {
        since: None,
        activities: Vec::new(),
        status: Status::Idle,
        afk: false,
    })));
    until(&mut shard, &cache, "the bot idle", |c| {
        c.presence(guild, bot_id)
            .is_some_and(|p| p.status == Status::Idle)
    })
    .await;
    drop(bot_shard);

    // Voice: joining and leaving.
    shard.send(ClientCommand::VoiceStateUpdate(Box::new(
        UpdateVoiceState {
            guild_id: guild,
            channel_id: Some(voice),
            self_mute: true,
            self_deaf: false,
        },
    )));
    until(&mut shard, &cache, "alice in voice", |c| {
        c.voice_channel_members(guild, voice) == vec![me]
    })
    .await;
    assert!(cache.voice_state(guild, me).unwrap().self_mute);
    shard.send(ClientCommand::VoiceStateUpdate(Box::new(
        UpdateVoiceState {
            guild_id: guild,
            channel_id: None,
            self_mute: false,
            self_deaf: false,
        },
    )));
    until(&mut shard, &cache, "alice out of voice", |c| {
        c.voice_state(guild, me).is_none()
    })
    .await;

    // The guild is deleted: everything of it goes.
    alice
        .request_empty(Method::DELETE, &format!("/guilds/{guild}"), None::<&()>)
        .await
        .unwrap();
    until(&mut shard, &cache, "the guild gone", |c| {
        c.guild(guild).is_none()
    })
    .await;
    assert!(cache.channel(general).is_none());
    assert!(cache.roles(guild).is_empty());
    assert_eq!(cache.member_count(guild), 0);
}

/// The user token behind alice's client (the gateway takes it bare).
async fn alice_token(alice: &discord_client::RestClient) -> String {
    alice
        .authorization()
        .expect("alice's client has a token")
        .to_owned()
}
