//! Drawing the window: sessions sidebar, conversation, composer, and the approval prompt over them.

use aetheria_engine::api::{Decision, Effect, ToolStatus};
use iced::widget::{
    Space, button, center, column, container, markdown, opaque, row, scrollable, stack, text,
    text_editor,
};
use iced::{Element, Fill, Length, Shrink, keyboard};

use super::transcript::Entry;
use super::{App, Approval, Message, Status};
use crate::theme::{self, BOLD, ButtonKind, HEADING, MONO, Palette};

/// The composer's widget id (tests and focus commands find it by this).
pub const COMPOSER: &str = "composer";

fn label<'a>(s: impl text::IntoFragment<'a>) -> text::Text<'a> {
    text(s).font(BOLD).size(12)
}

fn btn<'a>(p: Palette, kind: ButtonKind, caption: &'a str) -> button::Button<'a, Message> {
    button(text(caption).font(BOLD).size(15))
        .padding([8, 14])
        .style(theme::button(p, kind))
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}…")
    }
}

impl App {
    /// The whole window.
    pub fn view(&self) -> Element<'_, Message> {
        let p = self.palette();
        let body: Element<'_, Message> = match &self.status {
            Status::Connecting => center(text("Starting Aetheria…").font(BOLD).size(20)).into(),
            Status::Failed(reason) => center(
                container(
                    column![
                        text("Aetheria could not start").font(HEADING).size(26),
                        text(reason.as_str()).size(15),
                    ]
                    .spacing(12)
                    .max_width(640),
                )
                .padding(24)
                .style(move |_| theme::block(&p, p.danger)),
            )
            .into(),
            Status::Ready => row![self.sidebar(p), self.main(p)].into(),
        };
        let window = container(body)
            .width(Fill)
            .height(Fill)
            .style(move |_| theme::flat(&p, p.paper));
        match self.approvals.front() {
            Some(approval) => stack![
                window,
                opaque(
                    center(approval_prompt(p, approval, self.approvals.len())).style(move |_| {
                        theme::flat(
                            &p,
                            iced::Color {
                                a: 0.55,
                                ..p.shadow
                            },
                        )
                    })
                )
            ]
            .into(),
            None => window.into(),
        }
    }

    fn sidebar(&self, p: Palette) -> Element<'_, Message> {
        let mut list = column![].spacing(10);
        for s in &self.sessions {
            let selected = self.current.as_ref() == Some(&s.id);
            list = list.push(
                button(text(cut(&s.title, 28)).size(14))
                    .width(Fill)
                    .padding([8, 10])
                    .style(theme::button(p, ButtonKind::Item { selected }))
                    .on_press(Message::OpenSession(s.id.clone())),
            );
        }
        let mode = match self.mode {
            crate::theme::Mode::Light => "God Mode",
            crate::theme::Mode::GodMode => "Light mode",
        };
        let side = column![
            text("AETHERIA").font(HEADING).size(28),
            btn(p, ButtonKind::Primary, "+ New chat")
                .width(Fill)
                .on_press(Message::NewChat),
            label("SESSIONS").color(p.muted),
            scrollable(list.padding(iced::Padding {
                right: 8.0,
                bottom: 6.0,
                ..Default::default()
            }))
            .height(Fill),
            btn(p, ButtonKind::Secondary, mode)
                .width(Fill)
                .on_press(Message::ToggleTheme),
        ]
        .spacing(14)
        .padding(18);
        container(side)
            .width(Length::Fixed(270.0))
            .height(Fill)
            .style(move |_| theme::block(&p, p.surface))
            .into()
    }

    fn main(&self, p: Palette) -> Element<'_, Message> {
        let title = self
            .current
            .as_ref()
            .and_then(|id| self.sessions.iter().find(|s| &s.id == id))
            .map_or("New chat", |s| s.title.as_str());
        let model = self.provider.as_deref().unwrap_or("no provider");
        let workspace = match self.workspace.len() {
            0 => "no workspace".to_owned(),
            1 => format!("workspace: {}", self.workspace[0].display()),
            n => format!("{n} workspace folders"),
        };
        let header = row![
            text(cut(title, 60)).font(HEADING).size(24).width(Fill),
            chip(p, model, p.assistant),
            chip(p, &workspace, p.tool),
        ]
        .spacing(10)
        .align_y(iced::Center);

        let mut col = column![header].spacing(16).padding(22);
        if let Some(notice) = &self.notice {
            col = col.push(
                container(
                    row![
                        text(notice.as_str()).size(14).width(Fill),
                        btn(p, ButtonKind::Secondary, "Dismiss").on_press(Message::DismissNotice),
                    ]
                    .spacing(10)
                    .align_y(iced::Center),
                )
                .padding(10)
                .style(move |_| theme::block(&p, p.danger)),
            );
        }
        col = col.push(self.conversation(p));
        col = col.push(self.composer(p));
        col.into()
    }

    fn conversation(&self, p: Palette) -> Element<'_, Message> {
        if self.transcript.entries.is_empty() {
            let hint = if self.provider.is_none() {
                "No model provider is configured yet. Add one to config.toml (see the README), then restart — or try `aetheria ask --base-url URL --model NAME` in a terminal."
            } else {
                "Ask anything. Aetheria can read and write files in your workspace — it asks before changing anything."
            };
            return container(
                column![
                    text("What should we do?").font(HEADING).size(34),
                    text(hint).size(16).color(p.muted),
                ]
                .spacing(12)
                .max_width(620),
            )
            .height(Fill)
            .center_y(Fill)
            .into();
        }
        let mut list = column![].spacing(18).padding(iced::Padding {
            right: 14.0,
            bottom: 8.0,
            ..Default::default()
        });
        for entry in &self.transcript.entries {
            list = list.push(entry_view(p, entry, self.running));
        }
        scrollable(list).anchor_bottom().height(Fill).into()
    }

    fn composer(&self, p: Palette) -> Element<'_, Message> {
        let asking = !self.approvals.is_empty();
        let editor = text_editor(&self.composer)
            .id(COMPOSER)
            .placeholder("Message Aetheria — Enter sends, Shift+Enter adds a line")
            .on_action(Message::Compose)
            .height(Length::Fixed(92.0))
            .padding(12)
            .size(16)
            .style(theme::editor(p))
            .key_binding(move |press| {
                // While an approval waits, keys belong to the prompt (Enter allows, Esc denies).
                if asking {
                    return None;
                }
                let enter = matches!(
                    press.key.as_ref(),
                    keyboard::Key::Named(keyboard::key::Named::Enter)
                );
                if enter
                    && !press.modifiers.shift()
                    && matches!(press.status, text_editor::Status::Focused { .. })
                {
                    Some(text_editor::Binding::Custom(Message::Send))
                } else {
                    text_editor::Binding::from_key_press(press)
                }
            });
        let action: Element<'_, Message> = if self.running {
            btn(p, ButtonKind::Danger, "Stop")
                .on_press(Message::Stop)
                .into()
        } else {
            let send = btn(p, ButtonKind::Primary, "Send");
            let ready = self.engine.is_some() && !self.composer.text().trim().is_empty();
            send.on_press_maybe(ready.then_some(Message::Send)).into()
        };
        row![editor, action]
            .spacing(12)
            .align_y(iced::Bottom)
            .into()
    }
}

fn chip<'a>(p: Palette, caption: &str, fill: iced::Color) -> Element<'a, Message> {
    container(text(cut(caption, 40)).font(BOLD).size(12))
        .padding([4, 8])
        .style(move |_| theme::block(&p, fill))
        .into()
}

fn entry_view<'a>(p: Palette, entry: &'a Entry, running: bool) -> Element<'a, Message> {
    match entry {
        Entry::User(body) => bubble(p, "YOU", p.accent, text(body.as_str()).size(16).into()),
        Entry::Assistant {
            text: body,
            markdown: items,
            note,
            ..
        } => {
            let content: Element<'a, Message> = match items {
                Some(items) => {
                    let mut style =
                        markdown::Style::from_palette(p.theme(crate::theme::Mode::Light).palette());
                    style.link_color = p.ink;
                    style.font = theme::BODY;
                    style.inline_code_font = MONO;
                    style.code_block_font = MONO;
                    markdown::view(items, markdown::Settings::with_text_size(16, style))
                        .map(Message::OpenLink)
                }
                None => {
                    let cursor = if running { " ▍" } else { "" };
                    text(format!("{body}{cursor}")).size(16).into()
                }
            };
            let mut col = column![content].spacing(6);
            if let Some(note) = note {
                col = col.push(label(format!("[{note}]")).color(p.muted));
            }
            bubble(p, "AETHERIA", p.assistant, col.into())
        }
        Entry::Tool {
            tool,
            arguments,
            status,
            output,
            ..
        } => {
            let (badge, fill) = match status {
                ToolStatus::AwaitingApproval => ("WAITING FOR YOU", p.accent),
                ToolStatus::Running => ("RUNNING", p.surface),
                ToolStatus::Succeeded => ("DONE", p.ok),
                ToolStatus::Failed => ("FAILED", p.danger),
                ToolStatus::Denied => ("DENIED", p.danger),
                ToolStatus::Cancelled => ("STOPPED", p.surface),
            };
            let mut col = column![
                row![
                    text(format!("TOOL · {tool}"))
                        .font(BOLD)
                        .size(14)
                        .width(Fill),
                    container(label(badge))
                        .padding([2, 6])
                        .style(move |_| theme::block(&p, fill)),
                ]
                .align_y(iced::Center),
                text(cut(arguments, 300)).font(MONO).size(13),
            ]
            .spacing(6);
            if !output.is_empty() {
                col = col.push(text(cut(output, 600)).font(MONO).size(13).color(p.muted));
            }
            container(col)
                .padding(12)
                .width(Fill)
                .style(move |_| theme::block(&p, p.tool))
                .into()
        }
        Entry::Error(message) => {
            bubble(p, "ERROR", p.danger, text(message.as_str()).size(15).into())
        }
    }
}

fn bubble<'a>(
    p: Palette,
    who: &'a str,
    fill: iced::Color,
    content: Element<'a, Message>,
) -> Element<'a, Message> {
    container(column![label(who), content].spacing(6))
        .padding(14)
        .width(Fill)
        .style(move |_| theme::block(&p, fill))
        .into()
}

fn approval_prompt<'a>(p: Palette, approval: &'a Approval, waiting: usize) -> Element<'a, Message> {
    let effect = match approval.effect {
        Effect::ReadOnly => "read your files",
        Effect::Mutating => "change files in your workspace",
        Effect::External => "act on an outside service",
        Effect::Destructive => "delete or overwrite data",
    };

    let args =
        container(scrollable(text(approval.arguments.as_str()).font(MONO).size(13)).height(Shrink))
            .padding(10)
            .max_height(280)
            .width(Fill)
            .style(move |_| theme::block(&p, p.paper));
    let mut prompt = column![
        text("APPROVE THIS ACTION?").font(HEADING).size(24),
        text(format!("{} wants to {effect}.", approval.tool)).size(16),
        args,
        row![
            btn(p, ButtonKind::Ok, "Allow once").on_press(Message::Approve {
                decision: Decision::Allow,
                remember: false
            }),
            btn(p, ButtonKind::Secondary, "Always allow").on_press(Message::Approve {
                decision: Decision::Allow,
                remember: true
            }),
            Space::new().width(Fill),
            btn(p, ButtonKind::Danger, "Deny").on_press(Message::Approve {
                decision: Decision::Deny,
                remember: false
            }),
        ]
        .spacing(12),
        label("Enter allows once · Esc denies").color(p.muted),
    ]
    .spacing(14);
    if waiting > 1 {
        prompt = prompt
            .push(label(format!("{} more waiting after this one", waiting - 1)).color(p.muted));
    }
    container(prompt)
        .padding(24)
        .width(Length::Fixed(560.0))
        .style(move |_| theme::block(&p, p.surface))
        .into()
}
