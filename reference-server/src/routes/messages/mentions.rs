//! Who a message mentions: users and roles in its content (`<@id>`,
//! `<@&id>`), `@everyone`, and the replied-to author, as
//! `allowed_mentions` permits.

use discord_proto::{Permissions, Snowflake};
use serde::Deserialize;

use crate::access::ChannelAccess;
use crate::error::ApiResult;
use crate::state::AppState;

/// The `allowed_mentions` of a message body.
#[derive(Deserialize, Default)]
pub(super) struct AllowedMentions {
    #[serde(default)]
    parse: Option<Vec<String>>,
    #[serde(default)]
    users: Vec<Snowflake>,
    #[serde(default)]
    roles: Vec<Snowflake>,
    #[serde(default)]
    replied_user: Option<bool>,
}

/// Users, roles and @everyone mentioned in `content`, as allowed.
pub(super) struct Mentions {
    pub(super) users: Vec<Snowflake>,
    pub(super) roles: Vec<Snowflake>,
    pub(super) everyone: bool,
}

fn parse_mentions(content: &str) -> (Vec<Snowflake>, Vec<Snowflake>) {
    let mut users = Vec::new();
    let mut roles = Vec::new();
    let mut rest = content;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let (is_role, body) = match rest.strip_prefix('&') {
            Some(b) => (true, b),
            None => (false, rest.strip_prefix('!').unwrap_or(rest)),
        };
        let Some(end) = body.find('>') else { break };
        if let Ok(id) = body[..end].parse::<u64>() {
            let list = if is_role { &mut roles } else { &mut users };
            if !list.contains(&Snowflake::new(id)) {
                list.push(Snowflake::new(id));
            }
        }
    }
    (users, roles)
}

/// The users, roles and @everyone `content` mentions, as `allowed` permits
/// (all of them without `allowed_mentions`), plus the author of the message
/// replied to unless `replied_user` is false.
pub(super) async fn resolve(
    state: &AppState,
    access: &ChannelAccess,
    content: &str,
    allowed: Option<&AllowedMentions>,
    replied_to: Option<Snowflake>,
) -> ApiResult<Mentions> {
    let (users, roles) = parse_mentions(content);
    let parse_all = AllowedMentions {
        parse: Some(vec!["users".into(), "roles".into(), "everyone".into()]),
        ..AllowedMentions::default()
    };
    let allowed = allowed.unwrap_or(&parse_all);
    let parse = allowed.parse.clone().unwrap_or_default();
    let guild_id = access.guild_id();
    let mut out = Mentions {
        users: Vec::new(),
        roles: Vec::new(),
        everyone: false,
    };
    for u in users {
        if (parse.iter().any(|p| p == "users") || allowed.users.contains(&u))
            && state.stores.guilds.member(guild_id, u).await?.is_some()
        {
            out.users.push(u);
        }
    }
    if let Some(author) = replied_to
        && allowed.replied_user != Some(false)
        && !out.users.contains(&author)
    {
        out.users.push(author);
    }
    for r in roles {
        if (parse.iter().any(|p| p == "roles") || allowed.roles.contains(&r))
            && access
                .guild
                .roles
                .iter()
                .any(|x| x.id == r && x.id != guild_id)
        {
            out.roles.push(r);
        }
    }
    out.everyone = parse.iter().any(|p| p == "everyone")
        && (content.contains("@everyone") || content.contains("@here"))
        && access.permissions.contains(Permissions::MENTION_EVERYONE);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_in_content() {
        let (users, roles) = parse_mentions("hi <@1> and <@!2>, <@&3> <@1> <@x> <@4");
        assert_eq!(users, vec![Snowflake::new(1), Snowflake::new(2)]);
        assert_eq!(roles, vec![Snowflake::new(3)]);
    }
}
