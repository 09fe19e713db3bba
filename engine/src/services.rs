//! The engine's services, owned once and passed by reference to every task: the store, the
//! keychain, the tools and their policies, pending approvals, the sandboxes, the connectors to
//! outside services, the running turns, the job queue, embeddings, voice, and where events go.
//! Settings can change while the engine runs: the config and the workspace sit behind locks, and
//! each turn takes a snapshot when it starts.

use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::api::{ErrorInfo, ErrorKind, Event, SubmissionId};
use crate::config::Config;
use crate::outbox::Outbox;
use crate::provider::{self, ModelClient};
use crate::sandboxes::Sandboxes;
use crate::secrets::Secrets;
use crate::store::Store;
use crate::tool::registry::{Approvals, Connectors, Policies, Registry};
use crate::tool::workspace::Workspace;

/// How long a turn waits for the keychain to hand out a key.
const KEYCHAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The engine's services.
pub(crate) struct Services {
    config: RwLock<Config>,
    pub store: Store,
    pub secrets: Secrets,
    pub registry: Registry,
    pub sandboxes: Arc<Sandboxes>,
    pub policies: Policies,
    /// The outside services' settings (web, GitHub, Vercel).
    pub connectors: Connectors,
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
    /// Local-model installs under way, so one can be stopped.
    pub(crate) installs: crate::offline::Installs,
    /// Sign-ins waiting for the person, so one can be stopped.
    pub(crate) sign_ins: crate::accounts::SignIns,
    /// Held while the config is read, changed and saved, so two writers never undo each other.
    config_writes: tokio::sync::Mutex<()>,
    /// Wakes the schedule ticker when this engine adds, pauses or removes a schedule.
    pub(crate) schedules_changed: tokio::sync::Notify,
}

/// What the engine starts with; the rest of the services begin empty.
pub(crate) struct Parts {
    pub config: Config,
    pub store: Store,
    pub secrets: Secrets,
    pub registry: Registry,
    pub connectors: Connectors,
    pub sandboxes: Arc<Sandboxes>,
    pub policies: Policies,
    pub workspace: Workspace,
    pub events: Outbox,
    pub embeddings: Arc<crate::store::embed::Embeddings>,
}

impl Services {
    pub(crate) fn new(parts: Parts) -> Self {
        Self {
            config: RwLock::new(parts.config),
            store: parts.store,
            secrets: parts.secrets,
            registry: parts.registry,
            connectors: parts.connectors,
            sandboxes: parts.sandboxes,
            policies: parts.policies,
            approvals: Approvals::default(),
            workspace: RwLock::new(Arc::new(parts.workspace)),
            events: parts.events,
            client: Mutex::new(None),
            shutdown: CancellationToken::new(),
            turns: crate::turns::Turns::default(),
            jobs: tokio::sync::OnceCell::new(),
            embeddings: parts.embeddings,
            voice: crate::voice::Voice::default(),
            installs: crate::offline::Installs::default(),
            sign_ins: crate::accounts::SignIns::default(),
            config_writes: tokio::sync::Mutex::new(()),
            schedules_changed: tokio::sync::Notify::new(),
        }
    }

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
    pub(crate) async fn jobs(
        &self,
    ) -> Result<Arc<dyn crate::jobs::Queue>, crate::jobs::QueueError> {
        let url = self.config().redis_url;
        self.jobs
            .get_or_try_init(|| async {
                let queue: Arc<dyn crate::jobs::Queue> = match url {
                    Some(url) => Arc::new(
                        crate::jobs::RedisQueue::connect(&url, self.job_visibility()).await?,
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
        self.connectors.configure(&config);
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

    /// Saves the config with `local.default_model` set to `model` and uses it from now on; on an
    /// error nothing changes.
    pub(crate) async fn set_default_local_model(
        &self,
        model: Option<String>,
    ) -> Result<(), crate::config::ConfigError> {
        self.change_config(|config| config.local.default_model = model)
            .await
    }

    /// Changes the config as `change` says, saves it and uses it from now on (the outside
    /// services' settings and the model client too); on an error nothing changes. Writers take
    /// turns, so one never saves over another's change.
    pub(crate) async fn change_config(
        &self,
        change: impl FnOnce(&mut Config) + Send,
    ) -> Result<(), crate::config::ConfigError> {
        let _writing = self.config_writes.lock().await;
        let mut config = self.config();
        change(&mut config);
        config.validate()?;
        let saved = config.clone();
        tokio::task::spawn_blocking(move || saved.save())
            .await
            .map_err(|e| crate::config::ConfigError::Invalid(e.to_string()))??;
        self.connectors.configure(&config);
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
        self.forget_client().await;
        Ok(())
    }

    /// Held by a writer of the whole config (the settings screen's Save), so it and
    /// `change_config` take turns.
    pub(crate) async fn config_writes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.config_writes.lock().await
    }

    /// Where the engine's own events go (stamped with no submission); it outlives this `Services`
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
