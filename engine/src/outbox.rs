//! Where the engine's events go: an `Outbox` stamps each event with the submission that caused it
//! (none for what the engine says on its own), so a front end can tell its answers from others'.

use tokio::sync::mpsc;

use crate::api::{Envelope, ErrorInfo, Event, SubmissionId};

/// Sends events to front ends, stamped with one submission (or none). Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<Envelope>,
    submission: Option<SubmissionId>,
}

impl Outbox {
    /// An outbox for what the engine says on its own; its events carry no submission.
    pub(crate) fn new(tx: mpsc::UnboundedSender<Envelope>) -> Self {
        Self {
            tx,
            submission: None,
        }
    }

    /// The same stream, stamping what is sent with `submission`.
    pub(crate) fn answering(&self, submission: SubmissionId) -> Self {
        Self {
            tx: self.tx.clone(),
            submission: Some(submission),
        }
    }

    /// Sends an event. A closed stream means no front end listens; the work still completes and
    /// is stored.
    pub(crate) fn emit(&self, event: Event) {
        let _ = self.tx.send(Envelope {
            submission: self.submission,
            event,
        });
    }

    /// Says the submission could not be carried out (logged when there is none to answer).
    pub(crate) fn fail(&self, error: ErrorInfo) {
        match self.submission {
            Some(submission) => self.emit(Event::CommandFailed { submission, error }),
            None => tracing::warn!("{}", error.message),
        }
    }
}
