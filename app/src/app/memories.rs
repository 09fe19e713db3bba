//! The settings screen's long-term memories: every fact Aetheria keeps, each editable in place
//! and deletable. Changes go to the engine at once (they are not part of "Save").

use aetheria_engine::api::{Command, Event, MemoryCommand, MemoryId, MemoryRecord};
use iced::widget::{button, column, row, text, text_input};
use iced::{Element, Fill};

use crate::theme::{self, BOLD, ButtonKind, Palette};

/// The widget id of the memory being edited.
pub const MEMORY_EDIT: &str = "memory-edit";

/// What the memories section does.
#[derive(Debug, Clone)]
pub enum MemoryMsg {
    /// Start editing one.
    Edit(MemoryId),
    /// The text being edited.
    Text(String),
    /// Keep the edit.
    Save,
    /// Drop the edit.
    Cancel,
    /// Delete one.
    Delete(MemoryId),
}

/// The memories as last listed, and the one being edited.
#[derive(Debug, Clone, Default)]
pub struct Memories {
    /// `None` until the engine listed them.
    pub list: Option<Vec<MemoryRecord>>,
    /// The memory being edited and its text so far.
    pub editing: Option<(MemoryId, String)>,
}

impl Memories {
    /// Applies an engine event; `true` when it was about memories.
    pub fn event(&mut self, event: &Event) -> bool {
        match event {
            Event::Memories { memories } => self.list = Some(memories.clone()),
            Event::MemoryUpdated { memory } => {
                let list = self.list.get_or_insert_with(Vec::new);
                match list.iter_mut().find(|m| m.id == memory.id) {
                    Some(slot) => *slot = memory.clone(),
                    None => list.insert(0, memory.clone()),
                }
            }
            Event::MemoryDeleted { id } => {
                if let Some(list) = self.list.as_mut() {
                    list.retain(|m| &m.id != id);
                }
            }
            _ => return false,
        }
        true
    }

    /// Handles a message; the commands to send.
    pub fn update(&mut self, msg: MemoryMsg) -> Vec<Command> {
        match msg {
            MemoryMsg::Edit(id) => {
                let text = self
                    .list
                    .iter()
                    .flatten()
                    .find(|m| m.id == id)
                    .map(|m| m.text.clone())
                    .unwrap_or_default();
                self.editing = Some((id, text));
            }
            MemoryMsg::Text(text) => {
                if let Some((_, typed)) = self.editing.as_mut() {
                    *typed = text;
                }
            }
            MemoryMsg::Save => {
                if let Some((id, text)) = self.editing.take() {
                    let tags = self
                        .list
                        .iter()
                        .flatten()
                        .find(|m| m.id == id)
                        .map(|m| m.tags.clone())
                        .unwrap_or_default();
                    if text.trim().is_empty() {
                        return vec![Command::Memory(MemoryCommand::Delete { id })];
                    }
                    return vec![Command::Memory(MemoryCommand::Update { id, text, tags })];
                }
            }
            MemoryMsg::Cancel => self.editing = None,
            MemoryMsg::Delete(id) => return vec![Command::Memory(MemoryCommand::Delete { id })],
        }
        Vec::new()
    }

    /// The section.
    pub fn view(&self, p: Palette) -> Element<'_, MemoryMsg> {
        let small = |caption: &'static str, kind| {
            button(text(caption).font(BOLD).size(12))
                .padding([4, 8])
                .style(theme::button(p, kind))
        };
        let mut col = column![
            text("LONG-TERM MEMORY — WHAT AETHERIA KEEPS BETWEEN CHATS")
                .font(BOLD)
                .size(12)
        ]
        .spacing(8);
        let list = match &self.list {
            None => return col.push(text("Loading…").size(13).color(p.muted)).into(),
            Some(list) if list.is_empty() => {
                return col
                    .push(
                        text("Nothing yet. Ask Aetheria to remember something, and it shows up here.")
                            .size(13)
                            .color(p.muted),
                    )
                    .into();
            }
            Some(list) => list,
        };
        for memory in list {
            let line: Element<'_, MemoryMsg> = match &self.editing {
                Some((id, typed)) if id == &memory.id => row![
                    text_input("The fact", typed)
                        .id(MEMORY_EDIT)
                        .on_input(MemoryMsg::Text)
                        .on_submit(MemoryMsg::Save)
                        .size(13)
                        .padding(6)
                        .style(theme::input(p))
                        .width(Fill),
                    small("Keep", ButtonKind::Ok).on_press(MemoryMsg::Save),
                    small("Cancel", ButtonKind::Ghost).on_press(MemoryMsg::Cancel),
                ]
                .spacing(6)
                .align_y(iced::Center)
                .into(),
                _ => {
                    let tags = if memory.tags.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", memory.tags.join(", "))
                    };
                    row![
                        text(format!("{}{tags}", memory.text)).size(13).width(Fill),
                        small("Edit", ButtonKind::Secondary)
                            .on_press(MemoryMsg::Edit(memory.id.clone())),
                        small("Delete", ButtonKind::Danger)
                            .on_press(MemoryMsg::Delete(memory.id.clone())),
                    ]
                    .spacing(6)
                    .align_y(iced::Center)
                    .into()
                }
            };
            col = col.push(line);
        }
        col.into()
    }
}
