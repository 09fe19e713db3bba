//! Engine overhead per streamed token: a 100 KB answer in 25,000 SSE chunks from the loopback
//! server, read raw with reqwest (baseline) versus a whole engine turn (provider client, agent loop,
//! events, the answer stored on disk), in the same process. The two are timed in turn, round after
//! round (so a slower spell of this shared machine falls on both), each after a pause of 50 ms
//! (so what the part before left running in the background, such as indexing a stored answer,
//! slows neither), and the medians of 45 rounds are compared. Also the floor of any client that
//! parses each chunk (the raw read plus SSE and JSON, no engine), the fixed part of a turn (a
//! one-token answer, read raw and by the engine), what each further token costs, how much the
//! rounds spread, and how many text events reach the window.
//! Run: `cargo bench -p aetheria-engine --features testkit --bench stream_overhead`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use aetheria_engine::api::{Command, Event, SessionCommand, SessionId, TurnCommand};
use aetheria_engine::config::{Config, ProviderConfig, Wire};
use aetheria_engine::testkit::{self, Reply, ScriptedServer};
use aetheria_engine::{Engine, Events, Handle};
use futures::StreamExt;

const TOKENS: usize = 25_000;
const ROUNDS: usize = 45;
/// The pause before each timed part.
const SETTLE: Duration = Duration::from_millis(50);

fn answer() -> Reply {
    let words: Vec<String> = (0..TOKENS).map(|i| format!("w{:02} ", i % 100)).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Reply::text(&words)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// One timed turn.
struct Turn {
    /// From the message sent to `TurnFinished`.
    took: Duration,
    /// From the message sent to the last text event.
    to_last_text: Duration,
    /// The bytes of text streamed, and in how many events.
    bytes: usize,
    deltas: usize,
}

/// One turn in a new session answered by `reply`.
async fn timed_turn(
    handle: &Handle,
    events: &mut Events,
    server: &ScriptedServer,
    reply: Reply,
) -> Turn {
    let session = SessionId::new();
    handle
        .submit(Command::Session(SessionCommand::Create {
            session: session.clone(),
            title: Some("bench".into()),
        }))
        .unwrap();
    // The session is made before the clock starts: making it is not part of a turn.
    while let Some(event) = events.recv().await.map(|e| e.event) {
        if matches!(event, Event::SessionCreated { .. }) {
            break;
        }
    }
    server.push(reply);
    let t = Instant::now();
    handle
        .submit(Command::Turn(TurnCommand::Send {
            session,
            text: "stream".into(),
            attachments: vec![],
            create: false,
            allow: vec![],
        }))
        .unwrap();
    let (mut bytes, mut deltas, mut to_last_text) = (0, 0, Duration::ZERO);
    while let Some(event) = events.recv().await.map(|e| e.event) {
        match event {
            Event::TextDelta { delta, .. } => {
                to_last_text = t.elapsed();
                bytes += delta.len();
                deltas += 1;
            }
            Event::TurnFinished { .. } => {
                return Turn {
                    took: t.elapsed(),
                    to_last_text,
                    bytes,
                    deltas,
                };
            }
            Event::TurnFailed { error, .. } => panic!("{error:?}"),
            _ => {}
        }
    }
    panic!("the engine stopped");
}

/// The least of a chunk a client must read to show its text.
#[derive(serde::Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
}

#[derive(serde::Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Delta<'a>,
}

#[derive(Default, serde::Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Text<'a>>,
}

/// A string borrowed from the event unless it holds escapes (serde borrows a `Cow` only as a field
/// of its own).
#[derive(serde::Deserialize)]
struct Text<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

/// Times one read of `reply` by `read`, run on `place` with the engine's own provider client (so
/// only the work after the bytes differs; its connections are opened, and their tasks run, where
/// it reads).
async fn timed_read<F, Fut>(
    server: &ScriptedServer,
    http: &reqwest::Client,
    place: &tokio::runtime::Handle,
    url: &str,
    reply: Reply,
    read: F,
) -> Duration
where
    F: Fn(reqwest::Client, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    server.push(reply);
    let t = Instant::now();
    place
        .spawn(read(http.clone(), url.to_owned()))
        .await
        .unwrap();
    t.elapsed()
}

/// Asks for the answer.
async fn request(http: &reqwest::Client, url: &str) -> reqwest::Response {
    http.post(url)
        .json(&serde_json::json!({"stream": true}))
        .send()
        .await
        .unwrap()
}

/// Reads the answer's bytes and nothing more.
async fn read_raw(http: reqwest::Client, url: String) {
    let mut body = request(&http, &url).await.bytes_stream();
    let mut bytes = 0;
    while let Some(chunk) = body.next().await {
        bytes += chunk.unwrap().len();
    }
    assert!(bytes > 0);
}

/// Reads the answer as a minimal client would: SSE events, each chunk parsed, the text joined.
async fn parse_only(http: reqwest::Client, url: String) {
    let body = request(&http, &url).await.bytes_stream();
    let mut events = sseer::EventStream::new(body);
    let mut text = String::new();
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        let data = event.data.trim();
        if data.is_empty() || data == "[DONE]" {
            continue;
        }
        let chunk: Chunk<'_> = serde_json::from_str(data).unwrap();
        for choice in chunk.choices {
            if let Some(Text(content)) = &choice.delta.content {
                text.push_str(content);
            }
        }
    }
    assert_eq!(text.len(), TOKENS * 4);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = ScriptedServer::start(vec![]).await.unwrap();
        let url = format!("{}/chat/completions", server.base_url());
        // A client for each place a baseline reads: a pooled connection keeps its task on the
        // runtime that opened it, and a read from elsewhere through it crawls.
        let (http_own, http_shared) = (
            testkit::provider_http_client().unwrap(),
            testkit::provider_http_client().unwrap(),
        );
        // The baseline reads where the engine reads (a thread of its own, with the connection's
        // task beside it) and, to be sure the engine is not compared with a slow baseline, also on
        // the bench's shared multi-thread runtime; the faster of the two is the baseline.
        let own_thread = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-reader")
            .enable_all()
            .build()
            .unwrap();
        let (own, shared) = (own_thread.handle().clone(), tokio::runtime::Handle::current());

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

        // One of each first: connections opened, the engine's provider client made.
        timed_read(&server, &http_own, &own, &url, answer(), read_raw).await;
        timed_read(&server, &http_shared, &shared, &url, answer(), read_raw).await;
        timed_turn(&handle, &mut events, &server, answer()).await;

        let (mut raw_own, mut raw_shared, mut floor, mut raw_one) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut engine, mut tails, mut deltas, mut fixed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let one = || Reply::text(&["w00 "]);
        // Before each timed part, what the last one left running in the background (indexing a
        // stored answer, at the lowest priority) is given time to end, so it slows neither side.
        let settle = || tokio::time::sleep(SETTLE);
        for _ in 0..ROUNDS {
            settle().await;
            raw_own.push(timed_read(&server, &http_own, &own, &url, answer(), read_raw).await);
            settle().await;
            let turn = timed_turn(&handle, &mut events, &server, answer()).await;
            assert_eq!(turn.bytes, TOKENS * 4);
            engine.push(turn.took);
            tails.push(turn.took - turn.to_last_text);
            deltas.push(turn.deltas);
            settle().await;
            raw_shared.push(timed_read(&server, &http_shared, &shared, &url, answer(), read_raw).await);
            // The floor of any client that reads each chunk: the raw read on a thread of its own
            // plus splitting SSE events (sseer, as a plain client would) and parsing each chunk's
            // JSON (serde_json, into the least a client must look at), the text joined. No engine.
            settle().await;
            floor.push(timed_read(&server, &http_own, &own, &url, answer(), parse_only).await);
            // The fixed part of a turn (storing the messages, reading the history, the final
            // write), from a one-token answer: what the per-token figure does not depend on.
            settle().await;
            fixed.push(timed_turn(&handle, &mut events, &server, one()).await.took);
            settle().await;
            raw_one.push(timed_read(&server, &http_own, &own, &url, one(), read_raw).await);
        }
        // Each round's turn over the bare read just before it: how much the rounds spread (here a
        // round is slow when the reader and the busy loopback server share a core, the other idle).
        let mut paired: Vec<f64> = engine
            .iter()
            .zip(&raw_own)
            .map(|(turn, raw)| turn.as_secs_f64() / raw.as_secs_f64())
            .collect();
        paired.sort_by(f64::total_cmp);
        let (own, shared) = (median(raw_own), median(raw_shared));
        let raw = own.min(shared);
        let (floor, engine, fixed, raw_one) =
            (median(floor), median(engine), median(fixed), median(raw_one));
        println!(
            "raw SSE read: {:.1} ms on a thread of its own, {:.1} ms on the shared runtime",
            ms(own),
            ms(shared)
        );
        println!(
            "read + SSE split + JSON parse of each chunk, no engine: {:.1} ms, {:.2}x the raw read",
            ms(floor),
            floor.as_secs_f64() / raw.as_secs_f64()
        );
        println!(
            "a one-token answer (the fixed part): engine turn {:.1} ms, raw read {:.1} ms",
            ms(fixed),
            ms(raw_one)
        );
        println!(
            "100 KB answer in {TOKENS} chunks, medians of {ROUNDS} rounds: raw SSE read (the faster) {:.1} ms, engine turn {:.1} ms, ratio {:.2} (goal <= 1.2); engine {:.2} µs per token",
            ms(raw),
            ms(engine),
            engine.as_secs_f64() / raw.as_secs_f64(),
            engine.as_secs_f64() * 1e6 / TOKENS as f64
        );
        println!(
            "per round, the turn over the bare read before it: quartiles {:.2} / {:.2} / {:.2}, 1.2x or less in {} of {ROUNDS} rounds",
            paired[ROUNDS / 4],
            paired[ROUNDS / 2],
            paired[3 * ROUNDS / 4],
            paired.iter().filter(|r| **r <= 1.2).count()
        );
        // What each further token costs: the 100 KB answer less the one-token answer, per token.
        let per_token = |long: Duration, short: Duration| {
            long.saturating_sub(short).as_secs_f64() * 1e6 / (TOKENS - 1) as f64
        };
        let (engine_token, raw_token) = (per_token(engine, fixed), per_token(raw, raw_one));
        println!(
            "per streamed token (100 KB answer less the one-token answer): engine {engine_token:.3} µs, raw read {raw_token:.3} µs, ratio {:.2}",
            engine_token / raw_token
        );
        let tail = median(tails);
        println!(
            "of the engine turn, after the last text (the answer stored, the turn ended): median {:.1} ms; to the last text {:.1} ms, {:.2}x the raw read",
            ms(tail),
            ms(engine.saturating_sub(tail)),
            engine.saturating_sub(tail).as_secs_f64() / raw.as_secs_f64()
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
