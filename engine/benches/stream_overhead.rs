//! Engine overhead per streamed token: a 100 KB answer in 25,000 SSE chunks from the loopback
//! server, read raw with reqwest (baseline) versus a whole engine turn (provider client, agent loop,
//! events, the answer stored on disk), in the same process. Medians of 5. Also the fixed part of a
//! turn and how many text events reach the window.
//! Run: `cargo bench -p aetheria-engine --features testkit --bench stream_overhead`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use aetheria_engine::api::{Command, Event, SessionId};
use aetheria_engine::config::{Config, ProviderConfig, Wire};
use aetheria_engine::testkit::{Reply, ScriptedServer};
use aetheria_engine::{Engine, Events, Handle};
use futures::StreamExt;

const TOKENS: usize = 25_000;
const RUNS: usize = 5;

fn answer() -> Reply {
    let words: Vec<String> = (0..TOKENS).map(|i| format!("w{:02} ", i % 100)).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Reply::text(&words)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Reads events until the turn ends: the bytes of text streamed and in how many events.
async fn until_finished(events: &mut Events) -> (usize, usize) {
    let (mut bytes, mut deltas) = (0, 0);
    while let Some(event) = events.recv().await {
        match event {
            Event::TextDelta { delta, .. } => {
                bytes += delta.len();
                deltas += 1;
            }
            Event::TurnFinished { .. } => return (bytes, deltas),
            Event::TurnFailed { error, .. } => panic!("{error:?}"),
            _ => {}
        }
    }
    panic!("the engine stopped");
}

/// One turn in a new session answered by `reply`: its time, the bytes of text it streamed and in
/// how many events.
async fn timed_turn(
    handle: &Handle,
    events: &mut Events,
    server: &ScriptedServer,
    reply: Reply,
) -> (Duration, usize, usize) {
    let session = SessionId::new();
    handle
        .submit(Command::CreateSession {
            session: session.clone(),
            title: Some("bench".into()),
        })
        .unwrap();
    server.push(reply);
    let t = Instant::now();
    handle
        .submit(Command::SendMessage {
            session,
            text: "stream".into(),
            attachments: vec![],
        })
        .unwrap();
    let (bytes, deltas) = until_finished(events).await;
    (t.elapsed(), bytes, deltas)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = ScriptedServer::start(vec![]).await.unwrap();
        let url = format!("{}/chat/completions", server.base_url());
        // The baseline reads where the engine reads (a thread of its own, with the connection's
        // task beside it) and, to be sure the engine is not compared with a slow baseline, also on
        // the bench's shared multi-thread runtime; the faster of the two is the baseline.
        let own_thread = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut raw = Vec::new();
        for place in [own_thread.handle().clone(), tokio::runtime::Handle::current()] {
            // Built as the engine builds its provider clients, so only the engine's own work
            // differs; its connections are opened (and their tasks run) where it reads.
            let http = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(180))
                .build()
                .unwrap();
            let mut times = Vec::new();
            for _ in 0..RUNS {
                server.push(answer());
                let (http, url) = (http.clone(), url.clone());
                let t = Instant::now();
                let bytes = place
                    .spawn(async move {
                        let mut body = http
                            .post(&url)
                            .json(&serde_json::json!({"stream": true}))
                            .send()
                            .await
                            .unwrap()
                            .bytes_stream();
                        let mut bytes = 0;
                        while let Some(chunk) = body.next().await {
                            bytes += chunk.unwrap().len();
                        }
                        bytes
                    })
                    .await
                    .unwrap();
                times.push(t.elapsed());
                assert!(bytes > 100_000);
            }
            raw.push(median(times));
        }
        println!(
            "raw SSE read: {:.1} ms on a thread of its own, {:.1} ms on the shared runtime",
            raw[0].as_secs_f64() * 1e3,
            raw[1].as_secs_f64() * 1e3
        );
        let raw = raw[0].min(raw[1]);

        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
        config.use_provider(ProviderConfig {
            name: "bench".into(),
            wire: Wire::Openai,
            base_url: server.base_url(),
            model: "bench-model".into(),
            key_env: Some("AETHERIA_BENCH_NO_KEY".into()),
            key_ref: Some("aetheria-bench-absent".into()),
            context_window: None,
            vision: None,
        });
        let (handle, mut events) = Engine::start(config).await.unwrap();
        let mut engine = Vec::new();
        let mut deltas = Vec::new();
        for _ in 0..RUNS {
            let (took, bytes, n) = timed_turn(&handle, &mut events, &server, answer()).await;
            engine.push(took);
            deltas.push(n);
            assert_eq!(bytes, TOKENS * 4);
        }
        // The fixed part of a turn (storing the messages, reading the history, the final write),
        // from a one-token answer: what the per-token figure does not depend on.
        let mut fixed = Vec::new();
        for _ in 0..RUNS {
            let reply = Reply::text(&["w00 "]);
            fixed.push(timed_turn(&handle, &mut events, &server, reply).await.0);
        }
        let fixed = median(fixed);
        println!(
            "a one-token turn (the fixed part): {:.1} ms",
            fixed.as_secs_f64() * 1e3
        );
        let engine = median(engine);
        println!(
            "100 KB answer in {TOKENS} chunks: raw SSE read (the faster) {:.1} ms, engine turn {:.1} ms, ratio {:.2} (goal <= 1.2); engine {:.2} µs per token",
            raw.as_secs_f64() * 1e3,
            engine.as_secs_f64() * 1e3,
            engine.as_secs_f64() / raw.as_secs_f64(),
            engine.as_secs_f64() * 1e6 / TOKENS as f64
        );
        deltas.sort_unstable();
        println!(
            "text events that reached the window per turn: median {} (of {TOKENS} chunks)",
            deltas[deltas.len() / 2]
        );
        handle.submit(Command::Shutdown).unwrap();
        while events.recv().await.is_some() {}
        own_thread.shutdown_background();
    });
}
