//! Exec latency of the Docker sandbox against the `docker` CLI in the same run (medians of 20):
//! warm `python3 -c 'print(1)'` through the in-container runner versus `docker exec`, and cold
//! create-to-first-output versus `docker run --rm` with the same hardening. Needs dockerd and the
//! sandbox image (`aetheria sandbox build-image`). Run: `cargo bench -p aetheria-sandbox --bench exec`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::Command;
use std::time::{Duration, Instant};

use aetheria_sandbox::{DockerHost, ExecRequest, Pool, Sandbox, Spec, image};

const RUNS: usize = 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn cli(args: &[&str]) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sb = Pool::new(DockerHost::connect().await.expect("dockerd and the sandbox image"));
        let spec = Spec::new("bench");
        let print1 = || ExecRequest::new(["python3", "-c", "print(1)"]).timeout(Duration::from_secs(20));

        let id = sb.create(&spec).await.unwrap();
        sb.exec(&id, print1(), None).await.unwrap();
        let mut ours = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let out = sb.exec(&id, print1(), None).await.unwrap();
            ours.push(t.elapsed());
            assert_eq!(out.stdout.text(), "1\n");
        }
        let mut theirs = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            cli(&["exec", &id.0, "python3", "-c", "print(1)"]);
            theirs.push(t.elapsed());
        }
        sb.destroy(&id).await.unwrap();
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "warm exec: sandbox {:.1} ms, docker exec CLI {:.1} ms, ratio {:.2} (goal <= 0.5)",
            ours.as_secs_f64() * 1e3,
            theirs.as_secs_f64() * 1e3,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );

        let mut ours = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let id = sb.create(&spec).await.unwrap();
            let (tx, mut rx) = tokio::sync::mpsc::channel(4);
            let exec = sb.exec(&id, print1(), Some(tx));
            tokio::pin!(exec);
            tokio::select! {
                Some(_) = rx.recv() => {}
                out = &mut exec => { out.unwrap(); }
            }
            ours.push(t.elapsed());
            let _ = exec.await;
            sb.destroy(&id).await.unwrap();
        }
        let image = image::image_ref();
        let mut theirs = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            cli(&[
                "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp",
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--pids-limit", "256",
                "--memory", "1g", "--init", "--user", "1000:1000", &image, "python3", "-c",
                "print(1)",
            ]);
            theirs.push(t.elapsed());
        }
        let (ours, theirs) = (median(ours), median(theirs));
        println!(
            "cold create-to-first-output: sandbox {:.1} ms, docker run --rm CLI {:.1} ms, ratio {:.2} (goal <= 1.0)",
            ours.as_secs_f64() * 1e3,
            theirs.as_secs_f64() * 1e3,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    });
}
