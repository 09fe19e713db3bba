//! The conversation's header: its title (renamed in place), Rename and Delete, the model and the
//! workspace, what the conversation took so far, and Export with what it said. It owns the title
//! being typed and the export; renaming and deleting come back to the window as an `Event`.

use aetheria_engine::Handle;
use aetheria_engine::api::{Envelope, SessionId, Usage};
use iced::widget::{column, container, row, text, text_input};
use iced::{Element, Fill, Task};

use super::Message;
use super::export::{Export, ExportMsg};
use super::view::{RENAME, btn, cut};
use crate::theme::{self, BOLD, ButtonKind, HEADING, MONO, Palette};

/// What the header does.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Start renaming the open conversation.
    StartRename,
    /// The new title as it is typed.
    RenameInput(String),
    /// Keep the new title.
    CommitRename,
    /// Ask before deleting the open conversation.
    AskDelete,
    /// Export.
    Export(ExportMsg),
}

/// What the header asks of the window.
#[derive(Debug)]
pub enum Event {
    /// Rename this conversation.
    Rename(SessionId, String),
    /// Ask whether to delete this conversation.
    AskDelete(SessionId),
}

/// What the header shows of the window.
pub struct Look<'a> {
    /// The open conversation, if any.
    pub current: Option<&'a SessionId>,
    /// Its title.
    pub title: &'a str,
    /// The provider answering.
    pub model: &'a str,
    /// The workspace, said in a few words.
    pub workspace: String,
    /// What the conversation took so far.
    pub total: Option<Usage>,
}

/// The title being typed, and the export.
#[derive(Debug, Default)]
pub struct Header {
    renaming: Option<(SessionId, String)>,
    export: Export,
}

impl Header {
    /// Handles a message; `current` is the open conversation and `title` its title now.
    pub fn update(
        &mut self,
        msg: Msg,
        current: Option<&SessionId>,
        title: &str,
        engine: Option<&Handle>,
    ) -> (Task<Msg>, Option<Event>) {
        let event = match msg {
            Msg::StartRename => {
                self.renaming = current.map(|id| (id.clone(), title.to_owned()));
                return (iced::widget::operation::focus(RENAME), None);
            }
            Msg::RenameInput(text) => {
                if let Some((_, typed)) = &mut self.renaming {
                    *typed = text;
                }
                None
            }
            Msg::CommitRename => self
                .renaming
                .take()
                .filter(|(_, typed)| !typed.trim().is_empty())
                .map(|(session, typed)| Event::Rename(session, typed)),
            Msg::AskDelete => current.cloned().map(Event::AskDelete),
            Msg::Export(msg) => {
                let task = self.export.update(msg, engine, current, title);
                return (task.map(Msg::Export), None);
            }
        };
        (Task::none(), event)
    }

    /// Stops renaming (Esc); whether it was.
    pub fn cancel_rename(&mut self) -> bool {
        self.renaming.take().is_some()
    }

    /// Takes the export's answers; the task that writes the file, when one arrived.
    pub fn on_engine(
        &mut self,
        envelope: &Envelope,
        data_dir: Option<&std::path::Path>,
    ) -> Option<Task<Msg>> {
        self.export
            .on_engine(envelope, data_dir)
            .map(|task| task.map(Msg::Export))
    }

    /// The header.
    pub fn view<'a>(&'a self, p: Palette, look: Look<'a>) -> Element<'a, Message> {
        let own = Message::Header;
        let heading: Element<'_, Message> = match &self.renaming {
            Some((_, typed)) => text_input("Session title", typed)
                .id(RENAME)
                .on_input(move |t| own(Msg::RenameInput(t)))
                .on_submit(own(Msg::CommitRename))
                .font(HEADING)
                .size(22)
                .padding(6)
                .style(theme::input(p))
                .into(),
            None => text(cut(look.title, 48))
                .font(HEADING)
                .size(24)
                .width(Fill)
                .into(),
        };
        let mut top = row![heading].spacing(10).align_y(iced::Center);
        if look.current.is_some() && self.renaming.is_none() {
            top = top
                .push(btn(p, ButtonKind::Secondary, "Rename").on_press(own(Msg::StartRename)))
                .push(btn(p, ButtonKind::Secondary, "Delete").on_press(own(Msg::AskDelete)));
        }
        // The model and workspace sit under the title, so a long title keeps one line.
        let chips = row![
            chip(p, look.model, p.assistant),
            chip(p, &look.workspace, p.tool)
        ]
        .spacing(10)
        .align_y(iced::Center);
        let mut header = column![top, chips].spacing(8);
        // Under them, what this conversation took so far and its Export: a line of its own, so
        // neither is pushed out of a narrow window.
        if look.current.is_some() || look.total.is_some() {
            let said = look.total.map(|total| super::entry_view::spent(&total));
            let mut line = row![
                text(said.unwrap_or_default())
                    .font(MONO)
                    .size(11)
                    .color(p.muted)
                    .width(Fill)
            ]
            .spacing(10)
            .align_y(iced::Center);
            if look.current.is_some() {
                line = line.push(
                    self.export
                        .view(p)
                        .map(move |m| Message::Header(Msg::Export(m))),
                );
            }
            header = header.push(line);
        }
        if let Some((worked, said)) = &self.export.said {
            let color = if *worked { p.ok } else { p.danger };
            header = header.push(text(said.as_str()).size(13).color(color));
        }
        header.into()
    }
}

fn chip<'a>(p: Palette, caption: &str, fill: iced::Color) -> Element<'a, Message> {
    container(text(cut(caption, 40)).font(BOLD).size(12))
        .padding([4, 8])
        .style(move |_| theme::block(&p, fill))
        .into()
}
