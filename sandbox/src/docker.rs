//! The Docker backend (bollard): one long-lived container per session from the locally built image,
//! with no network (or only the host's proxy socket) unless allowed, a read-only root, a tmpfs `/tmp`, the workspace at `/workspace`,
//! every capability dropped, `no-new-privileges`, code run as a non-root user other than the
//! runner's, pids/memory/CPU limits and an init process. The job runner is the container's main
//! process (root with only SETUID, SETGID and KILL); the host talks to it over attach.

use std::collections::HashMap;
use std::path::Path;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, KillContainerOptions, ListContainersOptions,
    RemoveContainerOptions,
};
use futures::StreamExt;

use crate::pool::{Host, RunnerHandle};
use crate::runner::{Runner, SCRIPT};
use crate::tunnel::Upstream;
use crate::{Backend, Network, SandboxError, SandboxId, SandboxInfo, Spec, image};

/// Label every Aetheria sandbox container carries.
pub const LABEL: &str = "io.aetheria.sandbox";
const LABEL_NAME: &str = "io.aetheria.name";
const LABEL_OWNER: &str = "io.aetheria.owner";

/// What the Docker engine reported about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DockerInfo {
    /// The engine's version.
    pub version: String,
    /// The API version agreed with it.
    pub api_version: String,
}

/// Connects to the Docker engine (`DOCKER_HOST` or the platform default) and negotiates the API
/// version.
pub async fn connect() -> Result<Docker, SandboxError> {
    let docker =
        Docker::connect_with_defaults().map_err(|e| SandboxError::NoDocker(e.to_string()))?;
    docker
        .negotiate_version()
        .await
        .map_err(|e| SandboxError::NoDocker(e.to_string()))
}

/// Connects to the Docker engine and asks for its version.
pub async fn docker_info() -> Result<DockerInfo, SandboxError> {
    let docker = connect().await?;
    let version = docker
        .version()
        .await
        .map_err(|e| SandboxError::NoDocker(e.to_string()))?;
    Ok(DockerInfo {
        version: version.version.unwrap_or_else(|| "unknown".into()),
        api_version: docker.client_version().to_string(),
    })
}

/// Makes and runs sandbox containers on one Docker engine.
pub struct DockerHost {
    docker: Docker,
    image: String,
    /// `hostname/token`: the token is random, and its lock file (held while this lives) says
    /// whether the owner still runs.
    owner: String,
    _lock: Option<std::fs::File>,
    /// Whether the engine runs on this machine's own kernel, so a Unix socket of this host can be
    /// bound into a container (not Docker Desktop's virtual machine, not a remote engine).
    shares_sockets: bool,
}

/// Where the owners' lock files are.
fn owners_dir() -> std::path::PathBuf {
    crate::default_cache_dir().join("owners")
}

/// A new random owner token with its lock file, held when `hold`.
fn new_owner(hold: bool) -> (String, Option<std::fs::File>) {
    let token = random_token();
    let dir = owners_dir();
    let file = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::File::create(dir.join(format!("{token}.lock"))));
    let lock = match file {
        Ok(file) if hold => match file.try_lock() {
            Ok(()) => Some(file),
            Err(e) => {
                tracing::warn!("cannot lock the sandbox owner file: {e}");
                None
            }
        },
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("cannot make the sandbox owner file: {e}");
            None
        }
    };
    (format!("{}/{token}", hostname()), lock)
}

/// A random token: 16 bytes from the OS, as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: the time and pid still make it unique to this run.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes.copy_from_slice(&(now ^ u128::from(std::process::id())).to_le_bytes());
    }
    hex::encode(bytes)
}

/// Whether the owner of a token has gone: its lock file is there and nobody holds it. A token
/// with no lock file here is another user's (or machine's): never judged gone.
fn owner_gone(token: &str) -> bool {
    if token.len() != 32 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        // An older label, `hostname/pid`.
        return !process_alive(token);
    }
    let path = owners_dir().join(format!("{token}.lock"));
    let gone = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .is_ok_and(|file| file.try_lock().is_ok());
    if gone {
        let _ = std::fs::remove_file(path);
    }
    gone
}

/// Whether a Unix socket of this host can be bound into the engine's containers: the engine is
/// reached over a local socket on Linux and is no Docker Desktop (whose engine runs in a virtual
/// machine of its own).
async fn shares_sockets(docker: &Docker) -> bool {
    let local = std::env::var("DOCKER_HOST").map_or(true, |host| host.starts_with("unix://"));
    if !cfg!(target_os = "linux") || !local {
        return false;
    }
    match docker.info().await {
        Ok(info) => !info
            .operating_system
            .unwrap_or_default()
            .contains("Docker Desktop"),
        Err(e) => {
            tracing::warn!("cannot ask the Docker engine what it runs on: {e}");
            false
        }
    }
}

impl DockerHost {
    /// Connects and removes containers a crashed Aetheria left behind on this machine. The image
    /// is checked when a sandbox is made, so `ps` and `rm` work before it is built.
    pub async fn connect() -> Result<Self, SandboxError> {
        let docker = connect().await?;
        let image = image::image_ref();
        let (owner, lock) = new_owner(true);
        let shares_sockets = shares_sockets(&docker).await;
        let host = DockerHost {
            docker,
            image,
            owner,
            _lock: lock,
            shares_sockets,
        };
        let swept = host.sweep_orphans().await?;
        if swept > 0 {
            tracing::info!("removed {swept} sandbox containers left by an earlier run");
        }
        Ok(host)
    }

    /// Marks sandboxes made from now on as owned by an app that has crashed (its lock file is
    /// there, held by nobody): tests use it to stand for one.
    #[doc(hidden)]
    #[must_use]
    pub fn owned_by_a_crashed_app(mut self) -> Self {
        let (owner, _) = new_owner(false);
        self.owner = owner;
        self
    }

    /// Treats the engine as one that cannot take a Unix socket of this machine (Docker Desktop,
    /// a remote engine), so an online sandbox reaches the proxy through the runner's pipes: tests
    /// use it to stand for one.
    #[doc(hidden)]
    #[must_use]
    pub fn as_if_in_a_virtual_machine(mut self) -> Self {
        self.shares_sockets = false;
        self
    }

    /// The engine connection.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Removes labelled containers whose owner on this machine is gone (its lock file free).
    pub async fn sweep_orphans(&self) -> Result<usize, SandboxError> {
        let me = hostname();
        let mut removed = 0;
        for c in self.containers().await? {
            let owner = c
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_OWNER))
                .cloned()
                .unwrap_or_default();
            let (host, token) = owner.rsplit_once('/').unwrap_or(("", ""));
            if host == me
                && owner_gone(token)
                && let Some(id) = c.id
            {
                self.remove(&SandboxId(id)).await?;
                removed += 1;
            }
        }
        // Lock files of apps that ended (with or without sandboxes) go too.
        if let Ok(entries) = std::fs::read_dir(owners_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(token) = name.strip_suffix(".lock") {
                    owner_gone(token);
                }
            }
        }
        Ok(removed)
    }

    async fn containers(&self) -> Result<Vec<bollard::models::ContainerSummary>, SandboxError> {
        let filters = HashMap::from([("label".to_string(), vec![LABEL.to_string()])]);
        Ok(self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await?)
    }
}

#[async_trait::async_trait]
impl Host for DockerHost {
    fn backend(&self) -> Backend {
        Backend::Docker
    }

    async fn make(&self, spec: &Spec) -> Result<SandboxId, SandboxError> {
        if !image::image_exists(&self.docker).await? {
            return Err(SandboxError::NoImage(self.image.clone()));
        }
        let limits = &spec.limits;
        let mut binds = Vec::new();
        let mut tmpfs = HashMap::from([(
            "/tmp".to_string(),
            format!("rw,nosuid,nodev,size={}m,mode=1777", limits.tmp_mib),
        )]);
        match &spec.workspace {
            Some(workspace) => binds.push(format!("{}:/workspace:rw", workspace.display())),
            None => {
                tmpfs.insert(
                    "/workspace".into(),
                    format!("rw,nosuid,nodev,size={}m,mode=1777", limits.tmp_mib),
                );
            }
        }
        // Read-only places over the workspace (as mounts, not `binds` strings: a name may hold a
        // colon or a comma).
        let mut mounts: Vec<Mount> = spec
            .workspace
            .iter()
            .flat_map(|workspace| {
                spec.read_only.iter().map(move |rel| Mount {
                    target: Some(format!("/workspace/{}", slashed(rel))),
                    source: Some(workspace.join(rel).display().to_string()),
                    typ: Some(MountType::BIND),
                    read_only: Some(true),
                    ..Default::default()
                })
            })
            .collect();
        // With a proxy the container keeps no interface but loopback: the proxy's socket is its
        // only way out. An engine that cannot take the socket (in a virtual machine, or on
        // another machine) gets the proxy through the runner's pipes instead (`tunnel`).
        let (bridge, tunnel) = match &spec.network {
            Network::Off => (false, false),
            Network::Proxy(socket) if self.shares_sockets => {
                mounts.push(Mount {
                    target: Some(crate::EGRESS_SOCKET.into()),
                    source: Some(socket.display().to_string()),
                    typ: Some(MountType::BIND),
                    ..Default::default()
                });
                (false, false)
            }
            Network::Proxy(_) | Network::Relayed(_) => (false, true),
            Network::Open => (true, false),
        };
        let mib = 1024 * 1024;
        let host_config = HostConfig {
            mounts: Some(mounts),
            network_mode: Some(if bridge { "bridge" } else { "none" }.into()),
            readonly_rootfs: Some(true),
            tmpfs: Some(tmpfs),
            binds: Some(binds),
            cap_drop: Some(vec!["ALL".into()]),
            // The runner starts as root with these alone: enough to start code as another uid
            // and to kill what code leaves; code (that uid) gets none of them.
            cap_add: Some(vec!["SETUID".into(), "SETGID".into(), "KILL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            pids_limit: Some(limits.pids as i64),
            memory: Some((limits.memory_mib * mib) as i64),
            memory_swap: Some((limits.memory_mib * mib) as i64),
            nano_cpus: Some((limits.cpus * 1e9) as i64),
            init: Some(true),
            ..Default::default()
        };
        let labels = HashMap::from([
            (LABEL.to_string(), "1".to_string()),
            (LABEL_NAME.to_string(), spec.name.clone()),
            (LABEL_OWNER.to_string(), self.owner.clone()),
        ]);
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(vec![
                "python3".into(),
                "-u".into(),
                "-c".into(),
                SCRIPT.into(),
            ]),
            user: Some("0:0".into()),
            working_dir: Some("/workspace".into()),
            env: Some(vec![
                "HOME=/tmp".into(),
                "LANG=C.UTF-8".into(),
                format!(
                    "AETHERIA_CODE_USER={}",
                    code_user(spec.workspace.as_deref())
                ),
                format!("AETHERIA_EGRESS_TUNNEL={}", u8::from(tunnel)),
            ]),
            labels: Some(labels),
            open_stdin: Some(true),
            stdin_once: Some(false),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            network_disabled: Some(!spec.network.is_on()),
            host_config: Some(host_config),
            ..Default::default()
        };
        let name = format!("aetheria-{}-{}", sanitize(&spec.name), &uuid_like()[..8]);
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name),
                    ..Default::default()
                }),
                body,
            )
            .await?;
        Ok(SandboxId(created.id))
    }

    async fn launch(&self, id: &SandboxId, spec: &Spec) -> Result<RunnerHandle, SandboxError> {
        let state = self.docker.inspect_container(&id.0, None).await?.state;
        if state.and_then(|s| s.running).unwrap_or(false) {
            self.halt(id).await?;
        }
        let attached = self
            .docker
            .attach_container(
                &id.0,
                Some(AttachContainerOptions {
                    stream: true,
                    stdin: true,
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                }),
            )
            .await?;
        self.docker.start_container(&id.0, None).await?;
        let short = id.0.chars().take(12).collect::<String>();
        let output = attached.output.filter_map(move |item| {
            let short = short.clone();
            async move {
                match item {
                    Ok(LogOutput::StdOut { message }) => Some(Ok(message)),
                    Ok(LogOutput::StdErr { message }) => {
                        tracing::warn!(sandbox = %short, "runner: {}", String::from_utf8_lossy(&message));
                        None
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(std::io::Error::other(e))),
                }
            }
        });
        let mut runner = Runner::start(attached.input, Box::pin(output), None).await?;
        match &spec.network {
            Network::Proxy(socket) if !self.shares_sockets => {
                runner.tunnel_to(Upstream::Socket(socket.clone()));
            }
            Network::Relayed(addr) => runner.tunnel_to(Upstream::Tcp(*addr)),
            _ => {}
        }
        Ok(RunnerHandle(runner))
    }

    async fn halt(&self, id: &SandboxId) -> Result<(), SandboxError> {
        let result = self
            .docker
            .kill_container(
                &id.0,
                Some(KillContainerOptions {
                    signal: "SIGKILL".into(),
                }),
            )
            .await;
        match result {
            // 409: it was not running, which is what we wanted.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            other => Ok(other?),
        }
    }

    async fn remove(&self, id: &SandboxId) -> Result<(), SandboxError> {
        let result = self
            .docker
            .remove_container(
                &id.0,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
        match result {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            other => Ok(other?),
        }
    }

    async fn list(&self) -> Result<Vec<SandboxInfo>, SandboxError> {
        Ok(self
            .containers()
            .await?
            .into_iter()
            .map(|c| SandboxInfo {
                id: SandboxId(c.id.unwrap_or_default()),
                name: c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_NAME))
                    .cloned()
                    .unwrap_or_default(),
                running: c.state.map(|s| s.to_string()) == Some("running".into()),
                status: c.status.unwrap_or_default(),
            })
            .collect())
    }
}

/// A relative path with `/` between its names, as the sandbox (Linux) spells it.
fn slashed(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The uid:gid code runs as (the runner, root with three capabilities, is another): the
/// workspace folder's owner, so files it writes belong to the person, or 1000:1000 (the image's
/// `sandbox` user) when that owner is root or unknown.
fn code_user(workspace: Option<&Path>) -> String {
    #[cfg(unix)]
    if let Some(meta) = workspace.and_then(|w| std::fs::metadata(w).ok()) {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != 0 {
            return format!("{}:{}", meta.uid(), meta.gid());
        }
    }
    let _ = workspace;
    "1000:1000".into()
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    if s.is_empty() { "sandbox".into() } else { s }
}

fn uuid_like() -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let counter = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    hex::encode(Sha256::digest(format!(
        "{nanos}-{}-{counter}",
        std::process::id()
    )))
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether a process of this machine still runs (Linux: `/proc`; elsewhere unknown, so a sandbox
/// of another Aetheria process is only removed by `aetheria sandbox rm`).
fn process_alive(pid: &str) -> bool {
    if pid.is_empty() || !pid.chars().all(|c| c.is_ascii_digit()) {
        return false;
    }
    if pid == std::process::id().to_string() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid).exists()
    } else {
        true
    }
}
