//! A loopback model mirror for tests of the models hub: a minimal HTTP/1.1 server that answers
//! `GET /<the test model's file name>` as a `Mirror` says (the real file, a stall, other bytes,
//! or a size no disk has) and 404 for anything else, written by hand so the headers are exactly
//! what a hostile server would send.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::test_model::{FILE, path};

/// How the mirror answers for the test model's file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mirror {
    /// The real file.
    Real,
    /// 8 MiB of the real file, then nothing (the connection stays open).
    Stalls,
    /// Other bytes of the right length.
    Swapped,
    /// A header declaring 100 TB, then nothing.
    Huge,
}

/// Starts a mirror answering as `mode` says; its base URL (`http://127.0.0.1:PORT`).
///
/// # Errors
/// When the test model cannot be read or no loopback port can be bound.
pub async fn start(mode: Mirror) -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let bytes = Arc::new(std::fs::read(path())?);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(answer(socket, mode, bytes.clone()));
        }
    });
    Ok(format!("http://{addr}"))
}

async fn answer(mut socket: TcpStream, mode: Mirror, bytes: Arc<Vec<u8>>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    if !String::from_utf8_lossy(&request).starts_with(&format!("GET /{FILE} ")) {
        let _ = socket
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found")
            .await;
        return;
    }
    let length = match mode {
        Mirror::Huge => 100_000_000_000_000,
        _ => bytes.len() as u64,
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    let _ = socket.write_all(head.as_bytes()).await;
    match mode {
        Mirror::Real => {
            let _ = socket.write_all(&bytes).await;
        }
        Mirror::Swapped => {
            let mut other = bytes.to_vec();
            let middle = other.len() / 2;
            if let Some(b) = other.get_mut(middle) {
                *b ^= 0xff;
            }
            let _ = socket.write_all(&other).await;
        }
        Mirror::Stalls => {
            let _ = socket
                .write_all(bytes.get(..8 << 20).unwrap_or(&bytes))
                .await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Mirror::Huge => tokio::time::sleep(Duration::from_secs(3600)).await,
    }
    let _ = socket.shutdown().await;
}
