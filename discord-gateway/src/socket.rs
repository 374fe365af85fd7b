//! The gateway's WebSocket: the HTTP/1.1 upgrade on hyper, tungstenite for
//! what the client sends (and for control frames), and data frames written
//! straight to the connection.
//!
//! Why not axum's `WebSocket`: tungstenite formats every frame into its
//! write buffer, and that buffer keeps the capacity of the largest frame a
//! connection ever sent (READY, GUILD_CREATE) for as long as it lives:
//! about 1 KB of every idle session (heaptrack). A server's frames are not
//! masked, so a data frame is a header of 2 to 10 bytes and the payload;
//! [`Socket::write`] sends a batch of them with vectored writes from the
//! frames' own buffers and keeps nothing allocated afterwards.

use std::io::IoSlice;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

pub(crate) use tokio_tungstenite::tungstenite::protocol::CloseFrame;
pub(crate) use tokio_tungstenite::tungstenite::{Error, Message};

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
    pub(crate) fn on_upgrade<F, Fut>(self, config: WebSocketConfig, serve: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(config),
            )
            .await;
            // The connection gets a task of its own and this one ends: a
            // task's memory is its future's largest state, so an idle
            // session then holds only the connection's future.
            tokio::spawn(serve(Socket { ws }));
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

/// A data frame waiting to be written: text or binary, and its payload.
pub(crate) struct OutFrame {
    binary: bool,
    payload: Vec<u8>,
}

impl OutFrame {
    /// A text frame.
    pub(crate) fn text(text: String) -> Self {
        OutFrame {
            binary: false,
            payload: text.into_bytes(),
        }
    }

    /// A binary frame.
    pub(crate) fn binary(payload: Vec<u8>) -> Self {
        OutFrame {
            binary: true,
            payload,
        }
    }
}

/// The header of an unmasked, final data frame carrying `len` bytes, and
/// how many of the ten bytes it uses (RFC 6455, section 5.2).
fn frame_header(binary: bool, len: usize) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = 0x80 | if binary { 0x2 } else { 0x1 };
    let used = if len < 126 {
        h[1] = len as u8;
        2
    } else if let Ok(len) = u16::try_from(len) {
        h[1] = 126;
        h[2..4].copy_from_slice(&len.to_be_bytes());
        4
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    };
    (h, used)
}

/// One client's WebSocket.
pub(crate) struct Socket {
    ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
}

impl Socket {
    /// The next message from the client (tungstenite answers pings and
    /// checks framing, masking, UTF-8 and the size limits).
    pub(crate) async fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.ws.next().await
    }

    /// Sends a control or data message through tungstenite, flushed.
    pub(crate) async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.ws.send(message).await
    }

    /// Writes `frames` in order, then drops them.
    pub(crate) async fn write(&mut self, frames: &mut Vec<OutFrame>) -> std::io::Result<()> {
        // Whatever tungstenite has pending (a pong, say) goes first, so
        // frames never interleave.
        self.ws.flush().await.map_err(std::io::Error::other)?;
        let headers: Vec<([u8; 10], usize)> = frames
            .iter()
            .map(|f| frame_header(f.binary, f.payload.len()))
            .collect();
        let io = self.ws.get_mut();
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity((frames.len() * 2).min(MAX_SLICES));
        let mut bytes = 0;
        for (i, (frame, (header, used))) in frames.iter().zip(&headers).enumerate() {
            slices.push(IoSlice::new(&header[..*used]));
            slices.push(IoSlice::new(&frame.payload));
            bytes += used + frame.payload.len();
            let last = i + 1 == frames.len();
            if last || bytes >= MAX_WRITE || slices.len() + 2 > MAX_SLICES {
                let mut rest = &mut slices[..];
                while !rest.is_empty() {
                    let n = io.write_vectored(rest).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    IoSlice::advance_slices(&mut rest, n);
                }
                slices.clear();
                bytes = 0;
            }
        }
        io.flush().await?;
        *frames = Vec::new();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

    #[test]
    fn headers_parse_back_at_every_length_encoding() {
        for (binary, len) in [
            (false, 0),
            (false, 125),
            (true, 126),
            (false, 65_535),
            (true, 65_536),
            (false, 1 << 20),
        ] {
            let (h, used) = frame_header(binary, len);
            let mut cursor = std::io::Cursor::new(&h[..used]);
            let (parsed, payload_len) = FrameHeader::parse(&mut cursor)
                .expect("valid header")
                .expect("complete header");
            assert_eq!(cursor.position() as usize, used, "{len}: whole header read");
            assert_eq!(payload_len, len as u64);
            assert!(parsed.is_final);
            assert!(parsed.mask.is_none(), "server frames are not masked");
            let want = if binary { Data::Binary } else { Data::Text };
            assert_eq!(parsed.opcode, OpCode::Data(want));
        }
    }
}
