//! The egress proxy reached through the runner's own pipes, for a Docker engine that cannot take a
//! Unix socket of this machine (Docker Desktop's virtual machine, an engine on another machine)
//! and for a proxy on a loopback TCP port (a system with no Unix sockets: Windows).
//! The container keeps no network at all; the runner serves the proxy port inside it and sends
//! each connection's bytes as frames, and this side relays them to the engine's proxy socket, so
//! an online sandbox reaches what the proxy allows (the internet), never the engine's bridge,
//! this machine's services or the LAN. Connections live only while a program runs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Most connections relayed at once (the runner caps them lower, by its process limit).
const MAX_CONNECTIONS: usize = 64;
/// Chunks waiting for the proxy per connection before the relay waits for it.
const QUEUED: usize = 64;
/// The largest read from the proxy sent on as one frame.
const CHUNK: usize = 64 * 1024;

/// Where the proxy listens.
#[derive(Debug, Clone)]
pub(crate) enum Upstream {
    /// A Unix socket of this machine.
    Socket(PathBuf),
    /// A loopback TCP address (where there are no Unix sockets).
    Tcp(SocketAddr),
}

/// A connection to the proxy.
trait Duplex: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Duplex for T {}

impl Upstream {
    async fn connect(&self) -> std::io::Result<Box<dyn Duplex>> {
        match self {
            #[cfg(unix)]
            Upstream::Socket(path) => Ok(Box::new(tokio::net::UnixStream::connect(path).await?)),
            #[cfg(not(unix))]
            Upstream::Socket(path) => Err(std::io::Error::other(format!(
                "no Unix socket {} here",
                path.display()
            ))),
            Upstream::Tcp(addr) => Ok(Box::new(tokio::net::TcpStream::connect(addr).await?)),
        }
    }
}

/// What the proxy side of a connection did.
pub(crate) enum FromProxy {
    /// Bytes for the code's end.
    Data(u32, Bytes),
    /// The proxy closed (or could not be reached): the code's end is told so.
    End(u32),
}

/// One relayed connection.
struct Connection {
    /// Bytes from code to the proxy; `None` once code closed its side.
    to_proxy: Option<mpsc::Sender<Bytes>>,
    /// The proxy's side ended.
    proxy_done: bool,
    task: JoinHandle<()>,
}

/// The connections of one sandbox.
pub(crate) struct Tunnel {
    upstream: Upstream,
    connections: HashMap<u32, Connection>,
    events: mpsc::Sender<FromProxy>,
    from_proxy: mpsc::Receiver<FromProxy>,
}

impl Tunnel {
    /// Relays to the proxy listening at `upstream`.
    pub(crate) fn new(upstream: Upstream) -> Self {
        let (events, from_proxy) = mpsc::channel(QUEUED);
        Self {
            upstream,
            connections: HashMap::new(),
            events,
            from_proxy,
        }
    }

    /// The next thing the proxy side did (pending forever when nothing is open).
    pub(crate) async fn next(&mut self) -> FromProxy {
        match self.from_proxy.recv().await {
            Some(event) => event,
            // This side holds a sender, so the channel never closes.
            None => std::future::pending().await,
        }
    }

    /// Code opened connection `id`; false when it cannot be relayed (too many, or an id in use),
    /// and the runner is to be told it ended.
    pub(crate) fn open(&mut self, id: u32) -> bool {
        self.connections
            .retain(|_, c| !(c.task.is_finished() || c.to_proxy.is_none() && c.proxy_done));
        if self.connections.len() >= MAX_CONNECTIONS || self.connections.contains_key(&id) {
            return false;
        }
        let (to_proxy, mut outgoing) = mpsc::channel::<Bytes>(QUEUED);
        let events = self.events.clone();
        let upstream = self.upstream.clone();
        let task = tokio::spawn(async move {
            let Ok(stream) = upstream.connect().await else {
                let _ = events.send(FromProxy::End(id)).await;
                return;
            };
            let (mut read, mut write) = tokio::io::split(stream);
            let writer = async move {
                while let Some(bytes) = outgoing.recv().await {
                    if write.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                let _ = write.shutdown().await;
            };
            let reader = async {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    match read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let data = Bytes::copy_from_slice(&buf[..n]);
                            if events.send(FromProxy::Data(id, data)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                let _ = events.send(FromProxy::End(id)).await;
            };
            tokio::join!(writer, reader);
        });
        self.connections.insert(
            id,
            Connection {
                to_proxy: Some(to_proxy),
                proxy_done: false,
                task,
            },
        );
        true
    }

    /// Where bytes code sent on `id` go (none when it is gone or code closed it).
    pub(crate) fn sender(&self, id: u32) -> Option<mpsc::Sender<Bytes>> {
        self.connections.get(&id).and_then(|c| c.to_proxy.clone())
    }

    /// Drops connection `id` at once (the proxy did not take its bytes in time).
    pub(crate) fn drop_connection(&mut self, id: u32) {
        if let Some(c) = self.connections.remove(&id) {
            c.task.abort();
        }
    }

    /// Code closed its side of `id`.
    pub(crate) fn end(&mut self, id: u32) {
        if let Some(c) = self.connections.get_mut(&id) {
            c.to_proxy = None;
        }
    }

    /// The proxy closed its side of `id`.
    pub(crate) fn proxy_ended(&mut self, id: u32) {
        if let Some(c) = self.connections.get_mut(&id) {
            c.proxy_done = true;
        }
    }

    /// The program ended: every connection goes (the runner closes its ends too).
    pub(crate) fn close_all(&mut self) {
        for (_, c) in self.connections.drain() {
            c.task.abort();
        }
        while self.from_proxy.try_recv().is_ok() {}
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.close_all();
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// An echo server on a Unix socket: what comes in goes back, and its end ends the reply.
    fn echo_server(dir: &tempfile::TempDir) -> PathBuf {
        let path = dir.path().join("proxy.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.into_split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                    let _ = write.shutdown().await;
                });
            }
        });
        path
    }

    #[tokio::test]
    async fn bytes_go_to_the_proxy_and_back_and_ends_are_passed_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut tunnel = Tunnel::new(Upstream::Socket(echo_server(&dir)));
        assert!(tunnel.open(7));
        // An id in use is refused: the runner is told the new one ended.
        assert!(!tunnel.open(7));
        let sender = tunnel.sender(7).unwrap();
        sender.send(Bytes::from_static(b"hello ")).await.unwrap();
        sender.send(Bytes::from_static(b"proxy")).await.unwrap();
        drop(sender);
        tunnel.end(7);
        assert!(tunnel.sender(7).is_none(), "code's side is closed");
        let mut back = Vec::new();
        loop {
            match tunnel.next().await {
                FromProxy::Data(7, data) => back.extend_from_slice(&data),
                FromProxy::End(7) => break,
                _ => panic!("another connection spoke"),
            }
        }
        assert_eq!(back, b"hello proxy");
        tunnel.proxy_ended(7);
        // Both sides ended: its place is free again.
        assert!(tunnel.open(7));
    }

    #[tokio::test]
    async fn a_proxy_that_is_not_there_ends_the_connection_and_the_cap_holds() {
        let dir = tempfile::tempdir().unwrap();
        let mut tunnel = Tunnel::new(Upstream::Socket(dir.path().join("nobody.sock")));
        assert!(tunnel.open(1));
        assert!(matches!(tunnel.next().await, FromProxy::End(1)));
        let mut live = Tunnel::new(Upstream::Socket(echo_server(&dir)));
        for id in 0..MAX_CONNECTIONS as u32 {
            assert!(live.open(id), "{id}");
        }
        assert!(!live.open(1000), "more than the cap at once");
        live.close_all();
        assert!(live.open(1000), "closing frees every place");
    }
}
