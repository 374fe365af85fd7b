//! What a client sends, framed (RFC 6455, section 5), with no I/O: bytes go
//! in, whole messages come out. tungstenite parses each frame's header; this
//! module checks the rules a server must enforce (client frames masked, no
//! extension bits, control frames short and whole, continuation frames only
//! inside a fragmented message, text is UTF-8, the size limit) and joins
//! fragments.
//!
//! It keeps no buffer between messages: an idle connection holds nothing
//! here, and bytes that do not yet form a whole frame are kept only until
//! the rest arrives.

use std::io::Cursor;

use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// A whole message from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// A text message (valid UTF-8).
    Text(Vec<u8>),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping, with its payload (to be echoed in a pong).
    Ping(Vec<u8>),
    /// A pong (nothing to do).
    Pong,
    /// A close frame, with its status code if it had one.
    Close(Option<u16>),
}

/// Why the client's bytes are not an acceptable WebSocket stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The framing breaks RFC 6455.
    Protocol(&'static str),
    /// A message is larger than the limit.
    TooLarge(usize),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Protocol(what) => write!(f, "WebSocket protocol error: {what}"),
            ReadError::TooLarge(max) => write!(f, "message larger than {max} bytes"),
        }
    }
}

/// Reassembles messages from the bytes a client sends.
#[derive(Debug)]
pub(crate) struct Reader {
    /// Received bytes not yet consumed; unallocated between frames.
    buf: Vec<u8>,
    /// The payload so far of a fragmented message; unallocated otherwise.
    fragments: Vec<u8>,
    /// The type of the fragmented message under way (`Some(true)`: text).
    fragmented: Option<bool>,
    /// The largest message accepted, in bytes.
    max_message: u32,
}

/// The largest payload of a control frame (RFC 6455, section 5.5).
const MAX_CONTROL: u64 = 125;

impl Reader {
    /// A reader that refuses messages over `max_message` bytes.
    pub(crate) fn new(max_message: usize) -> Self {
        Reader {
            buf: Vec::new(),
            fragments: Vec::new(),
            fragmented: None,
            max_message: u32::try_from(max_message).unwrap_or(u32::MAX),
        }
    }

    /// Adds bytes read from the connection.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, `None` until more bytes are needed.
    pub(crate) fn next(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            let Some((header, len, start)) = self.header()? else {
                return Ok(None);
            };
            let end = start + len;
            if self.buf.len() < end {
                return Ok(None);
            }
            let mut payload = self.buf[start..end].to_vec();
            self.consume(end);
            if let Some(mask) = header.mask {
                unmask(&mut payload, mask);
            }
            if let Some(message) = self.frame(&header, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// Parses and checks the next frame's header: the header, the payload
    /// length and where the payload starts.
    fn header(&self) -> Result<Option<(FrameHeader, usize, usize)>, ReadError> {
        let mut cursor = Cursor::new(&self.buf[..]);
        let (header, len) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(None),
            Err(_) => return Err(ReadError::Protocol("reserved opcode")),
        };
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(ReadError::Protocol("reserved bits set (no extension)"));
        }
        if header.mask.is_none() {
            return Err(ReadError::Protocol("client frames must be masked"));
        }
        match header.opcode {
            OpCode::Control(_) => {
                if !header.is_final || len > MAX_CONTROL {
                    return Err(ReadError::Protocol("control frame fragmented or too long"));
                }
            }
            OpCode::Data(data) => {
                let continuing = data == Data::Continue;
                if continuing != self.fragmented.is_some() {
                    return Err(ReadError::Protocol(if continuing {
                        "continuation frame outside a fragmented message"
                    } else {
                        "new message inside a fragmented message"
                    }));
                }
                let total = len.saturating_add(self.fragments.len() as u64);
                if total > u64::from(self.max_message) {
                    return Err(ReadError::TooLarge(self.max_message as usize));
                }
            }
        }
        // Fits in memory: control frames are short, data frames under the
        // limit.
        let len = len as usize;
        Ok(Some((header, len, cursor.position() as usize)))
    }

    /// Drops the first `n` received bytes; frees the buffer once empty.
    fn consume(&mut self, n: usize) {
        if n == self.buf.len() {
            self.buf = Vec::new();
        } else {
            self.buf.drain(..n);
        }
    }

    /// Handles one unmasked frame; `Some` when it completes a message.
    fn frame(
        &mut self,
        header: &FrameHeader,
        payload: Vec<u8>,
    ) -> Result<Option<Incoming>, ReadError> {
        let text = match header.opcode {
            OpCode::Control(Control::Ping) => return Ok(Some(Incoming::Ping(payload))),
            OpCode::Control(Control::Pong) => return Ok(Some(Incoming::Pong)),
            OpCode::Control(_) => return close(&payload).map(Some),
            OpCode::Data(Data::Text) => true,
            OpCode::Data(Data::Binary) => false,
            OpCode::Data(_) => {
                // A continuation (checked in `header`).
                self.fragments.extend_from_slice(&payload);
                if !header.is_final {
                    return Ok(None);
                }
                let text = self.fragmented.take().unwrap_or(false);
                return message(text, std::mem::take(&mut self.fragments)).map(Some);
            }
        };
        if header.is_final {
            return message(text, payload).map(Some);
        }
        self.fragmented = Some(text);
        self.fragments = payload;
        Ok(None)
    }
}

/// A whole data message; text must be UTF-8.
fn message(text: bool, payload: Vec<u8>) -> Result<Incoming, ReadError> {
    if !text {
        return Ok(Incoming::Binary(payload));
    }
    if std::str::from_utf8(&payload).is_err() {
        return Err(ReadError::Protocol("text message is not UTF-8"));
    }
    Ok(Incoming::Text(payload))
}

/// A close frame's payload: nothing, or a status code and a UTF-8 reason.
fn close(payload: &[u8]) -> Result<Incoming, ReadError> {
    match payload {
        [] => Ok(Incoming::Close(None)),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            // Codes a peer may send (RFC 6455 section 7.4 and the IANA
            // registry; 1004-1006 and 1015 are never sent).
            let allowed = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !allowed || std::str::from_utf8(reason).is_err() {
                return Err(ReadError::Protocol("invalid close frame"));
            }
            Ok(Incoming::Close(Some(code)))
        }
        [_] => Err(ReadError::Protocol("invalid close frame")),
    }
}

/// Undoes the client's masking (XOR with the key, byte by byte in turn).
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// A client frame: FIN bit, opcode, masked payload.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        let len = payload.len();
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= 0xffff {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        out
    }

    fn read_all(reader: &mut Reader, bytes: &[u8]) -> Result<Vec<Incoming>, ReadError> {
        reader.feed(bytes);
        let mut out = Vec::new();
        while let Some(m) = reader.next()? {
            out.push(m);
        }
        Ok(out)
    }

    #[test]
    fn a_masked_text_frame_is_unmasked() {
        let mut r = Reader::new(4096);
        let got = read_all(&mut r, &frame(true, 1, br#"{"op":1,"d":null}"#)).unwrap();
        assert_eq!(got, [Incoming::Text(br#"{"op":1,"d":null}"#.to_vec())]);
        assert_eq!(r.buf.capacity(), 0, "nothing kept between messages");
    }

    #[test]
    fn frames_split_at_every_byte_come_out_whole() {
        let payload: Vec<u8> = (0..300u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut bytes = frame(true, 1, &payload);
        bytes.extend(frame(true, 2, b"bin"));
        let mut r = Reader::new(4096);
        let mut got = Vec::new();
        for byte in &bytes {
            got.extend(read_all(&mut r, std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(
            got,
            [Incoming::Text(payload), Incoming::Binary(b"bin".to_vec())]
        );
    }

    #[test]
    fn fragments_join_with_control_frames_between_them() {
        let mut bytes = frame(false, 1, b"{\"op\":");
        bytes.extend(frame(true, 9, b"ping"));
        bytes.extend(frame(false, 0, b"1,\"d\""));
        bytes.extend(frame(true, 0, b":7}"));
        let got = read_all(&mut Reader::new(4096), &bytes).unwrap();
        assert_eq!(
            got,
            [
                Incoming::Ping(b"ping".to_vec()),
                Incoming::Text(br#"{"op":1,"d":7}"#.to_vec())
            ]
        );
    }

    #[test]
    fn close_frames_carry_their_code() {
        let mut bytes = frame(true, 8, &[0x03, 0xe8, b'o', b'k']);
        bytes.extend(frame(true, 8, &[]));
        let got = read_all(&mut Reader::new(4096), &bytes).unwrap();
        assert_eq!(got, [Incoming::Close(Some(1000)), Incoming::Close(None)]);
    }

    #[test]
    fn broken_framing_is_refused() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                {
                    let mut f = frame(true, 1, b"x");
                    f[1] &= 0x7f;
                    f.truncate(2);
                    f.push(b'x');
                    f
                },
                "unmasked",
            ),
            (
                {
                    let mut f = frame(true, 1, b"x");
                    f[0] |= 0x40;
                    f
                },
                "rsv1",
            ),
            (frame(true, 3, b"x"), "reserved data opcode"),
            (frame(true, 0xb, b"x"), "reserved control opcode"),
            (frame(true, 0, b"x"), "continuation first"),
            (
                [frame(false, 1, b"a"), frame(true, 1, b"b")].concat(),
                "new message while fragmented",
            ),
            (frame(false, 9, b"p"), "fragmented ping"),
            (frame(true, 9, &[0; 126]), "long ping"),
            (frame(true, 1, &[0xff, 0xfe]), "text not UTF-8"),
            (frame(true, 8, &[3]), "one-byte close"),
            (frame(true, 8, &[0x03, 0xed]), "close code 1005"),
            (
                frame(true, 8, &[0x03, 0xe8, 0xff]),
                "close reason not UTF-8",
            ),
        ];
        for (bytes, case) in cases {
            let got = read_all(&mut Reader::new(4096), &bytes);
            assert!(
                matches!(got, Err(ReadError::Protocol(_))),
                "{case}: {got:?}"
            );
        }
    }

    #[test]
    fn oversized_messages_are_refused_from_the_header() {
        let mut r = Reader::new(1000);
        let whole = frame(true, 1, &[b'a'; 1001]);
        // The header alone is enough to refuse it.
        assert_eq!(
            read_all(&mut r, &whole[..8]),
            Err(ReadError::TooLarge(1000))
        );
        let mut r = Reader::new(1000);
        let fragments = [frame(false, 1, &[b'a'; 600]), frame(true, 0, &[b'a'; 600])].concat();
        assert_eq!(read_all(&mut r, &fragments), Err(ReadError::TooLarge(1000)));
        let mut r = Reader::new(1000);
        assert_eq!(
            read_all(&mut r, &frame(true, 1, &[b'a'; 1000])).unwrap(),
            [Incoming::Text(vec![b'a'; 1000])]
        );
    }

    /// Generated streams: any mix of frames, valid or not, and valid
    /// conversations.
    mod generated {
        use proptest::prelude::*;

        use super::*;

        /// A frame with any header bits: FIN, RSV1, opcode, masked or not.
        fn any_frame() -> impl Strategy<Value = Vec<u8>> {
            (
                any::<bool>(),
                prop::sample::select(vec![0u8, 1, 2, 3, 8, 9, 10, 0xb]),
                prop::bool::weighted(0.9),
                prop::bool::weighted(0.05),
                prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..200),
                    "[a-z\u{e9}\u{1f600}]{0,60}".prop_map(String::into_bytes),
                    (1000u16..1016, "[a-z]{0,5}").prop_map(|(code, reason)| {
                        [code.to_be_bytes().to_vec(), reason.into_bytes()].concat()
                    }),
                ],
            )
                .prop_map(|(fin, opcode, masked, rsv1, payload)| {
                    let mut f = frame(fin, opcode, &payload);
                    if rsv1 {
                        f[0] |= 0x40;
                    }
                    if !masked {
                        // Drop the mask bit and key, and unmask the payload.
                        let key_at = f.len() - payload.len() - 4;
                        f[1] &= 0x7f;
                        f.drain(key_at..key_at + 4);
                        let body = f.len() - payload.len();
                        f[body..].copy_from_slice(&payload);
                    }
                    f
                })
        }

        /// Cut points that split `len` bytes into feeds.
        fn cuts() -> impl Strategy<Value = Vec<usize>> {
            prop::collection::vec(1usize..64, 0..40)
        }

        /// Feeds `bytes` in pieces of the sizes in `cuts` (the rest at
        /// once), taking every message after each piece; stops at the
        /// first error.
        fn outcome(max: usize, bytes: &[u8], cuts: &[usize]) -> (Vec<Incoming>, Option<ReadError>) {
            let mut reader = Reader::new(max);
            let mut got = Vec::new();
            let mut rest = bytes;
            let mut sizes = cuts.iter().copied();
            while !rest.is_empty() {
                let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
                reader.feed(&rest[..n]);
                rest = &rest[n..];
                loop {
                    match reader.next() {
                        Ok(Some(m)) => got.push(m),
                        Ok(None) => break,
                        Err(e) => return (got, Some(e)),
                    }
                }
            }
            (got, None)
        }

        proptest! {
            /// Whatever a client sends, and however the bytes arrive, the
            /// reader gives the same messages and the same error as when
            /// they arrive at once, and never panics.
            #[test]
            fn any_stream_reads_the_same_however_it_is_cut(
                frames in prop::collection::vec(any_frame(), 0..12),
                cuts in cuts(),
                max in prop::sample::select(vec![16usize, 150, 4096]),
            ) {
                let bytes = frames.concat();
                let whole = outcome(max, &bytes, &[]);
                let cut = outcome(max, &bytes, &cuts);
                prop_assert_eq!(whole, cut);
            }

            /// A valid conversation (messages, some fragmented, with pings
            /// between the fragments) comes out as exactly its messages.
            #[test]
            fn valid_conversations_come_out_whole(
                messages in prop::collection::vec(
                    (
                        any::<bool>(),
                        "[ -~\u{e9}\u{1f600}]{0,300}",
                        prop::collection::vec(1usize..80, 0..4),
                    ),
                    0..8,
                ),
                cuts in cuts(),
            ) {
                let mut bytes = Vec::new();
                let mut expected = Vec::new();
                for (text, body, pieces) in &messages {
                    let body = body.as_bytes();
                    let opcode = if *text { 1 } else { 2 };
                    // Split the body at the piece sizes; a ping after each
                    // fragment but the last.
                    let mut at = 0;
                    let mut first = true;
                    for size in pieces {
                        if at + size >= body.len() {
                            break;
                        }
                        bytes.extend(frame(false, if first { opcode } else { 0 }, &body[at..at + size]));
                        bytes.extend(frame(true, 9, b"p"));
                        expected.push(Incoming::Ping(b"p".to_vec()));
                        at += size;
                        first = false;
                    }
                    bytes.extend(frame(true, if first { opcode } else { 0 }, &body[at..]));
                    expected.push(if *text {
                        Incoming::Text(body.to_vec())
                    } else {
                        Incoming::Binary(body.to_vec())
                    });
                }
                let (got, error) = outcome(4096, &bytes, &cuts);
                prop_assert_eq!(error, None);
                prop_assert_eq!(got, expected);
            }
        }
    }
}
