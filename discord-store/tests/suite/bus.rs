//! EventBus and BlobStore behaviours.

use std::time::Duration;

use bytes::Bytes;
use discord_proto::Snowflake;
use discord_store::{BlobStore, BusEvent, EventBus};

use super::namespace;

fn ev(channel: Snowflake, i: u32) -> BusEvent {
    BusEvent {
        channel_id: channel,
        kind: "MESSAGE_CREATE".into(),
        payload: Bytes::from(format!("{{\"n\":{i}}}")),
    }
}

/// Events of each channel arrive in publish order; a group that restarts
/// resumes after its last commit; another group sees everything.
pub async fn bus_order_and_resume(bus: &dyn EventBus) {
    let group = format!("g{}", namespace());
    let (c1, c2) = (Snowflake::new(namespace()), Snowflake::new(namespace()));
    // Start consumers first so backends that begin at the log's end see all.
    let mut consumer = bus.consumer(&group).await.unwrap();
    for i in 0..30 {
        bus.publish(&ev(if i % 3 == 0 { c2 } else { c1 }, i))
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 20 {
        let d = consumer
            .next(Duration::from_secs(10))
            .await
            .unwrap()
            .expect("event before timeout");
        if d.event.channel_id == c1 || d.event.channel_id == c2 {
            got.push(d);
        }
    }
    // Commit the first 20 we saw and "restart".
    consumer.commit(got.last().unwrap()).await.unwrap();
    drop(consumer);
    let mut consumer = bus.consumer(&group).await.unwrap();
    while got.len() < 30 {
        let d = consumer
            .next(Duration::from_secs(10))
            .await
            .unwrap()
            .expect("event after restart");
        if d.event.channel_id == c1 || d.event.channel_id == c2 {
            got.push(d);
        }
    }
    for channel in [c1, c2] {
        let seq: Vec<u32> = got
            .iter()
            .filter(|d| d.event.channel_id == channel)
            .map(|d| {
                let s = std::str::from_utf8(&d.event.payload).unwrap();
                s.trim_start_matches("{\"n\":")
                    .trim_end_matches('}')
                    .parse()
                    .unwrap()
            })
            .collect();
        let mut sorted = seq.clone();
        sorted.sort();
        assert_eq!(seq, sorted, "order within channel {channel}");
    }
    assert_eq!(got.len(), 30, "every event exactly once across the restart");
    let mut payloads: Vec<_> = got.iter().map(|d| d.event.payload.clone()).collect();
    payloads.sort();
    payloads.dedup();
    assert_eq!(payloads.len(), 30, "no duplicates across the restart");
    let nothing = consumer.next(Duration::from_millis(300)).await.unwrap();
    assert!(nothing.is_none_or(|d| d.event.channel_id != c1 && d.event.channel_id != c2));
}

/// Blobs round-trip, replace and delete.
pub async fn blob_round_trip(blobs: &dyn BlobStore) {
    let key = format!("attachments/{}/1/cat.png", namespace());
    let data = Bytes::from((0..=255u8).cycle().take(100_000).collect::<Vec<_>>());
    assert_eq!(blobs.get(&key).await.unwrap(), None);
    blobs.put(&key, data.clone()).await.unwrap();
    assert_eq!(blobs.get(&key).await.unwrap(), Some(data));
    blobs.put(&key, Bytes::from_static(b"new")).await.unwrap();
    assert_eq!(
        blobs.get(&key).await.unwrap(),
        Some(Bytes::from_static(b"new"))
    );
    assert!(blobs.delete(&key).await.unwrap());
    assert!(!blobs.delete(&key).await.unwrap());
    assert_eq!(blobs.get(&key).await.unwrap(), None);
    assert!(blobs.put("../escape", Bytes::new()).await.is_err());
}
