//! Building outgoing frames cheaply: an event's data is serialized once and
//! shared; each session only writes its own envelope around it.

/// `{"op":0,"d":<data>,"s":<seq>,"t":"<name>"}` around data that is already
/// JSON. `name` is an event name (upper-case ASCII and `_`), which needs no
/// escaping.
pub fn dispatch(name: &str, seq: u64, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + name.len() + 40);
    out.push_str(r#"{"op":0,"d":"#);
    out.push_str(data);
    out.push_str(r#","s":"#);
    out.push_str(&seq.to_string());
    out.push_str(r#","t":""#);
    out.push_str(name);
    out.push_str(r#""}"#);
    out
}

#[cfg(test)]
mod tests {
    use discord_proto::gateway::ServerMessage;

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
