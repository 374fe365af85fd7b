//! Joining a voice channel through a gateway shard: op 4, then waiting for
//! the VOICE_SERVER_UPDATE that answers it.

use std::time::Duration;

use discord_proto::Snowflake;
use discord_proto::gateway::{ClientCommand, DispatchEvent, UpdateVoiceState};

use super::VoiceServerInfo;
use crate::error::{ClientError, Result};
use crate::gateway::{Shard, ShardEvent};

/// Sends op 4 for `channel_id` in `guild_id` on `shard` and reads the
/// shard's events until the VOICE_SERVER_UPDATE that answers it (10 s at
/// most). Returns what [`VoiceConnection::connect`](super::VoiceConnection::connect)
/// needs, plus every other event read meanwhile, in order, for the
/// application to handle. `user_id` and `session_id` come from READY.
pub async fn join_voice(
    shard: &mut Shard,
    user_id: Snowflake,
    session_id: &str,
    guild_id: Snowflake,
    channel_id: Snowflake,
) -> Result<(VoiceServerInfo, Vec<ShardEvent>)> {
    shard.send(ClientCommand::VoiceStateUpdate(Box::new(
        UpdateVoiceState {
            guild_id,
            channel_id: Some(channel_id),
            self_mute: false,
            self_deaf: false,
        },
    )));
    let mut other = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, shard.next_event())
            .await
            .map_err(|_| {
                ClientError::Voice(
                    "no VOICE_SERVER_UPDATE (no CONNECT permission, or the channel is full?)"
                        .into(),
                )
            })?
            .ok_or_else(|| ClientError::Voice("the shard stopped".into()))?;
        match event {
            ShardEvent::Dispatch {
                event: DispatchEvent::VoiceServerUpdate(update),
                ..
            } if update.guild_id == guild_id => {
                let endpoint = update.endpoint.ok_or_else(|| {
                    ClientError::Voice("the voice server is being reallocated".into())
                })?;
                let info = VoiceServerInfo {
                    endpoint,
                    guild_id,
                    user_id,
                    session_id: session_id.to_owned(),
                    token: update.token,
                };
                return Ok((info, other));
            }
            ShardEvent::Fatal(code) => {
                return Err(ClientError::Voice(format!("gateway closed with {code}")));
            }
            event => other.push(event),
        }
    }
}

/// Sends op 4 with `channel_id: null`: leaves voice in `guild_id`.
pub fn leave_voice(shard: &Shard, guild_id: Snowflake) {
    shard.send(ClientCommand::VoiceStateUpdate(Box::new(
        UpdateVoiceState {
            guild_id,
            channel_id: None,
            self_mute: false,
            self_deaf: false,
        },
    )));
}
