//! The conversation every front end shows, as one reducer: `Conversation::apply` takes the
//! engine's events and says what changed (`Change`), `from_history` rebuilds a stored session. It
//! owns the entry kinds, a tool call's status and a pending approval, so the window keeps only view
//! state per entry (parsed markdown, what is folded) and `aetheria ask` prints from the same
//! changes.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::{
    ApprovalScope, Effect, Event, MessageId, MessageRecord, MessageStatus, Role, SessionId,
    ToolCallId, ToolCallRecord, ToolKind, ToolStatus, Usage,
};

/// Bytes of a tool's live output kept per call (the end of it).
pub const LIVE_KEPT: usize = 64 * 1024;

/// One entry of the conversation, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// What the person wrote.
    User {
        /// Its stored id, once the engine said it is stored.
        id: Option<MessageId>,
        /// The text.
        text: String,
        /// The names of the files attached (an image without a name is "an image").
        attachments: Vec<String>,
        /// The images attached: as the stored message names the engine's kept copies, or the
        /// files the person picked while it is not stored yet (a front end reads a stored one
        /// only through the engine's `images::stored`, never the path a record names).
        images: Vec<PathBuf>,
    },
    /// The model's reasoning before an answer.
    Thinking {
        /// The assistant message it belongs to.
        id: MessageId,
        /// The reasoning so far.
        text: String,
    },
    /// What the model answered.
    Answer {
        /// Its stored id.
        id: MessageId,
        /// The answer so far.
        text: String,
        /// Whether it is still coming, and how it ended.
        state: AnswerState,
        /// What the turn it ended took (on a turn's last answer, once it finished).
        usage: Option<Usage>,
    },
    /// A tool call.
    Tool(ToolEntry),
    /// Older turns were summarised (or old tool outputs shrunk) to fit the model's window.
    Compacted {
        /// What was done.
        detail: String,
    },
    /// A turn that failed, with why.
    Failed {
        /// The reason, as the engine gave it.
        message: String,
    },
    /// A turn stopped before it answered anything.
    Stopped,
}

/// Where an answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerState {
    /// Still streaming.
    Streaming,
    /// Complete.
    Complete,
    /// The person stopped it; the text is what came before.
    Stopped,
    /// The turn failed while it streamed; the text is what came before.
    Incomplete,
}

/// A tool call as the conversation shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolEntry {
    /// The call.
    pub call: ToolCallId,
    /// The tool's name.
    pub tool: String,
    /// Its family (none when the model named no tool there is).
    pub kind: Option<ToolKind>,
    /// Its arguments as JSON text.
    pub arguments: String,
    /// Where it stands.
    pub status: ToolStatus,
    /// Its output once finished, as the model saw it.
    pub output: String,
    /// What it printed while it ran, the last `LIVE_KEPT` bytes.
    pub live: String,
    /// What the person is asked, while the call waits for approval.
    pub approval: Option<Approval>,
    /// Images it produced, by the names the data folder keeps them under.
    pub images: Vec<std::path::PathBuf>,
}

/// What a call waiting for approval can change, for the person to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// What the tool can change.
    pub effect: Effect,
    /// What it would change, when the tool can tell (a unified diff for file writes).
    pub preview: Option<String>,
    /// The part of the tool "always allow" can be limited to.
    pub scope: Option<ApprovalScope>,
}

/// What an event changed, for a front end to update its view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Every entry is new (a session was loaded).
    Reset,
    /// An entry was added at this index.
    Added(usize),
    /// The entry at this index changed.
    Updated(usize),
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEnding {
    /// The answer is complete.
    Finished,
    /// The person stopped it.
    Stopped,
    /// It failed, for this reason.
    Failed(String),
}

/// One conversation: its entries, kept up to date by the engine's events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// The session it follows; events of other sessions change nothing (none: not created yet,
    /// and only events of no session, such as a tool the person called directly, apply).
    pub session: Option<SessionId>,
    entries: Vec<Entry>,
    /// Where each stored message and tool call is (by id), so a search hit can be shown.
    anchors: HashMap<String, usize>,
    /// A turn runs.
    running: bool,
}

/// The last `max` bytes of `text`, cut at a character boundary.
#[must_use]
pub fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

impl Conversation {
    /// An empty conversation following `session`.
    #[must_use]
    pub fn new(session: Option<SessionId>) -> Self {
        Self {
            session,
            ..Self::default()
        }
    }

    /// A stored conversation: each answer is followed by its tool calls.
    #[must_use]
    pub fn from_history(
        session: SessionId,
        messages: &[MessageRecord],
        calls: &[ToolCallRecord],
    ) -> Self {
        let mut this = Self::new(Some(session));
        for m in messages {
            this.anchors.insert(m.id.to_string(), this.entries.len());
            match m.role {
                Role::User => {
                    let attachments = m
                        .attachments
                        .iter()
                        .map(|a| a.name.clone())
                        .chain(m.images.iter().map(|_| "an image".to_owned()))
                        .collect();
                    this.entries.push(Entry::User {
                        id: Some(m.id.clone()),
                        text: m.content.clone(),
                        attachments,
                        images: m.images.clone(),
                    });
                }
                Role::Assistant => {
                    if !m.thinking.is_empty() {
                        this.entries.push(Entry::Thinking {
                            id: m.id.clone(),
                            text: m.thinking.clone(),
                        });
                    }
                    if !m.content.is_empty() {
                        let state = match m.status {
                            MessageStatus::Cancelled => AnswerState::Stopped,
                            MessageStatus::Failed => AnswerState::Incomplete,
                            MessageStatus::Streaming | MessageStatus::Complete => {
                                AnswerState::Complete
                            }
                        };
                        this.entries.push(Entry::Answer {
                            id: m.id.clone(),
                            text: m.content.clone(),
                            state,
                            usage: m.usage,
                        });
                    }
                    for c in calls.iter().filter(|c| c.message.as_ref() == Some(&m.id)) {
                        this.anchors.insert(c.id.to_string(), this.entries.len());
                        this.entries.push(Entry::Tool(ToolEntry {
                            call: c.id.clone(),
                            tool: c.tool.clone(),
                            kind: c.kind,
                            arguments: c.arguments.clone(),
                            status: c.status,
                            output: c.output.clone(),
                            live: tail(&c.log, LIVE_KEPT).to_owned(),
                            approval: None,
                            images: c.images.clone(),
                        }));
                    }
                }
            }
        }
        this
    }

    /// The entries, oldest first.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// What every turn shown took, added up (the cost only when every turn's is known).
    #[must_use]
    pub fn total_usage(&self) -> Option<Usage> {
        self.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Answer { usage, .. } => *usage,
                _ => None,
            })
            .reduce(Usage::plus)
    }

    /// The entry of a stored message or tool call (by id).
    #[must_use]
    pub fn anchor(&self, id: &str) -> Option<usize> {
        self.anchors.get(id).copied()
    }

    /// Whether a turn runs.
    #[must_use]
    pub fn running(&self) -> bool {
        self.running
    }

    /// The text of the last answer.
    #[must_use]
    pub fn last_answer(&self) -> Option<&str> {
        self.entries.iter().rev().find_map(|e| match e {
            Entry::Answer { text, .. } => Some(text.as_str()),
            _ => None,
        })
    }

    /// The person sent a message (shown before the engine stored it), with the images they
    /// picked.
    pub fn push_user(
        &mut self,
        text: &str,
        attachments: Vec<String>,
        images: Vec<PathBuf>,
    ) -> Change {
        self.running = true;
        self.push(Entry::User {
            id: None,
            text: text.to_owned(),
            attachments,
            images,
        })
    }

    /// The person approved a waiting call: it runs now (before the engine says it ended).
    pub fn approved(&mut self, call: &ToolCallId) -> Option<Change> {
        let ix = self.tool_index(call)?;
        let Entry::Tool(tool) = &mut self.entries[ix] else {
            return None;
        };
        if tool.status != ToolStatus::AwaitingApproval {
            return None;
        }
        tool.status = ToolStatus::Running;
        tool.approval = None;
        Some(Change::Updated(ix))
    }

    /// Applies one event of the engine; what changed (nothing for events of other sessions, or
    /// that the conversation does not show).
    pub fn apply(&mut self, event: &Event) -> Vec<Change> {
        if let Some(session) = event_session(event)
            && self.session.as_ref() != Some(session)
        {
            return Vec::new();
        }
        match event {
            Event::SessionLoaded {
                session,
                messages,
                tool_calls,
            } => {
                *self = Self::from_history(session.id.clone(), messages, tool_calls);
                vec![Change::Reset]
            }
            Event::TurnStarted {
                user_message, text, ..
            } => {
                self.running = true;
                if self.anchors.contains_key(user_message.as_str()) {
                    // Loaded already (a session opened while its turn runs).
                    return Vec::new();
                }
                let ix = self
                    .entries
                    .iter()
                    .rposition(|e| matches!(e, Entry::User { id: None, .. }));
                match ix {
                    Some(ix) => {
                        if let Entry::User { id, .. } = &mut self.entries[ix] {
                            *id = Some(user_message.clone());
                        }
                        self.anchors.insert(user_message.to_string(), ix);
                        vec![Change::Updated(ix)]
                    }
                    // Sent by another front end (or a job): shown as it was stored.
                    None => {
                        self.anchors
                            .insert(user_message.to_string(), self.entries.len());
                        vec![self.push(Entry::User {
                            id: Some(user_message.clone()),
                            text: text.clone(),
                            attachments: Vec::new(),
                            images: Vec::new(),
                        })]
                    }
                }
            }
            Event::TextDelta { message, delta, .. } => vec![self.answer_delta(message, delta)],
            Event::ThinkingDelta { message, delta, .. } => {
                if let Some(Entry::Thinking { id, text }) = self.entries.last_mut()
                    && id == message
                {
                    text.push_str(delta);
                    return vec![Change::Updated(self.entries.len() - 1)];
                }
                vec![self.push(Entry::Thinking {
                    id: message.clone(),
                    text: delta.clone(),
                })]
            }
            Event::ToolCallStarted {
                call,
                tool,
                kind,
                arguments,
                ..
            } => {
                let mut changes: Vec<Change> = self.complete_answer(AnswerState::Complete);
                self.anchors.insert(call.to_string(), self.entries.len());
                changes.push(self.push(Entry::Tool(ToolEntry {
                    call: call.clone(),
                    tool: tool.clone(),
                    kind: *kind,
                    arguments: arguments.clone(),
                    status: ToolStatus::Running,
                    output: String::new(),
                    live: String::new(),
                    approval: None,
                    images: Vec::new(),
                })));
                changes
            }
            Event::ApprovalRequested {
                call,
                effect,
                preview,
                scope,
                ..
            } => self.update_tool(call, |t| {
                t.status = ToolStatus::AwaitingApproval;
                t.approval = Some(Approval {
                    effect: *effect,
                    preview: preview.clone(),
                    scope: scope.clone(),
                });
            }),
            Event::ToolOutputDelta { call, delta } => self.update_tool(call, |t| {
                t.live.push_str(delta);
                if t.live.len() > LIVE_KEPT + LIVE_KEPT / 4 {
                    t.live = tail(&t.live, LIVE_KEPT).to_owned();
                }
            }),
            Event::ToolCallFinished {
                call,
                status,
                output,
                images,
                ..
            } => self.update_tool(call, |t| {
                t.status = *status;
                t.output.clone_from(output);
                t.images.clone_from(images);
                t.approval = None;
            }),
            Event::ContextCompacted { detail, .. } => vec![self.push(Entry::Compacted {
                detail: detail.clone(),
            })],
            Event::TurnFinished { message, usage, .. } => {
                let mut changes = self.end_turn(TurnEnding::Finished);
                let ix = self
                    .entries
                    .iter()
                    .rposition(|e| matches!(e, Entry::Answer { id, .. } if id == message));
                if let Some(ix) = ix
                    && let Entry::Answer { usage: kept, .. } = &mut self.entries[ix]
                {
                    *kept = Some(*usage);
                    if !changes.contains(&Change::Updated(ix)) {
                        changes.push(Change::Updated(ix));
                    }
                }
                changes
            }
            Event::TurnFailed { error, .. } => {
                self.end_turn(TurnEnding::Failed(error.message.clone()))
            }
            Event::TurnCancelled { .. } => self.end_turn(TurnEnding::Stopped),
            _ => Vec::new(),
        }
    }

    fn push(&mut self, entry: Entry) -> Change {
        self.entries.push(entry);
        Change::Added(self.entries.len() - 1)
    }

    fn answer_delta(&mut self, message: &MessageId, delta: &str) -> Change {
        if let Some(Entry::Answer { id, text, .. }) = self.entries.last_mut()
            && id == message
        {
            text.push_str(delta);
            return Change::Updated(self.entries.len() - 1);
        }
        self.anchors.insert(message.to_string(), self.entries.len());
        self.push(Entry::Answer {
            id: message.clone(),
            text: delta.to_owned(),
            state: AnswerState::Streaming,
            usage: None,
        })
    }

    /// Ends a still-streaming last answer in `state`.
    fn complete_answer(&mut self, state: AnswerState) -> Vec<Change> {
        let last = self.entries.len().saturating_sub(1);
        match self.entries.last_mut() {
            Some(Entry::Answer { state: now, .. }) if *now == AnswerState::Streaming => {
                *now = state;
                vec![Change::Updated(last)]
            }
            _ => Vec::new(),
        }
    }

    fn end_turn(&mut self, ending: TurnEnding) -> Vec<Change> {
        self.running = false;
        let state = match &ending {
            TurnEnding::Finished => AnswerState::Complete,
            TurnEnding::Stopped => AnswerState::Stopped,
            TurnEnding::Failed(_) => AnswerState::Incomplete,
        };
        let mut changes = self.complete_answer(state);
        match ending {
            // A stopped answer says so itself; a turn stopped before any text says it here.
            TurnEnding::Stopped if changes.is_empty() => changes.push(self.push(Entry::Stopped)),
            TurnEnding::Failed(message) => changes.push(self.push(Entry::Failed { message })),
            TurnEnding::Finished | TurnEnding::Stopped => {}
        }
        changes
    }

    fn tool_index(&self, call: &ToolCallId) -> Option<usize> {
        self.entries
            .iter()
            .rposition(|e| matches!(e, Entry::Tool(t) if &t.call == call))
    }

    fn update_tool(
        &mut self,
        call: &ToolCallId,
        change: impl FnOnce(&mut ToolEntry),
    ) -> Vec<Change> {
        let Some(ix) = self.tool_index(call) else {
            return Vec::new();
        };
        if let Entry::Tool(tool) = &mut self.entries[ix] {
            change(tool);
        }
        vec![Change::Updated(ix)]
    }
}

/// The session an event belongs to, if it names one.
fn event_session(event: &Event) -> Option<&SessionId> {
    match event {
        Event::SessionLoaded { session, .. } => Some(&session.id),
        Event::TurnStarted { session, .. }
        | Event::TextDelta { session, .. }
        | Event::ThinkingDelta { session, .. }
        | Event::ContextCompacted { session, .. }
        | Event::TurnFinished { session, .. }
        | Event::TurnFailed { session, .. }
        | Event::TurnCancelled { session } => Some(session),
        Event::ToolCallStarted { session, .. }
        | Event::ApprovalRequested { session, .. }
        | Event::ToolCallFinished { session, .. } => session.as_ref(),
        _ => None,
    }
}
