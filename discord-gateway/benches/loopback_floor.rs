//! The machine's floor for fanout over loopback TCP: what any server pays,
//! before any gateway code, to deliver the load tool's traffic shape.
//!
//! ```sh
//! cargo bench -p discord-gateway --bench loopback_floor -- --sessions 5000 --rate 200 --warmup 6 --seconds 10
//! ```
//!
//! A writer process holds `--sessions` accepted connections and does
//! nothing but the socket writes a gateway must do: each of its threads
//! (`--writers`, 2 by default, like the gateway's runtime) goes round its
//! share of the connections and writes each one, in one `writev`, every
//! event published since that connection's last write. Events are
//! pre-built WebSocket text frames of a MESSAGE_CREATE's size, published at
//! `--rate` per second every 10 ms, each carrying its publish time. This
//! process is the client: it reads every connection with plain epoll (mio)
//! on `--readers` threads and records publish-to-receipt latency (receipt:
//! the kernel's receive time on the socket; the time of this process's
//! read is reported too). The writer reports how long each connection
//! went between two of its writes in the measured part of the run: a
//! round-robin writer's latency is at most about that gap, so its spread
//! is where the latency's tail comes from.
//!
//! No queue, no task, no lock, no replay log: the writer's only work is
//! the kernel's. Its sweep time (every connection written once) and the
//! latency it gives at a rate are the least a gateway on these cores can
//! reach with its client beside it; docs/benchmarks.md compares the gateway
//! with it.
//!
//! `--contiguous` copies each write's frames into one buffer and writes
//! that as one slice, instead of one slice per frame.
//!
//! By default a writer thread starts its next sweep as soon as one ends
//! (as the gateway does). `--period MS` starts sweeps at most every MS
//! milliseconds, and `--spread` spreads each sweep's writes evenly over
//! that period; events published during a sweep join it every 32
//! connections.
#![allow(missing_docs)]

use std::io::{BufRead, IoSlice, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpStream as MioStream;
// The load tool's readings of /proc (CPU time, write calls).
#[allow(dead_code)]
#[path = "gateway_load/stats.rs"]
mod stats;
use mio::{Events, Interest, Poll, Token};
use stats::{cpu_ticks, write_syscalls};
// Reads with the kernel's receive time, as the load tool's.
#[path = "gateway_load/stamped.rs"]
mod stamped;

/// How often events are published (the load tool posts every 10 ms too).
const TICK: Duration = Duration::from_millis(10);
/// Where the publish time's 19 digits start in a frame's payload.
const STAMP_AT: usize = 6;
/// Events kept ready to write; a connection further behind than this is
/// a failed run.
const RING: usize = 1 << 14;

/// Events published once `ticks` ticks have begun, at `rate` per second:
/// whole events per tick adding up to the rate (`ticks * rate / 100`,
/// rounded half up), in integers so that no rate is off by a rounding.
fn published_by(ticks: u64, rate: u64) -> u64 {
    let per_second = 1_000_000_000 / TICK.as_nanos() as u64;
    (2 * ticks * rate + per_second) / (2 * per_second)
}

/// The tick (from 0) at whose start event `n` is published: the first
/// whose [`published_by`] passes `n`. Its start is the event's stamp, so
/// an event is never written before its stamp (until 7 December the stamp
/// was the tick after publishing at rates under 100/s, whose latency read
/// up to a tick too low).
fn publish_tick(n: u64, rate: u64) -> u64 {
    let per_second = 1_000_000_000 / TICK.as_nanos() as u64;
    // published_by(t + 1) > n  <=>  2 (t + 1) rate >= (2n + 1) per_second.
    ((2 * n + 1) * per_second).div_ceil(2 * rate) - 1
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

struct Args {
    sessions: usize,
    rate: u64,
    seconds: u64,
    warmup: u64,
    writers: usize,
    readers: usize,
    /// Least time between the starts of a writer's sweeps (0: write as
    /// soon as anything is published).
    period: Duration,
    /// Spread each sweep's writes evenly over the period.
    spread: bool,
    /// Copy each write's frames into one buffer and write it as one slice
    /// (else one slice per frame).
    contiguous: bool,
}

fn args() -> Args {
    let mut a = Args {
        sessions: 5000,
        rate: 200,
        seconds: 10,
        warmup: 0,
        writers: 2,
        readers: 2,
        period: Duration::ZERO,
        spread: false,
        contiguous: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().expect("flag value");
        match arg.as_str() {
            "--sessions" => a.sessions = val().parse().unwrap(),
            "--rate" => a.rate = val().parse().unwrap(),
            "--seconds" => a.seconds = val().parse().unwrap(),
            "--warmup" => a.warmup = val().parse().unwrap(),
            "--writers" => a.writers = val().parse().unwrap(),
            "--readers" => a.readers = val().parse().unwrap(),
            "--spread" => a.spread = true,
            "--contiguous" => a.contiguous = true,
            "--period" => a.period = Duration::from_millis(val().parse().unwrap()),
            _ => {} // cargo bench passes --bench; --writer is the mode
        }
    }
    a
}

/// A WebSocket text frame the size of the load tool's MESSAGE_CREATE
/// (about 560 bytes), with `stamp` at [`STAMP_AT`] of its payload.
fn frame(stamp: u64, seq: u64) -> Vec<u8> {
    let payload = format!(
        concat!(
            r#"{{"p":"{:019}","t":"MESSAGE_CREATE","s":{},"op":0,"d":{{"attachments":[],"#,
            r#""author":{{"avatar":null,"discriminator":"0","id":"1","username":"poster"}},"#,
            r#""channel_id":"10","content":"a typical chat message of modest length","#,
            r#""embeds":[],"guild_id":"100","id":"1099511627776","mention_everyone":false,"#,
            r#""mention_roles":[],"mentions":[],"nonce":"1764419000000000000","pinned":false,"#,
            r#""published":"1764419000000000000","timestamp":"2026-01-01T00:00:00+00:00","#,
            r#""tts":false,"type":0,"padding":"................................................"}}}}"#
        ),
        stamp, seq
    );
    let mut f = vec![0x81, 126];
    f.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
    f.extend_from_slice(payload.as_bytes());
    f
}

// ----- the writer process -----

/// One accepted connection: the next event it has not been sent, and bytes
/// of a write the socket did not take whole.
struct Conn {
    stream: TcpStream,
    next: u64,
    pending: Vec<u8>,
    /// When it was last written.
    written: Option<Instant>,
}

fn writer(args: &Args) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("{}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    let mut conns: Vec<Vec<Conn>> = (0..args.writers).map(|_| Vec::new()).collect();
    for i in 0..args.sessions {
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        conns[i % args.writers].push(Conn {
            stream,
            next: 0,
            pending: Vec::new(),
            written: None,
        });
    }
    // The client says when to start publishing.
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).unwrap();
    let start = Instant::now();
    let start_ns = now_nanos();
    let run = Duration::from_secs(args.warmup + args.seconds);
    let run_ticks = (run.as_nanos() / TICK.as_nanos()) as u64;
    let rate = args.rate;
    let period = args.period;
    let spread = args.spread;
    let contiguous = args.contiguous;
    let warmup = args.warmup;
    let threads: Vec<_> = conns
        .into_iter()
        .map(|mut mine| {
            std::thread::spawn(move || {
                let mut ring: Vec<Vec<u8>> = vec![Vec::new(); RING];
                let mut built = 0u64;
                let mut swept = Instant::now();
                // Time between a connection's consecutive writes in the
                // measured part of the run, in 10 µs buckets.
                let mut gaps = vec![0u64; 200_001];
                let measure_from = start + Duration::from_secs(warmup);
                // Events published by now, built once for all connections.
                let publish = |ring: &mut Vec<Vec<u8>>, built: &mut u64| {
                    let ticks = (start.elapsed().as_nanos() / TICK.as_nanos()) as u64 + 1;
                    let published = published_by(ticks.min(run_ticks), rate);
                    while *built < published {
                        let stamp = start_ns + publish_tick(*built, rate) * TICK.as_nanos() as u64;
                        ring[*built as usize % RING] = frame(stamp, *built);
                        *built += 1;
                    }
                    published
                };
                loop {
                    let wait = period.saturating_sub(swept.elapsed());
                    if !wait.is_zero() {
                        std::thread::sleep(wait);
                    }
                    swept = Instant::now();
                    let elapsed = start.elapsed();
                    let ticks = (elapsed.as_nanos() / TICK.as_nanos()) as u64 + 1;
                    let mut published = publish(&mut ring, &mut built);
                    let mut wrote = false;
                    let count = mine.len();
                    for (i, c) in mine.iter_mut().enumerate() {
                        if spread && i % 32 == 0 {
                            // Spread the sweep over the period.
                            let due = period.mul_f64(i as f64 / count as f64);
                            let wait = due.saturating_sub(swept.elapsed());
                            if !wait.is_zero() {
                                std::thread::sleep(wait);
                            }
                        }
                        if i % 32 == 0 && i > 0 {
                            // What was published since joins this sweep.
                            published = publish(&mut ring, &mut built);
                        }
                        if c.next < published || !c.pending.is_empty() {
                            assert!(published - c.next < RING as u64, "a reader fell behind");
                            write_to(c, &ring, published, contiguous);
                            wrote = true;
                            let now = Instant::now();
                            if let Some(last) = c.written.replace(now)
                                && last >= measure_from
                                && now <= start + run
                            {
                                let i = (now - last).as_micros() as usize / 10;
                                gaps[i.min(200_000)] += 1;
                            }
                        }
                    }
                    if !wrote {
                        if elapsed > run {
                            return gaps;
                        }
                        let next = Duration::from_nanos(ticks * TICK.as_nanos() as u64);
                        std::thread::sleep(next.saturating_sub(start.elapsed()));
                    }
                }
            })
        })
        .collect();
    let mut gaps = vec![0u64; 200_001];
    for t in threads {
        for (g, v) in gaps.iter_mut().zip(t.join().unwrap()) {
            *g += v;
        }
    }
    // The client reads this line (stdout) after the run.
    let total = gaps.iter().sum();
    println!(
        "time between a connection's writes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&gaps, total, 0.5),
        percentile(&gaps, total, 0.99),
        percentile(&gaps, total, 1.0)
    );
    std::io::stdout().flush().unwrap();
    // Stay until the client has read everything and ends this process.
    std::thread::sleep(Duration::from_secs(3600));
}

/// One `writev` of what `c` has pending and every event up to
/// `published`; what the socket does not take waits in `c.pending`.
/// `contiguous`: the frames are copied into one buffer first, written as
/// one slice.
fn write_to(c: &mut Conn, ring: &[Vec<u8>], published: u64, contiguous: bool) {
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(64);
    let mut one = Vec::new();
    if contiguous {
        one.extend_from_slice(&c.pending);
        for e in c.next..published {
            one.extend_from_slice(&ring[e as usize % RING]);
        }
        slices.push(IoSlice::new(&one));
    } else {
        if !c.pending.is_empty() {
            slices.push(IoSlice::new(&c.pending));
        }
        for e in c.next..published {
            slices.push(IoSlice::new(&ring[e as usize % RING]));
        }
    }
    let total: usize = slices.iter().map(|s| s.len()).sum();
    let n = match c.stream.write_vectored(&slices) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
        Err(e) => panic!("write: {e}"),
    };
    if n < total {
        let rest: Vec<u8> = slices
            .iter()
            .flat_map(|s| s.iter().copied())
            .skip(n)
            .collect();
        c.pending = rest;
    } else {
        c.pending.clear();
    }
    c.next = published;
}

// ----- the client (this process) -----

struct Reader {
    stream: MioStream,
    buf: Vec<u8>,
    /// Where unparsed bytes start in `buf`.
    start: usize,
    /// Where they end.
    end: usize,
}

struct Stats {
    /// Publish to the kernel's receive time (delivery latency).
    buckets: Vec<u64>,
    /// Publish to this process's read of it.
    read_buckets: Vec<u64>,
    count: u64,
}

/// Reads its connections until `stop`; latencies of events published at
/// or after `measured_from` (ns) go into its histogram.
fn read_loop(
    mut readers: Vec<Reader>,
    measured_from: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Stats {
    let mut poll = Poll::new().unwrap();
    for (i, r) in readers.iter_mut().enumerate() {
        poll.registry()
            .register(&mut r.stream, Token(i), Interest::READABLE)
            .unwrap();
    }
    let mut events = Events::with_capacity(1024);
    let mut stats = Stats {
        buckets: vec![0; 200_001],
        read_buckets: vec![0; 200_001],
        count: 0,
    };
    let mut control = stamped::control_space();
    while !stop.load(Ordering::Relaxed) {
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        let from = measured_from.load(Ordering::Relaxed);
        for ev in &events {
            let r = &mut readers[ev.token().0];
            loop {
                // The buffer stays at its full length (zeroed once):
                // `end` marks what was read, so no read zeroes memory.
                if r.buf.len() - r.end < 8192 {
                    r.buf.copy_within(r.start..r.end, 0);
                    r.end -= r.start;
                    r.start = 0;
                }
                let room = r.buf.len() - r.end;
                let fd = r.stream.as_raw_fd();
                match stamped::recv(fd, &mut r.buf[r.end..], &mut control) {
                    Ok((0, _)) => break,
                    Ok((n, arrived)) => {
                        r.end += n;
                        let read_at = now_nanos();
                        let at = arrived.unwrap_or(read_at);
                        let mut got = 0;
                        while r.end - r.start >= 4 {
                            assert_eq!(r.buf[r.start], 0x81, "a text frame");
                            let size = usize::from(u16::from_be_bytes([
                                r.buf[r.start + 2],
                                r.buf[r.start + 3],
                            ]));
                            if r.end - r.start < 4 + size {
                                break;
                            }
                            let p = r.start + 4 + STAMP_AT;
                            let stamp: u64 = std::str::from_utf8(&r.buf[p..p + 19])
                                .unwrap()
                                .parse()
                                .unwrap();
                            if stamp >= from {
                                let i = ((at.saturating_sub(stamp)) / 10_000) as usize;
                                stats.buckets[i.min(200_000)] += 1;
                                let i = ((read_at.saturating_sub(stamp)) / 10_000) as usize;
                                stats.read_buckets[i.min(200_000)] += 1;
                                stats.count += 1;
                            }
                            got += 1;
                            r.start += 4 + size;
                        }
                        if r.start == r.end {
                            r.start = 0;
                            r.end = 0;
                        }
                        received.fetch_add(got, Ordering::Relaxed);
                        // A read that left room drained the socket: data
                        // arriving later is a new readiness edge (tokio's
                        // reads, the load tool's, stop there too).
                        if n < room {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
    }
    stats
}

fn percentile(buckets: &[u64], total: u64, p: f64) -> f64 {
    let target = ((total as f64 * p).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, b) in buckets.iter().enumerate() {
        seen += b;
        if seen >= target {
            return (i as f64 + 1.0) * 0.01;
        }
    }
    f64::NAN
}

fn client(args: &Args) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(std::env::args().skip(1))
        .arg("--writer")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut line = String::new();
    let mut from_writer = std::io::BufReader::new(child.stdout.take().unwrap());
    from_writer.read_line(&mut line).unwrap();
    let addr: SocketAddr = line.trim().parse().unwrap();
    let mut shares: Vec<Vec<Reader>> = (0..args.readers).map(|_| Vec::new()).collect();
    for i in 0..args.sessions {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nonblocking(true).unwrap();
        stamped::enable(&s).unwrap();
        shares[i % args.readers].push(Reader {
            stream: MioStream::from_std(s),
            buf: vec![0; 16 * 1024],
            start: 0,
            end: 0,
        });
    }
    let measured_from = Arc::new(AtomicU64::new(u64::MAX));
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let (m, r, s) = (
                Arc::clone(&measured_from),
                Arc::clone(&received),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || read_loop(share, m, r, s))
        })
        .collect();
    let mut go = child.stdin.take().unwrap();
    go.write_all(b"go\n").unwrap();
    go.flush().unwrap();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(args.warmup));
    measured_from.store(now_nanos(), Ordering::Relaxed);
    let (cpu0, own0, writes0) = (
        cpu_ticks(pid),
        cpu_ticks(std::process::id()),
        write_syscalls(pid),
    );
    let measured_at = Instant::now();
    let total_ticks = (args.warmup + args.seconds) * 1_000_000_000 / TICK.as_nanos() as u64;
    let expected = published_by(total_ticks, args.rate) * args.sessions as u64;
    let deadline = start + Duration::from_secs(args.warmup + args.seconds + 30);
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = measured_at.elapsed().as_secs_f64();
    let (cpu, own, writes) = (
        (cpu_ticks(pid) - cpu0) as f64 / 100.0,
        (cpu_ticks(std::process::id()) - own0) as f64 / 100.0,
        write_syscalls(pid) - writes0,
    );
    stop.store(true, Ordering::Relaxed);
    let mut buckets = vec![0u64; 200_001];
    let mut read_buckets = vec![0u64; 200_001];
    let mut count = 0;
    for t in threads {
        let s = t.join().unwrap();
        for (b, v) in buckets.iter_mut().zip(&s.buckets) {
            *b += v;
        }
        for (b, v) in read_buckets.iter_mut().zip(&s.read_buckets) {
            *b += v;
        }
        count += s.count;
    }
    // The writer's threads end once the run's last event is written.
    let mut gaps = String::new();
    from_writer.read_line(&mut gaps).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let got = received.load(Ordering::Relaxed);
    println!(
        "{} sessions, {} writer and {} reader threads: received {got} of {expected} events",
        args.sessions, args.writers, args.readers
    );
    println!(
        "measured {count} deliveries in {secs:.1} s: {:.0} deliveries/s",
        count as f64 / secs
    );
    println!(
        "writer CPU {:.2} µs per delivery, {:.1} deliveries per write, sweep {:.1} ms; reader CPU {:.2} µs per delivery",
        cpu * 1e6 / count.max(1) as f64,
        count as f64 / writes.max(1) as f64,
        args.sessions as f64 / (writes as f64 / secs) * 1e3,
        own * 1e6 / count.max(1) as f64
    );
    println!(
        "latency publish -> receipt: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&buckets, count, 0.5),
        percentile(&buckets, count, 0.99)
    );
    print!("writer: {gaps}");
    println!(
        "latency publish -> read by this process: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&read_buckets, count, 0.5),
        percentile(&read_buckets, count, 0.99)
    );
}

fn main() {
    let args = args();
    if std::env::args().any(|a| a == "--writer") {
        writer(&args);
    } else {
        client(&args);
    }
}
