//! The Jobs tab: background jobs newest first, each with its state, progress or result, and a
//! Cancel button while it can still be stopped; and what the composer's message becomes when it
//! is sent to the background. The engine reports every change (`JobUpdated`).

use aetheria_engine::jobs::{JobKind, JobRecord, JobState};
use iced::widget::{button, column, container, row, text};
use iced::{Element, Fill};

use super::{Action, Message};
use crate::theme::{self, BOLD, ButtonKind, Palette};

/// What the composer's message becomes when it is sent to the background instead of the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    /// A prompt job: a turn of its own session, with the tools the job allow list names.
    Prompt,
    /// Deep research: a report with citations in the workspace.
    Research,
    /// The message as a Python program, run in a sandbox of its own.
    Python,
}

impl Background {
    /// The job for `text`; a prompt may use `allowed` (the machine's job allow list).
    #[must_use]
    pub fn job(self, text: String, allowed: &[String]) -> JobKind {
        match self {
            Self::Prompt => JobKind::Prompt {
                text,
                allow: allowed.to_vec(),
            },
            Self::Research => JobKind::Research { question: text },
            Self::Python => JobKind::Code {
                language: "python".into(),
                code: text,
                timeout_s: None,
            },
        }
    }
}

/// Puts a job's news into the list (newest first); `true` when it just finished.
pub fn upsert(jobs: &mut Vec<JobRecord>, job: JobRecord) -> bool {
    let was_final = jobs
        .iter()
        .find(|j| j.spec.id == job.spec.id)
        .is_some_and(|j| j.state.is_final());
    let finished = job.state.is_final() && !was_final;
    match jobs.iter_mut().find(|j| j.spec.id == job.spec.id) {
        Some(slot) => *slot = job,
        None => jobs.insert(0, job),
    }
    finished
}

fn what(job: &JobRecord) -> String {
    match &job.spec.kind {
        JobKind::Prompt { text, .. } => text.clone(),
        JobKind::Research { question } => format!("Research: {question}"),
        JobKind::Code { language, code, .. } => format!(
            "Run {language}: {}",
            code.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
        ),
        JobKind::Wait { millis, .. } => format!("Wait {millis} ms"),
        JobKind::Noop => "No-op".into(),
    }
}

/// What a desktop notification says about a job that ended: a title and a line or two.
#[must_use]
pub fn notice(job: &JobRecord) -> (String, String) {
    let title = match job.state {
        JobState::Done => "Aetheria: job finished",
        JobState::Dead => "Aetheria: job failed",
        JobState::Cancelled => "Aetheria: job cancelled",
        JobState::Queued | JobState::Running => "Aetheria: job update",
    };
    let outcome = match job.state {
        JobState::Dead => job.error.as_str(),
        _ => job.result.as_str(),
    };
    let first = outcome.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let body = if first.is_empty() {
        cut(&what(job), 120)
    } else {
        format!("{}\n{}", cut(&what(job), 80), cut(first.trim(), 160))
    };
    (title.to_owned(), body)
}

/// Tells the desktop (a notification, on its own thread: the D-Bus call may take a moment; a
/// desktop without a notification service only logs it).
pub fn notify(job: &JobRecord) {
    let (title, body) = notice(job);
    let spawned = std::thread::Builder::new()
        .name("aetheria-notify".into())
        .spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("Aetheria")
                .summary(&title)
                .body(&body)
                .icon("aetheria")
                .show();
            if let Err(e) = shown {
                tracing::info!("no desktop notification: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot notify: {e}");
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// What jobs may do on this machine, in one line: nobody approves their tools one by one.
fn allowed_line(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "Jobs here may use no tools (jobs.allow in config.toml).".to_owned()
    } else {
        format!(
            "Jobs here may use only: {} (jobs.allow in config.toml).",
            allowed.join(", ")
        )
    }
}

/// The tab.
pub fn view<'a>(
    p: Palette,
    jobs: &'a [JobRecord],
    allowed: Option<&[String]>,
) -> Element<'a, Message> {
    let mut col = column![].spacing(10);
    if let Some(allowed) = allowed {
        col = col.push(text(allowed_line(allowed)).size(12).color(p.muted));
    }
    if jobs.is_empty() {
        return col
            .push(
                text("No background jobs: type a message, press Background.")
                    .size(13)
                    .color(p.muted),
            )
            .into();
    }
    for job in jobs {
        let (label, color) = match job.state {
            JobState::Queued => ("QUEUED", p.muted),
            JobState::Running => ("RUNNING", p.accent),
            JobState::Done => ("DONE", p.ok),
            JobState::Dead => ("FAILED", p.danger),
            JobState::Cancelled => ("CANCELLED", p.muted),
        };
        let detail = match job.state {
            JobState::Done => cut(&job.result, 160),
            JobState::Dead => cut(&job.error, 160),
            _ if !job.progress.is_empty() => job.progress.clone(),
            _ => format!("attempt {}", job.attempts.max(1)),
        };
        let mut head = row![
            text(cut(&what(job), 40)).font(BOLD).size(13).width(Fill),
            container(text(label).font(BOLD).size(11))
                .padding([2, 6])
                .style(move |_| theme::badge(&p, color)),
        ]
        .spacing(6)
        .align_y(iced::Center);
        if let Some(session) = job.session() {
            head = head.push(
                button(text("Open").font(BOLD).size(11))
                    .padding([2, 6])
                    .style(theme::button(p, ButtonKind::Secondary))
                    .on_press(Message::Do(Action::OpenSession(session))),
            );
        }
        if !job.state.is_final() {
            head = head.push(
                button(text("Cancel").font(BOLD).size(11))
                    .padding([2, 6])
                    .style(theme::button(p, ButtonKind::Ghost))
                    .on_press(Message::Panel(super::panel::Msg::CancelJob(
                        job.spec.id.clone(),
                    ))),
            );
        }
        col = col.push(
            container(column![head, text(detail).size(12)].spacing(4))
                .padding(8)
                .width(Fill)
                .style(move |_| theme::block(&p, p.paper)),
        );
    }
    col.into()
}

#[cfg(test)]
mod tests {
    use aetheria_engine::jobs::{JobKind, JobRecord, JobSpec, JobState};

    use super::notice;

    #[test]
    fn a_failed_code_run_is_named_by_its_first_line_and_its_exit() {
        let job = JobRecord {
            spec: JobSpec::new(JobKind::Code {
                language: "python".into(),
                code: "\n# train the model\nimport time\n".into(),
                timeout_s: None,
            }),
            state: JobState::Dead,
            attempts: 1,
            progress: "epoch 3".into(),
            result: String::new(),
            error: "python in the docker sandbox: exit code 1 after 2.0 s\nstderr:\nboom".into(),
        };
        let (title, body) = notice(&job);
        assert_eq!(title, "Aetheria: job failed");
        assert_eq!(
            body,
            "Run python: # train the model\npython in the docker sandbox: exit code 1 after 2.0 s"
        );
    }
}
