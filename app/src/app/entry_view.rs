//! One entry of the conversation as the window draws it: the person's message, an answer (its
//! markdown parsed as it streams), the model's reasoning, a tool call's card with its live output
//! and, when the person moved approvals into the chat, its buttons; a compaction, a failure; the
//! images a person attached, as thumbnails that open over the window.

use std::path::PathBuf;

use aetheria_engine::api::{Decision, ToolStatus};
use iced::widget::{button, column, container, mouse_area, row, text};
use iced::{Element, Fill};

use super::Message;
use super::conversation::Msg;
use super::transcript::{AnswerState, Entry, ToolEntry, View};
use super::view::{btn, cut, label};
use crate::markdown;
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// How the conversation is drawn this frame, the same for every entry.
pub(super) struct Look {
    pub(super) p: Palette,
    /// A turn runs (the cursor of a streaming answer, a running call's spinner).
    pub(super) running: bool,
    pub(super) font_size: f32,
    /// The spinner's frame.
    pub(super) tick: usize,
    /// Approvals are answered from the cards in the chat.
    pub(super) answer_in_chat: bool,
}

pub(super) fn entry_view<'a>(
    look: &Look,
    entry: &'a Entry,
    view: &'a View,
) -> Element<'a, Message> {
    let &Look {
        p,
        running,
        font_size,
        tick,
        answer_in_chat,
    } = look;
    match entry {
        Entry::User {
            text: body,
            attachments,
            ..
        } => {
            // Shown images stand for themselves; one that cannot be shown stays a line.
            let shown: Vec<PathBuf> = view.pictures.iter().map(|p| p.path.clone()).collect();
            let picked_names = super::transcript::attachment_names(&shown);
            let names: Vec<String> = attachments
                .iter()
                .filter(|name| {
                    shown.is_empty()
                        || (name.as_str() != "an image" && !picked_names.contains(name))
                })
                .cloned()
                .collect();
            let mut content =
                column![text(super::transcript::with_attachments(body, &names)).size(font_size)]
                    .spacing(8);
            if !view.pictures.is_empty() {
                content = content.push(thumbnails(p, &view.pictures));
            }
            bubble(p, "YOU", p.accent, content.into())
        }
        Entry::Answer { state, usage, .. } => {
            let actions = markdown::view::Actions {
                open: |link| Message::Conversation(Msg::OpenLink(link)),
                copy: |text| Message::Conversation(Msg::Copy(text)),
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
            if let Some(usage) = usage {
                col = col.push(text(spent(usage)).font(MONO).size(11).color(p.muted));
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
                .on_press(Message::Conversation(Msg::ToggleThinking(id.clone())));
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
            let header =
                mouse_area(header).on_press(Message::Conversation(Msg::ToggleTool(call.clone())));
            let mut col = column![header].spacing(6);
            // The card's own buttons, once the person moved the decision into the chat.
            if *status == ToolStatus::AwaitingApproval && answer_in_chat {
                let answer = |decision, remember| {
                    Message::Approval(super::approvals::Msg::AnswerCall {
                        call: call.clone(),
                        decision,
                        remember,
                    })
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
            // What it drew is shown whether the card is open or not.
            if !view.pictures.is_empty() {
                col = col.push(thumbnails(p, &view.pictures));
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

/// What a turn (or a conversation) took: tokens in and out, and the cost when it is known.
pub(super) fn spent(usage: &aetheria_engine::api::Usage) -> String {
    let cached = match usage.cached_input_tokens {
        0 => String::new(),
        n => format!(" ({} cached)", thousands(n)),
    };
    let tokens = format!(
        "{} in{cached} · {} out",
        thousands(usage.input_tokens),
        thousands(usage.output_tokens)
    );
    match usage.cost_micros {
        Some(0) => format!("{tokens} · no cost"),
        Some(micros) => {
            #[allow(clippy::cast_precision_loss)]
            let dollars = micros as f64 / 1e6;
            if dollars < 0.01 {
                format!("{tokens} · ${dollars:.4}")
            } else {
                format!("{tokens} · ${dollars:.2}")
            }
        }
        None => tokens,
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Thumbnails of a message's images, each opening the image over the window.
fn thumbnails<'a>(p: Palette, pictures: &[super::pictures::Picture]) -> Element<'a, Message> {
    let mut line = row![].spacing(10);
    for (n, picture) in pictures.iter().enumerate() {
        let path = picture.path.clone();
        let picture = iced::widget::image(picture.thumb.clone())
            .width(160)
            .height(120)
            .content_fit(iced::ContentFit::Contain);
        line = line.push(
            button(column![picture, label(format!("image {}", n + 1))].spacing(4))
                .padding(4)
                .style(theme::button(p, ButtonKind::Secondary))
                .on_press(Message::Conversation(Msg::Enlarge(Some(path)))),
        );
    }
    line.wrap().into()
}

/// An attached image over the window, as large as it fits.
pub(super) fn enlarged<'a>(
    p: Palette,
    path: &std::path::Path,
    image: &iced::widget::image::Handle,
) -> Element<'a, Message> {
    container(
        column![
            // As large as it fits, never larger than it is.
            iced::widget::image(image.clone()).content_fit(iced::ContentFit::ScaleDown),
            row![
                text(
                    path.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                )
                .font(MONO)
                .size(12)
                .width(Fill),
                button(text("Close image").font(BOLD).size(13))
                    .padding([6, 12])
                    .style(theme::button(p, ButtonKind::Secondary))
                    .on_press(Message::Conversation(Msg::Enlarge(None))),
            ]
            .spacing(10)
            .align_y(iced::Center),
        ]
        .spacing(10),
    )
    .padding(14)
    .max_width(1100)
    .max_height(800)
    .style(move |_| theme::block(&p, p.surface))
    .into()
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

#[cfg(test)]
mod tests {
    use aetheria_engine::api::Usage;

    use super::spent;

    #[test]
    fn usage_reads_as_tokens_and_dollars() {
        let usage = |cost_micros| Usage {
            input_tokens: 1_234_567,
            output_tokens: 890,
            cached_input_tokens: 0,
            cost_micros,
        };
        assert_eq!(spent(&usage(None)), "1,234,567 in · 890 out");
        assert_eq!(spent(&usage(Some(0))), "1,234,567 in · 890 out · no cost");
        assert_eq!(
            spent(&usage(Some(1_234))),
            "1,234,567 in · 890 out · $0.0012"
        );
        assert_eq!(
            spent(&usage(Some(3_456_789))),
            "1,234,567 in · 890 out · $3.46"
        );
        let cached = Usage {
            cached_input_tokens: 1_200_000,
            ..usage(None)
        };
        assert_eq!(spent(&cached), "1,234,567 in (1,200,000 cached) · 890 out");
    }
}
