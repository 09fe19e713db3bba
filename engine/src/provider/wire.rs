//! What every wire client shares: the HTTP client, opening a streaming request with errors a
//! person can act on (status, `Retry-After`, the key hint), and sending events to the turn.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};

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

/// The SSE events of a response as JSON values (empty events skipped); a broken connection or an
/// event that is not JSON becomes an error naming the provider.
pub(crate) fn json_events(
    response: reqwest::Response,
    config: &ProviderConfig,
) -> impl Stream<Item = Result<Value, ProviderError>> + use<> {
    let name = config.name.clone();
    response.bytes_stream().eventsource().filter_map(move |event| {
        let name = name.clone();
        async move {
            let event = match event {
                Ok(event) => event,
                Err(e) => {
                    return Some(Err(ProviderError::Stream(format!(
                        "the connection to provider {name:?} broke off mid-answer ({e}); the partial answer is kept"
                    ))));
                }
            };
            let data = event.data.trim();
            if data.is_empty() {
                return None;
            }
            Some(serde_json::from_str(data).map_err(|e| {
                ProviderError::Stream(format!(
                    "provider {name:?} sent an event that is not valid JSON ({e}): {}",
                    truncate(data, 200)
                ))
            }))
        }
    })
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
    let text = response.text().await.unwrap_or_default();
    Err(http_error(
        config,
        has_key,
        status.as_u16(),
        &text,
        retry_after,
    ))
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
