//! [`GuildStore`] on SQLite.

use async_trait::async_trait;
use discord_proto::Snowflake;
use discord_proto::model::{Channel, Guild, Role, Timestamp, User};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{SqlStore, db_id, from_db};
use crate::guild::{
    ApplicationRecord, ChannelPosition, GuildStore, InviteRecord, MemberRecord, NewGuild,
    UserRecord,
};
use crate::{Result, StoreError};

fn to_json<T: Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn from_json<T: DeserializeOwned>(row: &AnyRow) -> Result<T> {
    let data: String = row.try_get("data")?;
    Ok(serde_json::from_str(&data)?)
}

/// The member row's document: everything but the roles, which have their
/// own table so that deleting a role can take it from every member.
fn member_doc(m: &MemberRecord) -> Result<String> {
    let mut doc = m.clone();
    doc.roles.clear();
    to_json(&doc)
}

async fn write_member_roles(tx: &mut Transaction<'_, Any>, m: &MemberRecord) -> Result<()> {
    sqlx::query("DELETE FROM member_roles WHERE guild_id = $1 AND user_id = $2")
        .bind(db_id(m.guild_id))
        .bind(db_id(m.user_id))
        .execute(&mut **tx)
        .await?;
    for role in &m.roles {
        sqlx::query(
            "INSERT INTO member_roles (guild_id, user_id, role_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(db_id(m.guild_id))
        .bind(db_id(m.user_id))
        .bind(db_id(*role))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_member(tx: &mut Transaction<'_, Any>, m: &MemberRecord) -> Result<()> {
    sqlx::query("INSERT INTO members (guild_id, user_id, data) VALUES ($1, $2, $3)")
        .bind(db_id(m.guild_id))
        .bind(db_id(m.user_id))
        .bind(member_doc(m)?)
        .execute(&mut **tx)
        .await?;
    write_member_roles(tx, m).await
}

async fn insert_channel(tx: &mut Transaction<'_, Any>, c: &Channel) -> Result<()> {
    sqlx::query("INSERT INTO channels (id, guild_id, position, data) VALUES ($1, $2, $3, $4)")
        .bind(db_id(c.id))
        .bind(c.guild_id.map(db_id))
        .bind(i64::from(c.position.unwrap_or(0)))
        .bind(to_json(c)?)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_role(tx: &mut Transaction<'_, Any>, guild_id: Snowflake, r: &Role) -> Result<()> {
    sqlx::query("INSERT INTO roles (id, guild_id, position, data) VALUES ($1, $2, $3, $4)")
        .bind(db_id(r.id))
        .bind(db_id(guild_id))
        .bind(i64::from(r.position))
        .bind(to_json(r)?)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn guild_doc(g: &Guild) -> Result<String> {
    let mut doc = g.clone();
    doc.roles.clear();
    to_json(&doc)
}

impl SqlStore {
    async fn member_roles(
        &self,
        guild_id: Snowflake,
        user_ids: &[Snowflake],
    ) -> Result<Vec<(Snowflake, Snowflake)>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (lo, hi) = (
            user_ids.iter().min().copied().unwrap_or_default(),
            user_ids.iter().max().copied().unwrap_or_default(),
        );
        let rows = sqlx::query(
            "SELECT user_id, role_id FROM member_roles
             WHERE guild_id = $1 AND user_id >= $2 AND user_id <= $3 ORDER BY user_id, role_id",
        )
        .bind(db_id(guild_id))
        .bind(db_id(lo))
        .bind(db_id(hi))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    from_db(r.try_get("user_id")?),
                    from_db(r.try_get("role_id")?),
                ))
            })
            .collect()
    }

    async fn invites_where(&self, sql: &'static str, id: Snowflake) -> Result<Vec<InviteRecord>> {
        let rows = sqlx::query(sql)
            .bind(db_id(id))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(invite_from_row).collect()
    }
}

fn invite_from_row(row: &AnyRow) -> Result<InviteRecord> {
    let mut invite: InviteRecord = from_json(row)?;
    invite.uses = u32::try_from(row.try_get::<i64, _>("uses")?).unwrap_or(u32::MAX);
    Ok(invite)
}

#[async_trait]
impl GuildStore for SqlStore {
    async fn create_user(&self, user: &UserRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, data) VALUES ($1, $2, $3, $4)",
        )
        .bind(db_id(user.user.id))
        .bind(&user.user.username)
        .bind(user.password_hash.as_deref())
        .bind(to_json(&user.user)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn user(&self, id: Snowflake) -> Result<Option<User>> {
        let row = sqlx::query("SELECT data FROM users WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_json).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query("SELECT data, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(UserRecord {
                user: from_json(&r)?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    async fn update_user(&self, user: &User) -> Result<()> {
        let done = sqlx::query("UPDATE users SET username = $1, data = $2 WHERE id = $3")
            .bind(&user.username)
            .bind(to_json(user)?)
            .bind(db_id(user.id))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }

    async fn add_token(&self, token_hash: &str, user_id: Snowflake) -> Result<()> {
        sqlx::query("INSERT INTO tokens (token_hash, user_id) VALUES ($1, $2)")
            .bind(token_hash)
            .bind(db_id(user_id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn user_by_token(&self, token_hash: &str) -> Result<Option<Snowflake>> {
        let row = sqlx::query("SELECT user_id FROM tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(from_db(r.try_get("user_id")?))).transpose()
    }

    async fn revoke_tokens(&self, user_id: Snowflake) -> Result<()> {
        sqlx::query("DELETE FROM tokens WHERE user_id = $1")
            .bind(db_id(user_id))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn create_application(&self, app: &ApplicationRecord, bot: &User) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, data) VALUES ($1, $2, NULL, $3)",
        )
        .bind(db_id(bot.id))
        .bind(&bot.username)
        .bind(to_json(bot)?)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO applications (id, owner_id, bot_user_id, data) VALUES ($1, $2, $3, $4)",
        )
        .bind(db_id(app.id))
        .bind(db_id(app.owner_id))
        .bind(db_id(app.bot_user_id))
        .bind(to_json(app)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn application(&self, id: Snowflake) -> Result<Option<ApplicationRecord>> {
        let row = sqlx::query("SELECT data FROM applications WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_json).transpose()
    }

    async fn application_by_bot(
        &self,
        bot_user_id: Snowflake,
    ) -> Result<Option<ApplicationRecord>> {
        let row = sqlx::query("SELECT data FROM applications WHERE bot_user_id = $1")
            .bind(db_id(bot_user_id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_json).transpose()
    }

    async fn create_guild(&self, new: &NewGuild) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO guilds (id, owner_id, data) VALUES ($1, $2, $3)")
            .bind(db_id(new.guild.id))
            .bind(db_id(new.guild.owner_id))
            .bind(guild_doc(&new.guild)?)
            .execute(&mut *tx)
            .await?;
        for role in &new.roles {
            insert_role(&mut tx, new.guild.id, role).await?;
        }
        for channel in &new.channels {
            insert_channel(&mut tx, channel).await?;
        }
        insert_member(&mut tx, &new.owner).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn guild(&self, id: Snowflake) -> Result<Option<Guild>> {
        let row = sqlx::query("SELECT data FROM guilds WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_json).transpose()
    }

    async fn update_guild(&self, guild: &Guild) -> Result<()> {
        let done = sqlx::query("UPDATE guilds SET owner_id = $1, data = $2 WHERE id = $3")
            .bind(db_id(guild.owner_id))
            .bind(guild_doc(guild)?)
            .bind(db_id(guild.id))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("guild"));
        }
        Ok(())
    }

    async fn delete_guild(&self, id: Snowflake) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // Foreign keys cascade to channels, roles, members (and their roles)
        // and invites.
        let done = sqlx::query("DELETE FROM guilds WHERE id = $1")
            .bind(db_id(id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn guild_ids_of_user(&self, user_id: Snowflake) -> Result<Vec<Snowflake>> {
        let rows = sqlx::query("SELECT guild_id FROM members WHERE user_id = $1 ORDER BY guild_id")
            .bind(db_id(user_id))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(from_db(r.try_get("guild_id")?)))
            .collect()
    }

    async fn create_channel(&self, channel: &Channel) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_channel(&mut tx, channel).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn channel(&self, id: Snowflake) -> Result<Option<Channel>> {
        let row = sqlx::query("SELECT data FROM channels WHERE id = $1")
            .bind(db_id(id))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_json).transpose()
    }

    async fn update_channel(&self, channel: &Channel) -> Result<()> {
        let done = sqlx::query("UPDATE channels SET position = $1, data = $2 WHERE id = $3")
            .bind(i64::from(channel.position.unwrap_or(0)))
            .bind(to_json(channel)?)
            .bind(db_id(channel.id))
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("channel"));
        }
        Ok(())
    }

    async fn delete_channel(&self, id: Snowflake) -> Result<bool> {
        let done = sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(db_id(id))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn channels(&self, guild_id: Snowflake) -> Result<Vec<Channel>> {
        let rows =
            sqlx::query("SELECT data FROM channels WHERE guild_id = $1 ORDER BY position, id")
                .bind(db_id(guild_id))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(from_json).collect()
    }

    async fn set_channel_positions(
        &self,
        guild_id: Snowflake,
        positions: &[ChannelPosition],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for p in positions {
            let row = sqlx::query("SELECT data FROM channels WHERE id = $1 AND guild_id = $2")
                .bind(db_id(p.id))
                .bind(db_id(guild_id))
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("channel"))?;
            let mut channel: Channel = from_json(&row)?;
            channel.position = Some(p.position);
            if let Some(parent) = p.parent_id {
                channel.parent_id = parent;
            }
            sqlx::query("UPDATE channels SET position = $1, data = $2 WHERE id = $3")
                .bind(i64::from(p.position))
                .bind(to_json(&channel)?)
                .bind(db_id(p.id))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_role(&self, guild_id: Snowflake, role: &Role) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_role(&mut tx, guild_id, role).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn roles(&self, guild_id: Snowflake) -> Result<Vec<Role>> {
        let rows = sqlx::query("SELECT data FROM roles WHERE guild_id = $1 ORDER BY position, id")
            .bind(db_id(guild_id))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_json).collect()
    }

    async fn update_role(&self, guild_id: Snowflake, role: &Role) -> Result<()> {
        let done = sqlx::query(
            "UPDATE roles SET position = $1, data = $2 WHERE id = $3 AND guild_id = $4",
        )
        .bind(i64::from(role.position))
        .bind(to_json(role)?)
        .bind(db_id(role.id))
        .bind(db_id(guild_id))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("role"));
        }
        Ok(())
    }

    async fn delete_role(&self, guild_id: Snowflake, role_id: Snowflake) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM member_roles WHERE guild_id = $1 AND role_id = $2")
            .bind(db_id(guild_id))
            .bind(db_id(role_id))
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM roles WHERE id = $1 AND guild_id = $2")
            .bind(db_id(role_id))
            .bind(db_id(guild_id))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_member(&self, member: &MemberRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_member(&mut tx, member).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn member(
        &self,
        guild_id: Snowflake,
        user_id: Snowflake,
    ) -> Result<Option<MemberRecord>> {
        let row = sqlx::query("SELECT data FROM members WHERE guild_id = $1 AND user_id = $2")
            .bind(db_id(guild_id))
            .bind(db_id(user_id))
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let mut member: MemberRecord = from_json(&row)?;
        member.roles = self
            .member_roles(guild_id, &[user_id])
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        Ok(Some(member))
    }

    async fn update_member(&self, member: &MemberRecord) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE members SET data = $1 WHERE guild_id = $2 AND user_id = $3")
            .bind(member_doc(member)?)
            .bind(db_id(member.guild_id))
            .bind(db_id(member.user_id))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("member"));
        }
        write_member_roles(&mut tx, member).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_member(&self, guild_id: Snowflake, user_id: Snowflake) -> Result<bool> {
        let done = sqlx::query("DELETE FROM members WHERE guild_id = $1 AND user_id = $2")
            .bind(db_id(guild_id))
            .bind(db_id(user_id))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn members(
        &self,
        guild_id: Snowflake,
        after: Option<Snowflake>,
        limit: u32,
    ) -> Result<Vec<MemberRecord>> {
        Ok(self
            .members_with_users(guild_id, after, limit)
            .await?
            .into_iter()
            .map(|(m, _)| m)
            .collect())
    }

    async fn members_with_users(
        &self,
        guild_id: Snowflake,
        after: Option<Snowflake>,
        limit: u32,
    ) -> Result<Vec<(MemberRecord, Option<User>)>> {
        let rows = sqlx::query(
            "SELECT m.data AS data, u.data AS user_data FROM members m
             LEFT JOIN users u ON u.id = m.user_id
             WHERE m.guild_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3",
        )
        .bind(db_id(guild_id))
        .bind(after.map_or(-1, db_id))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let member: MemberRecord = from_json(r)?;
            let user = match r.try_get::<Option<String>, _>("user_data")? {
                Some(text) => Some(serde_json::from_str::<User>(&text)?),
                None => None,
            };
            out.push((member, user));
        }
        let ids: Vec<Snowflake> = out.iter().map(|(m, _)| m.user_id).collect();
        let mut roles: std::collections::HashMap<Snowflake, Vec<Snowflake>> =
            std::collections::HashMap::new();
        for (user, role) in self.member_roles(guild_id, &ids).await? {
            roles.entry(user).or_default().push(role);
        }
        for (m, _) in &mut out {
            m.roles = roles.remove(&m.user_id).unwrap_or_default();
        }
        Ok(out)
    }

    async fn member_count(&self, guild_id: Snowflake) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE guild_id = $1")
            .bind(db_id(guild_id))
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn create_invite(&self, invite: &InviteRecord) -> Result<()> {
        sqlx::query("INSERT INTO invites (code, guild_id, channel_id, uses, data) VALUES ($1, $2, $3, $4, $5)")
            .bind(&invite.code)
            .bind(db_id(invite.guild_id))
            .bind(db_id(invite.channel_id))
            .bind(i64::from(invite.uses))
            .bind(to_json(invite)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn invite(&self, code: &str) -> Result<Option<InviteRecord>> {
        let row = sqlx::query("SELECT data, uses FROM invites WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(invite_from_row).transpose()
    }

    async fn guild_invites(&self, guild_id: Snowflake) -> Result<Vec<InviteRecord>> {
        self.invites_where(
            "SELECT data, uses FROM invites WHERE guild_id = $1 ORDER BY code",
            guild_id,
        )
        .await
    }

    async fn channel_invites(&self, channel_id: Snowflake) -> Result<Vec<InviteRecord>> {
        self.invites_where(
            "SELECT data, uses FROM invites WHERE channel_id = $1 ORDER BY code",
            channel_id,
        )
        .await
    }

    async fn use_invite(&self, code: &str, now: Timestamp) -> Result<InviteRecord> {
        // One transaction: SQLite serializes writers, so the check and the
        // increment cannot interleave with another use.
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE invites SET uses = uses WHERE code = $1")
            .bind(code)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT data, uses FROM invites WHERE code = $1")
            .bind(code)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("invite"))?;
        let mut invite = invite_from_row(&row)?;
        if !invite.is_usable(now) {
            return Err(StoreError::Invalid(format!(
                "invite {code} is expired or used up"
            )));
        }
        sqlx::query("UPDATE invites SET uses = uses + 1 WHERE code = $1")
            .bind(code)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        invite.uses += 1;
        Ok(invite)
    }

    async fn delete_invite(&self, code: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM invites WHERE code = $1")
            .bind(code)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
