//! The Sandbox tab: which isolation runs model-written code and whether its image is ready (with a
//! Build button and the build's progress), then every code run of the open session as a terminal
//! with its live output, newest first.

use aetheria_engine::api::{Event, SandboxStatus, SubmissionId, ToolKind, ToolStatus};
use iced::widget::{button, column, container, progress_bar, row, text};
use iced::{Element, Fill};

use super::Message;
use super::transcript::{Entry, Transcript, tail};
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// Lines of a run's output shown in the tab.
const SHOWN_BYTES: usize = 6 * 1024;

/// What the tab knows about the sandbox.
#[derive(Debug, Clone, Default)]
pub struct SandboxPanel {
    /// The last status the engine reported.
    pub status: Option<SandboxStatus>,
    /// The image build in progress: its submission, last message and fraction.
    pub building: Option<(Option<SubmissionId>, String, Option<f32>)>,
    /// Why the last build failed.
    pub error: Option<String>,
}

impl SandboxPanel {
    /// Takes the events that concern the sandbox; `true` when it took one.
    pub fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::SandboxStatus { status } => {
                self.status = Some(status.clone());
                self.building = None;
                true
            }
            Event::SandboxImageProgress { message, fraction } => {
                let submission = self.building.as_ref().and_then(|b| b.0);
                self.building = Some((submission, message.clone(), *fraction));
                true
            }
            Event::CommandFailed { submission, error }
                if self
                    .building
                    .as_ref()
                    .is_some_and(|b| b.0 == Some(*submission)) =>
            {
                self.building = None;
                self.error = Some(error.message.clone());
                true
            }
            _ => false,
        }
    }

    /// A build was asked for.
    pub fn build_started(&mut self, submission: Option<SubmissionId>) {
        self.error = None;
        self.building = Some((submission, "starting the image build…".into(), None));
    }
}

/// The tab's content.
pub fn view<'a>(
    p: Palette,
    panel: &'a SandboxPanel,
    transcript: &'a Transcript,
) -> Element<'a, Message> {
    let mut col = column![status_block(p, panel)].spacing(12);
    let runs: Vec<Element<'a, Message>> = transcript
        .entries()
        .iter()
        .rev()
        .filter_map(|e| match e {
            Entry::Tool(t) if t.kind == Some(ToolKind::Code) => Some(run_block(
                p,
                &t.tool,
                &t.arguments,
                t.status,
                &t.live,
                &t.output,
            )),
            _ => None,
        })
        .collect();
    if runs.is_empty() {
        col = col.push(
            text("Code the agent runs in this session appears here, live.")
                .size(13)
                .color(p.muted),
        );
    }
    col.extend(runs).into()
}

fn status_block(p: Palette, panel: &SandboxPanel) -> Element<'_, Message> {
    let mut col = column![].spacing(8);
    match &panel.status {
        None => col = col.push(text("Checking the sandbox…").size(13).color(p.muted)),
        Some(status) => {
            let (word, fill) = if status.ready {
                ("READY", p.ok)
            } else {
                ("NOT READY", p.danger)
            };
            col = col.push(
                row![
                    text(
                        status
                            .backend
                            .as_deref()
                            .unwrap_or("no backend")
                            .to_uppercase()
                    )
                    .font(BOLD)
                    .size(13)
                    .width(Fill),
                    container(text(word).font(BOLD).size(11))
                        .padding([1, 5])
                        .style(move |_| theme::badge(&p, fill)),
                ]
                .align_y(iced::Center),
            );
            col = col.push(text(status.detail.as_str()).size(12).color(p.muted));
            if !status.ready && panel.building.is_none() {
                col = col.push(
                    button(text("BUILD IMAGE").font(BOLD).size(13))
                        .padding([6, 12])
                        .style(theme::button(p, ButtonKind::Primary))
                        .on_press(Message::Panel(super::panel::Msg::BuildSandboxImage)),
                );
            }
        }
    }
    if let Some((_, message, fraction)) = &panel.building {
        col = col.push(text(message.as_str()).font(MONO).size(12));
        if let Some(f) = fraction {
            col = col.push(progress_bar(0.0..=1.0, *f).girth(8));
        }
    }
    if let Some(error) = &panel.error {
        col = col.push(text(error.as_str()).size(12).color(p.danger));
    }
    container(col)
        .padding(10)
        .width(Fill)
        .style(move |_| theme::block(&p, p.paper))
        .into()
}

fn run_block<'a>(
    p: Palette,
    tool: &'a str,
    arguments: &'a str,
    status: ToolStatus,
    live: &'a str,
    output: &'a str,
) -> Element<'a, Message> {
    let args: serde_json::Value = serde_json::from_str(arguments).unwrap_or_default();
    let title = match tool {
        "shell" => format!("$ {}", args["command"].as_str().unwrap_or("")),
        _ => format!("{} program", args["language"].as_str().unwrap_or("code")),
    };
    let title: String = title
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(80)
        .collect();
    let (word, fill) = super::entry_view::status_badge(p, status);
    // While it runs the live output; afterwards the same, or the result when nothing streamed.
    let shown = if live.is_empty() && status != ToolStatus::Running {
        output
    } else {
        live
    };
    let terminal = container(
        text(tail(shown, SHOWN_BYTES).to_owned())
            .font(MONO)
            .size(12)
            .color(p.code_text),
    )
    .padding(8)
    .width(Fill)
    .style(move |_| theme::flat(&p, p.code_background));
    column![
        row![
            text(title).font(MONO).size(12).width(Fill),
            container(text(word).font(BOLD).size(11))
                .padding([1, 5])
                .style(move |_| theme::badge(&p, fill)),
        ]
        .spacing(6)
        .align_y(iced::Center),
        terminal,
    ]
    .spacing(4)
    .into()
}
