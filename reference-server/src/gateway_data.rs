//! The gateway's view of the stores: token checks for IDENTIFY and RESUME,
//! the guilds sent after READY, and member searches.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use discord_gateway::{AuthError, GatewayData, Identity, MemberQuery};
use discord_proto::Snowflake;
use discord_proto::gateway::{GatewayGuild, Intents, ReadyApplication};
use discord_proto::model::{Member, User};
use discord_store::{GuildStore, StoreError};

use crate::auth::{allowed_intents, authenticate_in};
use crate::convert;

/// [`GatewayData`] over a [`GuildStore`].
pub struct StoreData {
    guilds: Arc<dyn GuildStore>,
    voice: Option<discord_voice::Voice>,
}

impl StoreData {
    /// Reads from `guilds`; GUILD_CREATE carries `voice`'s voice states.
    pub fn new(guilds: Arc<dyn GuildStore>, voice: Option<discord_voice::Voice>) -> Self {
        StoreData { guilds, voice }
    }
}

/// Fetches users once each.
async fn user_of(
    store: &dyn GuildStore,
    cache: &mut HashMap<Snowflake, Option<User>>,
    id: Snowflake,
) -> Result<Option<User>, StoreError> {
    if let Some(u) = cache.get(&id) {
        return Ok(u.clone());
    }
    let u = store.user(id).await?;
    cache.insert(id, u.clone());
    Ok(u)
}

/// Every member of a guild with their users (also remembered in `cache`
/// for the session's other guilds).
async fn all_members(
    store: &dyn GuildStore,
    guild_id: Snowflake,
    cache: &mut HashMap<Snowflake, Option<User>>,
) -> Result<Vec<Member>, StoreError> {
    let members = search_members(store, guild_id, "", 0).await?;
    for m in &members {
        if let Some(u) = &m.user {
            cache.entry(u.id).or_insert_with(|| Some(u.clone()));
        }
    }
    Ok(members)
}

/// Members whose username or nickname starts with `query` (case
/// insensitive; `""` matches all), at most `limit` (0: no limit), by user
/// ID.
pub async fn search_members(
    store: &dyn GuildStore,
    guild_id: Snowflake,
    query: &str,
    limit: usize,
) -> Result<Vec<Member>, StoreError> {
    let query = query.to_lowercase();
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store.members_with_users(guild_id, after, 1000).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.user_id);
        let full = page.len() == 1000;
        for (record, user) in page {
            let m = convert::member(&record, user);
            let name = m.user.as_ref().map(|u| u.username.to_lowercase());
            let nick = m.nick.as_ref().map(|n| n.to_lowercase());
            if name.is_some_and(|n| n.starts_with(&query))
                || nick.is_some_and(|n| n.starts_with(&query))
            {
                out.push(m);
                if limit > 0 && out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(out)
}

/// A guild with everything GUILD_CREATE carries (all channels and members;
/// the gateway filters and trims per session), joined at `joined_by`'s
/// join time.
pub async fn gateway_guild(
    store: &dyn GuildStore,
    guild_id: Snowflake,
    joined_by: Snowflake,
) -> Result<Option<GatewayGuild>, StoreError> {
    gateway_guild_cached(store, guild_id, joined_by, &mut HashMap::new()).await
}

async fn gateway_guild_cached(
    store: &dyn GuildStore,
    guild_id: Snowflake,
    joined_by: Snowflake,
    cache: &mut HashMap<Snowflake, Option<User>>,
) -> Result<Option<GatewayGuild>, StoreError> {
    let Some(mut guild) = store.guild(guild_id).await? else {
        return Ok(None);
    };
    guild.roles = store.roles(guild_id).await?;
    let channels = store.channels(guild_id).await?;
    let members = all_members(store, guild_id, cache).await?;
    let joined_at = members
        .iter()
        .find(|m| m.user.as_ref().is_some_and(|u| u.id == joined_by))
        .and_then(|m| m.joined_at);
    Ok(Some(GatewayGuild {
        guild,
        joined_at,
        large: false,
        unavailable: false,
        member_count: u32::try_from(members.len()).unwrap_or(u32::MAX),
        voice_states: Vec::new(),
        members,
        channels,
        threads: Vec::new(),
        presences: Vec::new(),
    }))
}

#[async_trait]
impl GatewayData for StoreData {
    async fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let user = authenticate_in(self.guilds.as_ref(), token, false)
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?
            .ok_or(AuthError::InvalidToken)?;
        let user = convert::current_user(user);
        if !user.bot {
            return Ok(Identity {
                user,
                application: None,
                allowed_privileged: Intents::PRIVILEGED,
            });
        }
        let app = self
            .guilds
            .application_by_bot(user.id)
            .await
            .map_err(|e| AuthError::Unavailable(e.to_string()))?;
        let (application, allowed) = match app {
            Some(a) => (
                Some(ReadyApplication {
                    id: a.id,
                    flags: a.flags,
                }),
                allowed_intents(a.flags),
            ),
            None => (None, Intents::empty()),
        };
        Ok(Identity {
            user,
            application,
            allowed_privileged: allowed,
        })
    }

    async fn guilds(&self, user_id: Snowflake) -> Result<Vec<GatewayGuild>, String> {
        let ids = self
            .guilds
            .guild_ids_of_user(user_id)
            .await
            .map_err(|e| e.to_string())?;
        let mut cache = HashMap::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(mut g) = gateway_guild_cached(self.guilds.as_ref(), id, user_id, &mut cache)
                .await
                .map_err(|e| e.to_string())?
            {
                if let Some(voice) = &self.voice {
                    g.voice_states = voice.voice_states(id).await.map_err(|e| e.to_string())?;
                }
                out.push(g);
            }
        }
        Ok(out)
    }

    async fn guild_ids(&self, user_id: Snowflake) -> Result<Vec<Snowflake>, String> {
        self.guilds
            .guild_ids_of_user(user_id)
            .await
            .map_err(|e| e.to_string())
    }

    async fn members(
        &self,
        guild_id: Snowflake,
        query: &MemberQuery,
        limit: usize,
    ) -> Result<Vec<Member>, String> {
        let store = self.guilds.as_ref();
        let mut cache = HashMap::new();
        let mut out = Vec::new();
        match query {
            MemberQuery::Ids(ids) => {
                for id in ids {
                    if let Some(m) = store
                        .member(guild_id, *id)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        let user = user_of(store, &mut cache, *id)
                            .await
                            .map_err(|e| e.to_string())?;
                        out.push(convert::member(&m, user));
                    }
                }
            }
            MemberQuery::Prefix(prefix) => {
                out = search_members(store, guild_id, prefix, limit)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        if limit > 0 {
            out.truncate(limit);
        }
        Ok(out)
    }
}
