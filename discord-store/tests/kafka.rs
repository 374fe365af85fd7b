//! The event-bus suite against a Kafka-protocol broker (the `kafka`
//! feature), when `KAFKA_BROKERS` is set, e.g. `127.0.0.1:9092`. Each test
//! uses its own topic.

mod suite;

#[cfg(feature = "kafka")]
mod live {
    use std::time::Duration;

    use bytes::Bytes;
    use discord_proto::Snowflake;
    use discord_store::backend::kafka::KafkaBus;
    use discord_store::{BusEvent, EventBus};

    use super::suite;

    async fn kafka() -> Option<KafkaBus> {
        let brokers = suite::service_url("kafka", "KAFKA_BROKERS")?;
        let topic = format!("message_events_test_{}", suite::namespace());
        Some(
            KafkaBus::connect_with(&brokers, &topic, 3, Duration::from_secs(6))
                .await
                .expect("connect to KAFKA_BROKERS"),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bus_order_and_resume() {
        let Some(bus) = kafka().await else { return };
        suite::bus::bus_order_and_resume(&bus).await;
    }

    /// A broker that cannot be reached is a typed Unavailable error, not a
    /// hang or a panic.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unreachable_broker_is_unavailable() {
        if suite::service_url("kafka", "KAFKA_BROKERS").is_none() {
            return;
        }
        let err = KafkaBus::connect_with("127.0.0.1:1", "nowhere", 1, Duration::from_secs(6))
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }

    /// Two groups each see every event; events keep the channel as key.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_are_independent() {
        let Some(bus) = kafka().await else { return };
        let channel = Snowflake::new(suite::namespace());
        let mut a = bus.consumer("group-a").await.unwrap();
        let mut b = bus.consumer("group-b").await.unwrap();
        for i in 0..5 {
            bus.publish(&BusEvent {
                channel_id: channel,
                kind: "MESSAGE_DELETE".into(),
                payload: Bytes::from(format!("{i}")),
            })
            .await
            .unwrap();
        }
        for consumer in [&mut a, &mut b] {
            for i in 0..5 {
                let d = consumer
                    .next(Duration::from_secs(20))
                    .await
                    .unwrap()
                    .expect("event");
                assert_eq!(d.event.channel_id, channel);
                assert_eq!(d.event.kind, "MESSAGE_DELETE");
                assert_eq!(d.event.payload, Bytes::from(format!("{i}")));
            }
        }
    }
}

#[cfg(not(feature = "kafka"))]
#[test]
fn kafka_feature_disabled() {
    let required = std::env::var("DISCORD_STORE_REQUIRE").unwrap_or_default();
    assert!(
        !required.split(',').any(|b| b.trim() == "kafka"),
        "kafka suite required but discord-store was built without the `kafka` feature"
    );
    suite::loud_skip("the kafka suite needs the `kafka` feature");
}
