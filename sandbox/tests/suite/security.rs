//! The attack suite: each attack runs against the real Docker backend and the real bubblewrap
//! backend and must be contained, with the host responsive and nothing left running afterwards.

use std::time::{Duration, Instant};

use aetheria_sandbox::{ExecRequest, Sandbox, SandboxId};

use super::common::{leftovers, run, sh};

async fn assert_clean(sb: &dyn Sandbox, id: &SandboxId) {
    let left = leftovers(sb, id).await;
    assert!(left.is_empty(), "processes left running: {left:?}");
}

pub async fn network_egress(sb: &dyn Sandbox, id: &SandboxId) {
    let ip = run(
        sb,
        id,
        &[
            "python3",
            "-c",
            "import socket; socket.create_connection(('1.1.1.1', 443), timeout=3)",
        ],
        20,
    )
    .await;
    assert!(!ip.success(), "reached 1.1.1.1: {ip:?}");
    assert!(
        ip.stderr.text().contains("OSError") || ip.stderr.text().contains("unreachable"),
        "{ip:?}"
    );
    let dns = run(
        sb,
        id,
        &[
            "python3",
            "-c",
            "import socket; print(socket.gethostbyname('deb.debian.org'))",
        ],
        20,
    )
    .await;
    assert!(!dns.success(), "resolved a name: {dns:?}");
    let links = sh(sb, id, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '").await;
    assert_eq!(links.stdout.text().trim(), "lo", "{links:?}");
}

/// A stand-in for the engine's proxy on a Unix socket of the host (or on loopback TCP, as a
/// Windows build serves it): it answers every `CONNECT` with 200, then echoes, and keeps the
/// targets it was asked for.
pub struct HostProxy {
    _dir: tempfile::TempDir,
    pub socket: std::path::PathBuf,
    /// Its loopback address, when it listens on TCP instead.
    pub addr: Option<std::net::SocketAddr>,
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

type Asked = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// One client of the stand-in proxy.
fn proxy_one<S: std::io::Read + std::io::Write>(reading: S, mut writer: S, seen: &Asked) {
    use std::io::{BufRead, BufReader};
    let mut reader = BufReader::new(reading);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    seen.lock().unwrap().push(line.trim().to_owned());
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
            break;
        }
    }
    writer
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let mut echo = String::new();
    while reader.read_line(&mut echo).unwrap_or(0) > 0 {
        let _ = writer.write_all(echo.as_bytes());
        echo.clear();
    }
}

/// Serves each client of the stand-in proxy on a thread of its own.
fn serve_proxy<S: std::io::Read + std::io::Write + Send + 'static>(
    clients: impl Iterator<Item = std::io::Result<S>>,
    try_clone: fn(&S) -> std::io::Result<S>,
    seen: &Asked,
) {
    for stream in clients {
        let Ok(stream) = stream else { return };
        let seen = seen.clone();
        std::thread::spawn(move || proxy_one(try_clone(&stream).unwrap(), stream, &seen));
    }
}

impl HostProxy {
    pub fn start() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // The sandbox user (uid 1000 when the tests run as root) must reach the socket.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let socket = dir.path().join("egress.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        let asked = Asked::default();
        let seen = asked.clone();
        std::thread::spawn(move || {
            serve_proxy(
                listener.incoming(),
                std::os::unix::net::UnixStream::try_clone,
                &seen,
            );
        });
        Self {
            _dir: dir,
            socket,
            addr: None,
            asked,
        }
    }

    /// The same on a loopback TCP port.
    pub fn start_tcp() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let asked = Asked::default();
        let seen = asked.clone();
        std::thread::spawn(move || {
            serve_proxy(listener.incoming(), std::net::TcpStream::try_clone, &seen);
        });
        let dir = tempfile::tempdir().unwrap();
        Self {
            socket: dir.path().join("none"),
            _dir: dir,
            addr: Some(addr),
            asked,
        }
    }
}

/// With the network on through the host's proxy, code has loopback only: nothing is reached
/// directly, and the proxy the runner serves leads to the host's socket and nowhere else.
pub async fn proxied_network(sb: &dyn Sandbox, id: &SandboxId, proxy: &HostProxy) {
    // Directly, it reaches nothing, as with no network at all.
    network_egress(sb, id).await;
    let through = run(
        sb,
        id,
        &[
            "python3",
            "-c",
            "import os, socket, urllib.parse\n\
             proxy = urllib.parse.urlsplit(os.environ['HTTPS_PROXY'])\n\
             s = socket.create_connection((proxy.hostname, proxy.port), timeout=10)\n\
             s.sendall(b'CONNECT example.com:443 HTTP/1.1\\r\\nHost: example.com:443\\r\\n\\r\\n')\n\
             f = s.makefile('rb')\n\
             print(f.readline().decode().strip())\n\
             f.readline()\n\
             s.sendall(b'ping\\n')\n\
             print(f.readline().decode().strip())\n",
        ],
        20,
    )
    .await;
    assert_eq!(
        through.stdout.text(),
        "HTTP/1.1 200 Connection established\nping\n",
        "{through:?}"
    );
    assert_eq!(
        *proxy.asked.lock().unwrap(),
        vec!["CONNECT example.com:443 HTTP/1.1".to_owned()]
    );
    // Connections at once are capped (each takes two of the sandbox's threads; an eighth of its
    // process limit, 64 here, so 8): past the cap the proxy answers 503 and goes on, and closed
    // connections free their places.
    let flood = r#"
import os, socket, time, urllib.parse
p = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
def connect():
    s = socket.create_connection((p.hostname, p.port), timeout=10)
    s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
    return s, s.makefile("rb").readline().decode().split(" ")[1]
held, status = [], None
for _ in range(100):
    s, status = connect()
    if status != "200":
        break
    held.append(s)
print(len(held), status)
for s in held:
    s.close()
for _ in range(200):
    s, again = connect()
    s.close()
    if again == "200":
        break
    time.sleep(0.1)
print(again)
"#;
    let out = run(sb, id, &["python3", "-c", flood], 60).await;
    let text = out.stdout.text();
    // The first check's connection may still be closing: 7 or 8 places are free.
    assert!(text == "8 503\n200\n" || text == "7 503\n200\n", "{out:?}");
}

pub async fn host_files(sb: &dyn Sandbox, id: &SandboxId) {
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("secret.txt");
    std::fs::write(&secret, "host secret").unwrap();
    let path = secret.to_str().unwrap();
    let out = run(sb, id, &["cat", path], 10).await;
    assert!(!out.success(), "read a host file: {out:?}");
    assert!(!out.stdout.text().contains("host secret"));
    let elsewhere = sh(sb, id, "for p in /x /dev/x /usr/x /etc/x /var/x; do touch $p 2>/dev/null && echo WROTE $p; done; echo checked").await;
    assert_eq!(
        elsewhere.stdout.text(),
        "checked\n",
        "writable outside /workspace and /tmp: {elsewhere:?}"
    );
    let root = sh(
        sb,
        id,
        "ls /root /home 2>&1; cat /etc/shadow 2>&1; touch /usr/x 2>&1; echo done",
    )
    .await;
    assert!(root.stdout.text().contains("done"), "{root:?}");
    assert!(
        !root.stdout.text().contains("root:"),
        "read /etc/shadow: {root:?}"
    );
    assert!(
        root.stdout.text().contains("Read-only file system")
            || root.stdout.text().contains("Permission denied"),
        "wrote to /usr: {root:?}"
    );
}

pub async fn docker_socket(sb: &dyn Sandbox, id: &SandboxId) {
    let out = sh(sb, id, "ls -l /var/run/docker.sock /run/docker.sock 2>&1; python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock')\"").await;
    assert!(!out.success(), "{out:?}");
    assert!(out.stdout.text().contains("No such file"), "{out:?}");
}

pub async fn fork_bomb(sb: &dyn Sandbox, id: &SandboxId) {
    let started = Instant::now();
    let out = run(
        sb,
        id,
        &[
            "python3",
            "-c",
            "import os\nwhile True:\n  try: os.fork()\n  except OSError: pass",
        ],
        5,
    )
    .await;
    assert!(out.timed_out, "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_clean(sb, id).await;
}

pub async fn memory_hog(sb: &dyn Sandbox, id: &SandboxId, expect_oom_flag: bool) {
    let out = run(
        sb,
        id,
        &[
            "python3",
            "-c",
            "b=[]\nwhile True: b.append(bytearray(32*2**20))",
        ],
        30,
    )
    .await;
    assert!(!out.success(), "{out:?}");
    assert!(!out.timed_out, "{out:?}");
    if expect_oom_flag {
        assert!(out.oom_killed, "{out:?}");
        assert!(
            out.status_line().contains("out of memory"),
            "{}",
            out.status_line()
        );
    } else {
        assert!(out.stderr.text().contains("MemoryError"), "{out:?}");
    }
    assert_clean(sb, id).await;
}

pub async fn fill_tmp(sb: &dyn Sandbox, id: &SandboxId) {
    let out = sh(
        sb,
        id,
        "dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>&1; rc=$?; du -sm /tmp/fill; exit $rc",
    )
    .await;
    assert!(!out.success(), "{out:?}");
    let text = out.stdout.text();
    assert!(
        text.contains("No space left") || text.contains("File too large"),
        "{text}"
    );
    let mib: u64 = text
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(mib <= 33, "tmpfs held {mib} MiB");
    sh(sb, id, "rm -f /tmp/fill").await;
}

pub async fn endless_loop(sb: &dyn Sandbox, id: &SandboxId) {
    let out = run(sb, id, &["python3", "-c", "while True: pass"], 2).await;
    assert!(out.timed_out, "{out:?}");
    assert!(
        out.status_line().contains("deadline"),
        "{}",
        out.status_line()
    );
    assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
    assert_clean(sb, id).await;
    let after = run(sb, id, &["echo", "still here"], 10).await;
    assert_eq!(after.stdout.text(), "still here\n");
}

pub async fn privileges(sb: &dyn Sandbox, id: &SandboxId) {
    let out = run(
        sb,
        id,
        &["python3", "-c", "import os, socket\nfor f in (lambda: os.setuid(0), lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), lambda: os.chown('/workspace', 0, 0)):\n  try:\n    f(); print('ALLOWED')\n  except OSError as e: print('denied', e.errno)"],
        10,
    )
    .await;
    assert!(out.success(), "{out:?}");
    let text = out.stdout.text();
    assert_eq!(text.matches("denied").count(), 3, "{text}");
    let id_out = run(sb, id, &["id", "-u"], 10).await;
    assert_ne!(id_out.stdout.text().trim(), "0", "code runs as root");
    let caps = sh(sb, id, "grep -E 'CapEff|NoNewPrivs' /proc/self/status").await;
    assert!(caps.stdout.text().contains("0000000000000000"), "{caps:?}");
    assert!(caps.stdout.text().contains("NoNewPrivs:\t1"), "{caps:?}");
    // A setuid-root binary of the image runs without its privilege.
    let setuid = sh(
        sb,
        id,
        "ls -l /usr/bin/su; su -c id root </dev/null 2>&1; echo rc=$?",
    )
    .await;
    assert!(
        setuid.stdout.text().starts_with("-rws"),
        "the image has a setuid su: {setuid:?}"
    );
    assert!(!setuid.stdout.text().contains("uid=0"), "{setuid:?}");
}

pub async fn mount_and_unshare(sb: &dyn Sandbox, id: &SandboxId) {
    let mount = sh(sb, id, "mount -t tmpfs none /tmp 2>&1").await;
    assert!(!mount.success(), "{mount:?}");
    let unshare = sh(sb, id, "unshare --user --map-root-user id 2>&1").await;
    assert!(!unshare.success(), "{unshare:?}");
    assert!(!unshare.stdout.text().contains("uid=0"), "{unshare:?}");
}

pub async fn output_flood(sb: &dyn Sandbox, id: &SandboxId) {
    let before = rss_kib();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<aetheria_sandbox::Chunk>(16);
    let drain = tokio::spawn(async move {
        let mut bytes = 0usize;
        while let Some(chunk) = rx.recv().await {
            bytes += chunk.data.len();
        }
        bytes
    });
    let out = sb
        .exec(
            id,
            ExecRequest::new(["yes"]).timeout(Duration::from_secs(10)),
            Some(tx),
        )
        .await
        .unwrap();
    let streamed = drain.await.unwrap();
    assert!(out.timed_out, "{out:?}");
    assert!(
        out.stdout.total() > 2 << 20,
        "only {} bytes",
        out.stdout.total()
    );
    assert!(
        out.stdout.text().len() < 40 * 1024,
        "kept {} bytes",
        out.stdout.text().len()
    );
    assert!(out.stdout.text().contains("bytes cut"));
    assert_eq!(streamed, 1 << 20, "the live stream stops at the limit");
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 100 * 1024, "the app grew by {grown} KiB");
    assert_clean(sb, id).await;
}

pub async fn ignores_sigterm(sb: &dyn Sandbox, id: &SandboxId) {
    let out = run(
        sb,
        id,
        &["python3", "-c", "import signal, time, os\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nif os.fork() == 0:\n  os.setsid()\nwhile True: time.sleep(1)"],
        2,
    )
    .await;
    assert!(out.timed_out, "{out:?}");
    assert_clean(sb, id).await;
    let escape = sh(sb, id, "setsid sleep 1000 >/dev/null 2>&1 & echo started").await;
    assert_eq!(escape.stdout.text(), "started\n");
    assert_clean(sb, id).await;
}

/// Code tries to talk over its runner: write a forged "exit 0" frame into its stdout through
/// /proc, attach to it with ptrace, stop or kill it (by its pid, by a pidfd, and with `kill(-1)`),
/// and starve it by naming its pid to calls that change another process (a one-second CPU limit
/// through `prlimit` kills, a lowered priority, CPU set or I/O class starves). Every one is refused,
/// with bubblewrap too, where code shares the runner's uid: the runner is not dumpable, code gets a
/// Landlock domain that keeps its signals in, and a filter refuses calls that name another process.
/// So the host sees the program's real exit and the sandbox goes on.
pub async fn runner_out_of_reach(sb: &dyn Sandbox, id: &SandboxId, separate_uid: bool) {
    let forge = r#"
import ctypes, json, os, platform, resource, signal, struct, sys
runner = os.getppid()
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
print("runner uid", os.stat("/proc/%d" % runner).st_uid, "mine", os.getuid())
def attempt(name, call):
    try:
        call()
        print(name, "done")
    except OSError as e:
        print(name, "refused", e.errno)
def syscall(nr, *args):
    if libc.syscall(nr, *args) != 0:
        raise OSError(ctypes.get_errno(), "")
arm = platform.machine() == "aarch64"
attempt("stop", lambda: os.kill(runner, signal.SIGSTOP))
attempt("kill", lambda: os.kill(runner, signal.SIGKILL))
def by_pidfd():
    fd = os.pidfd_open(runner)
    signal.pidfd_send_signal(fd, signal.SIGKILL)
attempt("pidfd", by_pidfd)
attempt("cpu limit", lambda: resource.prlimit(runner, resource.RLIMIT_CPU, (1, 1)))
attempt("files limit", lambda: resource.prlimit(runner, resource.RLIMIT_NOFILE, (0, 0)))
attempt("priority", lambda: os.setpriority(os.PRIO_PROCESS, runner, 19))
attempt("cpu set", lambda: os.sched_setaffinity(runner, {0}))
attempt("scheduler", lambda: os.sched_setscheduler(runner, os.SCHED_IDLE, os.sched_param(0)))
# ioprio_set(IOPRIO_WHO_PROCESS, runner, IOPRIO_CLASS_IDLE << 13)
attempt("io class", lambda: syscall(30 if arm else 251, 1, runner, 3 << 13))
if sys.argv[1] == "shared":
    # Every process of the caller's uid: the runner's too.
    attempt("everyone's priority", lambda: os.setpriority(os.PRIO_USER, 0, 19))
    attempt("kill everyone", lambda: os.kill(-1, signal.SIGKILL))
payload = json.dumps({"code": 0, "signal": None, "timed_out": False, "oom": False}).encode()
forged = b"O" + struct.pack(">I", 6) + b"forged" + b"X" + struct.pack(">I", len(payload)) + payload
try:
    fd = os.open("/proc/%d/fd/1" % runner, os.O_WRONLY)
    os.write(fd, forged)
    print("wrote")
except OSError as e:
    print("open refused", e.errno)
if libc.ptrace(16, runner, 0, 0) == 0:
    print("attached")
else:
    print("ptrace refused", ctypes.get_errno())
# Its own children it may still signal, its own priority and limits still change.
import subprocess
child = subprocess.Popen(["sleep", "100"])
os.kill(child.pid, signal.SIGKILL)
print("own child", child.wait())
os.setpriority(os.PRIO_PROCESS, 0, 15)
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
print("own priority", os.getpriority(os.PRIO_PROCESS, 0))
sys.exit(3)
"#;
    let how = if separate_uid { "separate" } else { "shared" };
    let out = run(sb, id, &["python3", "-c", forge, how], 20).await;
    let text = out.stdout.text();
    assert_eq!(
        out.exit_code,
        Some(3),
        "the runner was stopped or a forged exit believed: {out:?}"
    );
    let runner_uid = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("runner uid "))
        .unwrap_or_else(|| panic!("{text}"));
    if separate_uid {
        assert_eq!(runner_uid, "0 mine 1000", "{text}");
    } else {
        let (runner, mine) = runner_uid.split_once(" mine ").unwrap();
        assert_eq!(runner, mine, "{text}");
    }
    for what in [
        "stop",
        "kill",
        "pidfd",
        "cpu limit",
        "files limit",
        "priority",
        "cpu set",
        "scheduler",
        "io class",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{what} refused"))),
            "{what} was not refused:\n{text}"
        );
    }
    // kill(-1) "succeeds" when there is someone it may signal; the runner must not be among them,
    // which the exit code above and the next run below show.
    if !separate_uid {
        assert!(text.contains("everyone's priority refused"), "{text}");
    }
    assert!(text.contains("own child -9\nown priority 15"), "{text}");
    assert!(
        !text.contains("forged") && !text.contains("wrote"),
        "{text}"
    );
    assert!(
        text.contains("open refused") && text.contains("ptrace refused"),
        "{text}"
    );
    assert!(!text.contains("attached"), "{text}");
    // The same runner goes on: the next run works, at its usual priority.
    let next = sh(sb, id, "echo alive; nice").await;
    assert_eq!(next.stdout.text(), "alive\n10\n", "{next:?}");
    assert_clean(sb, id).await;
}

/// The calls Docker's default profile refuses an unprivileged container are refused in the
/// bubblewrap sandbox too (`strict`; Docker 20.10's own profile still allows `io_uring` and
/// `ptrace`), the host session's keyring among them.
pub async fn dangerous_syscalls(sb: &dyn Sandbox, id: &SandboxId, strict: bool) {
    let probe = r#"
import ctypes, platform
libc = ctypes.CDLL(None, use_errno=True)
arm = platform.machine() == "aarch64"
nr = {"keyctl": 219 if arm else 250, "io_uring_setup": 425, "ptrace": 117 if arm else 101,
      "bpf": 280 if arm else 321, "perf_event_open": 241 if arm else 298}
buf = ctypes.create_string_buffer(256)
calls = {"keyctl": (0, -3, 0), "io_uring_setup": (4, buf), "ptrace": (0, 0, 0, 0),
         "bpf": (5, buf, 128), "perf_event_open": (buf, 0, -1, -1, 0)}
if platform.machine() == "x86_64":
    # The same calls through the x32 ABI (bit 30 set; x32's own ptrace is 521). A kernel with
    # x32 off answers ENOSYS (38); a filter that sees them answers EPERM (1).
    x32 = 0x40000000
    nr.update({"x32 keyctl": x32 | 250, "x32 ptrace": x32 | 521, "x32 bpf": x32 | 321})
    calls.update({"x32 keyctl": calls["keyctl"], "x32 ptrace": calls["ptrace"],
                  "x32 bpf": calls["bpf"]})
for name, args in calls.items():
    ctypes.set_errno(0)
    r = libc.syscall(nr[name], *args)
    print(name, "allowed" if r >= 0 else "errno=%d" % ctypes.get_errno())
"#;
    let out = run(sb, id, &["python3", "-c", probe], 20).await;
    let text = out.stdout.text();
    assert!(out.success(), "{out:?}");
    let mut names: Vec<&str> = if strict {
        vec![
            "keyctl",
            "io_uring_setup",
            "ptrace",
            "bpf",
            "perf_event_open",
        ]
    } else {
        vec!["keyctl", "bpf", "perf_event_open"]
    };
    if cfg!(target_arch = "x86_64") {
        names.extend(["x32 keyctl", "x32 bpf"]);
        if strict {
            names.push("x32 ptrace");
        }
    }
    for name in names {
        assert!(
            text.contains(&format!("{name} errno=1\n")),
            "{name} not refused: {text}"
        );
    }
}

fn rss_kib() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Expands every attack into a test against one backend.
macro_rules! attacks {
    ($backend:ident, $open:path, $oom_flag:expr, $strict:expr, $separate_uid:expr) => {
        mod $backend {
            use super::super::common::{skip, spec, workspace};
            use aetheria_sandbox::Sandbox;

            async fn with(
                name: &str,
                attack: impl AsyncFnOnce(&dyn Sandbox, &aetheria_sandbox::SandboxId),
            ) {
                if skip(stringify!($backend)) {
                    return;
                }
                let sb = $open().await;
                let ws = workspace();
                let id = sb.create(&spec(name, ws.path())).await.unwrap();
                attack(sb.as_ref(), &id).await;
                sb.destroy(&id).await.unwrap();
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn network_egress_is_blocked() {
                with("net", super::network_egress).await
            }
            /// Online through the host's proxy, with only a network of `network(proxy)`.
            async fn online(
                name: &str,
                proxy: super::HostProxy,
                network: impl FnOnce(&super::HostProxy) -> aetheria_sandbox::Network,
            ) {
                if skip(stringify!($backend)) {
                    return;
                }
                let sb = $open().await;
                let ws = workspace();
                let mut spec = spec(name, ws.path());
                spec.network = network(&proxy);
                let id = sb.create(&spec).await.unwrap();
                super::proxied_network(sb.as_ref(), &id, &proxy).await;
                sb.destroy(&id).await.unwrap();
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn proxied_network_leaves_only_by_the_host_socket() {
                online("proxied", super::HostProxy::start(), |p| {
                    aetheria_sandbox::Network::Proxy(p.socket.clone())
                })
                .await
            }
            /// As a Windows build gives it: the proxy on loopback TCP, reached only through the
            /// runner's pipes.
            #[tokio::test(flavor = "multi_thread")]
            async fn relayed_network_leaves_only_through_the_runner() {
                online("relayed", super::HostProxy::start_tcp(), |p| {
                    aetheria_sandbox::Network::Relayed(p.addr.unwrap())
                })
                .await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn host_files_are_out_of_reach() {
                with("files", super::host_files).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn docker_socket_is_absent() {
                with("sock", super::docker_socket).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn fork_bomb_is_contained() {
                with("bomb", super::fork_bomb).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn memory_hog_is_stopped() {
                with(
                    "hog",
                    async |sb: &dyn Sandbox, id: &aetheria_sandbox::SandboxId| {
                        super::memory_hog(sb, id, $oom_flag).await
                    },
                )
                .await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn tmp_cannot_be_filled() {
                with("fill", super::fill_tmp).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn endless_loop_dies_at_the_deadline() {
                with("loop", super::endless_loop).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn no_privileges() {
                with("priv", super::privileges).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn no_mount_or_unshare() {
                with("mount", super::mount_and_unshare).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn output_flood_is_bounded() {
                with("flood", super::output_flood).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn sigterm_ignorers_and_escapees_are_killed() {
                with("term", super::ignores_sigterm).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn the_runner_cannot_be_talked_over() {
                with(
                    "forge",
                    async |sb: &dyn Sandbox, id: &aetheria_sandbox::SandboxId| {
                        super::runner_out_of_reach(sb, id, $separate_uid).await
                    },
                )
                .await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn dangerous_system_calls_are_refused() {
                with(
                    "calls",
                    async |sb: &dyn Sandbox, id: &aetheria_sandbox::SandboxId| {
                        super::dangerous_syscalls(sb, id, $strict).await
                    },
                )
                .await
            }
        }
    };
}

// Docker starts code as another uid than its runner's; bubblewrap maps one uid only.
attacks!(docker, super::super::common::docker, true, false, true);
attacks!(bwrap, super::super::common::bwrap, false, true, false);
