//! Kafka through rdkafka (feature `kafka`): the message event bus. Events go
//! to one topic (`message_events` by default) keyed by channel ID, so each
//! channel's events land in one partition, in order. The producer is
//! idempotent with `acks=all`: a publish that returned `Ok` is replicated
//! and will not be duplicated by retries. Consumers join a consumer group,
//! start at the earliest offset when the group is new, and commit
//! explicitly.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::event_bus::{BusConsumer, BusEvent, Delivery, EventBus, TOPIC};
use crate::{Result, StoreError};

/// The event bus on a Kafka-protocol cluster.
#[derive(Clone)]
pub struct KafkaBus {
    brokers: String,
    topic: String,
    producer: FutureProducer,
    session_timeout: Duration,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

fn map_err(e: KafkaError) -> StoreError {
    let code = match &e {
        KafkaError::AdminOp(code) => Some(*code),
        _ => e.rdkafka_error_code(),
    };
    match code {
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::NotEnoughReplicas
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::NotLeaderForPartition,
        ) => StoreError::Unavailable(Box::new(e)),
        _ => StoreError::Backend(Box::new(e)),
    }
}

impl KafkaBus {
    /// Connects to `brokers` (`host:port,...`) and the `message_events`
    /// topic, creating it (4 partitions) if it does not exist.
    pub async fn connect(brokers: &str) -> Result<Self> {
        Self::connect_with(brokers, TOPIC, 4, Duration::from_secs(10)).await
    }

    /// Connects with an explicit topic, partition count (used when creating
    /// it) and consumer session timeout.
    pub async fn connect_with(
        brokers: &str,
        topic: &str,
        partitions: i32,
        session_timeout: Duration,
    ) -> Result<Self> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "1")
            .create()
            .map_err(map_err)?;
        let bus = KafkaBus {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            producer,
            session_timeout,
        };
        bus.ensure_topic(partitions).await?;
        Ok(bus)
    }

    async fn ensure_topic(&self, partitions: i32) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .map_err(map_err)?;
        let topic = NewTopic::new(&self.topic, partitions, TopicReplication::Fixed(1));
        let opts = AdminOptions::new()
            .operation_timeout(Some(Duration::from_secs(10)))
            .request_timeout(Some(Duration::from_secs(10)));
        let results = admin
            .create_topics([&topic], &opts)
            .await
            .map_err(map_err)?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(StoreError::Backend(
                        format!("creating topic {name}: {code}").into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The topic this bus writes to.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn publish(&self, event: &BusEvent) -> Result<()> {
        let key = event.channel_id.to_string();
        let headers = OwnedHeaders::new().insert(Header {
            key: "kind",
            value: Some(event.kind.as_str()),
        });
        let record = FutureRecord::to(&self.topic)
            .key(&key)
            .payload(event.payload.as_ref())
            .headers(headers);
        self.producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| map_err(e))?;
        Ok(())
    }

    async fn consumer(&self, group: &str) -> Result<Box<dyn BusConsumer>> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "session.timeout.ms",
                self.session_timeout.as_millis().to_string(),
            )
            .set(
                "heartbeat.interval.ms",
                (self.session_timeout.as_millis() / 4).max(100).to_string(),
            )
            .create()
            .map_err(map_err)?;
        consumer.subscribe(&[&self.topic]).map_err(map_err)?;
        Ok(Box::new(KafkaConsumer { inner: consumer }))
    }
}

struct KafkaConsumer {
    inner: StreamConsumer,
}

#[async_trait]
impl BusConsumer for KafkaConsumer {
    async fn next(&mut self, timeout: Duration) -> Result<Option<Delivery>> {
        let msg = match tokio::time::timeout(timeout, self.inner.recv()).await {
            Err(_) => return Ok(None),
            Ok(r) => r.map_err(map_err)?,
        };
        let key = msg.key().unwrap_or_default();
        let channel_id = std::str::from_utf8(key)
            .ok()
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| StoreError::Backend("event without a channel key".into()))?;
        let kind = msg
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == "kind"))
            .and_then(|h| h.value)
            .and_then(|v| std::str::from_utf8(v).ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Some(Delivery {
            event: BusEvent {
                channel_id,
                kind,
                payload: Bytes::copy_from_slice(msg.payload().unwrap_or_default()),
            },
            partition: msg.partition(),
            offset: msg.offset(),
        }))
    }

    async fn commit(&mut self, delivery: &Delivery) -> Result<()> {
        let mut list = TopicPartitionList::new();
        let topic = self
            .inner
            .subscription()
            .map_err(map_err)?
            .elements()
            .first()
            .map(|e| e.topic().to_owned())
            .ok_or_else(|| StoreError::Backend("consumer has no subscription".into()))?;
        list.add_partition_offset(
            &topic,
            delivery.partition,
            Offset::Offset(delivery.offset + 1),
        )
        .map_err(map_err)?;
        self.inner
            .commit(&list, CommitMode::Sync)
            .map_err(map_err)?;
        Ok(())
    }
}
