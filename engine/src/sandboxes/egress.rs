//! The sandbox's one way out once the person let it online: a proxy on a Unix socket of this
//! host, bound into each online sandbox (which keeps no network interface but loopback). Every
//! connection code makes goes through it and is judged like a `web_fetch`: public internet
//! addresses, and the `host:port` places the person listed in `web.private_hosts`; never this
//! machine's other services or the local network.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use crate::tool::builtin::web::guard::{Reach, serve};

/// A running proxy and its socket; both go when it is dropped.
pub(crate) struct Egress {
    socket: PathBuf,
    dir: PathBuf,
    task: tokio::task::AbortHandle,
}

impl Drop for Egress {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Egress {
    /// Starts the proxy; `reach` is read for every connection, so a changed list applies at once.
    pub(crate) fn start(reach: Arc<RwLock<Reach>>) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let mut name = [0u8; 12];
        getrandom::fill(&mut name).map_err(std::io::Error::other)?;
        // A short path (a socket's path has ~100 bytes at most) that nobody can guess. The folder
        // can be passed but not listed: the sandbox's user (another uid when this runs as root)
        // reaches the socket, other users cannot find it.
        let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("aetheria-egress-{name}"));
        std::fs::create_dir(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
        let socket = dir.join("egress.sock");
        let listener = tokio::net::UnixListener::bind(&socket)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))?;
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let reach = reach.read().unwrap_or_else(PoisonError::into_inner).clone();
                connections.spawn(async move {
                    if let Err(e) = serve(stream, &reach).await {
                        tracing::debug!(%e, "a sandbox's proxied connection ended");
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        })
        .abort_handle();
        Ok(Self { socket, dir, task })
    }

    /// The socket sandboxes are given.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }
}
