//! The router: the task that takes every submitted command, hands it to its domain's handler
//! (`handlers`) with an outbox stamped with the submission, and turns a handler's error into one
//! redacted `CommandFailed`. Commands that change what later ones see run in order; the rest run
//! beside them as tasks, kept to wait for at shutdown. Turns run as tasks of their own
//! (registered in `Services::turns`), so `Cancel`, `Approve` and other sessions' commands are
//! handled while a turn streams.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::api::{ErrorInfo, Submission};
use crate::handlers::{self, Cx};
use crate::outbox::Outbox;
use crate::services::Services;

pub(crate) struct Router {
    services: Arc<Services>,
    /// Commands running beside the others.
    running: Vec<JoinHandle<()>>,
}

impl Router {
    pub(crate) fn new(services: Arc<Services>) -> Self {
        Self {
            services,
            running: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Submission>) {
        while let Some(Submission { id, command }) = rx.recv().await {
            self.running.retain(|t| !t.is_finished());
            let in_order = handlers::in_order(&command);
            let cx = Cx {
                services: self.services.clone(),
                out: self.services.answering(id),
            };
            let out = cx.out.clone();
            let Some(work) = handlers::handle(cx, command) else {
                break;
            };
            let services = self.services.clone();
            let answered = async move { report(&services, &out, work.await) };
            if in_order {
                answered.await;
            } else {
                self.running.push(tokio::spawn(answered));
            }
        }
        self.shutdown().await;
        // Close the database before the event stream ends, so a front end that exits when the
        // stream ends never cuts the store's close short.
        let events = self.services.outbox();
        let lock_file = self.services.store.lock_file();
        drop(self);
        crate::store::wait_closed(lock_file).await;
        drop(events);
    }

    async fn shutdown(&mut self) {
        self.services.shutdown.cancel();
        self.services.registry.mcp.stop_all().await;
        // Every turn's token is a child of the shutdown token, cancelled above.
        self.services.turns.wait_all().await;
        self.services.voice.shutdown().await;
        self.services.connectors.browsers.close_all().await;
        for task in self.running.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        // Sandboxes go with the app; a crash leaves them for the next start to sweep.
        if tokio::time::timeout(Duration::from_secs(20), self.services.sandboxes.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("removing sandboxes took longer than 20 s at shutdown");
        }
    }
}

/// Sends a handler's failure, redacted (a URL, path or provider's answer may carry a secret).
fn report(services: &Services, out: &Outbox, result: Result<(), ErrorInfo>) {
    if let Err(error) = result {
        out.fail(services.error(error.kind, &error.message));
    }
}
