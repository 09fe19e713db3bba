//! One entry of the conversation as the window draws it: the person's message, an answer (its
//! markdown parsed as it streams), the model's reasoning, a tool call's card with its live output
//! and, when the person moved approvals into the chat, its buttons; a compaction, a failure.

use aetheria_engine::api::{Decision, ToolStatus};
use iced::widget::{button, column, container, mouse_area, row, text};
use iced::{Element, Fill};

use super::Message;
use super::transcript::{AnswerState, Entry, ToolEntry, View};
use super::view::{btn, cut, label};
use crate::markdown;
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

pub(super) fn entry_view<'a>(
    p: Palette,
    entry: &'a Entry,
    view: &'a View,
    running: bool,
    font_size: f32,
    tick: usize,
    answer_in_chat: bool,
) -> Element<'a, Message> {
    match entry {
        Entry::User {
            text: body,
            attachments,
            ..
        } => bubble(
            p,
            "YOU",
            p.accent,
            text(super::transcript::with_attachments(body, attachments))
                .size(font_size)
                .into(),
        ),
        Entry::Answer { state, .. } => {
            let actions = markdown::view::Actions {
                open: Message::OpenLink,
                copy: Message::Copy,
            };
            let mut col = column![markdown::view::blocks(
                view.markdown.blocks(),
                p,
                font_size,
                actions
            )]
            .spacing(6);
            let note = match state {
                AnswerState::Streaming if running => {
                    col = col.push(text("▍").size(16));
                    None
                }
                AnswerState::Stopped => Some("stopped"),
                AnswerState::Incomplete => Some("incomplete"),
                AnswerState::Streaming | AnswerState::Complete => None,
            };
            if let Some(note) = note {
                col = col.push(label(format!("[{note}]")).color(p.muted));
            }
            bubble(p, "AETHERIA", p.assistant, col.into())
        }
        Entry::Thinking { id, text: body } => {
            let expanded = &view.expanded;
            let words = body.split_whitespace().count();
            let caption = format!(
                "{} THINKING · {words} word{}",
                if *expanded { "▾" } else { "▸" },
                if words == 1 { "" } else { "s" }
            );
            let toggle = button(label(caption).color(p.muted))
                .padding([4, 8])
                .style(theme::button(
                    p,
                    ButtonKind::Item {
                        selected: *expanded,
                    },
                ))
                .on_press(Message::ToggleThinking(id.clone()));
            let mut col = column![toggle].spacing(6);
            if *expanded {
                col = col.push(text(body.as_str()).size(font_size - 1.0).color(p.muted));
            }
            container(col).padding([0, 14]).width(Fill).into()
        }
        Entry::Tool(ToolEntry {
            call,
            tool,
            arguments,
            status,
            output,
            live,
            ..
        }) => {
            let (expanded, took) = (&view.expanded, &view.took);
            let (badge, fill) = status_badge(p, *status);
            let mut header = row![
                text(format!("TOOL · {tool}"))
                    .font(BOLD)
                    .size(14)
                    .width(Fill),
            ]
            .spacing(8)
            .align_y(iced::Center);
            if let Some(took) = took {
                header = header.push(label(format!("{:.1} s", took.as_secs_f64())).color(p.muted));
            }
            if *status == ToolStatus::Running && running {
                const FRAMES: [&str; 4] = ["|", "/", "-", "\\"];
                header = header.push(text(FRAMES[tick % FRAMES.len()]).font(MONO).size(14));
            }
            header = header
                .push(
                    container(label(badge))
                        .padding([2, 6])
                        .style(move |_| theme::badge(&p, fill)),
                )
                .push(label(if *expanded { "▲" } else { "▼" }));
            let header = mouse_area(header).on_press(Message::ToggleTool(call.clone()));
            let mut col = column![header].spacing(6);
            // The card's own buttons, once the person moved the decision into the chat.
            if *status == ToolStatus::AwaitingApproval && answer_in_chat {
                let answer = |decision, remember| Message::ApproveCall {
                    call: call.clone(),
                    decision,
                    remember,
                };
                col = col.push(
                    row![
                        btn(p, ButtonKind::Ok, "Allow once")
                            .on_press(answer(Decision::Allow, false)),
                        btn(p, ButtonKind::Secondary, "Always allow")
                            .on_press(answer(Decision::Allow, true)),
                        btn(p, ButtonKind::Danger, "Deny").on_press(answer(Decision::Deny, false)),
                    ]
                    .spacing(10),
                );
            }
            if *expanded {
                col = col.push(text(pretty(arguments)).font(MONO).size(13));
                if output.is_empty() && !live.is_empty() {
                    col = col.push(
                        container(
                            text(super::transcript::tail(live, 8_000))
                                .font(MONO)
                                .size(13),
                        )
                        .padding(8)
                        .width(Fill)
                        .style(move |_| theme::flat(&p, p.paper)),
                    );
                }
                if !output.is_empty() {
                    col = col.push(
                        container(text(cut(output, 8_000)).font(MONO).size(13))
                            .padding(8)
                            .width(Fill)
                            .style(move |_| theme::flat(&p, p.paper)),
                    );
                }
            } else {
                col = col.push(
                    text(cut(&arguments.replace('\n', " "), 120))
                        .font(MONO)
                        .size(13),
                );
                if let Some(first) = output.lines().next() {
                    let more = if output.lines().nth(1).is_some() {
                        " …"
                    } else {
                        ""
                    };
                    col = col.push(
                        text(format!("{}{more}", cut(first, 120)))
                            .font(MONO)
                            .size(13)
                            .color(p.muted),
                    );
                }
            }
            container(col)
                .padding(12)
                .width(Fill)
                .style(move |_| theme::block(&p, p.tool))
                .into()
        }
        Entry::Failed { message } => {
            bubble(p, "ERROR", p.danger, text(message.as_str()).size(15).into())
        }
        Entry::Stopped => bubble(p, "ERROR", p.danger, text("Stopped.").size(15).into()),
        Entry::Compacted { detail } => container(label(format!("[{detail}]")).color(p.muted))
            .padding([0, 14])
            .width(Fill)
            .into(),
    }
}

/// How a tool call's status is shown: its word and its colour.
pub(super) fn status_badge(p: Palette, status: ToolStatus) -> (&'static str, iced::Color) {
    match status {
        ToolStatus::AwaitingApproval => ("WAITING FOR YOU", p.accent),
        ToolStatus::Running => ("RUNNING", p.surface),
        ToolStatus::Succeeded => ("DONE", p.ok),
        ToolStatus::Failed => ("FAILED", p.danger),
        ToolStatus::Denied => ("DENIED", p.danger),
        ToolStatus::Cancelled => ("STOPPED", p.surface),
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

/// Tool arguments as indented JSON (as they came when they are not JSON).
pub(crate) fn pretty(arguments: &str) -> String {
    serde_json::from_str::<serde_json::Value>(arguments)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| arguments.to_owned())
}
