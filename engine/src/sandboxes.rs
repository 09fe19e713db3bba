//! The engine's code sandboxes: one per session, made on first use from the configured backend,
//! stopped when idle, started again on demand, and removed at shutdown. Code tools and the sandbox
//! commands (status, image build, list, remove) go through here; nothing else names the sandbox crate.

mod changes;
mod egress;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use aetheria_sandbox::{
    ExecOutcome, ExecRequest, Limits, Network, Preference, Sandbox, SandboxError, SandboxId, Sink,
    Spec, image,
};
use tokio::sync::Mutex;

pub(crate) use self::changes::Changes;
use self::changes::Snapshot;
use crate::api::{SandboxStatus, SandboxSummary};
use crate::config::{SandboxBackend, SandboxConfig};
use crate::tool::builtin::web::guard::Reach;

/// Which sandbox a call uses: its session's, or one shared by direct tool calls.
pub(crate) fn key_of(session: Option<&crate::api::SessionId>) -> String {
    session.map_or_else(|| "direct".to_owned(), ToString::to_string)
}

struct Slot {
    id: SandboxId,
    last_used: Instant,
    running: bool,
    /// Runs in progress; an idle stop never interrupts one.
    active: usize,
    network: bool,
    workspace: Option<PathBuf>,
    /// The workspace's places mounted read-only (made again when they change).
    read_only: Vec<PathBuf>,
}

/// A finished run: how it ended, where, and what it did to the workspace folder.
pub(crate) struct Ran {
    pub outcome: ExecOutcome,
    pub backend: aetheria_sandbox::Backend,
    pub changes: Option<Changes>,
}

impl Ran {
    /// The words for the model and the tool card.
    pub(crate) fn describe(&self, what: &str) -> String {
        let mut text = crate::tool::builtin::code::describe(&self.outcome, what, self.backend);
        if let Some(changes) = &self.changes {
            text.push_str(&changes.describe());
        }
        text
    }
}

/// How often a run's growth of the workspace folder is looked at.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The outcome of a run stopped from outside (its output went live to the card).
fn stopped_outcome(duration: Duration) -> ExecOutcome {
    ExecOutcome {
        exit_code: None,
        signal: Some(9),
        timed_out: false,
        oom_killed: false,
        sandbox_restarted: true,
        stdout: aetheria_sandbox::Captured::default(),
        stderr: aetheria_sandbox::Captured::default(),
        duration,
    }
}

/// Every session's sandbox.
pub(crate) struct Sandboxes {
    config: RwLock<SandboxConfig>,
    /// The host folder mounted at `/workspace` (the first workspace folder).
    mount: RwLock<Option<PathBuf>>,
    backend: Mutex<Option<Arc<dyn Sandbox>>>,
    slots: Mutex<HashMap<String, Slot>>,
    /// Sessions whose sandbox may use the network (the person approved it).
    network: std::sync::Mutex<HashMap<String, bool>>,
    /// Where an online sandbox may connect (`web.private_hosts` beside the public internet).
    reach: Arc<RwLock<Reach>>,
    /// The proxy online sandboxes leave through, started with the first one.
    egress: std::sync::Mutex<Option<egress::Egress>>,
}

impl Sandboxes {
    pub(crate) fn new(config: SandboxConfig) -> Self {
        Self {
            config: RwLock::new(config),
            mount: RwLock::new(None),
            backend: Mutex::new(None),
            slots: Mutex::new(HashMap::new()),
            network: std::sync::Mutex::new(HashMap::new()),
            reach: Arc::default(),
            egress: std::sync::Mutex::new(None),
        }
    }

    /// The places off the internet an online sandbox may reach (`web.private_hosts`).
    pub(crate) fn set_private_hosts(&self, hosts: &[String]) {
        *self.reach.write().unwrap_or_else(PoisonError::into_inner) = Reach::new(hosts);
    }

    /// What a sandbox gets for its network: nothing, or once allowed the egress proxy (its
    /// socket bound in, or reached through the runner's pipes where the engine cannot take it or
    /// the system has no Unix sockets).
    fn network_for(&self, on: bool) -> Result<Network, SandboxError> {
        if !on {
            return Ok(Network::Off);
        }
        let mut egress = self.egress.lock().unwrap_or_else(PoisonError::into_inner);
        let egress = match egress.as_mut() {
            Some(running) => running,
            None => egress.insert(egress::Egress::start(self.reach.clone()).map_err(|e| {
                SandboxError::Unavailable(format!(
                    "the sandbox's way to the network (a proxy on this machine) did not start: {e}"
                ))
            })?),
        };
        Ok(egress.network())
    }

    pub(crate) fn config(&self) -> SandboxConfig {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The workspace folders changed: the first one is mounted at `/workspace` from the next run.
    pub(crate) fn set_workspace(&self, roots: &[PathBuf]) {
        let first = roots.iter().find(|r| r.is_dir()).cloned();
        *self.mount.write().unwrap_or_else(PoisonError::into_inner) = first;
    }

    /// The host folder at `/workspace`.
    pub(crate) fn mount(&self) -> Option<PathBuf> {
        self.mount
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// New settings apply to sandboxes made from now on; a changed backend choice reopens.
    pub(crate) async fn configure(&self, config: SandboxConfig) {
        let changed = self.config().backend != config.backend;
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
        if changed {
            *self.backend.lock().await = None;
        }
    }

    fn cache_dir(&self) -> PathBuf {
        self.config()
            .cache_dir
            .unwrap_or_else(aetheria_sandbox::default_cache_dir)
    }

    async fn backend(&self) -> Result<Arc<dyn Sandbox>, SandboxError> {
        let mut slot = self.backend.lock().await;
        if let Some(backend) = slot.as_ref() {
            return Ok(backend.clone());
        }
        let preference = match self.config().backend {
            SandboxBackend::Auto => Preference::Auto,
            SandboxBackend::Docker => Preference::Docker,
            SandboxBackend::Bubblewrap => Preference::Bubblewrap,
        };
        let backend = aetheria_sandbox::open(preference, &self.cache_dir()).await?;
        *slot = Some(backend.clone());
        Ok(backend)
    }

    fn limits(config: &SandboxConfig) -> Limits {
        Limits {
            memory_mib: config.memory_mib,
            pids: config.pids,
            cpus: config.cpus,
            ..Limits::default()
        }
    }

    /// The deadline for a run that asked for `requested` seconds.
    pub(crate) fn timeout(&self, requested: Option<u64>) -> Duration {
        let config = self.config();
        Duration::from_secs(
            requested
                .unwrap_or(config.timeout_secs)
                .clamp(1, config.max_timeout_secs),
        )
    }

    /// Whether the session's sandbox may reach the network.
    pub(crate) fn network(&self, key: &str) -> bool {
        self.network
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
            .unwrap_or(false)
    }

    /// Turns the session's network on or off; its sandbox is made again on the next run.
    pub(crate) async fn set_network(&self, key: &str, enabled: bool) {
        self.network
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned(), enabled);
        let old = self.slots.lock().await.remove(key);
        if let Some(old) = old
            && let Some(backend) = self.backend.lock().await.clone()
            && let Err(e) = backend.destroy(&old.id).await
        {
            tracing::warn!("removing a sandbox to change its network failed: {e}");
        }
    }

    /// Runs `request` in the session's sandbox, making it first when needed.
    pub(crate) async fn exec(
        &self,
        key: &str,
        request: ExecRequest,
        sink: Option<Sink>,
    ) -> Result<Ran, SandboxError> {
        let workspace = self.mount();
        let backend = self.backend().await?;
        let network = self.network(key);
        let look = |root: Option<PathBuf>| async move {
            match root {
                Some(root) => tokio::task::spawn_blocking(move || Snapshot::take(&root))
                    .await
                    .ok(),
                None => None,
            }
        };
        let before = look(workspace.clone()).await;
        let read_only = before.as_ref().map(Snapshot::protected).unwrap_or_default();
        let id = {
            let mut slots = self.slots.lock().await;
            let stale = slots.get(key).is_some_and(|s| {
                s.network != network || s.workspace != workspace || s.read_only != read_only
            });
            if stale && let Some(old) = slots.remove(key) {
                let _ = backend.destroy(&old.id).await;
            }
            match slots.get_mut(key) {
                Some(slot) => {
                    slot.last_used = Instant::now();
                    slot.running = true;
                    slot.active += 1;
                    slot.id.clone()
                }
                None => {
                    let config = self.config();
                    let spec = Spec {
                        name: key.to_owned(),
                        workspace: workspace.clone(),
                        read_only: read_only.clone(),
                        network: self.network_for(network)?,
                        limits: Self::limits(&config),
                    };
                    let id = backend.create(&spec).await?;
                    slots.insert(
                        key.to_owned(),
                        Slot {
                            id: id.clone(),
                            last_used: Instant::now(),
                            running: true,
                            active: 1,
                            network,
                            workspace: workspace.clone(),
                            read_only,
                        },
                    );
                    id
                }
            }
        };
        let started = Instant::now();
        let growth = self.config().workspace_growth_mib.saturating_mul(1 << 20);
        let exec = backend.exec(&id, request, sink);
        let watch = async {
            // Looks at the folder every second while the run lasts; returns once it grew past
            // the limit (never when there is no folder).
            let (Some(before), Some(root)) = (&before, &workspace) else {
                return std::future::pending::<u64>().await;
            };
            // A big folder takes long to look at: the look never takes more than a fifth of
            // the time.
            let mut pause = WATCH_EVERY;
            loop {
                tokio::time::sleep(pause).await;
                let looked = Instant::now();
                let now = look(Some(root.clone())).await;
                pause = WATCH_EVERY.max(looked.elapsed() * 4);
                if let Some(now) = now {
                    let grown = now.bytes().saturating_sub(before.bytes());
                    if grown > growth {
                        return grown;
                    }
                }
            }
        };
        let (outcome, stopped) = tokio::select! {
            outcome = exec => (outcome, None),
            grown = watch => {
                // The run is abandoned and its processes stopped with the sandbox's.
                if let Err(e) = backend.stop(&id).await {
                    tracing::warn!(%id, "stopping a run that filled the workspace failed: {e}");
                }
                (Ok(stopped_outcome(started.elapsed())), Some(grown))
            }
        };
        if let Some(slot) = self.slots.lock().await.get_mut(key) {
            slot.last_used = Instant::now();
            slot.active = slot.active.saturating_sub(1);
        }
        let outcome = outcome?;
        // Every process of the run has ended (the runner kills them): the folder is still.
        let changes = match (before, look(workspace.clone()).await, workspace) {
            (Some(before), Some(after), Some(root)) => {
                let mut changes = Changes::between(&before, &after);
                tokio::task::spawn_blocking(move || {
                    changes.set_aside(&root);
                    changes
                })
                .await
                .ok()
            }
            _ => None,
        };
        let changes = changes.map(|mut c| {
            c.stopped_at = stopped.map(|grown| (grown, growth));
            c
        });
        Ok(Ran {
            outcome,
            backend: backend.backend(),
            changes,
        })
    }

    /// Removes the sandbox of `key` (a finished or cancelled job's), killing what runs in it.
    pub(crate) async fn discard(&self, key: &str) {
        let old = self.slots.lock().await.remove(key);
        if let Some(old) = old
            && let Some(backend) = self.backend.lock().await.clone()
            && let Err(e) = backend.destroy(&old.id).await
        {
            tracing::warn!("removing the sandbox of {key} failed: {e}");
        }
    }

    /// Stops sandboxes idle for longer than the configured time; returns how many.
    pub(crate) async fn stop_idle(&self) -> usize {
        let idle = Duration::from_secs(self.config().idle_stop_secs);
        let Some(backend) = self.backend.lock().await.clone() else {
            return 0;
        };
        let mut stopped = 0;
        let mut slots = self.slots.lock().await;
        for slot in slots.values_mut() {
            if slot.running && slot.active == 0 && slot.last_used.elapsed() >= idle {
                match backend.stop(&slot.id).await {
                    Ok(()) => {
                        slot.running = false;
                        stopped += 1;
                    }
                    Err(e) => tracing::warn!(id = %slot.id, "stopping an idle sandbox failed: {e}"),
                }
            }
        }
        stopped
    }

    /// Removes every sandbox this engine made.
    pub(crate) async fn shutdown(&self) {
        let Some(backend) = self.backend.lock().await.clone() else {
            return;
        };
        let slots: Vec<Slot> = self.slots.lock().await.drain().map(|(_, s)| s).collect();
        for slot in slots {
            if let Err(e) = backend.destroy(&slot.id).await {
                tracing::warn!(id = %slot.id, "removing a sandbox at exit failed: {e}");
            }
        }
    }

    /// Which backend runs code, and whether its image is ready.
    pub(crate) async fn status(&self) -> SandboxStatus {
        let image = image::image_ref();
        let cache = self.cache_dir();
        let rootfs = image::rootfs_tar(&cache).exists();
        match self.backend().await {
            Ok(backend) => {
                let kind = backend.backend();
                let ready = match kind {
                    aetheria_sandbox::Backend::Docker => {
                        match aetheria_sandbox::connect_docker().await {
                            Ok(docker) => image::image_exists(&docker).await.unwrap_or(false),
                            Err(_) => false,
                        }
                    }
                    aetheria_sandbox::Backend::Bubblewrap => true,
                };
                let detail = match (kind, ready) {
                    (aetheria_sandbox::Backend::Docker, true) => {
                        format!("code runs in Docker containers from {image}")
                    }
                    (aetheria_sandbox::Backend::Docker, false) => format!(
                        "Docker answers but the image {image} is missing: build it (`aetheria sandbox build-image`)"
                    ),
                    _ => "no Docker engine answers; code runs under bubblewrap on this host".into(),
                };
                SandboxStatus {
                    backend: Some(kind.to_string()),
                    ready,
                    image,
                    rootfs_cached: rootfs,
                    detail,
                }
            }
            Err(e) => {
                *self.backend.lock().await = None;
                SandboxStatus {
                    backend: None,
                    ready: false,
                    image,
                    rootfs_cached: rootfs,
                    detail: e.to_string(),
                }
            }
        }
    }

    /// Builds the image (Docker) or the root filesystem (bubblewrap), reporting progress.
    pub(crate) async fn build_image(
        &self,
        progress: &mut (dyn FnMut(image::Progress) + Send),
    ) -> Result<String, SandboxError> {
        let cache = self.cache_dir();
        let docker = if self.config().backend == SandboxBackend::Bubblewrap {
            None
        } else {
            aetheria_sandbox::connect_docker().await.ok()
        };
        let result = match docker {
            Some(docker) => image::build_image(&docker, &cache, progress).await,
            None => {
                image::build_rootfs(&cache, progress).await?;
                let dir = image::unpacked_rootfs(&cache).await?;
                progress(image::Progress::Done {
                    image: dir.display().to_string(),
                });
                Ok(dir.display().to_string())
            }
        };
        // The next run opens the backend again and finds the new image.
        *self.backend.lock().await = None;
        result
    }

    /// Every Aetheria sandbox the backend can see (also other processes' and crashed ones').
    pub(crate) async fn list(&self) -> Result<Vec<SandboxSummary>, SandboxError> {
        let backend = self.backend().await?;
        let kind = backend.backend().to_string();
        Ok(backend
            .list()
            .await?
            .into_iter()
            .map(|s| SandboxSummary {
                id: s.id.0,
                name: s.name,
                running: s.running,
                status: s.status,
                backend: kind.clone(),
            })
            .collect())
    }

    /// Removes the named sandboxes (all when `ids` is empty); returns the removed ids.
    pub(crate) async fn remove(&self, ids: &[String]) -> Result<Vec<String>, SandboxError> {
        let backend = self.backend().await?;
        let targets: Vec<String> = if ids.is_empty() {
            backend.list().await?.into_iter().map(|s| s.id.0).collect()
        } else {
            let known = backend.list().await?;
            let mut out = Vec::new();
            for want in ids {
                let found = known.iter().find(|s| {
                    &s.id.0 == want || (want.len() >= 4 && s.id.0.starts_with(want.as_str()))
                });
                match found {
                    Some(s) => out.push(s.id.0.clone()),
                    None => return Err(SandboxError::NotFound(want.clone())),
                }
            }
            out
        };
        for id in &targets {
            backend.destroy(&SandboxId(id.clone())).await?;
        }
        self.slots
            .lock()
            .await
            .retain(|_, slot| !targets.contains(&slot.id.0));
        Ok(targets)
    }
}
