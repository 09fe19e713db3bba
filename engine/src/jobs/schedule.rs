//! Scheduled prompts: a cron expression and a prompt. Every process that runs jobs ticks the
//! schedules; an occurrence is claimed once across all of them (the backend's `fire`), and its job
//! id is derived from the schedule and the time, so even a duplicate submit runs it once. After
//! downtime, the latest missed occurrence runs once.

use std::str::FromStr;

use super::{Queue, QueueError, QueueResult};
use crate::api::JobId;
pub use crate::api::jobs::Schedule;
use chrono::{DateTime, Utc};

/// A new schedule, its cron expression checked.
pub fn new(cron: &str, text: &str, allow: Vec<String>) -> QueueResult<Schedule> {
    croner::Cron::from_str(cron.trim())
        .map_err(|e| QueueError(format!("{cron:?} is not a cron expression: {e}")))?;
    if text.trim().is_empty() {
        return Err(QueueError("a scheduled prompt needs a text".into()));
    }
    Ok(Schedule {
        id: uuid::Uuid::now_v7().simple().to_string(),
        cron: cron.trim().to_owned(),
        text: text.trim().to_owned(),
        allow,
        created_ms: Utc::now().timestamp_millis(),
    })
}

/// The latest occurrence of `schedule` at or before `now` (and not before it was made).
#[must_use]
pub fn due(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = croner::Cron::from_str(&schedule.cron).ok()?;
    let at = cron.find_previous_occurrence(&now, true).ok()?;
    (at.timestamp_millis() >= schedule.created_ms).then_some(at)
}

/// Submits the due occurrence of every schedule that no process has fired yet; the jobs made.
pub async fn tick(queue: &dyn Queue, now: DateTime<Utc>) -> QueueResult<Vec<JobId>> {
    let mut made = Vec::new();
    for schedule in queue.schedules().await? {
        let Some(at) = due(&schedule, now) else {
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
        assert!(new("not cron", "x", vec![]).is_err());
        assert!(new("0 9 * * *", " ", vec![]).is_err());
        let mut s = new("0 9 * * *", "Morning briefing", vec![]).unwrap();
        s.created_ms = 0;
        let now = DateTime::parse_from_rfc3339("2026-11-28T10:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = due(&s, now).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-28T09:00:00+00:00");
        assert_eq!(s.job(at).id, s.job(at).id);
        assert!(s.job(at).id.as_str().ends_with(&at.timestamp().to_string()));
        // Nothing before the schedule existed.
        s.created_ms = now.timestamp_millis();
        assert_eq!(due(&s, now), None);
    }
}
