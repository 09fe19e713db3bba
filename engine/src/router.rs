//! The router: the task that takes every submitted command, hands it to its domain's handler
//! (`handlers`) with an outbox stamped with the submission, and turns a handler's error into one
//! redacted `CommandFailed`. Commands that change what later ones see run in order; the rest run
//! beside them as tasks, kept to wait for at shutdown. Turns run as tasks of their own
//! (registered in `Shared::turns`), so `Cancel`, `Approve` and other sessions' commands are
//! handled while a turn streams.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::api::{ErrorInfo, Submission};
use crate::engine::Shared;
use crate::handlers::{self, Cx};
use crate::outbox::Outbox;

pub(crate) struct Router {
    shared: Arc<Shared>,
    /// Commands running beside the others.
    running: Vec<JoinHandle<()>>,
}

impl Router {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            running: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Submission>) {
        while let Some(Submission { id, command }) = rx.recv().await {
            self.running.retain(|t| !t.is_finished());
            let in_order = handlers::in_order(&command);
            let cx = Cx {
                shared: self.shared.clone(),
                out: self.shared.answering(id),
            };
            let out = cx.out.clone();
            let Some(work) = handlers::handle(cx, command) else {
                break;
            };
            let shared = self.shared.clone();
            let answered = async move { report(&shared, &out, work.await) };
            if in_order {
                answered.await;
            } else {
                self.running.push(tokio::spawn(answered));
            }
        }
        self.shutdown().await;
        // Close the database before the event stream ends, so a front end that exits when the
        // stream ends never cuts the store's close short.
        let events = self.shared.outbox();
        let lock_file = self.shared.store.lock_file();
        drop(self);
        crate::store::wait_closed(lock_file).await;
        drop(events);
    }

    async fn shutdown(&mut self) {
        self.shared.shutdown.cancel();
        self.shared.registry.mcp.stop_all().await;
        // Every turn's token is a child of the shutdown token, cancelled above.
        self.shared.turns.wait_all().await;
        self.shared.voice.shutdown().await;
        for task in self.running.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        // Sandboxes go with the app; a crash leaves them for the next start to sweep.
        if tokio::time::timeout(Duration::from_secs(20), self.shared.sandboxes.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("removing sandboxes took longer than 20 s at shutdown");
        }
    }
}

/// Sends a handler's failure, redacted (a URL, path or provider's answer may carry a secret).
fn report(shared: &Shared, out: &Outbox, result: Result<(), ErrorInfo>) {
    if let Err(error) = result {
        out.fail(shared.error(error.kind, &error.message));
    }
}
