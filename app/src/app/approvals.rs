//! Tool calls waiting for the person: the prompt over the window (Enter allows once after a grace
//! period, Esc denies), or — when the person chose to review in the chat — the cards' own buttons
//! and a banner above the composer. It takes the engine's approval requests and forgets a call
//! once it finished however it ended; each decision comes back to the window as an `Event`.

use std::collections::VecDeque;
use std::time::Instant;

use aetheria_engine::api::{
    ApprovalScope, Decision, Effect, Envelope, Event as EngineEvent, ToolCallId,
};
use iced::Element;
use iced::widget::{button, container, row, text};

use super::Message;
use super::view::label;
use crate::theme::{self, BOLD, ButtonKind, Palette};

/// A tool call waiting for the person.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// The call.
    pub call: ToolCallId,
    /// The tool's name.
    pub tool: String,
    /// What it can change.
    pub effect: Effect,
    /// Its arguments, pretty-printed, hidden layout characters shown as `<U+…>`.
    pub arguments: String,
    /// What it would change (a diff for file writes), when the tool can tell; shown the same way.
    pub preview: Option<String>,
    /// Why the person should look twice (the arguments or preview hid characters).
    pub warning: Option<&'static str>,
    /// The folder or domain "always allow" can be limited to.
    pub scope: Option<ApprovalScope>,
}

/// What the person does with the calls waiting.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Answer the first waiting call (the prompt's buttons, Esc).
    Answer {
        /// Run it or not.
        decision: Decision,
        /// Always allow this tool (within `scope` when given).
        remember: bool,
        /// The folder or domain to always allow it for.
        scope: Option<String>,
    },
    /// Answer one call (from its card in the chat).
    AnswerCall {
        /// The call.
        call: ToolCallId,
        /// Run it or not.
        decision: Decision,
        /// Always allow this tool.
        remember: bool,
    },
    /// Enter was pressed while the prompt shows (at that moment): allows once, unless the prompt
    /// appeared too recently for the key to be meant for it.
    Enter(Instant),
    /// Close the prompt and answer from the cards in the chat instead.
    ReviewInChat,
    /// Bring the prompt back.
    ShowPrompt,
}

/// A decision for the window to send.
#[derive(Debug, PartialEq)]
pub struct Decided {
    /// The call.
    pub call: ToolCallId,
    /// Run it or not.
    pub decision: Decision,
    /// Always allow this tool (within `scope`).
    pub remember: bool,
    /// The folder or domain it is always allowed for.
    pub scope: Option<String>,
}

/// The calls waiting, oldest first.
#[derive(Debug, Default)]
pub struct Approvals {
    waiting: VecDeque<Approval>,
    /// The person closed the prompt to answer from the tool cards in the chat.
    in_chat: bool,
    /// Since when the prompt shows its current call (Enter waits `ENTER_GRACE`).
    since: Option<Instant>,
}

impl Approvals {
    /// Whether the prompt shows (keys then belong to it).
    #[must_use]
    pub fn prompting(&self) -> bool {
        !self.waiting.is_empty() && !self.in_chat
    }

    /// Whether the calls are answered from their cards in the chat.
    #[must_use]
    pub fn in_chat(&self) -> bool {
        self.in_chat
    }

    /// Handles a message; the decision to send, when one was made.
    pub fn update(&mut self, msg: Msg) -> Option<Decided> {
        match msg {
            Msg::Enter(at) => {
                if super::input::enter_answers(self.since, at) {
                    return self.update(Msg::Answer {
                        decision: Decision::Allow,
                        remember: false,
                        scope: None,
                    });
                }
                None
            }
            Msg::Answer {
                decision,
                remember,
                scope,
            } => {
                self.since = Some(Instant::now());
                let approval = self.waiting.pop_front()?;
                Some(Decided {
                    call: approval.call,
                    decision,
                    remember,
                    scope,
                })
            }
            Msg::AnswerCall {
                call,
                decision,
                remember,
            } => {
                let i = self.waiting.iter().position(|a| a.call == call);
                if let Some(i) = i {
                    self.waiting.remove(i);
                    if i == 0 {
                        self.since = Some(Instant::now());
                    }
                }
                if self.waiting.is_empty() {
                    self.in_chat = false;
                }
                i.map(|_| Decided {
                    call,
                    decision,
                    remember,
                    scope: None,
                })
            }
            Msg::ReviewInChat => {
                self.in_chat = true;
                None
            }
            Msg::ShowPrompt => {
                self.in_chat = false;
                self.since = Some(Instant::now());
                None
            }
        }
    }

    /// Takes the engine's requests, and forgets a call once it finished.
    pub fn on_engine(&mut self, envelope: &Envelope) {
        match &envelope.event {
            EngineEvent::ApprovalRequested {
                call,
                tool,
                effect,
                arguments,
                preview,
                scope,
                ..
            } => {
                if self.waiting.is_empty() {
                    self.since = Some(Instant::now());
                }
                // Made visible once here, not at every frame the prompt is drawn.
                let warning = [Some(arguments.as_str()), preview.as_deref()]
                    .into_iter()
                    .flatten()
                    .find_map(crate::visible::warning);
                let visible = |text: &str| crate::visible::for_window(text).into_owned();
                self.waiting.push_back(Approval {
                    call: call.clone(),
                    tool: tool.clone(),
                    effect: *effect,
                    arguments: visible(&super::entry_view::pretty(arguments)),
                    preview: preview.as_deref().map(visible),
                    scope: scope.clone(),
                    warning,
                });
            }
            EngineEvent::ToolCallFinished { call, .. } => {
                self.waiting.retain(|a| &a.call != call);
                if self.waiting.is_empty() {
                    self.in_chat = false;
                }
            }
            _ => {}
        }
    }

    /// The prompt over the window, while it shows.
    pub fn prompt(&self, p: Palette) -> Option<Element<'_, Message>> {
        let first = self.waiting.front().filter(|_| self.prompting())?;
        Some(super::prompts::approval_prompt(
            p,
            first,
            self.waiting.len(),
        ))
    }

    /// Above the composer, while the calls are answered in the chat: how many wait, and the way
    /// back to the prompt.
    pub fn banner(&self, p: Palette) -> Option<Element<'_, Message>> {
        if !self.in_chat || self.waiting.is_empty() {
            return None;
        }
        let n = self.waiting.len();
        Some(
            container(
                row![
                    text(format!(
                        "{n} action{} wait{} for your approval in the chat",
                        if n == 1 { "" } else { "s" },
                        if n == 1 { "s" } else { "" }
                    ))
                    .font(BOLD)
                    .size(13)
                    .width(iced::Fill),
                    button(label("Show prompt"))
                        .padding([2, 6])
                        .style(theme::button(p, ButtonKind::Secondary))
                        .on_press(Message::Approval(Msg::ShowPrompt)),
                ]
                .align_y(iced::Center),
            )
            .padding([6, 10])
            .width(iced::Fill)
            .style(move |_| theme::badge(&p, p.accent))
            .into(),
        )
    }
}
