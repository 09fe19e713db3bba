//! Background jobs for real: 1,000 jobs through a real redis-server shared by three
//! `aetheria worker` processes that are SIGKILLed at random while Redis itself restarts; and the
//! embedded queue, whose worker is SIGKILLed with jobs pending and finishes them after a restart.

use std::process::Stdio;
use std::time::{Duration, Instant};

use aetheria_engine::api::JobId;
use aetheria_engine::jobs::{JobKind, JobSpec, JobState, Queue, RedisQueue};
use tokio::process::{Child, Command};

use super::common::{Env, stderr, stdout};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A redis-server of this test's own, persisting to `dir` (so a restart keeps the queue).
fn redis_server(port: u16, dir: &std::path::Path) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server must be installed (installer/dev.sh test installs it)")
}

async fn wait_for_port(port: u16) {
    let start = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "port {port} never opened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn worker(env: &Env, url: &str) -> Child {
    let mut cmd = env.command(&[
        "worker",
        "--redis",
        url,
        "--concurrency",
        "4",
        "--visibility-ms",
        "1500",
    ]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd.spawn().unwrap()
}

#[tokio::test]
async fn a_thousand_jobs_survive_killed_workers_and_a_redis_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut redis = redis_server(port, dir.path());
    wait_for_port(port).await;
    let url = format!("redis://127.0.0.1:{port}");
    let queue = RedisQueue::connect(&url, Duration::from_millis(1500))
        .await
        .unwrap();
    let mut ids: Vec<JobId> = Vec::new();
    for i in 0..1000u64 {
        let spec = JobSpec::new(JobKind::Wait {
            millis: 10 + i % 20,
            fail_first: u32::from(i % 50 == 0),
        });
        queue.submit(&spec).await.unwrap();
        // A second submit of the same id is a no-op.
        if i % 100 == 0 {
            queue.submit(&spec).await.unwrap();
        }
        ids.push(spec.id);
    }
    let env = Env::new("http://127.0.0.1:9");
    let mut workers: Vec<Child> = (0..3).map(|_| worker(&env, &url)).collect();

    let start = Instant::now();
    let mut kills = 0;
    let mut restarted_redis = false;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let done = count_done(&queue, &ids).await;
        if done == ids.len() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(450),
            "only {done} of 1000 jobs done"
        );
        // Kill a random worker and start a new one in its place.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if kills < 12 {
            let victim = usize::try_from(seed % 3).unwrap();
            workers[victim].kill().await.unwrap();
            workers[victim] = worker(&env, &url);
            kills += 1;
        }
        // Half way, Redis itself goes down and comes back with its data.
        if !restarted_redis && done > 400 {
            let _ = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "shutdown"])
                .output()
                .await;
            let _ = redis.wait().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            redis = redis_server(port, dir.path());
            wait_for_port(port).await;
            restarted_redis = true;
        }
    }
    assert!(restarted_redis && kills > 0);
    for id in &ids {
        let job = queue.get(id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Done, "{job:?}");
    }
    // The jobs that failed once on purpose were retried.
    let retried = queue.get(&ids[50]).await.unwrap().unwrap();
    assert!(
        retried.attempts >= 2 && retried.error.contains("fails on purpose"),
        "{retried:?}"
    );
    for mut w in workers {
        let _ = w.kill().await;
    }
    let _ = redis.kill().await;
}

async fn count_done(queue: &RedisQueue, ids: &[JobId]) -> usize {
    let mut done = 0;
    for id in ids {
        if let Ok(Some(job)) = queue.get(id).await
            && job.state == JobState::Done
        {
            done += 1;
        }
    }
    done
}

#[tokio::test]
async fn the_embedded_queue_finishes_jobs_after_its_worker_is_killed() {
    let env = Env::new("http://127.0.0.1:9");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let out = env
            .run(&["jobs", "submit", "wait", "--millis", "3000", "--json"])
            .await;
        assert!(out.status.success(), "{}", stderr(&out));
        let job: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(job["state"], "queued");
        ids.push(job["spec"]["id"].as_str().unwrap().to_owned());
    }
    // The worker takes two jobs at once (two slots); kill -9 it while they run.
    let mut first = env
        .command(&["worker", "--concurrency", "2"])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill().await.unwrap();
    let out = env.run(&["jobs", "list", "--json"]).await;
    let jobs: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let running = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["state"] == "running")
        .count();
    assert_eq!(running, 2, "{jobs}");

    // A new worker finishes them all: the killed leases run out (10 s), then they are claimed
    // again. The database belongs to the worker while it runs, so it is stopped (Ctrl+C) to look.
    let start = Instant::now();
    let mut wait = Duration::from_secs(16);
    loop {
        let mut worker = env
            .command(&["worker", "--concurrency", "2"])
            .spawn()
            .unwrap();
        tokio::time::sleep(wait).await;
        let _ = Command::new("kill")
            .args(["-INT", &worker.id().unwrap().to_string()])
            .output()
            .await;
        let _ = worker.wait().await;
        let out = env.run(&["jobs", "list", "--json"]).await;
        let jobs: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let jobs = jobs.as_array().unwrap();
        if jobs.iter().all(|j| j["state"] == "done") {
            let first = jobs
                .iter()
                .find(|j| j["spec"]["id"] == ids[0].as_str())
                .unwrap();
            assert_eq!(first["result"], "waited 3000 ms");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the jobs never finished: {jobs:?}"
        );
        wait = Duration::from_secs(5);
    }
}
