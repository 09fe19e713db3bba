//! The sandbox's one way out once the person let it online: a proxy on a Unix socket of this
//! host, bound into each online sandbox (which keeps no network interface but loopback). Every
//! connection code makes goes through it and is judged like a `web_fetch`: public internet
//! addresses, and the `host:port` places the person listed in `web.private_hosts`; never this
//! machine's other services or the local network.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use tokio_stream::wrappers::UnixListenerStream;

use crate::tool::builtin::web::guard::{Reach, serve_all};

/// A running proxy and its socket; both go when it is dropped.
pub(crate) struct Egress {
    socket: PathBuf,
    /// The socket's folder, removed with it.
    _dir: tempfile::TempDir,
    task: tokio::task::AbortHandle,
}

impl Drop for Egress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Egress {
    /// Starts the proxy; `reach` is read for every connection, so a changed list applies at once.
    pub(crate) fn start(reach: Arc<RwLock<Reach>>) -> std::io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        // A short path (a socket's path has ~100 bytes at most) that nobody can guess. The folder
        // can be passed but not listed: the sandbox's user (another uid when this runs as root)
        // reaches the socket, other users cannot find it.
        let dir = tempfile::Builder::new()
            .prefix("aetheria-egress-")
            .rand_bytes(16)
            .permissions(std::fs::Permissions::from_mode(0o711))
            .tempdir()?;
        let socket = dir.path().join("egress.sock");
        let listener = tokio::net::UnixListener::bind(&socket)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))?;
        let task = serve_all(UnixListenerStream::new(listener), move || {
            reach.read().unwrap_or_else(PoisonError::into_inner).clone()
        });
        Ok(Self {
            socket,
            _dir: dir,
            task,
        })
    }

    /// The socket sandboxes are given.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }
}
