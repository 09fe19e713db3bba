//! The one registry of running turns, whoever started them: a message from the window or the
//! CLI, or a background job's prompt. One turn per session at a time; `Cancel` reaches any of
//! them the same way; deleting a session and shutting down wait for its tasks.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{MessageId, MessageRecord, MessageStatus, Role, SessionId};

/// How long a stopped turn may take to store what it has.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Sessions with a running turn, each with the token that stops it, and the tasks of turns
/// started by a command (a job's turn is awaited by its job instead).
#[derive(Default)]
pub(crate) struct Turns {
    running: Mutex<HashMap<SessionId, CancellationToken>>,
    tasks: Mutex<Vec<(SessionId, JoinHandle<()>)>>,
    live: Mutex<HashMap<SessionId, Live>>,
}

/// What a running turn has said that may not be stored yet: the person's message once it is out,
/// and the whole text of each answer. The events that add to it are sent while it is held, and a
/// session loaded meanwhile is completed from it under the same lock, so a front end that opens a
/// session mid-turn (another client's turn, a job's) misses nothing and sees nothing twice.
#[derive(Debug, Default)]
struct Live {
    user: Option<MessageRecord>,
    answers: Vec<(MessageId, String)>,
}

impl Turns {
    /// Starts a turn in `session`: its token, a child of `parent` (the engine's shutdown, or a
    /// job's cancellation), or `None` while another turn runs there.
    pub(crate) fn begin(
        &self,
        session: &SessionId,
        parent: &CancellationToken,
    ) -> Option<CancellationToken> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if running.contains_key(session) {
            return None;
        }
        let token = parent.child_token();
        running.insert(session.clone(), token.clone());
        self.live_map().insert(session.clone(), Live::default());
        Some(token)
    }

    fn live_map(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Live>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The person's message of the session's turn is stored: `emit` says so (`TurnStarted`).
    pub(crate) fn said_user(&self, session: &SessionId, user: &MessageRecord, emit: impl FnOnce()) {
        let mut live = self.live_map();
        if let Some(live) = live.get_mut(session) {
            live.user = Some(user.clone());
        }
        emit();
    }

    /// More text of `answer`: `emit` sends it (`TextDelta`).
    pub(crate) fn said_text(
        &self,
        session: &SessionId,
        answer: &MessageId,
        delta: String,
        emit: impl FnOnce(String),
    ) {
        let mut live = self.live_map();
        if let Some(live) = live.get_mut(session) {
            match live.answers.iter_mut().find(|(id, _)| id == answer) {
                Some((_, text)) => text.push_str(&delta),
                None => live.answers.push((answer.clone(), delta.clone())),
            }
        }
        emit(delta);
    }

    /// The session's stored `messages`, completed with what its running turn has said and not
    /// stored yet, handed to `emit` (`SessionLoaded`) before the turn can say more.
    pub(crate) fn loaded(
        &self,
        session: &SessionId,
        mut messages: Vec<MessageRecord>,
        emit: impl FnOnce(Vec<MessageRecord>),
    ) {
        let live = self.live_map();
        if let Some(live) = live.get(session) {
            if let Some(user) = &live.user
                && !messages.iter().any(|m| m.id == user.id)
            {
                messages.push(user.clone());
            }
            for (id, text) in &live.answers {
                match messages.iter_mut().find(|m| &m.id == id) {
                    Some(stored) if stored.content.len() < text.len() => {
                        stored.content.clone_from(text);
                    }
                    Some(_) => {}
                    None => messages.push(MessageRecord {
                        id: id.clone(),
                        status: MessageStatus::Streaming,
                        ..MessageRecord::new(Role::Assistant, text.clone())
                    }),
                }
            }
        }
        emit(messages);
    }

    /// The turn has ended (it leaves before it emits its last event, so a front end that sends
    /// the next message on `TurnFinished` is never refused as busy).
    pub(crate) fn end(&self, session: &SessionId) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(session);
        self.live_map().remove(session);
    }

    /// Keeps the task of a turn started in `session`, to wait for when it is stopped.
    pub(crate) fn track(&self, session: &SessionId, task: JoinHandle<()>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.retain(|(_, t)| !t.is_finished());
        tasks.push((session.clone(), task));
    }

    /// Stops the session's turn and waits (a while) until its task has stored what it had.
    pub(crate) async fn stop(&self, session: &SessionId) {
        self.cancel(session);
        let tasks: Vec<_> = {
            let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            let (theirs, others) = std::mem::take(&mut *tasks)
                .into_iter()
                .partition(|(s, _)| s == session);
            *tasks = others;
            theirs
        };
        for (_, task) in tasks {
            let _ = tokio::time::timeout(STOP_WAIT, task).await;
        }
    }

    /// Waits (a while) for every tracked turn's task; their tokens are children of the shutdown
    /// token, cancelled before.
    pub(crate) async fn wait_all(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for (_, task) in tasks {
            if tokio::time::timeout(STOP_WAIT, task).await.is_err() {
                tracing::warn!("a turn did not stop within 5 s of shutdown");
            }
        }
    }

    /// Stops the session's turn, if one runs; whether one did.
    pub(crate) fn cancel(&self, session: &SessionId) -> bool {
        match self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(session)
        {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_turn_per_session_stopped_by_its_own_token_or_its_parent() {
        let turns = Turns::default();
        let shutdown = CancellationToken::new();
        let (a, b) = (SessionId::from("a"), SessionId::from("b"));
        let first = turns.begin(&a, &shutdown).unwrap();
        assert!(turns.begin(&a, &shutdown).is_none(), "a second turn in a");
        let job = CancellationToken::new();
        let other = turns.begin(&b, &job).unwrap();
        assert!(turns.cancel(&a));
        assert!(first.is_cancelled() && !other.is_cancelled());
        job.cancel();
        assert!(other.is_cancelled());
        turns.end(&a);
        assert!(!turns.cancel(&a));
        assert!(turns.begin(&a, &shutdown).is_some());
    }
}
