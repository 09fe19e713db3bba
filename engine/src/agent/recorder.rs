//! The recorder: the one place that decides what of a turn is stored and when — the person's
//! message (with the row of the first answer, in one write, while the model is asked), an answer's
//! row, its text in batches while it streams, its reasoning, how it ended, each tool call as it
//! waits, runs and ends, and the session's title after the first exchange. A write that must not
//! end a turn (a streaming flush, a status change) is logged, never silently dropped; the final
//! write of an answer reports its error.

use crate::api::{
    ErrorInfo, ErrorKind, Event, MessageId, MessageRecord, MessageStatus, Role, SessionId,
    SessionSummary, ToolCallRecord, ToolCallRequest, Usage,
};
use crate::outbox::Outbox;
use crate::store::{MemoryError, Store};

/// The title of a session until the recorder titles it after its first exchange.
pub(crate) const DEFAULT_TITLE: &str = "New chat";

/// Stores one turn (or one direct tool call, with no session).
#[derive(Clone)]
pub(crate) struct Recorder {
    store: Store,
    session: Option<SessionId>,
}

/// A write to the store going on in the background.
pub(super) struct Write<T>(Option<tokio::task::JoinHandle<Result<T, MemoryError>>>);

impl<T: Send + 'static> Write<T> {
    fn spawn(write: impl Future<Output = Result<T, MemoryError>> + Send + 'static) -> Self {
        Self(Some(tokio::spawn(write)))
    }

    /// A write that was never needed.
    pub(super) fn none() -> Self {
        Self(None)
    }

    /// Waits until it is done: its result the first time, `None` after.
    pub(super) async fn done(&mut self) -> Result<Option<T>, ErrorInfo> {
        let Some(task) = self.0.take() else {
            return Ok(None);
        };
        match task.await {
            Ok(result) => result.map(Some).map_err(storage),
            Err(e) => Err(ErrorInfo::new(
                ErrorKind::Storage,
                format!("storing the conversation stopped: {e}"),
            )),
        }
    }
}

/// What the person said, being stored while the turn goes on.
pub(super) struct Stored {
    write: Write<Option<SessionSummary>>,
    message: MessageRecord,
    /// The row of the first answer, stored with the message, until that answer takes it.
    pub(super) answer: Option<MessageRecord>,
}

impl Stored {
    /// Waits until the message is stored and says the turn started (once).
    pub(super) async fn wait(
        &mut self,
        out: &Outbox,
        session: &SessionId,
        turns: &crate::turns::Turns,
    ) -> Result<(), ErrorInfo> {
        let Some(summary) = self.write.done().await? else {
            return Ok(());
        };
        turns.said_user(session, &self.message, || {
            out.emit(Event::TurnStarted {
                session: session.clone(),
                user_message: self.message.id.clone(),
                text: self.message.content.clone(),
            });
        });
        if let Some(summary) = summary {
            out.emit(Event::SessionUpdated { session: summary });
        }
        Ok(())
    }
}

/// The row of an answer about to stream.
pub(super) fn answer_row() -> MessageRecord {
    MessageRecord {
        status: MessageStatus::Streaming,
        ..MessageRecord::new(Role::Assistant, "")
    }
}

fn storage(e: MemoryError) -> ErrorInfo {
    ErrorInfo::new(ErrorKind::Storage, e.to_string())
}

/// Logs a write whose failure must not end the turn.
fn logged(result: Result<(), MemoryError>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("database write failed: {e}");
            false
        }
    }
}

impl Recorder {
    pub(crate) fn new(store: Store, session: Option<SessionId>) -> Self {
        Self { store, session }
    }

    /// Starts storing the person's message with the row of the first answer (the session
    /// touched: one write); `TurnStarted` goes out once it is stored.
    pub(super) fn user_message(&self, user: &MessageRecord) -> Stored {
        let first = answer_row();
        let (store, session, message, row) = (
            self.store.clone(),
            self.session.clone(),
            user.clone(),
            first.clone(),
        );
        let write = Write::spawn(async move {
            match session {
                Some(session) => store.add_user_message(&session, &message, Some(&row)).await,
                None => Ok(None),
            }
        });
        Stored {
            write,
            message: user.clone(),
            answer: Some(first),
        }
    }

    /// Starts storing the row of a later step's answer, while the request goes out.
    pub(super) fn answer_begun(&self, answer: &MessageRecord) -> Write<()> {
        let (store, session, answer) = (self.store.clone(), self.session.clone(), answer.clone());
        Write::spawn(async move {
            match session {
                Some(session) => store.insert_message(&session, &answer).await,
                None => Ok(()),
            }
        })
    }

    /// Stores the text that streamed since `from` (a checkpoint); whether it was.
    pub(super) async fn answer_text(&self, id: &MessageId, from: usize, text: &str) -> bool {
        let Some(session) = &self.session else {
            return false;
        };
        logged(
            self.store
                .append_message_text(session, id, from, &text[from..])
                .await,
        )
    }

    /// Stores an answer's reasoning.
    pub(super) async fn answer_thinking(&self, id: &MessageId, thinking: &str) {
        logged(self.store.set_thinking(id, thinking).await);
    }

    /// An answer was cut (stopped or failed): what came is kept, marked so.
    pub(super) async fn answer_cut(&self, id: &MessageId, text: &str, status: MessageStatus) {
        logged(self.store.update_message(id, text, &[], status, None).await);
    }

    /// An answer is complete, with the calls it asked for.
    pub(super) async fn answer_done(
        &self,
        id: &MessageId,
        text: &str,
        calls: &[ToolCallRequest],
        usage: Option<Usage>,
    ) -> Result<(), ErrorInfo> {
        self.store
            .update_message(id, text, calls, MessageStatus::Complete, usage)
            .await
            .map_err(storage)
    }

    /// The turn ended before its answer streamed: the answer's row goes.
    pub(super) async fn answer_unused(&self, id: &MessageId) {
        logged(self.store.delete_message(id).await);
    }

    /// Stores a tool call as it stands (waiting, running, ended).
    pub(super) async fn tool_call(&self, record: &ToolCallRecord) {
        logged(
            self.store
                .save_tool_call(self.session.as_ref(), record)
                .await,
        );
    }

    /// Titles the session after its first exchange, from the person's first words; the session
    /// as it is now, when it was titled.
    pub(super) async fn title(&self, first_words: Option<String>) -> Option<SessionSummary> {
        let session = self.session.as_ref()?;
        let summary = self.store.session(session).await.ok()??;
        if summary.title != DEFAULT_TITLE {
            return None;
        }
        let first = match first_words {
            Some(words) => words,
            None => {
                let messages = self.store.messages(session).await.ok()?;
                messages.into_iter().find(|m| m.role == Role::User)?.content
            }
        };
        let title = title_from(&first);
        if title.is_empty() {
            return None;
        }
        self.store
            .touch_session(session, Some(&title))
            .await
            .ok()
            .flatten()
    }
}

/// The first line of a message, cut to a word boundary of at most 48 characters.
pub(crate) fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut title = String::new();
    for word in line.split_whitespace() {
        if title.chars().count() + word.chars().count() + 1 > 48 {
            if title.is_empty() {
                title = word.chars().take(47).collect();
                title.push('…');
            } else {
                title.push('…');
            }
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    title
}

#[cfg(test)]
mod tests {
    use super::title_from;

    #[test]
    fn titles_are_short_first_lines() {
        assert_eq!(
            title_from("  \nSummarise the README please\nmore"),
            "Summarise the README please"
        );
        let long =
            "Please read every file in the project and tell me which ones are unused by anything";
        let title = title_from(long);
        assert!(title.chars().count() <= 49, "{title}");
        assert!(title.ends_with('…'));
        assert_eq!(title_from(&"x".repeat(100)).chars().count(), 48);
    }
}
