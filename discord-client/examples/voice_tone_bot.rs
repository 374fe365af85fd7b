//! A voice bot that joins a voice channel and plays a 440 Hz tone.
//!
//! ```sh
//! cargo run -p discord-client --example voice_tone_bot -- \
//!     http://127.0.0.1:8080 BOT_TOKEN GUILD_ID VOICE_CHANNEL_ID [SECONDS]
//! ```

use std::time::Duration;

use discord_client::RestClient;
use discord_client::gateway::{SessionConfig, Shard, ShardEvent};
use discord_client::voice::{
    AudioLevel, FRAME_SAMPLES, OpusEncoder, VoiceConnection, VoiceOptions, join_voice, leave_voice,
    tone,
};
use discord_proto::Snowflake;
use discord_proto::gateway::{DispatchEvent, Intents};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, token, guild, channel, rest @ ..] = args.as_slice() else {
        eprintln!("usage: voice_tone_bot BASE_URL BOT_TOKEN GUILD_ID VOICE_CHANNEL_ID [SECONDS]");
        std::process::exit(2);
    };
    let guild = Snowflake::new(guild.parse()?);
    let channel = Snowflake::new(channel.parse()?);
    let seconds: u64 = rest.first().map_or(Ok(5), |s| s.parse())?;

    let api = RestClient::bot(format!("{base}/api/v10"), token);
    let mut shard = Shard::start(SessionConfig {
        token: format!("Bot {token}"),
        intents: Intents::GUILDS | Intents::GUILD_VOICE_STATES,
        shard: None,
        gateway_url: api.gateway_bot().await?.url,
        compression: None,
    });
    let (user_id, session_id) = loop {
        match shard.next_event().await {
            Some(ShardEvent::Dispatch {
                event: DispatchEvent::Ready(ready),
                ..
            }) => break (ready.user.id, ready.session_id.clone()),
            Some(ShardEvent::Fatal(code)) => return Err(format!("gateway closed: {code}").into()),
            Some(_) => {}
            None => return Err("the gateway connection ended".into()),
        }
    };

    let (info, _) = join_voice(&mut shard, user_id, &session_id, guild, channel).await?;
    let (voice, _events) = VoiceConnection::connect(info, VoiceOptions::default()).await?;
    eprintln!("connected; playing {seconds} s of A440");

    let mut encoder = OpusEncoder::new(64_000)?;
    let mut every = tokio::time::interval(Duration::from_millis(20));
    for frame in tone(440.0, 0.3).take((seconds * 50) as usize) {
        every.tick().await;
        // The level lets the server show the bot speaking (RFC 6464).
        let level = AudioLevel::of_pcm(&frame);
        voice
            .send_audio_with_level(encoder.encode(&frame)?, FRAME_SAMPLES as u32, level)
            .await?;
    }

    leave_voice(&shard, guild);
    voice.close().await;
    Ok(())
}
