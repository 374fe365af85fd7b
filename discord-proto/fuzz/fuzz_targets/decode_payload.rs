//! Decoding a gateway payload from arbitrary bytes never panics, and
//! whatever decodes re-encodes to something that decodes to the same value.
#![no_main]

use discord_proto::gateway::{ClientCommand, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = ClientCommand::decode(data) {
        let again = ClientCommand::decode(cmd.encode().as_bytes()).expect("re-decode command");
        assert_eq!(again, cmd);
    }
    if let Ok(msg) = ServerMessage::decode(data) {
        let again = ServerMessage::decode(msg.encode().as_bytes()).expect("re-decode message");
        assert_eq!(again, msg);
    }
});
