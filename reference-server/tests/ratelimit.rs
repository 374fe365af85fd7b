//! Rate limits: per-route buckets split by channel, the global limit, and
//! Discord's headers and 429 body.

mod common;

fn header<'a>(r: &'a common::Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn message_buckets_are_per_channel_and_answer_429() {
    let s = common::start_with(|c| {
        c.rate_limits.enabled = true;
        c.rate_limits.message_limit = 3;
        c.rate_limits.message_window_secs = 1.0;
    })
    .await;
    let alice = s.register("alice").await;
    let (_, general, voice) = s.guild(&alice, "Limits").await;
    let mut remaining = Vec::new();
    for i in 0..3 {
        let r = s.send(&general, &alice.auth(), &format!("m{i}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "x-ratelimit-limit"), "3");
        remaining.push(header(&r, "x-ratelimit-remaining").to_owned());
        let reset: f64 = header(&r, "x-ratelimit-reset").parse().unwrap();
        assert!(reset > 1.7e9, "reset is in epoch seconds: {reset}");
        header(&r, "x-ratelimit-reset-after")
            .parse::<f64>()
            .unwrap();
        header(&r, "x-ratelimit-bucket");
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let limited = s.send(&general, &alice.auth(), "one too many").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["global"], false);
    let retry = limited.body["retry_after"].as_f64().unwrap();
    assert!(retry > 0.0 && retry <= 1.0, "{retry}");
    assert!(
        limited.body["message"]
            .as_str()
            .unwrap()
            .contains("rate limited")
    );
    assert_eq!(header(&limited, "x-ratelimit-scope"), "user");
    header(&limited, "retry-after").parse::<u64>().unwrap();
    assert!(limited.headers.get("x-ratelimit-global").is_none());
    // The refused message was not stored.
    let page = s
        .get(&format!("/channels/{general}/messages"), &alice.auth())
        .await;
    assert_eq!(page.body.as_array().unwrap().len(), 3);

    // Another channel is another bucket (same bucket hash, other major).
    let other = s.send(&voice, &alice.auth(), "elsewhere").await;
    assert_eq!(other.status, 200);
    assert_eq!(
        header(&other, "x-ratelimit-bucket"),
        header(&limited, "x-ratelimit-bucket")
    );
    // Another route is another bucket entirely.
    let me = s.get("/users/@me", &alice.auth()).await;
    assert_eq!(me.status, 200);
    assert_ne!(
        header(&me, "x-ratelimit-bucket"),
        header(&limited, "x-ratelimit-bucket")
    );

    // After retry_after, sending works again.
    tokio::time::sleep(std::time::Duration::from_secs_f64(retry + 0.05)).await;
    assert_eq!(s.send(&general, &alice.auth(), "again").await.status, 200);
}

#[tokio::test]
async fn the_global_limit_applies_across_routes() {
    let s = common::start_with(|c| {
        c.rate_limits.enabled = true;
        c.rate_limits.global_per_second = 4;
    })
    .await;
    let alice = s.register("alice").await;
    let mut statuses = Vec::new();
    let mut last = None;
    for path in [
        "/users/@me",
        "/users/@me/guilds",
        "/gateway",
        "/users/@me",
        "/users/@me/guilds",
    ] {
        let r = s.get(path, &alice.auth()).await;
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
    let last = last.unwrap();
    assert_eq!(last.body["global"], true);
    assert_eq!(header(&last, "x-ratelimit-global"), "true");
    assert_eq!(header(&last, "x-ratelimit-scope"), "global");
    // Another token has its own global budget.
    let bob = s.register("bob").await;
    assert_eq!(s.get("/users/@me", &bob.auth()).await.status, 200);
}
