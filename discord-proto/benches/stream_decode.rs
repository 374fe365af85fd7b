//! What a client pays to read a compressed gateway stream: 2,000
//! MESSAGE_CREATE dispatches of the gateway load tool's size, as the
//! server's encoders send them, decoded by a fresh decoder per iteration
//! (zlib-stream and zstd-stream). The figure is per message.
//!
//! ```sh
//! cargo bench -p discord-proto --bench stream_decode
//! ```

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use discord_proto::compression::{Decoder, Encoder, TransportCompression};

const MESSAGES: usize = 2_000;

/// A MESSAGE_CREATE dispatch numbered `n` (about 560 bytes).
fn message(n: u64) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"op":0,"d":{{"attachments":[],"#,
            r#""author":{{"avatar":null,"discriminator":"0","id":"{}","username":"user{}"}},"#,
            r#""channel_id":"10","content":"a typical chat message of modest length, number {}","#,
            r#""embeds":[],"guild_id":"100","id":"{}","mention_everyone":false,"#,
            r#""mention_roles":[],"mentions":[],"nonce":"{}","pinned":false,"#,
            r#""timestamp":"2026-01-01T00:00:00+00:00","tts":false,"type":0}},"s":{},"t":"MESSAGE_CREATE"}}"#
        ),
        1_000 + n % 37,
        n % 37,
        n,
        1_099_511_627_776 + n * 4_194_304,
        1_764_419_000_000_000_000 + n * 7_919,
        n
    )
    .into_bytes()
}

fn stream_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream_decode");
    group.throughput(Throughput::Elements(MESSAGES as u64));
    for kind in [
        TransportCompression::ZlibStream,
        TransportCompression::ZstdStream,
    ] {
        let mut encoder = Encoder::new(kind).unwrap();
        let messages: Vec<Vec<u8>> = (0..MESSAGES as u64).map(message).collect();
        let frames: Vec<Vec<u8>> = messages
            .iter()
            .map(|m| encoder.encode(m).unwrap())
            .collect();
        let raw: usize = messages.iter().map(Vec::len).sum();
        let compressed: usize = frames.iter().map(Vec::len).sum();
        eprintln!("{kind}: {raw} bytes in {MESSAGES} messages, {compressed} compressed");
        group.bench_function(kind.to_string(), |b| {
            b.iter(|| {
                let mut decoder = Decoder::new(kind, 1 << 20).unwrap();
                for frame in &frames {
                    black_box(decoder.push(frame).unwrap());
                }
            })
        });
        // Every message comes back as it was sent.
        let mut decoder = Decoder::new(kind, 1 << 20).unwrap();
        for (frame, message) in frames.iter().zip(&messages) {
            assert_eq!(decoder.push(frame).unwrap().as_deref(), Some(&message[..]));
        }
    }
    group.finish();
}

criterion_group!(benches, stream_decode);
criterion_main!(benches);
