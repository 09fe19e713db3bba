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

pub mod config;
pub mod jobs;

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

mod catalog;
mod recall;
mod tools;
mod voice;
pub use self::catalog::{
    FileEntry, FileKind, LocalModelInfo, ModelInfo, SandboxStatus, SandboxSummary, ToolInfo,
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
        serializer.serialize_str("[REDACTED]")
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

/// A command with its submission number, as it travels to the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    /// Assigned by the handle, in submission order.
    pub id: SubmissionId,
    /// What to do.
    pub command: Command,
}

/// What a front end asks of the engine. Each variant names the events that answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Create an empty conversation with an id chosen by the caller (so it can match the answer).
    /// Answered by `SessionCreated`, or `CommandFailed`.
    CreateSession {
        /// The id the new session will have.
        session: SessionId,
        /// A title; when absent the session is titled after its first exchange.
        title: Option<String>,
    },
    /// List sessions, newest first. Answered by `SessionList`.
    ListSessions,
    /// Load one session's messages and tool calls. Answered by `SessionLoaded`, or `CommandFailed`.
    LoadSession {
        /// Which session.
        session: SessionId,
    },
    /// Rename a session. Answered by `SessionUpdated`, or `CommandFailed`.
    RenameSession {
        /// Which session.
        session: SessionId,
        /// The new title (trimmed; must not be empty).
        title: String,
    },
    /// Delete a session with its messages and tool calls; a running turn is cancelled first.
    /// Answered by `SessionDeleted`, or `CommandFailed`.
    DeleteSession {
        /// Which session.
        session: SessionId,
    },
    /// Send a user message and run an agent turn. Answered by `TurnStarted`, then `TextDelta`*,
    /// `ToolCallStarted`, `ApprovalRequested`?, `ToolCallFinished` (per tool call), and exactly one of
    /// `TurnFinished`, `TurnFailed` or `TurnCancelled`; `SessionUpdated` when the session gets its
    /// automatic title. `CommandFailed` if the session does not exist or already runs a turn.
    SendMessage {
        /// Which session.
        session: SessionId,
        /// What the person wrote.
        text: String,
        /// Files the person attached (paths on the host): text files are added to the message;
        /// PNG, JPEG, GIF and WebP images go to models that take them (a clear refusal otherwise).
        #[serde(default)]
        attachments: Vec<PathBuf>,
    },
    /// Stop the running turn of a session within 200 ms; the partial answer is kept and marked
    /// cancelled. Answered by `TurnCancelled` (nothing when no turn runs).
    Cancel {
        /// Which session.
        session: SessionId,
    },
    /// Answer an `ApprovalRequested`. Answered by the call's `ToolCallFinished`, and
    /// `ToolPolicyChanged` when `remember` turns the tool's policy to `allow`.
    Approve {
        /// The tool call that waits.
        call: ToolCallId,
        /// Run it or not.
        decision: Decision,
        /// With `Allow`: always allow this tool from now on (for a destructive tool only together
        /// with `scope`: it is never allowed everywhere at once).
        #[serde(default)]
        remember: bool,
        /// With `remember`: allow it only for this path prefix or domain (of the kind the request's
        /// `scope` names), e.g. `notes` or `example.com`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
    /// Set a tool's approval policy, remembered across restarts. Answered by `ToolPolicyChanged`.
    SetToolPolicy {
        /// The tool's name.
        tool: String,
        /// The new policy.
        policy: Policy,
    },
    /// List the tools the agent has (starting MCP servers not yet running, so theirs are listed).
    /// Answered by `ToolList`.
    ListTools,
    /// List the MCP servers with their state and tools (starting those not yet running).
    /// Answered by `McpServers`.
    ListMcpServers,
    /// Search every message and tool result (BM25, best first). Answered by `SearchResults`.
    SearchHistory {
        /// Words to look for.
        query: String,
        /// Most hits (default 20).
        #[serde(default)]
        limit: Option<usize>,
    },
    /// Queue a background job. Answered by `JobUpdated`, or `CommandFailed`.
    SubmitJob {
        /// The job.
        job: crate::jobs::JobSpec,
    },
    /// The newest jobs. Answered by `JobList`, or `CommandFailed`.
    ListJobs {
        /// Most jobs (default 50).
        #[serde(default)]
        limit: Option<usize>,
    },
    /// One job. Answered by `JobUpdated`, or `CommandFailed`.
    GetJob {
        /// Which.
        id: JobId,
    },
    /// Run a prompt on a cron schedule (UTC; 5 fields, or 6 with seconds). Answered by
    /// `ScheduleAdded`, or `CommandFailed`.
    AddSchedule {
        /// When.
        cron: String,
        /// The prompt.
        text: String,
        /// Tools its runs may use without asking.
        #[serde(default)]
        allow: Vec<String>,
    },
    /// The schedules. Answered by `Schedules`, or `CommandFailed`.
    ListSchedules,
    /// Stop a schedule. Answered by `ScheduleRemoved`, or `CommandFailed`.
    RemoveSchedule {
        /// Which.
        id: String,
    },
    /// Cancel a queued or running job. Answered by `JobUpdated`, or `CommandFailed`.
    CancelJob {
        /// Which.
        id: JobId,
    },
    /// List the long-term memories, newest first. Answered by `Memories`.
    ListMemories,
    /// Change a memory's text and tags. Answered by `MemoryUpdated`, or `CommandFailed`.
    UpdateMemory {
        /// Which.
        id: MemoryId,
        /// The new fact.
        text: String,
        /// Its tags.
        #[serde(default)]
        tags: Vec<String>,
    },
    /// Delete a memory. Answered by `MemoryDeleted`, or `CommandFailed`.
    DeleteMemory {
        /// Which.
        id: MemoryId,
    },
    /// List a folder of the workspace (the Files panel), confined like the file tools.
    /// Answered by `FileList`, or `CommandFailed`.
    ListFiles {
        /// The folder, relative to the workspace ("" for its top).
        path: String,
    },
    /// Read the editable settings. Answered by `Settings`.
    GetSettings,
    /// Validate, save to `config.toml` and apply at once (providers, workspace folders, policies).
    /// Answered by `SettingsSaved`, or `CommandFailed` saying what is wrong (nothing is changed).
    SaveSettings {
        /// The new settings.
        settings: Settings,
    },
    /// Store a provider's API key in the OS keychain. Answered by `KeyStored`, or `CommandFailed`.
    StoreKey {
        /// The provider's name (its keychain account, or its `key_ref`).
        provider: String,
        /// The key.
        key: Secret,
    },
    /// Check that a provider answers (`GET /models`) with its key. Answered by `ProviderTested`.
    TestProvider {
        /// The provider as edited (it need not be saved yet).
        provider: ProviderConfig,
    },
    /// List the models a provider offers (`GET /models`, every page; the installed models for the
    /// local wire), with their capabilities. Answered by `ModelList`, or `CommandFailed`.
    ListModels {
        /// The provider as edited (it need not be saved yet).
        provider: ProviderConfig,
    },
    /// Look for model servers on their usual local ports (Ollama 11434, LM Studio 1234, llama.cpp
    /// 8080). Answered by `LocalServers`.
    DetectLocalServers,
    /// Run one tool directly, with its policy applied (approval is asked as for the model).
    /// Answered by `ToolCallStarted`, `ApprovalRequested`?, `ToolCallFinished`.
    CallTool {
        /// The id the call will have.
        call: ToolCallId,
        /// The tool's name.
        tool: String,
        /// Its arguments as JSON.
        arguments: serde_json::Value,
    },
    /// Say which sandbox runs code and whether its image is ready. Answered by `SandboxStatus`.
    SandboxStatus,
    /// Build the sandbox image with no registry (debootstrap, then import through the Docker
    /// Engine API; the root filesystem alone for bubblewrap). Needs root and a Debian mirror the
    /// first time. Answered by `SandboxImageProgress`*, then `SandboxStatus`, or `CommandFailed`.
    BuildSandboxImage,
    /// List every Aetheria sandbox the backend sees. Answered by `SandboxList`, or `CommandFailed`.
    ListSandboxes,
    /// Remove sandboxes by id (or id prefix); all of them when `ids` is empty. Answered by
    /// `SandboxesRemoved`, or `CommandFailed`.
    RemoveSandboxes {
        /// Which.
        #[serde(default)]
        ids: Vec<String>,
    },
    /// List the installed local models. Answered by `LocalModels`, or `CommandFailed`.
    ListLocalModels,
    /// Install a local GGUF model from a file path or an `http(s)` URL. Answered by
    /// `LocalModelProgress`*, then `LocalModelAdded`, or `CommandFailed` (nothing is kept).
    AddLocalModel {
        /// A file path or URL.
        source: String,
        /// The name to install it as (default: from the file name).
        #[serde(default)]
        name: Option<String>,
        /// The expected sha256 of the file, hex.
        #[serde(default)]
        sha256: Option<String>,
    },
    /// Remove an installed local model. Answered by `LocalModelRemoved`, or `CommandFailed`.
    RemoveLocalModel {
        /// Its name.
        name: String,
    },
    /// Dictation, speech models, cues and reading aloud (see `VoiceCommand`).
    Voice(VoiceCommand),
    /// Stop the engine: running turns are cancelled, sandboxes removed, then the event stream ends.
    Shutdown,
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

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Its id.
    pub id: MessageId,
    /// Who wrote it.
    pub role: Role,
    /// Its text (markdown).
    pub content: String,
    /// Tool calls the assistant made in it.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallRequest>,
    /// Images the person attached (copies kept in the data folder, sent again with the history).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<PathBuf>,
    /// The model's reasoning before the answer, when it showed it (shown collapsed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thinking: String,
    /// Where it stands.
    pub status: MessageStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
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
    /// The arguments as JSON text.
    pub arguments: String,
    /// Where it stands.
    pub status: ToolStatus,
    /// Its output or error text, as the model saw it.
    pub output: String,
    /// Everything it printed while it ran, as the person saw it live (sandbox runs; up to 1 MiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
}

/// Token counts a provider reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
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

/// What the engine tells front ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A session was created.
    SessionCreated {
        /// The new session.
        session: SessionSummary,
    },
    /// The list of sessions, newest first.
    SessionList {
        /// The sessions.
        sessions: Vec<SessionSummary>,
    },
    /// A session's full history.
    SessionLoaded {
        /// The session.
        session: SessionSummary,
        /// Its messages, oldest first.
        messages: Vec<MessageRecord>,
        /// Its tool calls, oldest first.
        tool_calls: Vec<ToolCallRecord>,
    },
    /// A session's title or time changed.
    SessionUpdated {
        /// The session as it is now.
        session: SessionSummary,
    },
    /// A session was deleted.
    SessionDeleted {
        /// Which.
        session: SessionId,
    },
    /// A turn began; the user message is stored.
    TurnStarted {
        /// Which session.
        session: SessionId,
        /// The stored user message.
        user_message: MessageId,
    },
    /// A piece of the assistant's answer.
    TextDelta {
        /// Which session.
        session: SessionId,
        /// The assistant message it belongs to.
        message: MessageId,
        /// The new text.
        delta: String,
    },
    /// More of the model's reasoning for an assistant message (shown collapsed, apart from the
    /// answer).
    ThinkingDelta {
        /// Which session.
        session: SessionId,
        /// The assistant message it belongs to.
        message: MessageId,
        /// The new text.
        delta: String,
    },
    /// A tool call began (it may wait for approval next).
    ToolCallStarted {
        /// Which session (none for a direct `CallTool`).
        session: Option<SessionId>,
        /// The call.
        call: ToolCallId,
        /// The tool's name.
        tool: String,
        /// Its arguments as JSON text.
        arguments: String,
    },
    /// A tool call waits for the person; answer with `Command::Approve`.
    ApprovalRequested {
        /// Which session (none for a direct `CallTool`).
        session: Option<SessionId>,
        /// The call.
        call: ToolCallId,
        /// The tool's name.
        tool: String,
        /// What it can change.
        effect: Effect,
        /// Its arguments as JSON text.
        arguments: String,
        /// What it would change, when the tool can tell (a unified diff for file writes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preview: Option<String>,
        /// What the call acts on, when "always allow" can be limited to part of the tool: the
        /// suggested path prefix or domain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<ApprovalScope>,
    },
    /// Output a running tool produced so far.
    ToolOutputDelta {
        /// The call.
        call: ToolCallId,
        /// The new output.
        delta: String,
    },
    /// A tool call ended.
    ToolCallFinished {
        /// Which session (none for a direct `CallTool`).
        session: Option<SessionId>,
        /// The call.
        call: ToolCallId,
        /// How it ended.
        status: ToolStatus,
        /// The output or error, as the model sees it.
        output: String,
    },
    /// A tool's policy changed.
    ToolPolicyChanged {
        /// The tool.
        tool: String,
        /// Its policy now.
        policy: Policy,
    },
    /// Where the history search matched.
    SearchResults {
        /// What was searched for.
        query: String,
        /// Best first.
        hits: Vec<SearchHit>,
    },
    /// A job as it is now.
    JobUpdated {
        /// The job.
        job: crate::jobs::JobRecord,
    },
    /// A schedule was added.
    ScheduleAdded {
        /// It.
        schedule: crate::jobs::Schedule,
    },
    /// Every schedule.
    Schedules {
        /// All of them.
        schedules: Vec<crate::jobs::Schedule>,
    },
    /// A schedule was removed.
    ScheduleRemoved {
        /// Which.
        id: String,
    },
    /// The newest jobs.
    JobList {
        /// Newest first.
        jobs: Vec<crate::jobs::JobRecord>,
    },
    /// The long-term memories, newest first.
    Memories {
        /// All of them.
        memories: Vec<MemoryRecord>,
    },
    /// A memory was made or changed (by the person or the `remember` tool).
    MemoryUpdated {
        /// As it is now.
        memory: MemoryRecord,
    },
    /// A memory was deleted.
    MemoryDeleted {
        /// Which.
        id: MemoryId,
    },
    /// The MCP servers.
    McpServers {
        /// Each with its state.
        servers: Vec<McpServerInfo>,
    },
    /// The editable settings.
    Settings {
        /// As they are now.
        settings: Settings,
    },
    /// Settings were saved and are in effect.
    SettingsSaved {
        /// As they are now.
        settings: Settings,
    },
    /// A key is in the keychain.
    KeyStored {
        /// For which provider.
        provider: String,
    },
    /// The result of `TestProvider`.
    ProviderTested {
        /// Which provider.
        provider: String,
        /// Whether it answered.
        ok: bool,
        /// What was found, or what to do.
        detail: String,
    },
    /// The models a provider offers.
    ModelList {
        /// The provider's name.
        provider: String,
        /// By id.
        models: Vec<ModelInfo>,
    },
    /// Model servers found on this machine, ready to add as providers.
    LocalServers {
        /// One provider per server that answered, with its first model.
        found: Vec<ProviderConfig>,
    },
    /// A workspace folder's entries, folders first, then by name.
    FileList {
        /// The folder as asked.
        path: String,
        /// Its entries.
        entries: Vec<FileEntry>,
    },
    /// The tools the agent has.
    ToolList {
        /// The tools.
        tools: Vec<ToolInfo>,
    },
    /// Which sandbox runs code.
    SandboxStatus {
        /// The status.
        status: SandboxStatus,
    },
    /// A step of an image build.
    SandboxImageProgress {
        /// What happens now.
        message: String,
        /// How far the import is, 0–1, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fraction: Option<f32>,
    },
    /// The sandboxes the backend sees.
    SandboxList {
        /// The sandboxes.
        sandboxes: Vec<SandboxSummary>,
    },
    /// Sandboxes were removed.
    SandboxesRemoved {
        /// Their ids.
        ids: Vec<String>,
    },
    /// The installed local models.
    LocalModels {
        /// By name.
        models: Vec<LocalModelInfo>,
    },
    /// How far a model install is.
    LocalModelProgress {
        /// The source being fetched.
        source: String,
        /// Bytes so far.
        done: u64,
        /// All bytes, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
    },
    /// A local model was installed.
    LocalModelAdded {
        /// The model.
        model: LocalModelInfo,
    },
    /// A local model was removed.
    LocalModelRemoved {
        /// Its name.
        name: String,
    },
    /// The provider refused for now (rate limit, overload, server error, no connection) before
    /// answering; the turn asks again after `wait_secs`.
    ProviderRetrying {
        /// Which session.
        session: SessionId,
        /// Which retry this is (1 for the first).
        attempt: u32,
        /// Seconds until the next try (the server's `Retry-After` when it sent one).
        wait_secs: u64,
        /// What the provider said.
        reason: String,
    },
    /// The conversation was too long for the model's window, so the request was made shorter (old
    /// tool outputs, a summary of older turns); the stored conversation is unchanged.
    ContextCompacted {
        /// Which session.
        session: SessionId,
        /// What was done, for the person.
        detail: String,
    },
    /// The turn ended with a final answer.
    TurnFinished {
        /// Which session.
        session: SessionId,
        /// The last assistant message.
        message: MessageId,
        /// Tokens used over the whole turn, as reported.
        usage: Usage,
        /// Why the model stopped (`stop`; `length` when it hit its output limit).
        finish_reason: String,
    },
    /// The turn failed; what had streamed is kept.
    TurnFailed {
        /// Which session.
        session: SessionId,
        /// What went wrong and what to do.
        error: ErrorInfo,
    },
    /// The turn was stopped; what had streamed is kept and marked cancelled.
    TurnCancelled {
        /// Which session.
        session: SessionId,
    },
    /// Dictation, speech models, cues and reading aloud (see `VoiceEvent`).
    Voice(VoiceEvent),
    /// A command could not be carried out.
    CommandFailed {
        /// Which submission.
        submission: SubmissionId,
        /// Why.
        error: ErrorInfo,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_events_are_tagged_json() {
        let command = Command::SendMessage {
            session: SessionId::from("s1"),
            text: "hi".into(),
            attachments: vec![],
        };
        let json = serde_json::to_value(&command).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "send_message", "session": "s1", "text": "hi", "attachments": []})
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
        let command = Command::StoreKey {
            provider: "openai".into(),
            key: Secret::new("sk-very-secret-123"),
        };
        assert!(!format!("{command:?}").contains("sk-very"));
        assert!(!serde_json::to_string(&command).unwrap().contains("sk-very"));
        let back: Secret = serde_json::from_str("\"sk-in\"").unwrap();
        assert_eq!(back.expose(), "sk-in");
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = SessionId::new();
        let b = SessionId::new();
        assert!(a < b, "{a} should sort before {b}");
    }
}
