//! Every typed call against the reference server: guilds, channels,
//! overwrites, reactions, bulk delete, roles, members, invites, the
//! current user.

#[path = "client_common/mod.rs"]
mod common;

use discord_client::{
    ChannelPosition, ClientError, CreateChannel, CreateGuild, CreateInvite, CreateMessage,
    ModifyChannel, ModifyCurrentUser, ModifyGuild, ModifyMember, RestClient, RoleFields,
    RolePosition, SetOverwrite,
};
use discord_proto::Permissions;
use discord_proto::model::{ChannelType, OverwriteType};

fn not_found(r: Result<impl std::fmt::Debug, ClientError>) -> bool {
    matches!(r, Err(ClientError::Api { status: 404, .. }))
}

#[tokio::test]
async fn every_typed_route_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::server(dir.path(), |c| c.rate_limits.enabled = false).await;
    let api = format!("{}/api/v10", s.url());
    let (alice, guild, general) = common::setup(&api).await;
    let bot = RestClient::bot(&api, common::bot(&alice, guild, "routebot").await);
    let bot_id = bot.current_user().await.unwrap().id;

    // Accounts and applications.
    let anon = RestClient::builder().base_url(&api).build();
    let carol = anon.register("carol", "correct horse").await.unwrap();
    assert_eq!(carol.user.username, "carol");
    let again = anon.login("carol", "correct horse").await.unwrap();
    assert_eq!(again.user.id, carol.user.id);
    let carol = RestClient::builder()
        .base_url(&api)
        .user_token(&again.token)
        .build();
    let app = carol.create_application("helper").await.unwrap();
    assert_eq!(carol.application(app.id).await.unwrap().name, "helper");
    let token = carol.reset_bot_token(app.id).await.unwrap();
    let helper = RestClient::bot(&api, &token);
    assert_eq!(helper.current_application().await.unwrap().id, app.id);

    // The current user.
    assert!(
        alice
            .current_user_guilds()
            .await
            .unwrap()
            .iter()
            .any(|g| g.id == guild)
    );
    let renamed = alice
        .modify_current_user(&ModifyCurrentUser {
            username: Some("alice2".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(renamed.username, "alice2");

    // Guilds.
    let second = alice
        .create_guild(&CreateGuild {
            name: "Second".into(),
            icon: None,
        })
        .await
        .unwrap();
    let changed = alice
        .modify_guild(
            second.id,
            &ModifyGuild {
                name: Some("Second!".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.name, "Second!");
    alice.delete_guild(second.id).await.unwrap();
    assert!(not_found(alice.guild(second.id).await));

    // Channels and overwrites.
    let news = alice
        .create_channel(guild, &CreateChannel::new("news", ChannelType::GuildText))
        .await
        .unwrap();
    let news = alice
        .modify_channel(
            news.id,
            &ModifyChannel {
                topic: Some(Some("today".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(news.topic.as_deref(), Some("today"));
    alice
        .set_overwrite(
            news.id,
            guild,
            &SetOverwrite {
                kind: OverwriteType::Role,
                allow: Permissions::empty(),
                deny: Permissions::SEND_MESSAGES,
            },
        )
        .await
        .unwrap();
    let with = alice.channel(news.id).await.unwrap();
    assert!(
        with.overwrites()
            .iter()
            .any(|o| o.id == guild && o.deny.contains(Permissions::SEND_MESSAGES))
    );
    alice.delete_overwrite(news.id, guild).await.unwrap();
    assert!(
        alice
            .channel(news.id)
            .await
            .unwrap()
            .overwrites()
            .is_empty()
    );
    alice
        .reorder_channels(
            guild,
            &[ChannelPosition {
                id: news.id,
                position: Some(0),
                parent_id: None,
            }],
        )
        .await
        .unwrap();
    assert_eq!(alice.channel(news.id).await.unwrap().position, Some(0));
    assert_eq!(alice.delete_channel(news.id).await.unwrap().id, news.id);
    alice.trigger_typing(general).await.unwrap();

    // Reactions and bulk delete.
    let mut ids = Vec::new();
    for text in ["a", "b", "c"] {
        ids.push(
            alice
                .create_message(general, &CreateMessage::text(text))
                .await
                .unwrap()
                .id,
        );
    }
    alice.add_reaction(general, ids[0], "👍").await.unwrap();
    bot.add_reaction(general, ids[0], "👍").await.unwrap();
    assert_eq!(
        alice.reactions(general, ids[0], "👍").await.unwrap().len(),
        2
    );
    alice
        .remove_own_reaction(general, ids[0], "👍")
        .await
        .unwrap();
    alice
        .remove_reaction(general, ids[0], "👍", bot_id)
        .await
        .unwrap();
    assert!(
        alice
            .reactions(general, ids[0], "👍")
            .await
            .unwrap()
            .is_empty()
    );
    alice
        .bulk_delete_messages(general, &ids[1..])
        .await
        .unwrap();
    assert!(not_found(alice.message(general, ids[1]).await));
    assert!(alice.message(general, ids[0]).await.is_ok());

    // Roles.
    let role = alice
        .create_role(
            guild,
            &RoleFields {
                name: Some("mods".into()),
                mentionable: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(alice.role(guild, role.id).await.unwrap().name, "mods");
    let role = alice
        .modify_role(
            guild,
            role.id,
            &RoleFields {
                name: Some("moderators".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(role.name, "moderators");
    let roles = alice
        .reorder_roles(
            guild,
            &[RolePosition {
                id: role.id,
                position: 1,
            }],
        )
        .await
        .unwrap();
    assert!(roles.iter().any(|r| r.id == role.id && r.position == 1));
    assert_eq!(alice.roles(guild).await.unwrap().len(), roles.len());
    alice.add_member_role(guild, bot_id, role.id).await.unwrap();
    assert!(
        alice
            .member(guild, bot_id)
            .await
            .unwrap()
            .roles
            .contains(&role.id)
    );
    alice
        .remove_member_role(guild, bot_id, role.id)
        .await
        .unwrap();
    assert!(
        !alice
            .member(guild, bot_id)
            .await
            .unwrap()
            .roles
            .contains(&role.id)
    );
    alice.delete_role(guild, role.id).await.unwrap();
    assert!(not_found(alice.role(guild, role.id).await));

    // Members.
    assert_eq!(alice.members(guild, 10, None).await.unwrap().len(), 2);
    let found = alice.search_members(guild, "route", 5).await.unwrap();
    assert_eq!(found.len(), 1);
    let m = alice
        .modify_member(
            guild,
            bot_id,
            &ModifyMember {
                nick: Some(Some("robot".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(m.nick.as_deref(), Some("robot"));
    let me = alice.set_own_nick(guild, Some("boss")).await.unwrap();
    assert_eq!(me.nick.as_deref(), Some("boss"));
    alice.kick_member(guild, bot_id).await.unwrap();
    assert!(not_found(alice.member(guild, bot_id).await));
    alice.add_member(guild, bot_id).await.unwrap();
    assert!(alice.member(guild, bot_id).await.is_ok());

    // Invites: bob joins with one, then leaves.
    let invite = alice
        .create_invite(
            general,
            &CreateInvite {
                max_uses: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        alice
            .channel_invites(general)
            .await
            .unwrap()
            .iter()
            .any(|i| i.code == invite.code)
    );
    assert!(
        alice
            .guild_invites(guild)
            .await
            .unwrap()
            .iter()
            .any(|i| i.code == invite.code)
    );
    assert_eq!(anon.invite(&invite.code).await.unwrap().code, invite.code);
    let reg = anon.register("bob", "correct horse").await.unwrap();
    let bob = RestClient::builder()
        .base_url(&api)
        .user_token(reg.token)
        .build();
    bob.accept_invite(&invite.code).await.unwrap();
    assert_eq!(alice.members(guild, 10, None).await.unwrap().len(), 3);
    bob.leave_guild(guild).await.unwrap();
    assert_eq!(alice.members(guild, 10, None).await.unwrap().len(), 2);
    alice.delete_invite(&invite.code).await.unwrap();
    assert!(not_found(anon.invite(&invite.code).await));
}
