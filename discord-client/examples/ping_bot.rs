//! A ping bot: answers `!ping` with `pong` in any channel it can see.
//!
//! Against a local reference server (see docs/bot-authors.md for making a
//! bot and adding it to a guild):
//!
//! ```sh
//! cargo run -p discord-client --example ping_bot -- http://127.0.0.1:8080 BOT_TOKEN
//! ```

use discord_client::gateway::{SessionConfig, Shard, ShardEvent};
use discord_client::{CreateMessage, RestClient};
use discord_proto::gateway::{DispatchEvent, Intents};
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(token)) = (args.next(), args.next()) else {
        eprintln!("usage: ping_bot BASE_URL BOT_TOKEN (e.g. http://127.0.0.1:8080)");
        std::process::exit(2);
    };
    let rest = RestClient::bot(format!("{base}/api/v10"), &token);
    let gateway = rest.gateway_bot().await?;
    let mut shard = Shard::start(SessionConfig {
        token: format!("Bot {token}"),
        intents: Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT,
        shard: None,
        gateway_url: gateway.url,
        compression: None,
    });
    while let Some(event) = shard.next().await {
        match event {
            ShardEvent::Dispatch {
                event: DispatchEvent::Ready(ready),
                ..
            } => println!("ready as {}", ready.user.username),
            ShardEvent::Dispatch {
                event: DispatchEvent::MessageCreate(msg),
                ..
            } if msg.content == "!ping" && !msg.author.bot => {
                let reply = CreateMessage::text("pong").reply_to(msg.id);
                if let Err(e) = rest.create_message(msg.channel_id, &reply).await {
                    eprintln!("could not answer: {e}");
                }
            }
            ShardEvent::Fatal(code) => {
                eprintln!("the gateway refused the session (close {code})");
                std::process::exit(1);
            }
            _ => {}
        }
    }
    Ok(())
}
