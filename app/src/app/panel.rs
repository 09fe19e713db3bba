//! The right panel, a component: **Activity** lists every tool call of the open session with its
//! status and time; **Files** shows the workspace as a tree (listed through the engine, so it sees
//! exactly what the file tools may touch) and refreshes after a tool changes something; **Sandbox**
//! (in `sandbox`) shows the code sandbox and live output of code runs; **Jobs** (in `jobs` and
//! `schedules`) the background jobs and the schedules; **Browser** (in `browser`) the page the
//! agent drives, and taking it over. It owns its tab and what each tab shows;
//! opening a run's conversation comes back to the window as an `Event`.

use std::collections::{BTreeSet, HashMap};

use aetheria_engine::Handle;
use aetheria_engine::api::{
    Command, FileEntry, FileKind, JobId, JobsCommand, SandboxCommand, SessionId, SubmissionId,
    ToolsCommand,
};
use aetheria_engine::jobs::JobRecord;
use iced::widget::{button, column, container, row, scrollable, text};
use iced::{Element, Fill, Length};

use super::schedules::{ScheduleMsg, Schedules};
use super::transcript::{Entry, Transcript};
use super::{App, Message, sandbox};
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// The panel's width (the Browser tab's is wider).
pub const WIDTH: f32 = 356.0;

/// Which tab is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// Tool calls.
    #[default]
    Activity,
    /// The workspace tree.
    Files,
    /// The code sandbox and its runs' live output.
    Sandbox,
    /// Background jobs.
    Jobs,
    /// The agent's browser.
    Browser,
}

/// What the Files tab knows: listed folders and which are open.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// Entries by folder path ("" is the top).
    pub listed: HashMap<String, Vec<FileEntry>>,
    /// Folders shown open.
    pub open: BTreeSet<String>,
}

impl Files {
    /// The folders to list again after something changed: the top and every open one.
    pub fn to_refresh(&self) -> Vec<String> {
        std::iter::once(String::new())
            .chain(self.open.iter().cloned())
            .collect()
    }
}

/// What the panel does.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Show a tab.
    Show(Tab),
    /// Cancel a background job.
    CancelJob(JobId),
    /// Build the sandbox image.
    BuildSandboxImage,
    /// Open or close a folder of the Files tab.
    ToggleDir(String),
    /// The Jobs tab's schedules.
    Schedule(ScheduleMsg),
    /// The Browser tab.
    Browser(super::browser::Msg),
}

/// What the panel asks of the window.
#[derive(Debug)]
pub enum Event {
    /// Open this conversation (a schedule's run).
    Open(SessionId),
}

/// The panel's tab and what its tabs show.
#[derive(Debug, Default)]
pub struct Panel {
    /// The tab shown.
    pub tab: Tab,
    /// The workspace tree as listed so far.
    pub files: Files,
    /// The sandbox tab.
    pub sandbox: sandbox::SandboxPanel,
    /// Background jobs, newest first.
    pub jobs: Vec<JobRecord>,
    /// The schedules.
    pub schedules: Schedules,
    /// The Browser tab.
    pub browser: super::browser::BrowserTab,
}

impl Panel {
    /// Handles a message; `submit` sends a command to the engine (its submission, when sent).
    pub fn update(
        &mut self,
        msg: Msg,
        engine: Option<&Handle>,
        submit: &mut dyn FnMut(Command) -> Option<SubmissionId>,
    ) -> Option<Event> {
        match msg {
            Msg::Show(tab) => {
                if tab == Tab::Jobs {
                    submit(Command::Jobs(JobsCommand::List { limit: Some(50) }));
                    submit(self.schedules.refresh());
                }
                self.tab = tab;
            }
            Msg::CancelJob(id) => {
                submit(Command::Jobs(JobsCommand::Cancel { id }));
            }
            Msg::BuildSandboxImage => {
                let submission = submit(Command::Sandbox(SandboxCommand::BuildImage));
                self.sandbox.build_started(submission);
            }
            Msg::ToggleDir(path) => {
                if !self.files.open.remove(&path) {
                    self.files.open.insert(path.clone());
                    submit(Command::Tools(ToolsCommand::ListFiles { path }));
                }
            }
            Msg::Schedule(msg) => return self.schedules.update(msg, engine).map(Event::Open),
            Msg::Browser(msg) => self.browser.update(msg, &mut |c| {
                submit(c);
            }),
        }
        None
    }
}

/// The path of `name` inside `folder`.
pub fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_owned()
    } else {
        format!("{folder}/{name}")
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        0..1_024 => format!("{bytes} B"),
        1_024..1_048_576 => format!("{:.1} KB", bytes as f64 / 1_024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

impl App {
    pub(super) fn panel(&self, p: Palette) -> Element<'_, Message> {
        let tab = |caption: &'static str, which: Tab| {
            button(text(caption).font(BOLD).size(12))
                .padding([6, 6])
                .style(theme::button(
                    p,
                    ButtonKind::Item {
                        selected: self.panel.tab == which,
                    },
                ))
                .on_press(Message::Panel(Msg::Show(which)))
        };
        let tabs = row![
            tab("ACTIVITY", Tab::Activity),
            tab("FILES", Tab::Files),
            tab("SANDBOX", Tab::Sandbox),
            tab("JOBS", Tab::Jobs),
            tab("BROWSER", Tab::Browser)
        ]
        .spacing(4);
        let body = match self.panel.tab {
            Tab::Activity => activity(p, &self.conversation.transcript),
            Tab::Files => self.files_tree(p),
            Tab::Sandbox => {
                super::sandbox::view(p, &self.panel.sandbox, &self.conversation.transcript)
            }
            Tab::Jobs => column![
                super::jobs::view(
                    p,
                    &self.panel.jobs,
                    self.known_settings
                        .as_ref()
                        .map(|s| s.jobs_allow.as_slice()),
                ),
                self.panel
                    .schedules
                    .view(p, &self.panel.jobs)
                    .map(|m| Message::Panel(Msg::Schedule(m))),
            ]
            .spacing(18)
            .into(),
            Tab::Browser => self.panel.browser.view(p),
        };
        // The Browser tab is wider: its page is worth seeing.
        let width = if self.panel.tab == Tab::Browser {
            super::browser::FRAME_WIDTH + 32.0
        } else {
            WIDTH
        };
        container(
            column![tabs, scrollable(body).height(Fill),]
                .spacing(14)
                .padding(16),
        )
        .width(Length::Fixed(width))
        .height(Fill)
        .style(move |_| theme::block(&p, p.surface))
        .into()
    }

    fn files_tree(&self, p: Palette) -> Element<'_, Message> {
        if self.workspace.is_empty() {
            return text("No workspace folder is allowed yet. Add one in Settings (Ctrl+,).")
                .size(13)
                .color(p.muted)
                .into();
        }
        let mut rows = Vec::new();
        let mut budget = 500;
        self.tree_rows(p, "", 0, &mut rows, &mut budget);
        column(rows).spacing(2).into()
    }

    fn tree_rows<'a>(
        &'a self,
        p: Palette,
        folder: &str,
        depth: u16,
        rows: &mut Vec<Element<'a, Message>>,
        budget: &mut usize,
    ) {
        let Some(entries) = self.panel.files.listed.get(folder) else {
            return;
        };
        let indent = f32::from(depth) * 14.0;
        for entry in entries {
            if *budget == 0 {
                rows.push(text("…").size(13).color(p.muted).into());
                return;
            }
            *budget -= 1;
            let path = join(folder, &entry.name);
            match entry.kind {
                FileKind::Dir => {
                    let open = self.panel.files.open.contains(&path);
                    let mark = if open { "▾" } else { "▸" };
                    let line = button(text(format!("{mark} {}/", entry.name)).font(BOLD).size(13))
                        .padding([2, 4])
                        .style(theme::button(p, ButtonKind::Ghost))
                        .on_press(Message::Panel(Msg::ToggleDir(path.clone())));
                    rows.push(row![iced::widget::Space::new().width(indent), line].into());
                    if open && depth < 12 {
                        self.tree_rows(p, &path, depth + 1, rows, budget);
                    }
                }
                FileKind::File | FileKind::Link => {
                    let detail = if entry.kind == FileKind::Link {
                        "link".to_owned()
                    } else {
                        size(entry.size)
                    };
                    rows.push(
                        row![
                            iced::widget::Space::new().width(indent + 18.0),
                            text(entry.name.as_str()).font(MONO).size(13).width(Fill),
                            text(detail).size(11).color(p.muted),
                        ]
                        .spacing(6)
                        .into(),
                    );
                }
            }
        }
    }
}

fn activity(p: Palette, transcript: &Transcript) -> Element<'_, Message> {
    let calls: Vec<Element<'_, Message>> = transcript
        .rows()
        .filter_map(|(e, view)| match e {
            Entry::Tool(t) => Some((&t.call, &t.tool, &t.status, &view.took)),
            _ => None,
        })
        .map(|(call, tool, status, took)| {
            let (word, fill) = super::entry_view::status_badge(p, *status);
            let time = took.map_or_else(String::new, |t| format!("{:.1} s", t.as_secs_f64()));
            button(
                row![
                    text(tool.as_str()).font(MONO).size(13).width(Fill),
                    text(time).size(11).color(p.muted),
                    container(text(word).font(BOLD).size(11))
                        .padding([1, 5])
                        .style(move |_| theme::badge(&p, fill)),
                ]
                .spacing(8)
                .align_y(iced::Center),
            )
            .width(Fill)
            .padding([6, 8])
            .style(theme::button(p, ButtonKind::Item { selected: false }))
            .on_press(Message::Conversation(super::conversation::Msg::ToggleTool(
                call.clone(),
            )))
            .into()
        })
        .collect();
    if calls.is_empty() {
        return text("No tool calls in this session yet.")
            .size(13)
            .color(p.muted)
            .into();
    }
    column(calls).spacing(8).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_sizes() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a/b", "c"), "a/b/c");
        assert_eq!(size(12), "12 B");
        assert_eq!(size(2_048), "2.0 KB");
        let mut files = Files::default();
        files.open.insert("notes".into());
        assert_eq!(files.to_refresh(), vec![String::new(), "notes".to_owned()]);
    }
}
