//! The gateway load tool: runs a gateway node in a child process (embedded
//! mode: in-memory sessions, presence and pub/sub) and drives it from this
//! process with real WebSocket sessions.
//!
//! ```sh
//! # 15,000 idle identified sessions: server RSS per session
//! cargo bench -p discord-gateway --bench gateway_load -- --sessions 15000 --seconds 0
//! # fanout: 5,000 sessions in one guild, 200 messages/s posted for 20 s
//! cargo bench -p discord-gateway --bench gateway_load -- --sessions 5000 --rate 200 --seconds 20
//! # add --compress zlib-stream for transport compression
//! ```
//!
//! Reports sessions held, server RSS per session (RSS after connecting
//! minus RSS before, over the session count), deliveries per second,
//! server CPU time per delivered MESSAGE_CREATE, the server's socket writes
//! per delivery and the tool's own CPU time (the two share the machine),
//! and delivery latency p50 / p99 from the HTTP POST that publishes a
//! message to its receipt, from the server's publish call to receipt, and
//! (with `--features fanout-timing`) from the server's fanout to its socket
//! write, the server's own share.
//!
//! Each session's protocol logic (IDENTIFY, heartbeats, READY and
//! GUILD_CREATE) is discord-client's `ClientSession`; the tool does the
//! WebSocket upgrade and frame parsing itself (see `raw_ws`) and checks
//! every frame it receives.
#![allow(missing_docs)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::extract::State;
use axum::routing::post;
use discord_client::gateway::{ClientSession, Output, SessionConfig};
use discord_gateway::{
    AuthError, Event, Gateway, GatewayConfig, GatewayData, GatewayStores, Identity, MemberQuery,
};
use discord_proto::Snowflake;
use discord_proto::compression::{Decoder, TransportCompression};
use discord_proto::gateway::{DispatchEvent, GatewayGuild, Intents, ServerMessage};
use discord_proto::model::{Member, User};
use discord_store::backend::memory::{MemoryPresence, MemoryPubSub, MemorySessions};
use serde_json::json;
use std::io::BufRead;

const GUILD: u64 = 100;
const CHANNEL: u64 = 10;

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

// ---------------------------------------------------------------- server

/// Every `token-N` is user N, a member of guild 100 with one open channel.
struct LoadData;

fn user(n: u64) -> User {
    serde_json::from_value(json!({"id": n.to_string(), "username": format!("u{n}"), "discriminator": "0", "avatar": null})).unwrap()
}

#[async_trait]
impl GatewayData for LoadData {
    async fn authenticate(&self, token: &str) -> Result<Identity, AuthError> {
        let n = token
            .strip_prefix("token-")
            .and_then(|n| n.parse().ok())
            .ok_or(AuthError::InvalidToken)?;
        Ok(Identity {
            user: user(n),
            application: None,
            allowed_privileged: Intents::PRIVILEGED,
        })
    }

    async fn guilds(&self, user_id: Snowflake) -> Result<Vec<GatewayGuild>, String> {
        let g = serde_json::from_value(json!({
            "id": GUILD.to_string(), "name": "load", "owner_id": "1",
            "roles": [{"id": GUILD.to_string(), "name": "@everyone", "permissions": "3072",
                       "position": 0, "color": 0, "hoist": false, "managed": false, "mentionable": false}],
            "channels": [{"id": CHANNEL.to_string(), "type": 0, "guild_id": GUILD.to_string(), "name": "busy"}],
            "members": [{"user": {"id": user_id.to_string(), "username": "u", "discriminator": "0", "avatar": null},
                         "roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false}],
            "member_count": 1
        }))
        .map_err(|e| e.to_string())?;
        Ok(vec![g])
    }

    async fn guild_ids(&self, _: Snowflake) -> Result<Vec<Snowflake>, String> {
        Ok(vec![Snowflake::new(GUILD)])
    }

    async fn members(
        &self,
        _: Snowflake,
        _: &MemberQuery,
        _: usize,
    ) -> Result<Vec<Member>, String> {
        Ok(Vec::new())
    }
}

#[derive(serde::Deserialize)]
struct Publish {
    count: u64,
    /// Client clock (ns since the epoch) when the POST was sent.
    sent: String,
}

async fn publish(State(gw): State<Gateway>, body: String) -> &'static str {
    let p: Publish = serde_json::from_str(&body).expect("publish body");
    for i in 0..p.count {
        let event = Event::raw(
            "MESSAGE_CREATE",
            Some(Snowflake::new(GUILD)),
            &json!({"id": (1 << 40) + i, "channel_id": CHANNEL.to_string(), "guild_id": GUILD.to_string(),
                    "author": {"id": "1", "username": "poster", "discriminator": "0", "avatar": null},
                    "content": "a typical chat message of modest length", "nonce": p.sent,
                    "published": now_nanos().to_string(),
                    "timestamp": "2026-01-01T00:00:00+00:00", "mentions": [], "embeds": [],
                    "attachments": [], "type": 0, "tts": false, "pinned": false,
                    "mention_everyone": false, "mention_roles": []}),
        )
        .expect("event");
        gw.publish(&event).await.expect("publish");
    }
    "ok"
}

/// The server's share of delivery latency since the last call (from the
/// fanout to the socket write), with `--features fanout-timing`.
async fn timing() -> String {
    #[cfg(feature = "fanout-timing")]
    {
        let (n, p) = discord_gateway::timing::take_percentiles(&[0.5, 0.99]);
        format!("{n} {} {} ok", p[0].as_micros(), p[1].as_micros())
    }
    #[cfg(not(feature = "fanout-timing"))]
    "off ok".to_owned()
}

async fn server() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = GatewayConfig {
        resume_gateway_url: format!("ws://{addr}"),
        ..GatewayConfig::default()
    };
    let stores = GatewayStores {
        sessions: Arc::new(MemorySessions::new(1000)),
        presence: Arc::new(MemoryPresence::new()),
        pubsub: Arc::new(MemoryPubSub::new()),
    };
    let gw = Gateway::start(config, Arc::new(LoadData), None, stores)
        .await
        .unwrap();
    let app = gw.router::<()>("/gateway").merge(
        axum::Router::new()
            .route("/publish", post(publish))
            .route("/timing", post(timing))
            .with_state(gw.clone()),
    );
    // Tell the parent where we listen.
    println!("{addr}");
    axum::serve(listener, app).await.unwrap();
}

// ---------------------------------------------------------------- client

struct Args {
    sessions: usize,
    rate: u64,
    seconds: u64,
    compress: Option<TransportCompression>,
}

fn args() -> Args {
    let mut a = Args {
        sessions: 1000,
        rate: 200,
        seconds: 10,
        compress: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().expect("flag value");
        match arg.as_str() {
            "--sessions" => a.sessions = val().parse().unwrap(),
            "--rate" => a.rate = val().parse().unwrap(),
            "--seconds" => a.seconds = val().parse().unwrap(),
            "--compress" => a.compress = Some(val().parse().unwrap()),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

fn proc_status(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Write system calls (`write`, `writev`, ...) a process has made.
fn write_syscalls(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("syscw: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A process's CPU time (user + system) in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Latencies in 10 µs buckets up to 2 s. The count is striped over
/// cache lines by session, so the tool's two threads do not fight over one
/// counter a million times a second.
struct Histogram {
    buckets: Vec<AtomicU64>,
    counts: Vec<Stripe>,
}

#[repr(align(128))]
#[derive(Default)]
struct Stripe(AtomicU64);

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: (0..200_001).map(|_| AtomicU64::new(0)).collect(),
            counts: (0..64).map(|_| Stripe::default()).collect(),
        }
    }
    fn record(&self, session: usize, nanos: u128) {
        let i = ((nanos / 10_000) as usize).min(self.buckets.len() - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.counts[session % self.counts.len()]
            .0
            .fetch_add(1, Ordering::Relaxed);
    }
    fn count(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .sum()
    }
    fn percentile(&self, p: f64) -> Duration {
        let total = self.count();
        let target = ((total as f64) * p).ceil() as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= target.max(1) {
                return Duration::from_micros(i as u64 * 10 + 10);
            }
        }
        Duration::MAX
    }
}

async fn session(
    addr: SocketAddr,
    n: usize,
    compress: Option<TransportCompression>,
    hist: Arc<Histogram>,
    from_publish: Arc<Histogram>,
    ready: Arc<AtomicU64>,
) {
    // The session logic (IDENTIFY, heartbeats with jitter, what READY and
    // GUILD_CREATE mean) is discord-client's; this tool only adds source
    // addresses and the latency probe.
    let mut client = ClientSession::new(SessionConfig {
        token: format!("token-{}", n + 2),
        intents: Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT,
        shard: None,
        gateway_url: format!("ws://{addr}/gateway/"),
        compression: compress,
    });
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (n % 16) as u8));
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    let stream = socket.connect(addr).await.expect("connect");
    let mut ws = raw_ws::Client::connect(stream, &client.connect_url()).await;
    let mut decoder = compress.map(|c| Decoder::new(c, 1 << 24).unwrap());
    let mut inflated: Vec<u8>;
    let mut guild_created = false;
    let mut sends = Vec::new();
    loop {
        // Every complete frame read so far.
        while let Some(frame) = ws.next_frame() {
            let bytes: &[u8] = match (frame, decoder.as_mut()) {
                (raw_ws::Frame::Text(t), _) => t,
                (raw_ws::Frame::Binary(b), Some(d)) => match d.push(b).unwrap() {
                    Some(out) => {
                        inflated = out;
                        &inflated
                    }
                    None => continue,
                },
                (raw_ws::Frame::Close, _) => return,
                _ => continue,
            };
            // The probe: a MESSAGE_CREATE's nonce is its send time.
            // Scanned, not decoded, so the client side stays cheap next to
            // the server.
            if guild_created {
                let text = std::str::from_utf8(bytes).unwrap();
                if let Some(i) = text.find(r#""nonce":""#) {
                    let rest = &text[i + 9..];
                    let sent: u128 = rest[..rest.find('"').unwrap()].parse().unwrap();
                    let now = now_nanos();
                    hist.record(n, now.saturating_sub(sent));
                    if let Some(j) = text.find(r#""published":""#) {
                        let rest = &text[j + 13..];
                        let published: u128 = rest[..rest.find('"').unwrap()].parse().unwrap();
                        from_publish.record(n, now.saturating_sub(published));
                    }
                    continue;
                }
            }
            let Ok(message) = ServerMessage::decode(bytes) else {
                continue;
            };
            for out in client.on_message(message, std::time::Instant::now(), rand::random()) {
                match out {
                    Output::Send(cmd) => sends.push(cmd.encode()),
                    Output::Deliver {
                        event: DispatchEvent::GuildCreate(_),
                        ..
                    } if !guild_created => {
                        guild_created = true;
                        ready.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        }
        for text in sends.drain(..) {
            if ws.send_text(&text).await.is_err() {
                return;
            }
        }
        let deadline = client.next_deadline();
        tokio::select! {
            read = ws.fill() => if !matches!(read, Ok(n) if n > 0) {
                return;
            },
            _ = sleep_until(deadline) => {
                for out in client.on_tick(std::time::Instant::now()) {
                    if let Output::Send(cmd) = out
                        && ws.send_text(&cmd.encode()).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// The tool's WebSocket client: the upgrade, then frames parsed straight
/// from one read buffer per session (a frame per message through
/// tokio-tungstenite, with its allocation, copy and stream machinery, cost
/// the tool CPU that it takes from the server on the shared cores).
mod raw_ws {
    use std::io::Cursor;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame as WsFrame, FrameHeader};

    /// Read buffer per session: a batch of events fits many times over.
    const READ_SPACE: usize = 16 * 1024;

    pub(crate) struct Client {
        stream: TcpStream,
        buf: Vec<u8>,
        /// Where unparsed data starts in `buf`.
        start: usize,
    }

    pub(crate) enum Frame<'a> {
        Text(&'a [u8]),
        Binary(&'a [u8]),
        Close,
        Other,
    }

    impl Client {
        /// The HTTP upgrade; bytes after the response's headers (HELLO may
        /// come in the same read) stay buffered.
        pub(crate) async fn connect(mut stream: TcpStream, url: &str) -> Client {
            let rest = url.strip_prefix("ws://").expect("ws:// URL");
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
            let request = format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
            );
            stream
                .write_all(request.as_bytes())
                .await
                .expect("upgrade request");
            let mut buf = Vec::with_capacity(READ_SPACE);
            let end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let n = stream.read_buf(&mut buf).await.expect("upgrade response");
                assert!(n > 0, "connection closed during the upgrade");
            };
            let head = std::str::from_utf8(&buf[..end]).expect("response head");
            assert!(head.starts_with("HTTP/1.1 101"), "upgrade refused: {head}");
            let accept =
                tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
            assert!(
                head.lines().any(
                    |l| l.to_ascii_lowercase().starts_with("sec-websocket-accept:")
                        && l.ends_with(&accept)
                ),
                "wrong Sec-WebSocket-Accept"
            );
            Client {
                stream,
                buf,
                start: end,
            }
        }

        /// The next complete frame in the buffer, if there is one.
        pub(crate) fn next_frame(&mut self) -> Option<Frame<'_>> {
            let mut cursor = Cursor::new(&self.buf[self.start..]);
            let (header, len) = FrameHeader::parse(&mut cursor).expect("frame header")?;
            let from = self.start + cursor.position() as usize;
            let to = from + usize::try_from(len).unwrap();
            if to > self.buf.len() {
                return None;
            }
            assert!(header.is_final, "the gateway sends whole messages");
            self.start = to;
            let payload = &self.buf[from..to];
            Some(match header.opcode {
                OpCode::Data(Data::Text) => Frame::Text(payload),
                OpCode::Data(Data::Binary) => Frame::Binary(payload),
                OpCode::Control(Control::Close) => Frame::Close,
                _ => Frame::Other,
            })
        }

        /// Reads more (cancel safe: a read that did not finish took
        /// nothing).
        pub(crate) async fn fill(&mut self) -> std::io::Result<usize> {
            if self.start == self.buf.len() {
                self.buf.clear();
                self.start = 0;
            } else if self.buf.capacity() - self.buf.len() < READ_SPACE / 2 {
                self.buf.drain(..self.start);
                self.start = 0;
                self.buf.reserve(READ_SPACE / 2);
            }
            self.stream.read_buf(&mut self.buf).await
        }

        /// Sends a text frame, masked as a client must.
        pub(crate) async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
            let mut frame =
                WsFrame::message(text.as_bytes().to_vec(), OpCode::Data(Data::Text), true);
            frame.header_mut().mask = Some(rand::random());
            let mut out = Vec::with_capacity(text.len() + 14);
            frame.format(&mut out).expect("frame into a Vec");
            self.stream.write_all(&out).await
        }
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn client(args: Args) {
    // `LOAD_SERVER=ADDR,PID` drives a server started by hand (e.g. under
    // a heap profiler: `heaptrack <bench binary> --server`).
    let (addr, pid, mut child): (SocketAddr, u32, Option<std::process::Child>) =
        match std::env::var("LOAD_SERVER") {
            Ok(v) => {
                let (addr, pid) = v.split_once(',').expect("LOAD_SERVER=ADDR,PID");
                (addr.parse().unwrap(), pid.parse().unwrap(), None)
            }
            Err(_) => {
                let exe = std::env::current_exe().unwrap();
                let mut child = Command::new(exe)
                    .arg("--server")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("server process");
                let pid = child.id();
                let mut line = String::new();
                std::io::BufReader::new(child.stdout.take().unwrap())
                    .read_line(&mut line)
                    .unwrap();
                (line.trim().parse().unwrap(), pid, Some(child))
            }
        };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = proc_status(pid, "VmRSS:");
    let hist = Arc::new(Histogram::new());
    // From the server's publish call to receipt: the fanout's share.
    let from_publish = Arc::new(Histogram::new());
    let ready = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    for n in 0..args.sessions {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        let (hist, from_publish, ready2) = (
            Arc::clone(&hist),
            Arc::clone(&from_publish),
            Arc::clone(&ready),
        );
        let target = n as u64 + 1;
        tokio::spawn(session(addr, n, args.compress, hist, from_publish, ready2));
        // Hold the permit until this session is ready: at most 256
        // handshakes in flight.
        let ready = Arc::clone(&ready);
        tokio::spawn(async move {
            while ready.load(Ordering::Relaxed) < target.saturating_sub(256) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            drop(permit);
        });
    }
    while (ready.load(Ordering::Relaxed) as usize) < args.sessions {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "sessions did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = proc_status(pid, "VmRSS:");
    let per_session = (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / args.sessions as f64;
    println!(
        "sessions held: {} (identified in {connect_secs:.1} s), compression: {}",
        args.sessions,
        args.compress.map_or("none".into(), |c| c.to_string())
    );
    println!(
        "server RSS: {rss_before} KiB before, {rss_after} KiB after: {per_session:.0} bytes per session"
    );
    if args.seconds > 0 {
        let http = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut sender = http_post::Sender(http);
        let ticks_per_sec = 100.0; // USER_HZ on Linux
        http_post::post(&mut sender, "/timing", String::new()).await;
        let cpu_before = cpu_ticks(pid);
        let tool_cpu_before = cpu_ticks(std::process::id());
        let writes_before = write_syscalls(pid);
        let received_before = hist.count();
        let begin = Instant::now();
        // Post every 10 ms, or less often for rates under 100/s.
        let tick = Duration::from_millis(10).max(Duration::from_secs(1) / args.rate.max(1) as u32);
        let per_tick = args.rate.max(1) as f64 * tick.as_secs_f64();
        let mut posted = 0u64;
        let mut ticks = 0u64;
        let mut next = Instant::now();
        while begin.elapsed() < Duration::from_secs(args.seconds) {
            // Whole messages per tick that add up to the asked rate (250/s
            // is 2, 3, 2, 3, ... every 10 ms).
            ticks += 1;
            let count = (ticks as f64 * per_tick).round() as u64 - posted;
            if count > 0 {
                let body = json!({"count": count, "sent": now_nanos().to_string()}).to_string();
                http_post::post(&mut sender, "/publish", body).await;
                posted += count;
            }
            next += tick;
            tokio::time::sleep_until(next.into()).await;
        }
        let offered_secs = begin.elapsed().as_secs_f64();
        let expected = posted * args.sessions as u64;
        // Let the tail arrive.
        let drain_start = Instant::now();
        while hist.count() - received_before < expected
            && drain_start.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let total_secs = begin.elapsed().as_secs_f64();
        let cpu = (cpu_ticks(pid) - cpu_before) as f64 / ticks_per_sec;
        let tool_cpu = (cpu_ticks(std::process::id()) - tool_cpu_before) as f64 / ticks_per_sec;
        let writes = write_syscalls(pid) - writes_before;
        let delivered = hist.count() - received_before;
        println!(
            "posted {posted} messages in {offered_secs:.1} s ({:.0} deliveries/s offered)",
            expected as f64 / offered_secs
        );
        println!(
            "delivered {delivered} of {expected} in {total_secs:.1} s: {:.0} deliveries/s",
            delivered as f64 / total_secs
        );
        println!(
            "server CPU: {cpu:.2} s = {:.2} µs per delivered MESSAGE_CREATE",
            cpu * 1e6 / delivered.max(1) as f64
        );
        println!(
            "server write calls: {writes} = {:.2} deliveries per write; load tool CPU: {tool_cpu:.2} s = {:.2} µs per delivery",
            delivered as f64 / writes.max(1) as f64,
            tool_cpu * 1e6 / delivered.max(1) as f64
        );
        println!(
            "latency POST -> receipt: p50 {:?}, p99 {:?}",
            hist.percentile(0.5),
            hist.percentile(0.99)
        );
        println!(
            "of which publish -> receipt: p50 {:?}, p99 {:?}",
            from_publish.percentile(0.5),
            from_publish.percentile(0.99)
        );
        let timing = http_post::post(&mut sender, "/timing", String::new()).await;
        match timing.split_whitespace().collect::<Vec<_>>()[..] {
            [n, p50, p99, "ok"] => {
                let ms = |us: &str| us.parse::<f64>().unwrap_or(f64::NAN) / 1000.0;
                println!(
                    "of which fanout -> socket write in the server ({n} deliveries): p50 {:.1} ms, p99 {:.1} ms",
                    ms(p50),
                    ms(p99)
                );
            }
            _ => println!("(build with --features fanout-timing for the server's share)"),
        }
    }
    if let Some(child) = child.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A minimal HTTP/1.1 POST over one kept-alive connection.
mod http_post {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub(crate) struct Sender(pub(crate) TcpStream);

    /// Posts `body`; returns the response's body (which ends with "ok").
    pub(crate) async fn post(s: &mut Sender, path: &str, body: String) -> String {
        let req = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.0.write_all(req.as_bytes()).await.unwrap();
        // The answer is small: read until the body "ok" arrives.
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.ends_with(b"ok") {
            let n = s.0.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the control connection");
            buf.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&buf);
        text.split_once("\r\n\r\n")
            .map_or(String::new(), |(_, body)| body.to_owned())
    }
}

fn main() {
    let server_mode = std::env::args().any(|a| a == "--server");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if server_mode {
        // Exit cleanly when stdin closes (so profilers write their data).
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
        runtime.block_on(server());
    } else {
        runtime.block_on(client(args()));
    }
}
