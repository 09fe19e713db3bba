//! Drawing the window: sessions sidebar, conversation, composer, and the approval prompt over them.

use iced::widget::{button, center, column, container, opaque, row, stack, text};
use iced::{Element, Fill};

use super::prompts::delete_prompt;
use super::{Action, App, Message, Screen};
use crate::theme::{self, BOLD, ButtonKind, HEADING, Palette};

/// The composer's widget id (tests and focus commands find it by this).
pub const COMPOSER: &str = "composer";
/// The sidebar's search box.
pub const SEARCH: &str = "search";
/// The widget id of the conversation's scrollable.
pub const TRANSCRIPT: &str = "transcript";
/// The title field while renaming.
pub const RENAME: &str = "rename";

pub(super) fn label<'a>(s: impl text::IntoFragment<'a>) -> text::Text<'a> {
    text(s).font(BOLD).size(12)
}

pub(super) fn btn<'a>(
    p: Palette,
    kind: ButtonKind,
    caption: impl text::IntoFragment<'a>,
) -> button::Button<'a, Message> {
    button(text(caption).font(BOLD).size(15))
        .padding([8, 14])
        .style(theme::button(p, kind))
}

pub(super) fn cut(s: &str, max: usize) -> String {
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
        let body: Element<'_, Message> = match &self.screen {
            Screen::Starting => center(text("Starting Aetheria…").font(BOLD).size(20)).into(),
            Screen::Failed(reason) => center(
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
            Screen::Main => row![self.sidebar(p), self.main(p), self.panel(p)].into(),
        };
        let window = container(body)
            .width(Fill)
            .height(Fill)
            .style(move |_| theme::flat(&p, p.paper));
        let prompt = self.approvals.prompt(p);
        let modal = self.modal.as_ref().map(|modal| match modal {
            super::Modal::Palette(palette) => palette.view(p).map(Message::Palette),
            super::Modal::Enlarged(path, image) => super::entry_view::enlarged(p, path, image),
            super::Modal::ConfirmDelete(session) => delete_prompt(p, self.session_title(session)),
            super::Modal::Settings(form) => form
                .view(p, self.mode, self.font_size)
                .map(Message::Settings),
        });
        let dim = move |_: &iced::Theme| {
            // Dimmed toward black in both themes (God Mode's shadow is neon green, which tinted
            // the whole window behind a dialog).
            theme::flat(
                &p,
                iced::Color {
                    a: 0.55,
                    ..Palette::of(crate::theme::Mode::Light).shadow
                },
            )
        };
        // An approval goes over whatever is open (the settings' "Try a tool" asks too).
        match (modal, prompt) {
            (None, None) => window.into(),
            (Some(modal), None) | (None, Some(modal)) => {
                stack![window, opaque(center(modal).style(dim))].into()
            }
            (Some(modal), Some(prompt)) => stack![
                window,
                opaque(center(modal).style(dim)),
                opaque(center(prompt).style(dim))
            ]
            .into(),
        }
    }

    fn sidebar(&self, p: Palette) -> Element<'_, Message> {
        self.sidebar
            .view(p, self.mode, &self.sessions, self.current())
    }

    fn main(&self, p: Palette) -> Element<'_, Message> {
        let title = self
            .current()
            .and_then(|id| self.sessions.iter().find(|s| &s.id == id))
            .map_or("New chat", |s| s.title.as_str());
        let model = self.provider.as_deref().unwrap_or("no provider");
        let workspace = match self.workspace.len() {
            0 => "no workspace".to_owned(),
            1 => format!("workspace: {}", self.workspace[0].display()),
            n => format!("{n} workspace folders"),
        };
        let header = self.header.view(
            p,
            super::header::Look {
                current: self.current(),
                title,
                model,
                workspace,
                total: self.conversation.transcript.total_usage(),
            },
        );
        let mut col = column![header].spacing(16).padding(22);
        if let Some(notice) = &self.notice {
            col = col.push(
                container(
                    row![
                        text(notice.as_str()).size(14).width(Fill),
                        btn(p, ButtonKind::Secondary, "Dismiss")
                            .on_press(Message::Do(Action::DismissNotice)),
                    ]
                    .spacing(10)
                    .align_y(iced::Center),
                )
                .padding(10)
                .style(move |_| theme::block(&p, p.danger)),
            );
        }
        if let Some(banner) = self.conversation.link_banner(p) {
            col = col.push(banner);
        }
        col = col.push(self.conversation(p));
        col = col.push(self.composer(p));
        col.into()
    }

    fn conversation(&self, p: Palette) -> Element<'_, Message> {
        let look = super::entry_view::Look {
            p,
            running: self.conversation.running(),
            font_size: self.font_size,
            tick: self.tick,
            answer_in_chat: self.approvals.in_chat(),
        };
        self.conversation.view(&look, self.provider.is_some())
    }

    fn composer(&self, p: Palette) -> Element<'_, Message> {
        let banner = self.approvals.banner(p);
        let look = super::composer::Look {
            engine: self.engine.is_some(),
            running: self.conversation.running(),
            asking: self.prompting(),
            hotkey: self.dictation.hotkey.clone(),
            choices: self.model_choices(),
        };
        self.composer
            .view(p, look, banner, self.mic_button(p), self.dictation_bar(p))
    }
}
