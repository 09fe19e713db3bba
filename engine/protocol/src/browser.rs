//! API types of the browser the agent drives: a front end watches a conversation's page (its
//! frames, address and the agent's last action), and the person takes the browser over — the
//! agent's browser calls wait — clicks and types in the page themself, and hands it back.

use serde::{Deserialize, Serialize};

use crate::SessionId;

/// The size, in CSS pixels, of the view a browser lays pages out in: its frames' size, and what a
/// person's click coordinates are in.
pub const BROWSER_VIEWPORT: (u32, u32) = (1280, 800);

/// Watching and taking over a conversation's browser. On the wire:
/// `{"type": "browser", "op": "take_over", …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BrowserCommand {
    /// Send `BrowserFrame`s of the conversation's page whenever it changes (`on`), or stop.
    /// Answered by `BrowserState` (and frames from then on, while the browser runs).
    Watch {
        /// The conversation (none: the browser of direct tool calls).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// Start or stop.
        on: bool,
    },
    /// The person takes the browser over: the agent's browser calls wait until `HandBack`.
    /// Answered by `BrowserState`, or `CommandFailed` (`missing`) when no browser runs.
    TakeOver {
        /// The conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
    },
    /// Hands the browser back; the agent's next browser call is told the person used it and
    /// reads the page as it is now. Answered by `BrowserState`.
    HandBack {
        /// The conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
    },
    /// What the person does in the page while they have it. Answered by `BrowserState`, or
    /// `CommandFailed` (`conflict`) when the browser was not taken over.
    Input {
        /// The conversation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
        /// The input.
        input: BrowserInput,
    },
}

/// One input of the person, forwarded to the page as real input events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BrowserInput {
    /// A click at a point of the page's view, in its CSS pixels (as the frames show it).
    Click {
        /// From the left.
        x: f64,
        /// From the top.
        y: f64,
    },
    /// Text typed where the focus is.
    Text {
        /// The text.
        text: String,
    },
    /// A key pressed where the focus is.
    Key {
        /// Which.
        key: BrowserKey,
    },
    /// The wheel: positive scrolls down.
    Scroll {
        /// CSS pixels.
        dy: f64,
    },
}

/// The keys a person can press in a page they took over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrowserKey {
    /// Enter (submits a form).
    Enter,
    /// Tab (the next field).
    Tab,
    /// Backspace.
    Backspace,
    /// Escape.
    Escape,
    /// The arrow up.
    ArrowUp,
    /// The arrow down.
    ArrowDown,
    /// The arrow left.
    ArrowLeft,
    /// The arrow right.
    ArrowRight,
}

impl BrowserKey {
    /// The key's DOM name and its Windows virtual key code (what DevTools input events take).
    #[must_use]
    pub fn dom(self) -> (&'static str, i64) {
        match self {
            Self::Enter => ("Enter", 13),
            Self::Tab => ("Tab", 9),
            Self::Backspace => ("Backspace", 8),
            Self::Escape => ("Escape", 27),
            Self::ArrowUp => ("ArrowUp", 38),
            Self::ArrowDown => ("ArrowDown", 40),
            Self::ArrowLeft => ("ArrowLeft", 37),
            Self::ArrowRight => ("ArrowRight", 39),
        }
    }
}

/// Where a conversation's browser stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserView {
    /// A browser runs for the conversation.
    pub running: bool,
    /// The current tab's address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Its title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// What the agent (or the person) did last, in a few words.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_action: String,
    /// The person has it; the agent waits.
    #[serde(default)]
    pub taken_over: bool,
}
