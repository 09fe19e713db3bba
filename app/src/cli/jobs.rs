//! `aetheria worker` (a headless process that runs jobs from Redis, or the embedded queue) and
//! `aetheria jobs submit|list|show|cancel` (over the engine API).

use std::process::ExitCode;

use aetheria_engine::Engine;
use aetheria_engine::api::{Command, Event, JobId, JobsCommand};
use aetheria_engine::config::Config;
use aetheria_engine::jobs::{JobKind, JobRecord, JobSpec};

use super::CliError;
use super::ask::shutdown;
use super::manage::{request, start};
use crate::visible::for_terminal;

pub(super) async fn worker(
    redis: Option<String>,
    concurrency: usize,
    visibility_ms: Option<u64>,
) -> Result<ExitCode, CliError> {
    let mut config = Config::load()?;
    if redis.is_some() {
        config.redis_url = redis;
    }
    config.jobs.concurrency = concurrency.clamp(1, 64);
    if let Some(ms) = visibility_ms {
        config.jobs.visibility_ms = ms;
    }
    config.run_jobs = true;
    let shared_queue = config.redis_url.clone();
    // Many workers (and the app) share Redis but not an embedded database: a Redis worker keeps
    // its jobs' sessions in memory unless memory.url names a shared SurrealDB server. The
    // answer of every job is its result in the queue.
    if shared_queue.is_some() && config.memory.url.is_none() {
        config.memory.url = Some("mem://".into());
    }
    let (handle, mut events) = if shared_queue.is_some() {
        Engine::start(config).await?
    } else {
        // This machine's queue lives in the data folder: its host runs it. Hosted already, there
        // is nothing for a worker to do (or, beside a command, nothing it may do yet).
        let opened = Engine::open(config, "worker").await?;
        if !opened.hosting {
            let host = opened.host.clone();
            shutdown(&opened.handle, opened.events).await;
            if host.kind == "cli" {
                return Err(CliError::new(format!(
                    "a command (pid {}) hosts this data folder and does not run jobs; run the worker again when it has ended",
                    host.pid
                )));
            }
            eprintln!(
                "worker: {} (pid {}) hosts this data folder and runs its queued jobs; nothing to do",
                host.kind, host.pid
            );
            return Ok(ExitCode::SUCCESS);
        }
        (opened.handle, opened.events)
    };
    match &shared_queue {
        Some(url) => eprintln!(
            "worker: taking jobs from {} with {concurrency} slots",
            aetheria_engine::secrets::shown_url(url)
        ),
        None => eprintln!("worker: running this machine's queued jobs (no Redis configured)"),
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                eprintln!("stopping after the running jobs…");
                break;
            }
            event = events.recv() => if event.is_none() { break },
        }
    }
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
    // A job's result and error come from a model or a tool (or a shared queue): escaped.
    format!(
        "{}  {kind:<6} {state:<9} attempts {}  {}",
        for_terminal(&job.spec.id.to_string()),
        job.attempts,
        for_terminal(&detail)
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

/// What `aetheria jobs submit` takes.
#[derive(Debug, clap::Args)]
pub(super) struct SubmitArgs {
    /// The kind: prompt, research, code, noop or wait.
    kind: String,
    /// For `prompt` and `research`: the prompt or question; for `code`: the program.
    #[arg(long)]
    text: Option<String>,
    /// For `code`: a file with the program (read here, run in the sandbox).
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// For `code`: python, bash or node.
    #[arg(long, default_value = "python")]
    language: String,
    /// For `code`: seconds before it is killed (the sandbox settings' maximum applies).
    #[arg(long)]
    timeout_s: Option<u64>,
    /// For `prompt`: tools it may use without asking (comma-separated).
    #[arg(long, value_delimiter = ',')]
    allow: Vec<String>,
    /// For `wait`: how long.
    #[arg(long, default_value_t = 1000)]
    millis: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(super) async fn submit(args: SubmitArgs) -> Result<ExitCode, CliError> {
    let SubmitArgs {
        kind,
        text,
        file,
        language,
        timeout_s,
        allow,
        millis,
        json,
    } = args;
    let needs_text = || {
        text.clone()
            .ok_or_else(|| CliError::new(format!("`{kind}` needs --text")))
    };
    let mut max_attempts = None;
    let kind = match kind.as_str() {
        "prompt" => JobKind::Prompt {
            text: needs_text()?,
            allow,
        },
        "research" => JobKind::Research {
            question: needs_text()?,
        },
        "code" => {
            if !["python", "bash", "node"].contains(&language.as_str()) {
                return Err(CliError::new(format!(
                    "unknown language {language:?}; code jobs run python, bash or node"
                )));
            }
            let code = match (&file, &text) {
                (Some(path), None) => std::fs::read_to_string(path)
                    .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?,
                (None, Some(code)) => code.clone(),
                _ => return Err(CliError::new("`code` needs --file or --text (one of them)")),
            };
            // A program may not be safe to run twice: a failed run is not retried.
            max_attempts = Some(1);
            JobKind::Code {
                language,
                code,
                timeout_s,
            }
        }
        "noop" => JobKind::Noop,
        "wait" => JobKind::Wait {
            millis,
            fail_first: 0,
        },
        other => {
            return Err(CliError::new(format!(
                "unknown job kind {other:?}; the kinds are prompt, research, code, noop and wait"
            )));
        }
    };
    let mut job = JobSpec::new(kind);
    if let Some(n) = max_attempts {
        job.max_attempts = n;
    }
    one(Command::Jobs(JobsCommand::Submit { job }), json).await
}

pub(super) async fn list(json: bool) -> Result<ExitCode, CliError> {
    one(Command::Jobs(JobsCommand::List { limit: None }), json).await
}

pub(super) async fn show(id: &str, json: bool) -> Result<ExitCode, CliError> {
    one(
        Command::Jobs(JobsCommand::Get {
            id: JobId::from(id),
        }),
        json,
    )
    .await
}

pub(super) async fn cancel(id: &str) -> Result<ExitCode, CliError> {
    one(
        Command::Jobs(JobsCommand::Cancel {
            id: JobId::from(id),
        }),
        false,
    )
    .await
}

pub(super) async fn schedule(
    cron: String,
    tz: Option<String>,
    text: String,
    allow: Vec<String>,
) -> Result<ExitCode, CliError> {
    let timezone = tz.or_else(aetheria_engine::jobs::schedule::local_zone);
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Jobs(JobsCommand::AddSchedule {
            cron,
            timezone,
            text,
            allow,
        }),
        |e| matches!(e, Event::ScheduleAdded { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    if let Event::ScheduleAdded { schedule } = event? {
        println!(
            "scheduled {} ({}, {}; {}); the app or a worker runs it",
            schedule.id,
            schedule.cron,
            zone_name(&schedule),
            next_run(&schedule)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The zone a schedule's times are in.
pub(super) async fn pause(id: String, paused: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Jobs(JobsCommand::PauseSchedule { id, paused }),
        |e| matches!(e, Event::ScheduleChanged { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    if let Event::ScheduleChanged { schedule } = event? {
        if schedule.paused {
            println!("paused schedule {}", schedule.id);
        } else {
            println!("resumed schedule {}: {}", schedule.id, next_run(&schedule));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn zone_name(schedule: &aetheria_engine::api::jobs::Schedule) -> &str {
    schedule.timezone.as_deref().unwrap_or("UTC")
}

/// When a schedule runs next, in its zone.
fn next_run(schedule: &aetheria_engine::api::jobs::Schedule) -> String {
    let next = aetheria_engine::jobs::schedule::next_runs(
        &schedule.cron,
        schedule.timezone.as_deref(),
        chrono::Utc::now(),
        1,
    );
    match next.ok().and_then(|runs| runs.into_iter().next()) {
        Some(at) => format!("next {}", at.format("%H:%M %Z on %a %-d %b %Y")),
        None => "no next run".to_owned(),
    }
}

pub(super) async fn schedules(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Jobs(JobsCommand::ListSchedules),
        |e| matches!(e, Event::Schedules { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::Schedules { schedules } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&schedules)?);
    } else if schedules.is_empty() {
        println!("no schedules");
    } else {
        for s in schedules {
            let when = if s.paused {
                "paused".to_owned()
            } else {
                next_run(&s)
            };
            println!(
                "{}  {:<16} {}  {}  {}",
                s.id,
                s.cron,
                zone_name(&s),
                when,
                for_terminal(&s.text)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn unschedule(id: String) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Jobs(JobsCommand::RemoveSchedule { id: id.clone() }),
        |e| matches!(e, Event::ScheduleRemoved { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    event?;
    println!("removed schedule {id}");
    Ok(ExitCode::SUCCESS)
}
