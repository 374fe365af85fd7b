//! The listening socket a node accepts gateway connections on.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel queues for `accept` on a gateway's listener (the
/// kernel caps it at `net.core.somaxconn`, 4,096 on current Linux).
///
/// When a node restarts or fails, its clients reconnect at once. std's and
/// tokio's `bind` ask for 128: with 256 handshakes in flight (the load
/// tool's connection storm), the queue overflowed tens of thousands of
/// times, the kernel fell back to SYN cookies, and a client's upgrade
/// request could meet a reset.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listener for gateway (and REST) traffic with a queue of
/// [`LISTEN_BACKLOG`] connections and `SO_REUSEADDR`, so a restarted node
/// binds its port again while its old connections are in TIME_WAIT.
///
/// Must be called within a tokio runtime.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// Connections the node has not accepted yet wait in the queue: 300
    /// clients that connect at once are all there to accept, where a
    /// queue of 128 keeps 129 and drops the rest (they hear nothing more,
    /// as they send nothing).
    #[tokio::test]
    async fn a_connection_storm_waits_in_the_queue() {
        let listener = super::listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        for _ in 0..300 {
            clients.push(tokio::net::TcpStream::connect(addr).await.unwrap());
        }
        let mut accepted = 0;
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), listener.accept()).await
        {
            accepted += 1;
        }
        assert_eq!(accepted, clients.len());
    }
}
