//! Starting the engine and driving it: `Engine::start` opens the store, builds the services and
//! spawns the router task; the `Handle` submits commands and `Events` streams what happens. The router owns all
//! session state, so front ends never reach around the API.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::api::endpoint::CLIENT_SHIFT;
use crate::api::{Command, Envelope, Submission, SubmissionId};
use crate::config::Config;
use crate::error::{EngineError, Result};
use crate::outbox::Outbox;
use crate::router::Router;
use crate::sandboxes::Sandboxes;
use crate::secrets::Secrets;
use crate::services::{Parts, Services};
use crate::store::Store;
use crate::tool::mcp::Mcp;
use crate::tool::registry::{Connectors, Policies, Registry};
use crate::tool::remembered::{self, Remembered};
use crate::tool::workspace::Workspace;

/// Entry point of the engine.
#[derive(Debug)]
pub struct Engine;

/// The approvals remembered on this machine. Before they had a file of their own they were kept
/// in the database: a person's whole-tool choices move over once from the database on this
/// machine (never from a server, where others may have written them); folder grants kept there
/// were not bound to a workspace folder and are not carried over: those calls ask again.
async fn remembered_choices(store: &Store, file: &std::path::Path) -> Remembered {
    if file.exists() || store.is_shared() {
        return Remembered::load(file);
    }
    let policies = match store.policies().await {
        Ok(policies) => policies,
        Err(e) => {
            tracing::warn!("reading the approvals kept in the database: {e}");
            return Remembered::default();
        }
    };
    let remembered = Remembered {
        policies: policies.into_iter().collect(),
        ..Remembered::default()
    };
    if let Err(e) = remembered.save(file) {
        tracing::warn!(file = %file.display(), "writing the remembered approvals: {e}");
    }
    remembered
}

impl Engine {
    /// Opens memory, builds tools and spawns the engine; returns the handle to submit commands with
    /// and the stream of events. Must be called inside a tokio runtime.
    pub async fn start(config: Config) -> Result<(Handle, Events)> {
        config.validate()?;
        if let Err(e) = crate::config::private_dir(&config.data_dir) {
            tracing::warn!(dir = %config.data_dir.display(), "cannot make the data folder private: {e}");
        }
        let secrets = Secrets::new();
        let store = Store::open_configured(&config, &secrets).await?;
        store.recover_interrupted().await?;
        if config.memory.embeddings.is_some() {
            // Read the memories' vectors now, not on the first recall (~6 s at 100,000).
            let preload = store.clone();
            tokio::spawn(async move {
                if let Err(e) = preload.load_vectors().await {
                    tracing::warn!("loading the memories' vectors: {e}");
                }
            });
        }
        let approvals = config.data_dir.join(remembered::FILE);
        let remembered = remembered_choices(&store, &approvals).await;
        let mut roots = Vec::new();
        for root in &config.workspace_roots {
            if root.is_dir() {
                roots.push(root.clone());
            } else {
                tracing::warn!(root = %root.display(), "workspace folder is missing; skipped");
            }
        }
        let workspace = Workspace::open(&roots)
            .map_err(|e| EngineError::Config(crate::config::ConfigError::Invalid(e.to_string())))?;
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let sandboxes = Arc::new(Sandboxes::new(config.sandbox.clone()));
        sandboxes.set_workspace(&roots);
        sandboxes.set_private_hosts(&config.web.private_hosts);
        let connectors = Connectors::new(&config, &secrets);
        connectors.browsers.attach(Outbox::new(event_tx.clone()));
        let mcp = Mcp::new(&config.mcp, secrets.clone());
        let embeddings = Arc::new(crate::store::embed::Embeddings::new(
            config.memory.embeddings.clone(),
            secrets.clone(),
        ));
        let registry = Registry::builtin(&sandboxes, &connectors, mcp, &store, &embeddings);
        let policies = Policies::new(config.tools.policy.clone(), remembered, Some(approvals));
        policies.follow_servers(&config.mcp);
        let services = Arc::new(Services::new(Parts {
            config,
            store,
            secrets,
            registry,
            connectors,
            sandboxes: sandboxes.clone(),
            policies,
            workspace,
            events: Outbox::new(event_tx),
            embeddings,
        }));
        tokio::spawn(stop_idle_sandboxes(sandboxes, services.shutdown.clone()));
        if services.config().run_jobs {
            tokio::spawn(crate::jobs::run_worker(services.clone()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(Router::new(services).run(rx));
        Ok((Handle::new(tx, 0), Events::new(event_rx)))
    }
}

/// Stops sandboxes that sat idle longer than configured, until shutdown.
async fn stop_idle_sandboxes(sandboxes: Arc<Sandboxes>, shutdown: CancellationToken) {
    loop {
        let idle = sandboxes.config().idle_stop_secs;
        let every = std::time::Duration::from_secs((idle / 4).clamp(1, 30));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let stopped = sandboxes.stop_idle().await;
        if stopped > 0 {
            tracing::info!("stopped {stopped} idle sandboxes");
        }
    }
}

/// Submits commands to a running engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Submission>,
    next: Arc<AtomicU64>,
    client: u64,
}

impl Handle {
    /// A handle whose submissions go to `tx`, numbered in the range of client `client` (0 for the
    /// front end of the process that runs the engine).
    pub(crate) fn new(tx: mpsc::UnboundedSender<Submission>, client: u64) -> Self {
        Self {
            tx,
            next: Arc::new(AtomicU64::new((client << CLIENT_SHIFT) | 1)),
            client,
        }
    }

    /// Whether this handle (or a clone of it) made `submission`; events of other front ends'
    /// submissions are `false` here, and what the engine says on its own has none.
    #[must_use]
    pub fn owns(&self, submission: Option<SubmissionId>) -> bool {
        submission.is_some_and(|id| crate::api::endpoint::client_of(id) == self.client)
    }

    /// Queues a command; its answers arrive as events.
    pub fn submit(&self, command: Command) -> Result<SubmissionId> {
        let id = SubmissionId(self.next.fetch_add(1, Ordering::Relaxed));
        self.submit_as(Submission { id, command })?;
        Ok(id)
    }

    /// Queues a submission numbered elsewhere (by a client of this process's endpoint).
    pub(crate) fn submit_as(&self, submission: Submission) -> Result<()> {
        self.tx
            .send(submission)
            .map_err(|_| EngineError::EngineDied)
    }
}

/// The engine's events in order, each with the submission that caused it. Ends after
/// `Command::Shutdown`, or when every handle is dropped (for a client of another process's
/// engine: when the connection ends, after `Event::HostLost` unless it was shut down).
pub struct Events {
    rx: UnboundedReceiverStream<Envelope>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Envelope>) -> Self {
        Self {
            rx: UnboundedReceiverStream::new(rx),
        }
    }

    /// The next event, or `None` when the engine has stopped.
    pub async fn recv(&mut self) -> Option<Envelope> {
        futures::StreamExt::next(self).await
    }
}

impl Stream for Events {
    type Item = Envelope;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Envelope>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Policy;

    /// Whole-tool choices an earlier version kept in this machine's database move to
    /// `approvals.json` once; after that the file alone counts.
    #[tokio::test]
    async fn approvals_kept_in_the_local_database_move_to_the_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("surrealkv://{}", dir.path().join("db").display());
        let store = Store::open(&url).await.unwrap();
        assert!(!store.is_shared());
        store.set_policy("fs_write", Policy::Allow).await.unwrap();
        let file = dir.path().join(remembered::FILE);
        let moved = remembered_choices(&store, &file).await;
        assert_eq!(moved.policies.get("fs_write"), Some(&Policy::Allow));
        assert_eq!(Remembered::load(&file), moved);
        // A choice written to the database later (by anything) is not read again.
        store.set_policy("shell", Policy::Allow).await.unwrap();
        let again = remembered_choices(&store, &file).await;
        assert_eq!(again, moved);
    }
}
