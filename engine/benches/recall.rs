//! History search, recall by meaning and the job queue, timed against baselines in the same process:
//! - full-text search (the tantivy BM25 index) over 100,000 messages on disk, p50/p99, versus a
//!   scan of the same table for the same word (and SurrealDB's own BM25 index, what search used
//!   before, with `AETHERIA_BENCH_SURREAL_FTS=1`: defining it over 100,000 rows takes minutes);
//! - recall by meaning: top-10 over 100,000 memories with 384-dimension embeddings (the exact
//!   in-memory scan), p50/p99, versus a plain one-thread scan of the same vectors (and SurrealDB's
//!   HNSW index, what recall used before, with `AETHERIA_BENCH_SURREAL_HNSW=1`);
//! - no-op jobs through the Redis Streams queue (submit, claim, complete) versus bare `XADD`s on
//!   the same server (needs `AETHERIA_TEST_REDIS_URL`; `redis-benchmark` figures are printed too
//!   when it is installed).
//!
//! Run: `cargo bench -p aetheria-engine --features testkit --bench recall`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use aetheria_engine::jobs::{JobKind, JobSpec, Queue, RedisQueue};
use aetheria_engine::testkit::recall_bench::SearchStore;

/// Messages seeded (`AETHERIA_BENCH_MESSAGES` overrides, for a quick run).
fn messages() -> usize {
    std::env::var("AETHERIA_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}
const QUERIES: usize = 200;
const JOBS: usize = 5_000;

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

/// Text with a realistic spread of words: a few very common, many rare.
fn corpus() -> (Vec<String>, Vec<String>) {
    let words: Vec<String> = (0..5_000).map(|i| format!("w{i}x")).collect();
    let mut next = aetheria_engine::testkit::xorshift(0x9e37_79b9_7f4a_7c15);
    let texts = (0..2_000)
        .map(|_| {
            (0..40)
                .map(|_| {
                    // Zipf-like: low ranks much more often.
                    let r = (next() % 1_000_000) as f64 / 1_000_000.0;
                    let rank = ((5_000f64).powf(r) as usize).min(4_999);
                    words[rank].clone()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let queries = (0..QUERIES)
        .map(|i| {
            format!(
                "{} {}",
                words[50 + i * 7 % 3_000],
                words[200 + i * 13 % 4_000]
            )
        })
        .collect();
    (texts, queries)
}

async fn search() {
    let dir = tempfile::tempdir().unwrap();
    let store = SearchStore::open(&format!("surrealkv://{}", dir.path().join("db").display()))
        .await
        .unwrap();
    let (texts, queries) = corpus();
    let started = Instant::now();
    store.seed(messages(), &texts).await.unwrap();
    println!(
        "seeded {} messages in {:.1} s",
        messages(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let indexed = store.index().await.unwrap();
    println!(
        "search index built from the store: {indexed} texts in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut fts = Vec::new();
    let mut hits = 0;
    for q in &queries {
        let t = Instant::now();
        hits += store.search(q).await.unwrap();
        fts.push(t.elapsed());
    }
    let mut scans = Vec::new();
    for q in queries.iter().take(20) {
        let t = Instant::now();
        store.scan(q).await.unwrap();
        scans.push(t.elapsed());
    }
    let (p50, p99, scan50) = (pct(fts.clone(), 0.5), pct(fts, 0.99), pct(scans, 0.5));
    println!(
        "full-text search over {} messages: p50 {:.2} ms, p99 {:.2} ms ({} hits in {QUERIES} queries); table scan p50 {:.1} ms; index/scan = {:.3}",
        messages(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        hits,
        scan50.as_secs_f64() * 1e3,
        p50.as_secs_f64() / scan50.as_secs_f64()
    );
    if std::env::var_os("AETHERIA_BENCH_SURREAL_FTS").is_some() {
        let t = Instant::now();
        store.search_surreal("warm up").await.unwrap();
        println!(
            "SurrealDB BM25 index defined over the same rows in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let mut surreal = Vec::new();
        for q in queries.iter().take(20) {
            let t = Instant::now();
            store.search_surreal(q).await.unwrap();
            surreal.push(t.elapsed());
        }
        let s50 = pct(surreal, 0.5);
        println!(
            "SurrealDB BM25 p50 {:.1} ms; tantivy/SurrealDB = {:.4}",
            s50.as_secs_f64() * 1e3,
            p50.as_secs_f64() / s50.as_secs_f64()
        );
    }
}

/// Memories seeded for recall by meaning (`AETHERIA_BENCH_MEMORIES` overrides).
fn memories() -> usize {
    std::env::var("AETHERIA_BENCH_MEMORIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}
const DIMENSION: usize = 384;

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    1.0 - a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>()
}

async fn vectors() {
    let dir = tempfile::tempdir().unwrap();
    let store = SearchStore::open(&format!("surrealkv://{}", dir.path().join("db").display()))
        .await
        .unwrap();
    let mut random = aetheria_engine::testkit::xorshift(0x2545_f491_4f6c_dd1d);
    let mut next = move || (random() % 2_000_001) as f32 / 1_000_000.0 - 1.0;
    let stored: Vec<Vec<f32>> = (0..memories())
        .map(|_| unit((0..DIMENSION).map(|_| next()).collect()))
        .collect();
    let started = Instant::now();
    store.seed_memories(&stored).await.unwrap();
    println!(
        "seeded {} memories with {DIMENSION}-dimension embeddings in {:.1} s",
        stored.len(),
        started.elapsed().as_secs_f64()
    );
    // Each query is a stored vector moved a little: the nearest memory is known.
    let targets: Vec<usize> = (0..QUERIES).map(|i| (i * 7_919) % stored.len()).collect();
    let queries: Vec<Vec<f32>> = targets
        .iter()
        .map(|&t| unit(stored[t].iter().map(|x| x + next() * 0.02).collect()))
        .collect();
    let started = Instant::now();
    store.recall_vector(&queries[0]).await.unwrap();
    println!(
        "first recall by meaning (reads the vectors into memory): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut scan = Vec::new();
    let mut right = 0;
    for (q, &t) in queries.iter().zip(&targets) {
        let started = Instant::now();
        let found = store.recall_vector(q).await.unwrap();
        scan.push(started.elapsed());
        // The first stored vector is the "seed" memory; the others are "memory N-1".
        let want = if t == 0 {
            "seed".to_owned()
        } else {
            format!("memory {}", t - 1)
        };
        right += usize::from(found.first() == Some(&want));
    }
    let mut exact = Vec::new();
    for q in queries.iter().take(50) {
        let started = Instant::now();
        let mut best: Vec<(f32, usize)> = stored
            .iter()
            .enumerate()
            .map(|(i, v)| (cosine_distance(q, v), i))
            .collect();
        best.select_nth_unstable_by(9, |a, b| a.0.total_cmp(&b.0));
        best.truncate(10);
        best.sort_by(|a, b| a.0.total_cmp(&b.0));
        std::hint::black_box(&best);
        exact.push(started.elapsed());
    }
    let (p50, p99, exact50) = (pct(scan.clone(), 0.5), pct(scan, 0.99), pct(exact, 0.5));
    println!(
        "recall by meaning, top-10 of {} memories: p50 {:.2} ms, p99 {:.2} ms, nearest right {right}/{QUERIES}; plain one-thread scan p50 {:.1} ms; recall/plain = {:.3}",
        stored.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        exact50.as_secs_f64() * 1e3,
        p50.as_secs_f64() / exact50.as_secs_f64()
    );
    if std::env::var_os("AETHERIA_BENCH_SURREAL_HNSW").is_some() {
        let started = Instant::now();
        store.recall_surreal_hnsw(&queries[0]).await.unwrap();
        println!(
            "SurrealDB HNSW index defined in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let mut hnsw = Vec::new();
        for q in queries.iter().take(50) {
            let started = Instant::now();
            store.recall_surreal_hnsw(q).await.unwrap();
            hnsw.push(started.elapsed());
        }
        let h50 = pct(hnsw, 0.5);
        println!(
            "SurrealDB HNSW top-10 p50 {:.1} ms; recall/HNSW = {:.3}",
            h50.as_secs_f64() * 1e3,
            p50.as_secs_f64() / h50.as_secs_f64()
        );
    }
}

async fn queue() {
    let Ok(url) = std::env::var("AETHERIA_TEST_REDIS_URL") else {
        println!("queue: AETHERIA_TEST_REDIS_URL is not set; not measured");
        return;
    };
    let q = RedisQueue::connect(&url, Duration::from_secs(30))
        .await
        .unwrap();
    let t = Instant::now();
    for _ in 0..JOBS {
        q.submit(&JobSpec::new(JobKind::Noop)).await.unwrap();
    }
    // As a busy worker does: finishing a job claims the next.
    let mut done = 0;
    let mut next = q.claim("bench", Duration::from_millis(100)).await.unwrap();
    while let Some(d) = next {
        next = q.complete_and_claim(&d, "done", "bench").await.unwrap();
        done += 1;
    }
    let queue_rate = done as f64 / t.elapsed().as_secs_f64();
    // Baseline: bare XADDs, one at a time, on the same connection kind.
    let client =
        fred::prelude::Builder::from_config(fred::prelude::Config::from_url(&url).unwrap())
            .build()
            .unwrap();
    fred::prelude::ClientLike::init(&client).await.unwrap();
    let t = Instant::now();
    for i in 0..JOBS {
        let _: fred::prelude::Value = fred::prelude::ClientLike::custom(
            &client,
            fred::types::CustomCommand::new_static(
                "XADD",
                fred::types::ClusterHash::FirstKey,
                false,
            ),
            vec![
                "aetheria:bench".into(),
                "*".into(),
                "i".into(),
                fred::prelude::Value::from(i as i64),
            ],
        )
        .await
        .unwrap();
    }
    let xadd_rate = JOBS as f64 / t.elapsed().as_secs_f64();
    let _: fred::prelude::Value = fred::prelude::ClientLike::custom(
        &client,
        fred::types::CustomCommand::new_static("DEL", fred::types::ClusterHash::FirstKey, false),
        vec![fred::prelude::Value::from("aetheria:bench")],
    )
    .await
    .unwrap();
    println!(
        "queue: {done} no-op jobs at {queue_rate:.0} jobs/s (submit, then complete-and-claim-the-next, one connection); bare XADD {xadd_rate:.0}/s; jobs/XADD = {:.3}",
        queue_rate / xadd_rate
    );
    let port = url
        .rsplit(':')
        .next()
        .unwrap_or("6379")
        .trim_end_matches('/')
        .to_owned();
    if let Ok(out) = std::process::Command::new("redis-benchmark")
        .args([
            "-p",
            &port,
            "-q",
            "-n",
            "20000",
            "XADD",
            "aetheria:bench2",
            "*",
            "f",
            "v",
        ])
        .output()
    {
        println!(
            "redis-benchmark: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
        let _ = std::process::Command::new("redis-cli")
            .args(["-p", &port, "del", "aetheria:bench2"])
            .output();
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // `AETHERIA_BENCH_ONLY=queue` (or `search`, `vectors`) runs one part.
        let only = std::env::var("AETHERIA_BENCH_ONLY").unwrap_or_default();
        let runs = |part: &str| only.is_empty() || only == part;
        if runs("search") {
            search().await;
        }
        if runs("vectors") {
            vectors().await;
        }
        if runs("queue") {
            queue().await;
        }
    });
}
