//! `Message`: everything the person can do in the window, and what the engine and the window
//! report to it — the one input of `App::update`. The root wraps the components' own messages; what
//! belongs to no one component is an `Action` (asked by a shortcut, a button or the palette) or a
//! `Window` report.

use aetheria_engine::api::SessionId;

use super::{approvals, composer, conversation, header, palette, panel, settings, sidebar, voice};
use crate::engine_bridge::BridgeEvent;

/// Everything the person can do, and what the engine reports.
#[derive(Debug, Clone)]
pub enum Message {
    /// From the engine bridge.
    Bridge(BridgeEvent),
    /// What the window itself reports: resized, closing, the spinner's tick.
    Window(Window),
    /// What the person asks of the whole window.
    Do(Action),
    /// The sidebar: the conversations, the search, New chat.
    Sidebar(sidebar::Msg),
    /// The composer: the message being written, its files, Send, Background, the model picker.
    Composer(composer::Msg),
    /// Dictation: the mic button and the push-to-talk key.
    Voice(voice::Msg),
    /// In the conversation: fold a card, copy, open a link or an image.
    Conversation(conversation::Msg),
    /// Tool calls waiting for the person: the prompt, the cards' buttons, the banner.
    Approval(approvals::Msg),
    /// The conversation's header: rename, delete, export.
    Header(header::Msg),
    /// The right panel: its tabs, the files tree, the sandbox, jobs and schedules.
    Panel(panel::Msg),
    /// From the settings screen.
    Settings(settings::Msg),
    /// From the command palette.
    Palette(palette::PaletteMsg),
}

/// What the person asks of the window as a whole (each is in the command palette or has a key).
#[derive(Debug, Clone)]
pub enum Action {
    /// Start a new conversation.
    NewChat,
    /// Open a conversation (from the sidebar, a search hit, a job or a schedule's run).
    OpenSession(SessionId),
    /// Stop the running turn.
    Stop,
    /// Switch light / God Mode.
    ToggleTheme,
    /// Ctrl+, or the sidebar button: open the settings.
    OpenSettings,
    /// Ctrl+Shift+P: open the command palette.
    OpenPalette,
    /// Hide the notice banner.
    DismissNotice,
    /// Delete the open session (after the confirmation).
    ConfirmDelete,
    /// Esc: close what is open, else stop the running turn.
    Escape,
    /// Tab (`true`) or Shift+Tab: the cursor to the next or previous field, in the order the
    /// window shows them.
    MoveFocus(bool),
}

/// What the window reports of itself.
#[derive(Debug, Clone)]
pub enum Window {
    /// It was resized (remembered for the next start).
    Resized(iced::Size),
    /// Animation time for spinners, only while something runs.
    Tick,
    /// Its close button, or a termination signal: stop the engine, then exit.
    CloseRequested,
    /// Esc in a text field: the command palette or the rename closes.
    EscapeInField,
}

impl From<Action> for Message {
    fn from(action: Action) -> Self {
        Self::Do(action)
    }
}
