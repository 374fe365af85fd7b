//! Voice in the reference server: discord-voice's [`discord_voice::Voice`] with
//! permission answers from the guild store, its signaling at `/voice`.

use std::sync::Arc;

use async_trait::async_trait;
use discord_proto::{Permissions, Snowflake};
use discord_store::GuildStore;
use discord_voice::{ChannelAccess, Denied, VoiceAccess};

use crate::access::GuildAccess;
use crate::convert;

/// Answers the voice layer's questions from the guild store: the channel
/// must be a voice channel of the guild, the user a member with
/// VIEW_CHANNEL and CONNECT there; SPEAK decides whether they are heard.
pub struct StoreVoiceAccess {
    guilds: Arc<dyn GuildStore>,
}

impl StoreVoiceAccess {
    /// Reads from `guilds`.
    pub fn new(guilds: Arc<dyn GuildStore>) -> Self {
        StoreVoiceAccess { guilds }
    }
}

#[async_trait]
impl VoiceAccess for StoreVoiceAccess {
    async fn check(
        &self,
        guild_id: Snowflake,
        channel_id: Snowflake,
        user_id: Snowflake,
    ) -> Result<ChannelAccess, Denied> {
        let channel = self
            .guilds
            .channel(channel_id)
            .await
            .map_err(|_| Denied::NotFound)?
            .filter(|c| c.guild_id == Some(guild_id) && c.kind.is_voice())
            .ok_or(Denied::NotFound)?;
        let access = GuildAccess::load_from(self.guilds.as_ref(), guild_id, user_id)
            .await
            .map_err(|_| Denied::NotFound)?;
        let perms = access.channel_permissions(&channel);
        if !perms.contains(Permissions::VIEW_CHANNEL | Permissions::CONNECT) {
            return Err(Denied::MissingPermission);
        }
        let user = self.guilds.user(user_id).await.ok().flatten();
        Ok(ChannelAccess {
            member: Some(convert::member(&access.member, user)),
            user_limit: channel.user_limit.unwrap_or(0),
            can_speak: perms.contains(Permissions::SPEAK),
            mute: access.member.mute,
            deaf: access.member.deaf,
            rtc_region: channel.rtc_region.clone(),
        })
    }
}
