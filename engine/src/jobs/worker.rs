//! The worker loop: `concurrency` slots, each claiming a job, running it with a heartbeat (which
//! also notices a cancel), then completing or failing it. `aetheria worker` runs this; so does
//! the app for the embedded queue.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Delivery, JobKind, Queue, QueueResult};

/// Runs jobs from a queue until told to stop.
pub struct Worker {
    /// One queue per slot (a Redis queue holds one connection, and a slot blocks on it).
    pub queues: Vec<Arc<dyn Queue>>,
    /// This worker's name (unique per process).
    pub name: String,
}

impl Worker {
    /// Runs until `stop` is cancelled; slots finish the job they hold first.
    pub async fn run(self, stop: CancellationToken) {
        let mut slots = tokio::task::JoinSet::new();
        for (i, queue) in self.queues.into_iter().enumerate() {
            let name = format!("{}-{i}", self.name);
            let stop = stop.clone();
            slots.spawn(async move {
                while !stop.is_cancelled() {
                    let claimed = tokio::select! {
                        () = stop.cancelled() => break,
                        claimed = queue.claim(&name, Duration::from_millis(500)) => claimed,
                    };
                    match claimed {
                        Ok(Some(delivery)) => {
                            if let Err(e) = handle(queue.as_ref(), &delivery).await {
                                tracing::warn!(job = %delivery.spec.id, "the queue failed while finishing a job: {e}");
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!("claiming a job failed: {e}; trying again");
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    }
                }
            });
        }
        while slots.join_next().await.is_some() {}
    }
}

/// Runs one delivery with a heartbeat, then records how it went.
async fn handle(queue: &dyn Queue, delivery: &Delivery) -> QueueResult<()> {
    let cancelled = CancellationToken::new();
    let progress = std::sync::Mutex::new(String::new());
    let beat = async {
        loop {
            tokio::time::sleep(queue.visibility() / 3).await;
            let note = progress.lock().map(|p| p.clone()).unwrap_or_default();
            match queue.heartbeat(delivery, &note).await {
                Ok(true) => {}
                Ok(false) => {
                    cancelled.cancel();
                    return;
                }
                Err(e) => tracing::warn!("heartbeat failed: {e}"),
            }
        }
    };
    let outcome = tokio::select! {
        outcome = run_job(delivery, &cancelled, &progress) => outcome,
        () = beat => Err("cancelled".to_owned()),
    };
    match outcome {
        Ok(result) => queue.complete(delivery, &result).await,
        Err(_) if cancelled.is_cancelled() => Ok(()),
        Err(error) => queue.fail(delivery, &error).await,
    }
}

/// Does what a job says; its result text, or why it failed.
pub async fn run_job(
    delivery: &Delivery,
    cancelled: &CancellationToken,
    progress: &std::sync::Mutex<String>,
) -> Result<String, String> {
    match &delivery.spec.kind {
        JobKind::Noop => Ok("done".into()),
        JobKind::Wait { millis, fail_first } => {
            if delivery.attempt <= *fail_first {
                return Err(format!("attempt {} fails on purpose", delivery.attempt));
            }
            let step = Duration::from_millis((*millis / 10).max(1));
            for i in 1..=10 {
                tokio::select! {
                    () = cancelled.cancelled() => return Err("cancelled".into()),
                    () = tokio::time::sleep(step) => {}
                }
                if let Ok(mut p) = progress.lock() {
                    *p = format!("{}%", i * 10);
                }
            }
            Ok(format!("waited {millis} ms"))
        }
    }
}
