//! Typed calls for the rest of the reference server's routes: guilds,
//! channels, roles, members, invites, reactions, the current user,
//! accounts and applications.

use discord_proto::Snowflake;
use discord_proto::model::{Channel, Guild, Invite, Member, Role, User};
use reqwest::Method;

use super::RestClient;
use super::bodies::{
    Application, ChannelPosition, CreateChannel, CreateGuild, CreateInvite, CurrentUserGuild,
    ModifyChannel, ModifyCurrentUser, ModifyGuild, ModifyMember, RoleFields, RolePosition,
    SetOverwrite, TokenReply,
};
use crate::error::Result;

const NO_BODY: Option<&()> = None;

/// Percent-encodes an emoji (`👍`, or `name:id` for a custom one) for a
/// reaction path.
fn emoji_path(emoji: &str) -> String {
    let mut out = String::new();
    for b in emoji.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/channels/{c}/messages/{m}/reactions/{emoji}[/{who}]`.
fn reaction_path(channel: Snowflake, message: Snowflake, emoji: &str, who: Option<&str>) -> String {
    let mut path = format!(
        "/channels/{channel}/messages/{message}/reactions/{}",
        emoji_path(emoji)
    );
    if let Some(who) = who {
        path.push('/');
        path.push_str(who);
    }
    path
}

impl RestClient {
    // Accounts and applications (the reference server's own routes).

    /// `POST /auth/register`: a new account (no token needed).
    pub async fn register(&self, username: &str, password: &str) -> Result<TokenReply> {
        let body = serde_json::json!({ "username": username, "password": password });
        self.request(Method::POST, "/auth/register", Some(&body))
            .await
    }

    /// `POST /auth/login`: a new token for an account.
    pub async fn login(&self, username: &str, password: &str) -> Result<TokenReply> {
        let body = serde_json::json!({ "username": username, "password": password });
        self.request(Method::POST, "/auth/login", Some(&body)).await
    }

    /// `POST /applications`: a bot application with its bot user.
    pub async fn create_application(&self, name: &str) -> Result<Application> {
        let body = serde_json::json!({ "name": name });
        self.request(Method::POST, "/applications", Some(&body))
            .await
    }

    /// `GET /applications/{id}` (an application the caller owns).
    pub async fn application(&self, id: Snowflake) -> Result<Application> {
        self.request(Method::GET, &format!("/applications/{id}"), NO_BODY)
            .await
    }

    /// `GET /applications/@me`: the calling bot's application.
    pub async fn current_application(&self) -> Result<Application> {
        self.request(Method::GET, "/applications/@me", NO_BODY)
            .await
    }

    /// `POST /applications/{id}/bot/reset`: a new bot token (the old ones
    /// stop working); returns it.
    pub async fn reset_bot_token(&self, id: Snowflake) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Reply {
            token: String,
        }
        let path = format!("/applications/{id}/bot/reset");
        let reply: Reply = self.request(Method::POST, &path, NO_BODY).await?;
        Ok(reply.token)
    }

    // The current user.

    /// `PATCH /users/@me`.
    pub async fn modify_current_user(&self, body: &ModifyCurrentUser) -> Result<User> {
        self.request(Method::PATCH, "/users/@me", Some(body)).await
    }

    /// `GET /users/@me/guilds`: the current user's guilds (partial).
    pub async fn current_user_guilds(&self) -> Result<Vec<CurrentUserGuild>> {
        self.request(Method::GET, "/users/@me/guilds", NO_BODY)
            .await
    }

    /// `DELETE /users/@me/guilds/{id}`: leave a guild.
    pub async fn leave_guild(&self, guild: Snowflake) -> Result<()> {
        self.request_empty(
            Method::DELETE,
            &format!("/users/@me/guilds/{guild}"),
            NO_BODY,
        )
        .await
    }

    // Guilds.

    /// `POST /guilds`: a new guild owned by the caller.
    pub async fn create_guild(&self, body: &CreateGuild) -> Result<Guild> {
        self.request(Method::POST, "/guilds", Some(body)).await
    }

    /// `PATCH /guilds/{id}`.
    pub async fn modify_guild(&self, guild: Snowflake, body: &ModifyGuild) -> Result<Guild> {
        self.request(Method::PATCH, &format!("/guilds/{guild}"), Some(body))
            .await
    }

    /// `DELETE /guilds/{id}` (owner only).
    pub async fn delete_guild(&self, guild: Snowflake) -> Result<()> {
        self.request_empty(Method::DELETE, &format!("/guilds/{guild}"), NO_BODY)
            .await
    }

    // Channels.

    /// `POST /guilds/{id}/channels`.
    pub async fn create_channel(&self, guild: Snowflake, body: &CreateChannel) -> Result<Channel> {
        self.request(
            Method::POST,
            &format!("/guilds/{guild}/channels"),
            Some(body),
        )
        .await
    }

    /// `PATCH /guilds/{id}/channels`: move channels.
    pub async fn reorder_channels(
        &self,
        guild: Snowflake,
        moves: &[ChannelPosition],
    ) -> Result<()> {
        self.request_empty(
            Method::PATCH,
            &format!("/guilds/{guild}/channels"),
            Some(&moves),
        )
        .await
    }

    /// `PATCH /channels/{id}`.
    pub async fn modify_channel(
        &self,
        channel: Snowflake,
        body: &ModifyChannel,
    ) -> Result<Channel> {
        self.request(Method::PATCH, &format!("/channels/{channel}"), Some(body))
            .await
    }

    /// `DELETE /channels/{id}`: returns the deleted channel.
    pub async fn delete_channel(&self, channel: Snowflake) -> Result<Channel> {
        self.request(Method::DELETE, &format!("/channels/{channel}"), NO_BODY)
            .await
    }

    /// `PUT /channels/{id}/permissions/{id}`.
    pub async fn set_overwrite(
        &self,
        channel: Snowflake,
        target: Snowflake,
        body: &SetOverwrite,
    ) -> Result<()> {
        let path = format!("/channels/{channel}/permissions/{target}");
        self.request_empty(Method::PUT, &path, Some(body)).await
    }

    /// `DELETE /channels/{id}/permissions/{id}`.
    pub async fn delete_overwrite(&self, channel: Snowflake, target: Snowflake) -> Result<()> {
        let path = format!("/channels/{channel}/permissions/{target}");
        self.request_empty(Method::DELETE, &path, NO_BODY).await
    }

    /// `POST /channels/{id}/typing`.
    pub async fn trigger_typing(&self, channel: Snowflake) -> Result<()> {
        self.request_empty(
            Method::POST,
            &format!("/channels/{channel}/typing"),
            NO_BODY,
        )
        .await
    }

    /// `POST /channels/{id}/messages/bulk-delete`: 2-100 messages younger
    /// than 14 days.
    pub async fn bulk_delete_messages(&self, channel: Snowflake, ids: &[Snowflake]) -> Result<()> {
        let body = serde_json::json!({ "messages": ids });
        let path = format!("/channels/{channel}/messages/bulk-delete");
        self.request_empty(Method::POST, &path, Some(&body)).await
    }

    // Reactions.

    /// `PUT .../reactions/{emoji}/@me`.
    pub async fn add_reaction(
        &self,
        channel: Snowflake,
        message: Snowflake,
        emoji: &str,
    ) -> Result<()> {
        let path = reaction_path(channel, message, emoji, Some("@me"));
        self.request_empty(Method::PUT, &path, NO_BODY).await
    }

    /// `DELETE .../reactions/{emoji}/@me`.
    pub async fn remove_own_reaction(
        &self,
        channel: Snowflake,
        message: Snowflake,
        emoji: &str,
    ) -> Result<()> {
        let path = reaction_path(channel, message, emoji, Some("@me"));
        self.request_empty(Method::DELETE, &path, NO_BODY).await
    }

    /// `DELETE .../reactions/{emoji}/{user}` (MANAGE_MESSAGES).
    pub async fn remove_reaction(
        &self,
        channel: Snowflake,
        message: Snowflake,
        emoji: &str,
        user: Snowflake,
    ) -> Result<()> {
        let path = reaction_path(channel, message, emoji, Some(&user.to_string()));
        self.request_empty(Method::DELETE, &path, NO_BODY).await
    }

    /// `GET .../reactions/{emoji}`: who reacted.
    pub async fn reactions(
        &self,
        channel: Snowflake,
        message: Snowflake,
        emoji: &str,
    ) -> Result<Vec<User>> {
        let path = reaction_path(channel, message, emoji, None);
        self.request(Method::GET, &path, NO_BODY).await
    }

    // Roles.

    /// `GET /guilds/{id}/roles`.
    pub async fn roles(&self, guild: Snowflake) -> Result<Vec<Role>> {
        self.request(Method::GET, &format!("/guilds/{guild}/roles"), NO_BODY)
            .await
    }

    /// `GET /guilds/{id}/roles/{id}`.
    pub async fn role(&self, guild: Snowflake, role: Snowflake) -> Result<Role> {
        self.request(
            Method::GET,
            &format!("/guilds/{guild}/roles/{role}"),
            NO_BODY,
        )
        .await
    }

    /// `POST /guilds/{id}/roles`.
    pub async fn create_role(&self, guild: Snowflake, body: &RoleFields) -> Result<Role> {
        self.request(Method::POST, &format!("/guilds/{guild}/roles"), Some(body))
            .await
    }

    /// `PATCH /guilds/{id}/roles/{id}`.
    pub async fn modify_role(
        &self,
        guild: Snowflake,
        role: Snowflake,
        body: &RoleFields,
    ) -> Result<Role> {
        self.request(
            Method::PATCH,
            &format!("/guilds/{guild}/roles/{role}"),
            Some(body),
        )
        .await
    }

    /// `PATCH /guilds/{id}/roles`: new positions; returns every role.
    pub async fn reorder_roles(
        &self,
        guild: Snowflake,
        moves: &[RolePosition],
    ) -> Result<Vec<Role>> {
        self.request(
            Method::PATCH,
            &format!("/guilds/{guild}/roles"),
            Some(&moves),
        )
        .await
    }

    /// `DELETE /guilds/{id}/roles/{id}`.
    pub async fn delete_role(&self, guild: Snowflake, role: Snowflake) -> Result<()> {
        self.request_empty(
            Method::DELETE,
            &format!("/guilds/{guild}/roles/{role}"),
            NO_BODY,
        )
        .await
    }

    // Members.

    /// `GET /guilds/{id}/members?limit&after`: a page by user ID.
    pub async fn members(
        &self,
        guild: Snowflake,
        limit: u16,
        after: Option<Snowflake>,
    ) -> Result<Vec<Member>> {
        let mut path = format!("/guilds/{guild}/members?limit={limit}");
        if let Some(after) = after {
            path.push_str(&format!("&after={after}"));
        }
        self.request(Method::GET, &path, NO_BODY).await
    }

    /// `GET /guilds/{id}/members/search?query&limit`.
    pub async fn search_members(
        &self,
        guild: Snowflake,
        query: &str,
        limit: u16,
    ) -> Result<Vec<Member>> {
        let query: String = query
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let path = format!("/guilds/{guild}/members/search?query={query}&limit={limit}");
        self.request(Method::GET, &path, NO_BODY).await
    }

    /// `GET /guilds/{id}/members/{id}`.
    pub async fn member(&self, guild: Snowflake, user: Snowflake) -> Result<Member> {
        self.request(
            Method::GET,
            &format!("/guilds/{guild}/members/{user}"),
            NO_BODY,
        )
        .await
    }

    /// `PUT /guilds/{id}/members/{id}`: add a bot user to the guild.
    pub async fn add_member(&self, guild: Snowflake, user: Snowflake) -> Result<()> {
        let body = serde_json::json!({});
        self.request_empty(
            Method::PUT,
            &format!("/guilds/{guild}/members/{user}"),
            Some(&body),
        )
        .await
    }

    /// `PATCH /guilds/{id}/members/{id}`.
    pub async fn modify_member(
        &self,
        guild: Snowflake,
        user: Snowflake,
        body: &ModifyMember,
    ) -> Result<Member> {
        self.request(
            Method::PATCH,
            &format!("/guilds/{guild}/members/{user}"),
            Some(body),
        )
        .await
    }

    /// `PATCH /guilds/{id}/members/@me`: the caller's nickname.
    pub async fn set_own_nick(&self, guild: Snowflake, nick: Option<&str>) -> Result<Member> {
        let body = serde_json::json!({ "nick": nick });
        self.request(
            Method::PATCH,
            &format!("/guilds/{guild}/members/@me"),
            Some(&body),
        )
        .await
    }

    /// `DELETE /guilds/{id}/members/{id}`: kick.
    pub async fn kick_member(&self, guild: Snowflake, user: Snowflake) -> Result<()> {
        self.request_empty(
            Method::DELETE,
            &format!("/guilds/{guild}/members/{user}"),
            NO_BODY,
        )
        .await
    }

    /// `PUT /guilds/{id}/members/{id}/roles/{id}`.
    pub async fn add_member_role(
        &self,
        guild: Snowflake,
        user: Snowflake,
        role: Snowflake,
    ) -> Result<()> {
        let path = format!("/guilds/{guild}/members/{user}/roles/{role}");
        self.request_empty(Method::PUT, &path, NO_BODY).await
    }

    /// `DELETE /guilds/{id}/members/{id}/roles/{id}`.
    pub async fn remove_member_role(
        &self,
        guild: Snowflake,
        user: Snowflake,
        role: Snowflake,
    ) -> Result<()> {
        let path = format!("/guilds/{guild}/members/{user}/roles/{role}");
        self.request_empty(Method::DELETE, &path, NO_BODY).await
    }

    // Invites.

    /// `POST /channels/{id}/invites`.
    pub async fn create_invite(&self, channel: Snowflake, body: &CreateInvite) -> Result<Invite> {
        self.request(
            Method::POST,
            &format!("/channels/{channel}/invites"),
            Some(body),
        )
        .await
    }

    /// `GET /channels/{id}/invites`.
    pub async fn channel_invites(&self, channel: Snowflake) -> Result<Vec<Invite>> {
        self.request(
            Method::GET,
            &format!("/channels/{channel}/invites"),
            NO_BODY,
        )
        .await
    }

    /// `GET /guilds/{id}/invites`.
    pub async fn guild_invites(&self, guild: Snowflake) -> Result<Vec<Invite>> {
        self.request(Method::GET, &format!("/guilds/{guild}/invites"), NO_BODY)
            .await
    }

    /// `GET /invites/{code}?with_counts=true`.
    pub async fn invite(&self, code: &str) -> Result<Invite> {
        let path = format!("/invites/{}?with_counts=true", emoji_path(code));
        self.request(Method::GET, &path, NO_BODY).await
    }

    /// `POST /invites/{code}`: join the guild.
    pub async fn accept_invite(&self, code: &str) -> Result<Invite> {
        let path = format!("/invites/{}", emoji_path(code));
        self.request(Method::POST, &path, NO_BODY).await
    }

    /// `DELETE /invites/{code}`.
    pub async fn delete_invite(&self, code: &str) -> Result<Invite> {
        let path = format!("/invites/{}", emoji_path(code));
        self.request(Method::DELETE, &path, NO_BODY).await
    }
}

#[cfg(test)]
mod tests {
    use super::emoji_path;

    #[test]
    fn emoji_are_percent_encoded_and_custom_ones_kept() {
        assert_eq!(emoji_path("👍"), "%F0%9F%91%8D");
        assert_eq!(emoji_path("party:123"), "party:123");
    }
}
