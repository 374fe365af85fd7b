//! Frames the server sends (RFC 6455, section 5.2). A server's frames are
//! not masked, so a frame is a header of 2 to 10 bytes and the payload:
//! data frames are written from their own buffers (no copy into a write
//! buffer that would keep the capacity of the largest frame a session ever
//! sent), and control frames are small enough to encode whole.

use std::io::IoSlice;
use std::sync::Arc;

use crate::frame::Tail;

/// A data frame waiting to be written: text or binary, and its payload.
pub(crate) struct OutFrame {
    binary: bool,
    payload: Payload,
}

enum Payload {
    Owned(Vec<u8>),
    /// `head`, then `shared[from..]`, then `tail`: text whose middle (an
    /// event's data) is shared with other connections, written from the
    /// one copy.
    Around {
        head: &'static str,
        shared: Arc<dyn AsRef<str> + Send + Sync>,
        from: usize,
        tail: Tail,
    },
}

impl OutFrame {
    /// A text frame.
    pub(crate) fn text(text: String) -> Self {
        OutFrame {
            binary: false,
            payload: Payload::Owned(text.into_bytes()),
        }
    }

    /// A binary frame.
    pub(crate) fn binary(payload: Vec<u8>) -> Self {
        OutFrame {
            binary: true,
            payload: Payload::Owned(payload),
        }
    }

    /// A text frame of `head`, `shared[from..]` and `tail`.
    ///
    /// # Panics
    /// If `from` is not a character boundary of `shared`.
    pub(crate) fn text_around(
        head: &'static str,
        shared: Arc<dyn AsRef<str> + Send + Sync>,
        from: usize,
        tail: Tail,
    ) -> Self {
        assert!(
            (*shared).as_ref().is_char_boundary(from),
            "text_around: not a char boundary"
        );
        OutFrame {
            binary: false,
            payload: Payload::Around {
                head,
                shared,
                from,
                tail,
            },
        }
    }

    /// The payload's length in bytes.
    pub(super) fn len(&self) -> usize {
        match &self.payload {
            Payload::Owned(bytes) => bytes.len(),
            Payload::Around {
                head,
                shared,
                from,
                tail,
            } => head.len() + ((**shared).as_ref().len() - from) + tail.len(),
        }
    }

    /// Pushes the frame's header and payload as slices; returns their
    /// number of bytes.
    pub(super) fn push_slices<'a>(
        &'a self,
        header: &'a ([u8; 10], usize),
        slices: &mut Vec<IoSlice<'a>>,
    ) -> usize {
        slices.push(IoSlice::new(&header.0[..header.1]));
        match &self.payload {
            Payload::Owned(bytes) => slices.push(IoSlice::new(bytes)),
            Payload::Around {
                head,
                shared,
                from,
                tail,
            } => {
                slices.push(IoSlice::new(head.as_bytes()));
                slices.push(IoSlice::new(&(**shared).as_ref().as_bytes()[*from..]));
                slices.push(IoSlice::new(tail));
            }
        }
        header.1 + self.len()
    }

    /// The header this frame is written with.
    pub(super) fn header(&self) -> ([u8; 10], usize) {
        data_header(self.binary, self.len())
    }
}

/// The most slices [`OutFrame::push_slices`] pushes.
pub(super) const MAX_FRAME_SLICES: usize = 4;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PONG: u8 = 0xa;

/// The header of an unmasked, final frame with `opcode` carrying `len`
/// bytes, and how many of the ten bytes it uses.
fn header(opcode: u8, len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = 0x80 | opcode;
    let used = if len < 126 {
        h[1] = len as u8;
        2
    } else if let Ok(len) = u16::try_from(len) {
        h[1] = 126;
        h[2..4].copy_from_slice(&len.to_be_bytes());
        4
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (h, used)
}

/// The header of a data frame.
fn data_header(binary: bool, len: usize) -> ([u8; 10], usize) {
    header(if binary { BINARY } else { TEXT }, len)
}

/// Appends a control frame carrying `payload` (at most 125 bytes).
fn control(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    let (h, used) = header(opcode, payload.len());
    out.extend_from_slice(&h[..used]);
    out.extend_from_slice(payload);
}

/// Appends a pong echoing a ping's payload.
pub(super) fn pong(out: &mut Vec<u8>, payload: &[u8]) {
    control(out, PONG, &payload[..payload.len().min(125)]);
}

/// Appends a close frame; `reason` is cut (at a character boundary) to fit
/// the 123 bytes a close frame leaves it.
pub(super) fn close(out: &mut Vec<u8>, code: Option<u16>, reason: &str) {
    let Some(code) = code else {
        return control(out, CLOSE, &[]);
    };
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = Vec::with_capacity(2 + end);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    control(out, CLOSE, &payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

    fn parse(bytes: &[u8]) -> (FrameHeader, u64, usize) {
        let mut cursor = std::io::Cursor::new(bytes);
        let (parsed, len) = FrameHeader::parse(&mut cursor)
            .expect("valid header")
            .expect("complete header");
        (parsed, len, cursor.position() as usize)
    }

    #[test]
    fn headers_parse_back_at_every_length_encoding() {
        for (binary, len) in [
            (false, 0),
            (false, 125),
            (true, 126),
            (false, 65_535),
            (true, 65_536),
            (false, 1 << 20),
        ] {
            let (h, used) = data_header(binary, len);
            let (parsed, payload_len, read) = parse(&h[..used]);
            assert_eq!(read, used, "{len}: whole header read");
            assert_eq!(payload_len, len as u64);
            assert!(parsed.is_final);
            assert!(parsed.mask.is_none(), "server frames are not masked");
            let want = if binary { Data::Binary } else { Data::Text };
            assert_eq!(parsed.opcode, OpCode::Data(want));
        }
    }

    #[test]
    fn close_frames_carry_the_code_and_a_cut_reason() {
        let mut out = Vec::new();
        close(&mut out, Some(4009), &"é".repeat(100));
        let (parsed, len, start) = parse(&out);
        assert_eq!(parsed.opcode, OpCode::Control(Control::Close));
        assert!(len <= 125, "a control frame's payload fits 125 bytes");
        let payload = &out[start..];
        assert_eq!(payload.len() as u64, len);
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 4009);
        assert!(std::str::from_utf8(&payload[2..]).is_ok(), "cut at a char");

        let mut out = Vec::new();
        pong(&mut out, b"abc");
        let (parsed, len, start) = parse(&out);
        assert_eq!(parsed.opcode, OpCode::Control(Control::Pong));
        assert_eq!((len, &out[start..]), (3, &b"abc"[..]));
    }
}
