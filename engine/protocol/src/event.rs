//! `Event`: everything the engine tells front ends — answers to commands, a turn's stream, tool
//! calls and approvals, jobs, voice — and `CommandFailed` for a submission that could not be
//! carried out.

use serde::{Deserialize, Serialize};

use crate::config::ProviderConfig;
use crate::{
    ApprovalScope, CatalogModel, Effect, ErrorInfo, FileEntry, FinishReason, LocalModelInfo,
    McpServerInfo, MemoryId, MemoryRecord, MessageId, MessageRecord, ModelInfo, Policy,
    SandboxStatus, SandboxSummary, SearchHit, SessionId, SessionSummary, Settings, SubmissionId,
    ToolCallId, ToolCallRecord, ToolInfo, ToolKind, ToolStatus, Usage, VoiceEvent,
};

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
        /// What the person wrote, for front ends that did not send it (another client's turn,
        /// a job's).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
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
        /// Its family (none when the model named no tool there is).
        kind: Option<ToolKind>,
        /// Its arguments as JSON text.
        arguments: String,
    },
    /// A tool call waits for the person; answer with `Command::Turn(TurnCommand::Approve)`.
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
        /// Images it produced, kept by name in the data folder (as `ToolCallRecord::images`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<std::path::PathBuf>,
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
    /// A schedule was paused or resumed.
    ScheduleChanged {
        /// The schedule as it is now.
        schedule: crate::jobs::Schedule,
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
        /// The one that answers when no provider is configured (none when none is installed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// The built-in catalogue of small models.
    ModelCatalog {
        /// Smallest first.
        models: Vec<CatalogModel>,
    },
    /// An install was asked to stop: it fails with `Cancelled` and keeps nothing, unless it had
    /// already finished.
    LocalModelCancelled {
        /// The name it would have had.
        name: String,
    },
    /// How far a model install is.
    LocalModelProgress {
        /// The source being fetched.
        source: String,
        /// The name it installs as (what `CancelAdd` takes).
        #[serde(default)]
        name: String,
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
        /// Why the model stopped (`Length` when it hit its output limit).
        finish_reason: FinishReason,
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
    /// This front end fell behind the engine it is connected to and `missed` events were dropped
    /// for it (the others were not held back): what it shows may be stale, so it reloads.
    Lagged {
        /// How many events it did not get.
        missed: u64,
    },
    /// The connection to the process hosting the engine ended: no further event comes. `reason`
    /// says why and what to do; a turn streaming at that moment is recovered by the next host.
    HostLost {
        /// Why, in a sentence.
        reason: String,
    },
    /// Where each service Aetheria signs in to stands (after a sign-in, a token stored, a
    /// sign-out, or when asked).
    Accounts {
        /// GitHub, Google Drive and Vercel, in that order.
        accounts: Vec<crate::Account>,
    },
    /// Where a conversation's browser stands (after each action in it, a take-over, a hand-back,
    /// and when watching starts).
    BrowserState {
        /// The conversation (none: the browser of direct tool calls).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// Where it stands.
        view: crate::BrowserView,
    },
    /// A frame of a watched browser's page: a JPEG as base64, at most 1280×800.
    BrowserFrame {
        /// The conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The JPEG, base64.
        jpeg: String,
    },
    /// A sign-in waits for the person: the code to enter or the page to open.
    SignInStarted {
        /// Which service.
        service: crate::AccountService,
        /// What to do.
        step: crate::SignInStep,
    },
    /// A command could not be carried out.
    CommandFailed {
        /// Which submission.
        submission: SubmissionId,
        /// Why.
        error: ErrorInfo,
    },
}

impl Event {
    /// Whether a front end shows this event when another front end's submission caused it: what
    /// changed for everyone (a session made or renamed, a turn's stream, a job's progress, a
    /// setting saved), not what answered a question only the asker shows (a list, a loaded
    /// session, a failure, a form's contents) nor an approval the asker answers.
    #[must_use]
    pub fn concerns_everyone(&self) -> bool {
        matches!(
            self,
            Self::SessionCreated { .. }
                | Self::SessionUpdated { .. }
                | Self::SessionDeleted { .. }
                | Self::TurnStarted { .. }
                | Self::TextDelta { .. }
                | Self::ThinkingDelta { .. }
                | Self::ToolCallStarted { .. }
                | Self::ToolOutputDelta { .. }
                | Self::ToolCallFinished { .. }
                | Self::ToolPolicyChanged { .. }
                | Self::JobUpdated { .. }
                | Self::ScheduleAdded { .. }
                | Self::ScheduleChanged { .. }
                | Self::ScheduleRemoved { .. }
                | Self::MemoryUpdated { .. }
                | Self::MemoryDeleted { .. }
                | Self::SettingsSaved { .. }
                | Self::KeyStored { .. }
                | Self::Accounts { .. }
                | Self::BrowserState { .. }
                | Self::BrowserFrame { .. }
                | Self::LocalModelAdded { .. }
                | Self::LocalModelRemoved { .. }
                | Self::ProviderRetrying { .. }
                | Self::ContextCompacted { .. }
                | Self::TurnFinished { .. }
                | Self::TurnFailed { .. }
                | Self::TurnCancelled { .. }
                | Self::Lagged { .. }
                | Self::HostLost { .. }
        )
    }
}
