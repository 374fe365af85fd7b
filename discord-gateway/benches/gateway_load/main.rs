//! The gateway load tool: runs a gateway node in a child process (embedded
//! mode: in-memory sessions, presence and pub/sub) and drives it from this
//! process with real WebSocket sessions.
//!
//! ```sh
//! # 15,000 idle identified sessions: server RSS per session
//! cargo bench -p discord-gateway --bench gateway_load -- --sessions 15000 --seconds 0
//! # fanout: 5,000 sessions in one guild, 200 messages/s posted for 20 s
//! cargo bench -p discord-gateway --bench gateway_load -- --sessions 5000 --rate 200 --seconds 20
//! # the same after 6 s of unmeasured posting (every replay log full)
//! cargo bench -p discord-gateway --bench gateway_load -- --sessions 5000 --rate 200 --warmup 6 --seconds 10
//! # add --compress zlib-stream for transport compression; --hold 100 reads
//! # the RSS again after 100 s of heartbeats only
//! # cluster mode: sessions, presence and pub/sub on Redis (empty it first),
//! # the sessions spread over two nodes that share events through it
//! redis-cli flushall; LOAD_REDIS=redis://127.0.0.1:6379/0 LOAD_NODES=2 \
//!     cargo bench -p discord-gateway --bench gateway_load -- --sessions 5000 --rate 200 --warmup 6 --seconds 10
//! ```
//!
//! With several nodes, the server figures (RSS, CPU, writes) are the
//! nodes' sums; messages are posted to the first node.
//!
//! Reports sessions held, server RSS per session (RSS after connecting
//! minus RSS before, over the session count), deliveries per second,
//! server CPU time per delivered MESSAGE_CREATE (and of it the time in user
//! space: the server's own code, apart from the kernel's share), the
//! server's socket writes per delivery and the tool's own CPU time (the
//! two share the machine),
//! how long the (first) server's busiest thread, its writer, ran and how long it
//! waited for a CPU held by other threads,
//! and delivery latency p50 / p99 from the HTTP POST that publishes a
//! message to its receipt (the kernel's receive time on the session's
//! socket: `stamped.rs`), from the POST to the tool's read of it (receipt
//! plus the wait for the tool's own thread), from the server's publish
//! call to receipt, and
//! (with `--features fanout-timing`) from the server's fanout to its socket
//! write, the server's own share, with how long each session went between
//! two writes of the server's fanout writers.
//!
//! Each session's protocol logic (IDENTIFY, heartbeats, READY and
//! GUILD_CREATE) is discord-client's `ClientSession`; the tool does the
//! WebSocket upgrade and frame parsing itself (see `raw_ws.rs`) and checks
//! every frame it receives.
#![allow(missing_docs)]

/// The reference server's allocator, so that RSS and CPU figures are
/// the ones it would give.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod http_post;
mod probe;
mod raw_ws;
mod server;
mod stamped;
mod stats;

use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use discord_client::gateway::{ClientSession, Output, SessionConfig};
use discord_proto::compression::{Decoder, TransportCompression};
use discord_proto::gateway::{DispatchEvent, Intents, ServerMessage};
use serde_json::json;

use stats::{
    Histogram, busiest_thread, cpu_ticks, percentile_between, proc_status, thread_sched,
    user_system_ticks, write_syscalls,
};

const GUILD: u64 = 100;

/// The tool's latency histograms.
struct Latencies {
    /// From the POST to the kernel's receive time on the session's
    /// socket: delivery latency.
    receipt: Histogram,
    /// From the POST to the tool's read: receipt plus the wait for the
    /// tool's thread, which shares the cores with the server.
    read: Histogram,
    /// From the server's publish call to receipt: the fanout's share.
    from_publish: Histogram,
}

/// Messages sent before this time (ns since the epoch) were posted during
/// the warm-up and are not measured; set when measuring starts.
static MEASURED_FROM: AtomicU64 = AtomicU64::new(u64::MAX);
const CHANNEL: u64 = 10;

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

struct Args {
    sessions: usize,
    rate: u64,
    seconds: u64,
    warmup: u64,
    /// Seconds to hold the sessions idle (heartbeats only) before reading
    /// the server's RSS again.
    hold: u64,
    compress: Option<TransportCompression>,
}

fn args() -> Args {
    let mut a = Args {
        sessions: 1000,
        rate: 200,
        seconds: 10,
        warmup: 0,
        hold: 0,
        compress: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().expect("flag value");
        match arg.as_str() {
            "--sessions" => a.sessions = val().parse().unwrap(),
            "--rate" => a.rate = val().parse().unwrap(),
            "--seconds" => a.seconds = val().parse().unwrap(),
            "--warmup" => a.warmup = val().parse().unwrap(),
            "--hold" => a.hold = val().parse().unwrap(),
            "--compress" => a.compress = Some(val().parse().unwrap()),
            _ => {} // cargo bench passes --bench
        }
    }
    a
}

async fn session(
    addr: SocketAddr,
    n: usize,
    compress: Option<TransportCompression>,
    hists: Arc<Latencies>,
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
    // The kernel's receive time of the last read, and when the tool read it.
    let mut received_at = 0u128;
    let mut read_at = 0u128;
    let mut sends = Vec::new();
    // One timer for the session, moved only when its deadline does: a new
    // sleep per read registered and removed a timer in tokio's wheel for
    // every read.
    let mut armed = client.next_deadline();
    let timer = tokio::time::sleep_until(at_or_never(armed));
    tokio::pin!(timer);
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
            // Found with a prebuilt SIMD searcher, not decoded, so the
            // client side stays cheap next to the server.
            if guild_created && let Some((sent, published)) = probe::times(bytes) {
                if sent < u128::from(MEASURED_FROM.load(Ordering::Relaxed)) {
                    continue; // posted during the warm-up
                }
                hists.receipt.record(received_at.saturating_sub(sent));
                hists.read.record(read_at.saturating_sub(sent));
                if let Some(published) = published {
                    hists
                        .from_publish
                        .record(received_at.saturating_sub(published));
                }
                continue;
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
        if deadline != armed || timer.is_elapsed() {
            armed = deadline;
            timer.as_mut().reset(at_or_never(armed));
        }
        tokio::select! {
            read = ws.fill() => {
                let Ok((n, stamp)) = read else { return };
                if n == 0 {
                    return;
                }
                // Every frame of one read counts as received when its
                // last byte reached the socket (the kernel's stamp).
                read_at = now_nanos();
                received_at = stamp.map_or(read_at, u128::from);
            },
            () = &mut timer => {
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

/// A timer's instant for a deadline (`None`: in a year, never in a run).
fn at_or_never(deadline: Option<std::time::Instant>) -> tokio::time::Instant {
    deadline.map_or_else(
        || tokio::time::Instant::now() + Duration::from_secs(365 * 86_400),
        Into::into,
    )
}

/// Posts `rate` messages per second for `seconds`; returns how many.
async fn post_at(sender: &mut http_post::Sender, rate: u64, seconds: u64) -> u64 {
    let begin = Instant::now();
    // Post every 10 ms, or less often for rates under 100/s.
    let tick = Duration::from_millis(10).max(Duration::from_secs(1) / rate.max(1) as u32);
    let per_tick = rate.max(1) as f64 * tick.as_secs_f64();
    let mut posted = 0u64;
    let mut ticks = 0u64;
    let mut next = Instant::now();
    while begin.elapsed() < Duration::from_secs(seconds) {
        // Whole messages per tick that add up to the asked rate (250/s
        // is 2, 3, 2, 3, ... every 10 ms).
        ticks += 1;
        let count = (ticks as f64 * per_tick).round() as u64 - posted;
        if count > 0 {
            let body = json!({"count": count, "sent": now_nanos().to_string()}).to_string();
            http_post::post(sender, "/publish", body).await;
            posted += count;
        }
        next += tick;
        tokio::time::sleep_until(next.into()).await;
    }
    posted
}

/// The socket writes the nodes' fanout writers have made: `sendmsg`
/// calls, which `/proc/<pid>/io` does not count as writes.
async fn fanout_writes(nodes: &[(SocketAddr, u32)]) -> u64 {
    let mut total = 0;
    for (addr, _) in nodes {
        let http = tokio::net::TcpStream::connect(addr).await.unwrap();
        let answer = http_post::post(&mut http_post::Sender(http), "/writes", String::new()).await;
        total += answer
            .trim_end_matches("ok")
            .trim()
            .parse::<u64>()
            .expect("/writes: a count");
    }
    total
}

/// Starts a gateway node in a child process; returns where it listens.
/// `prefix`: the Redis key prefix the nodes of a run share (cluster mode).
fn spawn_node(prefix: &str) -> (SocketAddr, std::process::Child) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .arg("--server")
        .env("LOAD_PREFIX", prefix)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server process");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (line.trim().parse().unwrap(), child)
}

async fn client(args: Args) {
    // `LOAD_SERVER=ADDR,PID` drives a server started by hand (e.g. under
    // a heap profiler: `heaptrack <bench binary> --server`).
    // `LOAD_NODES=N` (with `LOAD_REDIS`) starts N nodes that share Redis:
    // sessions are spread over them in turn, messages are posted to the
    // first, and the other nodes get them through Redis pub/sub.
    let mut children = Vec::new();
    let nodes: Vec<(SocketAddr, u32)> = match std::env::var("LOAD_SERVER") {
        Ok(v) => {
            let (addr, pid) = v.split_once(',').expect("LOAD_SERVER=ADDR,PID");
            vec![(addr.parse().unwrap(), pid.parse().unwrap())]
        }
        Err(_) => {
            let count: usize = std::env::var("LOAD_NODES")
                .map(|n| n.parse().expect("LOAD_NODES: a number"))
                .unwrap_or(1);
            assert!(
                count == 1 || std::env::var_os("LOAD_REDIS").is_some(),
                "LOAD_NODES above 1 needs LOAD_REDIS: nodes share events through Redis"
            );
            let prefix = format!("load{}:", std::process::id());
            (0..count.max(1))
                .map(|_| {
                    let (addr, child) = spawn_node(&prefix);
                    let pid = child.id();
                    children.push(child);
                    (addr, pid)
                })
                .collect()
        }
    };
    let addr = nodes[0].0;
    let pids: Vec<u32> = nodes.iter().map(|(_, pid)| *pid).collect();
    let sum = |f: &dyn Fn(u32) -> u64| pids.iter().map(|&pid| f(pid)).sum::<u64>();
    // The nodes' CPU time in user space and in all, from one reading of
    // each node's /proc/<pid>/stat.
    let server_ticks = || {
        let (user, system) = pids
            .iter()
            .map(|&pid| user_system_ticks(pid))
            .fold((0, 0), |(u, s), (du, ds)| (u + du, s + ds));
        (user, user + system)
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = sum(&|pid| proc_status(pid, "VmRSS:"));
    let hists = Arc::new(Latencies {
        receipt: Histogram::new(),
        read: Histogram::new(),
        from_publish: Histogram::new(),
    });
    let hist = &hists.receipt;
    let ready = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    for n in 0..args.sessions {
        let permit = Arc::clone(&gate).acquire_owned().await.unwrap();
        let (hists, ready2) = (Arc::clone(&hists), Arc::clone(&ready));
        let target = n as u64 + 1;
        let node = nodes[n % nodes.len()].0;
        tokio::spawn(session(node, n, args.compress, hists, ready2));
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
    let rss_after = sum(&|pid| proc_status(pid, "VmRSS:"));
    let per_session = (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / args.sessions as f64;
    println!(
        "sessions held: {} on {} node(s) (identified in {connect_secs:.1} s), compression: {}",
        args.sessions,
        nodes.len(),
        args.compress.map_or("none".into(), |c| c.to_string())
    );
    println!(
        "server RSS: {rss_before} KiB before, {rss_after} KiB after: {per_session:.0} bytes per session"
    );
    if args.hold > 0 {
        tokio::time::sleep(Duration::from_secs(args.hold)).await;
        let rss_held = sum(&|pid| proc_status(pid, "VmRSS:"));
        let per_session =
            (rss_held.saturating_sub(rss_before)) as f64 * 1024.0 / args.sessions as f64;
        println!(
            "server RSS after {} s idle: {rss_held} KiB: {per_session:.0} bytes per session",
            args.hold
        );
    }
    if args.seconds > 0 {
        let http = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut sender = http_post::Sender(http);
        if args.warmup > 0 {
            // Unmeasured: each session's replay log fills to its capacity
            // (its first 1,000 events allocate the log's memory), as on a
            // server that has been running.
            post_at(&mut sender, args.rate, args.warmup).await;
        }
        MEASURED_FROM.store(now_nanos() as u64, Ordering::Relaxed);
        let ticks_per_sec = 100.0; // USER_HZ on Linux
        http_post::post(&mut sender, "/timing", String::new()).await;
        let (user_before, cpu_before) = server_ticks();
        let tool_cpu_before = cpu_ticks(std::process::id());
        let writes_before = sum(&write_syscalls) + fanout_writes(&nodes).await;
        let sched_before = thread_sched(pids[0]);
        let received_before = hist.count();
        let begin = Instant::now();
        // A snapshot of the latencies every second, for p99 second by
        // second (by time of receipt): a steady tail or a few bad seconds.
        let seconds = args.seconds;
        let by_second = tokio::spawn({
            let hists = Arc::clone(&hists);
            async move {
                let hist = &hists.receipt;
                let mut snapshots = vec![hist.snapshot()];
                let mut every = tokio::time::interval_at(
                    tokio::time::Instant::now() + Duration::from_secs(1),
                    Duration::from_secs(1),
                );
                for _ in 1..seconds {
                    every.tick().await;
                    snapshots.push(hist.snapshot());
                }
                snapshots
            }
        });
        let posted = post_at(&mut sender, args.rate, args.seconds).await;
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
        let (user_after, cpu_after) = server_ticks();
        let cpu = (cpu_after - cpu_before) as f64 / ticks_per_sec;
        let user = (user_after - user_before) as f64 / ticks_per_sec;
        let tool_cpu = (cpu_ticks(std::process::id()) - tool_cpu_before) as f64 / ticks_per_sec;
        let writes = sum(&write_syscalls) + fanout_writes(&nodes).await - writes_before;
        let sched_after = thread_sched(pids[0]);
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
            "of which in user space (the server's own code): {user:.2} s = {:.3} µs (user) per delivery",
            user * 1e6 / delivered.max(1) as f64
        );
        println!(
            "server write calls: {writes} = {:.2} deliveries per write; load tool CPU: {tool_cpu:.2} s = {:.2} µs per delivery",
            delivered as f64 / writes.max(1) as f64,
            tool_cpu * 1e6 / delivered.max(1) as f64
        );
        if let Some((run, wait)) = busiest_thread(&sched_before, &sched_after) {
            println!(
                "the server's busiest thread (its writer): {run:.2} s on a CPU, {wait:.2} s waiting for one"
            );
        }
        println!(
            "latency POST -> receipt: p50 {:?}, p99 {:?}",
            hist.percentile(0.5),
            hist.percentile(0.99)
        );
        println!(
            "latency POST -> read by the tool: p50 {:?}, p99 {:?}",
            hists.read.percentile(0.5),
            hists.read.percentile(0.99)
        );
        let mut snapshots = by_second.await.unwrap();
        snapshots.push(hist.snapshot());
        let p99s: Vec<String> = snapshots
            .windows(2)
            .map(|w| {
                format!(
                    "{:.1}",
                    percentile_between(&w[0], &w[1], 0.99).as_secs_f64() * 1e3
                )
            })
            .collect();
        println!(
            "p99 second by second (ms, the last until the tail arrived): {}",
            p99s.join(" ")
        );
        println!(
            "of which publish -> receipt: p50 {:?}, p99 {:?}",
            hists.from_publish.percentile(0.5),
            hists.from_publish.percentile(0.99)
        );
        let timing = http_post::post(&mut sender, "/timing", String::new()).await;
        match timing.split_whitespace().collect::<Vec<_>>()[..] {
            [n, p50, p99, gaps, g50, g99, gmax, "ok"] => {
                let ms = |us: &str| us.parse::<f64>().unwrap_or(f64::NAN) / 1000.0;
                println!(
                    "of which fanout -> socket write in the server ({n} deliveries): p50 {:.1} ms, p99 {:.1} ms",
                    ms(p50),
                    ms(p99)
                );
                println!(
                    "a session's time between two writes ({gaps} gaps): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    ms(g50),
                    ms(g99),
                    ms(gmax)
                );
            }
            _ => println!("(build with --features fanout-timing for the server's share)"),
        }
    }
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
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
        // As the reference server does (reference-server/src/main.rs).
        #[cfg(not(target_env = "msvc"))]
        tikv_jemalloc_ctl::background_thread::write(true).expect("jemalloc background threads");
        runtime.block_on(server::server());
    } else {
        runtime.block_on(client(args()));
    }
}
