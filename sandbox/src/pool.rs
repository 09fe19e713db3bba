//! The sandboxes of one backend: which exist, their specs and their live runners. One exec runs at
//! a time per sandbox; a sandbox whose runner died (stopped for idleness, killed, crashed) is started
//! again on its next use. The backend-specific part is the small `Host` trait.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::runner::Runner;
use crate::{
    Backend, ExecOutcome, ExecRequest, Sandbox, SandboxError, SandboxId, SandboxInfo, Sink, Spec,
};

/// What a backend must do: make, start, stop and remove sandboxes.
#[async_trait::async_trait]
pub trait Host: Send + Sync + 'static {
    /// The isolation this host provides.
    fn backend(&self) -> Backend;
    /// Makes a sandbox (not yet running) and names it.
    async fn make(&self, spec: &Spec) -> Result<SandboxId, SandboxError>;
    /// Starts the sandbox's runner (restarting the sandbox if it still runs) and connects to it.
    #[doc(hidden)]
    async fn launch(&self, id: &SandboxId, spec: &Spec) -> Result<RunnerHandle, SandboxError>;
    /// Stops everything running in the sandbox.
    async fn halt(&self, id: &SandboxId) -> Result<(), SandboxError>;
    /// Removes the sandbox.
    async fn remove(&self, id: &SandboxId) -> Result<(), SandboxError>;
    /// Every sandbox this host can see.
    async fn list(&self) -> Result<Vec<SandboxInfo>, SandboxError>;
}

/// A connected runner (opaque outside this crate).
pub struct RunnerHandle(pub(crate) Runner);

struct Entry {
    spec: Spec,
    runner: Option<Runner>,
}

/// Sandboxes of one backend.
pub struct Pool<H: Host> {
    host: H,
    entries: Mutex<HashMap<SandboxId, Arc<Mutex<Entry>>>>,
}

impl<H: Host> Pool<H> {
    /// A pool on `host`.
    pub fn new(host: H) -> Self {
        Pool {
            host,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The backend-specific host.
    pub fn host(&self) -> &H {
        &self.host
    }

    async fn entry(&self, id: &SandboxId) -> Result<Arc<Mutex<Entry>>, SandboxError> {
        self.entries
            .lock()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| SandboxError::NotFound(id.to_string()))
    }

    async fn runner<'a>(
        &self,
        id: &SandboxId,
        entry: &'a mut Entry,
    ) -> Result<&'a mut Runner, SandboxError> {
        if entry.runner.is_none() {
            entry.runner = Some(self.host.launch(id, &entry.spec).await?.0);
        }
        entry
            .runner
            .as_mut()
            .ok_or_else(|| SandboxError::Runner("no runner".into()))
    }

    /// Runs `op` on the sandbox's runner; a runner failure stops the sandbox so the next use
    /// starts it fresh.
    async fn with_runner(&self, id: &SandboxId, op: Op<'_>) -> Result<Done, SandboxError> {
        let entry = self.entry(id).await?;
        let mut entry = entry.lock().await;
        let stream_bytes = entry.spec.limits.stream_bytes;
        let runner = self.runner(id, &mut entry).await?;
        let result = match op {
            Op::Exec(request, sink) => runner
                .exec(request, stream_bytes, sink)
                .await
                .map(|o| Done::Exec(Box::new(o))),
            Op::Put(path, data) => runner.put(path, data).await.map(|()| Done::Put),
            Op::Get(path) => runner.get(path).await.map(Done::Get),
        };
        let broken = entry.runner.as_ref().is_some_and(|r| r.broken);
        if broken || matches!(&result, Err(SandboxError::Runner(_))) {
            entry.runner = None;
            if let Err(e) = self.host.halt(id).await {
                tracing::warn!(%id, "stopping a stuck sandbox failed: {e}");
            }
        }
        result
    }
}

enum Op<'a> {
    Exec(ExecRequest, Option<Sink>),
    Put(&'a str, &'a [u8]),
    Get(&'a str),
}

enum Done {
    Exec(Box<ExecOutcome>),
    Put,
    Get(Vec<u8>),
}

fn unexpected() -> SandboxError {
    SandboxError::Runner("mismatched answer".into())
}

#[async_trait::async_trait]
impl<H: Host> Sandbox for Pool<H> {
    fn backend(&self) -> Backend {
        self.host.backend()
    }

    async fn create(&self, spec: &Spec) -> Result<SandboxId, SandboxError> {
        let id = self.host.make(spec).await?;
        let runner = match self.host.launch(&id, spec).await {
            Ok(runner) => runner.0,
            Err(e) => {
                if let Err(cleanup) = self.host.remove(&id).await {
                    tracing::warn!(%id, "removing a sandbox that failed to start: {cleanup}");
                }
                return Err(e);
            }
        };
        let entry = Entry {
            spec: spec.clone(),
            runner: Some(runner),
        };
        self.entries
            .lock()
            .await
            .insert(id.clone(), Arc::new(Mutex::new(entry)));
        Ok(id)
    }

    async fn exec(
        &self,
        id: &SandboxId,
        request: ExecRequest,
        sink: Option<Sink>,
    ) -> Result<ExecOutcome, SandboxError> {
        match self.with_runner(id, Op::Exec(request, sink)).await? {
            Done::Exec(outcome) => Ok(*outcome),
            _ => Err(unexpected()),
        }
    }

    async fn put_file(&self, id: &SandboxId, path: &str, data: &[u8]) -> Result<(), SandboxError> {
        match self.with_runner(id, Op::Put(path, data)).await? {
            Done::Put => Ok(()),
            _ => Err(unexpected()),
        }
    }

    async fn get_file(&self, id: &SandboxId, path: &str) -> Result<Vec<u8>, SandboxError> {
        match self.with_runner(id, Op::Get(path)).await? {
            Done::Get(data) => Ok(data),
            _ => Err(unexpected()),
        }
    }

    async fn stop(&self, id: &SandboxId) -> Result<(), SandboxError> {
        let entry = self.entry(id).await?;
        let mut entry = entry.lock().await;
        entry.runner = None;
        self.host.halt(id).await
    }

    async fn destroy(&self, id: &SandboxId) -> Result<(), SandboxError> {
        let entry = self.entries.lock().await.remove(id);
        if let Some(entry) = entry {
            // Waits for a running exec to finish its deadline only if it holds the lock; dropping
            // the runner closes its pipes either way.
            if let Ok(mut entry) = entry.try_lock() {
                entry.runner = None;
            }
        }
        self.host.remove(id).await
    }

    async fn list(&self) -> Result<Vec<SandboxInfo>, SandboxError> {
        self.host.list().await
    }
}
