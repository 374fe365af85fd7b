//! The `zlib-stream` codec.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::ZLIB_SUFFIX;
use crate::ProtoError;

/// Compresses messages onto one zlib stream, ending each with a sync flush.
#[derive(Debug)]
pub struct ZlibStreamEncoder {
    inner: Compress,
}

impl Default for ZlibStreamEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ZlibStreamEncoder {
    /// A fresh stream (the first message carries the zlib header).
    pub fn new() -> Self {
        ZlibStreamEncoder {
            inner: Compress::new(Compression::default(), true),
        }
    }

    /// Compresses one message; the result ends with `00 00 ff ff`.
    pub fn encode(&mut self, message: &[u8]) -> Result<Vec<u8>, ProtoError> {
        let mut out = Vec::with_capacity(message.len() / 2 + 64);
        let mut input = message;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let before_in = self.inner.total_in();
            self.inner
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| ProtoError::Compression(e.to_string()))?;
            let consumed =
                usize::try_from(self.inner.total_in() - before_in).unwrap_or(input.len());
            input = &input[consumed..];
            // Done when all input is in and the flush fit in the buffer.
            if input.is_empty() && out.len() < out.capacity() && out.ends_with(&ZLIB_SUFFIX) {
                return Ok(out);
            }
        }
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
