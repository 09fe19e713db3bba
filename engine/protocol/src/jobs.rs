//! The job types the API carries: what a job does, how it was submitted, where it stands, and a
//! prompt on a schedule. Queues, workers and cron arithmetic are the engine's business.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{JobId, SessionId};

/// Attempts before a job goes to the dead letters.
pub const MAX_ATTEMPTS: u32 = 5;

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// Nothing (queue tests and benchmarks).
    Noop,
    /// A prompt run as a turn of a new session, with nobody there to approve: tools in `allow`
    /// run, other tools that would ask are denied. The answer is the result.
    Prompt {
        /// What to ask.
        text: String,
        /// Tools the turn may use without asking.
        #[serde(default)]
        allow: Vec<String>,
    },
    /// Deep research: the agent plans, searches the web, reads sources and writes a report with
    /// numbered citations to `research/<slug>.md` in the workspace (and answers with it).
    Research {
        /// The question.
        question: String,
    },
    /// A program run in a sandbox of its own (never on the host), for as long as the sandbox
    /// settings allow; its progress is the last line it printed. Exit status 0 completes the job
    /// with the output; anything else fails the attempt with it.
    Code {
        /// `python`, `bash` or `node`.
        language: String,
        /// The program's source.
        code: String,
        /// Seconds before it is killed (the sandbox settings' default and maximum apply).
        #[serde(default)]
        timeout_s: Option<u64>,
    },
    /// Waits, reporting progress; `fail_first` attempts fail on purpose (retry tests).
    Wait {
        /// How long.
        millis: u64,
        /// Attempts that fail before one succeeds.
        #[serde(default)]
        fail_first: u32,
    },
}

/// A job as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Its id (submitting the same id twice runs it once).
    pub id: JobId,
    /// What to do.
    #[serde(flatten)]
    pub kind: JobKind,
    /// Attempts before it is dead-lettered.
    #[serde(default = "max_attempts")]
    pub max_attempts: u32,
}

fn max_attempts() -> u32 {
    MAX_ATTEMPTS
}

impl JobSpec {
    /// A job with a new id.
    #[must_use]
    pub fn new(kind: JobKind) -> Self {
        Self {
            id: JobId::new(),
            kind,
            max_attempts: MAX_ATTEMPTS,
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (or for its retry time).
    Queued,
    /// A worker has it.
    Running,
    /// Finished.
    Done,
    /// Failed `max_attempts` times; in the dead letters.
    Dead,
    /// Cancelled by the person.
    Cancelled,
}

impl JobState {
    /// Whether it will not run again.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Dead | Self::Cancelled)
    }
}

/// A job and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// What was asked.
    pub spec: JobSpec,
    /// Where it stands.
    pub state: JobState,
    /// Attempts so far.
    pub attempts: u32,
    /// The last progress note.
    #[serde(default)]
    pub progress: String,
    /// Its result, when done.
    #[serde(default)]
    pub result: String,
    /// The last error.
    #[serde(default)]
    pub error: String,
}

impl JobRecord {
    /// The conversation its latest attempt ran in, for the kinds that run as a turn (a prompt, a
    /// research); none before it started. Each attempt has its own, named after the job.
    #[must_use]
    pub fn session(&self) -> Option<SessionId> {
        match self.spec.kind {
            JobKind::Prompt { .. } | JobKind::Research { .. } if self.attempts > 0 => {
                Some(job_session(&self.spec.id, self.attempts))
            }
            _ => None,
        }
    }
}

/// The conversation attempt `attempt` of job `job` runs in.
#[must_use]
pub fn job_session(job: &JobId, attempt: u32) -> SessionId {
    SessionId(format!("job-{job}-{attempt}"))
}

/// A prompt that runs on a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its id.
    pub id: String,
    /// When: a cron expression (5 fields, or 6 with seconds first), read in `timezone`.
    pub cron: String,
    /// The IANA time zone its times are in (`Europe/Paris`); none: UTC (schedules made before
    /// zones were stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The prompt.
    pub text: String,
    /// Tools its runs may use without asking.
    #[serde(default)]
    pub allow: Vec<String>,
    /// When it was made (Unix ms); earlier occurrences never run.
    pub created_ms: i64,
    /// Paused: no occurrence runs until it is resumed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// When it was last resumed (Unix ms): occurrences missed while it was paused never run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_ms: Option<i64>,
}

impl Schedule {
    /// Whether a job is one of this schedule's runs.
    #[must_use]
    pub fn made(&self, job: &JobId) -> bool {
        job.as_str()
            .strip_prefix(self.id.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|at| !at.is_empty() && at.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The job of one occurrence (the same id wherever it is made).
    #[must_use]
    pub fn job(&self, at: DateTime<Utc>) -> JobSpec {
        JobSpec {
            id: JobId(format!("{}-{}", self.id, at.timestamp())),
            ..JobSpec::new(JobKind::Prompt {
                text: self.text.clone(),
                allow: self.allow.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            id: "0193ab".into(),
            cron: "0 9 * * *".into(),
            timezone: None,
            text: "brief".into(),
            allow: Vec::new(),
            created_ms: 0,
            paused: false,
            resumed_ms: None,
        }
    }

    #[test]
    fn a_schedule_knows_its_runs_and_a_run_its_conversation() {
        let s = schedule();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let job = s.job(at);
        assert!(s.made(&job.id));
        for other in [
            "0193ab",
            "0193ab-",
            "0193abc-1800000000",
            "0193ab-18x",
            "x0193ab-1",
        ] {
            assert!(!s.made(&JobId(other.into())), "{other}");
        }
        let mut record = JobRecord {
            spec: job,
            state: JobState::Queued,
            attempts: 0,
            progress: String::new(),
            result: String::new(),
            error: String::new(),
        };
        assert_eq!(record.session(), None, "not started yet");
        record.attempts = 2;
        assert_eq!(
            record.session(),
            Some(SessionId("job-0193ab-1800000000-2".into()))
        );
        record.spec.kind = JobKind::Noop;
        assert_eq!(record.session(), None, "a job that is no turn");
    }
}
