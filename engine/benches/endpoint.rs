//! What the local endpoint costs a front end: the same turn (a 100 KB answer in 25,000 SSE chunks
//! from the loopback server) watched by the hosting process's own front end (in-process, the
//! baseline) and by a client of the endpoint, round after round in turn, compared by the medians
//! of the time to the last token; a command's round trip (`Settings Get`) in-process and through
//! the endpoint; 8 clients streaming turns at once against one turn alone; and what one event
//! costs as JSON on the wire.
//! Run: `cargo bench -p aetheria-engine --features testkit --bench endpoint` (`-- --quick` for
//! fewer rounds).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use aetheria_engine::api::endpoint::{HostFrame, encode_host};
use aetheria_engine::api::{
    Command, Envelope, Event, SessionId, SettingsCommand, SubmissionId, TurnCommand,
};
use aetheria_engine::config::Config;
use aetheria_engine::testkit::{Reply, ScriptedServer};
use aetheria_engine::{Engine, Events, Handle};

const TOKENS: usize = 25_000;

fn answer() -> Reply {
    let words: Vec<String> = (0..TOKENS).map(|i| format!("w{:02} ", i % 100)).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Reply::text(&words)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn send(session: SessionId) -> Command {
    Command::Turn(TurnCommand::Send {
        session,
        text: "stream".into(),
        attachments: vec![],
        create: true,
        allow: vec![],
    })
}

/// Starts a turn through `handle` and waits on `events` for its last text and its end: the time
/// to the last token.
async fn timed_turn(handle: &Handle, events: &mut Events) -> Duration {
    let t = Instant::now();
    let id = handle.submit(send(SessionId::new())).unwrap();
    let (mut last, mut bytes) = (Duration::ZERO, 0);
    while let Some(Envelope { submission, event }) = events.recv().await {
        if submission != Some(id) {
            continue;
        }
        match event {
            Event::TextDelta { delta, .. } => {
                last = t.elapsed();
                bytes += delta.len();
            }
            Event::TurnFinished { .. } => {
                assert_eq!(bytes, TOKENS * 4);
                return last;
            }
            Event::TurnFailed { error, .. } => panic!("{error:?}"),
            _ => {}
        }
    }
    panic!("the engine stopped");
}

/// Events of other submissions are passed over until the answer to `id`.
async fn answered(events: &mut Events, id: SubmissionId) {
    while let Some(envelope) = events.recv().await {
        if envelope.submission == Some(id) {
            return;
        }
    }
    panic!("the engine stopped");
}

async fn round_trip(handle: &Handle, events: &mut Events) -> Duration {
    let t = Instant::now();
    let id = handle
        .submit(Command::Settings(SettingsCommand::Get))
        .unwrap();
    answered(events, id).await;
    t.elapsed()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 5 } else { 21 };
    let trips = if quick { 200 } else { 2_000 };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = ScriptedServer::start(vec![]).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::new(data.path().join("config"), data.path().join("data"));
        config.use_provider(aetheria_engine::config::ProviderConfig {
            name: "loopback".into(),
            wire: aetheria_engine::config::Wire::Openai,
            base_url: server.base_url(),
            model: "bench".into(),
            key_env: Some("AETHERIA_BENCH_NO_KEY".into()),
            key_ref: Some("aetheria-bench-absent".into()),
            context_window: None,
            vision: None,
        });
        let host = Engine::open(config.clone(), "window").await.unwrap();
        assert!(host.hosting);
        let (host_handle, mut host_events) = (host.handle, host.events);
        let client = Engine::open(config.clone(), "ask").await.unwrap();
        assert!(!client.hosting);
        let (client_handle, mut client_events) = (client.handle, client.events);
        // Each side's events are read all the time (a front end that stops reading falls behind).
        let drain = |mut events: Events| {
            tokio::spawn(async move { while events.recv().await.is_some() {} })
        };

        // Warm both paths once.
        server.push(answer());
        let _ = timed_turn(&host_handle, &mut host_events).await;
        server.push(answer());
        let _ = timed_turn(&client_handle, &mut client_events).await;

        let (mut inproc, mut through) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            tokio::time::sleep(Duration::from_millis(50)).await;
            server.push(answer());
            inproc.push(timed_turn(&host_handle, &mut host_events).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
            server.push(answer());
            through.push(timed_turn(&client_handle, &mut client_events).await);
        }
        let (a, b) = (median(inproc), median(through));
        println!(
            "100 KB answer in {TOKENS} chunks, medians of {rounds} rounds, time to the last token: in-process {:.1} ms, through the endpoint {:.1} ms, ratio {:.2} (goal <= 1.1)",
            ms(a),
            ms(b),
            b.as_secs_f64() / a.as_secs_f64()
        );

        let (mut inproc, mut through) = (Vec::new(), Vec::new());
        for _ in 0..trips {
            inproc.push(round_trip(&host_handle, &mut host_events).await);
            through.push(round_trip(&client_handle, &mut client_events).await);
        }
        println!(
            "command round trip (settings get), {trips} each: in-process p50 {:.3} ms p99 {:.3} ms; through the endpoint p50 {:.3} ms p99 {:.3} ms (goal p50 <= 1 ms)",
            ms(percentile(inproc.clone(), 0.5)),
            ms(percentile(inproc, 0.99)),
            ms(percentile(through.clone(), 0.5)),
            ms(percentile(through, 0.99)),
        );

        // 8 clients at once, each streaming a turn of its own, against one client alone.
        let mut clients = Vec::new();
        for _ in 0..8 {
            let opened = Engine::open(config.clone(), "ask").await.unwrap();
            clients.push((opened.handle, opened.events));
        }
        let host_drain = drain(host_events);
        let one_drain = drain(client_events);
        let alone = {
            let (handle, events) = &mut clients[0];
            server.push(answer());
            timed_turn(handle, events).await
        };
        for _ in 0..8 {
            server.push(answer());
        }
        let t = Instant::now();
        let mut tasks = Vec::new();
        for (handle, mut events) in clients {
            tasks.push(tokio::spawn(async move { timed_turn(&handle, &mut events).await }));
        }
        let mut slowest = Duration::ZERO;
        for task in tasks {
            slowest = slowest.max(task.await.unwrap());
        }
        let all = t.elapsed();
        println!(
            "8 clients streaming a 100 KB answer each at once: all done in {:.1} ms (slowest client's last token {:.1} ms); one client alone {:.1} ms; {:.2}x one turn for 8 turns",
            ms(all),
            ms(slowest),
            ms(alone),
            all.as_secs_f64() / alone.as_secs_f64()
        );

        // One event as JSON on the wire, against what the engine spends per token.
        let frame = HostFrame::Event(Envelope {
            submission: Some(SubmissionId((1 << 32) | 7)),
            event: Event::TextDelta {
                session: SessionId::new(),
                message: aetheria_engine::api::MessageId::new(),
                delta: "w42 w43 w44 w45 ".repeat(64),
            },
        });
        let n = 20_000;
        let t = Instant::now();
        let mut bytes = 0;
        for _ in 0..n {
            let wire = encode_host(&frame).unwrap();
            bytes += wire.len();
            let back: HostFrame = serde_json::from_slice(&wire).unwrap();
            assert!(matches!(back, HostFrame::Event(_)));
        }
        println!(
            "a text event of 1 KB as JSON, written and read: {:.2} µs ({} bytes on the wire)",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n),
            bytes / n as usize
        );
        host_handle.submit(Command::Shutdown).unwrap();
        host_drain.await.unwrap();
        one_drain.abort();
    });
}
