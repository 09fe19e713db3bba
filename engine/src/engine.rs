//! Starting the engine and driving it: `Engine::start` opens memory, builds the tools and spawns the
//! router task; the `Handle` submits commands and `Events` streams what happens. The router owns all
//! session state, so front ends never reach around the API.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{Mutex, mpsc};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::api::{Command, Envelope, ErrorInfo, ErrorKind, Event, Submission, SubmissionId};
use crate::config::Config;
use crate::error::{EngineError, Result};
use crate::outbox::Outbox;
use crate::provider::{self, ModelClient};
use crate::router::Router;
use crate::sandboxes::Sandboxes;
use crate::secrets::Secrets;
use crate::store::Store;
use crate::tool::mcp::Mcp;
use crate::tool::registry::{Approvals, Policies, Registry, Services};
use crate::tool::remembered::{self, Remembered};
use crate::tool::workspace::Workspace;

/// How long a turn waits for the keychain to hand out a key.
const KEYCHAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The title of a session until it is titled.
pub(crate) const DEFAULT_TITLE: &str = "New chat";

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
            .map_err(|e| EngineError::Config(crate::config::ConfigError::Invalid(e)))?;
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let sandboxes = Arc::new(Sandboxes::new(config.sandbox.clone()));
        sandboxes.set_workspace(&roots);
        sandboxes.set_private_hosts(&config.web.private_hosts);
        let services = Services::new(&config, &secrets);
        let mcp = Mcp::new(&config.mcp, secrets.clone());
        let embeddings = Arc::new(crate::store::embed::Embeddings::new(
            config.memory.embeddings.clone(),
            secrets.clone(),
        ));
        let registry = Registry::builtin(&sandboxes, &services, mcp, &store, &embeddings);
        let policies = Policies::new(config.tools.policy.clone(), remembered, Some(approvals));
        policies.follow_servers(&config.mcp);
        let shared = Arc::new(Shared {
            policies,
            config: RwLock::new(config),
            store,
            secrets,
            registry,
            services,
            sandboxes: sandboxes.clone(),
            approvals: Approvals::default(),
            workspace: RwLock::new(Arc::new(workspace)),
            events: Outbox::new(event_tx),
            client: Mutex::new(None),
            shutdown: CancellationToken::new(),
            turns: crate::turns::Turns::default(),
            jobs: tokio::sync::OnceCell::new(),
            embeddings,
            voice: crate::voice::Voice::default(),
        });
        tokio::spawn(stop_idle_sandboxes(sandboxes, shared.shutdown.clone()));
        if shared.config().run_jobs {
            tokio::spawn(crate::jobs::run_worker(shared.clone()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(Router::new(shared).run(rx));
        let handle = Handle {
            tx,
            next: Arc::new(AtomicU64::new(1)),
        };
        Ok((handle, Events(UnboundedReceiverStream::new(event_rx))))
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
}

impl Handle {
    /// Queues a command; its answers arrive as events.
    pub fn submit(&self, command: Command) -> Result<SubmissionId> {
        let id = SubmissionId(self.next.fetch_add(1, Ordering::Relaxed));
        self.tx
            .send(Submission { id, command })
            .map_err(|_| EngineError::EngineDied)?;
        Ok(id)
    }
}

/// The engine's events in order, each with the submission that caused it. Ends after
/// `Command::Shutdown`, or when every handle is dropped.
#[derive(Debug)]
pub struct Events(UnboundedReceiverStream<Envelope>);

impl Events {
    /// The next event, or `None` when the engine has stopped.
    pub async fn recv(&mut self) -> Option<Envelope> {
        futures::StreamExt::next(self).await
    }
}

impl Stream for Events {
    type Item = Envelope;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Envelope>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

/// What every task of the engine shares. Settings can change while it runs: the config and the
/// workspace sit behind locks, and each turn takes a snapshot when it starts.
pub(crate) struct Shared {
    config: RwLock<Config>,
    pub store: Store,
    pub secrets: Secrets,
    pub registry: Registry,
    pub sandboxes: Arc<Sandboxes>,
    pub policies: Policies,
    /// The outside services' settings (web, GitHub, Vercel).
    pub services: Services,
    pub approvals: Approvals,
    workspace: RwLock<Arc<Workspace>>,
    events: Outbox,
    client: Mutex<Option<Arc<dyn ModelClient>>>,
    pub shutdown: CancellationToken,
    /// Every running turn (the window's, the CLI's, a job's), one per session.
    pub turns: crate::turns::Turns,
    /// The job queue, opened on first use (Redis when `redis_url` is set, else embedded).
    jobs: tokio::sync::OnceCell<Arc<dyn crate::jobs::Queue>>,
    /// The embeddings endpoint for vector recall.
    pub(crate) embeddings: Arc<crate::store::embed::Embeddings>,
    /// Microphone, speech model, sound.
    pub(crate) voice: crate::voice::Voice,
}

impl Shared {
    /// The configuration as it is now.
    pub(crate) fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The workspace folders as they are now.
    pub(crate) fn workspace(&self) -> Arc<Workspace> {
        self.workspace
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn job_visibility(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config().jobs.visibility_ms.max(100))
    }

    /// The embedding of `text`, or none (not configured, or the endpoint failed: logged, and
    /// recall falls back to words).
    pub(crate) async fn embed_or_log(&self, text: &str) -> Option<Vec<f32>> {
        match self.embeddings.embed(text).await {
            Ok(vector) => vector,
            Err(e) => {
                tracing::warn!("embeddings: {e}");
                None
            }
        }
    }

    /// The job queue.
    pub(crate) async fn jobs(&self) -> Result<Arc<dyn crate::jobs::Queue>, String> {
        let url = self.config().redis_url;
        self.jobs
            .get_or_try_init(|| async {
                let queue: Arc<dyn crate::jobs::Queue> = match url {
                    Some(url) => Arc::new(
                        crate::jobs::RedisQueue::connect(&url, self.job_visibility())
                            .await
                            .map_err(|e| e.to_string())?,
                    ),
                    None => Arc::new(crate::jobs::EmbeddedQueue::new(
                        self.store.clone(),
                        self.job_visibility(),
                    )),
                };
                Ok(queue)
            })
            .await
            .cloned()
    }

    /// Puts new settings in effect (already validated and saved).
    pub(crate) async fn apply(&self, config: Config, workspace: Workspace) {
        self.policies.configure(config.tools.policy.clone());
        self.policies.follow_servers(&config.mcp);
        self.services.configure(&config);
        self.embeddings.configure(config.memory.embeddings.clone());
        self.registry.mcp.configure(&config.mcp);
        self.sandboxes.set_workspace(&config.workspace_roots);
        self.sandboxes.set_private_hosts(&config.web.private_hosts);
        self.sandboxes.configure(config.sandbox.clone()).await;
        *self
            .workspace
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(workspace);
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
        self.forget_client().await;
    }

    /// Where the engine's own events go (stamped with no submission); it outlives this `Shared`
    /// when cloned (the router keeps one until the store closed).
    pub(crate) fn outbox(&self) -> Outbox {
        self.events.clone()
    }

    /// Where the answers to `submission` go.
    pub(crate) fn answering(&self, submission: SubmissionId) -> Outbox {
        self.events.answering(submission)
    }

    /// Sends an event the engine says on its own (no submission caused it).
    pub(crate) fn emit(&self, event: Event) {
        self.events.emit(event);
    }

    pub(crate) fn redact(&self, text: &str) -> String {
        self.secrets.redactor().redact(text)
    }

    pub(crate) fn error(&self, kind: ErrorKind, message: impl AsRef<str>) -> ErrorInfo {
        ErrorInfo::new(kind, self.redact(message.as_ref()))
    }

    /// Drops the cached client, so the next turn reads the key again (after a refused key).
    pub(crate) async fn forget_client(&self) {
        *self.client.lock().await = None;
    }

    /// The client of the active provider, built on first use (reading the keychain once).
    pub(crate) async fn client(&self) -> Result<Arc<dyn ModelClient>, ErrorInfo> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let config = self.config();
        let Some(provider) = config.effective_provider() else {
            return Err(ErrorInfo::new(
                ErrorKind::Config,
                "no model provider is configured: add one in Settings or config.toml, install a local model with `aetheria models add FILE-OR-URL`, or run `aetheria ask --base-url URL --model NAME`",
            ));
        };
        // A locked keychain may wait for the person to unlock it; do not wait forever. The local
        // runtime needs no key.
        let key = if provider.wire == crate::config::Wire::Local {
            None
        } else {
            provider::lookup_key(&provider, &self.secrets, KEYCHAIN_WAIT)
                .await
                .map_err(|e| match e {
                    provider::KeyError::Timeout(_) => ErrorInfo::new(
                        ErrorKind::Auth,
                        format!("{e}; unlock it, or set {}", provider.key_env_var()),
                    ),
                    provider::KeyError::Keychain(e) => self.error(ErrorKind::Auth, e.to_string()),
                    provider::KeyError::Task(_) => {
                        ErrorInfo::new(ErrorKind::Internal, e.to_string())
                    }
                })?
        };
        let client = provider::client(&provider, key, &config).map_err(|e| e.to_info())?;
        *slot = Some(client.clone());
        Ok(client)
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
