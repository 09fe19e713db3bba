//! Background jobs: one `Queue` trait with two backends — Redis Streams (`redis`, when `redis_url`
//! is set: consumer groups, acknowledgement, reclaiming a dead worker's jobs after a visibility
//! timeout, retries with backoff, a dead-letter stream) and an embedded queue in SurrealDB
//! (`embedded`, one machine, survives restarts) — and the worker loop that runs jobs (`worker`).
//! Jobs may run twice (a worker killed after finishing but before acknowledging); the kinds here
//! are idempotent, and a finished job is never run again.

mod embedded;
mod redis;
pub mod schedule;
mod worker;

use std::time::Duration;

use futures::future::BoxFuture;

pub use self::embedded::EmbeddedQueue;
pub use self::redis::RedisQueue;
pub use self::worker::Worker;
use crate::api::JobId;
pub use crate::api::jobs::{JobKind, JobRecord, JobSpec, JobState, MAX_ATTEMPTS};

/// How long a claimed job stays invisible to other workers without a heartbeat.
pub const VISIBILITY: Duration = Duration::from_secs(10);

/// This process's worker: `jobs.concurrency` slots on the configured queue (Redis: one
/// connection per slot), running jobs with this engine, until the engine shuts down. A queue that
/// cannot be reached is tried again every 5 s.
pub(crate) async fn run_worker(services: std::sync::Arc<crate::services::Services>) {
    let config = services.config();
    let slots = config.jobs.concurrency.clamp(1, 64);
    let mut queues: Vec<std::sync::Arc<dyn Queue>> = Vec::new();
    while queues.len() < slots {
        let queue: Result<std::sync::Arc<dyn Queue>, QueueError> = match &config.redis_url {
            Some(url) => RedisQueue::connect(url, services.job_visibility())
                .await
                .map(|q| std::sync::Arc::new(q) as std::sync::Arc<dyn Queue>),
            None => services.jobs().await,
        };
        match queue {
            Ok(queue) => queues.push(queue),
            Err(e) => {
                tracing::warn!("the job queue is not reachable ({e}); trying again in 5 s");
                tokio::select! {
                    () = services.shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    }
    let name = format!(
        "{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "aetheria".into()),
        std::process::id()
    );
    // Scheduled prompts: every process that runs jobs looks when the next one comes due (and at
    // least every `schedule::RELOAD`, for schedules other processes made; at once when this
    // engine changes one); each occurrence is fired by exactly one of them.
    let ticking = queues[0].clone();
    let ticker = services.clone();
    tokio::spawn(async move {
        loop {
            let now = chrono::Utc::now();
            let next = match schedule::tick(ticking.as_ref(), now).await {
                Ok((made, next)) => {
                    for id in made {
                        if let Ok(Some(job)) = ticking.get(&id).await {
                            ticker.emit(crate::api::Event::JobUpdated { job });
                        }
                    }
                    next
                }
                Err(e) => {
                    tracing::warn!("scheduled prompts: {e}");
                    None
                }
            };
            let wait = schedule::wait_until(next, chrono::Utc::now());
            tokio::select! {
                () = ticker.shutdown.cancelled() => return,
                () = ticker.schedules_changed.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    });
    Worker::new(queues, name)
        .with_engine(services.clone())
        .run(services.shutdown.clone())
        .await;
}

/// A job a worker holds.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The job.
    pub spec: JobSpec,
    /// This attempt's number (from 1).
    pub attempt: u32,
    /// The backend's handle of this delivery (a stream entry id, a lease).
    pub token: String,
}

/// Why the queue failed.
#[derive(Debug, thiserror::Error)]
#[error("job queue: {0}")]
pub struct QueueError(pub String);

/// The queue result.
pub type QueueResult<T> = Result<T, QueueError>;

/// The delay before retry `attempt` (1-based): 1 s, 2 s, 4 s … at most 60 s.
#[must_use]
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// A job queue; both backends speak it.
pub trait Queue: Send + Sync {
    /// How long a claimed job may go without a heartbeat before another worker takes it.
    fn visibility(&self) -> Duration;
    /// How long an idle worker's claim waits before it looks again. A queue that knows when its
    /// next job comes due (one process, woken by its own submissions) waits long; one that other
    /// processes fill looks often.
    fn idle_wait(&self) -> Duration {
        Duration::from_millis(500)
    }
    /// Adds a job (a known id is not added twice).
    fn submit<'a>(&'a self, spec: &'a JobSpec) -> BoxFuture<'a, QueueResult<()>>;
    /// Claims the next job for `worker`: a due one, or one whose worker stopped answering;
    /// waits up to `wait` for one.
    fn claim<'a>(
        &'a self,
        worker: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, QueueResult<Option<Delivery>>>;
    /// Keeps a claimed job from being reclaimed, saving progress; `false` when it was cancelled.
    fn heartbeat<'a>(
        &'a self,
        delivery: &'a Delivery,
        progress: &'a str,
    ) -> BoxFuture<'a, QueueResult<bool>>;
    /// Finishes a job with its result.
    fn complete<'a>(
        &'a self,
        delivery: &'a Delivery,
        result: &'a str,
    ) -> BoxFuture<'a, QueueResult<()>>;
    /// Finishes a job and, where the backend can do both in one step, claims the next one for
    /// `worker` without waiting (as a busy worker would next): `None` when there is none or the
    /// backend does not (the worker then claims as usual).
    fn complete_and_claim<'a>(
        &'a self,
        delivery: &'a Delivery,
        result: &'a str,
        worker: &'a str,
    ) -> BoxFuture<'a, QueueResult<Option<Delivery>>> {
        let _ = worker;
        Box::pin(async move { self.complete(delivery, result).await.map(|()| None) })
    }
    /// Fails an attempt: retried after a backoff, or dead-lettered after `max_attempts`.
    fn fail<'a>(&'a self, delivery: &'a Delivery, error: &'a str)
    -> BoxFuture<'a, QueueResult<()>>;
    /// Cancels a job (a running one stops at its next heartbeat); `false` when unknown or final.
    fn cancel<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, QueueResult<bool>>;
    /// One job.
    fn get<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, QueueResult<Option<JobRecord>>>;
    /// The newest jobs.
    fn list(&self, limit: usize) -> BoxFuture<'_, QueueResult<Vec<JobRecord>>>;
    /// Keeps a schedule.
    fn add_schedule<'a>(
        &'a self,
        schedule: &'a schedule::Schedule,
    ) -> BoxFuture<'a, QueueResult<()>>;
    /// Replaces a kept schedule by `schedule` (same id); `false` when there was none.
    fn replace_schedule<'a>(
        &'a self,
        schedule: &'a schedule::Schedule,
    ) -> BoxFuture<'a, QueueResult<bool>>;
    /// Drops a schedule; `false` when there was none.
    fn remove_schedule<'a>(&'a self, id: &'a str) -> BoxFuture<'a, QueueResult<bool>>;
    /// Every schedule.
    fn schedules(&self) -> BoxFuture<'_, QueueResult<Vec<schedule::Schedule>>>;
    /// Claims one occurrence (Unix seconds) of a schedule: `true` for exactly one caller.
    fn fire<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, QueueResult<bool>>;
}
