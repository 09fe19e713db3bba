//! The one typed API of the engine, as a crate of its own: every front end (GUI, CLI, worker)
//! submits `Command`s and reads `Event`s, and this crate holds every type they carry and nothing
//! of the engine (it depends on serde and small type crates only). Both enums are serde-tagged so
//! a transcript can be logged, replayed in tests and printed as JSONL. The engine re-exports it as
//! `aetheria_engine::api`.

#![warn(missing_docs)]

use std::fmt;
use std::path::PathBuf;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod command;
pub mod config;
pub mod conversation;

pub mod endpoint;
mod event;
pub mod jobs;

pub use self::command::{
    Command, JobsCommand, MemoryCommand, ModelsCommand, SandboxCommand, SessionCommand,
    SettingsCommand, ToolsCommand, TurnCommand,
};
pub use self::event::Event;

use crate::config::ProviderConfig;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// A new time-ordered id (UUID v7).
            #[must_use]
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// The id as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

id_type!(
    /// A conversation.
    SessionId
);
id_type!(
    /// One stored message of a conversation.
    MessageId
);
id_type!(
    /// One call of a tool by the model; approvals answer it.
    ToolCallId
);
id_type!(
    /// A background job (see the queue issue).
    JobId
);
id_type!(
    /// A long-term memory.
    MemoryId
);

mod accounts;
mod browser;
mod catalog;
mod recall;
mod tools;
mod voice;
pub use self::accounts::{Account, AccountService, AccountsCommand, SignInStep};
pub use self::browser::{BROWSER_VIEWPORT, BrowserCommand, BrowserInput, BrowserKey, BrowserView};
pub use self::catalog::{
    CatalogModel, FileEntry, FileKind, LocalModelInfo, ModelInfo, SandboxStatus, SandboxSummary,
    ToolInfo, ToolKind,
};
pub use self::recall::{MemoryRecord, SearchHit};
pub use self::tools::{ApprovalScope, McpServerInfo, McpState, ScopeKind};
pub use self::voice::{
    Cue, Transcript, VoiceCommand, VoiceConfig, VoiceEvent, VoiceModel, VoiceStatus,
};

/// A secret in transit to the keychain: never shown by `Debug`, never serialised in clear.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the keychain.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // In clear only inside `endpoint::encode`, on its way to the engine's own process.
        if endpoint::exposing_secrets() {
            serializer.serialize_str(&self.0)
        } else {
            serializer.serialize_str("[REDACTED]")
        }
    }
}

/// What a person edits in the settings screen (saved to `config.toml`; keys go to the keychain).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The provider that answers (by name); the first one when absent.
    pub default_provider: Option<String>,
    /// The model endpoints.
    pub providers: Vec<ProviderConfig>,
    /// Folders the file tools may use.
    pub workspace_roots: Vec<PathBuf>,
    /// Most model calls in one turn.
    pub max_steps: u32,
    /// Policies set in the config file, by tool.
    pub tool_policies: BTreeMap<String, Policy>,
    /// MCP servers by name.
    #[serde(default)]
    pub mcp_servers: BTreeMap<String, crate::config::McpServerConfig>,
    /// Dictation and sound.
    #[serde(default)]
    pub voice: VoiceConfig,
    /// The tools background jobs may use on this machine (a job can only narrow this list).
    #[serde(default)]
    pub jobs_allow: Vec<String>,
}

/// What a submitted command was numbered; returned by `Handle::submit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubmissionId(pub u64);

/// The version of this protocol. It changes when a front end built for one version could misread
/// what an engine of another says (a variant's meaning or a field's type changed, one removed);
/// adding a variant or an optional field does not change it.
pub const PROTOCOL_VERSION: u32 = 1;

/// An event as it travels to front ends, with the submission that caused it: the answers to a
/// command and, for `SendMessage`, every event of the turn it started (its tool calls, approvals
/// and end included) carry that command's number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The submission this event answers; none for what the engine says on its own (a
    /// background job's progress, a scheduled run, a turn started by a job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<SubmissionId>,
    /// What happened.
    pub event: Event,
}

/// A command with its submission number, as it travels to the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Assigned by the handle, in submission order.
    pub id: SubmissionId,
    /// What to do.
    pub command: Command,
}

/// Why the model stopped answering, as the providers' wires name it (one spelling for all: an
/// Anthropic `max_tokens` and a Gemini `MAX_TOKENS` are both `Length`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its answer.
    Stop,
    /// It reached its output limit: the answer is cut.
    Length,
    /// It asked for tools.
    ToolCalls,
    /// The provider's filter stopped it.
    ContentFilter,
    /// Another reason, as the provider gave it.
    #[serde(untagged)]
    Other(String),
}

impl FinishReason {
    /// The reason from a provider's word for it.
    #[must_use]
    pub fn from_wire(reason: &str) -> Self {
        match reason {
            "stop" => Self::Stop,
            "length" => Self::Length,
            "tool_calls" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The person's answer to an approval request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Run the tool call.
    Allow,
    /// Do not run it; the model is told it was denied.
    Deny,
}

/// Whether a tool runs without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Runs without asking.
    Allow,
    /// Asks the person each time.
    Ask,
    /// Never runs.
    Deny,
}

/// What a tool can do to the world; decides its default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Reads only (default: allow).
    ReadOnly,
    /// Changes files or state the person owns (default: ask).
    Mutating,
    /// Acts on an outside service (default: ask).
    External,
    /// Deletes or overwrites beyond recovery (default: ask).
    Destructive,
}

impl Effect {
    /// The policy a tool with this effect has unless configured otherwise.
    #[must_use]
    pub fn default_policy(self) -> Policy {
        match self {
            Self::ReadOnly => Policy::Allow,
            Self::Mutating | Self::External | Self::Destructive => Policy::Ask,
        }
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Still streaming (or the process died while it streamed).
    Streaming,
    /// Done.
    Complete,
    /// Stopped by the person; the text is what had arrived.
    Cancelled,
    /// The turn failed; the text is what had arrived.
    Failed,
}

/// Where a tool call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// Waiting for the person's approval.
    AwaitingApproval,
    /// Running.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error (told to the model).
    Failed,
    /// The person or the policy refused it.
    Denied,
    /// Stopped with the turn.
    Cancelled,
}

/// A session as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Its id.
    pub id: SessionId,
    /// Its title ("New chat" until titled).
    pub title: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRequest {
    /// The call's id, made by the engine: unique, whatever the provider sends.
    pub id: ToolCallId,
    /// The id the provider gave the call, used only on the wire (in the history sent back to
    /// it): a provider that repeats ids can never reach another call's approval or record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The arguments as the model wrote them (may be invalid JSON).
    pub arguments: String,
}

/// A text file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Its file name.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Its id.
    pub id: MessageId,
    /// Who wrote it.
    pub role: Role,
    /// Its text (markdown): what the person wrote, without the files attached to it.
    pub content: String,
    /// Text files the person attached (the model reads each after the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Tool calls the assistant made in it.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallRequest>,
    /// Images the person attached (copies kept in the data folder, sent again with the history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PathBuf>,
    /// What the turn this answer ended took (its tokens and cost), on the turn's last answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The model's reasoning before the answer, when it showed it (shown collapsed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thinking: String,
    /// Where it stands.
    pub status: MessageStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl MessageRecord {
    /// A complete message of `role` saying `content`, made now, with nothing else: no files,
    /// calls, images, usage or reasoning (set those with struct update syntax).
    #[must_use]
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            id: MessageId::new(),
            role,
            content: content.into(),
            attachments: Vec::new(),
            tool_calls: Vec::new(),
            images: Vec::new(),
            usage: None,
            thinking: String::new(),
            status: MessageStatus::Complete,
            created_at: Utc::now(),
        }
    }
}

/// A stored tool call with its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// The call's id.
    pub id: ToolCallId,
    /// The assistant message that made it (none for a direct `CallTool`).
    pub message: Option<MessageId>,
    /// The tool's name.
    pub tool: String,
    /// Its family (none for a tool there is no longer, or in records older than the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ToolKind>,
    /// The arguments as JSON text.
    pub arguments: String,
    /// Where it stands.
    pub status: ToolStatus,
    /// Its output or error text, as the model saw it.
    pub output: String,
    /// Everything it printed while it ran, as the person saw it live (sandbox runs; up to 1 MiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// Images it produced (an MCP tool's image content), kept by name in the data folder's
    /// attachments as the person's are (see `images::stored`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PathBuf>,
}

/// Token counts a provider reported, and what they cost where the model's price is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Of the prompt tokens, how many were read from a cache instead of computed: a local model's
    /// kept cache (a follow-up turn reads only what is new), a vendor's prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_input_tokens: u64,
    /// Their cost in millionths of a US dollar (a model run on this machine costs nothing;
    /// none: the price is not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_micros: Option<u64>,
}

impl Usage {
    /// The tokens and cost of both (a cost known only when both are).
    #[must_use]
    pub fn plus(self, other: Self) -> Self {
        Self {
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cached_input_tokens: self.cached_input_tokens + other.cached_input_tokens,
            cost_micros: self.cost_micros.zip(other.cost_micros).map(|(a, b)| a + b),
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What kind of failure; front ends choose wording and recovery from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No provider is configured or it names an unknown wire.
    Config,
    /// The provider refused the key (401/403) or none was found.
    Auth,
    /// The provider does not know the model or path (404).
    NotFound,
    /// Too many requests (429); try again later.
    RateLimited,
    /// The provider failed (5xx) or could not be reached.
    Unavailable,
    /// The stream broke off or could not be understood.
    BadResponse,
    /// The agent hit its step limit.
    StepLimit,
    /// The session or call does not exist.
    Missing,
    /// The command does not fit the current state (e.g. a turn already runs).
    Conflict,
    /// The request was not valid.
    Invalid,
    /// The database failed.
    Storage,
    /// The person (or another front end) stopped it.
    Cancelled,
    /// Anything else.
    Internal,
}

/// An error as front ends see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A sentence for a person: what went wrong and what to do.
    pub message: String,
}

impl ErrorInfo {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_events_are_tagged_json() {
        let command = Command::Turn(TurnCommand::Send {
            session: SessionId::from("s1"),
            text: "hi".into(),
            attachments: vec![],
            create: false,
            allow: vec![],
        });
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "turn", "op": "send", "session": "s1", "text": "hi", "attachments": [], "create": false})
        );
        let back: Command = serde_json::from_value(json).unwrap();
        assert_eq!(back, command);

        let event = Event::TurnCancelled {
            session: SessionId::from("s1"),
        };
        let line = serde_json::to_string(&event).unwrap();
        assert_eq!(line, r#"{"type":"turn_cancelled","session":"s1"}"#);
    }

    #[test]
    fn secrets_never_print_or_serialise() {
        let command = Command::Settings(SettingsCommand::StoreKey {
            provider: "openai".into(),
            key: Secret::new("sk-very-secret-123"),
        });
        assert!(!format!("{command:?}").contains("sk-very"));
        assert!(!serde_json::to_string(&command).unwrap().contains("sk-very"));
        let back: Secret = serde_json::from_str("\"sk-in\"").unwrap();
        assert_eq!(back.expose(), "sk-in");
    }

    #[test]
    fn finish_reasons_keep_the_wire_spelling() {
        for (wire, reason) in [
            ("stop", FinishReason::Stop),
            ("length", FinishReason::Length),
            ("tool_calls", FinishReason::ToolCalls),
            ("content_filter", FinishReason::ContentFilter),
            ("pause_turn", FinishReason::Other("pause_turn".into())),
        ] {
            assert_eq!(FinishReason::from_wire(wire), reason);
            let json = serde_json::to_value(&reason).unwrap();
            assert_eq!(json, serde_json::json!(wire));
            assert_eq!(
                serde_json::from_value::<FinishReason>(json).unwrap(),
                reason
            );
        }
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = SessionId::new();
        let b = SessionId::new();
        assert!(a < b, "{a} should sort before {b}");
    }
}
