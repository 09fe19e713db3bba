//! The sandbox's one way out once the person let it online: a proxy on a Unix socket of this
//! host, bound into each online sandbox (which keeps no network interface but loopback) or
//! reached through its runner's pipes — on a loopback TCP port where there are no Unix sockets
//! (Windows), always through the pipes. Every connection code makes goes through it and is judged
//! like a `web_fetch`: public internet addresses, and the `host:port` places the person listed in
//! `web.private_hosts`; never this machine's other services or the local network.

use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};

use aetheria_sandbox::Network;
use tokio_stream::wrappers::TcpListenerStream;

use crate::tool::builtin::web::guard::{Reach, serve_all};

/// Where a running proxy listens.
enum Listening {
    /// A socket in a folder of its own, removed with it.
    #[cfg(unix)]
    Socket {
        path: std::path::PathBuf,
        _dir: tempfile::TempDir,
    },
    /// A loopback TCP port.
    #[cfg_attr(
        all(unix, not(test)),
        allow(dead_code, reason = "what Windows builds use")
    )]
    Tcp(SocketAddr),
}

/// A running proxy; it stops (and its socket goes) when it is dropped.
pub(crate) struct Egress {
    listening: Listening,
    task: tokio::task::AbortHandle,
}

impl Drop for Egress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The rules as they are when a connection arrives, so a changed list applies at once.
fn rules(reach: Arc<RwLock<Reach>>) -> impl Fn() -> Reach + Send + 'static {
    move || reach.read().unwrap_or_else(PoisonError::into_inner).clone()
}

impl Egress {
    /// Starts the proxy where this system serves it best: a Unix socket, else loopback TCP.
    pub(crate) fn start(reach: Arc<RwLock<Reach>>) -> std::io::Result<Self> {
        #[cfg(unix)]
        return Self::on_socket(reach);
        #[cfg(not(unix))]
        return Self::on_loopback(reach);
    }

    /// The proxy on a Unix socket.
    #[cfg(unix)]
    fn on_socket(reach: Arc<RwLock<Reach>>) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        use tokio_stream::wrappers::UnixListenerStream;
        // A short path (a socket's path has ~100 bytes at most) that nobody can guess. The folder
        // can be passed but not listed: the sandbox's user (another uid when this runs as root)
        // reaches the socket, other users cannot find it.
        let dir = tempfile::Builder::new()
            .prefix("aetheria-egress-")
            .rand_bytes(16)
            .permissions(std::fs::Permissions::from_mode(0o711))
            .tempdir()?;
        let path = dir.path().join("egress.sock");
        let listener = tokio::net::UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
        let task = serve_all(UnixListenerStream::new(listener), rules(reach));
        Ok(Self {
            listening: Listening::Socket { path, _dir: dir },
            task,
        })
    }

    /// The proxy on a loopback TCP port (what a Windows build uses). Anything on this machine
    /// may connect to it, and gets only what it could reach anyway: the public internet and the
    /// listed places.
    #[cfg_attr(
        all(unix, not(test)),
        allow(dead_code, reason = "what Windows builds use")
    )]
    pub(crate) fn on_loopback(reach: Arc<RwLock<Reach>>) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let task = serve_all(TcpListenerStream::new(listener), rules(reach));
        Ok(Self {
            listening: Listening::Tcp(addr),
            task,
        })
    }

    /// What an online sandbox is given.
    pub(crate) fn network(&self) -> Network {
        match &self.listening {
            #[cfg(unix)]
            Listening::Socket { path, .. } => Network::Proxy(path.clone()),
            Listening::Tcp(addr) => Network::Relayed(*addr),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    /// A service on loopback that answers every line with the same line.
    async fn echo_service() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let _ = write.write_all(format!("{line}\n").as_bytes()).await;
                    }
                });
            }
        });
        addr
    }

    /// `CONNECT target` through the proxy at `proxy`: its status line, and when let through,
    /// what a line sent comes back as.
    async fn connect(proxy: SocketAddr, target: SocketAddr) -> (String, Option<String>) {
        let stream = tokio::net::TcpStream::connect(proxy).await.unwrap();
        let (read, mut write) = stream.into_split();
        write
            .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut lines = BufReader::new(read).lines();
        let status = lines.next_line().await.unwrap().unwrap_or_default();
        if !status.contains(" 200 ") {
            return (status, None);
        }
        while lines
            .next_line()
            .await
            .unwrap()
            .is_some_and(|l| !l.is_empty())
        {}
        write.write_all(b"ping\n").await.unwrap();
        (status, lines.next_line().await.unwrap())
    }

    /// Where there are no Unix sockets the proxy listens on loopback TCP, and judges every
    /// connection as on the socket: a listed place on this machine is reached, an unlisted one
    /// (this machine's other services) is refused.
    #[tokio::test]
    async fn the_loopback_proxy_judges_like_the_socket_one() {
        let listed = echo_service().await;
        let unlisted = echo_service().await;
        let reach = Arc::new(RwLock::new(Reach::new(&[listed.to_string()])));
        let egress = Egress::on_loopback(reach).unwrap();
        let Network::Relayed(proxy) = egress.network() else {
            panic!("not relayed");
        };
        assert!(proxy.ip().is_loopback(), "{proxy}");
        let (status, echoed) = connect(proxy, listed).await;
        assert_eq!(status, "HTTP/1.1 200 Connection established");
        assert_eq!(echoed.as_deref(), Some("ping"));
        let (status, echoed) = connect(proxy, unlisted).await;
        assert_eq!(status, "HTTP/1.1 403 Forbidden");
        assert_eq!(echoed, None);
        // The proxy stops with its Egress (the listener closes as its task ends).
        drop(egress);
        let mut closed = false;
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(proxy).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(closed, "the proxy still listens after its Egress went");
    }
}
