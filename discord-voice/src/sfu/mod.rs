//! The selective forwarding unit: one WebRTC peer connection per
//! participant; every participant's audio and video forwarded, untouched,
//! to every other participant in the same channel.
//!
//! - [`room`]: participants of one channel; joining, leaving, subscribing.
//! - [`participant`]: one participant's peer connection and negotiation.
//! - [`forward`]: a published track and the loop that copies its packets.

mod forward;
mod participant;
mod room;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use discord_proto::Snowflake;
use discord_proto::voice::{VoiceCloseCode, VoicePayload};
use tokio::sync::mpsc;

pub use participant::Flags;
pub(crate) use participant::Participant;
pub(crate) use room::Room;

use crate::config::VoiceConfig;
use crate::error::{Result, VoiceError};

/// What the SFU sends a participant's signaling connection.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A payload to send.
    Payload(VoicePayload),
    /// Close the connection with this code.
    Close(VoiceCloseCode),
}

/// Counters of a node's forwarding, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct SfuStats {
    /// RTP packets handed to a receiving participant's connection.
    pub forwarded: AtomicU64,
    /// RTP packets dropped because a receiver's queue was full.
    pub dropped_slow: AtomicU64,
    /// Audio packets dropped because their sender is muted.
    pub dropped_muted: AtomicU64,
    /// Keyframe requests relayed to a video's publisher.
    pub keyframe_requests: AtomicU64,
}

/// The SFU of one node.
pub struct Sfu {
    pub(crate) config: VoiceConfig,
    rooms: Mutex<HashMap<Snowflake, Arc<Room>>>,
    participants: AtomicUsize,
    pub(crate) stats: Arc<SfuStats>,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu")
            .field("participants", &self.participants.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Who is joining, as a checked token says.
#[derive(Clone, Debug)]
pub(crate) struct Joining {
    pub channel_id: Snowflake,
    pub user_id: Snowflake,
    pub session_id: String,
    pub token: String,
    /// The channel's own `user_limit` (0: none).
    pub user_limit: u32,
    pub flags: Flags,
    /// SPEAK in the channel.
    pub can_speak: bool,
}

impl Sfu {
    pub(crate) fn new(config: VoiceConfig) -> Sfu {
        Sfu {
            config,
            rooms: Mutex::new(HashMap::new()),
            participants: AtomicUsize::new(0),
            stats: Arc::new(SfuStats::default()),
        }
    }

    /// Participants on this node.
    pub fn participant_count(&self) -> usize {
        self.participants.load(Ordering::Relaxed)
    }

    /// Forwarding counters.
    pub fn stats(&self) -> &SfuStats {
        &self.stats
    }

    fn room(&self, channel_id: Snowflake) -> Arc<Room> {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        rooms
            .entry(channel_id)
            .or_insert_with(|| {
                Room::new(
                    channel_id,
                    self.stats.clone(),
                    self.config.speaking_hangover,
                )
            })
            .clone()
    }

    /// The participant for `user_id` in `channel_id`, if connected here.
    pub(crate) fn participant(
        &self,
        channel_id: Snowflake,
        user_id: Snowflake,
    ) -> Option<Arc<Participant>> {
        let room = self
            .rooms
            .lock()
            .expect("rooms lock")
            .get(&channel_id)?
            .clone();
        room.get(user_id)
    }

    /// Adds a participant (replacing an earlier connection of the same
    /// user) and tells the others.
    pub(crate) async fn join(
        &self,
        joining: Joining,
        out: mpsc::UnboundedSender<Outbound>,
    ) -> Result<Arc<Participant>> {
        let room = self.room(joining.channel_id);
        if let Some(old) = room.get(joining.user_id) {
            old.send(Outbound::Close(VoiceCloseCode::Disconnected));
            self.leave(&old).await;
        }
        let channel_limit = match joining.user_limit {
            0 => self.config.max_per_channel,
            n => (n as usize).min(self.config.max_per_channel),
        };
        if room.len() >= channel_limit {
            return Err(VoiceError::Full("the voice channel"));
        }
        if self.participants.fetch_add(1, Ordering::AcqRel) >= self.config.max_per_node {
            self.participants.fetch_sub(1, Ordering::AcqRel);
            return Err(VoiceError::Full("the voice server"));
        }
        let participant = match Participant::new(&self.config, &room, joining, out).await {
            Ok(p) => p,
            Err(e) => {
                self.participants.fetch_sub(1, Ordering::AcqRel);
                return Err(e);
            }
        };
        room.insert(participant.clone());
        Ok(participant)
    }

    /// Removes a participant: its tracks stop reaching the others, who get
    /// CLIENT_DISCONNECT, and its peer connection closes.
    pub(crate) async fn leave(&self, participant: &Arc<Participant>) {
        let Some(room) = participant.room() else {
            return;
        };
        if room.remove(participant).await {
            self.participants.fetch_sub(1, Ordering::AcqRel);
        }
        if room.len() == 0 {
            let mut rooms = self.rooms.lock().expect("rooms lock");
            if rooms
                .get(&room.channel_id)
                .is_some_and(|r| Arc::ptr_eq(r, &room) && r.len() == 0)
            {
                rooms.remove(&room.channel_id);
            }
        }
    }

    /// Disconnects a user from a channel (they left or moved voice, or the
    /// session ended): close 4014, then leave.
    pub(crate) async fn kick(&self, channel_id: Snowflake, user_id: Snowflake) {
        if let Some(p) = self.participant(channel_id, user_id) {
            p.send(Outbound::Close(VoiceCloseCode::Disconnected));
            self.leave(&p).await;
        }
    }

    /// Applies new mute and deafen flags to a connected participant.
    pub(crate) fn set_flags(&self, channel_id: Snowflake, user_id: Snowflake, flags: Flags) {
        if let Some(p) = self.participant(channel_id, user_id) {
            p.flags.set(flags);
        }
    }
}
