//! The hand-over of a session's socket between its task and the writer
//! loops, on real loopback sockets.

use std::sync::Arc;
use std::time::Duration;

use discord_proto::Snowflake;
use discord_proto::gateway::Intents;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use super::{Claim, Left, dispatch_frame};
use crate::hub::{Prepared, SessionHandle};

/// A connected pair: the server's end (shared, as a session's socket is)
/// and the client's.
async fn pair() -> (Arc<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (Arc::new(server), client)
}

fn handle() -> Arc<SessionHandle> {
    Arc::new(SessionHandle::new(
        7,
        "s7".to_owned(),
        Snowflake::new(1),
        Intents::empty(),
        None,
        10_000,
    ))
}

fn event(id: u64, size: usize) -> Arc<Prepared> {
    let data = format!(r#"{{"id":"{id}","pad":"{}"}}"#, "x".repeat(size));
    Arc::new(Prepared::new(id, "MESSAGE_CREATE", &data))
}

/// Claims and writes what the session has queued, as a loop does, with
/// the frames' sequence numbers; returns whether the write stalled.
fn loop_write(handle: &SessionHandle) -> (Vec<u64>, bool) {
    let mut events = Vec::new();
    let Claim::Events { first, count } = handle.claim(super::BATCH, &mut events) else {
        panic!("the session is lent and has events");
    };
    assert_eq!(count, events.len());
    let seqs = (first..).take(count).collect();
    let frames: Vec<_> = (first..)
        .zip(events)
        .map(|(seq, e)| dispatch_frame(seq, e))
        .collect();
    handle.write_claimed(&frames);
    let stalled = handle.stalled();
    (seqs, stalled)
}

/// The `(s, d.id)` of each whole text frame in `bytes`.
fn dispatches(mut bytes: &[u8]) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut cursor = std::io::Cursor::new(bytes);
        let (_, len) = FrameHeader::parse(&mut cursor)
            .expect("a valid header")
            .expect("a whole header");
        let start = cursor.position() as usize;
        let end = start + len as usize;
        let v: serde_json::Value = serde_json::from_slice(&bytes[start..end]).unwrap();
        assert_eq!(v["op"], 0);
        assert_eq!(v["t"], "MESSAGE_CREATE");
        out.push((
            v["s"].as_u64().unwrap(),
            v["d"]["id"].as_str().unwrap().to_owned(),
        ));
        bytes = &bytes[end..];
    }
    out
}

/// Reads what `client` has received until `want` bytes are in.
async fn read_exactly(client: &mut TcpStream, want: usize) -> Vec<u8> {
    let mut got = vec![0; want];
    tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut got))
        .await
        .expect("the bytes arrive")
        .unwrap();
    got
}

#[tokio::test]
async fn a_lent_socket_gets_the_queued_events_numbered_after_the_tasks_own() {
    let (server, mut client) = pair().await;
    let h = handle();
    h.lend(5, &server);
    for id in 1..=3 {
        h.queue(event(id, 10));
    }
    let (seqs, stalled) = loop_write(&h);
    assert_eq!(seqs, [6, 7, 8]);
    assert!(!stalled);
    assert!(matches!(
        h.claim(super::BATCH, &mut Vec::new()),
        Claim::Nothing
    ));
    let frames: Vec<Vec<u8>> = [(6, 1), (7, 2), (8, 3)]
        .into_iter()
        .map(|(s, id)| {
            let mut bytes = Vec::new();
            let frame = dispatch_frame(s, event(id, 10));
            crate::socket::try_write_frames(std::slice::from_ref(&frame), |slices| {
                slices.iter().for_each(|s| bytes.extend_from_slice(s));
                Ok(slices.iter().map(|s| s.len()).sum())
            })
            .unwrap();
            bytes
        })
        .collect();
    let got = read_exactly(&mut client, frames.iter().map(Vec::len).sum()).await;
    assert_eq!(got, frames.concat(), "the frames a task would write");
    // The task takes the socket back where the loop left it.
    let (seq, left) = h.take_back().await.expect("it was lent");
    assert_eq!(seq, 8);
    assert!(matches!(left, Left::Nothing));
    assert!(h.take_back().await.is_none(), "taken back already");
    h.queue(event(4, 10));
    assert!(
        matches!(h.claim(super::BATCH, &mut Vec::new()), Claim::NotLent),
        "loops leave a session to the task that holds it"
    );
}

#[tokio::test]
async fn a_write_the_socket_cannot_take_is_left_to_the_task_whole_and_in_order() {
    let (server, mut client) = pair().await;
    let h = handle();
    h.lend(0, &server);
    // The client reads nothing until the socket is full.
    let mut sent = Vec::new();
    let mut next = 1;
    let stalled = loop {
        for _ in 0..16 {
            h.queue(event(next, 4_000));
            next += 1;
        }
        let (seqs, stalled) = loop_write(&h);
        sent.extend(seqs);
        if stalled {
            break true;
        }
        assert!(sent.len() < 100_000, "a socket that is never read fills up");
    };
    assert!(stalled);
    h.queue(event(next, 10));
    assert!(
        matches!(h.claim(super::BATCH, &mut Vec::new()), Claim::NotLent),
        "no loop writes after an unfinished write"
    );
    // The task is told, and takes the rest.
    tokio::time::timeout(Duration::from_secs(10), h.wait_input())
        .await
        .expect("the task is woken");
    let (seq, left) = h.take_back().await.unwrap();
    assert_eq!(seq, *sent.last().unwrap());
    let Left::Unwritten(rest) = left else {
        panic!("the rest of the write is left to the task")
    };
    // What the socket took, then the rest, is every frame whole, in order.
    drop(server);
    drop(h);
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    got.extend_from_slice(&rest);
    let frames = dispatches(&got);
    let want: Vec<(u64, String)> = sent.iter().map(|&s| (s, s.to_string())).collect();
    assert_eq!(frames, want);
}

#[tokio::test]
async fn taking_the_socket_back_waits_for_a_loop_that_is_writing_it() {
    let (server, _client) = pair().await;
    let h = handle();
    h.lend(0, &server);
    h.queue(event(1, 10));
    let mut events = Vec::new();
    let Claim::Events { first, .. } = h.claim(super::BATCH, &mut events) else {
        panic!("events claimed")
    };
    let waiting = Arc::clone(&h);
    let mut task = tokio::spawn(async move { waiting.take_back().await });
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut task)
            .await
            .is_err(),
        "the task waits while the loop logs and writes"
    );
    let frames: Vec<_> = (first..)
        .zip(events)
        .map(|(seq, e)| dispatch_frame(seq, e))
        .collect();
    h.write_claimed(&frames);
    let (seq, left) = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop's release wakes the task")
        .unwrap()
        .unwrap();
    assert_eq!(seq, 1);
    assert!(matches!(left, Left::Nothing));
}
