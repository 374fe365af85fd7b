//! [`PubSub`] on Redis: PUBLISH through the shared connection; each
//! subscriber owns one pub/sub connection carrying all its topics, and
//! resubscribes them after a reconnect (events published while it was
//! disconnected are missed, as with any Redis pub/sub; gateway clients
//! recover them by resuming).

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use redis::AsyncCommands;
use redis::aio::{PubSubSink, PubSubStream};

use super::{RedisStore, map_err};
use crate::Result;
use crate::pubsub::{PubSub, Subscriber, Topic};

#[async_trait]
impl PubSub for RedisStore {
    async fn publish(&self, topic: &Topic, payload: Bytes) -> Result<()> {
        let _: i64 = self
            .conn
            .clone()
            .publish(self.key(&topic.key()), payload.as_ref())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn subscriber(&self) -> Result<Box<dyn Subscriber>> {
        let (sink, stream) = self
            .client
            .get_async_pubsub()
            .await
            .map_err(map_err)?
            .split();
        Ok(Box::new(RedisSubscriber {
            client: self.client.clone(),
            prefix: self.prefix.clone(),
            sink,
            stream,
            topics: HashSet::new(),
        }))
    }
}

struct RedisSubscriber {
    client: redis::Client,
    prefix: String,
    sink: PubSubSink,
    stream: PubSubStream,
    topics: HashSet<Topic>,
}

impl RedisSubscriber {
    /// Reconnects with backoff and resubscribes every topic.
    async fn reconnect(&mut self) {
        let mut delay = Duration::from_millis(50);
        loop {
            match self.try_reconnect().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "redis pub/sub reconnect failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn try_reconnect(&mut self) -> redis::RedisResult<()> {
        let (mut sink, stream) = self.client.get_async_pubsub().await?.split();
        for topic in &self.topics {
            sink.subscribe(format!("{}{}", self.prefix, topic.key()))
                .await?;
        }
        self.sink = sink;
        self.stream = stream;
        Ok(())
    }
}

#[async_trait]
impl Subscriber for RedisSubscriber {
    async fn subscribe(&mut self, topic: &Topic) -> Result<()> {
        self.sink
            .subscribe(format!("{}{}", self.prefix, topic.key()))
            .await
            .map_err(map_err)?;
        self.topics.insert(topic.clone());
        Ok(())
    }

    async fn unsubscribe(&mut self, topic: &Topic) -> Result<()> {
        self.sink
            .unsubscribe(format!("{}{}", self.prefix, topic.key()))
            .await
            .map_err(map_err)?;
        self.topics.remove(topic);
        Ok(())
    }

    async fn next(&mut self) -> Option<(Topic, Bytes)> {
        loop {
            match self.stream.next().await {
                Some(msg) => {
                    let Some(key) = msg.get_channel_name().strip_prefix(&self.prefix) else {
                        continue;
                    };
                    // Ignore messages for topics unsubscribed a moment ago.
                    if let Some(topic) = Topic::from_key(key)
                        && self.topics.contains(&topic)
                    {
                        return Some((topic, Bytes::copy_from_slice(msg.get_payload_bytes())));
                    }
                }
                None => self.reconnect().await,
            }
        }
    }
}
