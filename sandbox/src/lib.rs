//! Isolated code execution for Aetheria. Model-written code runs only here, never on the host: in a
//! long-lived Docker container per session (bollard) or, when no Docker engine answers, in a
//! bubblewrap sandbox on Linux. Both backends run the same small job runner inside the sandbox and
//! speak one framed protocol to it, so exec, deadlines, kills and bounded output behave the same.

mod bwrap;
mod docker;
pub mod image;
mod output;
mod pool;
mod runner;
#[cfg(target_os = "linux")]
mod seccomp;
mod tunnel;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

pub use bwrap::BwrapHost;
pub use docker::{DockerHost, DockerInfo, connect as connect_docker, docker_info};
pub use output::Captured;
pub use pool::Pool;

/// A Docker sandbox pool.
pub type DockerSandbox = Pool<DockerHost>;
/// A bubblewrap sandbox pool.
pub type BwrapSandbox = Pool<BwrapHost>;

/// How to get a Docker engine on this platform, for the messages below.
const INSTALL_DOCKER: &str = if cfg!(windows) {
    "install and start Docker Desktop (with the WSL 2 backend)"
} else if cfg!(target_os = "macos") {
    "install and start Docker Desktop or colima"
} else {
    "install and start Docker (Debian/Ubuntu: `apt-get install docker.io`)"
};

/// Why a sandbox operation failed. Every message says what the person can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// No Docker engine answers; code execution is refused until one does.
    #[error(
        "no Docker engine answers ({0}); {INSTALL_DOCKER}, or set DOCKER_HOST to a reachable engine"
    )]
    NoDocker(String),
    /// The sandbox image has not been built yet.
    #[error("the sandbox image {0} is missing; build it with `aetheria sandbox build-image`")]
    NoImage(String),
    /// Neither Docker nor bubblewrap can run here.
    #[error("{0}")]
    Unavailable(String),
    /// Building or importing the image failed.
    #[error("building the sandbox image failed: {0}")]
    Build(String),
    /// The Docker engine refused a request.
    #[error("the Docker engine refused: {0}")]
    Docker(String),
    /// No sandbox with this id exists (it was destroyed or never created).
    #[error("no sandbox {0}; it was removed")]
    NotFound(String),
    /// The runner inside the sandbox stopped answering; the sandbox is restarted on next use.
    #[error("the sandbox stopped answering ({0}); it will be restarted on the next run")]
    Runner(String),
    /// A file could not be moved in or out of the sandbox.
    #[error("{0}")]
    File(String),
    /// A host-side I/O failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<bollard::errors::Error> for SandboxError {
    fn from(e: bollard::errors::Error) -> Self {
        SandboxError::Docker(e.to_string())
    }
}

/// Which isolation a sandbox uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// A container on a Docker engine (local socket or `DOCKER_HOST`).
    Docker,
    /// bubblewrap namespaces on this Linux host.
    Bubblewrap,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Docker => "docker",
            Backend::Bubblewrap => "bubblewrap",
        })
    }
}

/// Resource limits of one sandbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Memory cap in MiB (Docker: cgroup limit, swap included; bubblewrap: address space).
    pub memory_mib: u64,
    /// Maximum number of processes.
    pub pids: u64,
    /// CPU share (1.0 = one core; Docker only).
    pub cpus: f64,
    /// Size of the `/tmp` tmpfs in MiB.
    pub tmp_mib: u64,
    /// Output bytes per exec forwarded to the live stream; beyond this only head and tail are kept.
    pub stream_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: 1024,
            pids: 256,
            cpus: 1.0,
            tmp_mib: 256,
            stream_bytes: 1 << 20,
        }
    }
}

/// Where a proxied sandbox finds the host's proxy socket.
pub const EGRESS_SOCKET: &str = "/run/aetheria/egress.sock";
/// The loopback address in the sandbox where the runner serves that socket as an HTTP proxy (the
/// `HTTP_PROXY` and `HTTPS_PROXY` code gets).
pub const EGRESS_PROXY: &str = "127.0.0.1:3128";

/// How a sandbox reaches the network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Network {
    /// Not at all: loopback only.
    #[default]
    Off,
    /// Only through the host's proxy listening on this Unix socket, which decides where each
    /// connection may go. The sandbox keeps no network interface but loopback; the socket is
    /// placed at [`EGRESS_SOCKET`], the runner serves it at [`EGRESS_PROXY`] and code gets
    /// `HTTP_PROXY`/`HTTPS_PROXY`. A Docker engine that cannot take a socket of this host (Docker
    /// Desktop's virtual machine on macOS and Windows, an engine on another machine) gets no
    /// network either: the runner's pipes carry each connection to the socket instead (`tunnel`).
    Proxy(PathBuf),
    /// Only through the host's proxy listening on this loopback TCP address (a host with no
    /// Unix sockets: Windows), always reached through the runner's pipes; the sandbox keeps no
    /// network interface but loopback, as with [`Network::Proxy`].
    Relayed(std::net::SocketAddr),
    /// Docker's bridge (the host's network with bubblewrap): the internet, but also this
    /// machine's services and the local network. The engine never gives it (every host has its
    /// proxy, bound in or relayed); it is for callers that want a real interface.
    Open,
}

impl Network {
    /// Whether the sandbox reaches anything beyond loopback.
    pub fn is_on(&self) -> bool {
        !matches!(self, Network::Off)
    }
}

/// What a sandbox is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// A stable name (the session id); labels the container and names it in `sandbox ps`.
    pub name: String,
    /// Host folder mounted read-write at `/workspace`, if any.
    pub workspace: Option<PathBuf>,
    /// Places in the workspace (relative paths) mounted read-only over it: what the host would
    /// run by itself later (`.git`, `.envrc`, editor tasks), which sandboxed code must not plant.
    pub read_only: Vec<PathBuf>,
    /// How the sandbox reaches the network (not at all unless the person allowed it).
    pub network: Network,
    /// Resource limits.
    pub limits: Limits,
}

impl Spec {
    /// A sandbox with default limits, no network and no workspace.
    pub fn new(name: impl Into<String>) -> Self {
        Spec {
            name: name.into(),
            workspace: None,
            read_only: Vec::new(),
            network: Network::Off,
            limits: Limits::default(),
        }
    }
}

/// The handle of a created sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SandboxId(pub String);

impl std::fmt::Display for SandboxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One command to run in a sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRequest {
    /// Program and arguments (no shell unless the caller asks for one).
    pub argv: Vec<String>,
    /// Bytes written to the program's stdin (then closed).
    pub stdin: Vec<u8>,
    /// Deadline after which every process of the exec is killed.
    pub timeout: Duration,
    /// Working directory inside the sandbox.
    pub cwd: String,
}

impl ExecRequest {
    /// Runs `argv` in `/workspace` with a 30 s deadline and empty stdin.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        ExecRequest {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: Vec::new(),
            timeout: Duration::from_secs(30),
            cwd: "/workspace".into(),
        }
    }

    /// Sets the deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets stdin.
    pub fn stdin(mut self, stdin: impl Into<Vec<u8>>) -> Self {
        self.stdin = stdin.into();
        self
    }
}

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A piece of live output.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Where it came from.
    pub stream: StreamKind,
    /// The bytes.
    pub data: Bytes,
}

/// Where live output goes while an exec runs.
pub type Sink = mpsc::Sender<Chunk>;

/// How an exec ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExecOutcome {
    /// Exit code, when the program exited on its own.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// The deadline passed and the processes were killed.
    pub timed_out: bool,
    /// The kernel's out-of-memory killer ended it.
    pub oom_killed: bool,
    /// Stopping it took restarting the whole sandbox (files in /workspace stay, /tmp is emptied).
    pub sandbox_restarted: bool,
    /// Head and tail of stdout.
    pub stdout: Captured,
    /// Head and tail of stderr.
    pub stderr: Captured,
    /// Wall time.
    pub duration: Duration,
}

impl ExecOutcome {
    /// Whether the program exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && !self.oom_killed
    }

    /// One line saying how the program ended.
    pub fn status_line(&self) -> String {
        if self.timed_out {
            let restarted = if self.sandbox_restarted {
                " (the sandbox was restarted to stop it)"
            } else {
                ""
            };
            format!(
                "killed: deadline of {:.1} s passed{restarted}",
                self.duration.as_secs_f64()
            )
        } else if self.oom_killed {
            "killed: out of memory (the sandbox's memory limit was reached)".into()
        } else if let Some(code) = self.exit_code {
            format!("exit code {code}")
        } else if let Some(signal) = self.signal {
            format!("killed by signal {signal}")
        } else {
            "ended".into()
        }
    }
}

/// A sandbox the backend knows about (for `aetheria sandbox ps`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SandboxInfo {
    /// Its id.
    pub id: SandboxId,
    /// The spec name (session id).
    pub name: String,
    /// Whether it is running now.
    pub running: bool,
    /// The backend's own status words.
    pub status: String,
}

/// An isolated place to run code. Created once per session, reused for every exec.
#[async_trait::async_trait]
pub trait Sandbox: Send + Sync {
    /// Which isolation this is.
    fn backend(&self) -> Backend;
    /// Creates (and starts) a sandbox.
    async fn create(&self, spec: &Spec) -> Result<SandboxId, SandboxError>;
    /// Runs one command, streaming output to `sink` while it runs. Restarts a stopped sandbox.
    async fn exec(
        &self,
        id: &SandboxId,
        request: ExecRequest,
        sink: Option<Sink>,
    ) -> Result<ExecOutcome, SandboxError>;
    /// Writes a file inside the sandbox (absolute path, e.g. under `/tmp` or `/workspace`).
    async fn put_file(&self, id: &SandboxId, path: &str, data: &[u8]) -> Result<(), SandboxError>;
    /// Reads a file from inside the sandbox.
    async fn get_file(&self, id: &SandboxId, path: &str) -> Result<Vec<u8>, SandboxError>;
    /// Stops the sandbox's processes; the next exec starts it again (files in /workspace stay).
    async fn stop(&self, id: &SandboxId) -> Result<(), SandboxError>;
    /// Removes the sandbox and everything running in it.
    async fn destroy(&self, id: &SandboxId) -> Result<(), SandboxError>;
    /// Every sandbox of this backend, including ones left by a crashed app.
    async fn list(&self) -> Result<Vec<SandboxInfo>, SandboxError>;
}

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// Docker when an engine answers, else bubblewrap on Linux, else refuse.
    #[default]
    Auto,
    /// Docker only.
    Docker,
    /// bubblewrap only.
    Bubblewrap,
}

/// Where the image's root filesystem is cached: `AETHERIA_SANDBOX_CACHE`, else the platform cache
/// folder (`~/.cache/aetheria/sandbox` on Linux).
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AETHERIA_SANDBOX_CACHE") {
        return PathBuf::from(dir);
    }
    directories::BaseDirs::new()
        .map(|d| d.cache_dir().join("aetheria").join("sandbox"))
        .unwrap_or_else(|| std::env::temp_dir().join("aetheria-sandbox"))
}

/// Opens the sandbox backend `preference` allows: Docker when an engine answers (importing the
/// cached root filesystem if the image is missing), else bubblewrap on Linux, else a clear refusal.
pub async fn open(
    preference: Preference,
    cache_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn Sandbox>, SandboxError> {
    let docker_error = if preference == Preference::Bubblewrap {
        None
    } else {
        match open_docker(cache_dir).await {
            Ok(pool) => return Ok(std::sync::Arc::new(pool)),
            Err(e) if preference == Preference::Docker => return Err(e),
            Err(e) => Some(e),
        }
    };
    if !bwrap::available() {
        return Err(match docker_error {
            Some(e) => SandboxError::Unavailable(format!(
                "{e}; the bubblewrap fallback is not available either (it needs Linux and `bwrap`), so code is not run"
            )),
            None => SandboxError::Unavailable(
                "bubblewrap is not available (it needs Linux and `bwrap`)".into(),
            ),
        });
    }
    let rootfs = image::unpacked_rootfs(cache_dir).await?;
    Ok(std::sync::Arc::new(Pool::new(BwrapHost::new(&rootfs)?)))
}

async fn open_docker(cache_dir: &std::path::Path) -> Result<DockerSandbox, SandboxError> {
    let docker = docker::connect().await?;
    docker
        .ping()
        .await
        .map_err(|e| SandboxError::NoDocker(e.to_string()))?;
    // An image built on this machine before (or by the bubblewrap path) only needs importing.
    if !image::image_exists(&docker).await? && image::rootfs_tar(cache_dir).exists() {
        image::import_rootfs(&docker, &image::rootfs_tar(cache_dir), &mut |_| {}).await?;
    }
    Ok(Pool::new(DockerHost::connect().await?))
}
