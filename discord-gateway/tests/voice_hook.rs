//! op 4 VOICE_STATE_UPDATE goes to the voice hook with the session it came
//! from; a session that ends for good is reported so its voice state can be
//! cleared.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::*;
use discord_gateway::{VoiceHook, VoiceSession};
use discord_proto::gateway::UpdateVoiceState;
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

#[derive(Default)]
struct Recorder {
    updates: Mutex<Vec<(VoiceSession, UpdateVoiceState)>>,
    ended: Mutex<Vec<VoiceSession>>,
}

#[async_trait]
impl VoiceHook for Recorder {
    async fn voice_state_update(&self, session: &VoiceSession, update: UpdateVoiceState) {
        self.updates.lock().unwrap().push((session.clone(), update));
    }
    async fn session_ended(&self, session: &VoiceSession) {
        self.ended.lock().unwrap().push(session.clone());
    }
}

#[tokio::test]
async fn voice_state_updates_reach_the_hook_and_session_end_is_reported() {
    let recorder = Arc::new(Recorder::default());
    let n = node_with_voice(
        config("a"),
        memory_stores(100),
        Data::new(),
        Some(recorder.clone()),
    )
    .await;
    let mut c = Client::identify(n.addr, 3, ALL).await;
    c.send(json!({"op": 4, "d": {"guild_id": "100", "channel_id": "10", "self_mute": true, "self_deaf": false}}))
        .await;
    eventually(|| !recorder.updates.lock().unwrap().is_empty()).await;
    {
        let updates = recorder.updates.lock().unwrap();
        let (session, update) = &updates[0];
        assert_eq!(session.session_id, c.session_id);
        assert_eq!(session.user_id, id(3));
        assert_eq!(update.channel_id, Some(id(10)));
        assert!(update.self_mute && !update.self_deaf);
    }
    assert!(recorder.ended.lock().unwrap().is_empty());
    c.ws.send(Message::Close(Some(CloseFrame {
        code: 1000.into(),
        reason: "".into(),
    })))
    .await
    .unwrap();
    eventually(|| recorder.ended.lock().unwrap().len() == 1).await;
    assert_eq!(recorder.ended.lock().unwrap()[0].user_id, id(3));
}
