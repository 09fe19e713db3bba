//! `Message`: everything the person can do in the window, and what the engine reports to it —
//! the one input of `App::update`.

use aetheria_engine::api::SessionId;

use super::{panel, settings, voice};
use crate::engine_bridge::BridgeEvent;

/// Everything the person can do, and what the engine reports.
#[derive(Debug, Clone)]
pub enum Message {
    /// From the engine bridge.
    Bridge(BridgeEvent),
    /// Start a new conversation.
    NewChat,
    /// Open a conversation (from the sidebar, a search hit, a job or a schedule's run).
    OpenSession(SessionId),
    /// The sidebar: the conversations, the search, New chat.
    Sidebar(super::sidebar::Msg),
    /// The composer: the message being written, its files, Send, Background, the model picker.
    Composer(super::composer::Msg),
    /// Stop the running turn.
    Stop,
    /// Tool calls waiting for the person: the prompt, the cards' buttons, the banner.
    Approval(super::approvals::Msg),
    /// Switch light / God Mode.
    ToggleTheme,
    /// In the conversation: fold a card, copy, open a link or an image.
    Conversation(super::conversation::Msg),
    /// Hide the notice banner.
    DismissNotice,
    /// Tab (`true`) or Shift+Tab: the cursor to the next or previous field, in the order the
    /// window shows them.
    MoveFocus(bool),
    /// The conversation's header: rename, delete, export.
    Header(super::header::Msg),
    /// Delete the open session (after the confirmation).
    ConfirmDelete,
    /// Esc: close what is open, else stop the running turn.
    Escape,
    /// Esc in a text field: the command palette or the rename closes.
    EscapeInField,
    /// The right panel: its tabs, the files tree, the sandbox, jobs and schedules.
    Panel(panel::Msg),
    /// Ctrl+, or the sidebar button: open the settings.
    OpenSettings,
    /// From the settings screen.
    Settings(settings::Msg),
    /// Ctrl+Shift+P: open the command palette.
    OpenPalette,
    /// From the command palette.
    Palette(super::palette::PaletteMsg),
    /// The window was resized (remembered for the next start).
    Resized(iced::Size),
    /// Animation time for spinners, only while something runs.
    Tick,
    /// The window's close button: stop the engine, then exit.
    CloseRequested,
    /// Dictation: the mic button and the push-to-talk key.
    Voice(voice::Msg),
}
