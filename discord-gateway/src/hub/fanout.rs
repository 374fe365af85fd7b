//! One event's fanout: the views of it that recipients get (full, or
//! without message content), and who receives which.

use std::collections::VecDeque;
use std::sync::Arc;

use discord_proto::Snowflake;
use discord_proto::gateway::Intents;
use serde::Deserialize;

use super::{Prepared, SessionHandle};
use crate::event::Event;

/// The views of one event: full, and (made on first need) without message
/// content for sessions that may not read it.
pub(super) struct Fanout {
    pub(super) event: Event,
    full: Arc<Prepared>,
    stripped: Option<Arc<Prepared>>,
    /// The intents of which a recipient needs one (found once per event,
    /// not by name for each recipient).
    needs: Option<Intents>,
    /// For MESSAGE_CREATE/UPDATE: the author and mentioned users.
    readers: Option<Vec<Snowflake>>,
    /// For PRESENCE_UPDATE: whose presence it is (not sent to themselves).
    subject: Option<Snowflake>,
}

impl Fanout {
    pub(super) fn new(event: Event) -> Self {
        let full = Arc::new(Prepared::new(event.id, &event.name, event.data.get()));
        let readers = matches!(event.name.as_str(), "MESSAGE_CREATE" | "MESSAGE_UPDATE")
            .then(|| message_readers(event.data.get()));
        let subject = (event.name == "PRESENCE_UPDATE")
            .then(|| presence_subject(event.data.get()))
            .flatten();
        Fanout {
            needs: Intents::required_for(&event.name, event.guild_id.is_some()),
            event,
            full,
            stripped: None,
            readers,
            subject,
        }
    }

    /// Queues the event's view for `session` if it receives it, adding
    /// the session to `wakes` if it must be woken.
    pub(super) fn offer(
        &mut self,
        session: &Arc<SessionHandle>,
        visible: impl FnOnce(Snowflake) -> bool,
        wakes: &mut VecDeque<Arc<SessionHandle>>,
    ) {
        if let Some(view) = self.view_for(session, visible)
            && session.push(Arc::clone(view))
        {
            wakes.push_back(Arc::clone(session));
        }
    }

    /// The view of the event `session` receives, if it receives it;
    /// `visible` says whether it may see a channel of the event's guild.
    pub(super) fn view_for(
        &mut self,
        session: &SessionHandle,
        visible: impl FnOnce(Snowflake) -> bool,
    ) -> Option<&Arc<Prepared>> {
        let guild = self.event.guild_id;
        let in_guild = guild.is_some();
        if !session.on_shard(guild)
            || self
                .needs
                .is_some_and(|needs| !session.intents.intersects(needs))
            || self.subject == Some(session.user_id)
        {
            return None;
        }
        if let Some(channel) = self.event.channel_id
            && in_guild
            && !visible(channel)
        {
            return None;
        }
        let hide_content = in_guild
            && !session.intents.contains(Intents::MESSAGE_CONTENT)
            && self
                .readers
                .as_ref()
                .is_some_and(|r| !r.contains(&session.user_id));
        Some(if hide_content {
            self.stripped.get_or_insert_with(|| {
                Arc::new(Prepared::new(
                    self.full.id,
                    &self.event.name,
                    &strip_content(self.event.data.get()),
                ))
            })
        } else {
            &self.full
        })
    }
}

/// The users who may read a message's content without MESSAGE_CONTENT: its
/// author and the users it mentions.
fn message_readers(data: &str) -> Vec<Snowflake> {
    #[derive(Deserialize)]
    struct Who {
        id: Snowflake,
    }
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        author: Option<Who>,
        #[serde(default)]
        mentions: Vec<Who>,
    }
    match serde_json::from_str::<Probe>(data) {
        Ok(p) => p
            .author
            .into_iter()
            .chain(p.mentions)
            .map(|w| w.id)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The user a PRESENCE_UPDATE is about.
fn presence_subject(data: &str) -> Option<Snowflake> {
    #[derive(Deserialize)]
    struct Who {
        id: Snowflake,
    }
    #[derive(Deserialize)]
    struct Probe {
        user: Who,
    }
    serde_json::from_str::<Probe>(data).ok().map(|p| p.user.id)
}

/// A message's data with `content`, `embeds`, `attachments` and
/// `components` emptied, as Discord sends it without MESSAGE_CONTENT.
fn strip_content(data: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(data)
    else {
        return data.to_owned();
    };
    for (field, empty) in [
        ("content", serde_json::Value::String(String::new())),
        ("embeds", serde_json::Value::Array(Vec::new())),
        ("attachments", serde_json::Value::Array(Vec::new())),
        ("components", serde_json::Value::Array(Vec::new())),
    ] {
        if value.contains_key(field) || field != "components" {
            value.insert(field.to_owned(), empty);
        }
    }
    serde_json::to_string(&value).unwrap_or_else(|_| data.to_owned())
}
