//! One engine per data folder, many clients: the first process to open a data folder *hosts* its
//! engine and listens on a private local endpoint; every later one (a CLI command, a second
//! window, `aetheria serve`) connects as a client and speaks the protocol's envelopes. Which
//! process hosts is settled by an exclusive lock on `host.lock` in the data folder, so two
//! processes racing for a folder never both run its engine, and a host that dies (even by
//! `kill -9`) lets the next process take over.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;

use crate::api::endpoint::HostInfo;
use crate::config::Config;
use crate::engine::{Engine, Events, Handle};
use crate::error::{EngineError, Result};

mod connect;
mod listen;
#[cfg(windows)]
mod pipe;

pub use connect::{Client, ConnectError, connect};

/// What a window starts when no process hosts its data folder: this program's `serve`, ending
/// once nothing is connected, queued, running or scheduled for this many seconds.
pub const WINDOW_HOST_IDLE_EXIT: u64 = 15;

/// The lock file whose holder hosts the data folder.
const LOCK_FILE: &str = "host.lock";
/// How long a process waits for another that holds the lock to start answering (opening a big
/// store and recovering it after a crash takes seconds on a slow machine).
const WAIT_FOR_HOST: Duration = Duration::from_secs(120);

/// A data folder's engine, as this process reaches it.
#[derive(Debug)]
pub struct Opened {
    /// Submits commands.
    pub handle: Handle,
    /// Every event of the engine, this process's and other clients' alike.
    pub events: Events,
    /// Who hosts the engine (this process when `hosting`).
    pub host: HostInfo,
    /// Whether this process hosts the engine.
    pub hosting: bool,
    /// When hosting: how many other processes are connected now.
    connected: Option<Arc<AtomicUsize>>,
}

impl Opened {
    /// How many other processes are connected to this process's engine (none for a client).
    #[must_use]
    pub fn clients(&self) -> usize {
        self.connected
            .as_ref()
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }
}

/// The endpoint of the engine of `data_dir`, named after the data folder: a socket in the user's
/// runtime folder (or a private folder of the user's in the temporary folder), or on Windows a
/// named pipe (`\\.\pipe\aetheria-…`).
pub fn endpoint_path(data_dir: &Path) -> Result<PathBuf> {
    use sha2::Digest;
    let canonical = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let digest = sha2::Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    #[cfg(unix)]
    return Ok(runtime_dir()?.join(format!("{name}.sock")));
    #[cfg(windows)]
    return Ok(PathBuf::from(format!(r"\\.\pipe\aetheria-{name}")));
}

/// The folder of this user's endpoints, made private to the user; refused when it is a link,
/// someone else owns it or others may enter it (looked at before anything is changed in it).
#[cfg(unix)]
fn runtime_dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() && dir.is_dir() => dir.join("aetheria"),
        _ => std::env::temp_dir().join(format!("aetheria-{}", user_id())),
    };
    private_endpoint_dir(&dir)?;
    Ok(dir)
}

/// Makes `dir` (whose parent exists) a folder only this user may enter, or refuses it.
#[cfg(unix)]
fn private_endpoint_dir(dir: &Path) -> Result<()> {
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(endpoint_error(dir, &e.to_string())),
        }
        let meta =
            std::fs::symlink_metadata(dir).map_err(|e| endpoint_error(dir, &e.to_string()))?;
        if !meta.is_dir() || meta.uid() != user_id() {
            return Err(endpoint_error(
                dir,
                "it is not a folder of this user (another user may have made it); remove it",
            ));
        }
        if meta.mode() & 0o077 != 0 {
            // Ours, but opened up: closed again.
            crate::config::private_dir(dir).map_err(|e| endpoint_error(dir, &e.to_string()))?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn endpoint_error(dir: &Path, why: &str) -> EngineError {
    EngineError::Host(format!(
        "the folder of Aetheria's local endpoint {} cannot be used: {why}",
        dir.display()
    ))
}

/// This process's effective user id.
#[cfg(unix)]
pub(crate) fn user_id() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// What `Engine::open_with` does when no process hosts the data folder.
#[derive(Debug)]
pub enum WhenNoHost {
    /// Host it in this process, for as long as this process runs.
    HostHere,
    /// Start this command (`aetheria serve --idle-exit N`) to host it, and connect to it: the
    /// engine then outlives this process (a window that closes while jobs or schedules are due).
    /// Its output goes to `serve.log` in the data folder.
    Start(std::process::Command),
}

impl Engine {
    /// Opens the engine of `config`'s data folder: connects to the process that hosts it, or, when
    /// none does, hosts it here (starting it with `config`) and serves it to later processes.
    /// `kind` says what this process is (`window`, `ask`, `serve`…), for `aetheria doctor`.
    pub async fn open(config: Config, kind: &str) -> Result<Opened> {
        Self::open_with(config, kind, WhenNoHost::HostHere).await
    }

    /// `open`, choosing what happens when no process hosts the data folder.
    pub async fn open_with(config: Config, kind: &str, when: WhenNoHost) -> Result<Opened> {
        config.validate()?;
        crate::config::private_dir(&config.data_dir)
            .map_err(|e| EngineError::Host(format!("{}: {e}", config.data_dir.display())))?;
        let endpoint = endpoint_path(&config.data_dir)?;
        let deadline = tokio::time::Instant::now() + WAIT_FOR_HOST;
        let mut start = match when {
            WhenNoHost::Start(command) => Some(command),
            WhenNoHost::HostHere => None,
        };
        let mut started: Option<std::process::Child> = None;
        loop {
            match connect(&endpoint, kind).await {
                Ok(client) => {
                    if let Some(mut child) = started {
                        // Reaped when it ends, whenever that is.
                        std::thread::spawn(move || child.wait());
                    }
                    return Ok(client.into_opened());
                }
                Err(ConnectError::NoHost(_)) => {}
                Err(e) => return Err(EngineError::Host(e.to_string())),
            }
            if let Some(child) = started.as_mut() {
                if let Some(failed) = exited(child, &config.data_dir)? {
                    return Err(failed);
                }
            } else if let Some(command) = start.take() {
                started = Some(spawn_host(command, &config.data_dir)?);
            } else if let Some(lock) = try_lock(&config.data_dir)? {
                return host(config, kind, lock, endpoint).await;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(EngineError::Host(format!(
                    "another process holds the data folder {} but does not answer on {}; if no Aetheria runs, remove {}",
                    config.data_dir.display(),
                    endpoint.display(),
                    config.data_dir.join(LOCK_FILE).display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The log of a host started by another process.
const SERVE_LOG: &str = "serve.log";

/// Starts `command` as the data folder's host, in a process group of its own (a signal to this
/// process's terminal does not reach it; on Windows with no console window), its output appended
/// to `serve.log`.
fn spawn_host(mut command: std::process::Command, data_dir: &Path) -> Result<std::process::Child> {
    let log_path = data_dir.join(SERVE_LOG);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| EngineError::Host(format!("{}: {e}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(|e| EngineError::Host(format!("{}: {e}", log_path.display())))?;
    command
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    #[cfg(windows)]
    {
        /// `CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW`.
        const DETACHED: u32 = 0x0000_0200 | 0x0800_0000;
        std::os::windows::process::CommandExt::creation_flags(&mut command, DETACHED);
    }
    let child = command.spawn().map_err(|e| {
        EngineError::Host(format!(
            "starting {:?} to host the data folder: {e}",
            command.get_program()
        ))
    })?;
    tracing::info!(pid = child.id(), "started a host for the data folder");
    Ok(child)
}

/// Why the started host ended before answering, if it did: the last lines of its log. One that
/// ended well found the folder hosted already (connecting again reaches that host).
fn exited(child: &mut std::process::Child, data_dir: &Path) -> Result<Option<EngineError>> {
    let Some(status) = child
        .try_wait()
        .map_err(|e| EngineError::Host(format!("the started host: {e}")))?
    else {
        return Ok(None);
    };
    if status.success() {
        return Ok(None);
    }
    let log = std::fs::read_to_string(data_dir.join(SERVE_LOG)).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Ok(Some(EngineError::Host(format!(
        "the engine's host process ended ({status}): {}",
        tail.join(" / ")
    ))))
}

/// The host lock of `data_dir`, when no other process holds it.
pub(crate) fn try_lock(data_dir: &Path) -> Result<Option<std::fs::File>> {
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| EngineError::Host(format!("{}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(EngineError::Host(format!(
            "locking {}: {e}",
            path.display()
        ))),
    }
}

/// Starts the engine here and serves it on `endpoint` for as long as it runs.
async fn host(
    config: Config,
    kind: &str,
    lock: std::fs::File,
    endpoint: PathBuf,
) -> Result<Opened> {
    let info = HostInfo {
        pid: std::process::id(),
        kind: kind.to_owned(),
        data_dir: config.data_dir.clone(),
        since: Utc::now(),
        clients: 0,
    };
    let (handle, events) = Engine::start(config).await?;
    let (events, connected) = listen::serve(&endpoint, lock, handle.clone(), events, info.clone())?;
    Ok(Opened {
        handle,
        events,
        host: info,
        hosting: true,
        connected: Some(connected),
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn the_endpoints_folder_is_the_users_alone_or_refused() {
        let root = tempfile::tempdir().unwrap();
        // Made private.
        let fresh = root.path().join("fresh");
        private_endpoint_dir(&fresh).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o777, 0o700);
        // Ours but opened up: closed again.
        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        private_endpoint_dir(&open).unwrap();
        assert_eq!(std::fs::metadata(&open).unwrap().mode() & 0o777, 0o700);
        // A link (to a folder of ours, say) is refused, and what it points at is left alone.
        let target = root.path().join("target");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = private_endpoint_dir(&link).unwrap_err().to_string();
        assert!(error.contains("not a folder of this user"), "{error}");
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o777, 0o755);
        // Another user's folder is refused (root can make one; others cannot test this).
        if user_id() == 0 {
            let theirs = root.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let error = private_endpoint_dir(&theirs).unwrap_err().to_string();
            assert!(error.contains("another user"), "{error}");
        } else {
            assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        }
    }
}
