//! Frames the server sends (RFC 6455, section 5.2). A server's frames are
//! not masked, so a frame is a header of 2 to 10 bytes and the payload:
//! data frames are written from their own buffers (no copy into a write
//! buffer that would keep the capacity of the largest frame a session ever
//! sent), and control frames are small enough to encode whole.

use std::cell::Cell;
use std::io::IoSlice;
use std::sync::Arc;

use crate::frame::{DISPATCH_HEAD, SEQ_KEY, SeqDigits};
use crate::hub::Prepared;

/// A data frame waiting to be written: text or binary, and its payload.
/// `'a`: how long a borrowed dispatch's event lives (a writer's frames
/// borrow the events of the chunk it writes; a session's task's own frames
/// own theirs and are `OutFrame<'static>`).
pub(crate) struct OutFrame<'a> {
    binary: bool,
    payload: Payload<'a>,
}

enum Payload<'a> {
    Owned(Vec<u8>),
    /// A dispatch: [`DISPATCH_HEAD`], then the event's data (shared with
    /// other connections and written from the one copy), then the tail
    /// with `seq` and the event's name. The tail is written straight into
    /// the batch's glue (see [`Layout`]), never built on its own.
    Dispatch {
        event: Event<'a>,
        seq: u64,
    },
}

/// A dispatch's event: held, or borrowed from a list that outlives the
/// frame (no reference count to raise and drop per frame: every recipient
/// shares the event's counter, and the two locked operations per frame
/// were a visible share of the writing core).
enum Event<'a> {
    Held(Arc<Prepared>),
    Borrowed(&'a Prepared),
}

impl std::ops::Deref for Event<'_> {
    type Target = Prepared;

    fn deref(&self) -> &Prepared {
        match self {
            Event::Held(event) => event,
            Event::Borrowed(event) => event,
        }
    }
}

impl OutFrame<'static> {
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

    /// The text frame of `event`'s dispatch numbered `seq`. The event is
    /// a concrete type, not a trait object: its text is found without a
    /// call through a table, three times per frame.
    pub(crate) fn dispatch(event: Arc<Prepared>, seq: u64) -> Self {
        OutFrame {
            binary: false,
            payload: Payload::Dispatch {
                event: Event::Held(event),
                seq,
            },
        }
    }
}

impl<'a> OutFrame<'a> {
    /// [`dispatch`](OutFrame::dispatch) with the event borrowed for the
    /// frame's life.
    pub(crate) fn dispatch_borrowed(event: &'a Prepared, seq: u64) -> Self {
        OutFrame {
            binary: false,
            payload: Payload::Dispatch {
                event: Event::Borrowed(event),
                seq,
            },
        }
    }

    /// Appends to `glue` what is written before the frame's middle (its
    /// header, and a dispatch's head), then what is written after it (a
    /// dispatch's tail). Returns where the suffix starts in `glue` and the
    /// middle's length. Every piece of a dispatch's glue is appended with
    /// copies of fixed sizes (see [`NameTail`](crate::frame::NameTail));
    /// `digits` holds the last sequence number laid out, and raises it in
    /// place for the next.
    fn lay_out(&self, glue: &mut Vec<u8>, digits: &mut SeqDigits) -> (usize, usize) {
        match &self.payload {
            Payload::Owned(bytes) => {
                push_header(glue, self.binary, bytes.len());
                (glue.len(), bytes.len())
            }
            Payload::Dispatch { event, seq } => {
                let middle = event.data_len();
                let tail = event.tail();
                let len = DISPATCH_HEAD.len() + middle + SEQ_KEY.len() + digits.set(*seq);
                push_header(glue, self.binary, len + tail.len());
                glue.extend_from_slice(DISPATCH_HEAD.as_bytes());
                let suffix = glue.len();
                glue.extend_from_slice(SEQ_KEY.as_bytes());
                digits.push_to(glue);
                tail.push_to(glue, event.name());
                (suffix, middle)
            }
        }
    }

    /// The frame's middle: an owned payload whole, or the event's data.
    fn middle(&self) -> &[u8] {
        match &self.payload {
            Payload::Owned(bytes) => bytes,
            Payload::Dispatch { event, .. } => event.data_bytes(),
        }
    }
}

/// A batch of frames laid out for vectored writes. What each frame has
/// around its middle (the header and head before it, the tail after it) is
/// copied into one buffer in write order, so that a frame's tail and the
/// next frame's header and head are one slice: a frame costs two slices
/// instead of four. The kernel's copy from a list of slices pays per slice:
/// the `loopback_floor` bench, its frames cut the same ways, at 12 frames
/// per write, spent 0.62-0.69 µs per delivery with two slices per frame and
/// 0.69-0.76 µs with four (three alternating runs each).
pub(super) struct Layout<'a> {
    frames: &'a [OutFrame<'a>],
    glue: Vec<u8>,
    /// For each frame: where its prefix starts in `glue`, where its
    /// suffix starts (its prefix ends), and its middle's length.
    marks: Vec<(usize, usize, usize)>,
}

/// A layout's buffers: its glue, and each frame's marks in it.
type Buffers = (Vec<u8>, Vec<(usize, usize, usize)>);

thread_local! {
    /// The buffers of this thread's last finished layout, for its next
    /// one. A batch's glue is a few KiB, past the allocator's fast sizes:
    /// at 1 M deliveries/s, allocating and freeing it and its marks per
    /// write was a visible share of the writing core.
    static SPARE: Cell<Option<Buffers>> = const { Cell::new(None) };
}

/// The largest glue a finished layout leaves to the next (a 64-frame
/// batch needs about 4 KiB): one odd batch does not pin a large buffer.
const SPARE_GLUE: usize = 16 * 1024;

impl<'a> Layout<'a> {
    /// Lays out `frames`.
    pub(super) fn new(frames: &'a [OutFrame<'a>]) -> Self {
        let (mut glue, mut marks) = SPARE.take().unwrap_or_default();
        glue.clear();
        marks.clear();
        glue.reserve(frames.len() * 64);
        marks.reserve(frames.len());
        let mut digits = SeqDigits::new();
        for frame in frames {
            let prefix = glue.len();
            let (suffix, middle) = frame.lay_out(&mut glue, &mut digits);
            marks.push((prefix, suffix, middle));
        }
        Layout {
            frames,
            glue,
            marks,
        }
    }

    /// How many frames are laid out.
    pub(super) fn len(&self) -> usize {
        self.frames.len()
    }

    /// Where frame `i`'s suffix ends in `glue`.
    fn suffix_end(&self, i: usize) -> usize {
        self.marks.get(i + 1).map_or(self.glue.len(), |m| m.0)
    }

    /// Bytes frame `i` puts on the wire.
    pub(super) fn wire_len(&self, i: usize) -> usize {
        self.suffix_end(i) - self.marks[i].0 + self.marks[i].2
    }

    /// Hands the slices of frames `range` to `push`, at most
    /// `2 * range.len() + 1` of them; empty ones are left out. (A push
    /// each: `Extend` with one item at a time was 1.9% of the writing
    /// core's samples at 1 M deliveries/s, through `SmallVec`'s extend.)
    pub(super) fn push_slices<'s>(
        &'s self,
        range: std::ops::Range<usize>,
        mut push_slice: impl FnMut(IoSlice<'s>),
    ) {
        let mut push = |bytes: &'s [u8]| {
            if !bytes.is_empty() {
                push_slice(IoSlice::new(bytes));
            }
        };
        if range.is_empty() {
            return;
        }
        let first = self.marks[range.start];
        push(&self.glue[first.0..first.1]);
        for i in range.clone() {
            push(self.frames[i].middle());
            // This frame's suffix, and the next one's prefix if it is in
            // the range: adjacent in the buffer.
            let end = if i + 1 < range.end {
                self.marks[i + 1].1
            } else {
                self.suffix_end(i)
            };
            push(&self.glue[self.marks[i].1..end]);
        }
    }
}

impl Drop for Layout<'_> {
    fn drop(&mut self) {
        if self.glue.capacity() <= SPARE_GLUE {
            let glue = std::mem::take(&mut self.glue);
            let marks = std::mem::take(&mut self.marks);
            SPARE.set(Some((glue, marks)));
        }
    }
}

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

/// Appends the header of a data frame, with a copy of a fixed size for
/// each of the three header lengths (see [`lay_out`](OutFrame::lay_out)).
fn push_header(out: &mut Vec<u8>, binary: bool, len: usize) {
    let (h, used) = data_header(binary, len);
    match used {
        2 => out.extend_from_slice(&h[..2]),
        4 => out.extend_from_slice(&h[..4]),
        _ => out.extend_from_slice(&h),
    }
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

    /// The payloads of the frames in `bytes`, read back with tungstenite.
    fn payloads(mut bytes: &[u8]) -> Vec<(bool, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (parsed, len, start) = parse(bytes);
            let end = start + usize::try_from(len).unwrap();
            let binary = parsed.opcode == OpCode::Data(Data::Binary);
            out.push((binary, bytes[start..end].to_vec()));
            bytes = &bytes[end..];
        }
        out
    }

    #[test]
    fn a_laid_out_batch_writes_each_frame_whole_however_it_is_cut() {
        let xs = "x".repeat(300);
        let long_name = "N".repeat(60);
        let events = [
            ("READY", xs.clone(), 1),
            ("READY", format!("456789{xs}"), 22),
            ("", String::new(), 0),
            ("EA", format!("0123456789{xs}"), u64::MAX),
            // A name whose tail does not fit a `NameTail`'s room.
            (long_name.as_str(), "{}".to_owned(), 99),
            // A frame whose header is 2 bytes long.
            ("SHORT", "{}".to_owned(), 10),
        ];
        let frame = |i: usize| {
            let (name, data, seq) = &events[i];
            OutFrame::dispatch(Arc::new(Prepared::new(i as u64, name, data)), *seq)
        };
        let frames = vec![
            frame(0),
            OutFrame::text("hello".to_owned()),
            frame(1),
            OutFrame::binary(vec![7; 70_000]),
            frame(2),
            OutFrame::text(String::new()),
            frame(3),
            frame(4),
            frame(5),
        ];
        let dispatch = |i: usize| {
            let (name, data, seq) = &events[i];
            (
                false,
                format!(r#"{{"op":0,"d":{data},"s":{seq},"t":"{name}"}}"#).into_bytes(),
            )
        };
        let want: Vec<(bool, Vec<u8>)> = vec![
            dispatch(0),
            (false, b"hello".to_vec()),
            dispatch(1),
            (true, vec![7; 70_000]),
            dispatch(2),
            (false, Vec::new()),
            dispatch(3),
            dispatch(4),
            dispatch(5),
        ];
        let layout = Layout::new(&frames);
        let n = frames.len();
        // Every way of cutting the batch into two writes, and one write
        // per frame.
        let mut cuts: Vec<Vec<std::ops::Range<usize>>> =
            (0..=n).map(|k| vec![0..k, k..n]).collect();
        cuts.push((0..n).map(|i| i..i + 1).collect());
        for ranges in cuts {
            let mut written = Vec::new();
            let mut total = 0;
            for range in ranges {
                let mut slices = Vec::new();
                layout.push_slices(range.clone(), |slice| slices.push(slice));
                assert!(slices.len() <= 2 * range.len() + 1);
                assert!(slices.iter().all(|s| !s.is_empty()));
                total += range.map(|i| layout.wire_len(i)).sum::<usize>();
                for s in &slices {
                    written.extend_from_slice(s);
                }
            }
            assert_eq!(written.len(), total, "wire_len adds up");
            assert_eq!(payloads(&written), want);
        }
    }

    #[test]
    fn a_write_the_socket_cannot_finish_leaves_exactly_the_unwritten_bytes() {
        let frames: Vec<OutFrame<'_>> = (0..40)
            .map(|i| {
                let event = Prepared::new(i as u64, "NAME", &"y".repeat(4_996 - i * 7));
                OutFrame::dispatch(Arc::new(event), i as u64)
            })
            .collect();
        let mut whole = Vec::new();
        let done = super::super::try_write_frames(&frames, |slices| {
            // A socket that takes at most 1,000 bytes per call.
            let mut n = 0;
            for s in slices {
                let take = s.len().min(1_000 - n);
                whole.extend_from_slice(&s[..take]);
                n += take;
            }
            Ok(n)
        })
        .unwrap();
        assert!(done.is_none(), "a socket that never fills takes it all");
        assert_eq!(payloads(&whole).len(), frames.len());
        assert!(whole.len() > 64 * 1024, "more than one write's worth");
        for room in [
            0,
            1,
            2,
            9,
            5_000,
            5_010,
            64 * 1024,
            64 * 1024 + 3,
            whole.len() - 1,
        ] {
            let mut written = Vec::new();
            let rest = super::super::try_write_frames(&frames, |slices| {
                let left = room - written.len();
                if left == 0 {
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                let mut n = 0;
                for s in slices {
                    let take = s.len().min(left - n);
                    written.extend_from_slice(&s[..take]);
                    n += take;
                }
                Ok(n)
            })
            .unwrap()
            .expect("the socket filled up");
            assert_eq!(written.len(), room);
            written.extend_from_slice(&rest);
            assert_eq!(written, whole, "room for {room} bytes");
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
