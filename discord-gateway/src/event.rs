//! Events as they travel between gateway nodes: an event name, its data
//! (serialized once, by the publisher) and where it goes.

use discord_proto::Snowflake;
use discord_proto::gateway::DispatchEvent;
use discord_store::Topic;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A dispatch event addressed to a guild's sessions or to some users'.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event (random); lets a session handed from one node to
    /// another drop an event both nodes saw.
    pub id: u64,
    /// The event name (`t`).
    pub name: String,
    /// The guild the event belongs to: it goes to the guild's sessions that
    /// may see it. `None` for events sent to [`Event::users`].
    pub guild_id: Option<Snowflake>,
    /// The channel the event is about, if any: only sessions whose user can
    /// VIEW_CHANNEL there receive it.
    pub channel_id: Option<Snowflake>,
    /// For events without a guild (DMs, GUILD_CREATE to a new member,
    /// VOICE_SERVER_UPDATE): the users whose sessions receive it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<Snowflake>,
    /// The event's data `d`, as JSON.
    pub data: Box<RawValue>,
}

impl Event {
    /// The event for a typed dispatch, addressed by its guild and channel.
    /// Events without a guild need [`Event::to_users`].
    pub fn new(event: &DispatchEvent) -> Result<Event, serde_json::Error> {
        let data = event.to_raw()?;
        let channel_id = channel_of(event.name(), &data);
        Ok(Event {
            id: rand::random(),
            name: event.name().to_owned(),
            guild_id: event.guild_id(),
            channel_id,
            users: Vec::new(),
            data,
        })
    }

    /// An event named `name` with any serializable data.
    pub fn raw(
        name: &str,
        guild_id: Option<Snowflake>,
        data: &impl Serialize,
    ) -> Result<Event, serde_json::Error> {
        let data = serde_json::value::to_raw_value(data)?;
        let channel_id = channel_of(name, &data);
        Ok(Event {
            id: rand::random(),
            name: name.to_owned(),
            guild_id,
            channel_id,
            users: Vec::new(),
            data,
        })
    }

    /// Sends the event to these users' sessions instead of a guild's (the
    /// guild, if any, still decides the shard).
    pub fn to_users(mut self, users: impl IntoIterator<Item = Snowflake>) -> Event {
        self.users = users.into_iter().collect();
        self
    }

    /// The pub/sub topics this event is published to.
    pub fn topics(&self) -> Vec<Topic> {
        if self.users.is_empty() {
            self.guild_id.map(Topic::Guild).into_iter().collect()
        } else {
            self.users.iter().map(|u| Topic::User(*u)).collect()
        }
    }
}

/// The channel an event is about: `channel_id` in its data, or the
/// channel's own `id` for CHANNEL_* events.
fn channel_of(name: &str, data: &RawValue) -> Option<Snowflake> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        channel_id: Option<Snowflake>,
        #[serde(default)]
        id: Option<Snowflake>,
    }
    let probe: Probe = serde_json::from_str(data.get()).ok()?;
    if name.starts_with("CHANNEL_") && name != "CHANNEL_PINS_UPDATE" {
        probe.id
    } else {
        probe.channel_id
    }
}

/// What nodes send each other on the pub/sub bus.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Wire {
    /// An event for sessions.
    Event(Event),
    /// To a session's owner node: stop serving `session_id`, a RESUME on
    /// `node` takes it over; answer with `Released`.
    Release { session_id: String, node: String },
    /// To the node that asked: the session was released.
    Released { session_id: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_find_their_channel() {
        let e = Event::raw(
            "MESSAGE_CREATE",
            Some(Snowflake::new(1)),
            &serde_json::json!({"id": "9", "channel_id": "5"}),
        )
        .unwrap();
        assert_eq!(e.channel_id, Some(Snowflake::new(5)));
        let e = Event::raw(
            "CHANNEL_UPDATE",
            Some(Snowflake::new(1)),
            &serde_json::json!({"id": "7", "type": 0}),
        )
        .unwrap();
        assert_eq!(e.channel_id, Some(Snowflake::new(7)));
        assert_eq!(e.topics(), vec![Topic::Guild(Snowflake::new(1))]);
        let e = e.to_users([Snowflake::new(3), Snowflake::new(4)]);
        assert_eq!(
            e.topics(),
            vec![
                Topic::User(Snowflake::new(3)),
                Topic::User(Snowflake::new(4))
            ]
        );
    }

    #[test]
    fn wire_events_round_trip_with_raw_data() {
        let e = Event::raw(
            "TYPING_START",
            Some(Snowflake::new(1)),
            &serde_json::json!({"a": [1]}),
        )
        .unwrap();
        let text = serde_json::to_string(&Wire::Event(e.clone())).unwrap();
        match serde_json::from_str::<Wire>(&text).unwrap() {
            Wire::Event(back) => {
                assert_eq!(back.id, e.id);
                assert_eq!(back.data.get(), r#"{"a":[1]}"#);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wire_messages_round_trip() {
        let w = Wire::Release {
            session_id: "s".into(),
            node: "n".into(),
        };
        let text = serde_json::to_string(&w).unwrap();
        assert!(matches!(
            serde_json::from_str::<Wire>(&text).unwrap(),
            Wire::Release { session_id, node } if session_id == "s" && node == "n"
        ));
    }
}
