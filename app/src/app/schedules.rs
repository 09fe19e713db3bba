//! The Jobs tab's schedules: prompts that run on their own, each with its cron expression, its
//! time zone and its next runs in the person's own time; a form that shows the next runs as the
//! expression is typed and schedules it in this machine's zone; Remove. Other front ends' changes
//! arrive as they happen (the engine says them to every client).

use aetheria_engine::Handle;
use aetheria_engine::api::jobs::Schedule;
use aetheria_engine::api::jobs::{JobRecord, JobState};
use aetheria_engine::api::{Command, Envelope, Event, JobsCommand, SessionId, SubmissionId};
use aetheria_engine::jobs::schedule::{local_zone, next_runs};
use iced::widget::{button, column, container, row, text};
use iced::{Element, Fill};

use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// The cron field's id.
pub const CRON: &str = "schedule-cron";
/// The prompt field's id.
pub const PROMPT: &str = "schedule-prompt";

/// Runs shown ahead.
const AHEAD: usize = 3;

/// What the schedules section does.
#[derive(Debug, Clone)]
pub enum ScheduleMsg {
    Cron(String),
    Prompt(String),
    /// Schedule what the form holds.
    Add,
    /// Stop a schedule (by id).
    Remove(String),
    /// Pause (`true`) or resume a schedule (by id).
    Pause(String, bool),
    /// Open the conversation of a run.
    Open(SessionId),
}

/// The schedules as this window knows them, and the form.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// None until the engine listed them.
    list: Option<Vec<Schedule>>,
    cron: String,
    prompt: String,
    /// This machine's time zone, which new schedules use (none: UTC).
    zone: Option<String>,
    /// The form's last Add, until answered.
    adding: Option<SubmissionId>,
    /// Why it was refused.
    error: Option<String>,
    /// Schedules added since the list was last asked for: a list answered before they were made
    /// may arrive after them, and must not hide them.
    added_since_refresh: Vec<Schedule>,
}

impl Default for Schedules {
    fn default() -> Self {
        Self::new(local_zone())
    }
}

impl Schedules {
    /// The section, scheduling in `zone` (a test's, or this machine's).
    pub fn new(zone: Option<String>) -> Self {
        Self {
            list: None,
            cron: String::new(),
            prompt: String::new(),
            zone,
            adding: None,
            error: None,
            added_since_refresh: Vec::new(),
        }
    }

    /// The command that lists them (when the tab opens).
    pub fn refresh(&mut self) -> Command {
        self.added_since_refresh.clear();
        Command::Jobs(JobsCommand::ListSchedules)
    }

    /// Handles a message; the conversation to open, when one was asked for.
    pub fn update(&mut self, msg: ScheduleMsg, engine: Option<&Handle>) -> Option<SessionId> {
        match msg {
            ScheduleMsg::Cron(cron) => self.cron = cron,
            ScheduleMsg::Prompt(prompt) => self.prompt = prompt,
            ScheduleMsg::Add => {
                if let Err(why) = next_runs(&self.cron, self.zone.as_deref(), now(), 1) {
                    self.error = Some(why.0);
                    return None;
                }
                if self.prompt.trim().is_empty() {
                    self.error = Some("Write the prompt it runs.".into());
                    return None;
                }
                let command = Command::Jobs(JobsCommand::AddSchedule {
                    cron: self.cron.trim().to_owned(),
                    timezone: self.zone.clone(),
                    text: self.prompt.trim().to_owned(),
                    allow: Vec::new(),
                });
                match engine.map(|e| e.submit(command)) {
                    Some(Ok(id)) => {
                        self.adding = Some(id);
                        self.error = None;
                    }
                    Some(Err(e)) => self.error = Some(e.to_string()),
                    None => self.error = Some("The engine is not running.".into()),
                }
            }
            ScheduleMsg::Remove(id) => {
                if let Some(engine) = engine {
                    let _ = engine.submit(Command::Jobs(JobsCommand::RemoveSchedule { id }));
                }
            }
            ScheduleMsg::Pause(id, paused) => {
                if let Some(engine) = engine {
                    let _ = engine.submit(Command::Jobs(JobsCommand::PauseSchedule { id, paused }));
                }
            }
            ScheduleMsg::Open(session) => return Some(session),
        }
        None
    }

    /// Follows the engine: the list, schedules added or removed by any front end, and the
    /// answer to the form's own Add.
    pub fn on_engine(&mut self, envelope: &Envelope) {
        let own = self.adding.is_some() && envelope.submission == self.adding;
        match &envelope.event {
            Event::Schedules { schedules } => {
                let mut list = schedules.clone();
                for added in self.added_since_refresh.drain(..) {
                    if !list.iter().any(|s| s.id == added.id) {
                        list.push(added);
                    }
                }
                self.list = Some(list);
            }
            Event::ScheduleAdded { schedule } => {
                self.added_since_refresh.push(schedule.clone());
                let list = self.list.get_or_insert_with(Vec::new);
                list.retain(|s| s.id != schedule.id);
                list.push(schedule.clone());
                if own {
                    self.adding = None;
                    self.cron.clear();
                    self.prompt.clear();
                }
            }
            Event::ScheduleChanged { schedule } => {
                if let Some(slot) = self.list.iter_mut().flatten().find(|s| s.id == schedule.id) {
                    *slot = schedule.clone();
                }
            }
            Event::ScheduleRemoved { id } => {
                self.added_since_refresh.retain(|s| &s.id != id);
                if let Some(list) = self.list.as_mut() {
                    list.retain(|s| &s.id != id);
                }
            }
            Event::CommandFailed { error, .. } if own => {
                self.adding = None;
                self.error = Some(error.message.clone());
            }
            _ => {}
        }
    }

    /// The section; `jobs` are the runs the window knows (each schedule shows its latest).
    pub fn view<'a>(&'a self, p: Palette, jobs: &'a [JobRecord]) -> Element<'a, ScheduleMsg> {
        let zone = self.zone.as_deref().unwrap_or("UTC");
        let mut col = column![
            text(format!(
                "SCHEDULES — PROMPTS THAT RUN ON THEIR OWN ({zone})"
            ))
            .font(BOLD)
            .size(12)
        ]
        .spacing(8);
        match &self.list {
            None => col = col.push(text("Looking…").size(12).color(p.muted)),
            Some(list) if list.is_empty() => {
                col = col.push(text("None yet.").size(12).color(p.muted));
            }
            Some(list) => {
                for schedule in list {
                    col = col.push(item(p, schedule, jobs));
                }
            }
        }
        let field = |id, hint, value| theme::field(p, id, hint, value);
        col = col.push(
            field(
                CRON,
                "when: 0 9 * * 1-5 (minute hour day month weekday)",
                &self.cron,
            )
            .on_input(ScheduleMsg::Cron),
        );
        col = col.push(
            row![
                field(PROMPT, "what to ask", &self.prompt)
                    .on_input(ScheduleMsg::Prompt)
                    .on_submit(ScheduleMsg::Add)
                    .width(Fill),
                button(text("Schedule it").font(BOLD).size(12))
                    .padding([4, 8])
                    .style(theme::button(p, ButtonKind::Primary))
                    .on_press_maybe(self.adding.is_none().then_some(ScheduleMsg::Add)),
            ]
            .spacing(6)
            .align_y(iced::Center),
        );
        if !self.cron.trim().is_empty() {
            let preview = match runs(&self.cron, self.zone.as_deref()) {
                Ok(runs) => (format!("Runs {runs}"), p.muted),
                Err(why) => (why, p.danger),
            };
            col = col.push(text(preview.0).size(12).color(preview.1));
        }
        if let Some(error) = &self.error {
            col = col.push(text(error.as_str()).size(12).color(p.danger));
        }
        col.into()
    }
}

/// Runs shown under a schedule.
const RUNS: usize = 3;

/// One schedule: when, what, its next runs (or PAUSED), its latest runs with their
/// conversations.
fn item<'a>(p: Palette, schedule: &'a Schedule, jobs: &'a [JobRecord]) -> Element<'a, ScheduleMsg> {
    let zone = schedule.timezone.as_deref().unwrap_or("UTC");
    let when = if schedule.paused {
        "paused: it does not run until resumed".to_owned()
    } else {
        match runs(&schedule.cron, schedule.timezone.as_deref()) {
            Ok(runs) => format!("next {runs}"),
            Err(why) => why,
        }
    };
    let small = |caption: &'static str, kind| {
        button(text(caption).font(BOLD).size(11))
            .padding([2, 6])
            .style(theme::button(p, kind))
    };
    let mut head = row![
        text(format!("{} · {zone}", schedule.cron))
            .font(MONO)
            .size(12)
            .width(Fill),
    ]
    .spacing(6)
    .align_y(iced::Center);
    if schedule.paused {
        head = head.push(
            container(text("PAUSED").font(BOLD).size(11))
                .padding([2, 6])
                .style(move |_| theme::badge(&p, p.muted)),
        );
        head = head.push(
            small("Resume", ButtonKind::Ok)
                .on_press(ScheduleMsg::Pause(schedule.id.clone(), false)),
        );
    } else {
        head = head.push(
            small("Pause", ButtonKind::Secondary)
                .on_press(ScheduleMsg::Pause(schedule.id.clone(), true)),
        );
    }
    head = head.push(
        small("Remove", ButtonKind::Ghost).on_press(ScheduleMsg::Remove(schedule.id.clone())),
    );
    let mut col = column![
        head,
        text(schedule.text.as_str()).size(13),
        text(when).size(12).color(p.muted)
    ]
    .spacing(4);
    let runs: Vec<&JobRecord> = jobs
        .iter()
        .filter(|j| schedule.made(&j.spec.id))
        .take(RUNS)
        .collect();
    for run in runs {
        col = col.push(run_line(p, run));
    }
    container(col)
        .padding(8)
        .width(Fill)
        .style(move |_| theme::block(&p, p.paper))
        .into()
}

/// One run of a schedule: when it stood for, how it went, and its conversation.
fn run_line(p: Palette, run: &JobRecord) -> Element<'_, ScheduleMsg> {
    let at = run
        .spec
        .id
        .as_str()
        .rsplit('-')
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map(|at| {
            at.with_timezone(&chrono::Local)
                .format("%a %-d %b %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let state = match run.state {
        JobState::Queued => "queued",
        JobState::Running => "running",
        JobState::Done => "answered",
        JobState::Dead => "failed",
        JobState::Cancelled => "cancelled",
    };
    let mut line = row![
        text(format!("ran {at}: {state}"))
            .size(12)
            .color(p.muted)
            .width(Fill)
    ]
    .spacing(6)
    .align_y(iced::Center);
    if let Some(session) = run.session() {
        line = line.push(
            button(text("Open").font(BOLD).size(11))
                .padding([2, 6])
                .style(theme::button(p, ButtonKind::Secondary))
                .on_press(ScheduleMsg::Open(session)),
        );
    }
    line.into()
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// The next runs of `cron` in `zone`, said in this machine's own time.
fn runs(cron: &str, zone: Option<&str>) -> Result<String, String> {
    let runs = next_runs(cron, zone, now(), AHEAD).map_err(|e| e.0)?;
    if runs.is_empty() {
        return Ok("never".into());
    }
    let said: Vec<String> = runs
        .iter()
        .map(|at| {
            at.with_timezone(&chrono::Local)
                .format("%a %-d %b %H:%M")
                .to_string()
        })
        .collect();
    Ok(said.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(id: &str) -> Schedule {
        Schedule {
            id: id.into(),
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
    fn a_list_answered_before_an_add_does_not_hide_it() {
        let mut section = Schedules::new(None);
        let _ = section.refresh();
        let event = |event| Envelope {
            submission: None,
            event,
        };
        section.on_engine(&event(Event::ScheduleAdded {
            schedule: schedule("new"),
        }));
        // The list asked for when the tab opened, made before the add, arrives after it.
        section.on_engine(&event(Event::Schedules {
            schedules: vec![schedule("old")],
        }));
        let ids: Vec<&str> = section
            .list
            .iter()
            .flatten()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, ["old", "new"]);
        // The next list is the engine's as it is.
        let _ = section.refresh();
        section.on_engine(&event(Event::Schedules {
            schedules: vec![schedule("old")],
        }));
        assert_eq!(section.list.as_ref().map(Vec::len), Some(1));
    }
}
