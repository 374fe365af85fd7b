//! An unmodified serenity 0.12 bot against an in-process reference server,
//! using only serenity's documented override: `HttpBuilder::proxy` (the
//! gateway URL then comes from the server). serenity applies the proxy only
//! with its own rate limiter off (its limiter builds requests without the
//! proxy, straight to discord.com), so the bot runs as serenity documents
//! for a proxy: `ratelimiter_disabled(true)`.

mod common;

use std::time::Duration;

use serde_json::json;
use serenity::all::{
    ClientBuilder, Context, EditMessage, EventHandler, GatewayIntents, GetMessages, HttpBuilder,
    Message, Ready,
};
use serenity::async_trait;
use tokio::sync::mpsc;

/// What the bot saw and did, reported to the test.
#[derive(Debug, PartialEq)]
enum Seen {
    Ready {
        guilds: usize,
    },
    Done {
        got: String,
        history: Vec<String>,
        guild: String,
    },
    Failed(String),
}

struct Handler {
    tx: mpsc::UnboundedSender<Seen>,
}

impl Handler {
    async fn answer(&self, ctx: &Context, msg: &Message) -> Result<Seen, serenity::Error> {
        let mut reply = msg.reply(&ctx.http, "pong").await?;
        reply
            .edit(&ctx.http, EditMessage::new().content("pong (edited)"))
            .await?;
        let history = msg
            .channel_id
            .messages(&ctx.http, GetMessages::new().limit(10))
            .await?;
        reply.delete(&ctx.http).await?;
        let guild = msg
            .guild_id
            .expect("a guild message")
            .to_partial_guild(&ctx.http)
            .await?;
        Ok(Seen::Done {
            got: msg.content.clone(),
            history: history.into_iter().map(|m| m.content).collect(),
            guild: guild.name,
        })
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        let _ = self.tx.send(Seen::Ready {
            guilds: ready.guilds.len(),
        });
    }

    async fn message(&self, ctx: Context, msg: Message) {
        if msg.author.bot {
            return;
        }
        let seen = self
            .answer(&ctx, &msg)
            .await
            .unwrap_or_else(|e| Seen::Failed(e.to_string()));
        let _ = self.tx.send(seen);
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("the serenity bot went quiet")
        .expect("the bot stopped")
}

#[tokio::test]
async fn a_stock_serenity_bot_works_against_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path()).await;
    let api = common::Rest::new(server.url());
    let common::BotSetup {
        alice,
        general,
        bot_token: token,
        ..
    } = api.bot_setup("Serenity Test", "serbot").await;

    let http = HttpBuilder::new(&token)
        .proxy(server.url())
        .ratelimiter_disabled(true)
        .build();
    let intents =
        GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut client = ClientBuilder::new_with_http(http, intents)
        .event_handler(Handler { tx })
        .await
        .unwrap();
    let shards = client.shard_manager.clone();
    let running = tokio::spawn(async move { client.start().await });

    assert_eq!(next(&mut rx).await, Seen::Ready { guilds: 1 });
    api.post(
        &format!("/channels/{general}/messages"),
        &alice,
        json!({"content": "!ping"}),
    )
    .await;
    assert_eq!(
        next(&mut rx).await,
        Seen::Done {
            got: "!ping".into(),
            history: vec!["pong (edited)".into(), "!ping".into()],
            guild: "Serenity Test".into(),
        }
    );
    let left = api
        .get(&format!("/channels/{general}/messages"), &alice)
        .await;
    assert_eq!(left.as_array().unwrap().len(), 1, "the reply was deleted");
    shards.shutdown_all().await;
    let _ = running.await;
    server.stop().await.unwrap();
}
