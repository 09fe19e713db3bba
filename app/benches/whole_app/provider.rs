//! A loopback model server speaking OpenAI's streaming chat wire (the same chunks the engine's tests
//! use): short answers at once for seeding conversations, or one long answer paced at a given number
//! of chunks per second, noting when its first and last chunks went out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aetheria_engine::testkit::{finish_chunk, text_chunk, usage_chunk};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use futures::StreamExt;

/// How the next answers stream.
#[derive(Clone)]
pub enum Pace {
    /// The whole answer in one chunk, at once.
    AtOnce(String),
    /// `text` in chunks of `bytes`, `per_sec` chunks a second.
    Paced {
        text: String,
        bytes: usize,
        per_sec: u32,
    },
}

struct Shared {
    pace: Pace,
    /// When the paced answer's first and last chunks were written.
    sent: Option<(Instant, Instant)>,
}

/// The running server.
#[derive(Clone)]
pub struct Provider {
    shared: Arc<Mutex<Shared>>,
    /// `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
}

impl Provider {
    /// Starts it on a free loopback port.
    pub async fn start(pace: Pace) -> Self {
        let shared = Arc::new(Mutex::new(Shared { pace, sent: None }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            shared,
            base_url: format!("http://{addr}/v1"),
        }
    }

    /// Answers from now on like this.
    pub fn pace(&self, pace: Pace) {
        let mut shared = self.shared.lock().unwrap();
        shared.pace = pace;
        shared.sent = None;
    }

    /// When the last paced answer's first and last chunks went out.
    pub fn sent(&self) -> Option<(Instant, Instant)> {
        self.shared.lock().unwrap().sent
    }
}

fn sse(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

fn ending() -> Vec<Bytes> {
    vec![
        sse(&finish_chunk("stop")),
        sse(&usage_chunk(12, 34)),
        sse("[DONE]"),
    ]
}

async fn completions(State(shared): State<Arc<Mutex<Shared>>>, _body: Bytes) -> Response {
    let pace = shared.lock().unwrap().pace.clone();
    let body = match pace {
        Pace::AtOnce(text) => {
            let mut frames = vec![sse(&text_chunk(&text))];
            frames.extend(ending());
            Body::from(frames.concat())
        }
        Pace::Paced {
            text,
            bytes,
            per_sec,
        } => {
            let chunks = crate::answer::deltas(&text, bytes)
                .into_iter()
                .map(str::to_owned)
                .collect();
            let (tx, rx) = futures::channel::mpsc::channel::<Bytes>(64);
            tokio::spawn(paced(chunks, per_sec, tx, shared));
            Body::from_stream(rx.map(Ok::<_, std::io::Error>))
        }
    };
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(body)
        .unwrap()
}

/// Writes `chunks` at `per_sec` a second (in 1 ms ticks, several a tick when the rate is higher;
/// ticks missed are caught up, so the average rate holds).
async fn paced(
    chunks: Vec<String>,
    per_sec: u32,
    mut tx: futures::channel::mpsc::Sender<Bytes>,
    shared: Arc<Mutex<Shared>>,
) {
    use futures::SinkExt;
    let start = Instant::now();
    let mut first = None;
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    let mut sent = 0usize;
    while sent < chunks.len() {
        ticks.tick().await;
        let due =
            ((start.elapsed().as_secs_f64() * f64::from(per_sec)) as usize + 1).min(chunks.len());
        while sent < due {
            if tx.send(sse(&text_chunk(&chunks[sent]))).await.is_err() {
                return;
            }
            first.get_or_insert_with(Instant::now);
            sent += 1;
        }
    }
    let last = Instant::now();
    if let Some(first) = first {
        shared.lock().unwrap().sent = Some((first, last));
    }
    for frame in ending() {
        let _ = tx.send(frame).await;
    }
}
