//! Tools: the `Tool` trait (typed arguments with a JSON schema from doc comments, an `Effect`), the
//! type-erased form the registry holds, and the errors that either go back to the model or end the
//! turn. Approval happens outside the tool, in `registry`.

pub(crate) mod builtin;
pub(crate) mod mcp;
pub(crate) mod registry;
pub(crate) mod remembered;
pub(crate) mod workspace;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use std::sync::Mutex;

pub(crate) use self::workspace::Workspace;
use crate::api::{Effect, Event, SessionId, ToolCallId, ToolKind};
use crate::outbox::Outbox;
use crate::secrets::Redactor;

/// Most characters of tool output the model sees; the rest is cut with a note.
pub(crate) const MAX_OUTPUT_CHARS: usize = 32_000;

/// Most bytes of live output kept with a tool call's record.
const MAX_LOG_BYTES: usize = 1 << 20;

/// What a tool call has to work with.
#[derive(Clone)]
pub(crate) struct ToolCx {
    pub workspace: Arc<Workspace>,
    /// Cancelled when the turn is stopped (long walks, like `fs_find`, watch it).
    pub cancel: CancellationToken,
    /// The session the call belongs to (none for a direct `CallTool`).
    pub session: Option<SessionId>,
    /// Where the call's live output goes.
    pub live: LiveOutput,
}

/// The most output held back while a word (or a private-key block) is still arriving.
const MAX_HELD: usize = 16 << 10;

/// A running tool's live output: redacted, sent as `ToolOutputDelta` and kept (up to 1 MiB) for
/// the call's record. The last word of a piece is held back until the next piece (or the end)
/// shows it whole, so a secret cut across two pieces is still seen whole and redacted.
#[derive(Clone)]
pub(crate) struct LiveOutput {
    call: ToolCallId,
    events: Outbox,
    redactor: Redactor,
    log: Arc<Mutex<String>>,
    held: Arc<Mutex<String>>,
    /// Images the call produced, checked (with their media type), waiting to be kept.
    images: Arc<Mutex<Vec<CallImage>>>,
}

/// An image a call produced: its bytes and media type.
pub(crate) type CallImage = (Vec<u8>, &'static str);

/// The most images one call keeps.
pub(crate) const MAX_CALL_IMAGES: usize = 4;
/// The largest image a call keeps (as an attached image may be).
pub(crate) const MAX_CALL_IMAGE_BYTES: usize = 5 << 20;

impl LiveOutput {
    pub(crate) fn new(call: ToolCallId, events: Outbox, redactor: Redactor) -> Self {
        Self {
            call,
            events,
            redactor,
            log: Arc::default(),
            held: Arc::default(),
            images: Arc::default(),
        }
    }

    /// Keeps an image the call produced, for the person to see with its card; or why not (too
    /// many, too large, not a PNG, JPEG, GIF or WebP).
    pub(crate) fn image(&self, bytes: Vec<u8>) -> Result<(), String> {
        if bytes.len() > MAX_CALL_IMAGE_BYTES {
            return Err(format!(
                "an image of {} bytes (at most {MAX_CALL_IMAGE_BYTES} are kept)",
                bytes.len()
            ));
        }
        let Some(media_type) = crate::agent::attachments::image_type(&bytes) else {
            return Err("an image that is no PNG, JPEG, GIF or WebP".into());
        };
        let mut images = self
            .images
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if images.len() >= MAX_CALL_IMAGES {
            return Err(format!("more than {MAX_CALL_IMAGES} images"));
        }
        images.push((bytes, media_type));
        Ok(())
    }

    /// The images kept so far (taken: a call's images are stored once).
    pub(crate) fn take_images(&self) -> Vec<CallImage> {
        std::mem::take(
            &mut *self
                .images
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Takes a piece of output: what is whole goes out now, an unfinished last word waits.
    pub(crate) fn push(&self, text: &str) {
        let ready = {
            let Ok(mut held) = self.held.lock() else {
                return self.send(text);
            };
            held.push_str(text);
            let mut cut = held.rfind(char::is_whitespace).map_or(0, |i| {
                i + held[i..].chars().next().map_or(1, char::len_utf8)
            });
            // A private key spans lines (with spaces in them): it goes out whole or waits.
            if let Some(begin) = held.rfind("-----BEGIN") {
                let end = held[begin..].find("-----END").and_then(|e| {
                    let after = begin + e + "-----END".len();
                    held[after..]
                        .find("-----")
                        .map(|t| after + t + "-----".len())
                });
                match end {
                    None => cut = cut.min(begin),
                    Some(end) if cut > begin && cut < end => cut = end,
                    Some(_) => {}
                }
            }
            if held.len() > MAX_HELD {
                cut = held.len();
            }
            held.drain(..cut).collect::<String>()
        };
        if !ready.is_empty() {
            self.send(&ready);
        }
    }

    /// Sends what was held back (the output ended).
    fn flush(&self) {
        let rest = self.held.lock().map(|mut h| std::mem::take(&mut *h));
        if let Ok(rest) = rest
            && !rest.is_empty()
        {
            self.send(&rest);
        }
    }

    /// Redacts, keeps and sends a piece.
    fn send(&self, text: &str) {
        let text = self.redactor.redact(text);
        if let Ok(mut log) = self.log.lock()
            && log.len() < MAX_LOG_BYTES
        {
            let mut end = (MAX_LOG_BYTES - log.len()).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            log.push_str(&text[..end]);
        }
        // A closed stream means no front end listens; the log still keeps the output.
        self.events.emit(Event::ToolOutputDelta {
            call: self.call.clone(),
            delta: text,
        });
    }

    /// Whether text holds a secret (a learned one or a well-known token shape).
    pub(crate) fn redacts(&self, text: &str) -> bool {
        self.redactor.finds(text)
    }

    /// Sends an event of the engine (a tool that changed something the front end shows).
    pub(crate) fn event(&self, event: Event) {
        self.events.emit(event);
    }

    /// Everything pushed (the output has ended: what was held back goes out first).
    pub(crate) fn log(&self) -> String {
        self.flush();
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// What a call acts on, so "always allow" can be remembered for part of a tool: a place in one
/// allowed folder (allowed with everything under it) or a web site (scheme, host and port).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Scope {
    /// A place in a workspace folder: the folder's real location on disk and the plain names that
    /// lead from it to the place (for a call: where its path really leads, every link resolved).
    /// Never `..`: a grant is compared name by name, within the one folder it was given for.
    Path { root: PathBuf, parts: Vec<String> },
    /// A web site: scheme, host and port (`https://example.com`, `http://localhost:8080`);
    /// a grant for a named host also covers its subdomains on the same scheme and port.
    Site { origin: String },
}

impl Scope {
    /// Whether a call on `self` is covered by a remembered `grant`.
    pub(crate) fn within(&self, grant: &Scope) -> bool {
        match (self, grant) {
            (
                Self::Path { root, parts },
                Self::Path {
                    root: granted_root,
                    parts: granted,
                },
            ) => root == granted_root && parts.starts_with(granted),
            (Self::Site { origin }, Self::Site { origin: granted }) => {
                let (Ok(call), Ok(granted)) = (url::Url::parse(origin), url::Url::parse(granted))
                else {
                    return false;
                };
                let same_door = call.scheme() == granted.scheme()
                    && call.port_or_known_default() == granted.port_or_known_default();
                let host_covered = match (call.host(), granted.host()) {
                    (Some(url::Host::Domain(host)), Some(url::Host::Domain(domain))) => {
                        host == domain
                            || host
                                .strip_suffix(domain)
                                .is_some_and(|rest| rest.ends_with('.'))
                    }
                    (Some(host), Some(grant)) => host == grant,
                    _ => false,
                };
                same_door && host_covered
            }
            _ => false,
        }
    }

    /// What a person would most likely allow from now on: the folder of a path (as names from its
    /// workspace folder, "" for the whole of it), or the domain.
    pub(crate) fn suggestion(&self) -> crate::api::ApprovalScope {
        match self {
            Self::Path { parts, .. } => crate::api::ApprovalScope {
                kind: crate::api::ScopeKind::Path,
                value: parts[..parts.len().saturating_sub(1)].join("/"),
            },
            Self::Site { origin } => crate::api::ApprovalScope {
                kind: crate::api::ScopeKind::Site,
                value: origin.clone(),
            },
        }
    }

    /// The grant the person chose with `value`, of the same kind as this call and (for a path)
    /// in the same workspace folder; `None` when `value` is no plain folder (`..`, an absolute
    /// path, a control character) or no domain.
    pub(crate) fn grant(&self, value: &str) -> Option<Scope> {
        match self {
            Self::Path { root, .. } => Some(Self::Path {
                root: root.clone(),
                parts: plain_parts(value)?,
            }),
            Self::Site { origin } => {
                let call = url::Url::parse(origin).ok()?;
                let value = value.trim().trim_start_matches("*.");
                let value = if value.contains("://") {
                    value.to_owned()
                } else {
                    format!("{}://{value}", call.scheme())
                };
                Self::site(&url::Url::parse(&value).ok()?)
            }
        }
    }

    /// The site of an http(s) URL with a host: its scheme, host and port, and nothing else.
    pub(crate) fn site(url: &url::Url) -> Option<Scope> {
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return None;
        }
        let origin = url.origin().ascii_serialization();
        Some(Self::Site { origin })
    }

    /// Whether the grant covers a whole workspace folder (every path in it).
    pub(crate) fn is_everywhere(&self) -> bool {
        matches!(self, Self::Path { parts, .. } if parts.is_empty())
    }
}

/// The plain names of a folder path relative to a workspace folder: `.` and empty names dropped,
/// `None` for `..`, an absolute path or a control character.
fn plain_parts(value: &str) -> Option<Vec<String>> {
    let value = value.trim();
    if value.starts_with('/') || value.starts_with('\\') || value.chars().any(char::is_control) {
        return None;
    }
    let mut parts = Vec::new();
    for part in value.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return None,
            name => parts.push(name.to_owned()),
        }
    }
    Some(parts)
}

/// A tool's result text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolOutput(pub String);

/// Why a tool call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ToolError {
    /// Goes back to the model so it can correct itself (bad arguments, file not found).
    #[error("{0}")]
    RespondToModel(String),
}

/// A tool with typed arguments.
pub(crate) trait Tool: Send + Sync + 'static {
    /// Arguments; their doc comments become the JSON schema's descriptions.
    type Args: DeserializeOwned + JsonSchema + Send;
    /// The name the model calls it by.
    const NAME: &'static str;
    /// Its family, for front ends.
    const KIND: ToolKind;
    /// What it does, for the model.
    fn description(&self) -> &'static str;
    /// What it can change; the fail-safe default is `Mutating`.
    fn effect(&self) -> Effect {
        Effect::Mutating
    }
    /// Runs the call.
    fn call(
        &self,
        args: Self::Args,
        cx: ToolCx,
    ) -> impl Future<Output = Result<ToolOutput, ToolError>> + Send;
    /// Whether it can be offered now (a service tool needs its service configured).
    fn available(&self) -> bool {
        true
    }
    /// What the call acts on, for approvals remembered per path or domain (a path as the
    /// workspace really resolves it).
    fn scope(&self, _args: &Self::Args, _workspace: &Workspace) -> Option<Scope> {
        None
    }
    /// Who may let the call run, judged when it is asked for (a browser tool looks at the live
    /// page): by default the call's `scope`, and no reason to ask every time.
    fn judge(&self, args: &Self::Args, cx: &ToolCx) -> impl Future<Output = Judgement> + Send {
        let scope = self.scope(args, &cx.workspace);
        async move {
            Judgement {
                scope,
                ask_each_time: None,
            }
        }
    }
    /// The name the person's site and folder grants for this tool are kept under (a family of
    /// tools that act on one thing, like the browser's, shares one).
    const GRANTS: Option<&'static str> = None;
    /// What the call would change, shown when the person is asked to approve it.
    fn preview(
        &self,
        _args: &Self::Args,
        _cx: &ToolCx,
    ) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }
}

/// Who may let one call run.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Judgement {
    /// What the call acts on, for remembered grants.
    pub scope: Option<Scope>,
    /// Why this call must be put to the person whatever was allowed before (typing into a
    /// password field); such an answer is never remembered, and a job cannot make the call.
    pub ask_each_time: Option<String>,
}

/// A tool with its types erased, as the registry holds it.
pub(crate) trait DynTool: Send + Sync {
    fn name(&self) -> &str;
    fn kind(&self) -> ToolKind;
    fn description(&self) -> &str;
    fn effect(&self) -> Effect;
    fn schema(&self) -> serde_json::Value;
    fn call_json(
        &self,
        arguments: &str,
        cx: ToolCx,
    ) -> BoxFuture<'_, Result<ToolOutput, ToolError>>;
    fn preview_json(&self, arguments: &str, cx: ToolCx) -> BoxFuture<'_, Option<String>>;
    fn judge_json(&self, arguments: &str, cx: ToolCx) -> BoxFuture<'_, Judgement>;
    /// The name its grants are kept under.
    fn grants(&self) -> &str {
        self.name()
    }
    fn available(&self) -> bool {
        true
    }
}

impl<T: Tool> DynTool for T {
    fn name(&self) -> &str {
        T::NAME
    }

    fn kind(&self) -> ToolKind {
        T::KIND
    }

    fn description(&self) -> &str {
        Tool::description(self)
    }

    fn effect(&self) -> Effect {
        Tool::effect(self)
    }

    fn schema(&self) -> serde_json::Value {
        // Made once per tool type: every step of every turn offers the tools, and making the 16
        // built-in tools' schemas took 0.31 ms of the way to the first token (0.03 ms once made).
        static MADE: std::sync::LazyLock<
            Mutex<std::collections::HashMap<std::any::TypeId, serde_json::Value>>,
        > = std::sync::LazyLock::new(Mutex::default);
        MADE.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| {
                let mut schema = serde_json::to_value(schemars::schema_for!(T::Args))
                    .unwrap_or_else(|_| serde_json::json!({ "type": "object" }));
                if let Some(map) = schema.as_object_mut() {
                    map.remove("$schema");
                    map.remove("title");
                }
                schema
            })
            .clone()
    }

    fn call_json(
        &self,
        arguments: &str,
        cx: ToolCx,
    ) -> BoxFuture<'_, Result<ToolOutput, ToolError>> {
        let text = if arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        };
        let parsed = serde_json::from_str::<T::Args>(text);
        Box::pin(async move {
            let args = parsed.map_err(|e| {
                ToolError::RespondToModel(format!(
                    "the arguments for {} are not valid: {e}. Send a JSON object that matches the tool's schema",
                    T::NAME
                ))
            })?;
            self.call(args, cx).await
        })
    }

    fn available(&self) -> bool {
        Tool::available(self)
    }

    fn judge_json(&self, arguments: &str, cx: ToolCx) -> BoxFuture<'_, Judgement> {
        let parsed = serde_json::from_str::<T::Args>(arguments).ok();
        Box::pin(async move {
            match parsed {
                Some(args) => self.judge(&args, &cx).await,
                None => Judgement::default(),
            }
        })
    }

    fn grants(&self) -> &str {
        T::GRANTS.unwrap_or(T::NAME)
    }

    fn preview_json(&self, arguments: &str, cx: ToolCx) -> BoxFuture<'_, Option<String>> {
        let parsed = serde_json::from_str::<T::Args>(arguments).ok();
        Box::pin(async move {
            let args = parsed?;
            self.preview(&args, &cx).await
        })
    }
}

/// Cuts tool output to what the model should see, saying how much was left out.
pub(crate) fn truncate_output(text: String) -> String {
    let count = text.chars().count();
    if count <= MAX_OUTPUT_CHARS {
        return text;
    }
    let kept: String = text.chars().take(MAX_OUTPUT_CHARS).collect();
    format!("{kept}\n[output truncated: {MAX_OUTPUT_CHARS} of {count} characters shown]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_cut_across_pieces_is_redacted_whole() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let live = LiveOutput::new(ToolCallId::new(), Outbox::new(tx), Redactor::default());
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----";
        let (head, tail) = key.split_at(40);
        for piece in [
            "token ghp_0123456789abcdefgh",
            "ijklmnopqrstuvwxyzAB and then\n",
            head,
            tail,
            "\nbye",
        ] {
            live.push(piece);
        }
        let log = live.log();
        let mut sent = String::new();
        while let Ok(crate::api::Envelope {
            event: Event::ToolOutputDelta { delta, .. },
            ..
        }) = rx.try_recv()
        {
            sent.push_str(&delta);
        }
        assert_eq!(sent, log);
        assert_eq!(log, "token [REDACTED] and then\n[REDACTED]\nbye");
    }
}
