//! Commands of an established session: presence updates and member
//! requests.

use discord_proto::Snowflake;
use discord_proto::gateway::{GuildMembersChunk, Intents, RequestGuildMembers, UpdatePresence};

use super::*;

impl Conn {
    pub(super) async fn presence_update(&mut self, update: UpdatePresence) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.presence = presence_record(&update);
        let user = live.handle.user_id;
        let record = live.presence.clone();
        let _ = self
            .inner
            .stores
            .presence
            .set(user, &record, self.inner.config.presence_ttl)
            .await;
        let guilds = self.inner.hub.guilds_of(self.conn);
        self.inner
            .announce_presence(presence_update(user, &record), &guilds)
            .await;
    }

    pub(super) async fn request_members(&mut self, request: RequestGuildMembers) -> Result<(), ()> {
        let Some(live) = self.live.as_ref() else {
            return Ok(());
        };
        if !self.inner.hub.in_guild(self.conn, request.guild_id) {
            return Ok(());
        }
        let intents = live.handle.intents;
        let query = match &request.user_ids {
            Some(ids) => MemberQuery::Ids(ids.clone()),
            None => MemberQuery::Prefix(request.query.clone().unwrap_or_default()),
        };
        let limit = match &query {
            MemberQuery::Ids(ids) => ids.len().min(100),
            MemberQuery::Prefix(q) if q.is_empty() && request.limit == 0 => 0,
            MemberQuery::Prefix(_) => (request.limit as usize).clamp(1, 100),
        };
        // The whole member list needs the GUILD_MEMBERS intent; without
        // it the request gets one empty chunk (so a client waiting on its
        // nonce is answered) and no member data.
        let whole_list = limit == 0 && matches!(&query, MemberQuery::Prefix(q) if q.is_empty());
        let members = if whole_list && !intents.contains(Intents::GUILD_MEMBERS) {
            Vec::new()
        } else {
            self.inner
                .data
                .members(request.guild_id, &query, limit)
                .await
                .unwrap_or_default()
        };
        let not_found = match &query {
            MemberQuery::Ids(ids) => Some(
                ids.iter()
                    .filter(|id| {
                        !members
                            .iter()
                            .any(|m| m.user.as_ref().is_some_and(|u| u.id == **id))
                    })
                    .copied()
                    .collect(),
            ),
            MemberQuery::Prefix(_) => None,
        };
        let with_presences =
            request.presences == Some(true) && intents.contains(Intents::GUILD_PRESENCES);
        let chunks: Vec<_> = if members.is_empty() {
            vec![Vec::new()]
        } else {
            members.chunks(CHUNK).map(<[_]>::to_vec).collect()
        };
        let count = chunks.len() as u32;
        for (index, members) in chunks.into_iter().enumerate() {
            let presences = if with_presences {
                let ids: Vec<Snowflake> = members
                    .iter()
                    .filter_map(|m| m.user.as_ref().map(|u| u.id))
                    .collect();
                let found = self
                    .inner
                    .stores
                    .presence
                    .get_many(&ids)
                    .await
                    .unwrap_or_default();
                Some(
                    found
                        .iter()
                        .map(|(id, p)| presence_update(*id, p))
                        .collect(),
                )
            } else {
                None
            };
            let chunk = GuildMembersChunk {
                guild_id: request.guild_id,
                members,
                chunk_index: index as u32,
                chunk_count: count,
                not_found: if index == 0 { not_found.clone() } else { None },
                presences,
                nonce: request.nonce.clone().filter(|n| n.len() <= 32),
            };
            let data = serde_json::to_string(&chunk).unwrap_or_else(|_| "{}".into());
            self.dispatch_now("GUILD_MEMBERS_CHUNK", &data, 0).await?;
        }
        self.flush().await
    }
}
