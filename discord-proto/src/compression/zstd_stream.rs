//! The `zstd-stream` codec.

use zstd::stream::raw::{
    CParameter, Decoder as RawDecoder, Encoder as RawEncoder, InBuffer, Operation, OutBuffer,
};

use crate::ProtoError;

fn zstd_err(e: std::io::Error) -> ProtoError {
    ProtoError::Compression(e.to_string())
}

/// Compresses messages onto one zstd stream, flushing after each.
pub struct ZstdStreamEncoder {
    inner: RawEncoder<'static>,
}

impl std::fmt::Debug for ZstdStreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdStreamEncoder").finish_non_exhaustive()
    }
}

/// The encoder's window and match table, as powers of two. A zstd-stream
/// connection is one zstd frame from start to end (discord.py's
/// decompressor cannot read a second frame), so unlike zlib-stream's
/// compressor this one cannot be let go while the connection idles: what
/// it holds, every connection holds for its life. At zstd's default level
/// and its defaults for it (a 2 MiB window, tables of 128K and 64K
/// entries) that was about 830 KB per connection: 12 GB for 15,000 idle
/// sessions; with a 32 KiB window and tables of 8K entries, 120 KB.
///
/// Gateway messages are a few hundred bytes to a few KB, and what one
/// repeats is mostly the keys and IDs of the message before: a 4 KiB
/// window at zstd's fastest level (one hash table of 1K entries, no chain
/// table) compresses a stream of MESSAGE_CREATEs as well as those
/// (41 bytes a message against 42; docs/benchmarks.md) in 50 KB per
/// encoder, and a 48 KB message to 3.9 KB instead of 1.8. A decoder
/// accepts any window up to its limit (2^27 by default), so clients are
/// unaffected.
const WINDOW_LOG: u32 = 12;
/// See [`WINDOW_LOG`].
const HASH_LOG: u32 = 10;
/// See [`WINDOW_LOG`]: zstd's fastest strategy.
const LEVEL: i32 = 1;

impl ZstdStreamEncoder {
    /// A fresh stream at zstd's fastest level with a 4 KiB window and a
    /// match table of 1K entries: about 50 KB per encoder once in use.
    pub fn new() -> Result<Self, ProtoError> {
        let mut inner = RawEncoder::new(LEVEL).map_err(zstd_err)?;
        for parameter in [
            CParameter::WindowLog(WINDOW_LOG),
            CParameter::HashLog(HASH_LOG),
        ] {
            inner.set_parameter(parameter).map_err(zstd_err)?;
        }
        Ok(ZstdStreamEncoder { inner })
    }

    /// Compresses one message and flushes, so the result decodes on its own
    /// given the messages before it.
    pub fn encode(&mut self, message: &[u8]) -> Result<Vec<u8>, ProtoError> {
        let mut out = vec![0u8; zstd::zstd_safe::compress_bound(message.len()) + 64];
        let mut written = 0;
        let mut input = InBuffer::around(message);
        while input.pos() < message.len() {
            let mut output = OutBuffer::around_pos(&mut out[..], written);
            self.inner.run(&mut input, &mut output).map_err(zstd_err)?;
            written = output.pos();
            if written == out.len() {
                out.resize(out.len() * 2, 0);
            }
        }
        loop {
            let mut output = OutBuffer::around_pos(&mut out[..], written);
            let remaining = self.inner.flush(&mut output).map_err(zstd_err)?;
            written = output.pos();
            if remaining == 0 {
                break;
            }
            out.resize(out.len() * 2, 0);
        }
        out.truncate(written);
        Ok(out)
    }
}

/// Decompresses the messages of a zstd stream, one frame at a time.
pub struct ZstdStreamDecoder {
    inner: RawDecoder<'static>,
    max_message: usize,
    /// The last message's length: the next one's first guess.
    last_len: usize,
}

impl std::fmt::Debug for ZstdStreamDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdStreamDecoder")
            .field("max_message", &self.max_message)
            .finish_non_exhaustive()
    }
}

impl ZstdStreamDecoder {
    /// A fresh stream that refuses messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Result<Self, ProtoError> {
        Ok(ZstdStreamDecoder {
            inner: RawDecoder::new().map_err(zstd_err)?,
            max_message,
            last_len: 0,
        })
    }

    /// Decompresses one frame (one flushed message).
    pub fn push(&mut self, frame: &[u8]) -> Result<Vec<u8>, ProtoError> {
        let guess = super::output_guess(self.last_len, frame.len());
        // Never past the limit, even a limit under the usual floor (a
        // `clamp` with the bounds crossed would panic).
        let mut out = vec![0u8; guess.max(256).min(self.max_message.max(1))];
        let mut written = 0;
        let mut input = InBuffer::around(frame);
        loop {
            let mut output = OutBuffer::around_pos(&mut out[..], written);
            self.inner.run(&mut input, &mut output).map_err(zstd_err)?;
            written = output.pos();
            let full = written == out.len();
            if input.pos() == frame.len() && !full {
                break;
            }
            if full {
                if out.len() >= self.max_message {
                    return Err(ProtoError::TooLarge {
                        limit: self.max_message,
                    });
                }
                let new_len = (out.len() * 2).min(self.max_message);
                out.resize(new_len, 0);
            }
        }
        out.truncate(written);
        self.last_len = written;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompression_bomb_is_refused() {
        let mut enc = ZstdStreamEncoder::new().unwrap();
        let mut dec = ZstdStreamDecoder::new(4096).unwrap();
        let frame = enc.encode(&vec![b'a'; 1 << 20]).unwrap();
        assert!(frame.len() < 4096);
        assert!(matches!(
            dec.push(&frame),
            Err(ProtoError::TooLarge { limit: 4096 })
        ));
    }

    /// A decoder that refuses windows over 2^WINDOW_LOG.
    fn small_window_decoder() -> ZstdStreamDecoder {
        let mut inner = RawDecoder::new().unwrap();
        inner
            .set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(WINDOW_LOG))
            .unwrap();
        ZstdStreamDecoder {
            inner,
            max_message: 1 << 20,
            last_len: 0,
        }
    }

    /// The stream's window is the small one: a decoder that refuses
    /// windows over 2^WINDOW_LOG reads it (at zstd's defaults the frame
    /// declares a 2 MiB window, and such a decoder refuses it), and what
    /// one message repeats of the one before still shrinks it.
    #[test]
    fn the_stream_keeps_a_small_window_and_still_compresses_across_messages() {
        let messages: Vec<String> = (0..200)
            .map(|i| {
                format!(
                    r#"{{"op":0,"t":"MESSAGE_CREATE","s":{i},"d":{{"id":"{}","channel_id":"110","author":{{"id":"{}","username":"user","avatar":null}},"content":"message {i}","mentions":[],"embeds":[],"attachments":[]}}}}"#,
                    1_000_000 + i * 7_919,
                    i % 13
                )
            })
            .collect();
        let mut dec = small_window_decoder();
        let mut enc = ZstdStreamEncoder::new().unwrap();
        let mut sizes = Vec::new();
        for m in &messages {
            let frame = enc.encode(m.as_bytes()).unwrap();
            sizes.push(frame.len());
            assert_eq!(dec.push(&frame).unwrap(), m.as_bytes());
        }
        let later: usize = sizes[100..].iter().sum();
        let raw: usize = messages[100..].iter().map(String::len).sum();
        assert!(
            later * 4 < raw,
            "{later} bytes for {raw}: repeats are found"
        );

        let mut wide = ZstdStreamEncoder {
            inner: RawEncoder::new(zstd::DEFAULT_COMPRESSION_LEVEL).unwrap(),
        };
        let mut dec = small_window_decoder();
        let frame = wide.encode(messages[0].as_bytes()).unwrap();
        assert!(dec.push(&frame).is_err(), "the default window is refused");
    }

    /// A limit under the decoder's usual first buffer (256 bytes) is
    /// still a limit, not a panic.
    #[test]
    fn a_limit_under_256_bytes_holds() {
        let mut enc = ZstdStreamEncoder::new().unwrap();
        let mut dec = ZstdStreamDecoder::new(100).unwrap();
        let short = vec![b'a'; 50];
        assert_eq!(dec.push(&enc.encode(&short).unwrap()).unwrap(), short);
        let long = vec![b'b'; 200];
        assert!(matches!(
            dec.push(&enc.encode(&long).unwrap()),
            Err(ProtoError::TooLarge { limit: 100 })
        ));
    }

    #[test]
    fn large_message_round_trips() {
        let mut enc = ZstdStreamEncoder::new().unwrap();
        let mut dec = ZstdStreamDecoder::new(8 << 20).unwrap();
        let msg: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let frame = enc.encode(&msg).unwrap();
        assert_eq!(dec.push(&frame).unwrap(), msg);
    }
}
