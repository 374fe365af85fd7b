//! The `reference-server` binary: reads flags, logs with tracing, serves
//! until SIGTERM or Ctrl-C, then shuts down gracefully.

use std::process::ExitCode;

use clap::Parser;
use reference_server::{Config, Flags, Server};
use tracing_subscriber::EnvFilter;

/// jemalloc returns what connections free to the system; with glibc's
/// malloc it stays resident (docs/benchmarks.md, ninth session).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_flags(Flags::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("reference-server: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    // Freed pages go back to the system from jemalloc's own threads, also
    // while the server idles (without them, only when it allocates again).
    #[cfg(not(target_env = "msvc"))]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!("jemalloc background threads unavailable: {e}");
    }
    let mode = if config.cluster.any() {
        "cluster"
    } else {
        "embedded"
    };
    let data_dir = config.data_dir.display().to_string();
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        addr = %server.local_addr(),
        mode,
        data_dir,
        "serving REST at {}/api/v10, gateway at {}",
        server.state().public_url,
        server.state().gateway_url,
    );
    match server.serve(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
