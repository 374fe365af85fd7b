//! Pub/sub between gateway nodes: events addressed to a guild, a channel or
//! a user, delivered to every node subscribed to that topic.

use async_trait::async_trait;
use bytes::Bytes;
use discord_proto::Snowflake;

use crate::Result;

/// What an event is addressed to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Everyone in a guild (who may see the event).
    Guild(Snowflake),
    /// Everyone who can see a channel (DMs, for instance).
    Channel(Snowflake),
    /// Every session of one user.
    User(Snowflake),
    /// Control messages for one gateway node.
    Node(String),
}

impl Topic {
    /// The topic as a channel name (`guild:123`), as used by Redis.
    pub fn key(&self) -> String {
        match self {
            Topic::Guild(id) => format!("guild:{id}"),
            Topic::Channel(id) => format!("channel:{id}"),
            Topic::User(id) => format!("user:{id}"),
            Topic::Node(n) => format!("node:{n}"),
        }
    }

    /// Parses [`Topic::key`]'s form.
    pub fn from_key(key: &str) -> Option<Topic> {
        let (kind, rest) = key.split_once(':')?;
        Some(match kind {
            "guild" => Topic::Guild(rest.parse().ok()?),
            "channel" => Topic::Channel(rest.parse().ok()?),
            "user" => Topic::User(rest.parse().ok()?),
            "node" => Topic::Node(rest.to_owned()),
            _ => return None,
        })
    }
}

/// Publishes events and opens subscribers.
#[async_trait]
pub trait PubSub: Send + Sync + 'static {
    /// Sends `payload` to every subscriber of `topic` (at most once each; a
    /// subscriber that is not listening misses it).
    async fn publish(&self, topic: &Topic, payload: Bytes) -> Result<()>;
    /// A new subscriber with no topics. A node keeps one and adds and removes
    /// topics as its sessions come and go.
    async fn subscriber(&self) -> Result<Box<dyn Subscriber>>;
}

/// One node's subscription to many topics.
#[async_trait]
pub trait Subscriber: Send + 'static {
    /// Starts receiving `topic`; returns once the subscription is active.
    async fn subscribe(&mut self, topic: &Topic) -> Result<()>;
    /// Stops receiving `topic`.
    async fn unsubscribe(&mut self, topic: &Topic) -> Result<()>;
    /// The next event; `None` when the pub/sub is shut down.
    async fn next(&mut self) -> Option<(Topic, Bytes)>;
}
