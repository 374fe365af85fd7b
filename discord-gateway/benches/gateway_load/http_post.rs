//! A minimal HTTP/1.1 POST over one kept-alive connection.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) struct Sender(pub(crate) TcpStream);

/// Posts `body`; returns the response's body (which ends with "ok").
pub(crate) async fn post(s: &mut Sender, path: &str, body: String) -> String {
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.0.write_all(req.as_bytes()).await.unwrap();
    // The answer is small: read until the body "ok" arrives.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.ends_with(b"ok") {
        let n = s.0.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed the control connection");
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    text.split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned())
}
