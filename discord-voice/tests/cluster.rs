//! Several SFU nodes: two voice nodes share voice states and pub/sub (the
//! in-process backends, as two nodes of one process would; the reference
//! server's cluster test runs them over Redis). Each channel lives on one
//! node; a token issued by either node is good at that node only; mute
//! and disconnect made through one node act on media at the other.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use common::{Client, GUILD, audio_count, grant_in, talk, talk_until_heard, wait_until};
use discord_client::voice::{VoiceConnection, VoiceEvent, VoiceOptions, VoiceServerInfo};
use discord_proto::Snowflake;
use discord_proto::voice::{VoiceIdentify, VoicePayload};
use discord_store::backend::memory::{MemoryPubSub, MemoryVoiceStates};
use discord_store::{PubSub, VoiceStateStore};
use discord_voice::{ChannelAccess, Denied, TokenKey, Voice, VoiceAccess, VoiceConfig, VoiceNode};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Any channel of the test guild may be joined.
struct AnyChannel;

#[async_trait]
impl VoiceAccess for AnyChannel {
    async fn check(
        &self,
        guild_id: Snowflake,
        _channel_id: Snowflake,
        _user_id: Snowflake,
    ) -> Result<ChannelAccess, Denied> {
        if guild_id != GUILD {
            return Err(Denied::NotFound);
        }
        Ok(ChannelAccess {
            can_speak: true,
            ..ChannelAccess::default()
        })
    }
}

struct Cluster {
    a: Voice,
    b: Voice,
    nodes: Vec<VoiceNode>,
}

/// Two nodes, "a" and "b", each serving signaling on its own port.
async fn cluster() -> Cluster {
    let listeners = [
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let nodes: Vec<VoiceNode> = ["a", "b"]
        .iter()
        .zip(&listeners)
        .map(|(id, l)| VoiceNode::new(*id, format!("ws://{}/voice", l.local_addr().unwrap())))
        .collect();
    let states: Arc<dyn VoiceStateStore> = Arc::new(MemoryVoiceStates::new());
    let pubsub: Arc<dyn PubSub> = Arc::new(MemoryPubSub::new());
    let key = TokenKey::new(b"a secret both nodes share".to_vec());
    let mut voices = Vec::new();
    for (node, listener) in nodes.iter().zip(listeners) {
        let mut config = VoiceConfig::new(node.endpoint.clone());
        config.node_id = node.id.clone();
        config.nodes = nodes.clone();
        config.token_key = key.clone();
        let voice =
            Voice::with_stores(config, Arc::new(AnyChannel), states.clone(), pubsub.clone())
                .await
                .unwrap();
        let app = voice.router::<()>("/voice");
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        voices.push(voice);
    }
    let b = voices.pop().unwrap();
    let a = voices.pop().unwrap();
    Cluster { a, b, nodes }
}

/// A channel that lives on `node`.
fn channel_on(c: &Cluster, node: &str) -> Snowflake {
    (3_000..)
        .map(Snowflake::new)
        .find(|ch| c.a.node_for(*ch, None).id == node)
        .unwrap()
}

async fn connect(info: VoiceServerInfo) -> Client {
    let user = info.user_id;
    let (conn, events) = VoiceConnection::connect(info, VoiceOptions::default())
        .await
        .expect("voice connect");
    Client {
        user,
        conn,
        events,
        seen: Vec::new(),
    }
}

/// IDENTIFY with `info` at `endpoint` on a raw socket; the close code.
async fn identify_closes_with(endpoint: &str, info: &VoiceServerInfo) -> Option<u16> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{endpoint}?v=8"))
        .await
        .unwrap();
    let identify = VoicePayload::Identify(VoiceIdentify {
        server_id: info.guild_id,
        user_id: info.user_id,
        session_id: info.session_id.clone(),
        token: info.token.clone(),
    });
    ws.send(Message::text(identify.to_json())).await.unwrap();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no frame within 10 s");
        match frame {
            Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
            Some(Ok(Message::Text(t))) => {
                if let Ok(VoicePayload::Ready(_)) = VoicePayload::from_json(t.as_str()) {
                    panic!("{endpoint} accepted a token for a channel it does not host");
                }
            }
            Some(Ok(_)) => {}
            _ => return None,
        }
    }
}

#[test]
fn every_channel_has_one_node_and_both_nodes_agree() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let c = cluster().await;
        let mut on = [0, 0];
        for ch in (3_000..3_200).map(Snowflake::new) {
            let from_a = c.a.node_for(ch, None).clone();
            assert_eq!(&from_a, c.b.node_for(ch, None));
            on[usize::from(from_a.id == "b")] += 1;
        }
        assert!(on[0] > 50 && on[1] > 50, "{on:?}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_and_moderation_cross_nodes() {
    let c = cluster().await;
    let channel = channel_on(&c, "b");
    let endpoint_b = c.nodes[1].endpoint.clone();

    // Alice's gateway session is on A, Bob's on B: both are sent to B.
    let alice_info = grant_in(&c.a, 41, channel).await;
    let bob_info = grant_in(&c.b, 42, channel).await;
    assert_eq!(alice_info.endpoint, endpoint_b);
    assert_eq!(bob_info.endpoint, endpoint_b);
    // Both nodes see both voice states.
    for voice in [&c.a, &c.b] {
        let states = voice.voice_states(GUILD).await.unwrap();
        assert_eq!(states.len(), 2);
        assert!(states.iter().all(|s| s.channel_id == Some(channel)));
    }

    // A does not host the channel: its token is refused there with 4011.
    assert_eq!(
        identify_closes_with(&c.nodes[0].endpoint, &alice_info).await,
        Some(4011)
    );

    let mut alice = connect(alice_info).await;
    let mut bob = connect(bob_info).await;
    assert_eq!(c.b.sfu().participant_count(), 2);
    assert_eq!(c.a.sfu().participant_count(), 0);

    // Media flows at B.
    talk_until_heard(&alice, &mut bob, 1).await;

    // A server mute made through A silences Alice at B.
    let dropped = c.b.sfu().stats().dropped_muted.load(Ordering::Relaxed);
    c.a.set_server_flags(GUILD, alice.user, Some(true), None)
        .await;
    assert!(
        c.b.voice_state(GUILD, alice.user)
            .await
            .unwrap()
            .unwrap()
            .mute
    );
    // The shared voice state changes first; B's SFU hears of the mute
    // through the nodes' pub/sub a moment later. Audio tagged 4 (not
    // checked) finds that moment: once B drops some, it drops the rest.
    tokio::select! {
        _ = talk(&alice, 4, 500) => panic!("B never applied the mute"),
        _ = wait_until("B applies the mute", || {
            c.b.sfu().stats().dropped_muted.load(Ordering::Relaxed) > dropped
        }) => {}
    }
    let dropped = c.b.sfu().stats().dropped_muted.load(Ordering::Relaxed);
    tokio::select! {
        _ = talk(&alice, 2, 500) => panic!("B never dropped the muted audio"),
        _ = wait_until("B drops the muted audio", || {
            c.b.sfu().stats().dropped_muted.load(Ordering::Relaxed) >= dropped + 10
        }) => {}
    }
    // Unmuted (through A again), a marker gets through; nothing tagged 2
    // ever did.
    c.a.set_server_flags(GUILD, alice.user, Some(false), None)
        .await;
    talk_until_heard(&alice, &mut bob, 3).await;
    let mut heard = bob.seen.clone();
    heard.extend(bob.drain());
    assert_eq!(
        audio_count(&heard, alice.user, 2),
        0,
        "muted audio got through"
    );

    // Alice leaves through A (her gateway node): B ends her media with
    // 4014 and Bob is told.
    c.a.leave(GUILD, alice.user).await;
    alice
        .wait_for("close 4014", |e| {
            matches!(e, VoiceEvent::Closed { code: Some(4014) })
        })
        .await;
    bob.wait_for(
        "Alice's disconnect",
        |e| matches!(e, VoiceEvent::ClientDisconnect(user_id) if *user_id == alice.user),
    )
    .await;
    assert!(c.b.voice_state(GUILD, alice.user).await.unwrap().is_none());
}

/// A token from another cluster (another secret) is refused everywhere.
#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let c = cluster().await;
    let channel = channel_on(&c, "a");
    let mut info = grant_in(&c.b, 43, channel).await;
    assert_eq!(info.endpoint, c.nodes[0].endpoint);
    let grant = TokenKey::new(b"a secret both nodes share".to_vec())
        .verify(&info.token)
        .expect("signed with the cluster's key");
    info.token = TokenKey::new(b"someone else's secret".to_vec()).sign(&grant);
    assert_eq!(
        identify_closes_with(&c.nodes[0].endpoint, &info).await,
        Some(4004)
    );
}
