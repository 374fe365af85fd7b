//! The `zstd-stream` codec.

use zstd::stream::raw::{
    Decoder as RawDecoder, Encoder as RawEncoder, InBuffer, Operation, OutBuffer,
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

impl ZstdStreamEncoder {
    /// A fresh stream at zstd's default level.
    pub fn new() -> Result<Self, ProtoError> {
        Ok(ZstdStreamEncoder {
            inner: RawEncoder::new(zstd::DEFAULT_COMPRESSION_LEVEL).map_err(zstd_err)?,
        })
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
        })
    }

    /// Decompresses one frame (one flushed message).
    pub fn push(&mut self, frame: &[u8]) -> Result<Vec<u8>, ProtoError> {
        let mut out = vec![0u8; (frame.len() * 4).clamp(256, self.max_message.max(1))];
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
