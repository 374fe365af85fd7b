//! The message event bus: a durable log of MESSAGE_CREATE/UPDATE/DELETE
//! events, ordered per channel, read by consumer groups (search indexing,
//! analytics) that resume where they left off.

use async_trait::async_trait;
use bytes::Bytes;
use discord_proto::Snowflake;

use crate::Result;

/// The topic name on Kafka.
pub const TOPIC: &str = "message_events";

/// An event on the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusEvent {
    /// The channel: the key that orders events.
    pub channel_id: Snowflake,
    /// The event name, such as `MESSAGE_CREATE`.
    pub kind: String,
    /// The event's data (JSON).
    pub payload: Bytes,
}

/// A delivered event and where it sits in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The event.
    pub event: BusEvent,
    /// Its partition (0 for single-log backends).
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
}

/// The producer side and consumer factory.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Appends an event; `Ok` means it is durable and will be delivered to
    /// every group, after every earlier event of the same channel.
    async fn publish(&self, event: &BusEvent) -> Result<()>;
    /// A consumer in `group`. A group's consumers share the work and resume
    /// after the last committed event.
    async fn consumer(&self, group: &str) -> Result<Box<dyn BusConsumer>>;
}

/// Reads events for one group.
#[async_trait]
pub trait BusConsumer: Send + 'static {
    /// The next event, waiting up to `timeout`; `None` on timeout.
    async fn next(&mut self, timeout: std::time::Duration) -> Result<Option<Delivery>>;
    /// Marks everything up to and including `delivery` as processed.
    async fn commit(&mut self, delivery: &Delivery) -> Result<()>;
}
