//! Fixtures: real backends over the locally built image, and workspaces the sandbox user may write.

use std::path::Path;
use std::sync::Arc;

use aetheria_sandbox::{
    BwrapHost, DockerHost, ExecOutcome, ExecRequest, Limits, Network, Pool, Sandbox, SandboxId,
    Spec, image,
};

pub const NEED_IMAGE: &str = "the sandbox image is needed: run `installer/dev.sh test`, or `aetheria sandbox build-image` (AETHERIA_SKIP=docker skips locally)";

/// Whether `AETHERIA_SKIP` names `what` (local runs only; refused in CI).
pub fn skip(what: &str) -> bool {
    let skipped = std::env::var("AETHERIA_SKIP")
        .unwrap_or_default()
        .split(',')
        .any(|s| s.trim() == what);
    if skipped {
        assert!(
            std::env::var("CI").is_err(),
            "AETHERIA_SKIP is not allowed in CI"
        );
        eprintln!("SKIPPED: {what} (AETHERIA_SKIP)");
    }
    skipped
}

pub async fn docker() -> Arc<dyn Sandbox> {
    Arc::new(Pool::new(DockerHost::connect().await.expect(NEED_IMAGE)))
}

pub async fn bwrap() -> Arc<dyn Sandbox> {
    let rootfs = image::unpacked_rootfs(&aetheria_sandbox::default_cache_dir())
        .await
        .expect(NEED_IMAGE);
    Arc::new(Pool::new(
        BwrapHost::new(&rootfs).expect("bubblewrap must be installed"),
    ))
}

/// A workspace folder the sandbox user can write: when the tests run as root, it is handed to uid
/// 1000 like a person's own folder would be.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
            std::os::unix::fs::chown(dir.path(), Some(1000), Some(1000)).unwrap();
        }
    }
    dir
}

pub fn spec(name: &str, workspace: &Path) -> Spec {
    Spec {
        name: name.into(),
        workspace: Some(workspace.to_path_buf()),
        read_only: Vec::new(),
        network: Network::Off,
        limits: Limits {
            memory_mib: 256,
            pids: 64,
            tmp_mib: 32,
            ..Limits::default()
        },
    }
}

pub async fn run(sb: &dyn Sandbox, id: &SandboxId, argv: &[&str], secs: u64) -> ExecOutcome {
    sb.exec(
        id,
        ExecRequest::new(argv.iter().copied()).timeout(std::time::Duration::from_secs(secs)),
        None,
    )
    .await
    .unwrap()
}

pub async fn sh(sb: &dyn Sandbox, id: &SandboxId, script: &str) -> ExecOutcome {
    run(sb, id, &["sh", "-c", script], 20).await
}

/// Processes in the sandbox besides init, the runner and the counting process itself.
pub async fn leftovers(sb: &dyn Sandbox, id: &SandboxId) -> Vec<String> {
    let out = run(
        sb,
        id,
        &[
            "python3",
            "-c",
            "import os\nme=os.getpid()\nfor p in os.listdir('/proc'):\n  if p.isdigit() and int(p) not in (1, me, os.getppid()):\n    print(p, open('/proc/%s/cmdline'%p,'rb').read().replace(b'\\0',b' ')[:60])",
        ],
        20,
    )
    .await;
    assert!(out.success(), "{out:?}");
    out.stdout
        .text()
        .lines()
        .map(str::to_string)
        .filter(|l| !l.contains("-c # Aetheria's in-sandbox job runner"))
        .collect()
}
