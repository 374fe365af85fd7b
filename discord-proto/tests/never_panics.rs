//! Decoding arbitrary input returns a value or an error, never panics.
//! (The cargo-fuzz target in `fuzz/` explores the same property far longer.)

use discord_proto::compression::{Decoder, TransportCompression};
use discord_proto::gateway::{ClientCommand, ServerMessage};
use proptest::prelude::*;

/// Strings that look like gateway payloads, to get past the JSON parser.
fn payloadish() -> impl Strategy<Value = String> {
    let op = prop_oneof![
        Just("0".to_owned()),
        (0u64..20).prop_map(|n| n.to_string()),
        Just("-1".to_owned()),
        Just("1e400".to_owned())
    ];
    let d = prop_oneof![
        Just("null".to_owned()),
        Just("{}".to_owned()),
        Just("[]".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z_\":{},\\[\\]0-9 ]{0,80}",
        Just(r#"{"token":"t","properties":{},"intents":1}"#.to_owned()),
        Just(r#"{"guild_id":"1","channel_id":null}"#.to_owned()),
    ];
    let t = prop_oneof![
        Just("null".to_owned()),
        Just("\"READY\"".to_owned()),
        Just("\"MESSAGE_CREATE\"".to_owned()),
        Just("\"GUILD_CREATE\"".to_owned()),
        "\"[A-Z_]{0,20}\"",
    ];
    (op, d, t, any::<Option<u32>>()).prop_map(|(op, d, t, s)| {
        let s = s.map_or("null".to_owned(), |s| s.to_string());
        format!(r#"{{"op":{op},"d":{d},"s":{s},"t":{t}}}"#)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = ClientCommand::decode(&bytes);
        let _ = ServerMessage::decode(&bytes);
        for kind in [TransportCompression::ZlibStream, TransportCompression::ZstdStream] {
            let mut d = Decoder::new(kind, 1 << 16).unwrap();
            let _ = d.push(&bytes);
            let _ = d.push(&bytes);
        }
    }

    #[test]
    fn payload_shaped_strings(s in payloadish()) {
        if let Ok(cmd) = ClientCommand::decode(s.as_bytes()) {
            // Whatever decodes must encode and decode to itself.
            prop_assert_eq!(ClientCommand::decode(cmd.encode().as_bytes()).unwrap(), cmd);
        }
        if let Ok(msg) = ServerMessage::decode(s.as_bytes()) {
            prop_assert_eq!(ServerMessage::decode(msg.encode().as_bytes()).unwrap(), msg);
        }
    }
}
