//! Messages, reactions, typing, invites and attachments over REST.

mod common;

use serde_json::{Value, json};

fn contents(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_page_edit_and_delete() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (_, general, voice) = s.guild(&alice, "Chat").await;
    let bob = s.register("bob").await;
    s.join(&alice, &general, &bob).await;

    let mut ids = Vec::new();
    for i in 0..30 {
        let r = s.send(&general, &alice.auth(), &format!("m{i}")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let first = s
        .get(
            &format!("/channels/{general}/messages/{}", ids[0]),
            &bob.auth(),
        )
        .await;
    assert_eq!(first.body["content"], "m0");
    assert_eq!(first.body["author"]["username"], "alice");

    // Newest first, with limit, before, after and around.
    let page = s
        .get(
            &format!("/channels/{general}/messages?limit=5"),
            &bob.auth(),
        )
        .await;
    assert_eq!(contents(&page.body), ["m29", "m28", "m27", "m26", "m25"]);
    let before = s
        .get(
            &format!("/channels/{general}/messages?limit=3&before={}", ids[10]),
            &bob.auth(),
        )
        .await;
    assert_eq!(contents(&before.body), ["m9", "m8", "m7"]);
    let after = s
        .get(
            &format!("/channels/{general}/messages?limit=3&after={}", ids[10]),
            &bob.auth(),
        )
        .await;
    assert_eq!(contents(&after.body), ["m13", "m12", "m11"]);
    let around = s
        .get(
            &format!("/channels/{general}/messages?limit=5&around={}", ids[10]),
            &bob.auth(),
        )
        .await;
    assert_eq!(contents(&around.body), ["m12", "m11", "m10", "m9", "m8"]);
    let all = s
        .get(&format!("/channels/{general}/messages"), &bob.auth())
        .await;
    assert_eq!(all.body.as_array().unwrap().len(), 30);
    for bad in ["limit=0", "limit=101", "before=1&after=2", "limit=x"] {
        let r = s
            .get(&format!("/channels/{general}/messages?{bad}"), &bob.auth())
            .await;
        assert_eq!((r.status, r.code()), (400, 50035), "{bad}");
    }

    // Edit: only the author may change content.
    let path = format!("/channels/{general}/messages/{}", ids[29]);
    let r = s
        .patch(&path, &bob.auth(), json!({"content": "hacked"}))
        .await;
    assert_eq!((r.status, r.code()), (403, 50005));
    let r = s
        .patch(&path, &alice.auth(), json!({"content": "edited"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["content"], "edited");
    assert!(r.body["edited_timestamp"].is_string());

    // Delete: author, or MANAGE_MESSAGES.
    let r = s
        .delete(
            &format!("/channels/{general}/messages/{}", ids[0]),
            &bob.auth(),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    assert_eq!(
        s.delete(
            &format!("/channels/{general}/messages/{}", ids[0]),
            &alice.auth()
        )
        .await
        .status,
        204
    );
    let r = s
        .get(
            &format!("/channels/{general}/messages/{}", ids[0]),
            &alice.auth(),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, 10008));

    // Bulk delete: 2-100 messages, MANAGE_MESSAGES.
    let path = format!("/channels/{general}/messages/bulk-delete");
    let r = s
        .post(&path, &bob.auth(), json!({"messages": [ids[1], ids[2]]}))
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    let r = s
        .post(&path, &alice.auth(), json!({"messages": [ids[1]]}))
        .await;
    assert_eq!((r.status, r.code()), (400, 50016));
    // A snowflake from 2016 is too old.
    let r = s
        .post(
            &path,
            &alice.auth(),
            json!({"messages": [ids[1], "175928847299117063"]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50034));
    assert_eq!(
        s.post(&path, &alice.auth(), json!({"messages": ids[1..11]}))
            .await
            .status,
        204
    );
    let left = s
        .get(
            &format!("/channels/{general}/messages?limit=100"),
            &alice.auth(),
        )
        .await;
    assert_eq!(left.body.as_array().unwrap().len(), 19);

    // Bad input: empty, too long, wrong channel kind is fine for voice (text in voice).
    let r = s
        .post(
            &format!("/channels/{general}/messages"),
            &alice.auth(),
            json!({"content": ""}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50006));
    let r = s.send(&general, &alice.auth(), &"x".repeat(2001)).await;
    assert_eq!((r.status, r.code()), (400, 50035));
    assert!(r.body["errors"]["content"].is_object());
    let r = s
        .post(
            &format!("/channels/{general}/messages"),
            &alice.auth(),
            json!({"content": 5}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    assert_eq!(
        s.send(&voice, &alice.auth(), "text in voice").await.status,
        200
    );
    let r = s.send("1", &alice.auth(), "nowhere").await;
    assert_eq!((r.status, r.code()), (404, 10003));
}

#[tokio::test]
async fn permissions_gate_reading_and_writing() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (gid, general, _) = s.guild(&alice, "Perms").await;
    let bob = s.register("bob").await;
    let eve = s.register("eve").await;
    s.join(&alice, &general, &bob).await;
    s.send(&general, &alice.auth(), "hello").await;

    // Not a member: no access.
    let r = s
        .get(&format!("/channels/{general}/messages"), &eve.auth())
        .await;
    assert_eq!((r.status, r.code()), (403, 50001));
    let r = s.send(&general, &eve.auth(), "hi").await;
    assert_eq!((r.status, r.code()), (403, 50001));

    // SEND_MESSAGES denied for bob in general.
    let r = s
        .put(
            &format!("/channels/{general}/permissions/{}", bob.id),
            &alice.auth(),
            json!({"type": 1, "deny": "2048"}),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = s.send(&general, &bob.auth(), "let me talk").await;
    assert_eq!((r.status, r.code()), (403, 50013));
    let r = s
        .post(
            &format!("/channels/{general}/typing"),
            &bob.auth(),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    // READ_MESSAGE_HISTORY denied: the history is empty, single messages refused.
    s.put(
        &format!("/channels/{general}/permissions/{}", bob.id),
        &alice.auth(),
        json!({"type": 1, "deny": "65536"}),
    )
    .await;
    let r = s
        .get(&format!("/channels/{general}/messages"), &bob.auth())
        .await;
    assert_eq!((r.status, r.body.clone()), (200, json!([])));
    // Timed out: cannot send.
    s.delete(
        &format!("/channels/{general}/permissions/{}", bob.id),
        &alice.auth(),
    )
    .await;
    let until = "2099-01-01T00:00:00+00:00";
    let r = s
        .patch(
            &format!("/guilds/{gid}/members/{}", bob.id),
            &alice.auth(),
            json!({"communication_disabled_until": until}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, 50035),
        "a timeout beyond 28 days is refused"
    );
    let soon = time_in(3600);
    let r = s
        .patch(
            &format!("/guilds/{gid}/members/{}", bob.id),
            &alice.auth(),
            json!({"communication_disabled_until": soon}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = s.send(&general, &bob.auth(), "muted?").await;
    assert_eq!((r.status, r.code()), (403, 50013));
}

fn time_in(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    discord_proto::model::Timestamp::from_unix_millis(now + secs as i64 * 1000).to_string()
}

#[tokio::test]
async fn nonces_replies_and_mentions() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (_, general, _) = s.guild(&alice, "Nonce").await;
    let bob = s.register("bob").await;
    s.join(&alice, &general, &bob).await;
    let path = format!("/channels/{general}/messages");

    // enforce_nonce: a retry returns the first message, nothing new stored.
    let body = json!({"content": "once", "nonce": "n-1", "enforce_nonce": true});
    let a = s.post(&path, &alice.auth(), body.clone()).await;
    let b = s.post(&path, &alice.auth(), body).await;
    assert_eq!(a.body["id"], b.body["id"]);
    assert_eq!(a.body["nonce"], "n-1");
    let page = s.get(&format!("{path}?limit=10"), &alice.auth()).await;
    assert_eq!(contents(&page.body), ["once"]);
    // Without enforce_nonce the nonce is echoed but not de-duplicated.
    let c = s
        .post(
            &path,
            &alice.auth(),
            json!({"content": "twice", "nonce": 7}),
        )
        .await;
    let d = s
        .post(
            &path,
            &alice.auth(),
            json!({"content": "twice", "nonce": 7}),
        )
        .await;
    assert_ne!(c.body["id"], d.body["id"]);
    assert_eq!(c.body["nonce"], 7);
    let r = s
        .post(
            &path,
            &alice.auth(),
            json!({"content": "x", "nonce": "n".repeat(26)}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));

    // Mentions of members are resolved; strangers are not.
    let m = s
        .send(
            &general,
            &alice.auth(),
            &format!("hi <@{}> and <@1>", bob.id),
        )
        .await;
    assert_eq!(m.body["mentions"].as_array().unwrap().len(), 1);
    assert_eq!(m.body["mentions"][0]["id"], bob.id.as_str());
    let quiet = s
        .post(
            &path,
            &alice.auth(),
            json!({"content": format!("<@{}>", bob.id), "allowed_mentions": {"parse": []}}),
        )
        .await;
    assert_eq!(quiet.body["mentions"], json!([]));

    // Replies mention the replied-to author and carry the original.
    let reply = s
        .post(
            &path,
            &bob.auth(),
            json!({"content": "re", "message_reference": {"message_id": a.body["id"]}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["type"], 19);
    assert_eq!(reply.body["referenced_message"]["content"], "once");
    assert_eq!(reply.body["mentions"][0]["id"], alice.id.as_str());
    let r = s
        .post(
            &path,
            &bob.auth(),
            json!({"content": "re", "message_reference": {"message_id": "1"}}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
}

#[tokio::test]
async fn reactions() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (_, general, _) = s.guild(&alice, "React").await;
    let bob = s.register("bob").await;
    s.join(&alice, &general, &bob).await;
    let m = s.send(&general, &alice.auth(), "react to me").await;
    let mid = m.body["id"].as_str().unwrap();
    let thumbs = "%F0%9F%91%8D";
    let base = format!("/channels/{general}/messages/{mid}/reactions");

    assert_eq!(
        s.put(&format!("{base}/{thumbs}/@me"), &alice.auth(), json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        s.put(&format!("{base}/{thumbs}/@me"), &bob.auth(), json!({}))
            .await
            .status,
        204
    );
    let got = s
        .get(&format!("/channels/{general}/messages/{mid}"), &bob.auth())
        .await;
    assert_eq!(got.body["reactions"][0]["count"], 2);
    assert_eq!(got.body["reactions"][0]["me"], true);
    assert_eq!(got.body["reactions"][0]["emoji"]["name"], "👍");
    let who = s.get(&format!("{base}/{thumbs}"), &alice.auth()).await;
    assert_eq!(who.body.as_array().unwrap().len(), 2);

    // Bob removes his own; alice (owner) removes... bob cannot remove alice's.
    let r = s
        .delete(&format!("{base}/{thumbs}/{}", alice.id), &bob.auth())
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    assert_eq!(
        s.delete(&format!("{base}/{thumbs}/@me"), &bob.auth())
            .await
            .status,
        204
    );
    assert_eq!(
        s.delete(&format!("{base}/{thumbs}/{}", alice.id), &alice.auth())
            .await
            .status,
        204
    );
    let got = s
        .get(&format!("/channels/{general}/messages/{mid}"), &bob.auth())
        .await;
    assert!(
        got.body["reactions"].is_null(),
        "{:?}",
        got.body["reactions"]
    );

    // Not an emoji; unknown message.
    let r = s
        .put(&format!("{base}/thumbsup/@me"), &alice.auth(), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (400, 10014));
    let r = s
        .put(
            &format!("/channels/{general}/messages/1/reactions/{thumbs}/@me"),
            &alice.auth(),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, 10008));
    // Without ADD_REACTIONS a new emoji is refused.
    s.put(
        &format!("/channels/{general}/permissions/{}", bob.id),
        &alice.auth(),
        json!({"type": 1, "deny": "64"}),
    )
    .await;
    let r = s
        .put(&format!("{base}/{thumbs}/@me"), &bob.auth(), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
}

#[tokio::test]
async fn invites_view_join_and_expire() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (gid, general, _) = s.guild(&alice, "Invites").await;
    let inv = s
        .post(
            &format!("/channels/{general}/invites"),
            &alice.auth(),
            json!({"max_uses": 1, "max_age": 0}),
        )
        .await;
    assert_eq!(inv.status, 200, "{:?}", inv.body);
    let code = inv.body["code"].as_str().unwrap().to_owned();
    assert_eq!(inv.body["max_uses"], 1);
    assert_eq!(inv.body["guild"]["id"], gid.as_str());

    // Anyone may look at an invite, without a token.
    let v = s
        .call(
            reqwest::Method::GET,
            &format!("/invites/{code}?with_counts=true"),
            None,
            None,
        )
        .await;
    assert_eq!(v.status, 200);
    assert_eq!(v.body["approximate_member_count"], 1);
    assert!(v.body.get("uses").is_none());

    let bob = s.register("bob").await;
    assert_eq!(
        s.post(&format!("/invites/{code}"), &bob.auth(), json!({}))
            .await
            .status,
        200
    );
    assert_eq!(
        s.get(&format!("/guilds/{gid}"), &bob.auth()).await.status,
        200
    );
    // Used up.
    let carol = s.register("carol").await;
    let r = s
        .post(&format!("/invites/{code}"), &carol.auth(), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (404, 10006));

    // Listing needs MANAGE_CHANNELS / MANAGE_GUILD.
    let r = s
        .get(&format!("/channels/{general}/invites"), &bob.auth())
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    assert_eq!(
        s.get(&format!("/guilds/{gid}/invites"), &alice.auth())
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = s
        .post(
            &format!("/channels/{general}/invites"),
            &alice.auth(),
            json!({"max_age": 999999999}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));

    // Delete.
    let inv = s
        .post(
            &format!("/channels/{general}/invites"),
            &bob.auth(),
            json!({}),
        )
        .await;
    let code2 = inv.body["code"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/invites/{code2}"), &alice.auth())
            .await
            .status,
        200
    );
    let r = s
        .call(
            reqwest::Method::GET,
            &format!("/invites/{code2}"),
            None,
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, 10006));
}

#[tokio::test]
async fn attachments_upload_and_download() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (_, general, _) = s.guild(&alice, "Files").await;
    let bytes = b"hello attachment".to_vec();
    let form = reqwest::multipart::Form::new()
        .text(
            "payload_json",
            json!({"content": "see file", "attachments": [{"id": 0, "description": "greeting"}]})
                .to_string(),
        )
        .part(
            "files[0]",
            reqwest::multipart::Part::bytes(bytes.clone())
                .file_name("hello world.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    let res = s
        .http
        .post(s.url(&format!("/channels/{general}/messages")))
        .header("Authorization", alice.auth())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let r = common::TestServer::reply(res).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["content"], "see file");
    let a = &r.body["attachments"][0];
    assert_eq!(a["filename"], "hello_world.txt");
    assert_eq!(a["size"], bytes.len());
    assert_eq!(a["description"], "greeting");
    let url = a["url"].as_str().unwrap();
    let got = s.http.get(url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Deleting the message deletes the file.
    let mid = r.body["id"].as_str().unwrap();
    s.delete(
        &format!("/channels/{general}/messages/{mid}"),
        &alice.auth(),
    )
    .await;
    assert_eq!(s.http.get(url).send().await.unwrap().status(), 404);

    // Without ATTACH_FILES (1 << 15), uploads are refused.
    let bob = s.register("bob").await;
    s.join(&alice, &general, &bob).await;
    s.put(
        &format!("/channels/{general}/permissions/{}", bob.id),
        &alice.auth(),
        json!({"type": 1, "deny": "32768"}),
    )
    .await;
    let form = reqwest::multipart::Form::new().part(
        "files[0]",
        reqwest::multipart::Part::bytes(vec![1, 2, 3]).file_name("x.bin"),
    );
    let res = s
        .http
        .post(s.url(&format!("/channels/{general}/messages")))
        .header("Authorization", bob.auth())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let r = common::TestServer::reply(res).await;
    assert_eq!((r.status, r.code()), (403, 50013));
}

/// Message events also go onto the durable event bus (SQLite in the
/// embedded mode), in order per channel.
#[tokio::test]
async fn message_events_reach_the_event_bus() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (_, general, _) = s.guild(&alice, "Bus").await;
    let m = s.send(&general, &alice.auth(), "on the bus").await;
    let mid = m.body["id"].as_str().unwrap().to_owned();
    s.patch(
        &format!("/channels/{general}/messages/{mid}"),
        &alice.auth(),
        json!({"content": "edited"}),
    )
    .await;
    s.delete(
        &format!("/channels/{general}/messages/{mid}"),
        &alice.auth(),
    )
    .await;
    let mut consumer = s
        .server
        .state
        .stores
        .events
        .consumer("indexer")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(d) = consumer
        .next(std::time::Duration::from_millis(500))
        .await
        .unwrap()
    {
        assert_eq!(d.event.channel_id.to_string(), general);
        let payload: Value = serde_json::from_slice(&d.event.payload).unwrap();
        assert_eq!(payload["id"], mid.as_str());
        seen.push(d.event.kind.clone());
        consumer.commit(&d).await.unwrap();
    }
    assert_eq!(seen, ["MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"]);
}

/// Slowmode: one message per `rate_limit_per_user` seconds for members;
/// the owner (MANAGE_MESSAGES) and bots are exempt.
#[tokio::test]
async fn slowmode_limits_members_but_not_moderators_or_bots() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let (gid, general, _) = s.guild(&alice, "Slow").await;
    let bob = s.register("bob").await;
    s.join(&alice, &general, &bob).await;
    let bot = s.bot(&alice, "Fast").await;
    s.put(
        &format!("/guilds/{gid}/members/{}", bot.id),
        &alice.auth(),
        json!({}),
    )
    .await;
    let r = s
        .patch(
            &format!("/channels/{general}"),
            &alice.auth(),
            json!({"rate_limit_per_user": 60}),
        )
        .await;
    assert_eq!(r.status, 200);

    assert_eq!(s.send(&general, &bob.auth(), "first").await.status, 200);
    let r = s.send(&general, &bob.auth(), "second").await;
    assert_eq!((r.status, r.code()), (429, 20016));
    let retry = r.body["retry_after"].as_f64().unwrap();
    assert!(retry > 50.0 && retry <= 60.0, "{retry}");
    assert_eq!(r.body["global"], false);
    // Not stored.
    let page = s
        .get(&format!("/channels/{general}/messages"), &alice.auth())
        .await;
    assert_eq!(contents(&page.body), ["first"]);
    // Exempt: the owner and bots.
    for _ in 0..2 {
        assert_eq!(s.send(&general, &alice.auth(), "mod").await.status, 200);
        assert_eq!(s.send(&general, &bot.auth(), "bot").await.status, 200);
    }
}
