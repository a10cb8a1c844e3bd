//! Raw HTTP/1.1 over TCP, for the tests that must do what a well-behaved client never does:
//! send half a request, dawdle, hold connections, or come from a chosen loopback address.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A whole `GET /health`.
pub const GET_HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: app.test\r\n\r\n";

/// A connection to `to`.
pub async fn connect(to: SocketAddr) -> TcpStream {
    TcpStream::connect(to).await.expect("connect")
}

/// A connection to `to` from a chosen loopback address (`127.0.0.x`).
pub async fn connect_from(to: SocketAddr, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((from, 0)))
        .expect("bind a loopback source address");
    socket.connect(to).await.expect("connect")
}

/// Reads until the peer closes (or `within` passes: then panics). Returns what was read.
pub async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let res = tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        res.is_ok(),
        "the server kept the connection open for {within:?}"
    );
    out
}

/// Reads one whole response (head and `content-length` body) without waiting for a close.
pub async fn read_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "closed before a whole response");
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().expect("content-length"))
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

/// Writes `request` and reads one whole response.
pub async fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).await.expect("write");
    read_response(stream).await
}

/// The JSON body of a response read by [`read_response`].
pub fn json_body(response: &str) -> serde_json::Value {
    let start = response.find("\r\n\r\n").expect("a response head") + 4;
    serde_json::from_str(&response[start..]).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// Asserts the connection is open and serves a request.
pub async fn is_open_and_serving(stream: &mut TcpStream) {
    let res = exchange(stream, GET_HEALTH).await;
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
}
