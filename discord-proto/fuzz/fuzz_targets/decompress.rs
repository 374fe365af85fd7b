//! Transport decompression of arbitrary frames never panics and respects its
//! size limit.
#![no_main]

use discord_proto::compression::{Decoder, TransportCompression};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    for kind in [TransportCompression::ZlibStream, TransportCompression::ZstdStream] {
        let mut d = Decoder::new(kind, LIMIT).expect("decoder");
        // Split the input into frames at a byte chosen by the input.
        let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
        for frame in [&data[..split], &data[split..]] {
            if let Ok(Some(out)) = d.push(frame) {
                assert!(out.len() <= LIMIT);
            }
        }
    }
});
