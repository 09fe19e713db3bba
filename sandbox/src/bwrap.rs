//! The fallback backend for Linux hosts with no Docker engine: bubblewrap namespaces over the same
//! root filesystem (unpacked from the image's tarball), with every namespace unshared, no network
//! but the host's proxy socket when allowed, read-only system binds, no capabilities, nested user namespaces disabled, and
//! a read-only root, Landlock applied by the runner (writes only to /workspace and /tmp), and
//! rlimits (processes, data size, file size) set inside the sandbox's own user namespace, and a
//! seccomp filter like Docker's default profile (`seccomp`). As root, the sandbox first drops to
//! an unprivileged uid (rlimits do not bind root). Code shares the runner's uid, so the runner
//! confines code further (a Landlock signal scope and `seccomp::code_program`). Code is never run
//! without this isolation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;

use tokio::process::Command;
use tokio_util::io::ReaderStream;

use crate::pool::{Host, RunnerHandle};
use crate::runner::{Runner, SCRIPT};
use crate::tunnel::Upstream;
use crate::{Backend, Network, SandboxError, SandboxId, SandboxInfo, Spec};

/// Makes and runs bubblewrap sandboxes on this host.
pub struct BwrapHost {
    bwrap: PathBuf,
    rootfs: PathBuf,
    /// Process ids of running sandboxes, for `list` and `halt`.
    running: Mutex<HashMap<SandboxId, (String, Option<u32>)>>,
}

impl BwrapHost {
    /// Finds `bwrap` and checks the unpacked root filesystem.
    pub fn new(rootfs: &Path) -> Result<Self, SandboxError> {
        if !cfg!(target_os = "linux") {
            return Err(SandboxError::Unavailable(
                "no Docker engine answers and bubblewrap needs Linux; install Docker Desktop to run code".into(),
            ));
        }
        let bwrap = find_program("bwrap").ok_or_else(|| {
            SandboxError::Unavailable(
                "no Docker engine answers and bubblewrap is not installed; install Docker (apt-get install docker.io) or bubblewrap (apt-get install bubblewrap) to run code".into(),
            )
        })?;
        if !rootfs.join("usr/bin/python3").exists() {
            return Err(SandboxError::NoImage(format!(
                "root filesystem at {}",
                rootfs.display()
            )));
        }
        Ok(BwrapHost {
            bwrap,
            rootfs: rootfs.to_path_buf(),
            running: Mutex::new(HashMap::new()),
        })
    }

    /// The bubblewrap command; `seccomp` are inheritable descriptors of its seccomp filters,
    /// `code_filter` the filter the runner puts on code alone (hex).
    fn command(&self, spec: &Spec, seccomp: &[String], code_filter: &str) -> Command {
        let limits = &spec.limits;
        let mib = 1024 * 1024;
        let (uid, gid) = sandbox_ids(spec.workspace.as_deref());
        let mut cmd = if running_as_root() {
            let mut cmd = Command::new("setpriv");
            cmd.args([
                &format!("--reuid={uid}"),
                &format!("--regid={gid}"),
                "--clear-groups",
                "--",
            ]);
            cmd.arg(&self.bwrap);
            cmd
        } else {
            Command::new(&self.bwrap)
        };
        cmd.args(["--unshare-all", "--unshare-user", "--disable-userns"]);
        for fd in seccomp {
            cmd.args(["--add-seccomp-fd", fd]);
        }
        match &spec.network {
            // With a proxy, still no interface of the host: only its socket, bound further down,
            // or the runner's pipes.
            Network::Off | Network::Proxy(_) | Network::Relayed(_) => {}
            Network::Open => {
                cmd.arg("--share-net");
            }
        }
        cmd.args(["--uid", &uid.to_string(), "--gid", &gid.to_string()]);
        cmd.args([
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--clearenv",
        ]);
        cmd.args(["--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin"]);
        cmd.args(["--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8"]);
        // Code shares the runner's uid here: the runner keeps it off itself with this filter and
        // a Landlock scope (`runner.py`, `confine_code`).
        cmd.args(["--setenv", "AETHERIA_CODE_FILTER", code_filter]);
        for dir in ["usr", "etc"] {
            cmd.arg("--ro-bind")
                .arg(self.rootfs.join(dir))
                .arg(format!("/{dir}"));
        }
        for (link, target) in [
            ("/bin", "usr/bin"),
            ("/sbin", "usr/sbin"),
            ("/lib", "usr/lib"),
            ("/lib64", "usr/lib64"),
        ] {
            cmd.args(["--symlink", target, link]);
        }
        cmd.args(["--proc", "/proc", "--dev", "/dev"]);
        cmd.args([
            "--size",
            &(limits.tmp_mib * mib).to_string(),
            "--tmpfs",
            "/tmp",
        ]);
        match &spec.workspace {
            Some(workspace) => {
                cmd.arg("--bind").arg(workspace).arg("/workspace");
                for rel in &spec.read_only {
                    cmd.arg("--ro-bind")
                        .arg(workspace.join(rel))
                        .arg(Path::new("/workspace").join(rel));
                }
            }
            None => {
                cmd.args(["--dir", "/workspace"]);
            }
        }
        match &spec.network {
            Network::Proxy(socket) => {
                cmd.arg("--bind").arg(socket).arg(crate::EGRESS_SOCKET);
            }
            Network::Relayed(_) => {
                cmd.args(["--setenv", "AETHERIA_EGRESS_TUNNEL", "1"]);
            }
            Network::Off | Network::Open => {}
        }
        // bwrap's root is a writable tmpfs: make it read-only, so only /tmp (capped) and
        // /workspace take writes.
        cmd.args(["--remount-ro", "/"]);
        // The limits are set inside the sandbox's own user namespace, so the process count is
        // this sandbox's alone, not every process of the person's uid.
        cmd.args(["--chdir", "/workspace", "--", "prlimit"])
            .arg(format!("--nproc={}", limits.pids))
            .arg(format!("--data={}", limits.memory_mib * mib))
            .arg(format!("--fsize={}", limits.tmp_mib.max(64) * mib * 4))
            .args(["--core=0", "--", "python3", "-u", "-c", SCRIPT]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<SandboxId, (String, Option<u32>)>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl Host for BwrapHost {
    fn backend(&self) -> Backend {
        Backend::Bubblewrap
    }

    async fn make(&self, spec: &Spec) -> Result<SandboxId, SandboxError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = SandboxId(format!("bwrap-{}-{n}", std::process::id()));
        self.running().insert(id.clone(), (spec.name.clone(), None));
        Ok(id)
    }

    async fn launch(&self, id: &SandboxId, spec: &Spec) -> Result<RunnerHandle, SandboxError> {
        let filters = seccomp_files()?;
        let fds: Vec<String> = filters.iter().map(ToString::to_string).collect();
        let code_filter = code_filter()?;
        let mut child = self
            .command(spec, &fds, &code_filter)
            .spawn()
            .map_err(|e| SandboxError::Unavailable(format!("cannot start bubblewrap: {e}")))?;
        // bubblewrap has read them; this process's copies close here.
        drop(filters);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SandboxError::Runner("bubblewrap pipes missing".into()));
        };
        let short = id.0.clone();
        tokio::spawn(log_lines(stderr, short));
        if let Some(entry) = self.running().get_mut(id) {
            entry.1 = child.id();
        }
        let mut runner = Runner::start(
            Box::pin(stdin),
            Box::pin(ReaderStream::new(stdout)),
            Some(Box::new(child)),
        )
        .await?;
        if let Network::Relayed(addr) = &spec.network {
            runner.tunnel_to(Upstream::Tcp(*addr));
        }
        Ok(RunnerHandle(runner))
    }

    async fn halt(&self, id: &SandboxId) -> Result<(), SandboxError> {
        // The runner owns the child (killed on drop); the pool drops it before calling this.
        if let Some(entry) = self.running().get_mut(id) {
            entry.1 = None;
        }
        Ok(())
    }

    async fn remove(&self, id: &SandboxId) -> Result<(), SandboxError> {
        self.running().remove(id);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<SandboxInfo>, SandboxError> {
        Ok(self
            .running()
            .iter()
            .map(|(id, (name, pid))| SandboxInfo {
                id: id.clone(),
                name: name.clone(),
                running: pid.is_some(),
                status: match pid {
                    Some(pid) => format!("running (pid {pid})"),
                    None => "stopped".into(),
                },
            })
            .collect())
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Whether bubblewrap can be used on this host (Linux with `bwrap` on PATH).
pub(crate) fn available() -> bool {
    cfg!(target_os = "linux") && find_program("bwrap").is_some()
}

pub(crate) fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    false
}

/// The longest line of the runner's stderr that is logged; the rest of a longer one is dropped.
const MAX_LOG_LINE: usize = 4096;

/// Cuts a byte stream into lines of at most `MAX_LOG_LINE` bytes, holding no more than one such
/// line however long a line is (it may never end).
#[derive(Default)]
struct Lines {
    line: Vec<u8>,
    cut: bool,
}

impl Lines {
    fn feed(&mut self, bytes: &[u8], mut emit: impl FnMut(String)) {
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let room = MAX_LOG_LINE.saturating_sub(self.line.len());
            self.cut |= piece.len() > room;
            self.line.extend_from_slice(&piece[..piece.len().min(room)]);
            if piece.ends_with(b"\n") {
                let text = String::from_utf8_lossy(&self.line);
                let more = if self.cut { " […]" } else { "" };
                emit(format!("{}{more}", text.trim_end()));
                self.line.clear();
                self.cut = false;
            }
        }
    }
}

/// Logs what bubblewrap and the runner write to stderr, line by line, in bounded memory.
async fn log_lines(mut stderr: impl tokio::io::AsyncRead + Unpin, sandbox: String) {
    use tokio::io::AsyncReadExt;
    let mut lines = Lines::default();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = stderr.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        lines.feed(&chunk[..n], |line| {
            tracing::warn!(%sandbox, "runner: {line}");
        });
    }
}

/// The seccomp filters as files bubblewrap inherits (descriptors open across exec), by number.
#[cfg(target_os = "linux")]
fn seccomp_files() -> Result<Vec<SeccompFile>, SandboxError> {
    use std::io::{Seek, Write};
    use std::os::fd::AsRawFd;
    let failed =
        |e: String| SandboxError::Unavailable(format!("cannot make the seccomp filter: {e}"));
    crate::seccomp::programs()
        .map_err(|e| failed(e.to_string()))?
        .into_iter()
        .map(|program| {
            let mut file = tempfile::tempfile().map_err(|e| failed(e.to_string()))?;
            file.write_all(&program)
                .and_then(|()| file.rewind())
                .map_err(|e| failed(e.to_string()))?;
            rustix::io::fcntl_setfd(&file, rustix::io::FdFlags::empty())
                .map_err(|e| failed(e.to_string()))?;
            Ok(SeccompFile {
                fd: file.as_raw_fd(),
                _file: file,
            })
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn seccomp_files() -> Result<Vec<SeccompFile>, SandboxError> {
    Err(SandboxError::Unavailable("bubblewrap needs Linux".into()))
}

/// The filter the runner puts on code alone, in hex (an environment variable's text).
#[cfg(target_os = "linux")]
fn code_filter() -> Result<String, SandboxError> {
    let program = crate::seccomp::code_program().map_err(|e| {
        SandboxError::Unavailable(format!("cannot make the seccomp filter for code: {e}"))
    })?;
    Ok(hex::encode(program))
}

#[cfg(not(target_os = "linux"))]
fn code_filter() -> Result<String, SandboxError> {
    Err(SandboxError::Unavailable("bubblewrap needs Linux".into()))
}

/// A filter file kept open until bubblewrap has started.
struct SeccompFile {
    fd: i32,
    _file: std::fs::File,
}

impl std::fmt::Display for SeccompFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.fd)
    }
}

/// The uid and gid code runs as inside: the workspace owner when not root, else 1000.
fn sandbox_ids(workspace: Option<&Path>) -> (u32, u32) {
    #[cfg(unix)]
    if let Some(meta) = workspace.and_then(|w| std::fs::metadata(w).ok()) {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != 0 {
            return (meta.uid(), meta.gid());
        }
    }
    let _ = workspace;
    (1000, 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_stderr_line_is_held_in_bounded_memory() {
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        let mib = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            lines.feed(&mib, |l| seen.push(l));
            assert!(
                lines.line.capacity() <= 2 * MAX_LOG_LINE,
                "{}",
                lines.line.capacity()
            );
        }
        lines.feed(b"\nok\n", |l| seen.push(l));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].len(), MAX_LOG_LINE + " […]".len());
        assert_eq!(seen[1], "ok");
    }
}
