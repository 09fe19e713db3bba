//! `aetheria worker` (a headless process that runs jobs from Redis, or the embedded queue) and
//! `aetheria jobs submit|list|show|cancel` (over the engine API).

use std::process::ExitCode;
use std::sync::Arc;

use aetheria_engine::api::{Command, Event, JobId};
use aetheria_engine::config::Config;
use aetheria_engine::jobs::{JobKind, JobRecord, JobSpec, Queue, RedisQueue, VISIBILITY, Worker};
use tokio_util::sync::CancellationToken;

use super::CliError;
use super::ask::shutdown;
use super::manage::{request, start};

pub(super) async fn worker(
    redis: Option<String>,
    concurrency: usize,
    visibility_ms: Option<u64>,
) -> Result<ExitCode, CliError> {
    let Some(url) = redis.or(Config::load()?.redis_url) else {
        return embedded_worker().await;
    };
    let visibility = visibility_ms.map_or(VISIBILITY, std::time::Duration::from_millis);
    let mut queues: Vec<Arc<dyn Queue>> = Vec::new();
    for _ in 0..concurrency.clamp(1, 64) {
        queues.push(Arc::new(
            RedisQueue::connect(&url, visibility)
                .await
                .map_err(CliError::new)?,
        ));
    }
    let name = format!(
        "{}-{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
        std::process::id()
    );
    eprintln!(
        "worker {name}: taking jobs from {url} with {} slots",
        queues.len()
    );
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("stopping after the running jobs…");
        on_signal.cancel();
    });
    Worker { queues, name }.run(stop).await;
    Ok(ExitCode::SUCCESS)
}

/// Without Redis: run the embedded queue's jobs (this machine's data folder) until Ctrl+C.
async fn embedded_worker() -> Result<ExitCode, CliError> {
    let mut config = Config::load()?;
    config.run_jobs = true;
    let (handle, events) = aetheria_engine::Engine::start(config).await?;
    eprintln!("worker: running this machine's queued jobs (no Redis configured)");
    let _ = tokio::signal::ctrl_c().await;
    shutdown(&handle, events).await;
    Ok(ExitCode::SUCCESS)
}

fn describe(job: &JobRecord) -> String {
    let kind = serde_json::to_value(&job.spec.kind)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let state = serde_json::to_value(job.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let detail = match (
        job.result.is_empty(),
        job.error.is_empty(),
        job.progress.is_empty(),
    ) {
        (false, _, _) => job.result.clone(),
        (true, false, _) => format!("error: {}", job.error),
        (true, true, false) => job.progress.clone(),
        _ => String::new(),
    };
    format!(
        "{}  {kind:<6} {state:<9} attempts {}  {detail}",
        job.spec.id, job.attempts
    )
}

async fn one(command: Command, json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(&handle, &mut events, command, |e| {
        matches!(e, Event::JobUpdated { .. } | Event::JobList { .. })
    })
    .await;
    shutdown(&handle, events).await;
    match event? {
        Event::JobUpdated { job } if json => println!("{}", serde_json::to_string_pretty(&job)?),
        Event::JobUpdated { job } => println!("{}", describe(&job)),
        Event::JobList { jobs } if json => println!("{}", serde_json::to_string_pretty(&jobs)?),
        Event::JobList { jobs } => {
            if jobs.is_empty() {
                println!("no jobs");
            }
            for job in jobs {
                println!("{}", describe(&job));
            }
        }
        _ => return Err(CliError::new("unexpected answer")),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn submit(kind: &str, millis: u64, json: bool) -> Result<ExitCode, CliError> {
    let kind = match kind {
        "noop" => JobKind::Noop,
        "wait" => JobKind::Wait {
            millis,
            fail_first: 0,
        },
        other => {
            return Err(CliError::new(format!(
                "unknown job kind {other:?}; the kinds are noop and wait"
            )));
        }
    };
    one(
        Command::SubmitJob {
            job: JobSpec::new(kind),
        },
        json,
    )
    .await
}

pub(super) async fn list(json: bool) -> Result<ExitCode, CliError> {
    one(Command::ListJobs { limit: None }, json).await
}

pub(super) async fn show(id: &str, json: bool) -> Result<ExitCode, CliError> {
    one(
        Command::GetJob {
            id: JobId::from(id),
        },
        json,
    )
    .await
}

pub(super) async fn cancel(id: &str) -> Result<ExitCode, CliError> {
    one(
        Command::CancelJob {
            id: JobId::from(id),
        },
        false,
    )
    .await
}
