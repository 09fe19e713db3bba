//! What every backend must do for the agent: run commands with stdin, stream output while they run,
//! move files, share /workspace with the host, survive an abandoned exec, and start again after stop.

use std::time::Duration;

use aetheria_sandbox::{Chunk, ExecRequest, Sandbox, SandboxId, StreamKind};

use super::common::{run, sh};

pub async fn runs_with_stdin_and_exit_codes(sb: &dyn Sandbox, id: &SandboxId) {
    let out = sb
        .exec(
            id,
            ExecRequest::new(["python3", "-c", "import sys; d=sys.stdin.read(); print(d.upper()); sys.stderr.write('warn\\n'); sys.exit(3)"])
                .stdin("hello sandbox"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(out.exit_code, Some(3));
    assert_eq!(out.stdout.text(), "HELLO SANDBOX\n");
    assert_eq!(out.stderr.text(), "warn\n");
    assert_eq!(out.status_line(), "exit code 3");
    let missing = run(sb, id, &["no-such-program"], 10).await;
    assert_eq!(missing.exit_code, Some(127));
    assert!(
        missing.stderr.text().contains("no-such-program"),
        "{missing:?}"
    );
    let node = run(sb, id, &["node", "-e", "console.log(6*7)"], 20).await;
    assert_eq!(node.stdout.text(), "42\n", "{node:?}");
    let numpy = run(
        sb,
        id,
        &[
            "python3",
            "-c",
            "import numpy, requests, yaml; print(numpy.arange(4).sum())",
        ],
        20,
    )
    .await;
    assert_eq!(numpy.stdout.text(), "6\n", "{numpy:?}");
}

pub async fn streams_output_while_running(sb: &dyn Sandbox, id: &SandboxId) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(16);
    let request = ExecRequest::new([
        "python3",
        "-c",
        "import time, sys\nprint('first', flush=True)\ntime.sleep(3)\nprint('second')",
    ]);
    let exec = sb.exec(id, request, Some(tx));
    tokio::pin!(exec);
    // The line may come in more than one chunk (print writes text and newline separately).
    let mut seen = Vec::new();
    while seen != b"first\n" {
        let chunk = tokio::select! {
            chunk = rx.recv() => chunk.unwrap(),
            out = &mut exec => panic!("the exec ended before its first line arrived: {out:?}"),
        };
        assert_eq!(chunk.stream, StreamKind::Stdout);
        seen.extend_from_slice(&chunk.data);
        assert!(b"first\n".starts_with(&seen), "{seen:?}");
    }
    let out = exec.await.unwrap();
    assert_eq!(out.stdout.text(), "first\nsecond\n");
}

pub async fn files_go_in_and_out(
    sb: &dyn Sandbox,
    id: &SandboxId,
    host_workspace: &std::path::Path,
) {
    sb.put_file(id, "/tmp/in/data.bin", &[0, 1, 2, 255])
        .await
        .unwrap();
    let out = run(
        sb,
        id,
        &[
            "python3",
            "-c",
            "print(list(open('/tmp/in/data.bin','rb').read()))",
        ],
        10,
    )
    .await;
    assert_eq!(out.stdout.text(), "[0, 1, 2, 255]\n");
    sh(sb, id, "echo made inside > /workspace/report.txt").await;
    assert_eq!(
        sb.get_file(id, "/workspace/report.txt").await.unwrap(),
        b"made inside\n"
    );
    let on_host = host_workspace.join("report.txt");
    assert_eq!(std::fs::read_to_string(&on_host).unwrap(), "made inside\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(host_workspace).unwrap().uid();
        assert_eq!(
            std::fs::metadata(&on_host).unwrap().uid(),
            owner,
            "files belong to the folder's owner"
        );
    }
    let err = sb.get_file(id, "/workspace/missing.txt").await.unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");
    let err = sb.put_file(id, "/usr/evil", b"x").await.unwrap_err();
    assert!(err.to_string().contains("/usr/evil"), "{err}");
    // The sandbox still works after failed file operations.
    assert_eq!(run(sb, id, &["echo", "ok"], 10).await.stdout.text(), "ok\n");
}

pub async fn abandoned_exec_is_cleaned_up(sb: &dyn Sandbox, id: &SandboxId) {
    let slow = sb.exec(id, ExecRequest::new(["sleep", "100"]), None);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), slow)
            .await
            .is_err()
    );
    let out = run(sb, id, &["echo", "next"], 10).await;
    assert_eq!(out.stdout.text(), "next\n");
    let ps = sh(sb, id, "ps -eo args | grep -c '^sleep 100' || true").await;
    assert_eq!(ps.stdout.text().trim(), "0", "{ps:?}");
}

pub async fn stop_then_run_again(sb: &dyn Sandbox, id: &SandboxId) {
    sh(
        sb,
        id,
        "echo kept > /workspace/kept.txt; echo gone > /tmp/gone.txt",
    )
    .await;
    sb.stop(id).await.unwrap();
    let listed = sb.list().await.unwrap();
    let me = listed
        .iter()
        .find(|s| &s.id == id)
        .expect("listed after stop");
    assert!(!me.running, "{me:?}");
    let out = sh(sb, id, "cat /workspace/kept.txt; cat /tmp/gone.txt 2>&1").await;
    assert!(out.stdout.text().starts_with("kept\n"), "{out:?}");
    assert!(
        out.stdout.text().contains("No such file"),
        "/tmp is fresh: {out:?}"
    );
    let listed = sb.list().await.unwrap();
    assert!(
        listed.iter().any(|s| &s.id == id && s.running),
        "{listed:?}"
    );
}

/// Expands every behaviour into a test against one backend.
macro_rules! behaviours {
    ($backend:ident, $open:path) => {
        mod $backend {
            use super::super::common::{skip, spec, workspace};
            use aetheria_sandbox::{Sandbox, SandboxId};

            async fn with(
                name: &str,
                check: impl AsyncFnOnce(&dyn Sandbox, &SandboxId, &std::path::Path),
            ) {
                if skip(stringify!($backend)) {
                    return;
                }
                let sb = $open().await;
                let ws = workspace();
                let id = sb.create(&spec(name, ws.path())).await.unwrap();
                check(sb.as_ref(), &id, ws.path()).await;
                sb.destroy(&id).await.unwrap();
                assert!(
                    sb.list().await.unwrap().iter().all(|s| s.id != id),
                    "destroyed sandboxes are gone"
                );
                let err = sb
                    .exec(&id, aetheria_sandbox::ExecRequest::new(["true"]), None)
                    .await
                    .unwrap_err();
                assert!(err.to_string().contains("removed"), "{err}");
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn runs_with_stdin_and_exit_codes() {
                with(
                    "stdin",
                    async |sb: &dyn Sandbox, id: &SandboxId, _: &std::path::Path| {
                        super::runs_with_stdin_and_exit_codes(sb, id).await
                    },
                )
                .await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn streams_output_while_running() {
                with(
                    "stream",
                    async |sb: &dyn Sandbox, id: &SandboxId, _: &std::path::Path| {
                        super::streams_output_while_running(sb, id).await
                    },
                )
                .await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn files_go_in_and_out() {
                with("files", super::files_go_in_and_out).await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn abandoned_exec_is_cleaned_up() {
                with(
                    "abandon",
                    async |sb: &dyn Sandbox, id: &SandboxId, _: &std::path::Path| {
                        super::abandoned_exec_is_cleaned_up(sb, id).await
                    },
                )
                .await
            }
            #[tokio::test(flavor = "multi_thread")]
            async fn stop_then_run_again() {
                with(
                    "stop",
                    async |sb: &dyn Sandbox, id: &SandboxId, _: &std::path::Path| {
                        super::stop_then_run_again(sb, id).await
                    },
                )
                .await
            }
        }
    };
}

behaviours!(docker, super::super::common::docker);
behaviours!(bwrap, super::super::common::bwrap);
