//! The Redis Streams backend. A job's record is a hash (`aetheria:job:ID`); the stream
//! `aetheria:jobs` carries its id to a consumer group. A worker claims with `XAUTOCLAIM` (entries a
//! dead worker left pending longer than the visibility timeout) or `XREADGROUP`; a heartbeat
//! (`XCLAIM … JUSTID`) keeps a long job its own. A failed attempt waits in the sorted set
//! `aetheria:jobs:delayed` until its backoff passes; after `max_attempts` it goes to the
//! `aetheria:jobs:dead` stream. Each step (submit, claim, heartbeat, complete, fail, cancel, list)
//! is one Lua script in `redis/`, so one round trip and atomic (a job was ~14 round trips when each
//! command went on its own); a busy worker completes a job and claims the next in one (as BullMQ
//! fetches the next job when one finishes); only an idle claim's blocking read is a command of its
//! own. The scripts reach job hashes they learn as they run, so this is for one Redis server (or a
//! replica set), not a cluster. Each queue holds one connection (a blocking read would stall a
//! shared one), which fred reconnects after Redis restarts (the scripts are sent again when a
//! restarted Redis does not know them).

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
    /// When this queue last looked for entries a dead worker left (`XAUTOCLAIM`): a few times
    /// per visibility timeout is enough, as none is taken before it has been idle that long.
    reclaimed: std::sync::Mutex<Option<std::time::Instant>>,
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
        let queue = Self {
            client,
            visibility,
            reclaimed: std::sync::Mutex::new(None),
        };
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

    /// Runs a script by its digest, sending its text only when Redis does not know it (first use,
    /// or after a restart emptied its script cache).
    async fn run(&self, script: &Script, keys: Vec<Value>, args: Vec<Value>) -> QueueResult<Value> {
        let mut all = Vec::with_capacity(2 + keys.len() + args.len());
        all.push(Value::from(script.sha.as_str()));
        all.push(Value::from(i64::try_from(keys.len()).unwrap_or(0)));
        all.extend(keys);
        all.extend(args);
        match self.cmd("EVALSHA", all.clone()).await {
            Err(e) if e.0.contains("NOSCRIPT") => {
                all[0] = Value::from(script.body.as_str());
                self.cmd("EVAL", all).await
            }
            other => other,
        }
    }

    async fn record(&self, id: &str) -> QueueResult<Option<JobRecord>> {
        let v = self.cmd("HGETALL", vec![key(id).into()]).await?;
        parse_record(id, v)
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

    /// Whether this claim should look for a dead worker's entries (a quarter of the visibility
    /// timeout since the last look), noting that it does.
    fn reclaim_due(&self) -> bool {
        let Ok(mut last) = self.reclaimed.lock() else {
            return true;
        };
        let due = last.is_none_or(|at| at.elapsed() >= self.visibility / 4);
        if due {
            *last = Some(std::time::Instant::now());
        }
        due
    }

    /// What claim.lua and deliver.lua answered: a delivery, `more` (ask again) or nothing.
    async fn delivered(&self, worker: &str, answer: Value) -> QueueResult<Claimed> {
        if answer.as_str().as_deref() == Some("more") {
            return Ok(Claimed::More);
        }
        let parts = answer.into_array();
        let [_, entry, id, spec, attempt] = parts.as_slice() else {
            return Ok(Claimed::Nothing);
        };
        let (Some(entry), Some(id)) = (entry.as_string(), id.as_string()) else {
            return Err(QueueError("Redis answered a claim with no entry".into()));
        };
        let attempt = u32::try_from(attempt.as_i64().unwrap_or(1)).unwrap_or(u32::MAX);
        match serde_json::from_str::<JobSpec>(&spec.as_string().unwrap_or_default()) {
            Ok(spec) => Ok(Claimed::Job(Delivery {
                spec,
                attempt,
                token: entry,
            })),
            // Damaged (or written by someone else): dead-lettered once, never redelivered.
            Err(e) => {
                tracing::warn!(job = %id, worker, %e, "a damaged job record was dead-lettered");
                self.settle(
                    &id,
                    &entry,
                    "the job record is damaged; it was set aside",
                    None,
                )
                .await?;
                Ok(Claimed::More)
            }
        }
    }

    /// Acknowledges a delivery that failed: back to the delayed set until `due`, or (`None`) to
    /// the dead letters.
    async fn settle(
        &self,
        id: &str,
        entry: &str,
        error: &str,
        due: Option<i64>,
    ) -> QueueResult<()> {
        self.run(
            &SCRIPTS.fail,
            vec![key(id).into(), STREAM.into(), DELAYED.into(), DEAD.into()],
            vec![
                GROUP.into(),
                entry.into(),
                error.into(),
                now_ms().into(),
                id.into(),
                due.map(|d| d.to_string()).unwrap_or_default().into(),
            ],
        )
        .await
        .map(|_| ())
    }
}

/// A claim script's answer.
enum Claimed {
    Job(Delivery),
    /// Entries were dropped (their jobs were gone or finished): there may be more.
    More,
    Nothing,
}

/// A Lua script and its SHA-1, by which Redis runs it without its text.
struct Script {
    body: String,
    sha: String,
}

impl Script {
    fn new(body: String) -> Self {
        use sha1::Digest;
        let sha = format!("{:x}", sha1::Sha1::digest(body.as_bytes()));
        Self { body, sha }
    }
}

/// Each step of a job is one script, so one round trip (the scripts are in `redis/`).
struct Scripts {
    submit: Script,
    claim: Script,
    deliver: Script,
    heartbeat: Script,
    complete: Script,
    complete_claim: Script,
    fail: Script,
    cancel: Script,
    list: Script,
}

static SCRIPTS: std::sync::LazyLock<Scripts> = std::sync::LazyLock::new(|| {
    let with_common =
        |body: &str| Script::new(format!("{}\n{body}", include_str!("redis/common.lua")));
    Scripts {
        submit: Script::new(include_str!("redis/submit.lua").into()),
        claim: with_common(include_str!("redis/claim.lua")),
        deliver: with_common(include_str!("redis/deliver.lua")),
        heartbeat: Script::new(include_str!("redis/heartbeat.lua").into()),
        complete: Script::new(include_str!("redis/complete.lua").into()),
        complete_claim: with_common(include_str!("redis/complete_claim.lua")),
        fail: Script::new(include_str!("redis/fail.lua").into()),
        cancel: Script::new(include_str!("redis/cancel.lua").into()),
        list: Script::new(include_str!("redis/list.lua").into()),
    }
});

/// A job's hash (`HGETALL`'s flat field/value list) as a record; `None` when there is none.
fn parse_record(id: &str, v: Value) -> QueueResult<Option<JobRecord>> {
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
            self.run(
                &SCRIPTS.submit,
                vec![key(id).into(), INDEX.into(), STREAM.into()],
                vec![json.into(), now_ms().into(), id.into()],
            )
            .await
            .map(|_| ())
        })
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        wait: Duration,
    ) -> BoxFuture<'a, QueueResult<Option<Delivery>>> {
        Box::pin(async move {
            let idle = i64::try_from(self.visibility.as_millis()).unwrap_or(i64::MAX);
            // Work that is there is claimed in one round trip; a bounded number of tries, so a
            // stream full of dropped entries cannot hold a worker here.
            for _ in 0..64 {
                let reclaim = self.reclaim_due();
                let answer = self
                    .run(
                        &SCRIPTS.claim,
                        vec![STREAM.into(), DELAYED.into()],
                        vec![
                            GROUP.into(),
                            worker.into(),
                            idle.into(),
                            now_ms().into(),
                            if reclaim { "1" } else { "0" }.into(),
                        ],
                    )
                    .await?;
                match self.delivered(worker, answer).await? {
                    Claimed::Job(delivery) => return Ok(Some(delivery)),
                    Claimed::More => continue,
                    Claimed::Nothing => break,
                }
            }
            // Nothing there: wait for a new entry (a blocking read cannot run inside a script).
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
            let Some((entry, id)) = entry else {
                return Ok(None);
            };
            let answer = self
                .run(
                    &SCRIPTS.deliver,
                    vec![STREAM.into()],
                    vec![
                        GROUP.into(),
                        worker.into(),
                        now_ms().into(),
                        entry.into(),
                        id.into(),
                    ],
                )
                .await?;
            match self.delivered(worker, answer).await? {
                Claimed::Job(delivery) => Ok(Some(delivery)),
                Claimed::More | Claimed::Nothing => Ok(None),
            }
        })
    }

    fn heartbeat<'a>(
        &'a self,
        delivery: &'a Delivery,
        progress: &'a str,
    ) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let kept = self
                .run(
                    &SCRIPTS.heartbeat,
                    vec![key(delivery.spec.id.as_str()).into(), STREAM.into()],
                    vec![
                        GROUP.into(),
                        delivery.token.as_str().into(),
                        progress.into(),
                    ],
                )
                .await?;
            Ok(kept.as_i64() == Some(1))
        })
    }

    fn complete<'a>(
        &'a self,
        delivery: &'a Delivery,
        result: &'a str,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            self.run(
                &SCRIPTS.complete,
                vec![key(delivery.spec.id.as_str()).into(), STREAM.into()],
                vec![
                    GROUP.into(),
                    delivery.token.as_str().into(),
                    result.into(),
                    now_ms().into(),
                ],
            )
            .await
            .map(|_| ())
        })
    }

    fn complete_and_claim<'a>(
        &'a self,
        delivery: &'a Delivery,
        result: &'a str,
        worker: &'a str,
    ) -> BoxFuture<'a, QueueResult<Option<Delivery>>> {
        Box::pin(async move {
            let idle = i64::try_from(self.visibility.as_millis()).unwrap_or(i64::MAX);
            let reclaim = self.reclaim_due();
            let answer = self
                .run(
                    &SCRIPTS.complete_claim,
                    vec![
                        key(delivery.spec.id.as_str()).into(),
                        STREAM.into(),
                        DELAYED.into(),
                    ],
                    vec![
                        GROUP.into(),
                        delivery.token.as_str().into(),
                        result.into(),
                        now_ms().into(),
                        worker.into(),
                        idle.into(),
                        if reclaim { "1" } else { "0" }.into(),
                    ],
                )
                .await?;
            match self.delivered(worker, answer).await? {
                Claimed::Job(next) => Ok(Some(next)),
                Claimed::More | Claimed::Nothing => Ok(None),
            }
        })
    }

    fn fail<'a>(
        &'a self,
        delivery: &'a Delivery,
        error: &'a str,
    ) -> BoxFuture<'a, QueueResult<()>> {
        Box::pin(async move {
            let due = (delivery.attempt < delivery.spec.max_attempts).then(|| {
                now_ms() + i64::try_from(backoff(delivery.attempt).as_millis()).unwrap_or(60_000)
            });
            self.settle(delivery.spec.id.as_str(), &delivery.token, error, due)
                .await
        })
    }

    fn cancel<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, QueueResult<bool>> {
        Box::pin(async move {
            let cancelled = self
                .run(
                    &SCRIPTS.cancel,
                    vec![key(id.as_str()).into(), DELAYED.into()],
                    vec![id.as_str().into(), now_ms().into()],
                )
                .await?;
            Ok(cancelled.as_i64() == Some(1))
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
            let limit = i64::try_from(limit).unwrap_or(100).max(1);
            let records = self
                .run(&SCRIPTS.list, vec![INDEX.into()], vec![limit.into()])
                .await?
                .into_array();
            // One damaged record is left out (with a warning), not the whole list refused.
            Ok(records
                .into_iter()
                .filter_map(|hash| match parse_record("", hash) {
                    Ok(record) => record,
                    Err(e) => {
                        tracing::warn!(%e, "a job record was left out of the list");
                        None
                    }
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scripts write and compare states by name: the names the protocol gives them.
    #[test]
    fn the_scripts_name_states_as_the_protocol_does() {
        let named = |state: JobState| {
            let name = serde_json::to_value(state).unwrap();
            format!("'{}'", name.as_str().unwrap())
        };
        let finals = [JobState::Done, JobState::Dead, JobState::Cancelled];
        for script in [
            include_str!("redis/common.lua"),
            include_str!("redis/cancel.lua"),
        ] {
            for state in finals {
                assert!(script.contains(&named(state)), "{state:?} in {script}");
            }
        }
        let writes = [
            (JobState::Queued, include_str!("redis/submit.lua")),
            (JobState::Queued, include_str!("redis/fail.lua")),
            (JobState::Dead, include_str!("redis/fail.lua")),
            (JobState::Running, include_str!("redis/common.lua")),
            (JobState::Done, include_str!("redis/complete.lua")),
            (JobState::Done, include_str!("redis/complete_claim.lua")),
            (JobState::Cancelled, include_str!("redis/heartbeat.lua")),
            (JobState::Cancelled, include_str!("redis/fail.lua")),
        ];
        for (state, script) in writes {
            assert!(script.contains(&named(state)), "{state:?} in {script}");
        }
    }

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
