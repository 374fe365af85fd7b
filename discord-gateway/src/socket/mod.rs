//! The gateway's WebSocket: the HTTP/1.1 upgrade on hyper, and the
//! framing in both directions written for a server holding many idle
//! connections.
//!
//! Why not axum's `WebSocket` (tokio-tungstenite): its stream keeps a read
//! buffer (grown to the largest message received, IDENTIFY) and a write
//! buffer (grown to the largest frame sent, READY or GUILD_CREATE) for as
//! long as the connection lives, and its state is about 370 bytes more per
//! connection (heaptrack: together about 1.9 KB of every idle session).
//! Here reads go through a buffer on the stack of the poll that reads
//! ([`read::Reader`] keeps only bytes of an incomplete frame), and data
//! frames are written with vectored writes from their own buffers. Frame
//! headers are still parsed by tungstenite.

use std::io::IoSlice;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use smallvec::SmallVec;
use tokio::io::ReadBuf;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

mod io;
mod read;
mod write;

use io::Io;
pub(crate) use read::Incoming;
use read::Reader;
pub(crate) use write::OutFrame;

/// The most slices one vectored write is given (Linux takes 1,024).
const MAX_SLICES: usize = 512;

/// Frames are gathered into one vectored write up to about this many
/// bytes. Many small frames (the common case) still go in one call; large
/// ones go a few at a time, so the reader gets the first ones while the
/// rest are written (one write of a whole batch of 16 KiB frames let a
/// reader on the same runtime fall behind under load, in the slow-client
/// test).
const MAX_WRITE: usize = 64 * 1024;

/// An accepted WebSocket upgrade request (HTTP/1.1 only).
pub(crate) struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// Why a request is not a WebSocket upgrade.
pub(crate) struct NotAnUpgrade(&'static str);

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.0, "code": 0 }).to_string();
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if parts.method != Method::GET {
            return Err(NotAnUpgrade("a WebSocket upgrade must be a GET"));
        }
        if !header_has_token(&parts.headers, header::CONNECTION, "upgrade")
            || !header_has_token(&parts.headers, header::UPGRADE, "websocket")
        {
            return Err(NotAnUpgrade("expected a WebSocket upgrade request"));
        }
        if parts.headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13"))
        {
            return Err(NotAnUpgrade(
                "unsupported Sec-WebSocket-Version (13 expected)",
            ));
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or(NotAnUpgrade("Sec-WebSocket-Key missing"))?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(NotAnUpgrade("this connection cannot be upgraded"))?;
        Ok(Upgrade { key, on_upgrade })
    }
}

impl Upgrade {
    /// Answers 101 Switching Protocols (no extension: a permessage-deflate
    /// offer is declined by not naming it) and, once hyper hands the
    /// connection over, runs `serve` on the socket in a task of its own.
    /// Messages over `max_message` bytes end the connection.
    pub(crate) fn on_upgrade<F, Fut>(self, max_message: usize, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let socket = Socket::new(upgraded, max_message);
            // The connection gets a task of its own and this one ends: a
            // task's memory is its future's largest state, so an idle
            // session then holds only the connection's future.
            tokio::spawn(serve(socket));
        });
        let accept = derive_accept_key(self.key.as_bytes());
        (
            StatusCode::SWITCHING_PROTOCOLS,
            [
                (header::CONNECTION, HeaderValue::from_static("upgrade")),
                (header::UPGRADE, HeaderValue::from_static("websocket")),
                (
                    header::SEC_WEBSOCKET_ACCEPT,
                    HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
                ),
            ],
        )
            .into_response()
    }
}

/// The TCP stream under an upgraded connection, and what hyper read past
/// the request. axum's `serve` runs connections on hyper-util's `auto`
/// builder, which wraps the stream in a private type of its own: only its
/// `upgrade::downcast` unwraps it. A server on hyper's own HTTP/1 builder
/// upgrades the stream as it is.
fn tcp_stream(upgraded: Upgraded) -> Result<(TcpStream, bytes::Bytes), Upgraded> {
    use hyper_util::server::conn::auto::upgrade;
    match upgrade::downcast::<TokioIo<TcpStream>>(upgraded) {
        Ok(parts) => Ok((parts.io.into_inner(), parts.read_buf)),
        Err(upgraded) => upgraded
            .downcast::<TokioIo<TcpStream>>()
            .map(|parts| (parts.io.into_inner(), parts.read_buf)),
    }
}

/// Bytes read from the connection per read call, into a buffer on the
/// stack (client messages are small; a larger one takes several reads).
const READ_CHUNK: usize = 2048;

/// Control frames (pongs) waiting to be written beyond which the socket
/// stops reading: a client that pings without reading gets backpressure.
const MAX_CONTROL_BACKLOG: usize = 4096;

/// One client's WebSocket.
pub(crate) struct Socket {
    io: Io,
    reader: Reader,
    /// Encoded control frames not yet written (and, first, the rest of
    /// a write a writer could not finish); unallocated when empty.
    control: Vec<u8>,
    /// A writer may be writing to the stream: control frames wait.
    lent: bool,
}

impl Socket {
    /// Takes over an upgraded connection. Served by axum, it is a
    /// `TcpStream`, taken out of hyper's box (and set to TCP_NODELAY);
    /// bytes the client sent after its request (hyper read them already)
    /// are read first.
    fn new(upgraded: Upgraded, max_message: usize) -> Self {
        let mut reader = Reader::new(max_message);
        let io = match tcp_stream(upgraded) {
            Ok((stream, read_buf)) => {
                reader.feed(&read_buf);
                // Events go out as soon as they are written: without
                // TCP_NODELAY, a small frame written while an earlier one
                // is unacknowledged waits for the ACK (Nagle), up to the
                // peer's delayed-ACK timer (axum does not set it).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY: {e}");
                }
                Io::Tcp(Arc::new(stream))
            }
            Err(upgraded) => Io::Other(TokioIo::new(upgraded)),
        };
        Socket {
            io,
            reader,
            control: Vec::new(),
            lent: false,
        }
    }

    /// The TCP stream, which a writer can write to while the session's
    /// task waits (`None`: another transport).
    pub(crate) fn tcp(&self) -> Option<&Arc<TcpStream>> {
        match &self.io {
            Io::Tcp(s) => Some(s),
            Io::Other(_) => None,
        }
    }

    /// Marks the stream as lent to a writer (or taken back): while
    /// lent, control frames (pongs, a close's answer) are queued but not
    /// written, and a ping is returned from [`recv`](Self::recv) so that
    /// the task takes the stream back and writes the pong.
    pub(crate) fn set_lent(&mut self, lent: bool) {
        self.lent = lent;
    }

    /// Whether bytes wait to be written before anything else.
    pub(crate) fn has_control(&self) -> bool {
        !self.control.is_empty()
    }

    /// Queues the rest of a writer's write, to be written before
    /// anything else.
    pub(crate) fn unwritten_first(&mut self, mut bytes: Vec<u8>) {
        bytes.append(&mut self.control);
        self.control = bytes;
    }

    /// Writes what control bytes the socket takes now, without waiting.
    pub(crate) fn try_flush_control(&mut self) {
        let _ = self.poll_control(&mut Context::from_waker(Waker::noop()));
    }

    /// The next message from the client: text, binary or close (pings are
    /// answered here); `None` once the connection is closed. An error is
    /// an I/O error or a breach of the WebSocket protocol (including a
    /// message over the size limit). Cancel safe.
    pub(crate) async fn recv(&mut self) -> Option<std::io::Result<Incoming>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Incoming>>> {
        loop {
            if let Poll::Ready(Err(e)) = self.poll_control(cx) {
                return Poll::Ready(Some(Err(e)));
            }
            match self.reader.next() {
                Err(e) => {
                    let e = std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string());
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Some(Incoming::Ping(payload))) => {
                    write::pong(&mut self.control, &payload);
                    if self.lent {
                        return Poll::Ready(Some(Ok(Incoming::Ping(Vec::new()))));
                    }
                    continue;
                }
                Ok(Some(Incoming::Pong)) => continue,
                Ok(Some(Incoming::Close(code))) => {
                    // Answer with the same code (best effort: the
                    // connection ends either way).
                    write::close(&mut self.control, code, "");
                    let _ = self.poll_control(cx);
                    return Poll::Ready(Some(Ok(Incoming::Close(code))));
                }
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
            }
            if self.control.len() > MAX_CONTROL_BACKLOG {
                // poll_control is waiting for the socket to take them.
                return Poll::Pending;
            }
            // On this poll's stack, not in the connection's state: an idle
            // connection waits for bytes holding no buffer.
            let mut scratch = [0u8; READ_CHUNK];
            let mut buf = ReadBuf::new(&mut scratch);
            match self.io.poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(None),
                Poll::Ready(Ok(())) => self.reader.feed(buf.filled()),
            }
        }
    }

    /// Writes pending control frames, keeping its place across calls.
    fn poll_control(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.control.is_empty() || self.lent {
            return Poll::Ready(Ok(()));
        }
        while !self.control.is_empty() {
            let n = ready!(self.io.poll_write(cx, &self.control))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.control.drain(..n);
        }
        self.control = Vec::new();
        self.io.poll_flush(cx)
    }

    /// Sends a close frame with `code` and `reason` (cut to fit).
    pub(crate) async fn close(&mut self, code: u16, reason: &str) -> std::io::Result<()> {
        write::close(&mut self.control, Some(code), reason);
        std::future::poll_fn(|cx| self.poll_control(cx)).await
    }

    /// Writes `frames` in order, then drops them.
    pub(crate) async fn write(&mut self, frames: &mut Vec<OutFrame<'_>>) -> std::io::Result<()> {
        // A pong not yet written goes first: frames never interleave.
        std::future::poll_fn(|cx| self.poll_control(cx)).await?;
        let layout = write::Layout::new(frames);
        let io = &mut self.io;
        let mut slices: Vec<IoSlice<'_>> =
            Vec::with_capacity((2 * frames.len() + 1).min(MAX_SLICES));
        for range in Writes::new(&layout) {
            slices.clear();
            layout.push_slices(range, |slice| slices.push(slice));
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                let n = std::future::poll_fn(|cx| io.poll_write_vectored(cx, rest)).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut rest, n);
            }
        }
        std::future::poll_fn(|cx| io.poll_flush(cx)).await?;
        drop(slices);
        drop(layout);
        *frames = Vec::new();
        Ok(())
    }
}

/// Writes `frames` in order with `writev` (a non-blocking vectored write)
/// until they are written or the socket is full. `Ok(None)`: all written;
/// `Ok(Some(rest))`: the bytes not written (part of a frame, then whole
/// ones), for the caller to write once the socket takes more.
pub(crate) fn try_write_frames(
    frames: &[OutFrame<'_>],
    mut writev: impl FnMut(&[IoSlice<'_>]) -> std::io::Result<usize>,
) -> std::io::Result<Option<Vec<u8>>> {
    let layout = write::Layout::new(frames);
    // On the stack: a writer's batch (at most `BATCH` frames) fits.
    let mut slices: SmallVec<[IoSlice<'_>; 2 * crate::writer::BATCH + 1]> = SmallVec::new();
    let mut writes = Writes::new(&layout);
    while let Some(range) = writes.next() {
        slices.clear();
        layout.push_slices(range, |slice| slices.push(slice));
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match writev(rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let mut unwritten = Vec::new();
                    for s in rest.iter() {
                        unwritten.extend_from_slice(s);
                    }
                    if let Some(later) = writes.remaining() {
                        let mut more = Vec::new();
                        layout.push_slices(later, |slice| more.push(slice));
                        for s in &more {
                            unwritten.extend_from_slice(s);
                        }
                    }
                    return Ok(Some(unwritten));
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(None)
}

/// Cuts a laid-out batch into writes: as many frames per write as fit
/// [`MAX_WRITE`] bytes (at least one) and [`MAX_SLICES`] slices.
struct Writes<'l, 'a> {
    layout: &'l write::Layout<'a>,
    start: usize,
}

impl<'l, 'a> Writes<'l, 'a> {
    fn new(layout: &'l write::Layout<'a>) -> Self {
        Writes { layout, start: 0 }
    }

    /// The frames not yet given out, if any.
    fn remaining(&self) -> Option<std::ops::Range<usize>> {
        let n = self.layout.len();
        (self.start < n).then_some(self.start..n)
    }
}

impl Iterator for Writes<'_, '_> {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.layout.len();
        let start = self.start;
        if start >= n {
            return None;
        }
        let mut bytes = 0;
        let mut end = start;
        while end < n {
            bytes += self.layout.wire_len(end);
            end += 1;
            // The next frame would take this write past its slices.
            let full = 2 * (end + 1 - start) + 1 > MAX_SLICES;
            if bytes >= MAX_WRITE || full {
                break;
            }
        }
        self.start = end;
        Some(start..end)
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;
    use tokio::sync::mpsc;

    use super::Upgrade;

    /// axum's `serve` wraps each connection in hyper-util's own type: the
    /// socket must still reach the `TcpStream` under it, to write it
    /// directly and to set TCP_NODELAY (a small event written behind an
    /// unacknowledged one would otherwise wait for the ACK).
    #[tokio::test]
    async fn a_connection_served_by_axum_is_its_tcp_stream_with_nodelay() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let app = Router::new().route(
            "/",
            get(move |upgrade: Upgrade| {
                let tx = tx.clone();
                async move {
                    upgrade.on_upgrade(1024, move |socket| async move {
                        let nodelay = socket.tcp().map(|s| s.nodelay().unwrap());
                        let _ = tx.send(nodelay);
                    })
                }
            }),
        );
        let listener = crate::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let (_ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        let nodelay = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(nodelay, Some(true));
    }
}
