//! What letting an idle zlib-stream connection's compressor go costs the
//! message after it: the same MESSAGE_CREATE encoded on a warm stream, and
//! right after a release (a new compressor, an empty window).
//!
//! ```sh
//! cargo bench -p discord-proto --bench zlib_release
//! ```
//!
//! Before measuring it prints each case's compressed size.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use discord_proto::compression::ZlibStreamEncoder;

/// A MESSAGE_CREATE of the gateway load tool's size (about 560 bytes).
fn message(n: u64) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"t":"MESSAGE_CREATE","s":{},"op":0,"d":{{"attachments":[],"#,
            r#""author":{{"avatar":null,"discriminator":"0","id":"1","username":"poster"}},"#,
            r#""channel_id":"10","content":"a typical chat message of modest length","#,
            r#""embeds":[],"guild_id":"100","id":"{}","mention_everyone":false,"#,
            r#""mention_roles":[],"mentions":[],"nonce":"{}","pinned":false,"#,
            r#""timestamp":"2026-01-01T00:00:00+00:00","tts":false,"type":0}}}}"#
        ),
        n,
        1_099_511_627_776 + n,
        1_764_419_000_000_000_000 + n
    )
    .into_bytes()
}

/// An encoder that has sent a few messages (a window to match against).
fn warm() -> ZlibStreamEncoder {
    let mut enc = ZlibStreamEncoder::new();
    for n in 0..8 {
        enc.encode(&message(n)).unwrap();
    }
    enc
}

/// Lets the compressor go: the first call ends the busy period.
fn release(enc: &mut ZlibStreamEncoder) {
    enc.release_if_idle();
    assert!(enc.release_if_idle());
}

fn zlib_release(c: &mut Criterion) {
    let msg = message(9);
    let steady = warm().encode(&msg).unwrap().len();
    let mut enc = warm();
    release(&mut enc);
    let after = enc.encode(&msg).unwrap().len();
    eprintln!(
        "{} bytes compressed: {steady} bytes on a warm stream, {after} right after a release",
        msg.len()
    );

    let mut group = c.benchmark_group("zlib_stream_encode");
    group.throughput(Throughput::Elements(1));
    let mut enc = warm();
    group.bench_function("warm", |b| b.iter(|| black_box(enc.encode(&msg).unwrap())));
    let mut enc = warm();
    group.bench_function("after_release", |b| {
        b.iter(|| {
            release(&mut enc);
            black_box(enc.encode(&msg).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, zlib_release);
criterion_main!(benches);
