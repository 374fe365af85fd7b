//! The hand-over of a session's socket between its task and the writer
//! loops, on real loopback sockets.

use std::sync::Arc;
use std::time::Duration;

use discord_proto::Snowflake;
use discord_proto::compression::{Decoder, Encoder, TransportCompression};
use discord_proto::gateway::Intents;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use super::{ChunkEvents, Claim, Left, dispatch_frame};
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

/// A session lent to the writers at sequence number `seq`, uncompressed:
/// the handle, the server's end and the client's.
async fn lent(seq: u64) -> (Arc<SessionHandle>, Arc<TcpStream>, TcpStream) {
    let (server, client) = pair().await;
    let h = handle();
    h.lend(seq, &server, None);
    (h, server, client)
}

fn event(id: u64, size: usize) -> Arc<Prepared> {
    let data = format!(r#"{{"id":"{id}","pad":"{}"}}"#, "x".repeat(size));
    Arc::new(Prepared::new(id, "MESSAGE_CREATE", &data))
}

/// Claims and writes what the session has queued, as a loop does, with
/// the frames' sequence numbers; returns whether the write stalled.
fn loop_write(handle: &SessionHandle) -> (Vec<u64>, bool) {
    let mut events = ChunkEvents::new();
    let Claim::Events(claimed) = handle.claim(super::BATCH, &mut events) else {
        panic!("the session is lent and has events");
    };
    assert_eq!(claimed.count, events.len());
    let seqs = (claimed.first..).take(claimed.count).collect();
    handle.write_claimed(
        claimed,
        events.get(0..events.len()),
        &mut Vec::new(),
        &mut 0,
    );
    let stalled = handle.stalled();
    (seqs, stalled)
}

/// The payload of each whole frame in `bytes`, with whether it was binary.
fn payloads(mut bytes: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut cursor = std::io::Cursor::new(bytes);
        let (header, len) = FrameHeader::parse(&mut cursor)
            .expect("a valid header")
            .expect("a whole header");
        let start = cursor.position() as usize;
        let end = start + len as usize;
        let binary = header.opcode == OpCode::Data(Data::Binary);
        out.push((binary, bytes[start..end].to_vec()));
        bytes = &bytes[end..];
    }
    out
}

/// The `(s, d.id)` of a MESSAGE_CREATE dispatch.
fn dispatch(json: &[u8]) -> (u64, String) {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    assert_eq!(v["op"], 0);
    assert_eq!(v["t"], "MESSAGE_CREATE");
    (
        v["s"].as_u64().unwrap(),
        v["d"]["id"].as_str().unwrap().to_owned(),
    )
}

/// The `(s, d.id)` of each whole text frame in `bytes`.
fn dispatches(bytes: &[u8]) -> Vec<(u64, String)> {
    payloads(bytes)
        .into_iter()
        .map(|(binary, json)| {
            assert!(!binary, "an uncompressed session gets text frames");
            dispatch(&json)
        })
        .collect()
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

/// Everything `client` receives until the server's end closes.
async fn read_to_end(client: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut got))
        .await
        .expect("the server's end closes")
        .unwrap();
    got
}

#[tokio::test]
async fn a_lent_socket_gets_the_queued_events_numbered_after_the_tasks_own() {
    let (h, _server, mut client) = lent(5).await;
    for id in 1..=3 {
        h.queue(event(id, 10));
    }
    let (seqs, stalled) = loop_write(&h);
    assert_eq!(seqs, [6, 7, 8]);
    assert!(!stalled);
    assert!(matches!(
        h.claim(super::BATCH, &mut ChunkEvents::new()),
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
    let back = h.take_back().await.expect("it was lent");
    assert_eq!(back.seq, 8);
    assert!(matches!(back.left, Left::Nothing));
    assert!(back.encoder.is_none(), "an uncompressed session has none");
    assert!(h.take_back().await.is_none(), "taken back already");
    h.queue(event(4, 10));
    assert!(
        matches!(
            h.claim(super::BATCH, &mut ChunkEvents::new()),
            Claim::NotLent
        ),
        "loops leave a session to the task that holds it"
    );
}

/// Queues and writes events made by `make` (numbered from 1), 16 at a
/// time, until a write stalls because the client reads nothing; returns
/// the sequence numbers claimed.
fn fill_until_stalled(h: &SessionHandle, make: impl Fn(u64) -> Arc<Prepared>) -> Vec<u64> {
    let mut sent = Vec::new();
    let mut next = 1;
    loop {
        for _ in 0..16 {
            h.queue(make(next));
            next += 1;
        }
        let (seqs, stalled) = loop_write(h);
        sent.extend(seqs);
        if stalled {
            return sent;
        }
        assert!(sent.len() < 100_000, "a socket that is never read fills up");
    }
}

#[tokio::test]
async fn a_write_the_socket_cannot_take_is_left_to_the_task_whole_and_in_order() {
    let (h, server, mut client) = lent(0).await;
    let sent = fill_until_stalled(&h, |id| event(id, 4_000));
    h.queue(event(sent.len() as u64 + 1, 10));
    assert!(
        matches!(
            h.claim(super::BATCH, &mut ChunkEvents::new()),
            Claim::NotLent
        ),
        "no loop writes after an unfinished write"
    );
    // The task is told, and takes the rest.
    tokio::time::timeout(Duration::from_secs(10), h.wait_input())
        .await
        .expect("the task is woken");
    let back = h.take_back().await.unwrap();
    assert_eq!(back.seq, *sent.last().unwrap());
    let Left::Unwritten(rest) = back.left else {
        panic!("the rest of the write is left to the task")
    };
    // What the socket took, then the rest, is every frame whole, in order.
    drop(server);
    drop(h);
    let mut got = read_to_end(&mut client).await;
    got.extend_from_slice(&rest);
    let frames = dispatches(&got);
    let want: Vec<(u64, String)> = sent.iter().map(|&s| (s, s.to_string())).collect();
    assert_eq!(frames, want);
}

#[tokio::test]
async fn a_write_counts_its_system_calls() {
    let (h, _server, mut client) = lent(0).await;
    for id in 1..=3 {
        h.queue(event(id, 10));
    }
    let mut events = ChunkEvents::new();
    let Claim::Events(claimed) = h.claim(super::BATCH, &mut events) else {
        panic!("events claimed")
    };
    assert_eq!(claimed.count, 3, "three events claimed");
    // The count is added to what the writer has counted so far.
    let mut writes = 5;
    h.write_claimed(
        claimed,
        events.get(0..events.len()),
        &mut Vec::new(),
        &mut writes,
    );
    assert_eq!(writes, 6, "three small frames go out in one call");
    assert!(!h.stalled());
    let got = read_exactly(&mut client, 1).await;
    assert!(!got.is_empty(), "the client got them");
}

#[tokio::test]
async fn the_task_finishes_a_stalled_write_once_the_client_reads() {
    let (h, server, mut client) = lent(0).await;
    let sent = fill_until_stalled(&h, |id| event(id, 4_000));
    let back = h.take_back().await.unwrap();
    let Left::Unwritten(rest) = back.left else {
        panic!("the rest of the write is left to the task")
    };
    // The writers wrote past tokio's readiness, which may still say the
    // socket is writable: the task's wait must find out that it is not,
    // then wake when the client has read.
    let reader = tokio::spawn(async move { read_to_end(&mut client).await });
    let write_rest = async {
        let mut at = 0;
        while at < rest.len() {
            server.writable().await.unwrap();
            match server.try_write(&rest[at..]) {
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("write failed: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), write_rest)
        .await
        .expect("the task's write finishes once the client reads");
    drop(server);
    drop(h);
    let got = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the client reads to the end")
        .unwrap();
    let want: Vec<(u64, String)> = sent.iter().map(|&s| (s, s.to_string())).collect();
    assert_eq!(dispatches(&got), want, "every frame whole and in order");
}

#[tokio::test]
async fn taking_the_socket_back_waits_for_a_loop_that_is_writing_it() {
    let (h, _server, _client) = lent(0).await;
    h.queue(event(1, 10));
    let mut events = ChunkEvents::new();
    let Claim::Events(claimed) = h.claim(super::BATCH, &mut events) else {
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
    h.write_claimed(
        claimed,
        events.get(0..events.len()),
        &mut Vec::new(),
        &mut 0,
    );
    let back = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop's release wakes the task")
        .unwrap()
        .unwrap();
    assert_eq!(back.seq, 1);
    assert!(matches!(back.left, Left::Nothing));
}

/// A session lent to the writers with a zlib-stream compressor: the
/// handle, the server's end and the client's.
async fn compressed_session() -> (Arc<SessionHandle>, Arc<TcpStream>, TcpStream) {
    let (server, client) = pair().await;
    let h = handle();
    let encoder = Encoder::new(TransportCompression::ZlibStream).unwrap();
    h.lend(0, &server, Some(Box::new(encoder)));
    (h, server, client)
}

/// The `(s, d.id)` of each binary frame in `bytes`, decoded as one
/// zlib stream.
fn decode_stream(bytes: &[u8]) -> Vec<(u64, String)> {
    let mut decoder = Decoder::new(TransportCompression::ZlibStream, 1 << 20).unwrap();
    payloads(bytes)
        .into_iter()
        .map(|(binary, payload)| {
            assert!(binary, "a compressed session gets binary frames");
            let message = decoder.push(&payload).unwrap();
            dispatch(&message.expect("one message per frame"))
        })
        .collect()
}

/// A compressed session's compressor goes to the writers with its socket:
/// they compress its events into its own stream, and the task gets the
/// compressor back where they left it, so its next frame continues the
/// same stream.
#[tokio::test]
async fn a_compressed_session_is_written_by_the_writers_in_its_own_stream() {
    let (h, server, mut client) = compressed_session().await;
    for id in 1..=3 {
        h.queue(event(id, 300));
    }
    let (seqs, stalled) = loop_write(&h);
    assert_eq!(seqs, [1, 2, 3]);
    assert!(!stalled);
    let back = h.take_back().await.expect("it was lent");
    assert_eq!(back.seq, 3);
    assert!(matches!(back.left, Left::Nothing));
    let mut encoder = back
        .encoder
        .expect("the compressor comes back with the socket");
    // The task's own next frame, in the same stream.
    let own = super::compressed_frame(&mut encoder, 4, &event(4, 300)).unwrap();
    crate::socket::try_write_frames(std::slice::from_ref(&own), |s| server.try_write_vectored(s))
        .unwrap();
    drop(server);
    let got = read_to_end(&mut client).await;
    let want: Vec<(u64, String)> = (1..=4).map(|s| (s, s.to_string())).collect();
    assert_eq!(decode_stream(&got), want);
}

/// A compressed session's write that the socket cannot take is left to
/// the task as compressed bytes, and the compressor comes back past them:
/// the rest, then the task's own next frame, continue the one stream, and
/// every message decodes in order.
#[tokio::test]
async fn a_compressed_write_the_socket_cannot_take_continues_the_stream() {
    let (h, server, mut client) = compressed_session().await;
    // Padding that does not compress away, so the socket fills.
    let noisy = |id: u64| {
        let mut x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let pad: String = (0..4_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        let data = format!(r#"{{"id":"{id}","pad":"{pad}"}}"#);
        Arc::new(Prepared::new(id, "MESSAGE_CREATE", &data))
    };
    let sent = fill_until_stalled(&h, noisy);
    tokio::time::timeout(Duration::from_secs(10), h.wait_input())
        .await
        .expect("the task is woken");
    let back = h.take_back().await.unwrap();
    let Left::Unwritten(rest) = back.left else {
        panic!("the rest of the write is left to the task")
    };
    let mut encoder = back.encoder.expect("the compressor comes back");
    let next = *sent.last().unwrap() + 1;
    let own = super::compressed_frame(&mut encoder, next, &event(next, 10)).unwrap();
    let mut tail = Vec::new();
    crate::socket::try_write_frames(std::slice::from_ref(&own), |slices| {
        slices.iter().for_each(|s| tail.extend_from_slice(s));
        Ok(slices.iter().map(|s| s.len()).sum())
    })
    .unwrap();
    drop(server);
    drop(h);
    let mut got = read_to_end(&mut client).await;
    got.extend_from_slice(&rest);
    got.extend_from_slice(&tail);
    let want: Vec<(u64, String)> = (1..=next).map(|s| (s, s.to_string())).collect();
    assert_eq!(decode_stream(&got), want);
}

/// The writers name a session's log by the handle the store gave at their
/// first batch for it, asked for once per connection: a store that
/// replaces the session later is then found by ID (the store's part,
/// tested in discord-store's suite).
#[tokio::test]
async fn a_sessions_log_handle_is_asked_for_once() {
    use discord_store::SessionStore;
    use discord_store::backend::memory::MemorySessions;
    use discord_store::session::SessionRecord;
    let store = MemorySessions::new(10);
    let h = handle();
    let record = SessionRecord {
        session_id: h.session_id.clone(),
        user_id: h.user_id,
        intents: 0,
        shard: [0, 1],
        seq: 0,
        node_id: None,
    };
    let ttl = Duration::from_secs(60);
    store.save(&record, ttl).await.unwrap();
    let first = h.log_handle(&store).expect("a saved session has one") as *const _;
    store.delete(&h.session_id).await.unwrap();
    store.save(&record, ttl).await.unwrap();
    let again = h.log_handle(&store).expect("kept") as *const _;
    assert_eq!(first, again, "asked for once");
    let unsaved = SessionHandle::new(
        8,
        "s8".to_owned(),
        Snowflake::new(2),
        Intents::empty(),
        None,
        10,
    );
    assert!(
        unsaved.log_handle(&store).is_none(),
        "the store holds no such session"
    );
}
