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
pub(crate) fn tail_parts(name: &str, seq: u64, push: impl FnMut(&str)) {
    tail_parts_of(name, itoa::Buffer::new().format(seq), push);
}

/// [`tail_parts`] with the sequence number already in decimal digits.
pub(crate) fn tail_parts_of(name: &str, seq_digits: &str, mut push: impl FnMut(&str)) {
    push(r#","s":"#);
    push(seq_digits);
    push(r#","t":""#);
    push(name);
    push(r#""}"#);
}

/// The length of a dispatch tail whose sequence number is `seq_digits`,
/// without building it.
pub(crate) fn tail_len_of(name: &str, seq_digits: &str) -> usize {
    let mut len = 0;
    tail_parts_of(name, seq_digits, |part| len += part.len());
    len
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
        for seq in [0, 9, 10, 99_999, u64::MAX] {
            let tail = super::dispatch_tail("MESSAGE_CREATE", seq);
            let digits = seq.to_string();
            assert_eq!(
                super::tail_len_of("MESSAGE_CREATE", &digits),
                tail.len(),
                "{seq}"
            );
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
