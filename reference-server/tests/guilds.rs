//! Guilds, channels, roles and members over REST: success, permission
//! denied and bad input for each.

mod common;

use serde_json::{Value, json};

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn guild_lifecycle() {
    let s = common::start().await;
    let owner = s.register("owner").await;
    let g = s
        .post("/guilds", &owner.auth(), json!({"name": "My Place"}))
        .await;
    assert_eq!(g.status, 201, "{:?}", g.body);
    let id = g.body["id"].as_str().unwrap().to_owned();
    // @everyone's ID is the guild's.
    assert_eq!(g.body["roles"][0]["id"], id.as_str());
    assert_eq!(g.body["roles"][0]["name"], "@everyone");
    assert_eq!(g.body["owner_id"], owner.id.as_str());
    let channels = s
        .get(&format!("/guilds/{id}/channels"), &owner.auth())
        .await;
    let names: Vec<(String, u64)> = channels
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["type"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        names.contains(&("general".into(), 0)) && names.contains(&("General".into(), 2)),
        "{names:?}"
    );

    let r = s
        .get(&format!("/guilds/{id}?with_counts=true"), &owner.auth())
        .await;
    assert_eq!(r.body["name"], "My Place");
    assert_eq!(r.body["approximate_member_count"], 1);
    let mine = s.get("/users/@me/guilds", &owner.auth()).await;
    assert_eq!(ids(&mine.body), vec![id.clone()]);
    assert_eq!(mine.body[0]["owner"], true);

    let r = s
        .patch(
            &format!("/guilds/{id}"),
            &owner.auth(),
            json!({"name": "Renamed", "description": "hi"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["name"], "Renamed");

    // Outsiders and plain members cannot.
    let outsider = s.register("outsider").await;
    let r = s.get(&format!("/guilds/{id}"), &outsider.auth()).await;
    assert_eq!((r.status, r.code()), (403, 50001));
    let general = channels
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == 0)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = s.register("member").await;
    s.join(&owner, &general, &member).await;
    let r = s
        .patch(
            &format!("/guilds/{id}"),
            &member.auth(),
            json!({"name": "Mine now"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    assert_eq!(
        s.delete(&format!("/guilds/{id}"), &member.auth())
            .await
            .status,
        403
    );

    // Bad input.
    let r = s.post("/guilds", &owner.auth(), json!({"name": "x"})).await;
    assert_eq!((r.status, r.code()), (400, 50035));
    assert!(r.body["errors"]["name"].is_object());
    let r = s
        .patch(
            &format!("/guilds/{id}"),
            &owner.auth(),
            json!({"afk_timeout": 7}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    let r = s
        .patch(
            &format!("/guilds/{id}"),
            &owner.auth(),
            json!({"no_such_field": 1}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    let r = s.get("/guilds/12345", &owner.auth()).await;
    assert_eq!((r.status, r.code()), (404, 10004));
    let r = s.get("/guilds/not-a-number", &owner.auth()).await;
    assert_eq!(r.status, 404);

    // The member leaves; the owner deletes.
    assert_eq!(
        s.delete(&format!("/users/@me/guilds/{id}"), &member.auth())
            .await
            .status,
        204
    );
    assert!(ids(&s.get("/users/@me/guilds", &member.auth()).await.body).is_empty());
    assert_eq!(
        s.delete(&format!("/users/@me/guilds/{id}"), &owner.auth())
            .await
            .status,
        400
    );
    assert_eq!(
        s.delete(&format!("/guilds/{id}"), &owner.auth())
            .await
            .status,
        204
    );
    assert_eq!(
        s.get(&format!("/guilds/{id}"), &owner.auth()).await.code(),
        10004
    );
}

#[tokio::test]
async fn channels_and_overwrites() {
    let s = common::start().await;
    let owner = s.register("owner").await;
    let (gid, general, _) = s.guild(&owner, "Chan").await;
    let member = s.register("member").await;
    s.join(&owner, &general, &member).await;

    let cat = s
        .post(
            &format!("/guilds/{gid}/channels"),
            &owner.auth(),
            json!({"name": "Stuff", "type": 4}),
        )
        .await;
    assert_eq!(cat.status, 201, "{:?}", cat.body);
    let cat_id = cat.body["id"].as_str().unwrap().to_owned();
    let c = s
        .post(
            &format!("/guilds/{gid}/channels"),
            &owner.auth(),
            json!({"name": "Secret Plans", "topic": "shh", "parent_id": cat_id}),
        )
        .await;
    assert_eq!(c.status, 201, "{:?}", c.body);
    assert_eq!(c.body["name"], "secret-plans");
    assert_eq!(c.body["parent_id"], cat_id.as_str());
    let secret = c.body["id"].as_str().unwrap().to_owned();

    // Hide it from @everyone: the member no longer sees it.
    assert_eq!(
        s.get(&format!("/channels/{secret}"), &member.auth())
            .await
            .status,
        200
    );
    let r = s
        .put(
            &format!("/channels/{secret}/permissions/{gid}"),
            &owner.auth(),
            json!({"type": 0, "deny": "1024"}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = s.get(&format!("/channels/{secret}"), &member.auth()).await;
    assert_eq!((r.status, r.code()), (403, 50001));
    assert!(
        !ids(&s
            .get(&format!("/guilds/{gid}/channels"), &member.auth())
            .await
            .body)
        .contains(&secret)
    );
    // ... then show it to the member alone.
    let r = s
        .put(
            &format!("/channels/{secret}/permissions/{}", member.id),
            &owner.auth(),
            json!({"type": 1, "allow": "1024"}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        s.get(&format!("/channels/{secret}"), &member.auth())
            .await
            .status,
        200
    );
    assert_eq!(
        s.delete(
            &format!("/channels/{secret}/permissions/{}", member.id),
            &owner.auth()
        )
        .await
        .status,
        204
    );
    assert_eq!(
        s.get(&format!("/channels/{secret}"), &member.auth())
            .await
            .status,
        403
    );

    // Modify and reorder.
    let r = s
        .patch(
            &format!("/channels/{general}"),
            &owner.auth(),
            json!({"topic": "welcome", "rate_limit_per_user": 5}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["topic"], "welcome");
    let r = s
        .patch(
            &format!("/guilds/{gid}/channels"),
            &owner.auth(),
            json!([{"id": general, "position": 7}]),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        s.get(&format!("/channels/{general}"), &owner.auth())
            .await
            .body["position"],
        7
    );

    // Members without MANAGE_CHANNELS cannot; bad input is explained.
    let r = s
        .post(
            &format!("/guilds/{gid}/channels"),
            &member.auth(),
            json!({"name": "mine"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    let r = s
        .patch(
            &format!("/channels/{general}"),
            &member.auth(),
            json!({"topic": "x"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    let r = s
        .post(
            &format!("/guilds/{gid}/channels"),
            &owner.auth(),
            json!({"name": "", "type": 0}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    let r = s
        .post(
            &format!("/guilds/{gid}/channels"),
            &owner.auth(),
            json!({"name": "dm", "type": 1}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    assert!(r.body["errors"]["type"].is_object());
    let r = s
        .patch(
            &format!("/guilds/{gid}/channels"),
            &owner.auth(),
            json!([{"id": "1", "position": 1}]),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    let r = s.get("/channels/1", &owner.auth()).await;
    assert_eq!((r.status, r.code()), (404, 10003));

    // Delete.
    let r = s
        .delete(&format!("/channels/{secret}"), &owner.auth())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], secret.as_str());
    assert_eq!(
        s.get(&format!("/channels/{secret}"), &owner.auth())
            .await
            .code(),
        10003
    );
}

#[tokio::test]
async fn roles_follow_the_hierarchy() {
    let s = common::start().await;
    let owner = s.register("owner").await;
    let (gid, general, _) = s.guild(&owner, "Roles").await;
    let modr = s.register("moderator").await;
    let user = s.register("user").await;
    s.join(&owner, &general, &modr).await;
    s.join(&owner, &general, &user).await;

    // MANAGE_ROLES (1 << 28) | KICK_MEMBERS (2).
    let mods = s
        .post(
            &format!("/guilds/{gid}/roles"),
            &owner.auth(),
            json!({"name": "mods", "permissions": ((1u64 << 28) | 2).to_string(), "hoist": true}),
        )
        .await;
    assert_eq!(mods.status, 200, "{:?}", mods.body);
    let mods_id = mods.body["id"].as_str().unwrap().to_owned();
    let helpers = s
        .post(
            &format!("/guilds/{gid}/roles"),
            &owner.auth(),
            json!({"name": "helpers"}),
        )
        .await;
    let helpers_id = helpers.body["id"].as_str().unwrap().to_owned();
    // The newest role sits just above @everyone; mods moved up.
    let roles = s
        .get(&format!("/guilds/{gid}/roles"), &owner.auth())
        .await
        .body;
    let pos = |id: &str| {
        roles
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["position"]
            .as_i64()
            .unwrap()
    };
    assert!(pos(&mods_id) > pos(&helpers_id) && pos(&helpers_id) == 1);

    assert_eq!(
        s.put(
            &format!("/guilds/{gid}/members/{}/roles/{mods_id}", modr.id),
            &owner.auth(),
            json!({})
        )
        .await
        .status,
        204
    );
    // A mod can give helpers (below mods) but not mods itself.
    let r = s
        .put(
            &format!("/guilds/{gid}/members/{}/roles/{helpers_id}", user.id),
            &modr.auth(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = s
        .put(
            &format!("/guilds/{gid}/members/{}/roles/{mods_id}", user.id),
            &modr.auth(),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    let m = s
        .get(&format!("/guilds/{gid}/members/{}", user.id), &owner.auth())
        .await;
    assert_eq!(m.body["roles"], json!([helpers_id]));
    // ... nor grant a permission it lacks (ADMINISTRATOR).
    let r = s
        .patch(
            &format!("/guilds/{gid}/roles/{helpers_id}"),
            &modr.auth(),
            json!({"permissions": "8"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    let r = s
        .patch(
            &format!("/guilds/{gid}/roles/{helpers_id}"),
            &modr.auth(),
            json!({"name": "helpers!", "color": 255}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["color"], 255);
    // Plain users cannot touch roles.
    let r = s
        .post(
            &format!("/guilds/{gid}/roles"),
            &user.auth(),
            json!({"name": "me"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    // @everyone cannot be renamed or deleted; unknown roles are 10011.
    let r = s
        .patch(
            &format!("/guilds/{gid}/roles/{gid}"),
            &owner.auth(),
            json!({"name": "all"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    assert_eq!(
        s.delete(&format!("/guilds/{gid}/roles/{gid}"), &owner.auth())
            .await
            .status,
        400
    );
    assert_eq!(
        s.get(&format!("/guilds/{gid}/roles/1"), &owner.auth())
            .await
            .code(),
        10011
    );
    let r = s
        .patch(
            &format!("/guilds/{gid}/roles/{helpers_id}"),
            &owner.auth(),
            json!({"color": "red"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));

    // Reorder, then delete: the role leaves its members.
    let r = s
        .patch(
            &format!("/guilds/{gid}/roles"),
            &owner.auth(),
            json!([{"id": helpers_id, "position": 5}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        s.delete(&format!("/guilds/{gid}/roles/{helpers_id}"), &owner.auth())
            .await
            .status,
        204
    );
    let m = s
        .get(&format!("/guilds/{gid}/members/{}", user.id), &owner.auth())
        .await;
    assert_eq!(m.body["roles"], json!([]));
}

#[tokio::test]
async fn members_list_modify_kick_and_bots() {
    let s = common::start().await;
    let owner = s.register("owner").await;
    let (gid, general, _) = s.guild(&owner, "Members").await;
    let mut people = Vec::new();
    for i in 0..5 {
        let u = s.register(&format!("person{i}")).await;
        s.join(&owner, &general, &u).await;
        people.push(u);
    }
    // Paginated by user ID.
    let page1 = s
        .get(&format!("/guilds/{gid}/members?limit=4"), &owner.auth())
        .await;
    assert_eq!(page1.body.as_array().unwrap().len(), 4);
    let last = page1.body[3]["user"]["id"].as_str().unwrap().to_owned();
    let page2 = s
        .get(
            &format!("/guilds/{gid}/members?limit=4&after={last}"),
            &owner.auth(),
        )
        .await;
    assert_eq!(page2.body.as_array().unwrap().len(), 2);
    let r = s
        .get(&format!("/guilds/{gid}/members?limit=0"), &owner.auth())
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    let r = s
        .get(&format!("/guilds/{gid}/members?limit=abc"), &owner.auth())
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));

    // Search by username prefix (or nickname), case insensitive.
    let r = s
        .get(
            &format!("/guilds/{gid}/members/search?query=PERSON&limit=10"),
            &owner.auth(),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body.as_array().unwrap().len(), 5);
    let r = s
        .get(
            &format!("/guilds/{gid}/members/search?query=person3"),
            &owner.auth(),
        )
        .await;
    assert_eq!(r.body[0]["user"]["username"], "person3");
    let r = s
        .get(&format!("/guilds/{gid}/members/search"), &owner.auth())
        .await;
    assert_eq!((r.status, r.code()), (400, 50035), "query is required");

    // Nicknames: your own with CHANGE_NICKNAME, others' need MANAGE_NICKNAMES.
    let p0 = &people[0];
    let r = s
        .patch(
            &format!("/guilds/{gid}/members/@me"),
            &p0.auth(),
            json!({"nick": "zero"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["nick"], "zero");
    let r = s
        .patch(
            &format!("/guilds/{gid}/members/{}", people[1].id),
            &p0.auth(),
            json!({"nick": "one"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    let r = s
        .patch(
            &format!("/guilds/{gid}/members/{}", people[1].id),
            &owner.auth(),
            json!({"nick": "one", "mute": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.body["nick"].clone(), r.body["mute"].clone()),
        (json!("one"), json!(true))
    );
    let r = s
        .patch(
            &format!("/guilds/{gid}/members/{}", people[1].id),
            &owner.auth(),
            json!({"roles": ["1"]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    let r = s
        .get(&format!("/guilds/{gid}/members/1"), &owner.auth())
        .await;
    assert_eq!((r.status, r.code()), (404, 10007));

    // Kicks: not by plain members, not of the owner.
    let r = s
        .delete(
            &format!("/guilds/{gid}/members/{}", people[2].id),
            &p0.auth(),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    assert_eq!(
        s.delete(
            &format!("/guilds/{gid}/members/{}", people[2].id),
            &owner.auth()
        )
        .await
        .status,
        204
    );
    assert_eq!(
        s.get(&format!("/guilds/{gid}"), &people[2].auth())
            .await
            .status,
        403
    );

    // Bots are added by the owner (or MANAGE_GUILD); people are not.
    let bot = s.bot(&owner, "Robot").await;
    let r = s
        .put(
            &format!("/guilds/{gid}/members/{}", bot.id),
            &p0.auth(),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, 50013));
    let r = s
        .put(
            &format!("/guilds/{gid}/members/{}", bot.id),
            &owner.auth(),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["user"]["bot"], true);
    assert_eq!(
        s.put(
            &format!("/guilds/{gid}/members/{}", bot.id),
            &owner.auth(),
            json!({})
        )
        .await
        .status,
        204
    );
    let r = s
        .put(
            &format!("/guilds/{gid}/members/{}", people[2].id),
            &owner.auth(),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 50035));
    let r = s.get(&format!("/guilds/{gid}"), &bot.auth()).await;
    assert_eq!(r.status, 200);
}

/// The guild object carries the arrays libraries require even when empty
/// (serenity needs `stickers`, twilight `emojis`).
#[tokio::test]
async fn guild_objects_have_the_fields_libraries_need() {
    let s = common::start().await;
    let owner = s.register("owner").await;
    let (gid, _, _) = s.guild(&owner, "Shapes").await;
    let g = s.get(&format!("/guilds/{gid}"), &owner.auth()).await;
    for field in ["roles", "emojis", "stickers", "features"] {
        assert!(g.body[field].is_array(), "{field} missing: {:?}", g.body);
    }
    let me = s.get("/users/@me", &owner.auth()).await;
    for field in ["mfa_enabled", "verified", "public_flags", "flags"] {
        assert!(!me.body[field].is_null(), "{field} missing: {:?}", me.body);
    }
}
