//! The gateway client against an in-process reference server, through a
//! TCP proxy the test can cut: the shard becomes ready, receives messages,
//! and after the connection drops it resumes and gets every missed event
//! exactly once, in sequence.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "client_common/mod.rs"]
mod common;

use discord_client::RestClient;
use discord_client::gateway::{SessionConfig, Shard, ShardEvent};
use discord_proto::gateway::{DispatchEvent, Intents};
use reference_server::{Config, Server};
use tokio::net::{TcpListener, TcpStream};

/// Forwards connections to a target; `cut` drops every open one, and
/// while `refusing` new ones are dropped at once.
struct Proxy {
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    refusing: Arc<AtomicBool>,
}

impl Proxy {
    fn start(listener: TcpListener, target: SocketAddr) -> Proxy {
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let refusing = Arc::new(AtomicBool::new(false));
        let list = Arc::clone(&conns);
        let refuse = Arc::clone(&refusing);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if refuse.load(Ordering::SeqCst) {
                    continue;
                }
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().unwrap().push(handle);
            }
        });
        Proxy { conns, refusing }
    }

    fn refuse(&self, on: bool) {
        self.refusing.store(on, Ordering::SeqCst);
    }

    fn cut(&self) {
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

/// A bot's shard with these intents and compression.
fn start(
    token: &str,
    gateway_url: String,
    intents: Intents,
    compression: Option<discord_proto::compression::TransportCompression>,
) -> Shard {
    Shard::start(SessionConfig {
        token: format!("Bot {token}"),
        intents,
        shard: None,
        gateway_url,
        compression,
    })
}

async fn next(shard: &mut Shard) -> (u64, DispatchEvent) {
    match tokio::time::timeout(Duration::from_secs(15), shard.next_event())
        .await
        .expect("the shard went quiet")
        .expect("the shard stopped")
    {
        ShardEvent::Dispatch { seq, event } => (seq, event),
        ShardEvent::Fatal(code) => panic!("fatal close {code}"),
    }
}

async fn next_message(shard: &mut Shard) -> (u64, String) {
    loop {
        if let (seq, DispatchEvent::MessageCreate(m)) = next(shard).await {
            return (seq, m.content.clone());
        }
    }
}

#[tokio::test]
async fn a_shard_resumes_after_a_dropped_connection_without_losing_events() {
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy_listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_owned(),
        // Clients reach the gateway through the proxy.
        public_url: Some(format!("http://{proxy_addr}")),
        ..Config::default()
    };
    config.drain = Duration::from_secs(1);
    config.rate_limits.enabled = false;
    let server = Server::bind(config).await.unwrap().spawn();
    let proxy = Proxy::start(proxy_listener, server.addr);
    let api = format!("{}/api/v10", server.url());

    // Alice, her guild, a bot in it.
    let (alice, guild, general) = common::setup(&api).await;
    let token = common::bot(&alice, guild, "shardbot").await;

    let bot = RestClient::bot(&api, &token);
    let gateway_url = bot.gateway_bot().await.unwrap().url;
    assert!(gateway_url.contains(&proxy_addr.to_string()));
    let mut shard = start(
        &token,
        gateway_url,
        Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT,
        None,
    );
    let (_, ready) = next(&mut shard).await;
    assert!(matches!(ready, DispatchEvent::Ready(_)), "{ready:?}");
    let (_, created) = next(&mut shard).await;
    assert!(
        matches!(created, DispatchEvent::GuildCreate(_)),
        "{created:?}"
    );

    let say = |text: &'static str| {
        let alice = alice.clone();
        async move {
            alice
                .create_message(general, &discord_client::CreateMessage::text(text))
                .await
                .unwrap()
        }
    };
    say("before").await;
    let (seq, text) = next_message(&mut shard).await;
    assert_eq!(text, "before");

    // The connection drops and stays down while two messages are posted;
    // then the network comes back.
    proxy.refuse(true);
    proxy.cut();
    say("missed 1").await;
    say("missed 2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.refuse(false);
    // Everything after `seq` arrives once, with consecutive sequence
    // numbers, until the second missed message.
    let mut expected = seq + 1;
    let mut messages = Vec::new();
    let mut others = Vec::new();
    while messages.len() < 2 {
        let (s, event) = next(&mut shard).await;
        assert_eq!(s, expected, "a gap or a repeat in the sequence");
        expected += 1;
        match event {
            DispatchEvent::MessageCreate(m) => messages.push(m.content.clone()),
            other => others.push(other.name().to_owned()),
        }
    }
    assert_eq!(messages, ["missed 1", "missed 2"], "besides: {others:?}");
    // And the session goes on.
    say("after").await;
    let (after_seq, text) = next_message(&mut shard).await;
    assert_eq!(text, "after");
    assert!(after_seq >= expected);
    drop(shard);
    server.stop().await.unwrap();
}

/// With zlib-stream or zstd-stream, the shard decompresses the whole
/// connection's stream: READY, the guild and a message arrive.
#[tokio::test]
async fn a_shard_reads_compressed_connections() {
    use discord_proto::compression::TransportCompression;
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| c.rate_limits.enabled = false).await;
    let api = format!("{}/api/v10", server.url());
    let (alice, guild, general) = common::setup(&api).await;
    let token = common::bot(&alice, guild, "zipbot").await;
    for compression in [
        TransportCompression::ZlibStream,
        TransportCompression::ZstdStream,
    ] {
        let mut shard = start(
            &token,
            server.state.gateway_url.clone(),
            Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT,
            Some(compression),
        );
        assert!(matches!(next(&mut shard).await.1, DispatchEvent::Ready(_)));
        assert!(matches!(
            next(&mut shard).await.1,
            DispatchEvent::GuildCreate(_)
        ));
        let text = format!("over {compression}");
        alice
            .create_message(general, &discord_client::CreateMessage::text(text.clone()))
            .await
            .unwrap();
        assert_eq!(next_message(&mut shard).await.1, text);
    }
    server.stop().await.unwrap();
}

/// Commands queued on a shard go out once it is ready: a member request
/// gets its GUILD_MEMBERS_CHUNK.
#[tokio::test]
async fn commands_sent_through_a_shard_are_answered() {
    use discord_proto::gateway::{ClientCommand, RequestGuildMembers};
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| c.rate_limits.enabled = false).await;
    let api = format!("{}/api/v10", server.url());
    let (alice, guild, _) = common::setup(&api).await;
    let token = common::bot(&alice, guild, "askbot").await;
    let mut shard = start(
        &token,
        server.state.gateway_url.clone(),
        Intents::GUILDS | Intents::GUILD_MEMBERS,
        None,
    );
    // Queued before the connection exists: sent after READY.
    shard.send(ClientCommand::RequestGuildMembers(Box::new(
        RequestGuildMembers {
            guild_id: guild,
            query: Some(String::new()),
            limit: 0,
            presences: None,
            user_ids: None,
            nonce: Some("n-1".into()),
        },
    )));
    // The shard is also a `Stream` of events.
    use futures::StreamExt;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(15), shard.next())
            .await
            .expect("quiet")
            .expect("stopped");
        if let ShardEvent::Dispatch {
            event: DispatchEvent::GuildMembersChunk(chunk),
            ..
        } = event
        {
            assert_eq!(chunk.nonce.as_deref(), Some("n-1"));
            assert_eq!(chunk.members.len(), 2, "alice and the bot");
            break;
        }
    }
    server.stop().await.unwrap();
}

/// A bot run as two shards in one process receives each of its guilds on
/// exactly one shard: the one `(guild_id >> 22) % 2` names.
#[tokio::test]
async fn a_sharded_bot_receives_each_guild_on_exactly_one_shard() {
    use discord_client::gateway::start_shards;
    use discord_proto::Snowflake;
    let dir = tempfile::tempdir().unwrap();
    let server = common::server(dir.path(), |c| c.rate_limits.enabled = false).await;
    let api = format!("{}/api/v10", server.url());
    let (alice, first, _) = common::setup(&api).await;
    let token = common::bot(&alice, first, "shardedbot").await;
    let bot_id = RestClient::bot(&api, &token)
        .current_user()
        .await
        .unwrap()
        .id;
    // More guilds until both shards have at least one.
    let mut guilds = vec![first];
    let shard_of = |g: Snowflake| (g.get() >> 22) % 2;
    while guilds.len() < 4
        || !(guilds.iter().any(|g| shard_of(*g) == 0) && guilds.iter().any(|g| shard_of(*g) == 1))
    {
        assert!(guilds.len() < 64, "snowflakes never alternated shards");
        tokio::time::sleep(Duration::from_millis(1)).await;
        let g: serde_json::Value = alice
            .request(
                reqwest::Method::POST,
                "/guilds",
                Some(&serde_json::json!({"name": "more"})),
            )
            .await
            .unwrap();
        let id = Snowflake::new(g["id"].as_str().unwrap().parse().unwrap());
        alice
            .request_empty(
                reqwest::Method::PUT,
                &format!("/guilds/{id}/members/{bot_id}"),
                Some(&serde_json::json!({})),
            )
            .await
            .unwrap();
        guilds.push(id);
    }
    let base = SessionConfig {
        token: format!("Bot {token}"),
        intents: Intents::GUILDS,
        shard: None,
        gateway_url: server.state.gateway_url.clone(),
        compression: None,
    };
    let mut shards = start_shards(&base, 2, 1, Duration::from_millis(100));
    let mut seen: Vec<Vec<Snowflake>> = vec![Vec::new(), Vec::new()];
    for (k, shard) in shards.iter_mut().enumerate() {
        let expected = guilds.iter().filter(|g| shard_of(**g) == k as u64).count();
        let (_, ready) = next(shard).await;
        let DispatchEvent::Ready(ready) = ready else {
            panic!("{ready:?}")
        };
        assert_eq!(ready.shard, Some([k as u32, 2]));
        assert_eq!(ready.guilds.len(), expected, "shard {k}'s READY");
        while seen[k].len() < expected {
            if let (
                _,
                DispatchEvent::GuildCreate(discord_proto::gateway::GuildCreate::Available(g)),
            ) = next(shard).await
            {
                seen[k].push(g.guild.id);
            }
        }
    }
    for g in &guilds {
        let on: Vec<usize> = (0..2).filter(|k| seen[*k].contains(g)).collect();
        assert_eq!(on, vec![shard_of(*g) as usize], "guild {g}");
    }
    drop(shards);
    server.stop().await.unwrap();
}
