//! What every wire client shares: the HTTP client, opening a streaming request with errors a
//! person can act on (status, `Retry-After`, the key hint), reading SSE, and sending events to the
//! turn in batches.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;

use futures::{Stream, StreamExt};

use super::sse::{Flow, Sse};
use super::{ChatMessage, ProviderError, ResponseEvent};
use crate::config::ProviderConfig;

pub(crate) type Tx = mpsc::Sender<Result<ResponseEvent, ProviderError>>;

/// The system messages of a conversation as one text, for wires that take it apart.
pub(crate) fn system_prompt(messages: &[ChatMessage]) -> Option<String> {
    let parts: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            ChatMessage::System(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// Reads an answer with the wire's `read`, its events batched by `Out`; what waits is sent even
/// when reading fails (the partial answer is kept), then the failure.
pub(crate) async fn batched(
    response: reqwest::Response,
    config: &ProviderConfig,
    tx: &Tx,
    read: impl AsyncFnOnce(
        reqwest::Response,
        &ProviderConfig,
        &mut Out<'_>,
    ) -> Result<(), ProviderError>,
) -> Result<(), ProviderError> {
    let mut out = Out::new(tx);
    let result = read(response, config, &mut out).await;
    out.finish(result).await
}

/// Runs a task that reads a provider's answer on one thread kept for that, so a fast stream does
/// not compete with the turns, the store and the window's events for the runtime's workers (in the
/// stream_overhead bench a bare read on a thread of its own is 0.7-0.9x of the same read on the
/// shared runtime). A connection hyper opens from here gets its task spawned here too. When the
/// thread cannot start, the task runs on the caller's runtime.
pub(crate) fn spawn<F>(task: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("aetheria-wire")
            .enable_all()
            .build()
            .inspect_err(|e| tracing::warn!("the streaming thread did not start: {e}"))
            .ok()
    });
    match runtime {
        Some(runtime) => runtime.spawn(task),
        None => tokio::spawn(task),
    }
}

/// The error for a connection that broke while the answer streamed.
pub(crate) fn broke_off(name: &str, e: &reqwest::Error) -> ProviderError {
    ProviderError::Stream(format!(
        "the connection to provider {name:?} broke off mid-answer ({}); the partial answer is kept",
        error_chain(e)
    ))
}

/// Reads an answer's SSE events (split by `Sse`), handing each one's data to `on_data` with the
/// batcher, until it says to stop or the stream ends; a broken connection is an error naming the
/// provider.
pub(crate) async fn each_event<'a>(
    response: reqwest::Response,
    config: &ProviderConfig,
    out: &mut Out<'a>,
    mut on_data: impl FnMut(&str, &mut Out<'a>) -> Result<Flow, ProviderError>,
) -> Result<(), ProviderError> {
    each_event_raw(response, config, out, |data, out| match data {
        Data::Raw(_) => Ok(None),
        Data::Text(text) => on_data(text, out).map(Some),
    })
    .await
}

/// An event's data as `each_event_raw` hands it over.
pub(crate) enum Data<'d> {
    /// The data of an event that came alone in one read, as it arrived (`Sse::lone`): the wire
    /// takes it as it is (`Some`) or leaves it (`None`), and then it comes again as `Text`.
    Raw(&'d [u8]),
    /// The data, checked as text.
    Text(&'d str),
}

/// `each_event` for a wire that can take some events before their bytes are checked as text.
pub(crate) async fn each_event_raw<'a>(
    response: reqwest::Response,
    config: &ProviderConfig,
    out: &mut Out<'a>,
    mut on_data: impl FnMut(Data<'_>, &mut Out<'a>) -> Result<Option<Flow>, ProviderError>,
) -> Result<(), ProviderError> {
    let name = config.name.as_str();
    let mut body = response.bytes_stream();
    let mut sse = Sse::default();
    loop {
        let flow = match out.next(&mut body).await? {
            Some(Ok(bytes)) => {
                let taken = match sse.lone(&bytes) {
                    Some(raw) => on_data(Data::Raw(raw), out)?,
                    None => None,
                };
                match taken {
                    Some(flow) => flow,
                    None => sse.feed(&bytes, name, |data| as_text(&mut on_data, data, out))?,
                }
            }
            Some(Err(e)) => return Err(broke_off(name, &e)),
            None => {
                return sse
                    .finish(name, |data| as_text(&mut on_data, data, out))
                    .map(drop);
            }
        };
        if flow.is_break() {
            return Ok(());
        }
    }
}

/// Hands `data`, checked as text, to `on_data`; nothing said is going on.
fn as_text<'a>(
    on_data: &mut impl FnMut(Data<'_>, &mut Out<'a>) -> Result<Option<Flow>, ProviderError>,
    data: &str,
    out: &mut Out<'a>,
) -> Result<Flow, ProviderError> {
    on_data(Data::Text(data), out).map(|flow| flow.unwrap_or(Flow::Continue(())))
}

/// An event's data as JSON; data that is not JSON is an error naming the provider.
pub(crate) fn json(name: &str, data: &str) -> Result<Value, ProviderError> {
    serde_json::from_str(data).map_err(|e| not_json(name, data, &e))
}

/// The error for an event that is not valid JSON.
pub(crate) fn not_json(name: &str, data: &str, e: &serde_json::Error) -> ProviderError {
    ProviderError::Stream(format!(
        "provider {name:?} sent an event that is not valid JSON ({e}): {}",
        truncate(data.trim(), 200)
    ))
}

/// The longest a wire holds parsed text back to join it with what follows: half a frame at
/// 60 Hz, so nobody sees it, while a fast stream (a local server sends thousands of small chunks a
/// second) costs the engine and the window one event per hold instead of one per chunk.
const HOLD: Duration = Duration::from_millis(8);

/// What a wire has parsed but not yet sent to the turn. Deltas of the same kind are joined into
/// one event (the same text, fewer hops); they go out, in order, before any other event, and
/// before the wire waits for the network once `HOLD` has passed since the last send. The first
/// text of an answer goes out at once.
pub(crate) struct Out<'a> {
    tx: &'a Tx,
    pending: Vec<ResponseEvent>,
    /// When something was last sent.
    sent: Option<Instant>,
    /// The timer for what waits, armed while the wire waits for the network.
    due: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether `due` was polled, so it wakes this task when it elapses.
    armed: bool,
}

impl<'a> Out<'a> {
    pub(crate) fn new(tx: &'a Tx) -> Self {
        Self {
            tx,
            pending: Vec::new(),
            sent: None,
            due: None,
            armed: false,
        }
    }

    /// More answer text.
    pub(crate) fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.pending.last_mut() {
            Some(ResponseEvent::TextDelta(more)) => more.push_str(text),
            _ => self.pending.push(ResponseEvent::TextDelta(text.to_owned())),
        }
    }

    /// More reasoning.
    pub(crate) fn thinking(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.pending.last_mut() {
            Some(ResponseEvent::ThinkingDelta(more)) => more.push_str(text),
            _ => self
                .pending
                .push(ResponseEvent::ThinkingDelta(text.to_owned())),
        }
    }

    /// Another event, held with the text before it and sent after it, in order.
    pub(crate) fn push(&mut self, event: ResponseEvent) {
        self.pending.push(event);
    }

    /// Sends what waits.
    pub(crate) async fn flush(&mut self) -> Result<(), ProviderError> {
        self.due = None;
        self.armed = false;
        if self.pending.is_empty() {
            return Ok(());
        }
        for event in std::mem::take(&mut self.pending) {
            send(self.tx, event).await?;
        }
        self.sent = Some(Instant::now());
        Ok(())
    }

    /// Sends what waits, then `event`.
    pub(crate) async fn send(&mut self, event: ResponseEvent) -> Result<(), ProviderError> {
        self.flush().await?;
        send(self.tx, event).await
    }

    /// The next item of `events`. While none is ready, what waits is sent when `HOLD` has passed
    /// since the last send; the first text of an answer is sent before anything more is read.
    /// `events` is polled once per wait, with the task's own waker, and the clock is read only
    /// when something is sent. The timer is polled once, which has it wake this task when it is
    /// due; later waits only look whether it is (polling it again at every chunk of a fast stream,
    /// where the wire waits once a chunk while hyper reads the next, cost more than that chunk's
    /// parsing).
    pub(crate) async fn next<S: Stream + Unpin>(
        &mut self,
        events: &mut S,
    ) -> Result<Option<S::Item>, ProviderError> {
        if self.pending.is_empty() {
            return Ok(events.next().await);
        }
        let Some(sent) = self.sent else {
            // The first of an answer goes out before anything more is read: a server that sends
            // faster than the wire reads would otherwise keep it back until the wire caught up.
            self.flush().await?;
            return Ok(events.next().await);
        };
        let due = self
            .due
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until((sent + HOLD).into())));
        let armed = &mut self.armed;
        let next = std::future::poll_fn(|cx| {
            if let Poll::Ready(item) = events.poll_next_unpin(cx) {
                return Poll::Ready(Some(item));
            }
            let elapsed = if *armed {
                due.is_elapsed()
            } else {
                *armed = true;
                due.as_mut().poll(cx).is_ready()
            };
            if elapsed {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        if let Some(item) = next {
            return Ok(item);
        }
        self.flush().await?;
        Ok(events.next().await)
    }

    /// Ends the answer: what waits goes out even when `result` is an error (the partial answer is
    /// kept), then `result`.
    pub(crate) async fn finish(
        mut self,
        result: Result<(), ProviderError>,
    ) -> Result<(), ProviderError> {
        self.flush().await?;
        result
    }
}

/// Adds the key the way the wire expects it: `x-api-key` (with the API version) for Anthropic,
/// `x-goog-api-key` for Gemini, a bearer token otherwise.
pub(crate) fn authorize(
    builder: reqwest::RequestBuilder,
    wire: crate::config::Wire,
    key: Option<&str>,
) -> reqwest::RequestBuilder {
    use crate::config::Wire;
    match (key, wire) {
        (None, _) => builder,
        (Some(key), Wire::Anthropic) => builder
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01"),
        (Some(key), Wire::Gemini) => builder.header("x-goog-api-key", key),
        (Some(key), _) => builder.bearer_auth(key),
    }
}

/// The HTTP client of a provider: bounded connect time, a long read time for slow models.
pub(crate) fn http_client() -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(180))
        .user_agent(concat!("aetheria/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                why.push_str(": ");
                why.push_str(&s.to_string());
                source = s.source();
            }
            ProviderError::Connect(format!(
                "cannot build an HTTP client ({why}); when the system's CA certificates are missing, install them (Debian/Ubuntu: `sudo apt install ca-certificates`)"
            ))
        })
}

/// Sends the request; a refused connection or an error status becomes a `ProviderError` that names
/// the provider and says what to do.
pub(crate) async fn open(
    builder: reqwest::RequestBuilder,
    config: &ProviderConfig,
    has_key: bool,
) -> Result<reqwest::Response, ProviderError> {
    let response = builder.send().await.map_err(|e| {
        ProviderError::Connect(format!(
            "cannot reach provider {:?} at {}: {}. Check that the server runs and the base URL is right",
            config.name,
            config.base_url,
            error_chain(&e)
        ))
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = String::from_utf8_lossy(&read_capped(response, MAX_ERROR_BODY).await.0).into_owned();
    Err(http_error(
        config,
        has_key,
        status.as_u16(),
        &text,
        retry_after,
    ))
}

pub(crate) use crate::body::{MAX_API as MAX_WHOLE_BODY, MAX_ERROR as MAX_ERROR_BODY, read_capped};

/// A whole body of at most `max` bytes as text, or an error that says it was larger.
pub(crate) async fn whole_text(
    response: reqwest::Response,
    max: usize,
    name: &str,
) -> Result<String, ProviderError> {
    crate::body::text_within(response, max, &format!("provider {name:?}"))
        .await
        .map_err(|e| ProviderError::Stream(e.to_string()))
}

pub(crate) async fn send(tx: &Tx, event: ResponseEvent) -> Result<(), ProviderError> {
    // A closed receiver means the turn stopped listening (cancelled): end quietly.
    tx.send(Ok(event))
        .await
        .map_err(|_| ProviderError::Stream("the turn stopped listening".into()))
}

pub(crate) fn http_error(
    config: &ProviderConfig,
    has_key: bool,
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
) -> ProviderError {
    let detail = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| truncate(body.trim(), 300));
    let name = &config.name;
    let message = match status {
        401 | 403 => {
            let hint = if has_key {
                "the key was refused"
            } else {
                "no key was found"
            };
            format!(
                "provider {name:?} answered {status} ({hint}): {detail}. Set a key with `aetheria auth set {name}` or the {} environment variable",
                config.key_env_var()
            )
        }
        404 => format!(
            "provider {name:?} answered 404: {detail}. Check the model name {:?} and the base URL {}",
            config.model, config.base_url
        ),
        429 => format!(
            "provider {name:?} is rate limiting (429): {detail}. Try again {}",
            retry_after.map_or_else(
                || "in a moment".to_owned(),
                |d| format!("in {} s", d.as_secs())
            )
        ),
        500..=599 => format!(
            "provider {name:?} failed ({status}): {detail}. The service may be down; try again later"
        ),
        _ => format!("provider {name:?} rejected the request ({status}): {detail}"),
    };
    ProviderError::Http {
        status,
        message,
        retry_after,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    /// The batcher's promises, with a wire that only passes text on: the first text goes out at
    /// once, text that is already there when more is read goes out joined, and held text goes out
    /// while the wire still waits for the network (no later chunk, no end needed).
    #[tokio::test]
    async fn text_goes_out_at_once_joined_and_after_the_hold() {
        let (feed, chunks) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        let (tx, mut rx) = mpsc::channel(16);
        let wire = tokio::spawn(async move {
            let mut chunks = UnboundedReceiverStream::new(chunks);
            let mut out = Out::new(&tx);
            let result = async {
                while let Some(text) = out.next(&mut chunks).await? {
                    out.text(text);
                }
                Ok(())
            }
            .await;
            out.finish(result).await
        });
        let within = Duration::from_secs(5);
        let text = |event: Option<Result<ResponseEvent, ProviderError>>| match event {
            Some(Ok(ResponseEvent::TextDelta(text))) => text,
            other => panic!("expected text, got {other:?}"),
        };

        // The first text goes out alone, even when more is already there to read.
        feed.send("first").unwrap();
        feed.send("second").unwrap();
        let got = tokio::time::timeout(within, rx.recv()).await;
        assert_eq!(text(got.expect("the first text waited")), "first");
        let got = tokio::time::timeout(within, rx.recv()).await;
        assert_eq!(text(got.expect("held text was not sent")), "second");

        // Two chunks already there when the wire reads: one event.
        feed.send("b").unwrap();
        feed.send("c").unwrap();
        let got = tokio::time::timeout(within, rx.recv()).await;
        assert_eq!(text(got.expect("held text was not sent")), "bc");

        // Right after a send: held, then sent while the stream is still open.
        feed.send("d").unwrap();
        let got = tokio::time::timeout(within, rx.recv()).await;
        assert_eq!(text(got.expect("held text was not sent")), "d");

        feed.send("e").unwrap();
        drop(feed);
        let mut rest = String::new();
        while let Some(event) = rx.recv().await {
            rest.push_str(&text(Some(event)));
        }
        assert_eq!(rest, "e");
        wire.await.unwrap().unwrap();
    }
}
