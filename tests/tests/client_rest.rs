//! The REST client against an in-process reference server: typed calls,
//! Discord errors, and the rate limiter keeping callers clear of 429s.

#[path = "client_common/mod.rs"]
mod common;

use discord_client::{ClientError, CreateMessage, MessagesQuery, RestClient};

#[tokio::test]
async fn typed_calls_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::server(dir.path(), |_| {}).await;
    let api = format!("{}/api/v10", s.url());
    let (client, _, general) = common::setup(&api).await;
    assert_eq!(client.current_user().await.unwrap().username, "alice");
    assert!(client.gateway().await.unwrap().url.starts_with("ws://"));

    let first = client
        .create_message(general, &CreateMessage::text("one"))
        .await
        .unwrap();
    // The same request twice (a retry): one message.
    let retried = CreateMessage::text("two").reply_to(first.id).nonce("n1");
    let reply = client.create_message(general, &retried).await.unwrap();
    let again = client.create_message(general, &retried).await.unwrap();
    assert_eq!(reply.id, again.id, "enforce_nonce de-duplicates");
    let edited = client
        .edit_message(general, reply.id, "two!")
        .await
        .unwrap();
    assert_eq!(edited.content, "two!");
    let page = client
        .messages(general, MessagesQuery::Latest(10))
        .await
        .unwrap();
    let texts: Vec<&str> = page.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["two!", "one"]);
    let older = client
        .messages(general, MessagesQuery::Before(reply.id, 10))
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    client.delete_message(general, first.id).await.unwrap();

    // Discord's errors come back typed.
    match client.message(general, first.id).await {
        Err(ClientError::Api { status, body }) => {
            assert_eq!((status, body.code.0), (404, 10008));
        }
        other => panic!("expected Unknown Message, got {other:?}"),
    }
    let anon = RestClient::builder().base_url(&api).build();
    match anon.current_user().await {
        Err(ClientError::Api { status, .. }) => assert_eq!(status, 401),
        other => panic!("expected 401, got {other:?}"),
    }
    s.stop().await.unwrap();
}

/// 12 messages from concurrent tasks into a channel that allows 3 per
/// second: all are sent, none is answered 429 (the limiter waits for the
/// bucket's reset instead).
#[tokio::test]
async fn the_rate_limiter_keeps_callers_clear_of_429s() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::server(dir.path(), |c| {
        c.rate_limits.message_limit = 3;
        c.rate_limits.message_window_secs = 1.0;
    })
    .await;
    let api = format!("{}/api/v10", s.url());
    let (client, _, general) = common::setup(&api).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_message(general, &CreateMessage::text(format!("m{i}")))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let page = client
        .messages(general, MessagesQuery::Latest(100))
        .await
        .unwrap();
    assert_eq!(page.len(), 12);
    assert_eq!(
        s.state.metrics.rate_limited.get(),
        0,
        "the server answered a 429"
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn history_walks_every_page_once() {
    use futures::TryStreamExt;
    let dir = tempfile::tempdir().unwrap();
    let s = common::server(dir.path(), |c| c.rate_limits.enabled = false).await;
    let api = format!("{}/api/v10", s.url());
    let (client, _, general) = common::setup(&api).await;
    // Two full pages and a partial one.
    let mut sent = Vec::new();
    for i in 0..230 {
        let m = client
            .create_message(general, &CreateMessage::text(format!("m{i}")))
            .await
            .unwrap();
        sent.push(m.id);
    }
    let got: Vec<_> = client
        .history(general)
        .map_ok(|m| m.id)
        .try_collect()
        .await
        .unwrap();
    sent.reverse();
    assert_eq!(got, sent, "newest first, each message exactly once");
}

/// A 429 the client could not foresee (another client with the same token
/// used up the bucket): it waits `retry_after` and succeeds.
#[tokio::test]
async fn an_unforeseen_429_is_waited_out() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::server(dir.path(), |c| {
        c.rate_limits.message_limit = 2;
        c.rate_limits.message_window_secs = 2.0;
    })
    .await;
    let api = format!("{}/api/v10", s.url());
    let (first, _, general) = common::setup(&api).await;
    let second = RestClient::builder()
        .base_url(&api)
        .user_token(first.authorization().unwrap())
        .build();
    for i in 0..2 {
        first
            .create_message(general, &CreateMessage::text(format!("a{i}")))
            .await
            .unwrap();
    }
    // `second` has seen no headers yet: its request meets the exhausted
    // bucket, gets a 429, waits and is sent again.
    let started = std::time::Instant::now();
    let m = second
        .create_message(general, &CreateMessage::text("b"))
        .await
        .expect("sent after waiting out the 429");
    assert_eq!(m.content, "b");
    assert!(
        s.state.metrics.rate_limited.get() >= 1,
        "the server never answered 429, so nothing was waited out"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "sent again before the bucket reset"
    );
    s.stop().await.unwrap();
}
