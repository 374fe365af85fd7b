//! The `zlib-stream` codec.

use flate2::{Decompress, FlushDecompress, Status};
use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, create_comp_flags_from_zip_params,
};
use miniz_oxide::deflate::stream::deflate;
use miniz_oxide::{MZError, MZFlush};

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
/// Every recipient of an event compresses it on its own stream, so the
/// compressor is chosen for the fanout's cost (miniz_oxide, which flate2
/// uses as its backend, driven directly for its choice of strategy): the
/// fastest level and deflate's fixed Huffman codes. Building Huffman tables
/// for each flushed block was most of the cost of a small message
/// (14.4 against 1.2 µs for a 451-byte MESSAGE_CREATE), and for messages
/// this small the tables cost more bytes than they save (49 against 45
/// bytes out). A message over 4 KiB (READY, GUILD_CREATE) is compressed
/// with tables of its own at the default level, by a compressor made for
/// it, and the next message starts a fresh window.
///
/// [`release_if_idle`]: ZlibStreamEncoder::release_if_idle
pub struct ZlibStreamEncoder {
    /// `None` before the first compressed message and while released.
    inner: Option<Box<CompressorOxide>>,
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

/// Messages over this many bytes (READY, GUILD_CREATE, member chunks) are
/// compressed with tables of their own at the default level, by a
/// compressor made for them; see [`ZlibStreamEncoder`].
const LARGE: usize = 4096;

/// A zlib header: deflate with a 32 KiB window, the fastest level (what
/// the fanout's compressor writes), and its check bits (`0x7801` is a
/// multiple of 31).
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];

/// A compressor that carries on the stream: with the zlib header for the
/// stream's first message, raw deflate after it. Events (`large` false)
/// get the fastest level and the fixed Huffman codes of the deflate
/// format; a large message gets the default level and tables built for it.
fn compressor(large: bool, header: bool) -> Box<CompressorOxide> {
    let (level, strategy) = if large {
        (6, CompressionStrategy::Default)
    } else {
        (1, CompressionStrategy::Fixed)
    };
    let window_bits = if header { 15 } else { -15 };
    Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
        level,
        window_bits,
        strategy as i32,
    )))
}

/// Compresses `message` with `compressor` and a sync flush.
fn compress(compressor: &mut CompressorOxide, message: &[u8]) -> Result<Vec<u8>, ProtoError> {
    let mut out = Vec::with_capacity(message.len() / 2 + 64);
    let mut input = message;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        let start = out.len();
        out.resize(out.capacity(), 0);
        let room = out.len() - start;
        let step = deflate(compressor, input, &mut out[start..], MZFlush::Sync);
        out.truncate(start + step.bytes_written);
        input = &input[step.bytes_consumed..];
        match step.status {
            // `Buf`: no progress possible with this room; go round with more.
            Ok(_) | Err(MZError::Buf) => {}
            Err(e) => return Err(ProtoError::Compression(format!("deflate: {e:?}"))),
        }
        // Done when all input is in and the flush fit in the room.
        if input.is_empty() && step.bytes_written < room && out.ends_with(&ZLIB_SUFFIX) {
            return Ok(out);
        }
        if step.bytes_consumed == 0 && step.bytes_written == 0 && step.status.is_err() {
            return Err(ProtoError::Compression("deflate made no progress".into()));
        }
    }
}

impl std::fmt::Debug for ZlibStreamEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZlibStreamEncoder")
            .field("compressor", &self.inner.is_some())
            .field("started", &self.started)
            .field("busy", &self.busy)
            .finish()
    }
}

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
        let header = !self.started;
        self.started = true;
        if message.len() > LARGE {
            // A compressor of its own; the next message starts a fresh
            // window, since this one's compressor never saw the message.
            self.inner = None;
            return compress(&mut compressor(true, header), message);
        }
        let inner = self.inner.get_or_insert_with(|| compressor(false, header));
        compress(inner, message)
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
    /// The frames so far of a message sent in several (most come in one,
    /// and are read where they are).
    pending: Vec<u8>,
    max_message: usize,
    /// The last message's length: the next one's first guess, so that a
    /// typical message is inflated in one call into one allocation.
    last_len: usize,
}

impl ZlibStreamDecoder {
    /// A fresh stream that refuses messages over `max_message` bytes
    /// (compressed or decompressed).
    pub fn new(max_message: usize) -> Self {
        ZlibStreamDecoder {
            inner: Decompress::new(true),
            pending: Vec::new(),
            max_message,
            last_len: 0,
        }
    }

    /// Feeds one frame. Returns the message once its last frame (ending in
    /// `00 00 ff ff`) arrived, `None` while more frames are needed.
    pub fn push(&mut self, frame: &[u8]) -> Result<Option<Vec<u8>>, ProtoError> {
        if self.pending.len() + frame.len() > self.max_message {
            self.pending = Vec::new();
            return Err(ProtoError::TooLarge {
                limit: self.max_message,
            });
        }
        if self.pending.is_empty() && frame.ends_with(&ZLIB_SUFFIX) {
            return self.inflate(frame).map(Some);
        }
        self.pending.extend_from_slice(frame);
        if !self.pending.ends_with(&ZLIB_SUFFIX) {
            return Ok(None);
        }
        let compressed = std::mem::take(&mut self.pending);
        self.inflate(&compressed).map(Some)
    }

    /// Inflates one whole message.
    fn inflate(&mut self, compressed: &[u8]) -> Result<Vec<u8>, ProtoError> {
        let guess = super::output_guess(self.last_len, compressed.len());
        let mut out = Vec::with_capacity(guess.min(self.max_message).max(64));
        let mut input = compressed;
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
            let done = match status {
                Status::StreamEnd => true,
                _ if input.is_empty() && out.len() < out.capacity() => true,
                // The output filled exactly as the input ran out, and the
                // call with room to spare had nothing more to give.
                _ if input.is_empty() && stalled => true,
                _ if stalled && out.len() < out.capacity() => {
                    return Err(ProtoError::Compression(
                        "zlib stream made no progress".to_owned(),
                    ));
                }
                _ => false,
            };
            if done {
                self.last_len = out.len();
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message that fills the decoder's first guess exactly (the last
    /// message's length and a quarter) comes back whole, not as an error.
    #[test]
    fn a_message_that_fills_the_first_guess_exactly_is_read() {
        let mut enc = ZlibStreamEncoder::new();
        let mut dec = ZlibStreamDecoder::new(1 << 20);
        let first = vec![b'a'; 400];
        let second = vec![b'b'; 500];
        for msg in [&first, &second, &first] {
            let frame = enc.encode(msg).unwrap();
            assert!(frame.len() * 4 < 500, "the guess is the last length's");
            assert_eq!(dec.push(&frame).unwrap().as_deref(), Some(&msg[..]));
        }
    }

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
        assert_eq!(
            &big[..2],
            &ZLIB_HEADER,
            "the compressor's own header, the same"
        );
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

    /// A deflate block's type is in bits 1-2 of its first byte (each of
    /// these frames starts a block at a byte boundary, after the header
    /// on the first): 01 fixed codes, 10 tables of its own.
    fn block_type(frame: &[u8]) -> u8 {
        (frame[0] >> 1) & 3
    }

    #[test]
    fn events_use_fixed_codes_and_large_messages_tables_of_their_own() {
        let mut enc = ZlibStreamEncoder::new();
        let mut dec = ZlibStreamDecoder::new(1 << 20);
        let mut send = |m: &[u8]| {
            let frame = enc.encode(m).unwrap();
            assert_eq!(dec.push(&frame).unwrap().as_deref(), Some(m));
            frame
        };
        let first = send(&json_like(450, 0));
        assert_eq!(&first[..2], &ZLIB_HEADER);
        assert_eq!(block_type(&first[2..]), 1);
        let event = send(&json_like(450, 1));
        assert_eq!(block_type(&event), 1, "fixed codes");
        assert!(event.len() < 60, "{} bytes", event.len());
        let large = json_like(LARGE + 1, 2);
        let frame = send(&large);
        assert_eq!(block_type(&frame), 2, "tables of its own");
        assert!(frame.len() * 10 < large.len(), "{} bytes", frame.len());
        // The next event starts a fresh window with fixed codes again.
        let after = send(&json_like(450, 3));
        assert_eq!(block_type(&after), 1);
    }

    proptest::proptest! {
        /// Any interleaving of messages (stored, compressed, of any size)
        /// and releases is one zlib stream: each frame decodes to its
        /// message, and the frames together are a valid zlib stream that
        /// a fresh inflater reads as all the messages in order.
        #[test]
        fn releases_anywhere_keep_one_valid_stream(
            steps in proptest::collection::vec((0usize..6000, proptest::bool::ANY), 1..40)
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
