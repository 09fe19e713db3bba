//! Scheduled prompts: a cron expression and a prompt. Every process that runs jobs ticks the
//! schedules; an occurrence is claimed once across all of them (the backend's `fire`), and its job
//! id is derived from the schedule and the time, so even a duplicate submit runs it once. After
//! downtime, the latest missed occurrence runs once.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{JobKind, JobSpec, Queue, QueueError, QueueResult};
use crate::api::JobId;

/// A prompt that runs on a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Its id.
    pub id: String,
    /// When: a cron expression (5 fields, or 6 with seconds first), in UTC.
    pub cron: String,
    /// The prompt.
    pub text: String,
    /// Tools its runs may use without asking.
    #[serde(default)]
    pub allow: Vec<String>,
    /// When it was made (Unix ms); earlier occurrences never run.
    pub created_ms: i64,
}

impl Schedule {
    /// A new schedule, its cron expression checked.
    pub fn new(cron: &str, text: &str, allow: Vec<String>) -> QueueResult<Self> {
        croner::Cron::from_str(cron.trim())
            .map_err(|e| QueueError(format!("{cron:?} is not a cron expression: {e}")))?;
        if text.trim().is_empty() {
            return Err(QueueError("a scheduled prompt needs a text".into()));
        }
        Ok(Self {
            id: uuid::Uuid::now_v7().simple().to_string(),
            cron: cron.trim().to_owned(),
            text: text.trim().to_owned(),
            allow,
            created_ms: Utc::now().timestamp_millis(),
        })
    }

    /// The latest occurrence at or before `now` (and not before the schedule was made).
    #[must_use]
    pub fn due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let cron = croner::Cron::from_str(&self.cron).ok()?;
        let at = cron.find_previous_occurrence(&now, true).ok()?;
        (at.timestamp_millis() >= self.created_ms).then_some(at)
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

/// Submits the due occurrence of every schedule that no process has fired yet; the jobs made.
pub async fn tick(queue: &dyn Queue, now: DateTime<Utc>) -> QueueResult<Vec<JobId>> {
    let mut made = Vec::new();
    for schedule in queue.schedules().await? {
        let Some(at) = schedule.due(now) else {
            continue;
        };
        if queue.fire(&schedule.id, at.timestamp()).await? {
            let job = schedule.job(at);
            queue.submit(&job).await?;
            made.push(job.id);
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_and_ids() {
        assert!(Schedule::new("not cron", "x", vec![]).is_err());
        assert!(Schedule::new("0 9 * * *", " ", vec![]).is_err());
        let mut s = Schedule::new("0 9 * * *", "Morning briefing", vec![]).unwrap();
        s.created_ms = 0;
        let now = DateTime::parse_from_rfc3339("2026-11-28T10:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = s.due(now).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-28T09:00:00+00:00");
        assert_eq!(s.job(at).id, s.job(at).id);
        assert!(s.job(at).id.as_str().ends_with(&at.timestamp().to_string()));
        // Nothing before the schedule existed.
        s.created_ms = now.timestamp_millis();
        assert_eq!(s.due(now), None);
    }
}
