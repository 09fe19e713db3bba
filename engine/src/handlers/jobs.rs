//! Background jobs and schedules, on the configured queue (Redis, or the embedded one).

use crate::api::{ErrorInfo, ErrorKind, Event, JobId, JobsCommand};
use crate::jobs::{QueueError, schedule};

use super::Cx;

pub(super) async fn handle(cx: Cx, command: JobsCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    let failed = ErrorInfo::new;
    let queue = services
        .jobs()
        .await
        .map_err(|e| failed(ErrorKind::Unavailable, e.to_string()))?;
    let storage = |e: QueueError| failed(ErrorKind::Storage, e.to_string());
    // A job as the queue holds it now.
    let record = async |id: &JobId| {
        queue
            .get(id)
            .await
            .map_err(storage)?
            .ok_or_else(|| failed(ErrorKind::Missing, format!("no job {id}")))
    };
    match command {
        JobsCommand::Submit { job } => {
            queue.submit(&job).await.map_err(storage)?;
            out.emit(Event::JobUpdated {
                job: record(&job.id).await?,
            });
        }
        JobsCommand::List { limit } => {
            let jobs = queue
                .list(limit.unwrap_or(50).clamp(1, 1000))
                .await
                .map_err(storage)?;
            out.emit(Event::JobList { jobs });
        }
        JobsCommand::Get { id } => {
            out.emit(Event::JobUpdated {
                job: record(&id).await?,
            });
        }
        JobsCommand::AddSchedule {
            cron,
            timezone,
            text,
            allow,
        } => {
            let made = schedule::new(&cron, timezone.as_deref(), &text, allow)
                .map_err(|e| failed(ErrorKind::Invalid, e.0))?;
            queue.add_schedule(&made).await.map_err(storage)?;
            services.schedules_changed.notify_one();
            out.emit(Event::ScheduleAdded { schedule: made });
        }
        JobsCommand::ListSchedules => {
            let schedules = queue.schedules().await.map_err(storage)?;
            out.emit(Event::Schedules { schedules });
        }
        JobsCommand::PauseSchedule { id, paused } => {
            let kept = queue.schedules().await.map_err(storage)?;
            let missing = || failed(ErrorKind::Missing, format!("no schedule {id}"));
            let schedule = kept.iter().find(|s| s.id == id).ok_or_else(missing)?;
            let changed = schedule::paused(schedule, paused, chrono::Utc::now());
            if !queue.replace_schedule(&changed).await.map_err(storage)? {
                return Err(missing());
            }
            services.schedules_changed.notify_one();
            out.emit(Event::ScheduleChanged { schedule: changed });
        }
        JobsCommand::RemoveSchedule { id } => {
            if !queue.remove_schedule(&id).await.map_err(storage)? {
                return Err(failed(ErrorKind::Missing, format!("no schedule {id}")));
            }
            services.schedules_changed.notify_one();
            out.emit(Event::ScheduleRemoved { id });
        }
        JobsCommand::Cancel { id } => {
            if !queue.cancel(&id).await.map_err(storage)? {
                return Err(failed(
                    ErrorKind::Invalid,
                    format!("job {id} is unknown or already finished"),
                ));
            }
            out.emit(Event::JobUpdated {
                job: record(&id).await?,
            });
        }
    }
    Ok(())
}
