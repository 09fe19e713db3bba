//! What the person does in the open conversation besides writing: fold a tool card or a model's
//! reasoning, copy an answer or a code block, open a link (judged first: one whose text names
//! another address than it goes to waits for the person), open an image over the window. It owns
//! the open conversation's entries and their view state (`Transcript`, fed by the engine's events
//! and the messages the composer sends), the search hit shown in it and the link waiting.

use std::path::PathBuf;

use aetheria_engine::api::{MessageId, ToolCallId};
use iced::widget::{column, container, row, text};
use iced::{Element, Fill, Task};

use super::Message;
use super::links;
use super::transcript::Transcript;
use super::view::btn;
use crate::markdown::Link;
use crate::theme::{self, ButtonKind, MONO, Palette};

/// What the person does in the conversation.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Fold or unfold a tool card.
    ToggleTool(ToolCallId),
    /// Open or close the model's reasoning of a message.
    ToggleThinking(MessageId),
    /// A link in an answer was clicked.
    OpenLink(Link),
    /// The person saw where a link really goes and opens it.
    OpenLinkAnyway(String),
    /// The person decided not to open the link.
    CancelLink,
    /// Put text on the clipboard (a code block's Copy button).
    Copy(String),
    /// Ctrl+Shift+C: copy the last answer.
    CopyLastAnswer,
    /// Show an image over the window (none: close it).
    Enlarge(Option<PathBuf>),
}

/// What the conversation asks of the window.
#[derive(Debug)]
pub enum Event {
    /// Open this web address in the browser (judged already).
    Open(String),
    /// Show this image over the window, or close the one shown.
    Enlarge(Option<PathBuf>),
    /// Something to tell the person (a link that is refused).
    Notice(String),
}

/// The open conversation: its entries with their view state, the search hit shown in it, and
/// the link waiting for the person to see where it goes.
#[derive(Default)]
pub struct Conversation {
    /// The entries (the protocol's `Conversation`, kept by the engine's events) and how each is
    /// shown.
    pub transcript: Transcript,
    /// The search hit to show once the conversation is loaded (a message or tool call id).
    pub reveal: Option<String>,
    /// The entry a search hit opened, marked.
    pub found_entry: Option<usize>,
    /// The link waiting: its address and why it waits.
    link: Option<(String, String)>,
}

impl Conversation {
    /// Handles a message.
    pub fn update(&mut self, msg: Msg) -> (Task<Msg>, Option<Event>) {
        let transcript = &mut self.transcript;
        let event = match msg {
            Msg::ToggleTool(call) => {
                transcript.toggle(&call);
                None
            }
            Msg::ToggleThinking(message) => {
                transcript.toggle_thinking(&message);
                None
            }
            Msg::OpenLink(link) => match links::judge(&link.url, &link.text) {
                links::Verdict::Open(url) => Some(Event::Open(url)),
                links::Verdict::Confirm { url, why } => {
                    self.link = Some((url, why));
                    None
                }
                links::Verdict::Refuse(why) => Some(Event::Notice(why)),
            },
            Msg::OpenLinkAnyway(url) => {
                self.link = None;
                Some(Event::Open(url))
            }
            Msg::CancelLink => {
                self.link = None;
                None
            }
            Msg::Copy(text) => return (iced::clipboard::write(text), None),
            Msg::CopyLastAnswer => {
                let task = transcript.last_answer().map_or_else(Task::none, |answer| {
                    iced::clipboard::write(answer.to_owned())
                });
                return (task, None);
            }
            Msg::Enlarge(path) => Some(Event::Enlarge(path)),
        };
        (Task::none(), event)
    }

    /// The link waiting, where it really goes and why it waits, with Open it and Cancel.
    pub fn link_banner(&self, p: Palette) -> Option<Element<'_, Message>> {
        let (url, why) = self.link.as_ref()?;
        let own = Message::Conversation;
        Some(
            container(
                column![
                    text(why.as_str()).size(14),
                    text(format!("It goes to: {url}")).font(MONO).size(13),
                    row![
                        btn(p, ButtonKind::Secondary, "Open it")
                            .on_press(own(Msg::OpenLinkAnyway(url.clone()))),
                        btn(p, ButtonKind::Secondary, "Cancel").on_press(own(Msg::CancelLink)),
                    ]
                    .spacing(10),
                ]
                .spacing(8),
            )
            .padding(10)
            .width(Fill)
            .style(move |_| theme::block(&p, p.surface))
            .into(),
        )
    }
}
