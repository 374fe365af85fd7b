//! Pub/sub inside one process.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::Result;
use crate::pubsub::{PubSub, Subscriber, Topic};

type Registry = HashMap<Topic, HashMap<u64, mpsc::UnboundedSender<(Topic, Bytes)>>>;

/// Pub/sub between the tasks of one process.
#[derive(Clone, Debug, Default)]
pub struct MemoryPubSub {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    topics: Registry,
}

impl MemoryPubSub {
    /// A pub/sub with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl PubSub for MemoryPubSub {
    async fn publish(&self, topic: &Topic, payload: Bytes) -> Result<()> {
        let mut inner = self.lock();
        if let Some(subs) = inner.topics.get_mut(topic) {
            // Drop subscribers whose receiving end is gone.
            subs.retain(|_, tx| tx.send((topic.clone(), payload.clone())).is_ok());
        }
        Ok(())
    }

    async fn subscriber(&self) -> Result<Box<dyn Subscriber>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = {
            let mut inner = self.lock();
            inner.next_id += 1;
            inner.next_id
        };
        Ok(Box::new(MemorySubscriber {
            hub: self.clone(),
            id,
            tx,
            rx,
            topics: HashSet::new(),
        }))
    }
}

struct MemorySubscriber {
    hub: MemoryPubSub,
    id: u64,
    tx: mpsc::UnboundedSender<(Topic, Bytes)>,
    rx: mpsc::UnboundedReceiver<(Topic, Bytes)>,
    topics: HashSet<Topic>,
}

#[async_trait]
impl Subscriber for MemorySubscriber {
    async fn subscribe(&mut self, topic: &Topic) -> Result<()> {
        if self.topics.insert(topic.clone()) {
            self.hub
                .lock()
                .topics
                .entry(topic.clone())
                .or_default()
                .insert(self.id, self.tx.clone());
        }
        Ok(())
    }

    async fn unsubscribe(&mut self, topic: &Topic) -> Result<()> {
        if self.topics.remove(topic) {
            let mut inner = self.hub.lock();
            if let Some(subs) = inner.topics.get_mut(topic) {
                subs.remove(&self.id);
                if subs.is_empty() {
                    inner.topics.remove(topic);
                }
            }
        }
        Ok(())
    }

    async fn next(&mut self) -> Option<(Topic, Bytes)> {
        self.rx.recv().await
    }
}

impl Drop for MemorySubscriber {
    fn drop(&mut self) {
        let mut inner = self.hub.lock();
        for topic in &self.topics {
            if let Some(subs) = inner.topics.get_mut(topic) {
                subs.remove(&self.id);
                if subs.is_empty() {
                    inner.topics.remove(topic);
                }
            }
        }
    }
}
