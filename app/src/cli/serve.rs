//! `aetheria serve`: hosts the data folder's engine with no window, so scheduled prompts and
//! queued jobs run while no window is open, and every other Aetheria process of this user (the
//! window, CLI commands) connects to it. With `--idle-exit`, it ends once nothing is connected,
//! queued, running or scheduled for that long.

use std::process::ExitCode;
use std::time::Duration;

use aetheria_engine::api::{Command, Event, JobsCommand, SubmissionId};
use aetheria_engine::config::Config;
use aetheria_engine::{Engine, Handle};

use super::CliError;
use super::ask::shutdown;

/// How often an idle host looks whether it may end.
const IDLE_CHECK: Duration = Duration::from_secs(1);

pub(super) async fn run(idle_exit: Option<u64>) -> Result<ExitCode, CliError> {
    // Started at login from the Startup folder, it had a console window of its own.
    crate::console::let_go_of_own_console();
    let mut config = Config::load()?;
    config.run_jobs = true;
    let data_dir = config.data_dir.clone();
    let mut opened = Engine::open(config, "serve").await?;
    if !opened.hosting {
        let host = opened.host.clone();
        shutdown(&opened.handle, opened.events).await;
        eprintln!(
            "serve: {} is hosted already, by {} (pid {}); nothing to do",
            data_dir.display(),
            host.kind,
            host.pid
        );
        return Ok(ExitCode::SUCCESS);
    }
    let endpoint = aetheria_engine::host::endpoint_path(&data_dir)?;
    eprintln!(
        "serve: hosting {} on {} (pid {})",
        data_dir.display(),
        endpoint.display(),
        std::process::id()
    );
    let handle = opened.handle.clone();
    let mut events = Watched::default();
    let mut idle_since = tokio::time::Instant::now();
    let mut terminate = terminate_signal()?;
    // One timer for the whole run (not one per event while a turn streams).
    let mut check = tokio::time::interval(IDLE_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let reason = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break "interrupted",
            () = terminate.recv() => break "asked to stop",
            event = opened.events.recv() => match event {
                Some(envelope) => events.see(envelope.submission, &envelope.event),
                None => break "the engine stopped",
            },
            _ = check.tick(), if idle_exit.is_some() => {
                let busy = opened.clients() > 0 || !events.idle(&handle);
                if busy {
                    idle_since = tokio::time::Instant::now();
                } else if let Some(secs) = idle_exit
                    && idle_since.elapsed() >= Duration::from_secs(secs)
                {
                    break "idle";
                }
            }
        }
    };
    eprintln!("serve: stopping ({reason})");
    shutdown(&handle, opened.events).await;
    Ok(ExitCode::SUCCESS)
}

/// What the idle check last learnt of jobs and schedules, asked of the engine once a second.
#[derive(Debug, Default)]
struct Watched {
    /// The questions in flight.
    asked: Option<(SubmissionId, SubmissionId)>,
    /// Jobs queued or running, as last answered.
    jobs: Option<usize>,
    /// Schedules, as last answered.
    schedules: Option<usize>,
}

impl Watched {
    fn see(&mut self, submission: Option<SubmissionId>, event: &Event) {
        let Some((jobs, schedules)) = self.asked else {
            return;
        };
        match event {
            Event::JobList { jobs: list } if submission == Some(jobs) => {
                self.jobs = Some(list.iter().filter(|j| !j.state.is_final()).count());
            }
            Event::Schedules { schedules: list } if submission == Some(schedules) => {
                self.schedules = Some(list.len());
            }
            Event::CommandFailed { submission: s, .. } if *s == jobs || *s == schedules => {
                // Unknown counts as busy: never end on a failed question.
                self.jobs = None;
            }
            _ => {}
        }
    }

    /// Whether nothing is queued, running or scheduled (as far as is known); asks again.
    fn idle(&mut self, handle: &Handle) -> bool {
        let idle = self.jobs == Some(0) && self.schedules == Some(0);
        let asked = (
            handle.submit(Command::Jobs(JobsCommand::List { limit: Some(200) })),
            handle.submit(Command::Jobs(JobsCommand::ListSchedules)),
        );
        if let (Ok(jobs), Ok(schedules)) = asked {
            self.asked = Some((jobs, schedules));
        }
        idle
    }
}

/// SIGTERM (a service manager stopping the host) as a stream of one.
#[cfg(unix)]
fn terminate_signal() -> Result<Terminate, CliError> {
    let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| CliError::new(format!("listening for SIGTERM: {e}")))?;
    Ok(Terminate(signal))
}

#[cfg(unix)]
struct Terminate(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Terminate {
    async fn recv(&mut self) {
        self.0.recv().await;
    }
}

#[cfg(not(unix))]
fn terminate_signal() -> Result<Terminate, CliError> {
    Ok(Terminate)
}

#[cfg(not(unix))]
struct Terminate;

#[cfg(not(unix))]
impl Terminate {
    async fn recv(&mut self) {
        std::future::pending::<()>().await;
    }
}
