//! The command palette (Ctrl+Shift+P): every action of the window with its shortcut, found by
//! typing a few letters of its name, run with Enter or a click. Arrows move the choice; Esc closes.

use iced::widget::{button, column, container, row, scrollable, text, text_input};
use iced::{Element, Fill};

use super::composer::Msg as ComposerMsg;
use super::export::ExportMsg;
use super::header::Msg as HeaderMsg;
use super::panel::Tab;
use super::sidebar::Msg as SidebarMsg;
use super::{Action, Message};
use crate::export::Format;
use crate::theme::{self, BOLD, ButtonKind, HEADING, MONO, Palette};

/// The search field's id (focused when the palette opens).
pub const INPUT: &str = "palette-input";

/// One action: its name, its shortcut (none: only here), and what it does.
struct Choice {
    name: &'static str,
    keys: &'static str,
    message: fn() -> Message,
}

const ACTIONS: &[Choice] = &[
    Choice {
        name: "New chat",
        keys: "Ctrl+N",
        message: || Message::Do(Action::NewChat),
    },
    Choice {
        name: "Search conversations",
        keys: "Ctrl+K",
        message: || Message::Sidebar(SidebarMsg::Focus),
    },
    Choice {
        name: "Previous conversation",
        keys: "↑",
        message: || Message::Sidebar(SidebarMsg::Move(-1)),
    },
    Choice {
        name: "Next conversation",
        keys: "↓",
        message: || Message::Sidebar(SidebarMsg::Move(1)),
    },
    Choice {
        name: "Next field",
        keys: "Tab",
        message: || Message::Do(Action::MoveFocus(true)),
    },
    Choice {
        name: "Previous field",
        keys: "Shift+Tab",
        message: || Message::Do(Action::MoveFocus(false)),
    },
    Choice {
        name: "Run the message in the background",
        keys: "",
        message: || Message::Composer(ComposerMsg::Background(super::jobs::Background::Prompt)),
    },
    Choice {
        name: "Research the message in the background",
        keys: "",
        message: || Message::Composer(ComposerMsg::Background(super::jobs::Background::Research)),
    },
    Choice {
        name: "Run the message as a Python job (sandbox)",
        keys: "",
        message: || Message::Composer(ComposerMsg::Background(super::jobs::Background::Python)),
    },
    Choice {
        name: "Attach files",
        keys: "",
        message: || Message::Composer(ComposerMsg::Attach),
    },
    Choice {
        name: "Paste files or an image from the clipboard",
        keys: "Ctrl+V",
        message: || Message::Composer(ComposerMsg::Paste),
    },
    Choice {
        name: "Copy the last answer",
        keys: "Ctrl+Shift+C",
        message: || Message::Conversation(super::conversation::Msg::CopyLastAnswer),
    },
    Choice {
        name: "Stop the answer",
        keys: "Esc",
        message: || Message::Do(Action::Stop),
    },
    Choice {
        name: "Rename this conversation",
        keys: "",
        message: || Message::Header(HeaderMsg::StartRename),
    },
    Choice {
        name: "Delete this conversation",
        keys: "",
        message: || Message::Header(HeaderMsg::AskDelete),
    },
    Choice {
        name: "Export this conversation as Markdown",
        keys: "",
        message: || Message::Header(HeaderMsg::Export(ExportMsg::Choose(Format::Md))),
    },
    Choice {
        name: "Export this conversation as HTML",
        keys: "",
        message: || Message::Header(HeaderMsg::Export(ExportMsg::Choose(Format::Html))),
    },
    Choice {
        name: "Show activity",
        keys: "",
        message: || Message::Panel(super::panel::Msg::Show(Tab::Activity)),
    },
    Choice {
        name: "Show files",
        keys: "",
        message: || Message::Panel(super::panel::Msg::Show(Tab::Files)),
    },
    Choice {
        name: "Show the sandbox",
        keys: "",
        message: || Message::Panel(super::panel::Msg::Show(Tab::Sandbox)),
    },
    Choice {
        name: "Show jobs and schedules",
        keys: "",
        message: || Message::Panel(super::panel::Msg::Show(Tab::Jobs)),
    },
    Choice {
        name: "Show the agent's browser",
        keys: "",
        message: || Message::Panel(super::panel::Msg::Show(Tab::Browser)),
    },
    Choice {
        name: "Settings",
        keys: "Ctrl+,",
        message: || Message::Do(Action::OpenSettings),
    },
    Choice {
        name: "Switch light / God Mode",
        keys: "Ctrl+Shift+D",
        message: || Message::Do(Action::ToggleTheme),
    },
];

/// What the palette does.
#[derive(Debug, Clone)]
pub enum PaletteMsg {
    /// The search text.
    Query(String),
    /// Move the choice up (-1) or down (+1).
    Move(i32),
    /// Run the chosen action.
    RunChosen,
    /// Run the action of this name (a click).
    Run(&'static str),
}

/// The open palette.
#[derive(Debug, Clone, Default)]
pub struct CommandPalette {
    query: String,
    chosen: usize,
}

impl CommandPalette {
    /// The actions whose names hold every word typed, in their order.
    fn shown(&self) -> Vec<&'static Choice> {
        let words: Vec<String> = self
            .query
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        ACTIONS
            .iter()
            .filter(|a| {
                let name = a.name.to_lowercase();
                words.iter().all(|w| name.contains(w.as_str()))
            })
            .collect()
    }

    /// Applies `msg`; the action to run (the palette then closes).
    pub fn update(&mut self, msg: PaletteMsg) -> Option<Message> {
        match msg {
            PaletteMsg::Query(query) => {
                self.query = query;
                self.chosen = 0;
                None
            }
            PaletteMsg::Move(step) => {
                let count = self.shown().len();
                if count > 0 {
                    let at = i64::try_from(self.chosen).unwrap_or(0) + i64::from(step);
                    let count = i64::try_from(count).unwrap_or(1);
                    self.chosen = usize::try_from(at.rem_euclid(count)).unwrap_or(0);
                }
                None
            }
            PaletteMsg::RunChosen => self.shown().get(self.chosen).map(|a| (a.message)()),
            PaletteMsg::Run(name) => ACTIONS
                .iter()
                .find(|a| a.name == name)
                .map(|a| (a.message)()),
        }
    }

    pub fn view(&self, p: Palette) -> Element<'_, PaletteMsg> {
        let mut list = column![].spacing(4);
        let shown = self.shown();
        if shown.is_empty() {
            list = list.push(text("No action has those words.").size(13).color(p.muted));
        }
        for (i, action) in shown.into_iter().enumerate() {
            let kind = if i == self.chosen {
                ButtonKind::Primary
            } else {
                ButtonKind::Ghost
            };
            list = list.push(
                button(
                    row![
                        text(action.name).size(14).width(Fill),
                        text(action.keys).font(MONO).size(12),
                    ]
                    .spacing(12),
                )
                .width(Fill)
                .padding([6, 10])
                .style(theme::button(p, kind))
                .on_press(PaletteMsg::Run(action.name)),
            );
        }
        container(
            column![
                text("COMMANDS").font(HEADING).size(20),
                text_input("Type to find an action…", &self.query)
                    .id(INPUT)
                    .on_input(PaletteMsg::Query)
                    .on_submit(PaletteMsg::RunChosen)
                    .size(15)
                    .padding(8)
                    .style(theme::input(p)),
                scrollable(list).height(iced::Length::Shrink),
                text("↑ ↓ choose · Enter runs · Esc closes")
                    .font(BOLD)
                    .size(11)
                    .color(p.muted),
            ]
            .spacing(10),
        )
        .padding(16)
        .max_width(560)
        .max_height(560)
        .style(move |_| theme::block(&p, p.surface))
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_words_find_actions_and_arrows_wrap() {
        let mut palette = CommandPalette::default();
        assert_eq!(palette.shown().len(), ACTIONS.len());
        palette.update(PaletteMsg::Query("EXPORT html".into()));
        let names: Vec<&str> = palette.shown().iter().map(|a| a.name).collect();
        assert_eq!(names, ["Export this conversation as HTML"]);
        assert!(matches!(
            palette.update(PaletteMsg::RunChosen),
            Some(Message::Header(HeaderMsg::Export(ExportMsg::Choose(
                Format::Html
            ))))
        ));
        palette.update(PaletteMsg::Query("conversation".into()));
        let count = palette.shown().len();
        assert!(count > 2);
        palette.update(PaletteMsg::Move(-1));
        assert_eq!(palette.chosen, count - 1);
        palette.update(PaletteMsg::Move(1));
        assert_eq!(palette.chosen, 0);
        palette.update(PaletteMsg::Query("no such thing".into()));
        assert!(palette.update(PaletteMsg::RunChosen).is_none());
        palette.update(PaletteMsg::Move(1));
        assert_eq!(palette.chosen, 0);
    }
}
