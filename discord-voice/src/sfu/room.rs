//! The participants of one voice channel on this node, and who receives
//! whose tracks.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use discord_proto::Snowflake;
use discord_proto::voice::{ClientDisconnect, ClientsConnect, VoicePayload};

use super::forward::Published;
use super::{Outbound, Participant, SfuStats};

/// One voice channel's participants.
pub(crate) struct Room {
    pub(crate) channel_id: Snowflake,
    pub(crate) stats: Arc<SfuStats>,
    /// How long after its last voiced packet a speaker counts as silent.
    pub(crate) hangover: Duration,
    participants: Mutex<HashMap<Snowflake, Arc<Participant>>>,
    /// Every track published in the room.
    published: Mutex<Vec<Arc<Published>>>,
    /// Serialises membership and subscription changes, so a track is never
    /// added twice to, or left behind in, a participant's connection.
    changes: tokio::sync::Mutex<()>,
}

impl Room {
    pub(crate) fn new(
        channel_id: Snowflake,
        stats: Arc<SfuStats>,
        hangover: Duration,
    ) -> Arc<Room> {
        Arc::new(Room {
            channel_id,
            stats,
            hangover,
            participants: Mutex::new(HashMap::new()),
            published: Mutex::new(Vec::new()),
            changes: tokio::sync::Mutex::new(()),
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.participants.lock().expect("room lock").len()
    }

    pub(crate) fn get(&self, user_id: Snowflake) -> Option<Arc<Participant>> {
        self.participants
            .lock()
            .expect("room lock")
            .get(&user_id)
            .cloned()
    }

    fn others(&self, user_id: Snowflake) -> Vec<Arc<Participant>> {
        self.participants
            .lock()
            .expect("room lock")
            .values()
            .filter(|p| p.user_id != user_id)
            .cloned()
            .collect()
    }

    /// Sends a payload to everyone but `user_id`.
    pub(crate) fn broadcast(&self, user_id: Snowflake, payload: &VoicePayload) {
        for p in self.others(user_id) {
            p.send(Outbound::Payload(payload.clone()));
        }
    }

    /// Adds a participant: it learns who is here, the others learn of it.
    pub(crate) fn insert(&self, participant: Arc<Participant>) {
        let others = self.others(participant.user_id);
        participant.send(Outbound::Payload(VoicePayload::ClientsConnect(
            ClientsConnect {
                user_ids: others.iter().map(|p| p.user_id).collect(),
            },
        )));
        let joined = VoicePayload::ClientsConnect(ClientsConnect {
            user_ids: vec![participant.user_id],
        });
        for p in &others {
            p.send(Outbound::Payload(joined.clone()));
        }
        self.participants
            .lock()
            .expect("room lock")
            .insert(participant.user_id, participant);
    }

    /// Removes a participant (if it is still the one registered for its
    /// user): its tracks leave every other connection, which renegotiates.
    /// Returns whether it was removed.
    pub(crate) async fn remove(&self, participant: &Arc<Participant>) -> bool {
        let _guard = self.changes.lock().await;
        {
            let mut map = self.participants.lock().expect("room lock");
            match map.get(&participant.user_id) {
                Some(p) if Arc::ptr_eq(p, participant) => {
                    map.remove(&participant.user_id);
                }
                _ => return false,
            }
        }
        participant.closed.store(true, Ordering::Release);
        let gone: Vec<Arc<Published>> = {
            let mut published = self.published.lock().expect("room lock");
            let (gone, kept) = published
                .drain(..)
                .partition(|t| t.publisher == participant.user_id);
            *published = kept;
            gone
        };
        // Stop what it received.
        for track in self.published.lock().expect("room lock").iter() {
            track.remove_sink(participant.user_id);
        }
        // Take its tracks out of everyone else's connection.
        let others = self.others(participant.user_id);
        for other in &others {
            let mut changed = false;
            for track in &gone {
                changed |= stop_receiving(other, track).await;
            }
            if changed {
                other.renegotiate().await;
            }
            other.send(Outbound::Payload(VoicePayload::ClientDisconnect(
                ClientDisconnect {
                    user_id: participant.user_id,
                },
            )));
        }
        participant.close().await;
        true
    }

    /// A participant published a track: everyone else who is ready
    /// receives it.
    pub(crate) async fn publish(&self, track: Arc<Published>) {
        let _guard = self.changes.lock().await;
        if self.get(track.publisher).is_none() {
            return;
        }
        self.published
            .lock()
            .expect("room lock")
            .push(track.clone());
        for other in self.others(track.publisher) {
            if other.ready().await && track.add_sink(&other).await {
                other.renegotiate().await;
            }
        }
    }

    /// A published track ended.
    pub(crate) async fn unpublish(&self, track: &Arc<Published>) {
        let _guard = self.changes.lock().await;
        self.published
            .lock()
            .expect("room lock")
            .retain(|t| !Arc::ptr_eq(t, track));
        for other in self.others(track.publisher) {
            if stop_receiving(&other, track).await {
                other.renegotiate().await;
            }
        }
    }

    /// A participant finished its first negotiation: it receives every
    /// track already published.
    pub(crate) async fn subscribe_to_all(&self, participant: &Arc<Participant>) {
        let _guard = self.changes.lock().await;
        let tracks: Vec<Arc<Published>> = self
            .published
            .lock()
            .expect("room lock")
            .iter()
            .filter(|t| t.publisher != participant.user_id)
            .cloned()
            .collect();
        let mut added = false;
        for track in tracks {
            added |= track.add_sink(participant).await;
        }
        if added {
            participant.renegotiate().await;
        }
    }
}

/// Takes `track` out of `receiver`'s connection. Returns whether it was
/// there (the connection needs renegotiating).
async fn stop_receiving(receiver: &Participant, track: &Published) -> bool {
    track.remove_sink(receiver.user_id);
    let sender = receiver
        .receiving
        .lock()
        .expect("receiving lock")
        .remove(&track.id);
    let Some(sender) = sender else {
        return false;
    };
    if let Err(e) = receiver.pc.remove_track(&sender).await {
        tracing::debug!("remove_track: {e}");
    }
    true
}
