//! The `zlib-stream` codec.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::ZLIB_SUFFIX;
use crate::ProtoError;

/// Compresses messages onto one zlib stream, ending each with a sync flush.
///
/// A deflate compressor holds its window and match tables (with flate2's
/// default backend, about 165 KB once used) for as long as it lives. A
/// gateway connection lives for days and is mostly idle, so the encoder can
/// let its compressor go while idle ([`release_if_idle`]) and keep the
/// stream going without one:
///
/// - After a sync flush the stream is at a byte boundary and no later block
///   has to refer back, so a new raw deflate compressor (no zlib header)
///   carries on the same stream. It starts with an empty window, which
///   costs the first message after it a little ratio.
/// - Small messages while released (heartbeat ACKs; up to 64 bytes) go
///   out as stored blocks, which need no compressor at all.
///
/// A client's inflater sees one ordinary zlib stream throughout.
///
/// [`release_if_idle`]: ZlibStreamEncoder::release_if_idle
#[derive(Debug)]
pub struct ZlibStreamEncoder {
    /// `None` before the first compressed message and while released.
    inner: Option<Compress>,
    /// The zlib header is written (by the first compressor, or before the
    /// first stored block).
    started: bool,
    /// A message over [`SMALL`] bytes was sent since the last
    /// [`release_if_idle`](ZlibStreamEncoder::release_if_idle).
    busy: bool,
}

/// Messages up to this many bytes do not count as activity, and go out as
/// stored blocks while the compressor is released. A heartbeat ACK is 36
/// bytes, a heartbeat request 35.
const SMALL: usize = 64;

/// A zlib header: deflate with a 32 KiB window, the default level, and
/// its check bits (`0x789c` is a multiple of 31).
const ZLIB_HEADER: [u8; 2] = [0x78, 0x9c];

impl Default for ZlibStreamEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ZlibStreamEncoder {
    /// A fresh stream (the first message carries the zlib header). No
    /// compressor is made until a message needs one.
    pub fn new() -> Self {
        ZlibStreamEncoder {
            inner: None,
            started: false,
            busy: false,
        }
    }

    /// Compresses one message; the result ends with `00 00 ff ff`.
    pub fn encode(&mut self, message: &[u8]) -> Result<Vec<u8>, ProtoError> {
        if message.len() > SMALL {
            self.busy = true;
        } else if self.inner.is_none() {
            return Ok(self.stored(message));
        }
        let started = self.started;
        self.started = true;
        let inner = self
            .inner
            .get_or_insert_with(|| Compress::new(Compression::default(), !started));
        let mut out = Vec::with_capacity(message.len() / 2 + 64);
        let mut input = message;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let before_in = inner.total_in();
            inner
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| ProtoError::Compression(e.to_string()))?;
            let consumed = usize::try_from(inner.total_in() - before_in).unwrap_or(input.len());
            input = &input[consumed..];
            // Done when all input is in and the flush fit in the buffer.
            if input.is_empty() && out.len() < out.capacity() && out.ends_with(&ZLIB_SUFFIX) {
                return Ok(out);
            }
        }
    }

    /// Lets the compressor go if no message over 64 bytes was sent
    /// since the last call, and returns whether the encoder now holds none.
    /// Called at a steady pace (the gateway calls it on each client
    /// heartbeat), a connection that carries only heartbeats frees its
    /// compressor after one or two periods.
    pub fn release_if_idle(&mut self) -> bool {
        if !self.busy {
            self.inner = None;
        }
        self.busy = false;
        self.inner.is_none()
    }

    /// `message` as a stored deflate block, then an empty one (the sync
    /// flush's `00 00 ff ff` that tells the receiver the message is whole).
    /// A stored block's header is three bits (not final, type 00) padded
    /// to the byte, then its length and the length's complement.
    fn stored(&mut self, message: &[u8]) -> Vec<u8> {
        debug_assert!(message.len() <= SMALL);
        let mut out = Vec::with_capacity(2 + 5 + message.len() + 5);
        if !self.started {
            self.started = true;
            out.extend_from_slice(&ZLIB_HEADER);
        }
        if !message.is_empty() {
            let len = message.len() as u16;
            out.push(0);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(message);
        }
        out.push(0);
        out.extend_from_slice(&ZLIB_SUFFIX);
        out
    }
}

/// Reassembles and decompresses messages of a zlib stream.
#[derive(Debug)]
pub struct ZlibStreamDecoder {
    inner: Decompress,
    pending: Vec<u8>,
    max_message: usize,
}

impl ZlibStreamDecoder {
    /// A fresh stream that refuses messages over `max_message` bytes
    /// (compressed or decompressed).
    pub fn new(max_message: usize) -> Self {
        ZlibStreamDecoder {
            inner: Decompress::new(true),
            pending: Vec::new(),
            max_message,
        }
    }

    /// Feeds one frame. Returns the message once its last frame (ending in
    /// `00 00 ff ff`) arrived, `None` while more frames are needed.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, ProtoError> {
        if self.pending.len() + frame.len() > self.max_message {
            self.pending.clear();
            return Err(ProtoError::TooLarge {
                limit: self.max_message,
            });
        }
        self.pending.extend_from_slice(frame);
        if !self.pending.ends_with(&ZLIB_SUFFIX) {
            return Ok(None);
        }
        let compressed = std::mem::take(&mut self.pending);
        let mut out = Vec::with_capacity((compressed.len() * 4).min(self.max_message).max(64));
        let mut input = &compressed[..];
        loop {
            if out.len() == out.capacity() {
                if out.len() >= self.max_message {
                    return Err(ProtoError::TooLarge {
                        limit: self.max_message,
                    });
                }
                let grow = out.capacity().min(self.max_message - out.len()).max(64);
                out.reserve(grow);
            }
            let before_in = self.inner.total_in();
            let before_out = out.len();
            let status = self
                .inner
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|e| ProtoError::Compression(e.to_string()))?;
            let consumed =
                usize::try_from(self.inner.total_in() - before_in).unwrap_or(input.len());
            input = &input[consumed..];
            if out.len() > self.max_message {
                return Err(ProtoError::TooLarge {
                    limit: self.max_message,
                });
            }
            let stalled = consumed == 0 && out.len() == before_out;
            match status {
                Status::StreamEnd => return Ok(Some(out)),
                _ if input.is_empty() && out.len() < out.capacity() => return Ok(Some(out)),
                _ if stalled && out.len() < out.capacity() => {
                    return Err(ProtoError::Compression(
                        "zlib stream made no progress".to_owned(),
                    ));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_split_over_frames_is_reassembled() {
        let mut enc = ZlibStreamEncoder::new();
        let mut dec = ZlibStreamDecoder::new(1 << 20);
        let msg = br#"{"op":10,"d":{"heartbeat_interval":41250}}"#;
        let frame = enc.encode(msg).unwrap();
        assert_eq!(&frame[..1], &[0x78], "zlib header");
        let (a, b) = frame.split_at(frame.len() / 2);
        assert_eq!(dec.push(a).unwrap(), None);
        assert_eq!(dec.push(b).unwrap().as_deref(), Some(&msg[..]));
    }

    /// A gateway-like message of `len` bytes, repetitive as JSON is.
    fn json_like(len: usize, n: usize) -> Vec<u8> {
        format!("{{\"op\":0,\"s\":{n},\"d\":{{\"content\":\"")
            .bytes()
            .chain(b"hello world ".iter().copied().cycle())
            .take(len)
            .collect()
    }

    #[test]
    fn the_first_message_carries_the_zlib_header_even_when_stored() {
        let mut enc = ZlibStreamEncoder::new();
        let small = enc.encode(br#"{"op":10}"#).unwrap();
        assert_eq!(&small[..2], &ZLIB_HEADER);
        let mut fresh = ZlibStreamEncoder::new();
        let big = fresh.encode(&json_like(500, 0)).unwrap();
        assert_eq!(&big[..2], &[0x78, 0x9c], "flate2's own header, the same");
        let mut dec = ZlibStreamDecoder::new(1 << 20);
        assert_eq!(dec.push(&small).unwrap().unwrap(), br#"{"op":10}"#);
    }

    #[test]
    fn only_an_encoder_idle_since_the_last_call_lets_its_compressor_go() {
        let mut enc = ZlibStreamEncoder::new();
        let mut dec = ZlibStreamDecoder::new(1 << 20);
        let mut send = |enc: &mut ZlibStreamEncoder, m: &[u8]| {
            let frame = enc.encode(m).unwrap();
            assert_eq!(dec.push(&frame).unwrap().as_deref(), Some(m));
            frame
        };
        let ack = br#"{"op":11,"d":null,"s":null,"t":null}"#;
        assert!(enc.release_if_idle(), "nothing made yet");
        send(&mut enc, &json_like(2000, 1));
        assert!(!enc.release_if_idle(), "busy since the last call");
        // Small messages are not activity; while it is held the compressor
        // compresses them.
        let held = send(&mut enc, ack);
        assert_ne!(held[0], 0);
        assert!(enc.release_if_idle());
        let stored = send(&mut enc, ack);
        assert_eq!(
            &stored[..5],
            &[0, ack.len() as u8, 0, !(ack.len() as u8), 0xff]
        );
        assert_eq!(&stored[5..5 + ack.len()], ack);
        assert_eq!(stored.len(), 5 + ack.len() + 5);
        // A large message makes a new compressor, which compresses.
        let message = json_like(2000, 2);
        let frame = send(&mut enc, &message);
        assert!(frame.len() * 4 < message.len(), "{}", frame.len());
        assert!(!enc.release_if_idle());
    }

    proptest::proptest! {
        /// Any interleaving of messages (stored, compressed, of any size)
        /// and releases is one zlib stream: each frame decodes to its
        /// message, and the frames together are a valid zlib stream that
        /// a fresh inflater reads as all the messages in order.
        #[test]
        fn releases_anywhere_keep_one_valid_stream(
            steps in proptest::collection::vec((0usize..3000, proptest::bool::ANY), 1..40)
        ) {
            let mut enc = ZlibStreamEncoder::new();
            let mut dec = ZlibStreamDecoder::new(1 << 20);
            let mut stream = Vec::new();
            let mut sent = Vec::new();
            for (n, (len, release)) in steps.into_iter().enumerate() {
                if release {
                    enc.release_if_idle();
                }
                let message = json_like(len, n);
                let frame = enc.encode(&message).unwrap();
                proptest::prop_assert!(frame.ends_with(&ZLIB_SUFFIX));
                proptest::prop_assert_eq!(dec.push(&frame).unwrap(), Some(message.clone()));
                stream.extend_from_slice(&frame);
                sent.extend_from_slice(&message);
            }
            let mut whole = Vec::with_capacity(sent.len() + 64);
            let mut inflate = Decompress::new(true);
            inflate
                .decompress_vec(&stream, &mut whole, FlushDecompress::Sync)
                .unwrap();
            proptest::prop_assert_eq!(inflate.total_in(), stream.len() as u64);
            proptest::prop_assert_eq!(whole, sent);
        }
    }

    #[test]
    fn large_message_round_trips() {
        let mut enc = ZlibStreamEncoder::new();
        let mut dec = ZlibStreamDecoder::new(8 << 20);
        let msg: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let frame = enc.encode(&msg).unwrap();
        assert_eq!(dec.push(&frame).unwrap().as_deref(), Some(&msg[..]));
    }

    #[test]
    fn decompression_bomb_is_refused() {
        let mut enc = ZlibStreamEncoder::new();
        let mut dec = ZlibStreamDecoder::new(4096);
        let frame = enc.encode(&vec![b'a'; 1 << 20]).unwrap();
        assert!(frame.len() < 4096);
        assert!(matches!(
            dec.push(&frame),
            Err(ProtoError::TooLarge { limit: 4096 })
        ));
    }
}
