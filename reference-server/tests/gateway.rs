//! REST changes reach gateway sessions: the server's GatewayData and event
//! emission, end to end over real sockets.

mod common;

use std::time::Duration;

use common::{ALL_INTENTS, Session};
use serde_json::json;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn ready_guilds_and_message_events() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (gid, general, _) = s.guild(&alice, "Live").await;
    let owner = s.register("botowner").await;
    let bot = s.bot(&owner, "Watcher").await;
    assert_eq!(
        s.put(
            &format!("/guilds/{gid}/members/{}", bot.id),
            &alice.auth(),
            json!({})
        )
        .await
        .status,
        201
    );

    // GET /gateway and /gateway/bot point at the gateway.
    let g = s.get("/gateway", &alice.auth()).await;
    assert_eq!(g.body["url"], s.gateway_url().as_str());
    let gb = s.get("/gateway/bot", &bot.auth()).await;
    assert_eq!(gb.body["shards"], 1);
    assert_eq!(gb.body["session_start_limit"]["max_concurrency"], 1);

    let mut b = Session::connect(&s.gateway_url(), &bot.auth(), ALL_INTENTS).await;
    assert_eq!(b.ready["user"]["id"], bot.id.as_str());
    assert_eq!(b.ready["application"]["id"], bot.id.as_str());
    assert_eq!(b.ready["guilds"][0]["id"], gid.as_str());
    let created = b.event("GUILD_CREATE").await;
    assert_eq!(created["id"], gid.as_str());
    assert_eq!(created["channels"].as_array().unwrap().len(), 2);
    assert_eq!(created["member_count"], 2);

    let m = s.send(&general, &alice.auth(), "hello bot").await;
    let got = b.event("MESSAGE_CREATE").await;
    assert_eq!(got["id"], m.body["id"]);
    assert_eq!(got["content"], "hello bot");
    assert_eq!(got["guild_id"], gid.as_str());
    assert_eq!(got["author"]["id"], alice.id.as_str());
    assert!(got["member"]["roles"].is_array());

    let mid = m.body["id"].as_str().unwrap();
    s.patch(
        &format!("/channels/{general}/messages/{mid}"),
        &alice.auth(),
        json!({"content": "edited"}),
    )
    .await;
    assert_eq!(b.event("MESSAGE_UPDATE").await["content"], "edited");
    s.put(
        &format!("/channels/{general}/messages/{mid}/reactions/%E2%9C%85/@me"),
        &alice.auth(),
        json!({}),
    )
    .await;
    assert_eq!(b.event("MESSAGE_REACTION_ADD").await["emoji"]["name"], "✅");
    s.post(
        &format!("/channels/{general}/typing"),
        &alice.auth(),
        json!({}),
    )
    .await;
    assert_eq!(b.event("TYPING_START").await["user_id"], alice.id.as_str());
    s.delete(
        &format!("/channels/{general}/messages/{mid}"),
        &alice.auth(),
    )
    .await;
    assert_eq!(b.event("MESSAGE_DELETE").await["id"], mid);

    // Guild-level changes.
    let c = s
        .post(
            &format!("/guilds/{gid}/channels"),
            &alice.auth(),
            json!({"name": "news"}),
        )
        .await;
    assert_eq!(b.event("CHANNEL_CREATE").await["id"], c.body["id"]);
    let r = s
        .post(
            &format!("/guilds/{gid}/roles"),
            &alice.auth(),
            json!({"name": "fans"}),
        )
        .await;
    assert_eq!(
        b.event("GUILD_ROLE_CREATE").await["role"]["id"],
        r.body["id"]
    );
    s.patch(
        &format!("/guilds/{gid}"),
        &alice.auth(),
        json!({"name": "Livelier"}),
    )
    .await;
    assert_eq!(b.event("GUILD_UPDATE").await["name"], "Livelier");

    // A new member: GUILD_MEMBER_ADD to the guild.
    let carol = s.register("carol").await;
    s.join(&alice, &general, &carol).await;
    assert_eq!(
        b.event("GUILD_MEMBER_ADD").await["user"]["id"],
        carol.id.as_str()
    );
}

#[tokio::test]
async fn new_members_start_receiving_and_hidden_channels_stay_hidden() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (gid, general, _) = s.guild(&alice, "Join").await;
    let bob = s.register("bob").await;
    let mut bs = Session::connect(&s.gateway_url(), &bob.auth(), ALL_INTENTS).await;
    assert_eq!(bs.ready["guilds"], json!([]));

    // Joining sends GUILD_CREATE to bob's live session, then the guild's events.
    s.join(&alice, &general, &bob).await;
    let g = bs.event("GUILD_CREATE").await;
    assert_eq!(g["id"], gid.as_str());
    s.send(&general, &alice.auth(), "welcome bob").await;
    assert_eq!(bs.event("MESSAGE_CREATE").await["content"], "welcome bob");

    // A channel bob cannot see: no events from it.
    let secret = s
        .post(
            &format!("/guilds/{gid}/channels"),
            &alice.auth(),
            json!({"name": "staff", "permission_overwrites": [{"id": gid, "type": 0, "deny": "1024", "allow": "0"}]}),
        )
        .await;
    let secret = secret.body["id"].as_str().unwrap().to_owned();
    s.send(&secret, &alice.auth(), "secret stuff").await;
    s.send(&general, &alice.auth(), "public stuff").await;
    let seen = bs.event("MESSAGE_CREATE").await;
    assert_eq!(
        seen["content"], "public stuff",
        "the hidden message must not arrive"
    );

    // Granting access takes effect for the live session.
    s.put(
        &format!("/channels/{secret}/permissions/{}", bob.id),
        &alice.auth(),
        json!({"type": 1, "allow": "1024"}),
    )
    .await;
    s.send(&secret, &alice.auth(), "now you see it").await;
    assert_eq!(
        bs.event("MESSAGE_CREATE").await["content"],
        "now you see it"
    );

    // Kicked: GUILD_DELETE, then nothing more from the guild.
    s.delete(&format!("/guilds/{gid}/members/{}", bob.id), &alice.auth())
        .await;
    assert_eq!(bs.event("GUILD_DELETE").await["id"], gid.as_str());
    s.send(&general, &alice.auth(), "after the kick").await;
    assert!(bs.sees("MESSAGE_CREATE", QUIET).await.is_none());
}

#[tokio::test]
async fn content_is_stripped_for_bots_without_the_intent() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (gid, general, _) = s.guild(&alice, "Content").await;
    let bot = s.bot(&alice, "NoContent").await;
    s.put(
        &format!("/guilds/{gid}/members/{}", bot.id),
        &alice.auth(),
        json!({}),
    )
    .await;
    // GUILDS | GUILD_MESSAGES, no MESSAGE_CONTENT.
    let mut b = Session::connect(&s.gateway_url(), &bot.auth(), 1 | (1 << 9)).await;
    s.send(&general, &alice.auth(), "secret words").await;
    assert_eq!(b.event("MESSAGE_CREATE").await["content"], "");
    s.send(&general, &alice.auth(), &format!("<@{}> hello", bot.id))
        .await;
    assert_eq!(
        b.event("MESSAGE_CREATE").await["content"],
        format!("<@{}> hello", bot.id)
    );
}

#[tokio::test]
async fn bad_tokens_close_with_4004() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let s = common::start().await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}?v=10&encoding=json", s.gateway_url()))
            .await
            .unwrap();
    common::next_json(&mut ws).await;
    ws.send(Message::text(
        json!({"op": 2, "d": {"token": "nope", "intents": 1, "properties": {}}}).to_string(),
    ))
    .await
    .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 4004);
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Discord accepts a bot token in IDENTIFY with or without `Bot ` (discord.py
/// sends it bare); REST still needs the prefix.
#[tokio::test]
async fn bots_identify_with_or_without_the_prefix() {
    let s = common::start().await;
    let owner = s.register("owner").await;
    let bot = s.bot(&owner, "Bare").await;
    let with = Session::connect(&s.gateway_url(), &bot.auth(), 1).await;
    let without = Session::connect(&s.gateway_url(), &bot.token, 1).await;
    assert_eq!(with.ready["user"]["id"], bot.id.as_str());
    assert_eq!(without.ready["user"]["id"], bot.id.as_str());
    assert_eq!(without.ready["user"]["bot"], true);
    assert_eq!(s.get("/users/@me", &bot.token).await.status, 401);
}

/// PATCH /users/@me sends USER_UPDATE to the user's own sessions.
#[tokio::test]
async fn profile_changes_reach_the_users_sessions() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let mut session = Session::connect(&s.gateway_url(), &alice.auth(), 1).await;
    let r = s
        .patch(
            "/users/@me",
            &alice.auth(),
            json!({"global_name": "Alice!"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let update = session.event("USER_UPDATE").await;
    assert_eq!(update["id"], alice.id.as_str());
    assert_eq!(update["global_name"], "Alice!");
    // /gateway/bot needs a token.
    let r = s
        .call(reqwest::Method::GET, "/gateway/bot", None, None)
        .await;
    assert_eq!(r.status, 401);
}
