//! Who sees which channel, and how the guild's events change it.

use discord_proto::Snowflake;
use discord_proto::gateway::{DispatchEvent, GatewayGuild};
use serde_json::json;

use super::{GuildView, Seen};

fn id(n: u64) -> Snowflake {
    Snowflake::new(n)
}

/// Guild 100 owned by user 1. @everyone may view; role 200 has no extra
/// permissions. Channel 10 is open; channel 11 hides from @everyone and
/// shows to role 200. Members: 1 (owner), 2 (role 200), 3 (no roles).
pub(crate) fn guild() -> GatewayGuild {
    serde_json::from_value(json!({
        "id": "100", "name": "g", "owner_id": "1",
        "roles": [
            {"id": "100", "name": "@everyone", "permissions": "3072", "position": 0,
             "color": 0, "hoist": false, "managed": false, "mentionable": false},
            {"id": "200", "name": "mods", "permissions": "0", "position": 1,
             "color": 0, "hoist": false, "managed": false, "mentionable": false}
        ],
        "channels": [
            {"id": "10", "type": 0, "guild_id": "100", "name": "open"},
            {"id": "11", "type": 0, "guild_id": "100", "name": "hidden",
             "permission_overwrites": [
                {"id": "100", "type": 0, "allow": "0", "deny": "1024"},
                {"id": "200", "type": 0, "allow": "1024", "deny": "0"}
             ]}
        ],
        "members": [
            {"user": {"id": "1", "username": "owner", "discriminator": "0", "avatar": null},
             "roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false},
            {"user": {"id": "2", "username": "mod", "discriminator": "0", "avatar": null},
             "roles": ["200"], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false},
            {"user": {"id": "3", "username": "plain", "discriminator": "0", "avatar": null},
             "roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false}
        ]
    }))
    .expect("fixture guild")
}

fn event(name: &str, data: serde_json::Value) -> DispatchEvent {
    let raw = serde_json::value::to_raw_value(&data).unwrap();
    DispatchEvent::from_raw(name, &raw).expect(name)
}

#[test]
fn overwrites_decide_who_sees_a_channel() {
    let mut v = GuildView::new(&guild());
    for user in [1, 2, 3] {
        assert!(v.can_view(id(user), id(10)), "user {user} in open channel");
    }
    assert!(v.can_view(id(1), id(11)), "the owner sees everything");
    assert!(v.can_view(id(2), id(11)), "role 200 is allowed");
    assert!(!v.can_view(id(3), id(11)), "@everyone is denied");
    assert!(!v.can_view(id(4), id(10)), "a non-member sees nothing");
    assert!(
        !v.can_view(id(1), id(12)),
        "an unknown channel is invisible"
    );
}

#[test]
fn a_role_change_takes_effect() {
    let mut v = GuildView::new(&guild());
    assert!(!v.can_view(id(3), id(11)));
    let changed = v.apply(&event(
        "GUILD_MEMBER_UPDATE",
        json!({"guild_id": "100", "roles": ["200"],
               "user": {"id": "3", "username": "plain", "discriminator": "0", "avatar": null},
               "joined_at": "2026-01-01T00:00:00+00:00"}),
    ));
    assert!(changed);
    assert!(v.can_view(id(3), id(11)));
    // Deleting the role takes it from its members.
    v.apply(&event(
        "GUILD_ROLE_DELETE",
        json!({"guild_id": "100", "role_id": "200"}),
    ));
    assert!(!v.can_view(id(3), id(11)));
    assert!(!v.can_view(id(2), id(11)));
}

#[test]
fn an_overwrite_change_takes_effect() {
    let mut v = GuildView::new(&guild());
    assert!(v.can_view(id(3), id(10)));
    v.apply(&event(
        "CHANNEL_UPDATE",
        json!({"id": "10", "type": 0, "guild_id": "100", "name": "open",
               "permission_overwrites": [{"id": "3", "type": 1, "allow": "0", "deny": "1024"}]}),
    ));
    assert!(!v.can_view(id(3), id(10)), "member overwrite denies");
    assert!(v.can_view(id(2), id(10)));
    v.apply(&event(
        "CHANNEL_DELETE",
        json!({"id": "10", "type": 0, "guild_id": "100"}),
    ));
    assert!(!v.can_view(id(2), id(10)));
}

#[test]
fn everyone_role_permissions_change_takes_effect() {
    let mut v = GuildView::new(&guild());
    v.apply(&event(
        "GUILD_ROLE_UPDATE",
        json!({"guild_id": "100", "role": {"id": "100", "name": "@everyone",
               "permissions": "0", "position": 0, "color": 0, "hoist": false,
               "managed": false, "mentionable": false}}),
    ));
    assert!(!v.can_view(id(3), id(10)));
    assert!(v.can_view(id(1), id(10)), "the owner still sees");
}

#[test]
fn members_come_and_go() {
    let mut v = GuildView::new(&guild());
    v.apply(&event(
        "GUILD_MEMBER_ADD",
        json!({"guild_id": "100", "roles": [], "joined_at": "2026-01-01T00:00:00+00:00",
               "deaf": false, "mute": false,
               "user": {"id": "4", "username": "new", "discriminator": "0", "avatar": null}}),
    ));
    assert!(v.can_view(id(4), id(10)));
    v.apply(&event(
        "GUILD_MEMBER_REMOVE",
        json!({"guild_id": "100",
               "user": {"id": "4", "username": "new", "discriminator": "0", "avatar": null}}),
    ));
    assert!(!v.can_view(id(4), id(10)));
    assert!(!v.is_member(id(4)));
}

#[test]
fn other_events_change_nothing() {
    let mut v = GuildView::new(&guild());
    assert!(!v.apply(&event(
        "TYPING_START",
        json!({"channel_id": "10", "guild_id": "100", "user_id": "3", "timestamp": 1}),
    )));
}

/// An answer kept beside a session holds only for the channel it was
/// asked for and only until who sees what changes; then it is asked again.
#[test]
fn a_kept_answer_goes_stale_with_any_change() {
    let mut v = GuildView::new(&guild());
    let mut seen = Seen::default();
    assert!(v.can_view_seen(id(3), id(10), &mut seen));
    assert!(
        !v.can_view_seen(id(3), id(11), &mut seen),
        "another channel"
    );
    assert!(v.can_view_seen(id(3), id(10), &mut seen), "and back");
    v.apply(&event(
        "CHANNEL_UPDATE",
        json!({"id": "10", "type": 0, "guild_id": "100", "name": "open",
               "permission_overwrites": [{"id": "3", "type": 1, "allow": "0", "deny": "1024"}]}),
    ));
    assert!(
        !v.can_view_seen(id(3), id(10), &mut seen),
        "overwrite denies"
    );
    v.set_member(id(3), vec![id(200)]);
    assert!(
        v.can_view_seen(id(3), id(11), &mut seen),
        "a new role shows the hidden channel"
    );
    v.apply(&event(
        "GUILD_ROLE_DELETE",
        json!({"guild_id": "100", "role_id": "200"}),
    ));
    assert!(
        !v.can_view_seen(id(3), id(11), &mut seen),
        "the role is gone"
    );
}
