//! `Command`: everything a front end can ask of the engine, grouped by domain (sessions, the turn,
//! tools, jobs, memory, settings, models, the sandbox, voice, accounts, the browser); each variant names the events that
//! answer it. On the wire a command is one flat object: `{"type": "session", "op": "create", …}`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::ProviderConfig;
use crate::{
    AccountsCommand, BrowserCommand, Decision, JobId, MemoryId, Policy, Secret, SessionId,
    Settings, ToolCallId, VoiceCommand,
};

/// What a front end asks of the engine, by domain. Every answer carries the submission's number
/// (`Envelope::submission`); a command that cannot be carried out is answered by
/// `Event::CommandFailed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Conversations: create, list, load, rename, delete, search.
    Session(SessionCommand),
    /// The agent's turn: send a message, stop it, answer its approvals.
    Turn(TurnCommand),
    /// Tools and MCP servers, their policies, and calling one directly.
    Tools(ToolsCommand),
    /// Background jobs and schedules.
    Jobs(JobsCommand),
    /// Long-term memories.
    Memory(MemoryCommand),
    /// The editable settings and the keychain.
    Settings(SettingsCommand),
    /// Providers' models and the local models.
    Models(ModelsCommand),
    /// The sandbox that runs code.
    Sandbox(SandboxCommand),
    /// Dictation, speech models, cues and reading aloud.
    Voice(VoiceCommand),
    /// Signing in to GitHub, Google Drive and Vercel.
    Accounts(AccountsCommand),
    /// Watching the agent's browser, and the person taking it over.
    Browser(BrowserCommand),
    /// Stop the engine: running turns are cancelled, sandboxes removed, then the event stream ends.
    Shutdown,
}

/// Conversations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SessionCommand {
    /// Create an empty conversation with an id chosen by the caller (so it can match the answer).
    /// Answered by `SessionCreated`, or `CommandFailed`.
    Create {
        /// The id the new session will have.
        session: SessionId,
        /// A title; when absent the session is titled after its first exchange.
        title: Option<String>,
    },
    /// List sessions, newest first. Answered by `SessionList`.
    List,
    /// Load one session's messages and tool calls. Answered by `SessionLoaded`, or `CommandFailed`.
    Load {
        /// Which session.
        session: SessionId,
    },
    /// Rename a session. Answered by `SessionUpdated`, or `CommandFailed`.
    Rename {
        /// Which session.
        session: SessionId,
        /// The new title (trimmed; must not be empty).
        title: String,
    },
    /// Delete a session with its messages and tool calls; a running turn is cancelled first.
    /// Answered by `SessionDeleted`, or `CommandFailed`.
    Delete {
        /// Which session.
        session: SessionId,
    },
    /// Search every message and tool result (BM25, best first). Answered by `SearchResults`.
    Search {
        /// Words to look for.
        query: String,
        /// Most hits (default 20).
        #[serde(default)]
        limit: Option<usize>,
    },
}

/// The agent's turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TurnCommand {
    /// Send a user message and run an agent turn. Answered by `SessionCreated` first when
    /// `create` is set, then `TurnStarted`, `TextDelta`*, `ToolCallStarted`,
    /// `ApprovalRequested`?, `ToolCallFinished` (per tool call), and exactly one of
    /// `TurnFinished`, `TurnFailed` or `TurnCancelled`; `SessionUpdated` when the session gets its
    /// automatic title. `CommandFailed` if the session does not exist (and `create` is not set)
    /// or already runs a turn.
    Send {
        /// Which session.
        session: SessionId,
        /// What the person wrote.
        text: String,
        /// Files the person attached (paths on the host): text files are added to the message;
        /// PNG, JPEG, GIF and WebP images go to models that take them (a clear refusal otherwise).
        #[serde(default)]
        attachments: Vec<PathBuf>,
        /// Create the session first when it does not exist (no separate round trip).
        #[serde(default)]
        create: bool,
        /// Tools this turn may use without asking (`all` for every tool), as `aetheria ask
        /// --allow` grants them; a tool turned off in the settings stays off.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allow: Vec<String>,
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
}

/// Tools and MCP servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ToolsCommand {
    /// List the tools the agent has (starting MCP servers not yet running, so theirs are listed).
    /// Answered by `ToolList`.
    List,
    /// Set a tool's approval policy, remembered across restarts. Answered by `ToolPolicyChanged`.
    SetPolicy {
        /// The tool's name.
        tool: String,
        /// The new policy.
        policy: Policy,
    },
    /// List the MCP servers with their state and tools (starting those not yet running).
    /// Answered by `McpServers`.
    ListMcpServers,
    /// Stop an MCP server and start it again (its tools are listed anew). Answered by
    /// `McpServers`, or `CommandFailed` (`Missing` for an unknown name, `Conflict` for one that is
    /// off).
    RestartMcpServer {
        /// Its name.
        name: String,
    },
    /// Run one tool directly, with its policy applied (approval is asked as for the model).
    /// Answered by `ToolCallStarted`, `ApprovalRequested`?, `ToolCallFinished`.
    Call {
        /// The id the call will have.
        call: ToolCallId,
        /// The tool's name.
        tool: String,
        /// Its arguments as JSON.
        arguments: serde_json::Value,
    },
    /// List a folder of the workspace (the Files panel), confined like the file tools.
    /// Answered by `FileList`, or `CommandFailed`.
    ListFiles {
        /// The folder, relative to the workspace ("" for its top).
        path: String,
    },
}

/// Background jobs and schedules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JobsCommand {
    /// Queue a background job. Answered by `JobUpdated`, or `CommandFailed`.
    Submit {
        /// The job.
        job: crate::jobs::JobSpec,
    },
    /// The newest jobs. Answered by `JobList`, or `CommandFailed`.
    List {
        /// Most jobs (default 50).
        #[serde(default)]
        limit: Option<usize>,
    },
    /// One job. Answered by `JobUpdated`, or `CommandFailed`.
    Get {
        /// Which.
        id: JobId,
    },
    /// Cancel a queued or running job. Answered by `JobUpdated`, or `CommandFailed`.
    Cancel {
        /// Which.
        id: JobId,
    },
    /// Run a prompt on a cron schedule (5 fields, or 6 with seconds), read in a time zone.
    /// Answered by `ScheduleAdded`, or `CommandFailed`.
    AddSchedule {
        /// When.
        cron: String,
        /// The IANA time zone the times are in (`Europe/Paris`); none: UTC.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
        /// The prompt.
        text: String,
        /// Tools its runs may use without asking.
        #[serde(default)]
        allow: Vec<String>,
    },
    /// The schedules. Answered by `Schedules`, or `CommandFailed`.
    ListSchedules,
    /// Pause a schedule (no run until resumed) or resume it (occurrences missed meanwhile do not
    /// run). Answered by `ScheduleChanged`, or `CommandFailed`.
    PauseSchedule {
        /// Which.
        id: String,
        /// Pause (`true`) or resume.
        paused: bool,
    },
    /// Stop a schedule. Answered by `ScheduleRemoved`, or `CommandFailed`.
    RemoveSchedule {
        /// Which.
        id: String,
    },
}

/// Long-term memories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MemoryCommand {
    /// List the long-term memories, newest first. Answered by `Memories`.
    List,
    /// Change a memory's text and tags. Answered by `MemoryUpdated`, or `CommandFailed`.
    Update {
        /// Which.
        id: MemoryId,
        /// The new fact.
        text: String,
        /// Its tags.
        #[serde(default)]
        tags: Vec<String>,
    },
    /// Delete a memory. Answered by `MemoryDeleted`, or `CommandFailed`.
    Delete {
        /// Which.
        id: MemoryId,
    },
}

/// The editable settings and the keychain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SettingsCommand {
    /// Read the editable settings. Answered by `Settings`.
    Get,
    /// Validate, save to `config.toml` and apply at once (providers, workspace folders, policies).
    /// Answered by `SettingsSaved`, or `CommandFailed` saying what is wrong (nothing is changed).
    Save {
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
}

/// Providers' models and the local models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ModelsCommand {
    /// List the models a provider offers (`GET /models`, every page; the installed models for the
    /// local wire), with their capabilities. Answered by `ModelList`, or `CommandFailed`.
    List {
        /// The provider as edited (it need not be saved yet).
        provider: ProviderConfig,
    },
    /// Look for model servers on their usual local ports (Ollama 11434, LM Studio 1234, llama.cpp
    /// 8080). Answered by `LocalServers`.
    DetectLocalServers,
    /// List the installed local models. Answered by `LocalModels`, or `CommandFailed`.
    ListLocal,
    /// Install a local GGUF model from a file path or an `http(s)` URL. Answered by
    /// `LocalModelProgress`*, then `LocalModelAdded` and `LocalModels` (which one answers offline
    /// may have changed), or `CommandFailed` (nothing is kept).
    AddLocal {
        /// A file path or URL.
        source: String,
        /// The name to install it as (default: from the file name).
        #[serde(default)]
        name: Option<String>,
        /// The expected sha256 of the file, hex.
        #[serde(default)]
        sha256: Option<String>,
    },
    /// Remove an installed local model. Answered by `LocalModelRemoved` and `LocalModels`, or
    /// `CommandFailed`.
    RemoveLocal {
        /// Its name.
        name: String,
    },
    /// The built-in catalogue of small models. Answered by `ModelCatalog`.
    Catalog,
    /// Install a catalogue model by name: downloaded from the catalogue's URL (or the mirror
    /// `local.mirror` or `$AETHERIA_MODELS_URL` names) and always checked against the
    /// catalogue's sha256. Answered as `AddLocal` is.
    InstallCatalog {
        /// Its catalogue name.
        name: String,
    },
    /// Stop an install under way (`AddLocal` or `InstallCatalog`) by the name it installs as; its
    /// partial file is removed and it fails with `Cancelled`. Answered by `LocalModelCancelled`,
    /// or `CommandFailed` (`Missing`) when no such install runs.
    CancelAdd {
        /// The name it installs as.
        name: String,
    },
    /// Make an installed model the offline default (saved as `local.default_model`); `None`
    /// goes back to the first installed. Answered by `LocalModels`, or `CommandFailed`.
    SetDefault {
        /// Its name.
        #[serde(default)]
        name: Option<String>,
    },
}

/// The sandbox that runs code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SandboxCommand {
    /// Say which sandbox runs code and whether its image is ready. Answered by `SandboxStatus`.
    Status,
    /// Build the sandbox image with no registry (debootstrap, then import through the Docker
    /// Engine API; the root filesystem alone for bubblewrap). Needs root and a Debian mirror the
    /// first time. Answered by `SandboxImageProgress`*, then `SandboxStatus`, or `CommandFailed`.
    BuildImage,
    /// List every Aetheria sandbox the backend sees. Answered by `SandboxList`, or `CommandFailed`.
    List,
    /// Remove sandboxes by id (or id prefix); all of them when `ids` is empty. Answered by
    /// `SandboxesRemoved`, or `CommandFailed`.
    Remove {
        /// Which.
        #[serde(default)]
        ids: Vec<String>,
    },
}
