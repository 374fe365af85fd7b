//! Gateway transport compression: one compression context per connection,
//! shared by every message on it.
//!
//! - `zlib-stream`: a zlib stream; each message ends with a sync flush, so
//!   its compressed bytes end in `00 00 ff ff`. A message may arrive in
//!   several WebSocket frames; the receiver buffers until it sees the suffix.
//! - `zstd-stream`: a zstd stream, flushed at the end of each message; each
//!   WebSocket frame holds whole flushed blocks.
//!
//! Decoders enforce a limit on the decompressed size of one message, so a
//! small frame cannot expand into gigabytes.
//!
//! ```
//! use discord_proto::compression::{TransportCompression, ZlibStreamDecoder, ZlibStreamEncoder};
//!
//! assert_eq!("zlib-stream".parse(), Ok(TransportCompression::ZlibStream));
//! let mut tx = ZlibStreamEncoder::new();
//! let mut rx = ZlibStreamDecoder::new(1 << 20);
//! for text in ["{\"op\":11}", "{\"op\":1,\"d\":5}"] {
//!     let frame = tx.encode(text.as_bytes()).unwrap();
//!     assert!(frame.ends_with(&[0, 0, 0xff, 0xff]));
//!     assert_eq!(rx.push(&frame).unwrap().as_deref(), Some(text.as_bytes()));
//! }
//! ```

mod zlib;
mod zstd_stream;

use std::fmt;
use std::str::FromStr;

pub use zlib::{ZlibStreamDecoder, ZlibStreamEncoder};

/// A decoder's first guess at a message's decompressed length: a quarter
/// more than the last message's, or four times its compressed length,
/// whichever is more. A typical message is then decompressed in one call
/// into one allocation.
fn output_guess(last_len: usize, compressed: usize) -> usize {
    (last_len + last_len / 4).max(compressed * 4)
}
pub use zstd_stream::{ZstdStreamDecoder, ZstdStreamEncoder};

/// The four bytes that end every message of a `zlib-stream`.
pub const ZLIB_SUFFIX: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A transport compression the gateway's `compress` query parameter names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportCompression {
    /// `zlib-stream`.
    ZlibStream,
    /// `zstd-stream`.
    ZstdStream,
}

impl TransportCompression {
    /// The query parameter value.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransportCompression::ZlibStream => "zlib-stream",
            TransportCompression::ZstdStream => "zstd-stream",
        }
    }
}

impl fmt::Display for TransportCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `compress` value that names no supported transport compression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCompression(pub String);

impl fmt::Display for UnknownCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown transport compression {:?} (expected zlib-stream or zstd-stream)",
            self.0
        )
    }
}

impl std::error::Error for UnknownCompression {}

impl FromStr for TransportCompression {
    type Err = UnknownCompression;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zlib-stream" => Ok(TransportCompression::ZlibStream),
            "zstd-stream" => Ok(TransportCompression::ZstdStream),
            other => Err(UnknownCompression(other.to_owned())),
        }
    }
}

/// Either encoder, chosen at run time from the connection's query string.
#[derive(Debug)]
pub enum Encoder {
    /// A `zlib-stream` encoder.
    Zlib(ZlibStreamEncoder),
    /// A `zstd-stream` encoder.
    Zstd(ZstdStreamEncoder),
}

impl Encoder {
    /// A fresh encoder for `kind`.
    pub fn new(kind: TransportCompression) -> Result<Self, crate::ProtoError> {
        Ok(match kind {
            TransportCompression::ZlibStream => Encoder::Zlib(ZlibStreamEncoder::new()),
            TransportCompression::ZstdStream => Encoder::Zstd(ZstdStreamEncoder::new()?),
        })
    }

    /// Compresses one message into the bytes of one binary frame.
    pub fn encode(&mut self, message: &[u8]) -> Result<Vec<u8>, crate::ProtoError> {
        match self {
            Encoder::Zlib(e) => e.encode(message),
            Encoder::Zstd(e) => e.encode(message),
        }
    }

    /// Frees the compressor's memory if the connection has been idle since
    /// the last call (see [`ZlibStreamEncoder::release_if_idle`]); returns
    /// whether the encoder now holds none. A zstd frame cannot be carried
    /// on by a new context, so a zstd encoder keeps its own (about 120 KB).
    pub fn release_if_idle(&mut self) -> bool {
        match self {
            Encoder::Zlib(e) => e.release_if_idle(),
            Encoder::Zstd(_) => false,
        }
    }
}

/// Either decoder, chosen at run time.
#[derive(Debug)]
pub enum Decoder {
    /// A `zlib-stream` decoder.
    Zlib(ZlibStreamDecoder),
    /// A `zstd-stream` decoder.
    Zstd(ZstdStreamDecoder),
}

impl Decoder {
    /// A fresh decoder for `kind` that refuses messages over `max_message`
    /// bytes decompressed.
    pub fn new(kind: TransportCompression, max_message: usize) -> Result<Self, crate::ProtoError> {
        Ok(match kind {
            TransportCompression::ZlibStream => Decoder::Zlib(ZlibStreamDecoder::new(max_message)),
            TransportCompression::ZstdStream => Decoder::Zstd(ZstdStreamDecoder::new(max_message)?),
        })
    }

    /// Feeds one binary frame; returns a whole message when one is complete.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, crate::ProtoError> {
        match self {
            Decoder::Zlib(d) => d.push(frame),
            Decoder::Zstd(d) => d.push(frame).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_query_values() {
        assert_eq!(
            "zstd-stream".parse::<TransportCompression>(),
            Ok(TransportCompression::ZstdStream)
        );
        assert!("zlib".parse::<TransportCompression>().is_err());
        for k in [
            TransportCompression::ZlibStream,
            TransportCompression::ZstdStream,
        ] {
            assert_eq!(k.to_string().parse::<TransportCompression>(), Ok(k));
        }
    }

    /// A stream of many varied messages through both codecs, each decoded
    /// exactly as sent, in order, on one shared context.
    #[test]
    fn many_messages_round_trip_on_one_context() {
        for kind in [
            TransportCompression::ZlibStream,
            TransportCompression::ZstdStream,
        ] {
            let mut enc = Encoder::new(kind).unwrap();
            let mut dec = Decoder::new(kind, 1 << 20).unwrap();
            let mut total_in = 0;
            let mut total_out = 0;
            for i in 0..2_000u32 {
                let msg = format!(
                    r#"{{"op":0,"s":{i},"t":"MESSAGE_CREATE","d":{{"content":"{}","id":"{}"}}}}"#,
                    "hello ".repeat((i % 50) as usize),
                    u64::from(i) * 7919
                );
                let frame = enc.encode(msg.as_bytes()).unwrap();
                total_in += msg.len();
                total_out += frame.len();
                let out = dec.push(&frame).unwrap();
                assert_eq!(out.as_deref(), Some(msg.as_bytes()), "{kind} message {i}");
            }
            // A shared context compresses repetitive traffic well.
            assert!(
                total_out * 4 < total_in,
                "{kind}: {total_out} vs {total_in}"
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for kind in [
            TransportCompression::ZlibStream,
            TransportCompression::ZstdStream,
        ] {
            let mut dec = Decoder::new(kind, 1 << 20).unwrap();
            let r = dec.push(&[0x12, 0x34, 0x56, 0x78, 0, 0, 0xff, 0xff]);
            assert!(r.is_err(), "{kind}: {r:?}");
        }
    }
}
