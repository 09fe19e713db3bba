//! The Redis Streams backend. A job's record is a hash (`aetheria:job:ID`); the stream
//! `aetheria:jobs` carries its id to a consumer group. A worker claims with `XAUTOCLAIM` (entries a
//! dead worker left pending longer than the visibility timeout) or `XREADGROUP`; a heartbeat
//! (`XCLAIM … JUSTID`) keeps a long job its own. A failed attempt waits in the sorted set
//! `aetheria:jobs:delayed` until its backoff passes; after `max_attempts` it goes to the
//! `aetheria:jobs:dead` stream. Each queue holds one connection (a blocking read would stall a
//! shared one), which fred reconnects after Redis restarts.

use std::time::Duration;

use fred::prelude::{ClientLike, Value};
use fred::types::{ClusterHash, CustomCommand};
use futures::future::BoxFuture;

use super::schedule::Schedule;
use super::{Delivery, JobRecord, JobSpec, JobState, Queue, QueueError, QueueResult, backoff};
use crate::api::JobId;

const STREAM: &str = "aetheria:jobs";
const GROUP: &str = "workers";
const DELAYED: &str = "aetheria:jobs:delayed";
const DEAD: &str = "aetheria:jobs:dead";
/// How a record that does not parse is reported.
const DAMAGED: &str = "is damaged";
const INDEX: &str = "aetheria:jobs:index";
const SCHEDULES: &str = "aetheria:schedules";

fn key(id: &str) -> String {
    format!("aetheria:job:{id}")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn err(e: impl std::fmt::Display) -> QueueError {
    QueueError(e.to_string())
}

/// A queue on one Redis connection.
pub struct RedisQueue {
    client: fred::clients::Client,
    visibility: Duration,
}

impl RedisQueue {
    /// Connects (retrying forever in the background after a lost connection) and makes sure the
    /// stream and its consumer group exist.
    pub async fn connect(url: &str, visibility: Duration) -> QueueResult<Self> {
        refuse_open_remote(url)?;
        let config = fred::prelude::Config::from_url(url).map_err(err)?;
        let client = fred::types::Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
                c.max_command_attempts = 1000;
            })
            .set_policy(fred::prelude::ReconnectPolicy::new_constant(0, 200))
            .build()
            .map_err(err)?;
        client.init().await.map_err(|e| {
            let shown = crate::secrets::shown_url(url);
            QueueError(format!("cannot reach Redis at {shown}: {e}"))
        })?;
        let queue = Self { client, visibility };
        match queue
            .cmd(
                "XGROUP",
                vec![
                    Value::from("CREATE"),
                    STREAM.into(),
                    GROUP.into(),
                    "0".into(),
                    "MKSTREAM".into(),
                ],
            )
            .await
        {
            Ok(_) => {}
            Err(e) if e.0.contains("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
        Ok(queue)
    }

    async fn cmd(&self, name: &'static str, args: Vec<Value>) -> QueueResult<Value> {
        self.client
            .custom::<Value, Value>(
                CustomCommand::new_static(name, ClusterHash::FirstKey, false),
                args,
            )
            .await
            .map_err(err)
    }

    async fn hget(&self, id: &str, field: &str) -> QueueResult<Option<String>> {
        let v = self.cmd("HGET", vec![key(id).into(), field.into()]).await?;
        Ok(v.as_string())
    }

    async fn record(&self, id: &str) -> QueueResult<Option<JobRecord>> {
        let v = self.cmd("HGETALL", vec![key(id).into()]).await?;
        let pairs = v.into_array();
        if pairs.is_empty() {
            return Ok(None);
        }
        let mut map = std::collections::HashMap::new();
        for pair in pairs.chunks(2) {
            if let [k, v] = pair {
                map.insert(
                    k.as_string().unwrap_or_default(),
                    v.as_string().unwrap_or_default(),
                );
            }
        }
        let spec: JobSpec = match map.get("spec").map(|s| serde_json::from_str(s)) {
            Some(Ok(spec)) => spec,
            _ => return Err(QueueError(format!("job {id} {DAMAGED}"))),
        };
        let state = map
            .get("state")
            .and_then(|s| serde_json::from_value(serde_json::Value::String(s.clone())).ok())
            .unwrap_or(JobState::Queued);
        Ok(Some(JobRecord {
            spec,
            state,
            attempts: map
                .get("attempts")
                .and_then(|a| a.parse().ok())
                .unwrap_or(0),
            progress: map.remove("progress").unwrap_or_default(),
            result: map.remove("result").unwrap_or_default(),
            error: map.remove("error").unwrap_or_default(),
        }))
    }

    async fn set_state(
        &self,
        id: &str,
        state: JobState,
        extra: &[(&str, &str)],
    ) -> QueueResult<()> {
        let state = serde_json::to_value(state).map_err(err)?;
        let mut args: Vec<Value> = vec![
            key(id).into(),
            "state".into(),
            state.as_str().unwrap_or("queued").into(),
        ];
        for (k, v) in extra {
            args.push((*k).into());
            args.push((*v).into());
        }
        args.push("updated_ms".into());
        args.push(now_ms().into());
        self.cmd("HSET", args).await.map(|_| ())
    }

    /// Moves retries whose time has come back into the stream.
    async fn release_due(&self) -> QueueResult<()> {
        let due = self
            .cmd(
                "ZRANGEBYSCORE",
                vec![
                    DELAYED.into(),
                    "-inf".into(),
                    now_ms().into(),
                    "LIMIT".into(),
                    0.into(),
                    20.into(),
                ],
            )
            .await?
            .into_array();
        for id in due.iter().filter_map(Value::as_string) {
            // Added first, removed second: a crash in between gives a duplicate, never a loss.
            self.cmd(
                "XADD",
                vec![STREAM.into(), "*".into(), "id".into(), id.as_str().into()],
            )
            .await?;
            self.cmd("ZREM", vec![DELAYED.into(), id.as_str().into()])
                .await?;
        }
        Ok(())
    }

    /// A stream entry's job id: `[entry-id, [field, value, …]]`.
    fn entry(v: Value) -> Option<(String, String)> {
        let mut parts = v.into_array().into_iter();
        let entry = parts.next()?.as_string()?;
        let fields = parts.next()?.into_array();
        let id = fields.chunks(2).find_map(|pair| match pair {
            [k, v] if k.as_str().as_deref() == Some("id") => v.as_string(),
            _ => None,
        })?;
        Some((entry, id))
    }

    async fn ack(&self, entry: &str) -> QueueResult<()> {
        self.cmd("XACK", vec![STREAM.into(), GROUP.into(), entry.into()])
            .await?;
        self.cmd("XDEL", vec![STREAM.into(), entry.into()]).await?;
        Ok(())
    }

    /// Marks a job dead and adds it to the dead letters with why.
    async fn bury(&self, id: &str, error: &str) -> QueueResult<()> {
        self.set_state(id, JobState::Dead, &[("error", error)])
            .await?;
        self.cmd(
            "XADD",
            vec![
                DEAD.into(),
                "*".into(),
                "id".into(),
                id.into(),
                "error".into(),
                error.into(),
            ],
        )
        .await
        .map(|_| ())
    }

    /// Turns a claimed entry into a delivery, or acknowledges it when its job needs nothing more.
    async fn deliver(
        &self,
        worker: &str,
        entry: String,
        id: String,
    ) -> QueueResult<Option<Delivery>> {
        let record = match self.record(&id).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                self.ack(&entry).await?;
                return Ok(None);
            }
            // Damaged (or written by someone else): dead-lettered once, never redelivered.
            Err(e) if e.0.ends_with(DAMAGED) => {
                tracing::warn!(job = %id, "a damaged job record was dead-lettered");
                self.bury(&id, "the job record is damaged; it was set aside")
                    .await?;
                self.ack(&entry).await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if record.state.is_final() {
            self.ack(&entry).await?;
            return Ok(None);
        }
        let attempt = self
            .cmd(
                "HINCRBY",
                vec![key(&id).into(), "attempts".into(), 1.into()],
            )
            .await?
            .as_i64()
            .unwrap_or(1);
        self.set_state(&id, JobState::Running, &[("worker", worker)])
            .await?;
        Ok(Some(Delivery {
            spec: record.spec,
            attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            token: entry,
        }))
    }
}

/// Whoever can write to the queue chooses what this machine's workers do (within `jobs.allow`),
/// so a Redis off this machine must ask for a password: one reachable without is refused.
fn refuse_open_remote(url: &str) -> QueueResult<()> {
    let parsed =
        url::Url::parse(url).map_err(|e| QueueError(format!("{url:?} is not a Redis URL: {e}")))?;
    // (A redis:// URL's host is not parsed as an address by `url`: the host text is judged.)
    let local = parsed.host_str().is_none_or(crate::body::is_this_machine);
    if local || parsed.password().is_some() {
        return Ok(());
    }
    Err(QueueError(format!(
        "Redis at {} asks for no password; a queue off this machine that anyone on the network \
         can write to is refused (set a password: redis://:PASSWORD@host, better rediss:// too)",
        parsed.host_str().unwrap_or_default()
    )))
}

impl Queue for RedisQueue {
    fn visibility(&self) -> Duration {
        self.visibility
    }

    fn submit<'a>(&'a self, spec: &'a JobSpec) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let id = spec.id.as_str();
            let json = serde_json::to_string(spec).map_err(err)?;
            // HSETNX makes a second submit of the same id a no-op.
            let fresh = self
                .cmd("HSETNX", vec![key(id).into(), "spec".into(), json.into()])
                .await?;
            if fresh.as_i64() != Some(1) {
                return Ok(());
            }
            self.set_state(id, JobState::Queued, &[("attempts", "0")])
                .await?;
            self.cmd("ZADD", vec![INDEX.into(), now_ms().into(), id.into()])
                .await?;
            self.cmd(
                "XADD",
                vec![STREAM.into(), "*".into(), "id".into(), id.into()],
            )
            .await?;
            Ok(())
        })
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, QueueResult<Option<Delivery>>> {
        Box::pin(async move {
            self.release_due().await?;
            // A dead worker's entries first.
            let idle = i64::try_from(self.visibility.as_millis()).unwrap_or(i64::MAX);
            let reclaimed = self
                .cmd(
                    "XAUTOCLAIM",
                    vec![
                        STREAM.into(),
                        GROUP.into(),
                        worker.into(),
                        idle.into(),
                        "0-0".into(),
                        "COUNT".into(),
                        1.into(),
                    ],
                )
                .await?
                .into_array();
            if let Some(entries) = reclaimed.into_iter().nth(1)
                && let Some((entry, id)) = entries
                    .into_array()
                    .into_iter()
                    .next()
                    .and_then(Self::entry)
            {
                return self.deliver(worker, entry, id).await;
            }
            let block = i64::try_from(wait.as_millis()).unwrap_or(1000).max(1);
            let read = self
                .client
                .custom::<Value, Value>(
                    CustomCommand::new_static("XREADGROUP", ClusterHash::Random, true),
                    vec![
                        "GROUP".into(),
                        GROUP.into(),
                        worker.into(),
                        "COUNT".into(),
                        1.into(),
                        "BLOCK".into(),
                        block.into(),
                        "STREAMS".into(),
                        STREAM.into(),
                        ">".into(),
                    ],
                )
                .await
                .map_err(err)?;
            // [[stream, [[entry, fields]]]]
            let entry = read
                .into_array()
                .into_iter()
                .next()
                .and_then(|stream| stream.into_array().into_iter().nth(1))
                .and_then(|entries| entries.into_array().into_iter().next())
                .and_then(Self::entry);
            match entry {
                Some((entry, id)) => self.deliver(worker, entry, id).await,
                None => Ok(None),
            }
        })
    }

    fn heartbeat<'a>(
        &'a self,
        delivery: &'a Delivery,
        progress: &'a str,
    ) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let id = delivery.spec.id.as_str();
            if self.hget(id, "state").await?.as_deref() == Some("cancelled") {
                return Ok(false);
            }
            // Claiming it again resets its idle time, so XAUTOCLAIM leaves it alone.
            let worker = self.hget(id, "worker").await?.unwrap_or_default();
            self.cmd(
                "XCLAIM",
                vec![
                    STREAM.into(),
                    GROUP.into(),
                    worker.into(),
                    0.into(),
                    delivery.token.as_str().into(),
                    "JUSTID".into(),
                ],
            )
            .await?;
            self.cmd(
                "HSET",
                vec![key(id).into(), "progress".into(), progress.into()],
            )
            .await?;
            Ok(true)
        })
    }

    fn complete<'a>(
        &'a self,
        delivery: &'a Delivery,
        result: &'a str,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            self.set_state(
                delivery.spec.id.as_str(),
                JobState::Done,
                &[("result", result)],
            )
            .await?;
            self.ack(&delivery.token).await
        })
    }

    fn fail<'a>(
        &'a self,
        delivery: &'a Delivery,
        error: &'a str,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let id = delivery.spec.id.as_str();
            if delivery.attempt >= delivery.spec.max_attempts {
                self.bury(id, error).await?;
            } else {
                self.set_state(id, JobState::Queued, &[("error", error)])
                    .await?;
                let due = now_ms()
                    + i64::try_from(backoff(delivery.attempt).as_millis()).unwrap_or(60_000);
                self.cmd("ZADD", vec![DELAYED.into(), due.into(), id.into()])
                    .await?;
            }
            self.ack(&delivery.token).await
        })
    }

    fn cancel<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            match self.record(id.as_str()).await? {
                Some(record) if !record.state.is_final() => {
                    self.set_state(id.as_str(), JobState::Cancelled, &[])
                        .await?;
                    self.cmd("ZREM", vec![DELAYED.into(), id.as_str().into()])
                        .await?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    fn get<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, QueueResult<Option<JobRecord>>> {
        Box::pin(self.record(id.as_str()))
    }

    fn add_schedule<'a>(&'a self, schedule: &'a Schedule) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let json = serde_json::to_string(schedule).map_err(err)?;
            self.cmd(
                "HSET",
                vec![SCHEDULES.into(), schedule.id.as_str().into(), json.into()],
            )
            .await
            .map(|_| ())
        })
    }

    fn replace_schedule<'a>(&'a self, schedule: &'a Schedule) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            // Only over one that is kept: a schedule removed meanwhile stays removed.
            const REPLACE: &str = "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then \
                redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0";
            let json = serde_json::to_string(schedule).map_err(err)?;
            let replaced = self
                .cmd(
                    "EVAL",
                    vec![
                        REPLACE.into(),
                        1.into(),
                        SCHEDULES.into(),
                        schedule.id.as_str().into(),
                        json.into(),
                    ],
                )
                .await?;
            Ok(replaced.as_i64() == Some(1))
        })
    }

    fn remove_schedule<'a>(&'a self, id: &'a str) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let removed = self.cmd("HDEL", vec![SCHEDULES.into(), id.into()]).await?;
            Ok(removed.as_i64() == Some(1))
        })
    }

    fn schedules(&self) -> BoxFuture<'_, QueueResult<Vec<Schedule>>> {
        Box::pin(async move {
            let values = self
                .cmd("HVALS", vec![SCHEDULES.into()])
                .await?
                .into_array();
            Ok(values
                .iter()
                .filter_map(Value::as_string)
                .filter_map(|s| serde_json::from_str(&s).ok())
                .collect())
        })
    }

    fn fire<'a>(&'a self, id: &'a str, at: i64) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            // SET NX: the first process to see this occurrence takes it; kept a day.
            let set = self
                .cmd(
                    "SET",
                    vec![
                        format!("aetheria:schedule:{id}:{at}").into(),
                        "1".into(),
                        "NX".into(),
                        "EX".into(),
                        86_400.into(),
                    ],
                )
                .await?;
            Ok(!matches!(set, Value::Null))
        })
    }

    fn list(&self, limit: usize) -> BoxFuture<'_, QueueResult<Vec<JobRecord>>> {
        Box::pin(async move {
            let stop = i64::try_from(limit).unwrap_or(100).max(1) - 1;
            let ids = self
                .cmd("ZREVRANGE", vec![INDEX.into(), 0.into(), stop.into()])
                .await?
                .into_array();
            let mut out = Vec::new();
            for id in ids.iter().filter_map(Value::as_string) {
                if let Some(record) = self.record(&id).await? {
                    out.push(record);
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_redis_without_a_password_is_refused() {
        for open in [
            "redis://10.0.0.5:6379",
            "redis://queue.lan/0",
            "rediss://[2001:db8::1]:6380",
        ] {
            let refused = refuse_open_remote(open).unwrap_err().0;
            assert!(
                refused.contains("asks for no password"),
                "{open}: {refused}"
            );
        }
        for fine in [
            "redis://127.0.0.1:6379",
            "redis://localhost/0",
            "redis://[::1]:6379",
            "redis://:s3cret@10.0.0.5:6379",
            "rediss://worker:s3cret@queue.lan:6380",
        ] {
            assert!(refuse_open_remote(fine).is_ok(), "{fine}");
        }
    }
}
