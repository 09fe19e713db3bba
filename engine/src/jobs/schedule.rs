//! Scheduled prompts: a cron expression read in the person's time zone, and a prompt (daylight
//! saving moves a run with the clock, as croner reads it). Every process that runs jobs ticks the
//! schedules; an occurrence is claimed once across all of them (the backend's `fire`), and its job
//! id is derived from the schedule and the time, so even a duplicate submit runs it once. After
//! downtime, the latest missed occurrence runs once.

use std::str::FromStr;

use super::{Queue, QueueError, QueueResult};
use crate::api::JobId;
pub use crate::api::jobs::Schedule;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A new schedule, its cron expression and time zone checked.
pub fn new(
    cron: &str,
    timezone: Option<&str>,
    text: &str,
    allow: Vec<String>,
) -> QueueResult<Schedule> {
    croner::Cron::from_str(cron.trim())
        .map_err(|e| QueueError(format!("{cron:?} is not a cron expression: {e}")))?;
    let timezone = timezone.map(str::trim).filter(|z| !z.is_empty());
    if let Some(zone) = timezone {
        zone_of(zone)?;
    }
    if text.trim().is_empty() {
        return Err(QueueError("a scheduled prompt needs a text".into()));
    }
    Ok(Schedule {
        id: uuid::Uuid::now_v7().simple().to_string(),
        cron: cron.trim().to_owned(),
        timezone: timezone.map(str::to_owned),
        text: text.trim().to_owned(),
        allow,
        created_ms: Utc::now().timestamp_millis(),
    })
}

/// The time zone named `zone`.
fn zone_of(zone: &str) -> QueueResult<Tz> {
    Tz::from_str(zone).map_err(|_| {
        QueueError(format!(
            "{zone:?} is not a time zone (an IANA name such as Europe/Paris or America/New_York)"
        ))
    })
}

/// The time zone of this machine, by its IANA name (none when the system does not say).
#[must_use]
pub fn local_zone() -> Option<String> {
    iana_time_zone::get_timezone()
        .ok()
        .filter(|zone| Tz::from_str(zone).is_ok())
}

/// The schedule's zone (UTC when it names none, or one this build does not know).
fn zone(schedule: &Schedule) -> Tz {
    schedule
        .timezone
        .as_deref()
        .and_then(|z| Tz::from_str(z).ok())
        .unwrap_or(Tz::UTC)
}

/// The latest occurrence of `schedule` at or before `now` (and not before it was made).
#[must_use]
pub fn due(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = croner::Cron::from_str(&schedule.cron).ok()?;
    let at = cron
        .find_previous_occurrence(&now.with_timezone(&zone(schedule)), true)
        .ok()?
        .with_timezone(&Utc);
    (at.timestamp_millis() >= schedule.created_ms).then_some(at)
}

/// The next `count` runs of `cron` in `timezone` (UTC when none) after `from`, in that zone; or
/// why the expression or zone cannot be read. For front ends that show a schedule before and
/// after it is made.
pub fn next_runs(
    cron: &str,
    timezone: Option<&str>,
    from: DateTime<Utc>,
    count: usize,
) -> QueueResult<Vec<DateTime<Tz>>> {
    let parsed = croner::Cron::from_str(cron.trim())
        .map_err(|e| QueueError(format!("{cron:?} is not a cron expression: {e}")))?;
    let zone = match timezone.map(str::trim).filter(|z| !z.is_empty()) {
        Some(zone) => zone_of(zone)?,
        None => Tz::UTC,
    };
    Ok(parsed
        .iter_after(from.with_timezone(&zone))
        .take(count)
        .collect())
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
        assert!(new("not cron", None, "x", vec![]).is_err());
        assert!(new("0 9 * * *", None, " ", vec![]).is_err());
        let mut s = new("0 9 * * *", None, "Morning briefing", vec![]).unwrap();
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

    #[test]
    fn a_schedule_runs_at_its_zone_s_clock_across_daylight_saving() {
        assert!(
            new("0 9 * * *", Some("Mars/Olympus"), "x", vec![])
                .unwrap_err()
                .0
                .contains("is not a time zone")
        );
        let mut s = new("0 9 * * *", Some("Europe/Paris"), "Morning", vec![]).unwrap();
        s.created_ms = 0;
        // 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
        let winter = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            due(&s, winter).unwrap().to_rfc3339(),
            "2026-12-01T08:00:00+00:00"
        );
        let summer = DateTime::parse_from_rfc3339("2026-07-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            due(&s, summer).unwrap().to_rfc3339(),
            "2026-07-01T07:00:00+00:00"
        );
        // Across the spring change (29 March 2026): the clock's 09:00 both days.
        let before = DateTime::parse_from_rfc3339("2026-03-28T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let runs: Vec<String> = next_runs("0 9 * * *", Some("Europe/Paris"), before, 2)
            .unwrap()
            .iter()
            .map(DateTime::to_rfc3339)
            .collect();
        assert_eq!(
            runs,
            ["2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"]
        );
        // A schedule stored before zones were: UTC, as it always ran.
        s.timezone = None;
        assert_eq!(
            due(&s, winter).unwrap().to_rfc3339(),
            "2026-12-01T09:00:00+00:00"
        );
    }
}
