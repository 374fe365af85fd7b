//! [`Shard`]: one gateway connection driven by [`ClientSession`] on a
//! background task, reconnecting and resuming on its own; the application
//! reads events with [`Shard::next_event`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use discord_proto::compression::Decoder;
use discord_proto::gateway::{ClientCommand, DispatchEvent, ServerMessage};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{ClientSession, CommandLimit, IdentifyQueue, Output, SessionConfig};

/// What a shard hands the application.
#[derive(Clone, Debug, PartialEq)]
pub enum ShardEvent {
    /// A dispatch with its sequence number.
    Dispatch {
        /// The sequence number.
        seq: u64,
        /// The event.
        event: DispatchEvent,
    },
    /// The server refused the session for good (close code); the shard has
    /// stopped.
    Fatal(u16),
}

/// A gateway connection on a background task.
#[derive(Debug)]
pub struct Shard {
    events: mpsc::Receiver<ShardEvent>,
    commands: mpsc::UnboundedSender<ClientCommand>,
    task: tokio::task::JoinHandle<()>,
}

impl Shard {
    /// Starts connecting; events arrive through [`Shard::next_event`].
    pub fn start(config: SessionConfig) -> Shard {
        Self::start_after(config, std::time::Duration::ZERO)
    }

    /// [`Shard::start`] after `delay`.
    pub fn start_after(config: SessionConfig, delay: std::time::Duration) -> Shard {
        Self::spawn(config, delay, None)
    }

    /// [`Shard::start`] taking its turn in `identify` before every
    /// IDENTIFY (the first, and each new session after one was lost;
    /// resumes do not wait). Shards of one bot share one queue.
    pub fn start_queued(config: SessionConfig, identify: Arc<IdentifyQueue>) -> Shard {
        Self::spawn(config, std::time::Duration::ZERO, Some(identify))
    }

    fn spawn(
        config: SessionConfig,
        delay: std::time::Duration,
        identify: Option<Arc<IdentifyQueue>>,
    ) -> Shard {
        let (tx, events) = mpsc::channel(1024);
        let (commands, queue) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            run(ClientSession::new(config), tx, queue, identify).await;
        });
        Shard {
            events,
            commands,
            task,
        }
    }

    /// Queues a command (presence update, member request, voice state) for
    /// the connection. Commands go out in order, within the gateway's 120
    /// per 60 s (room is kept for heartbeats), after the session is ready;
    /// a command queued across a reconnect goes on the next connection.
    pub fn send(&self, command: ClientCommand) {
        let _ = self.commands.send(command);
    }

    /// The next event; `None` once the shard has stopped.
    pub async fn next_event(&mut self) -> Option<ShardEvent> {
        self.events.recv().await
    }
}

impl futures::Stream for Shard {
    type Item = ShardEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<ShardEvent>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn jitter() -> f64 {
    rand::random::<f64>()
}

/// Connects, drives the session, and reconnects as it says until the
/// application drops the shard or the server refuses the session.
async fn run(
    mut session: ClientSession,
    tx: mpsc::Sender<ShardEvent>,
    mut queue: mpsc::UnboundedReceiver<ClientCommand>,
    identify: Option<Arc<IdentifyQueue>>,
) {
    let mut url = session.connect_url();
    let mut pending: VecDeque<ClientCommand> = VecDeque::new();
    loop {
        if let Some(identify) = &identify
            && !session.resumable()
        {
            identify.wait(session.shard_id()).await;
        }
        let next = match tokio_tungstenite::connect_async_with_config(&url, Some(ws_config()), true)
            .await
        {
            Ok((ws, _)) => drive(&mut session, ws, &tx, &mut queue, &mut pending).await,
            Err(e) => {
                tracing::debug!(%url, "gateway connection failed: {e}");
                Some(session.on_connect_failed(jitter()))
            }
        };
        match next {
            None => return,
            Some(Output::Fatal(code)) => {
                let _ = tx.send(ShardEvent::Fatal(code)).await;
                return;
            }
            Some(Output::Reconnect { url: to, after, .. }) => {
                tokio::time::sleep(after).await;
                url = to;
            }
            Some(_) => {}
        }
    }
}

/// Runs one connection; returns what to do next (`None`: stop).
async fn drive<S>(
    session: &mut ClientSession,
    ws: tokio_tungstenite::WebSocketStream<S>,
    tx: &mpsc::Sender<ShardEvent>,
    queue: &mut mpsc::UnboundedReceiver<ClientCommand>,
    pending: &mut VecDeque<ClientCommand>,
) -> Option<Output>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    // A fresh decompression context per connection.
    let mut decoder = match session.compression().map(|c| Decoder::new(c, MAX_MESSAGE)) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            tracing::error!("cannot set up decompression: {e}");
            return Some(session.on_connect_failed(jitter()));
        }
        None => None,
    };
    let mut limit: Option<CommandLimit> = None;
    let mut ready = false;
    loop {
        // The next application command may go when the session is ready
        // and the command limit allows.
        let send_at = match (&mut limit, ready && !pending.is_empty()) {
            (Some(l), true) => Some(l.ready_at(Instant::now())),
            _ => None,
        };
        let outputs = tokio::select! {
            cmd = queue.recv() => {
                match cmd {
                    Some(cmd) => pending.push_back(cmd),
                    None => return None,
                }
                Vec::new()
            }
            () = sleep_until(send_at) => {
                if let (Some(cmd), Some(l)) = (pending.pop_front(), limit.as_mut()) {
                    l.record(Instant::now());
                    if sink.send(Message::text(cmd.encode())).await.is_err() {
                        pending.push_front(cmd);
                        return Some(session.on_close(None, jitter()));
                    }
                }
                Vec::new()
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) => receive(session, text.as_bytes()),
                Some(Ok(Message::Binary(frame))) => match decoder.as_mut().map(|d| d.push(&frame)) {
                    Some(Ok(Some(bytes))) => receive(session, &bytes),
                    Some(Ok(None)) => Vec::new(),
                    Some(Err(e)) => {
                        // The stream is corrupt: start a new connection.
                        tracing::warn!("gateway decompression failed: {e}");
                        vec![session.on_close(None, jitter())]
                    }
                    None => {
                        tracing::warn!("binary gateway frame without compression");
                        Vec::new()
                    }
                },
                Some(Ok(Message::Close(frame))) => {
                    vec![session.on_close(frame.map(|f| u16::from(f.code)), jitter())]
                }
                Some(Ok(_)) => Vec::new(),
                Some(Err(_)) | None => vec![session.on_close(None, jitter())],
            },
            () = sleep_until(session.next_deadline()) => session.on_tick(Instant::now()),
            () = tx.closed() => return None,
        };
        if limit.is_none()
            && let Some(interval) = session.heartbeat_interval()
        {
            limit = Some(CommandLimit::new(interval));
        }
        for out in outputs {
            match out {
                Output::Send(cmd) => {
                    if let Some(l) = limit.as_mut() {
                        l.record(Instant::now());
                    }
                    if sink.send(Message::text(cmd.encode())).await.is_err() {
                        return Some(session.on_close(None, jitter()));
                    }
                }
                Output::Deliver { seq, event } => {
                    if matches!(event, DispatchEvent::Ready(_) | DispatchEvent::Resumed) {
                        ready = true;
                    }
                    if tx.send(ShardEvent::Dispatch { seq, event }).await.is_err() {
                        return None;
                    }
                }
                other => {
                    let _ = sink.close().await;
                    return Some(other);
                }
            }
        }
    }
}

/// Largest decompressed payload accepted (Discord's own are far smaller).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

fn receive(session: &mut ClientSession, bytes: &[u8]) -> Vec<Output> {
    match ServerMessage::decode(bytes) {
        Ok(m) => session.on_message(m, Instant::now(), jitter()),
        Err(e) => {
            tracing::warn!("undecodable gateway payload: {e}");
            Vec::new()
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Starts `count` shards of one bot in this process (`shard: [id, count]`
/// each), spacing their identifies as Discord's session start limit asks:
/// shards `id % max_concurrency` share a bucket, and a bucket identifies
/// once per `identify_interval` (5 s on Discord), for first connections
/// and for new sessions after lost ones alike.
pub fn start_shards(
    base: &SessionConfig,
    count: u32,
    max_concurrency: u32,
    identify_interval: std::time::Duration,
) -> Vec<Shard> {
    let queue = Arc::new(IdentifyQueue::new(max_concurrency, identify_interval));
    (0..count.max(1))
        .map(|id| {
            let config = SessionConfig {
                shard: Some([id, count.max(1)]),
                ..base.clone()
            };
            Shard::start_queued(config, queue.clone())
        })
        .collect()
}

/// The gateway connection's WebSocket settings. tungstenite zero-fills its
/// read buffer up to `read_buffer_size` before every read; at its 128 KiB
/// default that memset cost more than the rest of reading a typical event
/// (measured in the gateway's load tool, a fifth of its CPU). 16 KiB still
/// reads a large GUILD_CREATE in few calls. Nagle is off: commands
/// (heartbeats) go out at once.
fn ws_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(16 * 1024)
}
