//! The open conversation as the window shows it: the protocol's `Conversation` (entries, tool
//! calls and their approvals, kept by the engine's events) with the window's own state per entry —
//! an answer's parsed markdown (`markdown::Stream`: deltas are appended as they come and parsed
//! once per batch of events, re-parsing only the open tail block), what is unfolded, and how long
//! a call took.

use std::time::{Duration, Instant};

use crate::markdown::Stream;
pub use aetheria_engine::api::conversation::{
    AnswerState, Change, Conversation, Entry, ToolEntry, tail,
};
use aetheria_engine::api::{Event, MessageId, SessionId, ToolCallId, ToolStatus};

/// What the window keeps of one entry.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// An answer, parsed as it grows.
    pub markdown: Stream,
    /// Shown in full (a tool card, or the reasoning) rather than folded.
    pub expanded: bool,
    /// When the window saw a call start, to show how long it took.
    started: Option<Instant>,
    /// How long a call ran, once finished (only for calls seen live).
    pub took: Option<Duration>,
    /// The person's message was sent from this window: its images are the files they picked
    /// (a stored message's are read only from the engine's kept copies).
    pub picked: bool,
    /// The images of the person's message that can be shown, once decoded.
    pub pictures: Vec<super::pictures::Picture>,
    /// Its images were looked at (decoded or found unreadable).
    decoded: bool,
}

/// The conversation and the window's state of each entry (one `View` per entry, same order).
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    conversation: Conversation,
    views: Vec<View>,
}

/// The names of attached files as the person's message shows them.
#[must_use]
pub fn attachment_names(attachments: &[std::path::PathBuf]) -> Vec<String> {
    attachments
        .iter()
        .map(|path| {
            path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// The attached files a model takes as images (by their names; the engine checks their bytes).
#[must_use]
pub fn picked_images(attachments: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    attachments
        .iter()
        .filter(|path| {
            path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                ["png", "jpg", "jpeg", "gif", "webp"].contains(&e.to_ascii_lowercase().as_str())
            })
        })
        .cloned()
        .collect()
}

/// The person's message as shown: the text, then one line per attached file.
#[must_use]
pub fn with_attachments(text: &str, attachments: &[String]) -> String {
    let mut shown = text.to_owned();
    for name in attachments {
        if !shown.is_empty() {
            shown.push('\n');
        }
        shown.push_str(&format!("[attached: {name}]"));
    }
    shown
}

impl View {
    /// The view of an entry first seen whole (loaded) or just begun (live).
    fn of(entry: &Entry, live: bool) -> Self {
        let mut view = Self::default();
        match entry {
            Entry::Answer { text, state, .. } => {
                view.markdown = if *state == AnswerState::Streaming {
                    let mut stream = Stream::default();
                    stream.push(text);
                    stream
                } else {
                    Stream::complete(text)
                };
            }
            Entry::Tool(_) if live => view.started = Some(Instant::now()),
            Entry::User { id: None, .. } => view.picked = live,
            _ => {}
        }
        view
    }
}

impl Transcript {
    /// An empty conversation, following `session` once it exists.
    #[must_use]
    pub fn new(session: Option<SessionId>) -> Self {
        Self {
            conversation: Conversation::new(session),
            views: Vec::new(),
        }
    }

    /// The entries with their views, oldest first.
    pub fn rows(&self) -> impl Iterator<Item = (&Entry, &View)> {
        self.conversation.entries().iter().zip(&self.views)
    }

    /// The entries, oldest first.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        self.conversation.entries()
    }

    /// The entry of a stored message or tool call (by id).
    #[must_use]
    pub fn anchor(&self, id: &str) -> Option<usize> {
        self.conversation.anchor(id)
    }

    /// The session it follows (none: a new chat not sent yet).
    #[must_use]
    pub fn session(&self) -> Option<&SessionId> {
        self.conversation.session.as_ref()
    }

    /// Follows `session` from now on, when it followed none (a new chat's first message).
    pub fn follow(&mut self, session: &SessionId) {
        if self.conversation.session.is_none() {
            self.conversation.session = Some(session.clone());
        }
    }

    /// Applies one engine event (events of other sessions change nothing).
    pub fn apply(&mut self, event: &Event) {
        for change in self.conversation.apply(event) {
            self.changed(change);
        }
    }

    fn changed(&mut self, change: Change) {
        let entries = self.conversation.entries();
        match change {
            Change::Reset => {
                self.views = entries.iter().map(|e| View::of(e, false)).collect();
            }
            Change::Added(ix) => {
                self.views.truncate(ix);
                self.views.push(View::of(&entries[ix], true));
            }
            Change::Updated(ix) => {
                let Some(view) = self.views.get_mut(ix) else {
                    return;
                };
                match &entries[ix] {
                    Entry::Answer { text, state, .. } => {
                        let have = view.markdown.text().len();
                        if let Some(new) = text.get(have..)
                            && !new.is_empty()
                        {
                            view.markdown.push(new);
                        }
                        if *state != AnswerState::Streaming {
                            view.markdown.finish();
                        }
                    }
                    Entry::Tool(tool)
                        if !matches!(
                            tool.status,
                            ToolStatus::Running | ToolStatus::AwaitingApproval
                        ) && view.took.is_none() =>
                    {
                        view.took = view.started.map(|s| s.elapsed());
                    }
                    _ => {}
                }
            }
        }
    }

    /// Adds the person's message (before the engine stored it).
    pub fn push_user(
        &mut self,
        text: &str,
        attachments: Vec<String>,
        images: Vec<std::path::PathBuf>,
    ) {
        let change = self.conversation.push_user(text, attachments, images);
        self.changed(change);
    }

    /// The person approved a waiting call: it shows as running.
    pub fn approved(&mut self, call: &ToolCallId) {
        if let Some(change) = self.conversation.approved(call) {
            self.changed(change);
        }
    }

    /// Shows a tool card in full, or folds it back.
    pub fn toggle(&mut self, call: &ToolCallId) {
        for (entry, view) in self.conversation.entries().iter().zip(&mut self.views) {
            if matches!(entry, Entry::Tool(t) if &t.call == call) {
                view.expanded = !view.expanded;
            }
        }
    }

    /// Opens or closes a thinking entry.
    pub fn toggle_thinking(&mut self, message: &MessageId) {
        for (entry, view) in self.conversation.entries().iter().zip(&mut self.views) {
            if matches!(entry, Entry::Thinking { id, .. } if id == message) {
                view.expanded = !view.expanded;
            }
        }
    }

    /// Decodes the images of messages not shown before: the engine's kept copies (only a file of
    /// the data folder's attachments, whatever a stored record names), or the files the person
    /// picked for a message sent from this window.
    pub fn show_images(&mut self, data_dir: Option<&std::path::Path>) {
        for (entry, view) in self.conversation.entries().iter().zip(&mut self.views) {
            // The person's images, and those a tool produced (only ever from the data folder).
            let (images, picked) = match entry {
                Entry::User { images, .. } => (images, view.picked),
                Entry::Tool(tool) => (&tool.images, false),
                _ => continue,
            };
            if view.decoded || images.is_empty() {
                continue;
            }
            view.decoded = true;
            for image in images {
                let path =
                    match data_dir.and_then(|dir| aetheria_engine::images::stored(dir, image)) {
                        Some(kept) => kept,
                        None if picked => image.clone(),
                        None => continue,
                    };
                match super::pictures::thumbnail(&path) {
                    Ok(picture) => view.pictures.push(picture),
                    Err(why) => tracing::warn!("an attached image is not shown: {why}"),
                }
            }
        }
    }

    /// Parses what streamed in since the last frame.
    pub fn refresh(&mut self) {
        if let (
            Some(Entry::Answer {
                state: AnswerState::Streaming,
                ..
            }),
            Some(view),
        ) = (self.conversation.entries().last(), self.views.last_mut())
        {
            view.markdown.refresh();
        }
    }

    /// What every turn shown took, added up.
    #[must_use]
    pub fn total_usage(&self) -> Option<aetheria_engine::api::Usage> {
        self.conversation.total_usage()
    }

    /// The text of the last answer, for copying.
    #[must_use]
    pub fn last_answer(&self) -> Option<&str> {
        self.conversation.last_answer()
    }

    /// Where entry `index` starts, as the share of the scrollable range measured from the bottom
    /// (the conversation is anchored there) when the entries from `first` on are drawn: entry
    /// heights are estimated from their text, which is close enough to bring it into view.
    #[must_use]
    pub fn offset_from_bottom(&self, index: usize, first: usize) -> f32 {
        #[allow(clippy::cast_precision_loss)]
        let height = |entry: &Entry| -> f32 {
            let lines = |text: &str| {
                text.lines()
                    .map(|l| l.chars().count().div_ceil(80).max(1))
                    .sum::<usize>() as f32
            };
            match entry {
                Entry::User {
                    text, attachments, ..
                } => 56.0 + 24.0 * (lines(text) + attachments.len() as f32),
                Entry::Answer { text, .. } => 56.0 + 24.0 * lines(text),
                _ => 90.0,
            }
        };
        let entries = self.conversation.entries().get(first..).unwrap_or_default();
        let index = index.saturating_sub(first);
        let above: f32 = entries.iter().take(index).map(&height).sum();
        let total: f32 = entries.iter().map(&height).sum();
        // About one window of the conversation is in view at once.
        let range = (total - 500.0).max(1.0);
        1.0 - (above / range).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use aetheria_engine::api::{FinishReason, MessageRecord, Role, ToolKind, Usage};

    use super::*;

    fn session() -> SessionId {
        SessionId::from("s")
    }

    /// A stored conversation opened in the window.
    fn loaded(messages: &[MessageRecord]) -> Transcript {
        let mut t = Transcript::new(Some(session()));
        t.apply(&Event::SessionLoaded {
            session: aetheria_engine::api::SessionSummary {
                id: session(),
                title: "t".into(),
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            },
            messages: messages.to_vec(),
            tool_calls: vec![],
        });
        t
    }

    fn delta(message: &MessageId, text: &str) -> Event {
        Event::TextDelta {
            session: session(),
            message: message.clone(),
            delta: text.into(),
        }
    }

    #[test]
    fn deltas_are_parsed_per_frame_and_whole_at_the_end() {
        let mut t = Transcript::new(Some(session()));
        t.push_user("hi", vec!["a.txt".into()], vec![]);
        let m = MessageId::new();
        t.apply(&delta(&m, "**Hel"));
        t.apply(&delta(&m, "lo**"));
        t.refresh();
        let (_, view) = t.rows().nth(1).unwrap();
        assert_eq!(view.markdown.text(), "**Hello**");
        t.apply(&Event::TurnFinished {
            session: session(),
            message: m,
            usage: Usage::default(),
            finish_reason: FinishReason::Stop,
        });
        let (entry, view) = t.rows().nth(1).unwrap();
        assert!(matches!(
            entry,
            Entry::Answer {
                state: AnswerState::Complete,
                ..
            }
        ));
        assert_eq!(view.markdown.blocks().count(), 1);
        assert_eq!(t.last_answer(), Some("**Hello**"));
        assert_eq!(
            with_attachments("hi", &["a.txt".into()]),
            "hi\n[attached: a.txt]"
        );
    }

    #[test]
    fn a_call_seen_live_says_how_long_it_took_and_folds() {
        let mut t = Transcript::new(Some(session()));
        let call = ToolCallId::new();
        t.apply(&Event::ToolCallStarted {
            session: Some(session()),
            call: call.clone(),
            tool: "run_code".into(),
            kind: Some(ToolKind::Code),
            arguments: "{}".into(),
        });
        assert!(t.rows().next().unwrap().1.took.is_none());
        t.toggle(&call);
        assert!(t.rows().next().unwrap().1.expanded);
        t.apply(&Event::ToolCallFinished {
            images: Vec::new(),
            session: Some(session()),
            call: call.clone(),
            status: ToolStatus::Succeeded,
            output: "42".into(),
        });
        let (entry, view) = t.rows().next().unwrap();
        assert!(matches!(entry, Entry::Tool(tool) if tool.output == "42"));
        assert!(view.took.is_some());
        assert!(view.expanded, "the person's unfolding stays");
    }

    #[test]
    fn thinking_streams_apart_collapsed_and_comes_back_from_history() {
        let mut t = Transcript::new(Some(session()));
        let id = MessageId::new();
        t.push_user("why?", vec![], vec![]);
        for piece in ["Let me ", "think."] {
            t.apply(&Event::ThinkingDelta {
                session: session(),
                message: id.clone(),
                delta: piece.into(),
            });
        }
        t.apply(&delta(&id, "Because."));
        let rows: Vec<_> = t.rows().collect();
        assert!(matches!(rows[1],
            (Entry::Thinking { text, .. }, View { expanded: false, .. }) if text == "Let me think."));
        assert!(matches!(rows[2].0, Entry::Answer { .. }));
        t.toggle_thinking(&id);
        assert!(t.rows().nth(1).unwrap().1.expanded);
        assert_eq!(t.last_answer(), Some("Because."));

        let stored = MessageRecord {
            id: id.clone(),
            thinking: "Let me think.".into(),
            ..MessageRecord::new(Role::Assistant, "Because.")
        };
        let loaded = loaded(&[stored]);
        let rows: Vec<_> = loaded.rows().collect();
        assert!(matches!(rows[0],
            (Entry::Thinking { text, .. }, View { expanded: false, .. }) if text == "Let me think."));
        assert!(
            matches!(rows[1], (Entry::Answer { .. }, view) if view.markdown.text() == "Because.")
        );
    }

    #[test]
    fn search_hits_find_their_entry_and_a_place_to_scroll_to() {
        let message = MessageRecord::new;
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
        let t = loaded(&messages);
        assert_eq!(t.anchor(messages[7].id.as_str()), Some(7));
        // Anchored at the bottom: the first entry is at the top (1), later ones lower, the last
        // ones in the final window (0).
        let offsets: Vec<f32> = (0..40).map(|i| t.offset_from_bottom(i, 0)).collect();
        assert!((offsets[0] - 1.0).abs() < f32::EPSILON);
        assert!(offsets.windows(2).all(|w| w[0] >= w[1]));
        assert!(offsets[20] > 0.3 && offsets[20] < 0.7, "{}", offsets[20]);
        assert!(offsets[39].abs() < f32::EPSILON);
    }
}
