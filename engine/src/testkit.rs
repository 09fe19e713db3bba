//! A scripted loopback HTTP server that speaks OpenAI's Chat Completions streaming wire (SSE) and
//! Anthropic's Messages stream (`anthropic`) and Gemini's `streamGenerateContent` (`gemini`), for tests of the engine and the app. Each request takes
//! the next scripted reply; the bodies and headers it received can be inspected. Built from the
//! vendors' public API references; no vendor is contacted.

pub mod anthropic;
pub mod gemini;
pub mod local_bench;
pub mod mirror;
pub mod voice;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use futures::StreamExt;
use serde_json::{Value, json};

/// One scripted answer to a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An SSE stream of `data:` events (JSON text or `[DONE]`).
    Stream {
        /// The `data:` payloads, in order; an entry that starts with `event:` is sent as a whole
        /// frame (`event: NAME` and `data: …` lines).
        events: Vec<String>,
        /// Pause before each event.
        delay: Duration,
        /// Break the connection after this many events (no `[DONE]`, no proper end).
        cut_after: Option<usize>,
    },
    /// A `text/event-stream` body sent as exactly these byte pieces, one write each with a short
    /// pause between them (for CRLF, missing spaces, comments, split UTF-8 and any chunking).
    Raw {
        /// The pieces.
        pieces: Vec<Vec<u8>>,
    },
    /// A whole JSON answer (status 200), as a server gives when not streaming.
    Json {
        /// The body.
        body: String,
    },
    /// An error status with a body.
    Error {
        /// The HTTP status.
        status: u16,
        /// The body (JSON or text).
        body: String,
        /// A `Retry-After` header in seconds.
        retry_after: Option<u64>,
    },
    /// An error status whose body never ends (the same line, over and over), as a broken or
    /// hostile server may send.
    EndlessError {
        /// The HTTP status.
        status: u16,
    },
    /// A streamed answer that never ends: `first` events once, then `event` for ever.
    Endless {
        /// The opening events (a tool call's id and name).
        first: Vec<String>,
        /// The event sent over and over.
        event: String,
    },
}

impl Reply {
    /// A streamed text answer in the given pieces, with usage and `[DONE]`.
    #[must_use]
    pub fn text(pieces: &[&str]) -> Self {
        let mut events: Vec<String> = pieces.iter().map(|p| text_chunk(p)).collect();
        events.push(finish_chunk("stop"));
        events.push(usage_chunk(12, pieces.len() as u64));
        events.push("[DONE]".into());
        Self::stream(events)
    }

    /// A stream of the given events as they are.
    #[must_use]
    pub fn stream(events: Vec<String>) -> Self {
        Self::Stream {
            events,
            delay: Duration::ZERO,
            cut_after: None,
        }
    }

    /// Tool calls `(id, name, arguments)`, each argument string split into pieces of `split` chars.
    #[must_use]
    pub fn tool_calls(calls: &[(&str, &str, &str)], split: usize) -> Self {
        let mut events = Vec::new();
        for (index, (id, name, args)) in calls.iter().enumerate() {
            events.push(tool_call_chunk(index, Some(id), Some(name), ""));
            let chars: Vec<char> = args.chars().collect();
            for piece in chars.chunks(split.max(1)) {
                let piece: String = piece.iter().collect();
                events.push(tool_call_chunk(index, None, None, &piece));
            }
        }
        events.push(finish_chunk("tool_calls"));
        events.push("[DONE]".into());
        Self::stream(events)
    }

    /// An error status.
    #[must_use]
    pub fn error(status: u16, message: &str) -> Self {
        Self::Error {
            status,
            body: json!({ "error": { "message": message, "type": "test_error" } }).to_string(),
            retry_after: None,
        }
    }

    /// Pauses before each event.
    #[must_use]
    pub fn with_delay(self, pause: Duration) -> Self {
        match self {
            Self::Stream {
                events, cut_after, ..
            } => Self::Stream {
                events,
                delay: pause,
                cut_after,
            },
            other => other,
        }
    }

    /// Breaks the connection after `n` events.
    #[must_use]
    pub fn cut_after(self, n: usize) -> Self {
        match self {
            Self::Stream { events, delay, .. } => Self::Stream {
                events,
                delay,
                cut_after: Some(n),
            },
            other => other,
        }
    }
}

/// `cases` raw replies of the same bytes, each cut into pieces at random places (a seeded
/// xorshift, so runs repeat); every hundredth is cut into single bytes. For checking that a parser
/// gives the same result however the network splits its input.
#[must_use]
pub fn random_cuttings(bytes: &[u8], cases: usize, seed: u64) -> Vec<Reply> {
    random_pieces(bytes, cases, seed)
        .into_iter()
        .map(|pieces| Reply::Raw { pieces })
        .collect()
}

/// The pieces of `random_cuttings`: `cases` ways of cutting `bytes`, each a list of pieces.
#[must_use]
pub fn random_pieces(bytes: &[u8], cases: usize, seed: u64) -> Vec<Vec<Vec<u8>>> {
    let mut next = xorshift(seed);
    (0..cases)
        .map(|case| {
            let mut cuts: Vec<usize> = if case % 100 == 0 {
                (1..bytes.len()).collect()
            } else {
                (0..1 + next() % 12)
                    .map(|_| (next() as usize) % bytes.len().max(1))
                    .collect()
            };
            cuts.sort_unstable();
            cuts.dedup();
            let mut pieces = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                if cut > from {
                    pieces.push(bytes[from..cut].to_vec());
                    from = cut;
                }
            }
            pieces
        })
        .collect()
}

/// A seeded xorshift64 generator: the same numbers on every run, for seeded random tests.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.max(1);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A `chat.completion.chunk` carrying text.
#[must_use]
pub fn text_chunk(text: &str) -> String {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": "test-model",
        "choices": [{ "index": 0, "delta": { "role": "assistant", "content": text }, "finish_reason": null }]
    })
    .to_string()
}

/// A chunk carrying one tool-call delta.
#[must_use]
pub fn tool_call_chunk(index: usize, id: Option<&str>, name: Option<&str>, args: &str) -> String {
    let mut call = json!({ "index": index, "function": { "arguments": args } });
    if let Some(id) = id {
        call["id"] = json!(id);
        call["type"] = json!("function");
    }
    if let Some(name) = name {
        call["function"]["name"] = json!(name);
    }
    json!({
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": "test-model",
        "choices": [{ "index": 0, "delta": { "tool_calls": [call] }, "finish_reason": null }]
    })
    .to_string()
}

/// A chunk with a finish reason.
#[must_use]
pub fn finish_chunk(reason: &str) -> String {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": "test-model",
        "choices": [{ "index": 0, "delta": {}, "finish_reason": reason }]
    })
    .to_string()
}

/// The usage-only final chunk (`stream_options.include_usage`).
#[must_use]
pub fn usage_chunk(prompt: u64, completion: u64) -> String {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": "test-model",
        "choices": [],
        "usage": { "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion }
    })
    .to_string()
}

#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<(HeaderMap, Value)>>,
}

/// The running server; stops when dropped.
pub struct ScriptedServer {
    addr: SocketAddr,
    script: Arc<Script>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedServer {
    /// Starts a server on 127.0.0.1 with a free port.
    pub async fn start(replies: Vec<Reply>) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0", replies).await
    }

    /// Starts a server on the given address.
    pub async fn start_on(addr: &str, replies: Vec<Reply>) -> std::io::Result<Self> {
        let script = Arc::new(Script {
            replies: Mutex::new(replies.into()),
            requests: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .route("/v1/messages", post(completions))
            .route("/v1/models/{call}", post(completions))
            .route("/v1/models", get(models))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        // Each event is written when it is ready, as streaming servers do (Go's net/http, uvicorn
        // and nginx all set TCP_NODELAY): with Nagle's algorithm a small last write could wait
        // 40 ms for the peer's delayed ACK.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, script, task })
    }

    /// The base URL to configure a provider with.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Adds replies to the end of the script.
    pub fn push(&self, reply: Reply) {
        if let Ok(mut r) = self.script.replies.lock() {
            r.push_back(reply);
        }
    }

    /// The JSON bodies received so far.
    #[must_use]
    pub fn requests(&self) -> Vec<Value> {
        self.script
            .requests
            .lock()
            .map(|r| r.iter().map(|(_, v)| v.clone()).collect())
            .unwrap_or_default()
    }

    /// The `Authorization` headers received so far.
    #[must_use]
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.headers(header::AUTHORIZATION.as_str())
    }

    /// One header of every request received so far.
    #[must_use]
    pub fn headers(&self, name: &str) -> Vec<Option<String>> {
        self.script
            .requests
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(h, _)| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET /v1/models` in the format of the wire the request's auth header names: Anthropic
/// (`x-api-key`: pages of one model with `has_more`/`last_id`, continued by `after_id`), Gemini
/// (`x-goog-api-key`: `models` with `nextPageToken`, continued by `pageToken`), else OpenAI.
async fn models(headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let query = uri.query().unwrap_or_default();
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let body = if headers.contains_key("x-api-key") {
        if param("after_id").as_deref() == Some("claude-sonnet-4-5") {
            json!({"data": [{"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5",
                "created_at": "2025-10-01T00:00:00Z"}], "has_more": false,
                "first_id": "claude-haiku-4-5", "last_id": "claude-haiku-4-5"})
        } else {
            json!({"data": [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5",
                "created_at": "2025-09-29T00:00:00Z"}], "has_more": true,
                "first_id": "claude-sonnet-4-5", "last_id": "claude-sonnet-4-5"})
        }
    } else if headers.contains_key("x-goog-api-key") {
        if param("pageToken").as_deref() == Some("page2") {
            json!({"models": [{"name": "models/text-embedding-004", "displayName": "Text Embedding 004",
                "inputTokenLimit": 2048, "supportedGenerationMethods": ["embedContent"]}]})
        } else {
            json!({"models": [{"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash",
                "inputTokenLimit": 1_048_576, "outputTokenLimit": 65_536,
                "supportedGenerationMethods": ["generateContent", "countTokens"]}],
                "nextPageToken": "page2"})
        }
    } else {
        json!({
            "object": "list",
            "data": [{ "id": "test-model", "object": "model", "created": 0, "owned_by": "aetheria-testkit" }]
        })
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn completions(
    State(script): State<Arc<Script>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Ok(mut r) = script.requests.lock() {
        r.push((headers, value));
    }
    let reply = script.replies.lock().ok().and_then(|mut r| r.pop_front());
    let reply = reply.unwrap_or_else(|| Reply::error(500, "the test script has no more replies"));
    match reply {
        Reply::Error {
            status,
            body,
            retry_after,
        } => {
            let mut builder = Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header(header::CONTENT_TYPE, "application/json");
            if let Some(secs) = retry_after {
                builder = builder.header(header::RETRY_AFTER, secs.to_string());
            }
            builder
                .body(Body::from(body))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Reply::Json { body } => Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|_| Response::new(Body::empty())),
        Reply::EndlessError { status } => {
            let line = Bytes::from_static(b"{\"error\": \"this body never ends\"}\n");
            let stream =
                futures::stream::repeat_with(move || Ok::<_, std::io::Error>(line.clone()));
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Reply::Endless { first, event } => {
            let sse = |e: &str| Bytes::from(format!("data: {e}\n\n"));
            let event = sse(&event);
            let opening = futures::stream::iter(first.iter().map(|e| sse(e)).collect::<Vec<_>>());
            let stream = opening
                .chain(futures::stream::repeat_with(move || event.clone()))
                .map(Ok::<_, std::io::Error>);
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Reply::Raw { pieces } => {
            let stream = futures::stream::iter(pieces).then(|piece| async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                Ok::<_, std::io::Error>(Bytes::from(piece))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Reply::Stream {
            events,
            delay,
            cut_after,
        } => {
            let limit = cut_after.unwrap_or(usize::MAX);
            // Services, not cloned per event: long scripted answers stream in linear time.
            let events = Arc::new(events);
            let stream = futures::stream::unfold(0usize, move |i| {
                let events = events.clone();
                async move {
                    if i >= events.len() && cut_after.is_none() {
                        return None;
                    }
                    if i >= limit || i >= events.len() {
                        if i == limit {
                            // Let what was sent reach the client, then abort the body: the client
                            // sees the connection break mid-stream.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            return Some((
                                Err(std::io::Error::other("cut by the test script")),
                                i + 1,
                            ));
                        }
                        return None;
                    }
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    let frame = if events[i].starts_with("event:") {
                        format!("{}\n\n", events[i])
                    } else {
                        format!("data: {}\n\n", events[i])
                    };
                    Some((Ok(Bytes::from(frame)), i + 1))
                }
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "text/event-stream")
                .header(header::CACHE_CONTROL, "no-cache")
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| Response::new(Body::empty()))
        }
    }
}

/// The HTTP client the engine's provider wires use (its timeouts and user agent), for benches that
/// compare a bare read with an engine turn over the same kind of connection.
pub fn provider_http_client() -> Result<reqwest::Client, String> {
    crate::provider::http::http_client().map_err(|e| e.to_string())
}

/// Whether a test of a real service (`docker`, `keychain`, `redis`…) is skipped because the person
/// running the tests said so in `AETHERIA_SKIP`. In CI skipping is refused: the test fails instead.
#[must_use]
pub fn skip(what: &str) -> bool {
    let skipped = std::env::var("AETHERIA_SKIP")
        .unwrap_or_default()
        .split(',')
        .any(|s| s.trim() == what);
    assert!(
        !(skipped && std::env::var_os("CI").is_some()),
        "AETHERIA_SKIP is not allowed in CI"
    );
    if skipped {
        eprintln!("SKIPPED: {what} (AETHERIA_SKIP)");
    }
    skipped
}

/// The real small model the local-model tests run (SmolLM2-135M-Instruct, Apache-2.0), as
/// `installer/dev.sh test` fetches it from PyPI.
pub mod test_model {
    use std::path::PathBuf;

    /// Its file name.
    pub const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
    /// Its sha256, hex.
    pub const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

    /// Where it is (`$AETHERIA_TEST_MODELS`, else `~/.cache/aetheria/test-models`).
    ///
    /// # Panics
    /// When it is missing, saying how to fetch it: a test that needs it must not pass without it.
    #[must_use]
    pub fn path() -> PathBuf {
        let dir = std::env::var_os("AETHERIA_TEST_MODELS").map_or_else(
            || {
                directories::BaseDirs::new()
                    .map(|b| b.home_dir().join(".cache/aetheria/test-models"))
                    .unwrap_or_default()
            },
            PathBuf::from,
        );
        let path = dir.join(FILE);
        assert!(
            path.is_file(),
            "{} is missing: run installer/dev.sh test (it fetches the test model)",
            path.display()
        );
        path
    }

    /// Compiles the grammar a local model's answer is held to when `tools` (as `Event::ToolList`
    /// gives them) are offered, with the real tokenizer of the model at `model`: the whole
    /// grammar, as a turn first tries it, with no tool left out. `Err` says why it fails.
    ///
    /// # Errors
    /// When the model does not load or the grammar does not compile.
    pub fn tool_grammar_compiles(
        model: &std::path::Path,
        tools: &[crate::api::ToolInfo],
        decide: bool,
    ) -> Result<(), String> {
        let model =
            crate::offline::runtime::LocalModel::load(model, 1).map_err(|e| e.to_string())?;
        let specs: Vec<crate::provider::ToolSpec> = tools
            .iter()
            .map(|t| crate::provider::ToolSpec {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.schema.clone(),
            })
            .collect();
        model
            .matcher(&crate::offline::prompt::tool_grammar(&specs, decide))
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The store's search, reachable from benches: seed many messages, then time queries.
pub mod recall_bench {
    use serde_json::json;

    use crate::api::SessionId;
    use crate::store::Store;

    /// A store to time searches on.
    pub struct SearchStore(Store);

    impl SearchStore {
        /// Opens (creating) a store at `url`.
        pub async fn open(url: &str) -> Result<Self, String> {
            Store::open(url).await.map(Self).map_err(|e| e.to_string())
        }

        /// Adds `count` messages (`texts` cycled) across sessions of 100 messages, 500 per insert.
        pub async fn seed(&self, count: usize, texts: &[String]) -> Result<(), String> {
            let mut session = SessionId::new();
            let mut rows = Vec::new();
            for i in 0..count {
                if i % 100 == 0 {
                    session = SessionId::new();
                    self.0
                        .create_session(&session, &format!("session {i}"))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                rows.push(json!({
                    "uid": crate::api::MessageId::new(),
                    "session": session,
                    "role": if i % 2 == 0 { "user" } else { "assistant" },
                    "content": texts[i % texts.len()],
                    "status": "complete",
                    "tool_calls": [],
                    "created_at": chrono::Utc::now(),
                }));
                if rows.len() == 500 || i + 1 == count {
                    self.0
                        .exec("INSERT INTO message $rows", json!({ "rows": rows }))
                        .await
                        .map_err(|e| e.to_string())?;
                    self.0.forget_kept();
                    rows.clear();
                }
            }
            Ok(())
        }

        /// Builds the full-text index from the seeded rows (they went in with raw `INSERT`s, as
        /// an upgrade from a store without the index would find them); the texts indexed.
        pub async fn index(&self) -> Result<usize, String> {
            self.0
                .rebuild_search_index()
                .await
                .map_err(|e| e.to_string())
        }

        /// The history search; the number of hits.
        pub async fn search(&self, query: &str) -> Result<usize, String> {
            self.0
                .search(query, 20)
                .await
                .map(|h| h.len())
                .map_err(|e| e.to_string())
        }

        /// The same search through SurrealDB's own BM25 index (what history search used before
        /// the tantivy index), defined on first use; the number of hits.
        pub async fn search_surreal(&self, query: &str) -> Result<usize, String> {
            self.0
                .rows(
                    "DEFINE INDEX IF NOT EXISTS bench_text ON message FIELDS content FULLTEXT ANALYZER words BM25 HIGHLIGHTS",
                    json!({}),
                )
                .await
                .map_err(|e| e.to_string())?;
            self.0
                .rows(
                    "SELECT uid, search::score(1) AS score FROM message WHERE content @1,OR@ $q ORDER BY score DESC LIMIT 20",
                    json!({ "q": query }),
                )
                .await
                .map(|r| r.len())
                .map_err(|e| e.to_string())
        }

        /// Adds `vectors.len()` memories with these embeddings (the first through the store, as
        /// the first embedding would be; the rest in inserts of 500).
        pub async fn seed_memories(&self, vectors: &[Vec<f32>]) -> Result<(), String> {
            let Some(first) = vectors.first() else {
                return Ok(());
            };
            let memory = self
                .0
                .add_memory("seed", &[], None)
                .await
                .map_err(|e| e.to_string())?;
            self.0
                .set_embedding(&memory.id, first)
                .await
                .map_err(|e| e.to_string())?;
            for (n, chunk) in vectors[1..].chunks(500).enumerate() {
                let rows: Vec<_> = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        json!({
                            "uid": crate::api::MemoryId::new(),
                            "text": format!("memory {}", n * 500 + i),
                            "tags": [],
                            "created_at": chrono::Utc::now(),
                            "updated_at": chrono::Utc::now(),
                            "embedding": v,
                        })
                    })
                    .collect();
                self.0
                    .exec("INSERT INTO memory $rows", json!({ "rows": rows }))
                    .await
                    .map_err(|e| e.to_string())?;
                self.0.forget_kept();
            }
            Ok(())
        }

        /// Top-10 through SurrealDB's own HNSW index (what recall by meaning used before the
        /// in-memory scan), defined on first use; the memories' texts, nearest first.
        pub async fn recall_surreal_hnsw(&self, vector: &[f32]) -> Result<Vec<String>, String> {
            self.0
                .exec(
                    &format!(
                        "DEFINE INDEX IF NOT EXISTS bench_vector ON memory FIELDS embedding HNSW DIMENSION {} DIST COSINE TYPE F32",
                        vector.len()
                    ),
                    json!({}),
                )
                .await
                .map_err(|e| e.to_string())?;
            let rows = self
                .0
                .rows(
                    "SELECT text, vector::distance::knn() AS distance FROM memory WHERE embedding <|10,40|> $v ORDER BY distance",
                    json!({ "v": vector }),
                )
                .await
                .map_err(|e| e.to_string())?;
            Ok(rows
                .into_iter()
                .filter_map(|r| r["text"].as_str().map(str::to_owned))
                .collect())
        }

        /// Recall by meaning alone (the query has no words); the memories' texts, nearest first.
        pub async fn recall_vector(&self, vector: &[f32]) -> Result<Vec<String>, String> {
            self.0
                .recall("", 10, async || Some(vector.to_vec()))
                .await
                .map(|found| found.into_iter().map(|m| m.text).collect())
                .map_err(|e| e.to_string())
        }

        /// The baseline without the index: every message is read and checked for the first word
        /// (no early stop: a search must look at all of them to rank).
        pub async fn scan(&self, query: &str) -> Result<usize, String> {
            let word = query.split_whitespace().next().unwrap_or("").to_lowercase();
            self.0
                .rows(
                    "SELECT uid FROM message WHERE string::contains(string::lowercase(content), $w)",
                    json!({ "w": word }),
                )
                .await
                .map(|r| r.len())
                .map_err(|e| e.to_string())
        }
    }
}
