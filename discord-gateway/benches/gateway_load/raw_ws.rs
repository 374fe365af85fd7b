//! The tool's WebSocket client: the upgrade, then frames parsed straight
//! from one read buffer per session (a frame per message through
//! tokio-tungstenite, with its allocation, copy and stream machinery, cost
//! the tool CPU that it takes from the server on the shared cores). Each
//! read also gives the kernel's receive time (`stamped.rs`).

use std::io::Cursor;
use std::os::fd::AsRawFd;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame as WsFrame, FrameHeader};

use crate::stamped;

/// Read buffer per session: a batch of events fits many times over.
const READ_SPACE: usize = 16 * 1024;

pub(crate) struct Client {
    stream: TcpStream,
    /// The read buffer, kept at its full length (zeroed once): `end`
    /// marks what was read, so no read zeroes memory.
    buf: Vec<u8>,
    /// Where unparsed data starts in `buf`.
    start: usize,
    /// Where read data ends in `buf`.
    end: usize,
    /// Room for the kernel's receive time of a read.
    control: Vec<u8>,
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
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        assert!(
            head.lines().any(
                |l| l.to_ascii_lowercase().starts_with("sec-websocket-accept:")
                    && l.ends_with(&accept)
            ),
            "wrong Sec-WebSocket-Accept"
        );
        stamped::enable(&stream).expect("SO_TIMESTAMPNS");
        let read = buf.len();
        buf.resize(read.max(READ_SPACE), 0);
        Client {
            stream,
            buf,
            start: end,
            end: read,
            control: stamped::control_space(),
        }
    }

    /// The next complete frame in the buffer, if there is one.
    pub(crate) fn next_frame(&mut self) -> Option<Frame<'_>> {
        let mut cursor = Cursor::new(&self.buf[self.start..self.end]);
        let (header, len) = FrameHeader::parse(&mut cursor).expect("frame header")?;
        let from = self.start + cursor.position() as usize;
        let to = from + usize::try_from(len).unwrap();
        if to > self.end {
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
    /// nothing): how many bytes, and the kernel's receive time of the
    /// last of them (ns since the epoch), if it gave one.
    pub(crate) async fn fill(&mut self) -> std::io::Result<(usize, Option<u64>)> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < READ_SPACE / 2 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.buf.len() - self.end < READ_SPACE / 2 {
                // A frame larger than the buffer (a big GUILD_CREATE).
                self.buf.resize(self.end + READ_SPACE, 0);
            }
        }
        let fd = self.stream.as_raw_fd();
        loop {
            self.stream.readable().await?;
            let (buf, control) = (&mut self.buf[self.end..], &mut self.control);
            let room = buf.len();
            // A read that left room in the buffer drained the socket.
            // tokio clears a socket's readiness only when the call it is
            // given fails with `WouldBlock` (its own `poll_read` also
            // clears it after such a short read), so the short read is
            // kept aside and reported to tokio as `WouldBlock`: the next
            // fill then waits for new data instead of asking the kernel
            // again for nothing, one system call per read.
            let mut drained = None;
            match self.stream.try_io(Interest::READABLE, || {
                let (n, stamp) = stamped::recv(fd, buf, control)?;
                if n > 0 && n < room {
                    drained = Some((n, stamp));
                    return Err(std::io::ErrorKind::WouldBlock.into());
                }
                Ok((n, stamp))
            }) {
                Ok((n, stamp)) => {
                    self.end += n;
                    return Ok((n, stamp));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some((n, stamp)) = drained {
                        self.end += n;
                        return Ok((n, stamp));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends a text frame, masked as a client must.
    pub(crate) async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        let mut frame = WsFrame::message(text.as_bytes().to_vec(), OpCode::Data(Data::Text), true);
        frame.header_mut().mask = Some(rand::random());
        let mut out = Vec::with_capacity(text.len() + 14);
        frame.format(&mut out).expect("frame into a Vec");
        self.stream.write_all(&out).await
    }
}
