//! The settings screen drawn: its title and banners, a tab per page (models, workspace, MCP
//! servers, accounts, memory, voice, general) and the chosen page's sections, with Save and Close
//! always in view.

use iced::widget::{Space, column, container, row, scrollable, text};
use iced::{Element, Fill};

use super::sections::{appearance, panel, section};
use super::workspace;
use super::{Form, Msg};
use crate::theme::{self, BOLD, ButtonKind, HEADING, Mode, Palette};

/// The settings' pages, in the order their tabs show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Page {
    /// Providers and the models on this computer (and, on the welcome, the folders).
    #[default]
    Models,
    /// Workspace folders, the sandbox and which tools ask first.
    Workspace,
    /// MCP servers.
    Mcp,
    /// GitHub, Google Drive, Vercel.
    Accounts,
    /// Long-term memories.
    Memory,
    /// Dictation and reading aloud.
    Voice,
    /// Starting at login, theme and text size.
    General,
}

impl Page {
    /// Every page, in order.
    pub const ALL: [Self; 7] = [
        Self::Models,
        Self::Workspace,
        Self::Mcp,
        Self::Accounts,
        Self::Memory,
        Self::Voice,
        Self::General,
    ];

    /// Its tab's caption.
    #[must_use]
    pub fn caption(self) -> &'static str {
        match self {
            Self::Models => "Models",
            Self::Workspace => "Workspace",
            Self::Mcp => "MCP servers",
            Self::Accounts => "Accounts",
            Self::Memory => "Memory",
            Self::Voice => "Voice",
            Self::General => "General",
        }
    }
}

impl Form {
    /// The screen.
    #[allow(clippy::too_many_lines)] // one arm per page, each a few widgets
    pub fn view(&self, p: Palette, mode: Mode, font_size: f32) -> Element<'_, Msg> {
        let Some(settings) = &self.settings else {
            return panel(
                p,
                column![text("Loading settings…").font(BOLD).size(18)].into(),
            );
        };
        let title = if self.onboarding {
            "WELCOME TO AETHERIA"
        } else {
            "SETTINGS"
        };
        let mut col = column![text(title).font(HEADING).size(26)].spacing(18);
        if self.onboarding {
            col = col.push(
                text("Pick a model to start. With no network: download a small one that runs on this computer, just below. Or use a model server already running here, or a cloud provider and its key. Then allow a folder to work in.")
                    .size(15),
            );
        }
        if let Some(error) = &self.error {
            col = col.push(
                container(text(error.as_str()).size(14))
                    .padding(10)
                    .width(Fill)
                    .style(move |_| theme::badge(&p, p.danger)),
            );
        }
        if let Some(note) = &self.note {
            col = col.push(
                container(text(note.as_str()).size(14))
                    .padding(10)
                    .width(Fill)
                    .style(move |_| theme::badge(&p, p.ok)),
            );
        }
        let page: Element<'_, Msg> = match self.page {
            Page::Models => {
                let speech = self.voice.installed();
                let hub = column![
                    section("MODELS ON THIS COMPUTER — ANSWER WITH NO NETWORK"),
                    self.hub.view(p, &speech).map(Msg::Hub),
                ]
                .spacing(8);
                // The welcome offers the offline path first, and a folder to work in.
                if self.onboarding {
                    column![
                        hub,
                        self.providers.view(p, settings).map(Msg::Provider),
                        workspace::folders(p, settings).map(Msg::Workspace)
                    ]
                } else {
                    column![self.providers.view(p, settings).map(Msg::Provider), hub]
                }
                .spacing(18)
                .into()
            }
            Page::Workspace => self.workspace.view(p, settings).map(Msg::Workspace),
            Page::Mcp => self.mcp.view(p, settings).map(Msg::Mcp),
            Page::Accounts => self.accounts.view(p).map(Msg::Accounts),
            Page::Memory => self.memories.view(p).map(Msg::Memory),
            Page::Voice => self.voice.view(p, &settings.voice).map(Msg::Voice),
            Page::General => column![
                self.background.view(p).map(Msg::Background),
                appearance(p, mode, font_size)
            ]
            .spacing(18)
            .into(),
        };
        let mut tabs = column![].spacing(6).width(170);
        for each in Page::ALL {
            tabs = tabs.push(
                theme::action(
                    p,
                    ButtonKind::Item {
                        selected: each == self.page,
                    },
                    each.caption(),
                )
                .width(Fill)
                .on_press(Msg::Page(each)),
            );
        }
        let body = scrollable(page_column(page)).height(Fill);
        col = col.push(row![tabs, body].spacing(18).height(Fill));
        // Save and Close stay in view below the scrolling page.
        let footer = row![
            theme::action(p, ButtonKind::Primary, "Save").on_press(Msg::Save),
            Space::new().width(Fill),
            theme::action(p, ButtonKind::Secondary, "Close").on_press(Msg::Close),
        ]
        .spacing(12);
        panel(p, column![col, footer].spacing(16).into())
    }
}

/// A page's sections, kept clear of the scrollbar.
fn page_column(page: Element<'_, Msg>) -> Element<'_, Msg> {
    iced::widget::container(page)
        .padding(iced::Padding {
            right: 12.0,
            ..Default::default()
        })
        .into()
}
