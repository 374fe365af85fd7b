//! GuildStore behaviours.

use std::sync::Arc;

use discord_proto::model::{Channel, ChannelType, Guild, Role, Timestamp, User};
use discord_proto::{Permissions, Snowflake};
use discord_store::guild::{
    ApplicationRecord, ChannelPosition, InviteRecord, MemberRecord, NewGuild, UserRecord,
};
use discord_store::{GuildStore, StoreError};

use super::namespace;

fn user(id: Snowflake, name: &str) -> User {
    User::new(id, name)
}

/// A guild with @everyone, a text and a voice channel, owned by `owner`.
pub fn new_guild(owner: Snowflake) -> NewGuild {
    let id = Snowflake::new(namespace());
    let everyone = Role::new(id, "@everyone", Permissions::DEFAULT_EVERYONE);
    NewGuild {
        guild: Guild::new(id, "Testers", owner),
        roles: vec![everyone],
        channels: vec![
            Channel::guild(
                Snowflake::new(id.get() + 1),
                id,
                ChannelType::GuildText,
                "general",
                0,
            ),
            Channel::guild(
                Snowflake::new(id.get() + 2),
                id,
                ChannelType::GuildVoice,
                "General",
                0,
            ),
        ],
        owner: MemberRecord::new(id, owner, Timestamp::from_unix_millis(1_700_000_000_000)),
    }
}

/// Users: unique usernames, lookups, tokens.
pub async fn users_and_tokens(store: &dyn GuildStore) {
    let ns = namespace();
    let alice = user(Snowflake::new(ns), &format!("alice{ns}"));
    store
        .create_user(&UserRecord {
            user: alice.clone(),
            password_hash: Some("$argon2id$x".into()),
        })
        .await
        .unwrap();
    let clash = user(Snowflake::new(ns + 1), &alice.username);
    let err = store
        .create_user(&UserRecord {
            user: clash,
            password_hash: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");

    assert_eq!(store.user(alice.id).await.unwrap(), Some(alice.clone()));
    let rec = store
        .user_by_username(&alice.username)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.password_hash.as_deref(), Some("$argon2id$x"));
    assert!(
        store
            .user_by_username("nobody-here")
            .await
            .unwrap()
            .is_none()
    );

    let mut renamed = alice.clone();
    renamed.global_name = Some("Alice".into());
    store.update_user(&renamed).await.unwrap();
    assert_eq!(store.user(alice.id).await.unwrap(), Some(renamed));

    let token = format!("hash-{ns}");
    store.add_token(&token, alice.id).await.unwrap();
    store
        .add_token(&format!("{token}-2"), alice.id)
        .await
        .unwrap();
    assert_eq!(store.user_by_token(&token).await.unwrap(), Some(alice.id));
    store.revoke_tokens(alice.id).await.unwrap();
    assert_eq!(store.user_by_token(&token).await.unwrap(), None);
    assert_eq!(
        store.user_by_token(&format!("{token}-2")).await.unwrap(),
        None
    );
}

/// Applications come with their bot user.
pub async fn applications(store: &dyn GuildStore) {
    let ns = namespace();
    let owner = user(Snowflake::new(ns), &format!("owner{ns}"));
    store
        .create_user(&UserRecord {
            user: owner.clone(),
            password_hash: None,
        })
        .await
        .unwrap();
    let mut bot = user(Snowflake::new(ns + 5), &format!("bot{ns}"));
    bot.bot = true;
    let app = ApplicationRecord {
        id: bot.id,
        name: "My Bot".into(),
        description: String::new(),
        owner_id: owner.id,
        bot_user_id: bot.id,
        flags: 0,
    };
    store.create_application(&app, &bot).await.unwrap();
    assert_eq!(store.application(app.id).await.unwrap(), Some(app.clone()));
    assert_eq!(store.application_by_bot(bot.id).await.unwrap(), Some(app));
    assert!(store.user(bot.id).await.unwrap().unwrap().bot);
}

/// Creating a guild writes its roles, channels and owner together; delete
/// removes them all.
pub async fn guild_lifecycle(store: &dyn GuildStore) {
    let owner = Snowflake::new(namespace());
    let new = new_guild(owner);
    let gid = new.guild.id;
    store.create_guild(&new).await.unwrap();

    let g = store.guild(gid).await.unwrap().unwrap();
    assert_eq!(g.name, "Testers");
    assert_eq!(store.roles(gid).await.unwrap(), new.roles);
    assert_eq!(store.channels(gid).await.unwrap().len(), 2);
    assert_eq!(
        store.member(gid, owner).await.unwrap(),
        Some(new.owner.clone())
    );
    assert_eq!(store.guild_ids_of_user(owner).await.unwrap(), vec![gid]);
    assert_eq!(store.member_count(gid).await.unwrap(), 1);

    // All or nothing: a second guild reusing a channel ID fails entirely.
    let mut bad = new_guild(owner);
    bad.channels[0].id = new.channels[0].id;
    assert!(store.create_guild(&bad).await.is_err());
    assert!(store.guild(bad.guild.id).await.unwrap().is_none());
    assert_eq!(store.guild_ids_of_user(owner).await.unwrap(), vec![gid]);

    let mut renamed = g.clone();
    renamed.name = "Renamed".into();
    store.update_guild(&renamed).await.unwrap();
    assert_eq!(store.guild(gid).await.unwrap().unwrap().name, "Renamed");

    assert!(store.delete_guild(gid).await.unwrap());
    assert!(store.guild(gid).await.unwrap().is_none());
    assert!(store.channels(gid).await.unwrap().is_empty());
    assert!(store.roles(gid).await.unwrap().is_empty());
    assert!(store.member(gid, owner).await.unwrap().is_none());
    assert!(store.guild_ids_of_user(owner).await.unwrap().is_empty());
    assert!(!store.delete_guild(gid).await.unwrap());
}

/// Channels: create, update, reorder atomically, delete.
pub async fn channels(store: &dyn GuildStore) {
    let new = new_guild(Snowflake::new(namespace()));
    let gid = new.guild.id;
    store.create_guild(&new).await.unwrap();
    let cat = Channel::guild(
        Snowflake::new(gid.get() + 3),
        gid,
        ChannelType::GuildCategory,
        "cat",
        1,
    );
    store.create_channel(&cat).await.unwrap();
    let text = new.channels[0].clone();

    store
        .set_channel_positions(
            gid,
            &[
                ChannelPosition {
                    id: text.id,
                    position: 5,
                    parent_id: Some(Some(cat.id)),
                },
                ChannelPosition {
                    id: cat.id,
                    position: 0,
                    parent_id: None,
                },
            ],
        )
        .await
        .unwrap();
    let got = store.channel(text.id).await.unwrap().unwrap();
    assert_eq!((got.position, got.parent_id), (Some(5), Some(cat.id)));
    let order: Vec<Snowflake> = store
        .channels(gid)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(order.last(), Some(&text.id), "sorted by position");

    // A reorder naming a channel of another guild changes nothing.
    let err = store
        .set_channel_positions(
            gid,
            &[
                ChannelPosition {
                    id: cat.id,
                    position: 9,
                    parent_id: None,
                },
                ChannelPosition {
                    id: Snowflake::new(1),
                    position: 1,
                    parent_id: None,
                },
            ],
        )
        .await;
    assert!(err.is_err());
    assert_eq!(
        store.channel(cat.id).await.unwrap().unwrap().position,
        Some(0)
    );

    let mut renamed = got.clone();
    renamed.name = Some("renamed".into());
    renamed.topic = Some("topic".into());
    store.update_channel(&renamed).await.unwrap();
    assert_eq!(store.channel(text.id).await.unwrap(), Some(renamed));
    assert!(store.delete_channel(text.id).await.unwrap());
    assert!(store.channel(text.id).await.unwrap().is_none());
    assert!(!store.delete_channel(text.id).await.unwrap());
}

/// Members with roles; deleting a role takes it from members; paging.
pub async fn members_and_roles(store: &dyn GuildStore) {
    let owner = Snowflake::new(namespace());
    let new = new_guild(owner);
    let gid = new.guild.id;
    store.create_guild(&new).await.unwrap();
    let mods = Role::new(
        Snowflake::new(gid.get() + 10),
        "mods",
        Permissions::MANAGE_MESSAGES,
    );
    let vip = Role::new(Snowflake::new(gid.get() + 11), "vip", Permissions::empty());
    store.create_role(gid, &mods).await.unwrap();
    store.create_role(gid, &vip).await.unwrap();

    let base = namespace();
    for i in 0..25u64 {
        let mut m = MemberRecord::new(
            gid,
            Snowflake::new(base + i),
            Timestamp::from_unix_millis(1),
        );
        if i % 2 == 0 {
            m.roles = vec![mods.id, vip.id];
        }
        store.add_member(&m).await.unwrap();
    }
    let dup = MemberRecord::new(gid, Snowflake::new(base), Timestamp::from_unix_millis(1));
    assert!(matches!(
        store.add_member(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.member_count(gid).await.unwrap(), 26);

    // Paging by user ID.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.members(gid, after, 10).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.user_id);
        seen.extend(page);
    }
    assert_eq!(seen.len(), 26);
    assert!(seen.windows(2).all(|w| w[0].user_id < w[1].user_id));
    let m0 = seen
        .iter()
        .find(|m| m.user_id == Snowflake::new(base))
        .unwrap();
    assert_eq!(m0.roles, vec![mods.id, vip.id]);

    // The same pages with users joined: identical members, and the users
    // that exist (two of them here).
    for i in [0u64, 3] {
        let user = User::new(Snowflake::new(base + i), format!("member{}-{i}", base));
        let record = UserRecord {
            user,
            password_hash: None,
        };
        store.create_user(&record).await.unwrap();
    }
    let joined = store.members_with_users(gid, None, 100).await.unwrap();
    let members: Vec<MemberRecord> = joined.iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(members, store.members(gid, None, 100).await.unwrap());
    let with_user: Vec<Snowflake> = joined
        .iter()
        .filter_map(|(m, u)| u.as_ref().map(|u| (m.user_id, u.id)))
        .map(|(m, u)| {
            assert_eq!(m, u);
            m
        })
        .collect();
    assert_eq!(
        with_user,
        vec![Snowflake::new(base), Snowflake::new(base + 3)]
    );
    let after_first = store
        .members_with_users(gid, Some(Snowflake::new(base)), 2)
        .await
        .unwrap();
    assert_eq!(after_first.len(), 2);
    assert_eq!(after_first[0].0.user_id, Snowflake::new(base + 1));

    // Update nick and roles.
    let mut m = store
        .member(gid, Snowflake::new(base + 1))
        .await
        .unwrap()
        .unwrap();
    m.nick = Some("nick".into());
    m.roles = vec![vip.id];
    store.update_member(&m).await.unwrap();
    assert_eq!(store.member(gid, m.user_id).await.unwrap(), Some(m.clone()));

    // Role updates and deletes.
    let mut mods2 = mods.clone();
    mods2.permissions |= Permissions::KICK_MEMBERS;
    store.update_role(gid, &mods2).await.unwrap();
    assert!(store.roles(gid).await.unwrap().contains(&mods2));
    assert!(store.delete_role(gid, vip.id).await.unwrap());
    assert!(
        !store
            .roles(gid)
            .await
            .unwrap()
            .iter()
            .any(|r| r.id == vip.id)
    );
    assert!(
        store
            .member(gid, m.user_id)
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty()
    );
    assert_eq!(
        store
            .member(gid, Snowflake::new(base))
            .await
            .unwrap()
            .unwrap()
            .roles,
        vec![mods.id]
    );

    assert!(store.remove_member(gid, m.user_id).await.unwrap());
    assert!(!store.remove_member(gid, m.user_id).await.unwrap());
    assert_eq!(store.member_count(gid).await.unwrap(), 25);
}

/// Invites: uses, limits, expiry, atomic under concurrency.
pub async fn invites(store: Arc<dyn GuildStore>) {
    let new = new_guild(Snowflake::new(namespace()));
    let gid = new.guild.id;
    let channel = new.channels[0].id;
    store.create_guild(&new).await.unwrap();
    let created = Timestamp::from_unix_millis(1_700_000_000_000);
    let code = format!("c{}", namespace());
    let invite = InviteRecord {
        code: code.clone(),
        guild_id: gid,
        channel_id: channel,
        inviter_id: None,
        created_at: created,
        max_age: 3600,
        max_uses: 5,
        uses: 0,
        temporary: false,
    };
    store.create_invite(&invite).await.unwrap();
    assert!(matches!(
        store.create_invite(&invite).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.guild_invites(gid).await.unwrap(),
        vec![invite.clone()]
    );
    assert_eq!(
        store.channel_invites(channel).await.unwrap(),
        vec![invite.clone()]
    );

    // Ten concurrent uses of a five-use invite: exactly five succeed.
    let now = Timestamp::from_unix_millis(1_700_000_100_000);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = Arc::clone(&store);
        let code = code.clone();
        tasks.push(tokio::spawn(
            async move { store.use_invite(&code, now).await },
        ));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Invalid(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(store.invite(&code).await.unwrap().unwrap().uses, 5);

    // Expiry.
    let code2 = format!("e{}", namespace());
    store
        .create_invite(&InviteRecord {
            code: code2.clone(),
            max_uses: 0,
            ..invite.clone()
        })
        .await
        .unwrap();
    let late = Timestamp::from_unix_millis(1_700_000_000_000 + 3_600_001);
    assert!(matches!(
        store.use_invite(&code2, late).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.use_invite(&code2, now).await.unwrap().uses, 1);
    assert!(matches!(
        store.use_invite("no-such-code", now).await,
        Err(StoreError::NotFound(_))
    ));

    assert!(store.delete_invite(&code2).await.unwrap());
    assert!(store.invite(&code2).await.unwrap().is_none());
    // Deleting the channel deletes its invites.
    store.delete_channel(channel).await.unwrap();
    assert!(store.invite(&code).await.unwrap().is_none());
}
