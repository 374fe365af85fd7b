//! Startup time of the binary on the embedded default: from spawning the
//! process (fresh data directory) to the first 200 from `/healthz`, and
//! with an existing data directory. Run:
//!
//! ```sh
//! cargo bench -p reference-server --bench startup -- [RUNS]
//! ```

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

fn healthy(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200")
}

/// One start: the time until healthy.
fn start(data: &Path) -> Duration {
    let port = free_port();
    let t0 = Instant::now();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--log", "error"])
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary");
    while !healthy(port) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no healthy server after 30 s"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
    let took = t0.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    took
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} runs",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let root = std::env::temp_dir().join(format!("startup-bench-{}", std::process::id()));
    let fresh: Vec<Duration> = (0..runs)
        .map(|i| start(&root.join(format!("fresh-{i}"))))
        .collect();
    report("fresh data directory", fresh);
    let existing = root.join("fresh-0");
    let again: Vec<Duration> = (0..runs).map(|_| start(&existing)).collect();
    report("existing data directory", again);
    let _ = std::fs::remove_dir_all(&root);
}
