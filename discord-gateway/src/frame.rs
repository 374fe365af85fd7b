//! Building outgoing frames cheaply: an event's data is serialized once and
//! shared; each session only writes its own envelope around it.

/// `{"op":0,"d":<data>,"s":<seq>,"t":"<name>"}` around data that is already
/// JSON. `name` is an event name (upper-case ASCII and `_`), which needs no
/// escaping.
pub fn dispatch(name: &str, seq: u64, data: &str) -> String {
    let mut out = String::with_capacity(DISPATCH_HEAD.len() + data.len() + name.len() + 40);
    out.push_str(DISPATCH_HEAD);
    out.push_str(data);
    tail_parts(name, seq, |part| out.push_str(part));
    out
}

/// What a [`dispatch`] frame starts with, before the data.
pub const DISPATCH_HEAD: &str = r#"{"op":0,"d":"#;

/// What a [`dispatch`] frame ends with, after the data: the sequence number
/// and the name. A frame may be written as [`DISPATCH_HEAD`], the data and
/// this, with the data shared by every session that receives it.
pub fn dispatch_tail(name: &str, seq: u64) -> String {
    let mut tail = String::with_capacity(name.len() + 40);
    tail_parts(name, seq, |part| tail.push_str(part));
    tail
}

/// The pieces of a dispatch tail, in order, handed to `push` (one place
/// for the format, whatever the tail is built into).
pub(crate) fn tail_parts(name: &str, seq: u64, mut push: impl FnMut(&str)) {
    push(SEQ_KEY);
    push(itoa::Buffer::new().format(seq));
    name_tail_parts(name, push);
}

/// What a dispatch tail starts with, before the sequence number's digits.
pub(crate) const SEQ_KEY: &str = r#","s":"#;

/// The part of a dispatch tail after the sequence number: the name.
fn name_tail_parts(name: &str, mut push: impl FnMut(&str)) {
    push(r#","t":""#);
    push(name);
    push(r#""}"#);
}

/// Bytes a [`NameTail`] holds in place: the tails of every documented
/// event name fit.
const NAME_TAIL_ROOM: usize = 48;

/// The part of an event's dispatch tails after the sequence number (see
/// [`SEQ_KEY`]), made once per event and appended to each frame's glue
/// with a copy of a fixed size, which the compiler makes a few moves: a
/// copy of a length known only at run time is a call into libc, and a
/// frame had four of them (1.3% of the writing core's samples at 1 M
/// deliveries/s).
#[derive(Debug)]
pub(crate) struct NameTail {
    bytes: [u8; NAME_TAIL_ROOM],
    len: usize,
}

impl NameTail {
    /// The tail after the sequence number for events named `name`.
    pub(crate) fn new(name: &str) -> Self {
        let mut tail = NameTail {
            bytes: [0; NAME_TAIL_ROOM],
            len: 0,
        };
        name_tail_parts(name, |part| {
            let end = tail.len + part.len();
            if let Some(room) = tail.bytes.get_mut(tail.len..end) {
                room.copy_from_slice(part.as_bytes());
            }
            tail.len = end;
        });
        tail
    }

    /// Its length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Appends it to `out`; `name` is the name it was made for (a tail
    /// too long to hold in place is appended from it).
    pub(crate) fn push_to(&self, out: &mut Vec<u8>, name: &str) {
        if self.len <= NAME_TAIL_ROOM {
            let start = out.len();
            out.extend_from_slice(&self.bytes);
            out.truncate(start + self.len);
        } else {
            name_tail_parts(name, |part| out.extend_from_slice(part.as_bytes()));
        }
    }
}

/// The decimal digits of a sequence number, kept for the next: a batch's
/// frames are numbered consecutively, so each number after the first is
/// the last one's digits raised by one in place, not divided out digit by
/// digit again (that division chain was 1% of the writing core's samples
/// at 1 M deliveries/s). Appended without a copy of a length known only
/// at run time (see [`NameTail`]).
#[derive(Debug)]
pub(crate) struct SeqDigits {
    /// The digits, from the first byte.
    digits: [u8; 20],
    len: usize,
    /// The number they are, if any.
    seq: Option<u64>,
}

impl SeqDigits {
    pub(crate) fn new() -> Self {
        SeqDigits {
            digits: [b'0'; 20],
            len: 0,
            seq: None,
        }
    }

    /// Makes them `n`'s digits, and returns how many there are.
    pub(crate) fn set(&mut self, n: u64) -> usize {
        if self.seq.is_some_and(|last| last.checked_add(1) == Some(n)) && self.raise() {
            self.seq = Some(n);
            return self.len;
        }
        self.len = decimal_len(n);
        let mut end = self.len;
        let mut rest = n;
        while rest >= 10 {
            let pair = (rest % 100) as usize * 2;
            rest /= 100;
            self.digits[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
            end -= 2;
        }
        if end == 1 {
            self.digits[0] = b'0' + rest as u8;
        }
        self.seq = Some(n);
        self.len
    }

    /// Adds one to the digits in place, carrying; `false` when they were
    /// all nines (the number gains a digit, and is written anew).
    fn raise(&mut self) -> bool {
        for digit in self.digits[..self.len].iter_mut().rev() {
            if *digit == b'9' {
                *digit = b'0';
            } else {
                *digit += 1;
                return true;
            }
        }
        false
    }

    /// Appends the digits to `out`: room for the longest number at a fixed
    /// size, cut to theirs.
    pub(crate) fn push_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.digits);
        out.truncate(start + self.len);
    }
}

/// "00", "01", ... "99", one after the other.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// How many decimal digits `n` has.
fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

#[cfg(test)]
mod tests {
    use discord_proto::gateway::ServerMessage;

    #[test]
    fn head_data_and_tail_make_the_frame() {
        let data = r#"{"id":"1"}"#;
        let joined = format!(
            "{}{data}{}",
            super::DISPATCH_HEAD,
            super::dispatch_tail("READY", 42)
        );
        assert_eq!(joined, super::dispatch("READY", 42, data));
        assert!(joined.ends_with(r#","s":42,"t":"READY"}"#));
    }

    #[test]
    fn name_tails_and_digits_append_what_the_format_says() {
        let long = "N".repeat(60);
        for name in ["", "READY", "MESSAGE_CREATE", &"X".repeat(40), &long] {
            for seq in [0, 7, 10, 99, 100, 101, 1_000, 12_345, 123_456_789, u64::MAX] {
                let mut out = b"before".to_vec();
                out.extend_from_slice(super::SEQ_KEY.as_bytes());
                let mut digits = super::SeqDigits::new();
                let len = digits.set(seq);
                digits.push_to(&mut out);
                let tail = super::NameTail::new(name);
                tail.push_to(&mut out, name);
                let want = format!("before{}", super::dispatch_tail(name, seq));
                assert_eq!(String::from_utf8(out).unwrap(), want, "{name} {seq}");
                assert_eq!(
                    super::SEQ_KEY.len() + len + tail.len(),
                    super::dispatch_tail(name, seq).len()
                );
            }
        }
    }

    /// Numbers set one after the other (raised in place), across every
    /// carry and a new digit, and after jumps either way, are their
    /// decimal digits.
    #[test]
    fn sequence_digits_raised_in_place_are_the_numbers_digits() {
        let mut digits = super::SeqDigits::new();
        let mut check = |n: u64| {
            let len = digits.set(n);
            let mut out = Vec::new();
            digits.push_to(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
            assert_eq!(len, n.to_string().len());
        };
        for n in (0..1_100)
            .chain(9_990..10_010)
            .chain(99_999_990..100_000_010)
        {
            check(n);
        }
        for n in [
            5,
            1_000_000,
            4,
            999,
            998,
            999,
            1_000,
            u64::MAX - 1,
            u64::MAX,
            0,
            1,
            1,
        ] {
            check(n);
        }
    }

    #[test]
    fn a_dispatch_frame_decodes_as_the_same_event() {
        let frame = super::dispatch(
            "TYPING_START",
            7,
            r#"{"channel_id":"1","user_id":"2","timestamp":3}"#,
        );
        match ServerMessage::decode(frame.as_bytes()).unwrap() {
            ServerMessage::Dispatch { seq, event } => {
                assert_eq!(seq, 7);
                assert_eq!(event.name(), "TYPING_START");
            }
            other => panic!("not a dispatch: {other:?}"),
        }
    }
}
