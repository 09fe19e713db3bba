//! The open conversation as the window shows it: messages, tool-call cards and turn errors. A
//! streaming answer is a `markdown::Stream`: deltas are appended as they come and parsed once per
//! batch of events (a frame), re-parsing only the open tail block.

use crate::markdown::Stream;
use aetheria_engine::api::{
    MessageId, MessageRecord, MessageStatus, Role, ToolCallId, ToolCallRecord, ToolKind, ToolStatus,
};

/// One entry of the conversation.
#[derive(Debug, Clone)]
pub enum Entry {
    /// What the person wrote.
    User(String),
    /// What the model answered.
    Assistant {
        /// Its stored id.
        id: MessageId,
        /// The answer, parsed as it grows.
        markdown: Stream,
        /// Still streaming.
        streaming: bool,
        /// A note such as "stopped".
        note: Option<String>,
    },
    /// A tool call.
    Tool {
        /// The call.
        call: ToolCallId,
        /// The tool's name.
        tool: String,
        /// Its family (code runs also show on the Sandbox tab).
        kind: Option<ToolKind>,
        /// Its arguments as JSON text.
        arguments: String,
        /// Where it stands.
        status: ToolStatus,
        /// Its output once finished, as the model saw it.
        output: String,
        /// What it printed while it ran (sandbox runs), the last `LIVE_KEPT` bytes.
        live: String,
        /// Shown in full (arguments and output) rather than as one line.
        expanded: bool,
        /// When the window saw it start, to show how long it took.
        started: Option<std::time::Instant>,
        /// How long it ran, once finished (only for calls seen live).
        took: Option<std::time::Duration>,
    },
    /// The model's reasoning before an answer, collapsed unless the person opens it.
    Thinking {
        /// The assistant message it belongs to.
        id: MessageId,
        /// The reasoning text.
        text: String,
        /// Shown in full.
        expanded: bool,
    },
    /// A turn that failed.
    Error(String),
}

/// Bytes of a tool's live output the window keeps per call.
pub const LIVE_KEPT: usize = 64 * 1024;

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

/// How a turn ended, as the transcript shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEnding {
    /// The answer is complete.
    Finished,
    /// The person stopped it.
    Stopped,
    /// It failed, for this reason.
    Failed(String),
}

/// The conversation.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// Entries, oldest first.
    pub entries: Vec<Entry>,
    /// Where each stored message and tool call of a loaded session is (by id), so a search hit can
    /// be shown.
    pub anchors: std::collections::HashMap<String, usize>,
}

/// The person's message as shown: the text, then one line per attached file.
#[must_use]
pub fn with_attachment_names(text: &str, attachments: &[std::path::PathBuf]) -> String {
    let mut shown = text.to_owned();
    for path in attachments {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        if !shown.is_empty() {
            shown.push('\n');
        }
        shown.push_str(&format!("[attached: {name}]"));
    }
    shown
}

/// A stored user message holds the attached files' text; show their names instead.
fn fold_attachments(content: &str) -> String {
    let mut shown = String::new();
    let mut rest = content;
    while let Some(start) = rest.find("<attachment name=\"") {
        shown.push_str(rest[..start].trim_end());
        let after = &rest[start + "<attachment name=\"".len()..];
        let name = after.split('"').next().unwrap_or("file");
        if !shown.is_empty() {
            shown.push('\n');
        }
        shown.push_str(&format!("[attached: {name}]"));
        match after.find("</attachment>") {
            Some(end) => rest = &after[end + "</attachment>".len()..],
            None => {
                rest = "";
            }
        }
    }
    shown.push_str(rest);
    shown
}

impl Transcript {
    /// Rebuilds a stored conversation: each assistant message is followed by its tool calls.
    pub fn from_history(messages: &[MessageRecord], calls: &[ToolCallRecord]) -> Self {
        let mut entries = Vec::new();
        let mut anchors = std::collections::HashMap::new();
        for m in messages {
            match m.role {
                Role::User => {
                    let mut shown = fold_attachments(&m.content);
                    for _ in &m.images {
                        shown.push_str("\n[attached: an image]");
                    }
                    anchors.insert(m.id.to_string(), entries.len());
                    entries.push(Entry::User(shown));
                }
                Role::Assistant => {
                    anchors.insert(m.id.to_string(), entries.len());
                    if !m.thinking.is_empty() {
                        entries.push(Entry::Thinking {
                            id: m.id.clone(),
                            text: m.thinking.clone(),
                            expanded: false,
                        });
                    }
                    if !m.content.is_empty() {
                        let note = match m.status {
                            MessageStatus::Cancelled => Some("stopped".to_owned()),
                            MessageStatus::Failed => Some("incomplete".to_owned()),
                            MessageStatus::Streaming | MessageStatus::Complete => None,
                        };
                        entries.push(Entry::Assistant {
                            id: m.id.clone(),
                            markdown: Stream::complete(&m.content),
                            streaming: false,
                            note,
                        });
                    }
                    for c in calls.iter().filter(|c| c.message.as_ref() == Some(&m.id)) {
                        anchors.insert(c.id.to_string(), entries.len());
                        entries.push(Entry::Tool {
                            call: c.id.clone(),
                            tool: c.tool.clone(),
                            kind: c.kind,
                            arguments: c.arguments.clone(),
                            status: c.status,
                            output: c.output.clone(),
                            live: tail(&c.log, LIVE_KEPT).to_owned(),
                            expanded: false,
                            started: None,
                            took: None,
                        });
                    }
                }
            }
        }
        Self { entries, anchors }
    }

    /// Where entry `index` starts, as the share of the scrollable range measured from the bottom
    /// (the conversation is anchored there): entry heights are estimated from their text, which is
    /// close enough to bring it into view.
    #[must_use]
    pub fn offset_from_bottom(&self, index: usize) -> f32 {
        #[allow(clippy::cast_precision_loss)]
        let height = |entry: &Entry| -> f32 {
            let lines = |text: &str| {
                text.lines()
                    .map(|l| l.chars().count().div_ceil(80).max(1))
                    .sum::<usize>() as f32
            };
            match entry {
                Entry::User(text) => 56.0 + 24.0 * lines(text),
                Entry::Assistant { markdown, .. } => 56.0 + 24.0 * lines(markdown.text()),
                _ => 90.0,
            }
        };
        let above: f32 = self.entries.iter().take(index).map(&height).sum();
        let total: f32 = self.entries.iter().map(&height).sum();
        // About one window of the conversation is in view at once.
        let range = (total - 500.0).max(1.0);
        1.0 - (above / range).clamp(0.0, 1.0)
    }

    /// Adds the person's message.
    pub fn push_user(&mut self, text: &str) {
        self.entries.push(Entry::User(text.to_owned()));
    }

    /// Appends streamed text to its message, starting the message if needed.
    pub fn push_delta(&mut self, message: &MessageId, delta: &str) {
        if let Some(Entry::Assistant { id, markdown, .. }) = self.entries.last_mut()
            && id == message
        {
            markdown.push(delta);
            return;
        }
        let mut markdown = Stream::default();
        markdown.push(delta);
        self.entries.push(Entry::Assistant {
            id: message.clone(),
            markdown,
            streaming: true,
            note: None,
        });
    }

    /// Appends streamed reasoning to its message's thinking entry, starting it if needed.
    pub fn push_thinking(&mut self, message: &MessageId, delta: &str) {
        if let Some(Entry::Thinking { id, text, .. }) = self.entries.last_mut()
            && id == message
        {
            text.push_str(delta);
            return;
        }
        self.entries.push(Entry::Thinking {
            id: message.clone(),
            text: delta.to_owned(),
            expanded: false,
        });
    }

    /// Opens or closes a thinking entry.
    pub fn toggle_thinking(&mut self, message: &MessageId) {
        for entry in &mut self.entries {
            if let Entry::Thinking { id, expanded, .. } = entry
                && id == message
            {
                *expanded = !*expanded;
            }
        }
    }

    /// Parses what streamed in since the last frame.
    pub fn refresh(&mut self) {
        if let Some(Entry::Assistant {
            markdown,
            streaming: true,
            ..
        }) = self.entries.last_mut()
        {
            markdown.refresh();
        }
    }

    /// The text of the last answer, for copying.
    #[must_use]
    pub fn last_answer(&self) -> Option<&str> {
        self.entries.iter().rev().find_map(|e| match e {
            Entry::Assistant { markdown, .. } => Some(markdown.text()),
            _ => None,
        })
    }

    /// Adds a running tool call; the streamed text before it is complete.
    pub fn push_tool(
        &mut self,
        call: ToolCallId,
        tool: String,
        kind: Option<ToolKind>,
        arguments: String,
    ) {
        self.complete_streaming(None);
        self.entries.push(Entry::Tool {
            call,
            tool,
            kind,
            arguments,
            status: ToolStatus::Running,
            output: String::new(),
            live: String::new(),
            expanded: false,
            started: Some(std::time::Instant::now()),
            took: None,
        });
    }

    /// Shows a tool card in full, or folds it back.
    pub fn toggle(&mut self, call: &ToolCallId) {
        if let Some(Entry::Tool { expanded, .. }) = self.tool_mut(call) {
            *expanded = !*expanded;
        }
    }

    /// Marks a call as waiting for approval.
    pub fn awaiting(&mut self, call: &ToolCallId) {
        if let Some(Entry::Tool { status, .. }) = self.tool_mut(call) {
            *status = ToolStatus::AwaitingApproval;
        }
    }

    /// Adds live output of a running call, keeping the last `LIVE_KEPT` bytes.
    pub fn push_output(&mut self, call: &ToolCallId, delta: &str) {
        if let Some(Entry::Tool { live, .. }) = self.tool_mut(call) {
            live.push_str(delta);
            if live.len() > LIVE_KEPT + LIVE_KEPT / 4 {
                *live = tail(live, LIVE_KEPT).to_owned();
            }
        }
    }

    /// Marks an approved call as running.
    pub fn approved(&mut self, call: &ToolCallId) {
        if let Some(Entry::Tool { status, .. }) = self.tool_mut(call)
            && *status == ToolStatus::AwaitingApproval
        {
            *status = ToolStatus::Running;
        }
    }

    /// Records how a call ended.
    pub fn finish_tool(&mut self, call: &ToolCallId, new_status: ToolStatus, new_output: String) {
        if let Some(Entry::Tool {
            status,
            output,
            started,
            took,
            ..
        }) = self.tool_mut(call)
        {
            *status = new_status;
            *output = new_output;
            *took = started.map(|s| s.elapsed());
        }
    }

    fn tool_mut(&mut self, call: &ToolCallId) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .rev()
            .find(|e| matches!(e, Entry::Tool { call: c, .. } if c == call))
    }

    /// The turn ended: the streaming answer is parsed; a note or the failure is shown.
    pub fn end_turn(&mut self, ending: TurnEnding) {
        let note = match &ending {
            TurnEnding::Finished => None,
            TurnEnding::Stopped => Some("stopped"),
            TurnEnding::Failed(_) => Some("incomplete"),
        };
        let streaming = self.complete_streaming(note);
        match ending {
            // A stopped answer says so in its note; a turn stopped before any text says it here.
            TurnEnding::Stopped if !streaming => self.entries.push(Entry::Error("Stopped.".into())),
            TurnEnding::Failed(problem) => self.entries.push(Entry::Error(problem)),
            TurnEnding::Finished | TurnEnding::Stopped => {}
        }
    }

    /// Completes a still-streaming answer with one full parse; returns whether there was one.
    fn complete_streaming(&mut self, note_text: Option<&str>) -> bool {
        if let Some(Entry::Assistant {
            markdown,
            streaming,
            note,
            ..
        }) = self.entries.last_mut()
            && *streaming
        {
            markdown.finish();
            *streaming = false;
            *note = note_text.map(str::to_owned);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_show_as_names() {
        let stored = "see these\n\n<attachment name=\"a.txt\">\nlong text\n</attachment>\n\n<attachment name=\"b.md\">\n# b\n</attachment>";
        assert_eq!(
            fold_attachments(stored),
            "see these\n[attached: a.txt]\n[attached: b.md]"
        );
        let shown = with_attachment_names("see these", &["/x/a.txt".into(), "/y/b.md".into()]);
        assert_eq!(shown, fold_attachments(stored));
        assert_eq!(fold_attachments("plain"), "plain");
    }

    #[test]
    fn deltas_join_and_complete_on_turn_end() {
        let mut t = Transcript::default();
        t.push_user("hi");
        let m = MessageId::new();
        t.push_delta(&m, "**Hel");
        t.push_delta(&m, "lo**");
        t.refresh();
        assert!(matches!(&t.entries[1],
            Entry::Assistant { markdown, streaming: true, .. } if markdown.text() == "**Hello**"));
        t.end_turn(TurnEnding::Finished);
        assert!(matches!(&t.entries[1],
            Entry::Assistant { markdown, streaming: false, .. } if markdown.blocks().count() == 1));
        assert_eq!(t.last_answer(), Some("**Hello**"));

        t.push_delta(&MessageId::new(), "partial");
        t.end_turn(TurnEnding::Stopped);
        assert!(matches!(&t.entries[2], Entry::Assistant { note: Some(n), .. } if n == "stopped"));
        assert_eq!(t.entries.len(), 3);
        t.end_turn(TurnEnding::Failed("provider down".into()));
        assert!(matches!(&t.entries[3], Entry::Error(e) if e == "provider down"));
    }

    #[test]
    fn thinking_streams_apart_collapsed_and_comes_back_from_history() {
        let mut t = Transcript::default();
        let id = MessageId::new();
        t.push_user("why?");
        t.push_thinking(&id, "Let me ");
        t.push_thinking(&id, "think.");
        t.push_delta(&id, "Because.");
        assert!(matches!(&t.entries[1],
            Entry::Thinking { text, expanded: false, .. } if text == "Let me think."));
        assert!(matches!(&t.entries[2], Entry::Assistant { .. }));
        t.toggle_thinking(&id);
        assert!(matches!(
            &t.entries[1],
            Entry::Thinking { expanded: true, .. }
        ));
        assert_eq!(t.last_answer(), Some("Because."));

        let stored = MessageRecord {
            id: id.clone(),
            role: Role::Assistant,
            content: "Because.".into(),
            tool_calls: vec![],
            images: vec![],
            thinking: "Let me think.".into(),
            status: MessageStatus::Complete,
            created_at: chrono::Utc::now(),
        };
        let loaded = Transcript::from_history(&[stored], &[]);
        assert!(matches!(&loaded.entries[0],
            Entry::Thinking { text, expanded: false, .. } if text == "Let me think."));
        assert!(matches!(&loaded.entries[1], Entry::Assistant { .. }));
    }

    #[test]
    fn search_hits_find_their_entry_and_a_place_to_scroll_to() {
        let message = |role, content: String| MessageRecord {
            id: MessageId::new(),
            role,
            content,
            tool_calls: vec![],
            images: vec![],
            thinking: String::new(),
            status: MessageStatus::Complete,
            created_at: chrono::Utc::now(),
        };
        let messages: Vec<MessageRecord> = (0..40)
            .map(|i| {
                let role = if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                };
                message(role, format!("message {i} ").repeat(20))
            })
            .collect();
        let t = Transcript::from_history(&messages, &[]);
        assert_eq!(t.anchors.len(), 40);
        assert_eq!(t.anchors[&messages[7].id.to_string()], 7);
        // Anchored at the bottom: the first entry is at the top (1), later ones lower, the last
        // ones in the final window (0).
        let offsets: Vec<f32> = (0..40).map(|i| t.offset_from_bottom(i)).collect();
        assert!((offsets[0] - 1.0).abs() < f32::EPSILON);
        assert!(offsets.windows(2).all(|w| w[0] >= w[1]));
        assert!(offsets[20] > 0.3 && offsets[20] < 0.7, "{}", offsets[20]);
        assert!(offsets[39].abs() < f32::EPSILON);
    }
}
