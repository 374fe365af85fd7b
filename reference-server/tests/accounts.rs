//! Accounts, tokens, applications and bots.

mod common;

use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn register_login_and_me() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    let me = s.get("/users/@me", &alice.auth()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["username"], "alice");
    assert_eq!(me.body["id"], alice.id.as_str());

    // Log in again: a second, different token that works too.
    let login = s
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"username": "alice", "password": "correct horse"})),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let token2 = login.body["token"].as_str().unwrap();
    assert_ne!(token2, alice.token);
    assert_eq!(s.get("/users/@me", token2).await.status, 200);

    // Profiles of others, and an unknown user.
    let bob = s.register("bob").await;
    let r = s.get(&format!("/users/{}", bob.id), &alice.auth()).await;
    assert_eq!(r.body["username"], "bob");
    let r = s.get("/users/1", &alice.auth()).await;
    assert_eq!((r.status, r.code()), (404, 10013));

    // PATCH /users/@me.
    let r = s
        .patch(
            "/users/@me",
            &alice.auth(),
            json!({"global_name": "Alice A."}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        s.get("/users/@me", &alice.auth()).await.body["global_name"],
        "Alice A."
    );
    let r = s
        .patch("/users/@me", &alice.auth(), json!({"username": "bob"}))
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    assert_eq!(
        r.body["errors"]["username"]["_errors"][0]["code"],
        "USERNAME_ALREADY_TAKEN"
    );
}

#[tokio::test]
async fn bad_registrations_and_logins_are_refused_clearly() {
    let s = common::start().await;
    s.register("carol").await;
    let cases = [
        (
            json!({"username": "carol", "password": "long enough"}),
            "username",
            "USERNAME_ALREADY_TAKEN",
        ),
        (
            json!({"username": "x", "password": "long enough"}),
            "username",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!({"username": "everyone", "password": "long enough"}),
            "username",
            "USERNAME_INVALID",
        ),
        (
            json!({"username": "dave", "password": "short"}),
            "password",
            "BASE_TYPE_BAD_LENGTH",
        ),
        (
            json!({"username": "dave"}),
            "password",
            "BASE_TYPE_REQUIRED",
        ),
        (
            json!({"username": 5, "password": "long enough"}),
            "username",
            "BASE_TYPE_INVALID",
        ),
    ];
    for (body, field, code) in cases {
        let r = s
            .call(Method::POST, "/auth/register", None, Some(body.clone()))
            .await;
        assert_eq!((r.status, r.code()), (400, 50035), "{body}: {:?}", r.body);
        assert_eq!(
            r.body["errors"][field]["_errors"][0]["code"], code,
            "{body}: {:?}",
            r.body
        );
    }
    // Not JSON at all.
    let res = s
        .http
        .post(s.url("/auth/register"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let r = common::TestServer::reply(res).await;
    assert_eq!((r.status, r.code()), (400, 50109));

    for body in [
        json!({"username": "carol", "password": "wrong password"}),
        json!({"username": "nobody", "password": "correct horse"}),
    ] {
        let r = s.call(Method::POST, "/auth/login", None, Some(body)).await;
        assert_eq!((r.status, r.code()), (400, 50035));
        assert_eq!(
            r.body["errors"]["login"]["_errors"][0]["code"],
            "INVALID_LOGIN"
        );
    }
}

#[tokio::test]
async fn tokens_are_checked() {
    let s = common::start().await;
    let alice = s.register("alice").await;
    for bad in [
        "",
        "garbage",
        "Bot whatever",
        &format!("{}x", alice.token),
        &format!("Bot {}", alice.token),
    ] {
        let r = s.call(Method::GET, "/users/@me", Some(bad), None).await;
        assert_eq!(r.status, 401, "{bad:?}");
        assert_eq!(r.body["message"], "401: Unauthorized");
        assert_eq!(r.code(), 0);
    }
    let r = s.call(Method::GET, "/users/@me", None, None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn applications_have_bots_whose_tokens_reset() {
    let s = common::start().await;
    let owner = s.register("owner").await;
    let app = s
        .post("/applications", &owner.auth(), json!({"name": "Helper"}))
        .await;
    assert_eq!(app.status, 201, "{:?}", app.body);
    assert_eq!(app.body["bot"]["bot"], true);
    assert_eq!(app.body["bot"]["id"], app.body["id"]);
    assert_eq!(app.body["owner"]["id"], owner.id.as_str());
    let id = app.body["id"].as_str().unwrap();

    let bot = s.bot(&owner, "Second").await;
    let me = s.get("/users/@me", &bot.auth()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["bot"], true);
    // A bot token without the `Bot ` prefix is refused.
    assert_eq!(s.get("/users/@me", &bot.token).await.status, 401);
    let mine = s.get("/applications/@me", &bot.auth()).await;
    assert_eq!(mine.body["id"], bot.id.as_str());

    // Reset: the old token stops working.
    let again = s
        .post(
            &format!("/applications/{}/bot/reset", bot.id),
            &owner.auth(),
            json!({}),
        )
        .await;
    let new_token = again.body["token"].as_str().unwrap();
    assert_eq!(s.get("/users/@me", &bot.auth()).await.status, 401);
    assert_eq!(
        s.get("/users/@me", &format!("Bot {new_token}"))
            .await
            .status,
        200
    );

    // Only the owner may reset; bots cannot make applications.
    let other = s.register("other").await;
    let r = s
        .post(
            &format!("/applications/{id}/bot/reset"),
            &other.auth(),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, 10002));
    let r = s
        .post(
            "/applications",
            &format!("Bot {new_token}"),
            json!({"name": "Nested"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50001));
}
