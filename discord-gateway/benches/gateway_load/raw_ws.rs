//! The tool's WebSocket client: the upgrade, then frames parsed straight
//! from one read buffer per session (a frame per message through
//! tokio-tungstenite, with its allocation, copy and stream machinery, cost
//! the tool CPU that it takes from the server on the shared cores).

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
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
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
        let mut frame = WsFrame::message(text.as_bytes().to_vec(), OpCode::Data(Data::Text), true);
        frame.header_mut().mask = Some(rand::random());
        let mut out = Vec::with_capacity(text.len() + 14);
        frame.format(&mut out).expect("frame into a Vec");
        self.stream.write_all(&out).await
    }
}
