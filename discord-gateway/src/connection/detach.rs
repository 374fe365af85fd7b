//! A session without its socket: hand-over to another connection, keeping
//! the replay log current until RESUME, and the session's end.

use std::sync::Arc;

use super::*;
use crate::hub::Input;

impl Conn {
    /// Hands the session over: logs what is queued, records the last
    /// sequence number, leaves the hub and tells the new owner.
    pub(super) async fn release(&mut self, reply: ReleaseReply) {
        self.drain_to_log().await;
        if let Some(record) = self.record(Some(None)) {
            let _ = self
                .inner
                .stores
                .sessions
                .save(&record, self.session_ttl())
                .await;
        }
        let Some(live) = self.live.take() else { return };
        self.inner.hub.unregister(self.conn);
        self.inner.released(&live.handle.session_id, reply).await;
    }

    /// Logs every queued event, the guilds' pending runs first queued.
    pub(super) async fn drain_to_log(&mut self) {
        if let Some(live) = self.live.as_ref() {
            self.inner
                .hub
                .take_pending(std::slice::from_ref(&live.handle));
        }
        loop {
            let next = self.live.as_ref().and_then(|l| l.handle.try_event());
            let Some(event) = next else { break };
            if !self.is_duplicate(&event) {
                self.log_only(&event).await;
            }
        }
    }

    /// Without a socket: keep the replay log current until the session is
    /// resumed (released to the resuming connection) or its window ends.
    pub(super) async fn detached(&mut self) {
        self.drain_to_log().await;
        if let Some(record) = self.record(None)
            && let Err(e) = self
                .inner
                .stores
                .sessions
                .save(&record, self.session_ttl())
                .await
        {
            tracing::warn!("saving a detached session failed: {e}");
        }
        let deadline = tokio::time::Instant::now() + self.inner.config.resume_window;
        loop {
            let Some(live) = self.live.as_ref() else {
                return;
            };
            let handle = Arc::clone(&live.handle);
            tokio::select! {
                biased;
                input = handle.next_input() => match input {
                    Input::Control(Control::Release(reply)) => {
                        self.release(reply).await;
                        return;
                    }
                    Input::Control(Control::Overflow | Control::Reconnect) => {}
                    Input::Event(event) => {
                        if !self.is_duplicate(&event) {
                            self.log_only(&event).await;
                        }
                    }
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        self.finish().await;
    }

    /// The session is over: forget it, mark the user offline, leave voice.
    pub(super) async fn finish(&mut self) {
        let Some(live) = self.live.take() else { return };
        let inner = Arc::clone(&self.inner);
        let guilds = inner.hub.guilds_of(self.conn);
        inner.hub.unregister(self.conn);
        let _ = inner.stores.sessions.delete(&live.handle.session_id).await;
        let user = live.handle.user_id;
        let _ = inner.stores.presence.remove(user).await;
        inner.announce_presence(offline(user), &guilds).await;
        if let Some(voice) = &inner.voice {
            let session = VoiceSession {
                session_id: live.handle.session_id.clone(),
                user_id: user,
            };
            voice.session_ended(&session).await;
        }
    }
}
