//! The embedded backend: jobs are records in SurrealDB, claimed by a conditional update with a
//! lease. A job whose lease ran out (its worker or the whole app died) is claimed again, so
//! pending jobs run after a restart.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::json;

use super::schedule::Schedule;
use super::{Delivery, JobRecord, JobSpec, Queue, QueueError, QueueResult, backoff};
use crate::api::JobId;
use crate::store::Store;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn err(e: impl std::fmt::Display) -> QueueError {
    QueueError(e.to_string())
}

/// A queue in the app's own database.
pub struct EmbeddedQueue {
    store: Store,
    lease: Duration,
    /// Wakes the claims waiting on this queue when a job is submitted or put back through it. A
    /// retry coming due or a lease running out wakes them when it does; a job another process
    /// queued on a shared server is found when a claim's wait ends.
    submitted: tokio::sync::Notify,
    /// Other processes may queue jobs (the database is a server): idle claims look often.
    shared: bool,
}

impl EmbeddedQueue {
    /// A queue on `store`; a claim lasts `lease` without a heartbeat.
    #[must_use]
    pub(crate) fn new(store: Store, lease: Duration) -> Self {
        Self {
            shared: store.is_shared(),
            store,
            lease,
            submitted: tokio::sync::Notify::new(),
        }
    }

    /// When the next job comes due or a running one's lease runs out, if any does.
    async fn next_due_ms(&self) -> QueueResult<Option<i64>> {
        let queued = self
            .one(
                "SELECT VALUE due_ms FROM job WHERE state = 'queued' ORDER BY due_ms LIMIT 1",
                json!({}),
            )
            .await?;
        let leased = self
            .one(
                "SELECT VALUE lease_ms FROM job WHERE state = 'running' ORDER BY lease_ms LIMIT 1",
                json!({}),
            )
            .await?;
        Ok([queued, leased]
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_i64())
            .min())
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(10_000)
    }

    async fn one(
        &self,
        sql: &str,
        vars: serde_json::Value,
    ) -> QueueResult<Option<serde_json::Value>> {
        Ok(self
            .store
            .rows(sql, vars)
            .await
            .map_err(err)?
            .into_iter()
            .next())
    }
}

fn record(row: &serde_json::Value) -> QueueResult<JobRecord> {
    let spec: JobSpec = serde_json::from_value(row["spec"].clone()).map_err(err)?;
    Ok(JobRecord {
        spec,
        state: serde_json::from_value(row["state"].clone()).map_err(err)?,
        attempts: row["attempts"]
            .as_u64()
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(0),
        progress: row["progress"].as_str().unwrap_or("").to_owned(),
        result: row["result"].as_str().unwrap_or("").to_owned(),
        error: row["error"].as_str().unwrap_or("").to_owned(),
    })
}

impl Queue for EmbeddedQueue {
    fn idle_wait(&self) -> Duration {
        // Alone on its database, it is woken by what it is given and knows when the rest comes
        // due; on a shared server, others' jobs are found by looking.
        if self.shared {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(300)
        }
    }

    fn visibility(&self) -> Duration {
        self.lease
    }

    fn submit<'a>(&'a self, spec: &'a JobSpec) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            if self
                .one(
                    "SELECT uid FROM job WHERE uid = $uid",
                    json!({"uid": spec.id}),
                )
                .await?
                .is_some()
            {
                return Ok(());
            }
            self.store
                .exec(
                    "CREATE job CONTENT { uid: $uid, spec: $spec, state: 'queued', attempts: 0, due_ms: $now, lease_ms: 0, created_ms: $now }",
                    json!({"uid": spec.id, "spec": spec, "now": now_ms()}),
                )
                .await
                .map_err(err)?;
            self.submitted.notify_waiters();
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, QueueResult<Option<Delivery>>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                // Listening before looking: a job submitted after the look still wakes this claim.
                let submitted = self.submitted.notified();
                tokio::pin!(submitted);
                submitted.as_mut().enable();
                let now = now_ms();
                let due = "(state = 'queued' AND due_ms <= $now) OR (state = 'running' AND lease_ms < $now)";
                let candidate = self
                    .one(
                        &format!(
                            "SELECT VALUE uid FROM job WHERE {due} ORDER BY created_ms LIMIT 1"
                        ),
                        json!({"now": now}),
                    )
                    .await?;
                // The update re-checks the condition, so two claimers never both get a job (a
                // write conflict between them counts as "not claimed").
                let found = candidate.is_some();
                let claimed = match candidate {
                    Some(uid) => self
                        .one(
                            &format!(
                                "UPDATE job SET state = 'running', worker = $worker, lease_ms = $until, attempts += 1 \
                                 WHERE uid = $uid AND ({due}) RETURN AFTER"
                            ),
                            json!({"uid": uid, "worker": worker, "until": now + self.lease_ms(), "now": now}),
                        )
                        .await
                        .unwrap_or(None),
                    None => None,
                };
                if let Some(row) = claimed {
                    let record = match record(&row) {
                        Ok(record) => record,
                        // Damaged (or written by someone else): set aside as dead, never run
                        // and never handed out again.
                        Err(e) => {
                            tracing::warn!(uid = %row["uid"], %e, "a damaged job record was dead-lettered");
                            self.store
                                .exec(
                                    "UPDATE job SET state = 'dead', error = $error WHERE uid = $uid",
                                    json!({"uid": row["uid"], "error": format!("the job record is damaged: {e}")}),
                                )
                                .await
                                .map_err(err)?;
                            continue;
                        }
                    };
                    return Ok(Some(Delivery {
                        token: worker.to_owned(),
                        attempt: record.attempts,
                        spec: record.spec,
                    }));
                }
                // Another claimer took that job: another may be waiting, look again at once.
                if found && tokio::time::Instant::now() < deadline {
                    continue;
                }
                // Asleep until a job is submitted, the next one comes due (a retry, a lease that
                // runs out) or the wait ends: an idle app does not query its database.
                let wake = match self.next_due_ms().await? {
                    Some(due) => {
                        let ms = u64::try_from(due.saturating_sub(now_ms()).max(0)).unwrap_or(0);
                        deadline.min(tokio::time::Instant::now() + Duration::from_millis(ms + 1))
                    }
                    None => deadline,
                };
                tokio::select! {
                    () = submitted => {}
                    () = tokio::time::sleep_until(wake) => {
                        if wake >= deadline {
                            return Ok(None);
                        }
                    }
                }
            }
        })
    }

    fn heartbeat<'a>(
        &'a self,
        delivery: &'a Delivery,
        progress: &'a str,
    ) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let row = self
                .one(
                    "UPDATE job SET lease_ms = $until, progress = $progress WHERE uid = $uid AND state = 'running' RETURN AFTER",
                    json!({"uid": delivery.spec.id, "until": now_ms() + self.lease_ms(), "progress": progress}),
                )
                .await?;
            Ok(row.is_some())
        })
    }

    fn complete<'a>(
        &'a self,
        delivery: &'a Delivery,
        result: &'a str,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            self.store
                .exec(
                    "UPDATE job SET state = 'done', result = $result WHERE uid = $uid AND state = 'running'",
                    json!({"uid": delivery.spec.id, "result": result}),
                )
                .await
                .map_err(err)
        })
    }

    fn fail<'a>(
        &'a self,
        delivery: &'a Delivery,
        error: &'a str,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let (state, due) = if delivery.attempt >= delivery.spec.max_attempts {
                ("dead", 0)
            } else {
                (
                    "queued",
                    now_ms()
                        + i64::try_from(backoff(delivery.attempt).as_millis()).unwrap_or(60_000),
                )
            };
            self.store
                .exec(
                    "UPDATE job SET state = $state, error = $error, due_ms = $due WHERE uid = $uid AND state = 'running'",
                    json!({"uid": delivery.spec.id, "state": state, "error": error, "due": due}),
                )
                .await
                .map_err(err)?;
            // A retry is due later: the waiting claims learn when.
            self.submitted.notify_waiters();
            Ok(())
        })
    }

    fn cancel<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let row = self
                .one(
                    "UPDATE job SET state = 'cancelled' WHERE uid = $uid AND state IN ['queued', 'running'] RETURN AFTER",
                    json!({"uid": id}),
                )
                .await?;
            Ok(row.is_some())
        })
    }

    fn get<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, QueueResult<Option<JobRecord>>> {
        Box::pin(async move {
            self.one("SELECT * FROM job WHERE uid = $uid", json!({"uid": id}))
                .await?
                .map(|row| record(&row))
                .transpose()
        })
    }

    fn add_schedule<'a>(&'a self, schedule: &'a Schedule) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            self.store
                .exec(
                    "CREATE schedule CONTENT { uid: $uid, spec: $spec, fired: 0 }",
                    json!({"uid": schedule.id, "spec": schedule}),
                )
                .await
                .map_err(err)
        })
    }

    fn replace_schedule<'a>(&'a self, schedule: &'a Schedule) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let rows = self
                .store
                .rows(
                    "UPDATE schedule SET spec = $spec WHERE uid = $uid RETURN AFTER",
                    json!({"uid": schedule.id, "spec": schedule}),
                )
                .await
                .map_err(err)?;
            Ok(!rows.is_empty())
        })
    }

    fn remove_schedule<'a>(&'a self, id: &'a str) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let rows = self
                .store
                .rows(
                    "DELETE schedule WHERE uid = $uid RETURN BEFORE",
                    json!({"uid": id}),
                )
                .await
                .map_err(err)?;
            Ok(!rows.is_empty())
        })
    }

    fn schedules(&self) -> BoxFuture<'_, QueueResult<Vec<Schedule>>> {
        Box::pin(async move {
            Ok(self
                .store
                .rows("SELECT VALUE spec FROM schedule", json!({}))
                .await
                .map_err(err)?
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect())
        })
    }

    fn fire<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let row = self
                .one(
                    "UPDATE schedule SET fired = $at WHERE uid = $uid AND fired < $at RETURN AFTER",
                    json!({"uid": id, "at": at}),
                )
                .await?;
            Ok(row.is_some())
        })
    }

    fn list(&self, limit: usize) -> BoxFuture<'_, QueueResult<Vec<JobRecord>>> {
        Box::pin(async move {
            self.store
                .rows(
                    "SELECT * FROM job ORDER BY created_ms DESC LIMIT $n",
                    json!({"n": limit}),
                )
                .await
                .map_err(err)?
                .iter()
                .map(record)
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::jobs::JobKind;

    /// A claim waiting on an idle queue sleeps until its wait ends, and a job submitted meanwhile
    /// wakes it: it gets the job at once, not an hour later.
    #[tokio::test]
    async fn a_waiting_claim_is_woken_by_a_submitted_job() {
        let store = Store::open("mem://").await.unwrap();
        let queue = Arc::new(EmbeddedQueue::new(store, Duration::from_secs(10)));
        assert!(
            queue
                .claim("idle", Duration::from_millis(200))
                .await
                .unwrap()
                .is_none()
        );
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.claim("w", Duration::from_secs(3600)).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the claim did not wait");
        let spec = JobSpec::new(JobKind::Wait {
            millis: 1,
            fail_first: 0,
        });
        queue.submit(&spec).await.unwrap();
        let claimed = tokio::time::timeout(Duration::from_secs(60), waiting)
            .await
            .expect("the submitted job did not wake the claim")
            .unwrap()
            .unwrap();
        assert_eq!(claimed.map(|d| d.spec.id), Some(spec.id));
    }

    /// A claim on an idle queue sleeps past a job that is not due yet, and wakes when it comes
    /// due (a retry's backoff), not when its long wait ends.
    #[tokio::test]
    async fn a_waiting_claim_wakes_when_a_retry_comes_due() {
        let store = Store::open("mem://").await.unwrap();
        let queue = Arc::new(EmbeddedQueue::new(store, Duration::from_secs(10)));
        let spec = JobSpec::new(JobKind::Noop);
        queue.submit(&spec).await.unwrap();
        let first = queue
            .claim("w", Duration::from_secs(1))
            .await
            .unwrap()
            .unwrap();
        // Failed once: queued again, due after its backoff (1 s).
        queue.fail(&first, "once").await.unwrap();
        let started = tokio::time::Instant::now();
        let again = tokio::time::timeout(
            Duration::from_secs(120),
            queue.claim("w", Duration::from_secs(3600)),
        )
        .await
        .expect("the claim slept through the retry")
        .unwrap();
        assert_eq!(again.map(|d| d.spec.id), Some(spec.id));
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "claimed before it was due"
        );
    }

    /// A record that does not parse (written by another version, or by someone with the
    /// database) is dead-lettered once, not handed out for ever; the good job behind it runs.
    #[tokio::test]
    async fn a_damaged_record_is_dead_lettered_once() {
        let store = Store::open("mem://").await.unwrap();
        let queue = EmbeddedQueue::new(store.clone(), Duration::from_millis(50));
        let good = JobSpec::new(JobKind::Noop);
        queue.submit(&good).await.unwrap();
        let bad = JobSpec::new(JobKind::Noop);
        queue.submit(&bad).await.unwrap();
        store
            .exec(
                "UPDATE job SET spec = { kind: 'format_disk', id: 1 }, created_ms = 0 WHERE uid = $uid",
                json!({"uid": bad.id.as_str()}),
            )
            .await
            .unwrap();
        let first = queue.claim("w", Duration::from_millis(100)).await.unwrap();
        assert_eq!(first.map(|d| d.spec.id), Some(good.id));
        // Past the lease, nothing comes back: the damaged one is dead, not running.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let rows = store
            .rows(
                "SELECT state, error FROM job WHERE uid = $uid",
                json!({"uid": bad.id.as_str()}),
            )
            .await
            .unwrap();
        assert_eq!(rows[0]["state"], "dead", "{rows:?}");
        assert!(
            rows[0]["error"].as_str().unwrap().contains("damaged"),
            "{rows:?}"
        );
    }
}
