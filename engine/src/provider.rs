//! Model providers: one client per wire protocol, not per vendor. A provider is data (name, wire,
//! base URL, model, key reference); its client turns a `Request` into a stream of `ResponseEvent`s.

mod anthropic;
mod bounded;
pub(crate) mod catalog;
mod gemini;
pub(crate) mod http;
mod local;
mod openai;
mod sse;

use self::bounded::Bounded;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::stream::BoxStream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::api::{ErrorInfo, ErrorKind, ToolCallId, ToolCallRequest, Usage};
use crate::config::{ProviderConfig, Wire};
use crate::secrets::{Secrets, SecretsError};

/// One message as a provider sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ChatMessage {
    System(String),
    User(String),
    Assistant {
        content: String,
        tool_calls: Vec<ToolCallRequest>,
    },
    Tool {
        call_id: ToolCallId,
        content: String,
    },
    /// An image the person attached: part of the user message just before it.
    Image {
        /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`.
        media_type: String,
        /// The bytes, base64.
        data: String,
    },
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// What to ask the model.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
}

/// What a provider streams back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResponseEvent {
    /// More answer text.
    TextDelta(String),
    /// More of the model's reasoning (Anthropic thinking, Gemini thoughts, `reasoning_content`);
    /// shown apart from the answer, never sent back as part of it.
    ThinkingDelta(String),
    /// A complete tool call (assembled from its deltas).
    ToolCall(ToolCallRequest),
    /// Token counts.
    Usage(Usage),
    /// The answer is complete.
    Finished { reason: String },
}

/// Why a provider call failed; each variant says how to recover.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ProviderError {
    /// The server answered with an error status. Retry after `retry_after` for 429/5xx.
    #[error("{message}")]
    Http {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The server could not be reached. Retry later.
    #[error("{0}")]
    Connect(String),
    /// The stream broke off or was not understood. The partial answer is kept.
    #[error("{0}")]
    Stream(String),
}

impl ProviderError {
    /// For a refusal that may pass (rate limit, overload, a server error, no connection): the wait
    /// the server asked for, if it named one. `None` when retrying cannot help.
    pub(crate) fn retry(&self) -> Option<Option<Duration>> {
        match self {
            Self::Http {
                status: 429 | 500 | 502 | 503 | 504 | 529,
                retry_after,
                ..
            } => Some(*retry_after),
            Self::Connect(_) => Some(None),
            _ => None,
        }
    }

    pub(crate) fn to_info(&self) -> ErrorInfo {
        let kind = match self {
            Self::Http { status, .. } => match status {
                401 | 403 => ErrorKind::Auth,
                404 => ErrorKind::NotFound,
                429 => ErrorKind::RateLimited,
                500..=599 => ErrorKind::Unavailable,
                _ => ErrorKind::Invalid,
            },
            Self::Connect(_) => ErrorKind::Unavailable,
            Self::Stream(_) => ErrorKind::BadResponse,
        };
        ErrorInfo::new(kind, self.to_string())
    }
}

pub(crate) type EventStream = BoxStream<'static, Result<ResponseEvent, ProviderError>>;

/// A client of one wire protocol.
pub(crate) trait ModelClient: Send + Sync + std::fmt::Debug {
    /// Streams one answer.
    fn stream(&self, request: Request) -> EventStream;
}

/// Finds the key of a provider: its environment variable first, then the keychain. A provider
/// without a key is used without one (local servers need none); a keychain failure is only an error
/// when the environment has no key either and the keychain was expected to answer.
pub(crate) fn resolve_key(
    provider: &ProviderConfig,
    secrets: &Secrets,
) -> Result<Option<String>, SecretsError> {
    if let Ok(key) = std::env::var(provider.key_env_var())
        && !key.trim().is_empty()
    {
        secrets.redactor().learn(&key);
        return Ok(Some(key.trim().to_owned()));
    }
    match secrets.get(provider.key_account()) {
        Ok(key) => Ok(key),
        Err(SecretsError::Unavailable(reason)) => {
            tracing::debug!(%reason, "keychain unavailable; using no key");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Why a key could not be looked up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    /// The keychain did not answer in time (locked, waiting for the person).
    #[error("the OS keychain did not answer within {0} s (is it locked?)")]
    Timeout(u64),
    /// The keychain answered with an error.
    #[error(transparent)]
    Keychain(#[from] SecretsError),
    /// The blocking lookup task failed.
    #[error("the key lookup failed: {0}")]
    Task(String),
}

/// `resolve_key` off the async threads, waiting at most `wait` for the keychain.
pub(crate) async fn lookup_key(
    provider: &ProviderConfig,
    secrets: &Secrets,
    wait: Duration,
) -> Result<Option<String>, KeyError> {
    let (provider, secrets) = (provider.clone(), secrets.clone());
    let lookup = tokio::task::spawn_blocking(move || resolve_key(&provider, &secrets));
    tokio::time::timeout(wait, lookup)
        .await
        .map_err(|_| KeyError::Timeout(wait.as_secs()))?
        .map_err(|e| KeyError::Task(e.to_string()))?
        .map_err(KeyError::from)
}

/// Builds the client for a provider (`config` gives the local runtime its settings and models).
pub(crate) fn client(
    provider: &ProviderConfig,
    key: Option<String>,
    config: &crate::config::Config,
) -> Result<Arc<dyn ModelClient>, ProviderError> {
    if key.is_some()
        && let Some(why) = crate::body::in_the_clear(
            &provider.base_url,
            &format!("the API key of {}", provider.name),
        )
    {
        return Err(ProviderError::Connect(why));
    }
    match provider.wire {
        Wire::Local => Ok(Arc::new(local::LocalClient::new(
            provider.clone(),
            crate::offline::models_dir(&config.data_dir),
            config.local.clone(),
        ))),
        Wire::Openai => Ok(Arc::new(Bounded(openai::OpenAiClient::new(
            provider.clone(),
            key,
        )?))),
        Wire::Anthropic => Ok(Arc::new(Bounded(anthropic::AnthropicClient::new(
            provider.clone(),
            key,
        )?))),
        Wire::Gemini => Ok(Arc::new(Bounded(gemini::GeminiClient::new(
            provider.clone(),
            key,
        )?))),
    }
}

/// A stream fed by a spawned task; dropping the stream stops the task at once.
pub(crate) struct TaskStream<T> {
    rx: ReceiverStream<T>,
    task: tokio::task::JoinHandle<()>,
}

impl<T: Send + 'static> TaskStream<T> {
    /// The task runs on the caller's runtime.
    pub(crate) fn spawn<F, Fut>(body: F) -> Self
    where
        F: FnOnce(mpsc::Sender<T>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Self::on(body, tokio::spawn)
    }

    /// The task reads a provider's HTTP answer on the thread that streams answers
    /// (`http::spawn`).
    pub(crate) fn network<F, Fut>(body: F) -> Self
    where
        F: FnOnce(mpsc::Sender<T>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Self::on(body, http::spawn)
    }

    fn on<F, Fut>(body: F, spawn: impl FnOnce(Fut) -> tokio::task::JoinHandle<()>) -> Self
    where
        F: FnOnce(mpsc::Sender<T>) -> Fut,
    {
        let (tx, rx) = mpsc::channel(64);
        Self {
            rx: ReceiverStream::new(rx),
            task: spawn(body(tx)),
        }
    }
}

impl<T> Drop for TaskStream<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<T> Stream for TaskStream<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}
