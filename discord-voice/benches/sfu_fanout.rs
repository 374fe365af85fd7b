//! One speaker and N listeners in a voice channel, all real webrtc-rs peers
//! in this process, talking to an in-process SFU over loopback UDP.
//!
//! The speaker sends 50 kbit/s Opus-sized audio (a 125-byte frame every
//! 20 ms) stamped with its send time; every listener notes when each frame
//! arrives. Reported per room size: RTP packets the SFU forwarded per
//! second, process CPU time per forwarded packet (SFU and all peers, since
//! they share the process), and send-to-receive latency p50/p99 (an upper
//! bound on what the SFU adds: it includes both peers' own stacks).
//!
//! Run: `cargo bench -p discord-voice --bench sfu_fanout` (room sizes from
//! `SFU_ROOMS`, default `1,5,10,25,50`; seconds per size from `SFU_SECS`,
//! default 5).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use discord_client::voice::{
    MediaKind, VoiceConnection, VoiceEvent, VoiceOptions, VoiceServerInfo,
};
use discord_gateway::VoiceSession;
use discord_proto::Snowflake;
use discord_voice::{ChannelAccess, Denied, Voice, VoiceAccess, VoiceConfig};

const GUILD: Snowflake = Snowflake::new(1);
const CHANNEL: Snowflake = Snowflake::new(2);
const FRAME_BYTES: usize = 125;

struct Open;

#[async_trait]
impl VoiceAccess for Open {
    async fn check(
        &self,
        _: Snowflake,
        _: Snowflake,
        _: Snowflake,
    ) -> Result<ChannelAccess, Denied> {
        Ok(ChannelAccess {
            can_speak: true,
            ..ChannelAccess::default()
        })
    }
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 10)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn join(
    voice: &Voice,
    user: u64,
) -> (
    VoiceConnection,
    tokio::sync::mpsc::UnboundedReceiver<VoiceEvent>,
) {
    let session = VoiceSession {
        session_id: format!("s{user}"),
        user_id: Snowflake::new(user),
    };
    let update = voice
        .join(&session, GUILD, CHANNEL, false, false)
        .await
        .expect("join")
        .expect("token");
    VoiceConnection::connect(
        VoiceServerInfo {
            endpoint: update.endpoint.unwrap(),
            guild_id: GUILD,
            user_id: Snowflake::new(user),
            session_id: session.session_id,
            token: update.token,
        },
        VoiceOptions::default(),
    )
    .await
    .expect("connect")
}

struct Row {
    listeners: usize,
    forwarded_per_sec: f64,
    cpu_us_per_packet: f64,
    p50_ms: f64,
    p99_ms: f64,
    received: usize,
    expected: usize,
}

async fn room(listeners: usize, secs: u64) -> Row {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let mut config = VoiceConfig::new(format!("ws://{addr}/voice"));
    config.max_per_channel = 10_000;
    let voice = Voice::new(config, Arc::new(Open));
    let app = voice.router::<()>("/voice");
    let server = tokio::spawn(async move { axum::serve(socket, app).await });

    let (speaker, _speaker_events) = join(&voice, 1).await;
    let epoch = Instant::now();
    let (lat_tx, mut lat_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, f64)>();
    let mut conns = Vec::new();
    for i in 0..listeners {
        let (conn, mut events) = join(&voice, 100 + i as u64).await;
        conns.push(conn);
        let lat_tx = lat_tx.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if let VoiceEvent::Rtp {
                    kind: MediaKind::Audio,
                    packet,
                    ..
                } = e
                    && packet.payload.len() >= 8
                {
                    let sent = u64::from_be_bytes(packet.payload[..8].try_into().unwrap());
                    let now = epoch.elapsed().as_micros() as u64;
                    let _ = lat_tx.send((i, now.saturating_sub(sent) as f64 / 1000.0));
                }
            }
        });
    }
    drop(lat_tx);

    // Warm up until every listener hears the speaker.
    let mut heard = vec![false; listeners];
    let warm_deadline = Instant::now() + Duration::from_secs(30);
    let mut frame = vec![0u8; FRAME_BYTES];
    while heard.iter().any(|h| !h) && Instant::now() < warm_deadline {
        frame[..8].copy_from_slice(&(epoch.elapsed().as_micros() as u64).to_be_bytes());
        speaker
            .send_audio(bytes::Bytes::from(frame.clone()), 960)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        while let Ok((i, _)) = lat_rx.try_recv() {
            heard[i] = true;
        }
    }

    // Let the warm-up's packets land before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while lat_rx.try_recv().is_ok() {}

    // Measure.
    let forwarded0 = voice.sfu().stats().forwarded.load(Ordering::Relaxed);
    let cpu0 = cpu_time();
    let start = Instant::now();
    let mut latencies = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0usize;
    while start.elapsed() < Duration::from_secs(secs) {
        ticker.tick().await;
        frame[..8].copy_from_slice(&(epoch.elapsed().as_micros() as u64).to_be_bytes());
        speaker
            .send_audio(bytes::Bytes::from(frame.clone()), 960)
            .await
            .unwrap();
        sent += 1;
        while let Ok((_, ms)) = lat_rx.try_recv() {
            latencies.push(ms);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok((_, ms)) = lat_rx.try_recv() {
        latencies.push(ms);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_time().saturating_sub(cpu0);
    let forwarded = voice.sfu().stats().forwarded.load(Ordering::Relaxed) - forwarded0;
    latencies.sort_by(|a, b| a.total_cmp(b));
    for c in conns {
        c.close().await;
    }
    speaker.close().await;
    server.abort();
    Row {
        listeners,
        forwarded_per_sec: forwarded as f64 / elapsed,
        cpu_us_per_packet: cpu.as_secs_f64() * 1e6 / forwarded.max(1) as f64,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        received: latencies.len(),
        expected: sent * listeners,
    }
}

fn main() {
    let rooms: Vec<usize> = std::env::var("SFU_ROOMS")
        .unwrap_or_else(|_| "1,5,10,25,50".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let secs: u64 = std::env::var("SFU_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("listeners  forwarded/s  cpu-us/packet  p50-ms  p99-ms  received/expected");
    for n in rooms {
        let row = rt.block_on(room(n, secs));
        println!(
            "{:>9}  {:>11.0}  {:>13.1}  {:>6.2}  {:>6.2}  {}/{}",
            row.listeners,
            row.forwarded_per_sec,
            row.cpu_us_per_packet,
            row.p50_ms,
            row.p99_ms,
            row.received,
            row.expected
        );
    }
}
