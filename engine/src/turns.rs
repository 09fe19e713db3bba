//! The one registry of running turns, whoever started them: a message from the window or the
//! CLI, or a background job's prompt. One turn per session at a time; `Cancel` reaches any of
//! them the same way.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::api::SessionId;

/// Sessions with a running turn, each with the token that stops it.
#[derive(Default)]
pub(crate) struct Turns {
    running: Mutex<HashMap<SessionId, CancellationToken>>,
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
        Some(token)
    }

    /// The turn has ended (it leaves before it emits its last event, so a front end that sends
    /// the next message on `TurnFinished` is never refused as busy).
    pub(crate) fn end(&self, session: &SessionId) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(session);
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
