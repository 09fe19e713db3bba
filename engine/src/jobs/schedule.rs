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
        paused: false,
        resumed_ms: None,
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

/// The latest occurrence of `schedule` at or before `now` (and not before it was made or last
/// resumed); none while it is paused.
#[must_use]
pub fn due(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if schedule.paused {
        return None;
    }
    let since = schedule.created_ms.max(schedule.resumed_ms.unwrap_or(0));
    let cron = croner::Cron::from_str(&schedule.cron).ok()?;
    let at = cron
        .find_previous_occurrence(&now.with_timezone(&zone(schedule)), true)
        .ok()?
        .with_timezone(&Utc);
    (at.timestamp_millis() >= since).then_some(at)
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

/// Submits the due occurrence of every schedule that no process has fired yet: the jobs made, and
/// when the next run of any schedule comes.
pub async fn tick(
    queue: &dyn Queue,
    now: DateTime<Utc>,
) -> QueueResult<(Vec<JobId>, Option<DateTime<Utc>>)> {
    let mut made = Vec::new();
    let mut next: Option<DateTime<Utc>> = None;
    for schedule in queue.schedules().await? {
        if let Some(at) = next_after(&schedule, now) {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        let Some(at) = due(&schedule, now) else {
            continue;
        };
        if queue.fire(&schedule.id, at.timestamp()).await? {
            let job = schedule.job(at);
            queue.submit(&job).await?;
            made.push(job.id);
        }
    }
    Ok((made, next))
}

/// How often the schedules are read again when none comes due sooner (for those another process
/// made; this engine's own changes wake the ticker at once).
pub const RELOAD: std::time::Duration = std::time::Duration::from_secs(30);

/// How long the ticker sleeps: until `next` comes due (a little after, so it is due), at most
/// `RELOAD`.
#[must_use]
pub fn wait_until(next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> std::time::Duration {
    next.map_or(RELOAD, |at| {
        let until = (at - now).to_std().unwrap_or_default();
        (until + std::time::Duration::from_millis(5)).min(RELOAD)
    })
}

/// The first run of `schedule` after `now` (none when paused or unreadable).
fn next_after(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if schedule.paused {
        return None;
    }
    let cron = croner::Cron::from_str(&schedule.cron).ok()?;
    cron.find_next_occurrence(&now.with_timezone(&zone(schedule)), false)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// `schedule` paused, or resumed from `now` on (what it missed meanwhile does not run).
#[must_use]
pub fn paused(schedule: &Schedule, paused: bool, now: DateTime<Utc>) -> Schedule {
    let mut changed = schedule.clone();
    if changed.paused && !paused {
        changed.resumed_ms = Some(now.timestamp_millis());
    }
    changed.paused = paused;
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticker_sleeps_until_the_next_run_at_most_the_reload() {
        let now = Utc::now();
        let soon = now + chrono::Duration::seconds(3);
        let wait = wait_until(Some(soon), now);
        assert!(wait >= std::time::Duration::from_secs(3), "{wait:?}");
        assert!(wait < std::time::Duration::from_millis(3100), "{wait:?}");
        assert_eq!(wait_until(None, now), RELOAD);
        assert_eq!(
            wait_until(Some(now + chrono::Duration::hours(5)), now),
            RELOAD
        );
        // A run already due (the clock moved on while it ticked): at once, nearly.
        let late = wait_until(Some(now - chrono::Duration::seconds(1)), now);
        assert!(late <= std::time::Duration::from_millis(5), "{late:?}");
        let mut every_minute = new("* * * * *", None, "ping", vec![]).unwrap();
        let next = next_after(&every_minute, now).unwrap();
        assert!(
            next > now && next <= now + chrono::Duration::seconds(60),
            "{next}"
        );
        every_minute.paused = true;
        assert_eq!(next_after(&every_minute, now), None);
    }

    #[test]
    fn a_paused_schedule_is_never_due_and_a_resumed_one_skips_what_it_missed() {
        let mut s = new("0 9 * * *", None, "brief", vec![]).unwrap();
        s.created_ms = 0;
        let at = |h| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 6, h, 30, 0).unwrap();
        assert_eq!(due(&s, at(10)), Some(at(9) - chrono::Duration::minutes(30)));
        let p = paused(&s, true, at(10));
        assert_eq!(due(&p, at(10)), None);
        assert_eq!(p.resumed_ms, None);
        // Resumed at 10:30: today's 9:00 was missed while paused and does not run.
        let r = paused(&p, false, at(10));
        assert_eq!(r.resumed_ms, Some(at(10).timestamp_millis()));
        assert_eq!(due(&r, at(11)), None);
        let tomorrow = at(10) + chrono::Duration::days(1);
        assert!(due(&r, tomorrow).is_some());
        // Resuming one that runs changes nothing.
        assert_eq!(paused(&s, false, at(10)), s);
    }

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
