//! The connection under a WebSocket: a `TcpStream` when the server is
//! axum's (the common case: no box, no indirect call per read or write), or
//! whatever hyper upgraded otherwise.
//!
//! The `TcpStream` is shared (`Arc`): a session's task reads it, and while
//! the task waits, a writer may write to it (`crate::writer`). Both go
//! through the stream's `&self` calls: wait for readiness, then read or
//! write without blocking (a call that finds the socket not ready clears
//! the readiness).

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// An upgraded connection.
pub(super) enum Io {
    /// A TCP connection, taken out of hyper's `Upgraded`.
    Tcp(Arc<TcpStream>),
    /// Any other transport hyper served.
    Other(TokioIo<Upgraded>),
}

impl Io {
    pub(super) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self {
            Io::Tcp(s) => loop {
                ready!(s.poll_read_ready(cx))?;
                match s.try_read(buf.initialize_unfilled()) {
                    Ok(n) => {
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            },
            Io::Other(s) => Pin::new(s).poll_read(cx, buf),
        }
    }

    pub(super) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self {
            Io::Tcp(s) => poll_write_tcp(cx, s, |s| s.try_write(buf)),
            Io::Other(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    pub(super) fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self {
            Io::Tcp(s) => poll_write_tcp(cx, s, |s| s.try_write_vectored(bufs)),
            Io::Other(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self {
            // Nothing is buffered above the kernel's socket.
            Io::Tcp(_) => Poll::Ready(Ok(())),
            Io::Other(s) => Pin::new(s).poll_flush(cx),
        }
    }
}

/// Waits until `s` can be written, then writes without blocking.
fn poll_write_tcp(
    cx: &mut Context<'_>,
    s: &TcpStream,
    mut write: impl FnMut(&TcpStream) -> std::io::Result<usize>,
) -> Poll<std::io::Result<usize>> {
    loop {
        ready!(s.poll_write_ready(cx))?;
        match write(s) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            result => return Poll::Ready(result),
        }
    }
}
