//! The open conversation: its entries and their view state (`Transcript`, fed by the engine's
//! events and the messages the composer sends), whether its turn runs, the search hit shown in it
//! and the link waiting; and what the person does in it besides writing: fold a tool card or a
//! model's reasoning, copy an answer or a code block, open a link (judged first: one whose text
//! names another address than it goes to waits for the person), open an image over the window.
//! A long conversation draws only its last entries (`DRAWN`; more as the person scrolls up), so
//! the window lays out and keeps text for what can be seen, not for a thousand messages.

use std::path::PathBuf;

use aetheria_engine::api::{
    Envelope, Event as EngineEvent, FinishReason, MessageId, SessionId, SubmissionId, ToolCallId,
};
use iced::widget::{column, container, row, scrollable, text};
use iced::{Element, Fill, Task};

use super::Message;
use super::entry_view::{self, Look};
use super::links;
use super::transcript::{self, Transcript};
use super::view::{TRANSCRIPT, btn, label};
use crate::markdown::Link;
use crate::theme::{self, ButtonKind, HEADING, MONO, Palette};

/// How many of the last entries are drawn when a conversation opens, and how many more each step
/// up adds. Each drawn entry keeps its laid-out text (a few hundred KB for a long answer).
pub const DRAWN: usize = 40;
const MORE: usize = 40;

/// What the person does in the conversation.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Draw `MORE` earlier entries (the button above the first drawn one, or scrolled to the top).
    ShowEarlier,
    /// The transcript was scrolled: at its top (earlier entries are drawn) or its bottom (only
    /// the last `DRAWN` stay drawn).
    Scrolled {
        /// The view is at the top of what is drawn.
        top: bool,
        /// The view is at the bottom.
        bottom: bool,
    },
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
    /// Something to tell the person (a link that is refused, a retry, an answer cut).
    Notice(String),
    /// Its turn finished with an answer (dictation may read it aloud); `cut`: at the model's
    /// output limit.
    AnswerEnded {
        /// The model stopped at its output limit.
        cut: bool,
    },
}

/// The open conversation: its entries with their view state, whether a turn of it runs, the
/// search hit shown in it, and the link waiting for the person to see where it goes.
#[derive(Default)]
pub struct Conversation {
    /// The entries (the protocol's `Conversation`, kept by the engine's events) and how each is
    /// shown.
    pub transcript: Transcript,
    /// A turn of it runs, or its message is on the way.
    running: bool,
    /// The message being sent: its failure (the session busy or gone) ends the wait for a turn.
    sending: Option<SubmissionId>,
    /// The search hit to show once the conversation is loaded (a message or tool call id).
    reveal: Option<String>,
    /// The entry a search hit opened, marked.
    found_entry: Option<usize>,
    /// The link waiting: its address and why it waits.
    link: Option<(String, String)>,
    /// How many of the last entries are drawn (at least `DRAWN`).
    drawn: usize,
}

impl Conversation {
    /// The session shown (none: a new chat not sent yet).
    #[must_use]
    pub fn session(&self) -> Option<&SessionId> {
        self.transcript.session()
    }

    /// Whether a turn of it runs (or its message is on the way).
    #[must_use]
    pub fn running(&self) -> bool {
        self.running
    }

    /// Shows `session` (none: a new chat), empty until its `SessionLoaded` arrives.
    pub fn open(&mut self, session: Option<SessionId>) {
        self.transcript = Transcript::new(session);
        self.running = false;
        self.sending = None;
        self.reveal = None;
        self.found_entry = None;
        self.drawn = DRAWN;
    }

    /// The index of the first entry drawn.
    #[must_use]
    pub fn first_drawn(&self) -> usize {
        let len = self.transcript.entries().len();
        len.saturating_sub(self.drawn.max(DRAWN))
    }

    /// Shows the person's message at once, as the turn of `session` it starts (a new chat follows
    /// the session its message creates).
    pub fn sending(
        &mut self,
        session: &SessionId,
        text: &str,
        attachments: &[PathBuf],
        data_dir: Option<&std::path::Path>,
    ) {
        let names = transcript::attachment_names(attachments);
        let images = transcript::picked_images(attachments);
        self.running = true;
        self.transcript.follow(session);
        self.transcript.push_user(text, names, images);
        self.transcript.show_images(data_dir);
    }

    /// The message was submitted as `submission` (none: it could not be, and no turn comes).
    pub fn sent(&mut self, submission: Option<SubmissionId>) {
        self.sending = submission;
        if submission.is_none() {
            self.running = false;
        }
    }

    /// The person approved a waiting call: it shows as running.
    pub fn approved(&mut self, call: &ToolCallId) {
        self.transcript.approved(call);
    }

    /// Brings the search hit `anchor` into view once the conversation holding it is shown (after
    /// `open`, which forgets a hit waiting).
    pub fn reveal(&mut self, anchor: Option<String>) -> Task<Msg> {
        self.reveal = anchor;
        self.reveal_hit()
    }

    /// Follows one event of the engine: its session's entries, its turn starting and ending, and
    /// the failure of its own message.
    pub fn on_engine(&mut self, envelope: &Envelope) -> Option<Event> {
        let event = &envelope.event;
        // Events of other sessions change no entry (and a session opened follows it already,
        // so its `SessionLoaded` fills it here).
        self.transcript.apply(event);
        let ours = |session: &SessionId| self.session() == Some(session);
        match event {
            EngineEvent::TurnStarted { session, .. } if ours(session) => {
                self.running = true;
                None
            }
            EngineEvent::TurnFinished {
                session,
                finish_reason,
                ..
            } if ours(session) => {
                self.running = false;
                self.sending = None;
                Some(Event::AnswerEnded {
                    cut: *finish_reason == FinishReason::Length,
                })
            }
            EngineEvent::TurnFailed { session, .. } | EngineEvent::TurnCancelled { session }
                if ours(session) =>
            {
                self.running = false;
                self.sending = None;
                None
            }
            EngineEvent::ProviderRetrying {
                session,
                attempt,
                wait_secs,
                reason,
            } if ours(session) => Some(Event::Notice(format!(
                "{reason} — retrying in {wait_secs} s (attempt {attempt} of 3)"
            ))),
            // Only the failure of the message being sent ends the wait for its turn.
            EngineEvent::CommandFailed { submission, .. } if self.sending == Some(*submission) => {
                self.sending = None;
                self.running = false;
                None
            }
            _ => None,
        }
    }

    /// After a batch of events (a frame's worth, not per delta): what streamed is parsed, the
    /// pictures that came are decoded, and a search hit waiting is brought into view.
    pub fn after_batch(&mut self, pictures: bool, data_dir: Option<&std::path::Path>) -> Task<Msg> {
        self.transcript.refresh();
        if pictures {
            self.transcript.show_images(data_dir);
        }
        self.reveal_hit()
    }

    /// Marks the search hit waiting and scrolls to it (kept until the conversation holding it is
    /// loaded).
    fn reveal_hit(&mut self) -> Task<Msg> {
        let Some(index) = (self.reveal.as_ref()).and_then(|anchor| self.transcript.anchor(anchor))
        else {
            return Task::none();
        };
        self.reveal = None;
        self.found_entry = Some(index);
        // Drawn, with a few entries above it for context.
        let len = self.transcript.entries().len();
        self.drawn = self.drawn.max(len - index.saturating_sub(3));
        let offset = self
            .transcript
            .offset_from_bottom(index, self.first_drawn());
        iced::widget::operation::snap_to(
            TRANSCRIPT,
            iced::widget::operation::RelativeOffset {
                x: None,
                y: Some(offset),
            },
        )
    }

    /// Handles a message.
    pub fn update(&mut self, msg: Msg) -> (Task<Msg>, Option<Event>) {
        let transcript = &mut self.transcript;
        let event = match msg {
            Msg::ShowEarlier => {
                self.drawn = self.drawn.max(DRAWN) + MORE;
                None
            }
            Msg::Scrolled { top, bottom } => {
                let len = self.transcript.entries().len();
                if top && self.first_drawn() > 0 {
                    self.drawn = self.drawn.max(DRAWN) + MORE;
                } else if bottom
                    && self.drawn > DRAWN
                    && self
                        .found_entry
                        .is_none_or(|f| f >= len.saturating_sub(DRAWN))
                {
                    // Back at the end: what was drawn above is let go (its text layouts too),
                    // unless that would hide the search hit shown.
                    self.drawn = DRAWN;
                }
                None
            }
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

    /// The entries, or a welcome when there are none (`configured`: a model provider is set).
    pub(super) fn view<'a>(&'a self, look: &Look, configured: bool) -> Element<'a, Message> {
        let p = look.p;
        if self.transcript.entries().is_empty() {
            let hint = if configured {
                "Ask anything. Aetheria can read and write files in your workspace — it asks before changing anything."
            } else {
                "No model provider is configured yet. Add one to config.toml (see the README), then restart — or try `aetheria ask --base-url URL --model NAME` in a terminal."
            };
            return container(
                column![
                    text("What should we do?").font(HEADING).size(34),
                    text(hint).size(16).color(p.muted),
                ]
                .spacing(12)
                .max_width(620),
            )
            .height(Fill)
            .center_y(Fill)
            .into();
        }
        let mut list = column![].spacing(18).padding(iced::Padding {
            right: 14.0,
            bottom: 8.0,
            ..Default::default()
        });
        let first = self.first_drawn();
        let own = Message::Conversation;
        if first > 0 {
            let earlier = if first == 1 {
                "1 earlier entry".to_owned()
            } else {
                format!("{first} earlier entries")
            };
            list = list.push(
                row![
                    text(earlier).size(13).color(p.muted),
                    btn(p, ButtonKind::Secondary, "Show earlier").on_press(own(Msg::ShowEarlier)),
                ]
                .spacing(10)
                .align_y(iced::Alignment::Center),
            );
        }
        for (i, (entry, view)) in self.transcript.rows().enumerate().skip(first) {
            let shown = entry_view::entry_view(look, entry, view);
            // The search hit that opened this conversation is marked.
            if self.found_entry == Some(i) {
                list = list.push(
                    column![
                        container(label("FOUND").color(iced::Color::BLACK))
                            .padding([2, 8])
                            .style(move |_| theme::badge(&p, p.accent)),
                        shown
                    ]
                    .spacing(4),
                );
            } else {
                list = list.push(shown);
            }
        }
        scrollable(list)
            .id(TRANSCRIPT)
            .anchor_bottom()
            .on_scroll(move |viewport| {
                let at = viewport.relative_offset().y;
                // Anchored at the bottom: 0 is the bottom, 1 the top.
                own(Msg::Scrolled {
                    top: at >= 0.999,
                    bottom: at <= 0.001,
                })
            })
            .height(Fill)
            .into()
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

#[cfg(test)]
mod tests {
    use aetheria_engine::api::{ErrorInfo, ErrorKind, Usage};

    use super::*;

    fn envelope(event: EngineEvent) -> Envelope {
        Envelope {
            submission: None,
            event,
        }
    }

    #[test]
    fn it_runs_from_its_message_until_its_turn_ends_or_its_message_fails() {
        let session = SessionId::new();
        let mut c = Conversation::default();
        c.sending(&session, "hi", &[], None);
        assert!(c.running());
        assert_eq!(c.session(), Some(&session));
        // A message that could not be submitted: no turn comes, so nothing waits for one.
        c.sent(None);
        assert!(!c.running());

        c.sending(&session, "again", &[], None);
        c.sent(Some(SubmissionId(7)));
        let failed = |n| {
            envelope(EngineEvent::CommandFailed {
                submission: SubmissionId(n),
                error: ErrorInfo::new(ErrorKind::Conflict, "busy"),
            })
        };
        // Another command's failure is not this message's.
        assert!(c.on_engine(&failed(8)).is_none());
        assert!(c.running());
        assert!(c.on_engine(&failed(7)).is_none());
        assert!(!c.running());

        // Another session's turn does not move this one; its own start and end do.
        let started = |s: &SessionId| {
            envelope(EngineEvent::TurnStarted {
                session: s.clone(),
                user_message: MessageId::new(),
                text: "q".into(),
            })
        };
        c.on_engine(&started(&SessionId::new()));
        assert!(!c.running());
        c.on_engine(&started(&session));
        assert!(c.running());
        let finished = |reason| {
            envelope(EngineEvent::TurnFinished {
                session: session.clone(),
                message: MessageId::new(),
                usage: Usage::default(),
                finish_reason: reason,
            })
        };
        assert!(matches!(
            c.on_engine(&finished(FinishReason::Length)),
            Some(Event::AnswerEnded { cut: true })
        ));
        assert!(!c.running());
        c.on_engine(&started(&session));
        assert!(matches!(
            c.on_engine(&finished(FinishReason::Stop)),
            Some(Event::AnswerEnded { cut: false })
        ));
        // Opening another conversation forgets the turn and the message of this one.
        c.on_engine(&started(&session));
        c.open(None);
        assert!(!c.running());
        assert_eq!(c.session(), None);
    }

    /// A long conversation draws only its last entries; scrolling to the top draws more, back at
    /// the bottom the rest is let go, and a search hit far up is drawn to be shown.
    #[test]
    fn a_long_conversation_draws_its_end_and_more_as_the_person_scrolls_up() {
        use aetheria_engine::api::{MessageRecord, Role, SessionSummary};
        let session = SessionId::new();
        let messages: Vec<MessageRecord> = (0..1000)
            .map(|i| {
                let role = if i % 2 == 0 {
                    Role::User
                } else {
                    Role::Assistant
                };
                MessageRecord::new(role, format!("message {i}"))
            })
            .collect();
        let mut c = Conversation::default();
        c.open(Some(session.clone()));
        c.on_engine(&envelope(EngineEvent::SessionLoaded {
            session: SessionSummary {
                id: session.clone(),
                title: "long".into(),
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            },
            messages: messages.clone(),
            tool_calls: vec![],
        }));
        assert_eq!(c.transcript.entries().len(), 1000);
        assert_eq!(c.first_drawn(), 1000 - DRAWN);

        let scrolled = |c: &mut Conversation, top, bottom| {
            let _ = c.update(Msg::Scrolled { top, bottom });
        };
        // Somewhere in the middle: nothing changes.
        scrolled(&mut c, false, false);
        assert_eq!(c.first_drawn(), 1000 - DRAWN);
        scrolled(&mut c, true, false);
        assert_eq!(c.first_drawn(), 1000 - DRAWN - MORE);
        let _ = c.update(Msg::ShowEarlier);
        assert_eq!(c.first_drawn(), 1000 - DRAWN - 2 * MORE);
        scrolled(&mut c, false, true);
        assert_eq!(c.first_drawn(), 1000 - DRAWN, "the rest was not let go");
        // At the very top of a conversation that is all drawn, nothing more is asked.
        let mut short = Conversation::default();
        short.open(Some(session.clone()));
        scrolled(&mut short, true, false);
        assert_eq!(short.first_drawn(), 0);

        // A search hit far up is drawn (with a little before it) and stays drawn.
        let _ = c.reveal(Some(messages[100].id.to_string()));
        assert!(
            c.first_drawn() <= 100 && c.first_drawn() >= 95,
            "{}",
            c.first_drawn()
        );
        assert_eq!(c.found_entry, Some(100));
        scrolled(&mut c, false, true);
        assert!(c.first_drawn() <= 100, "the hit was hidden again");
        // A new conversation starts from its end again.
        c.open(Some(session));
        assert_eq!(c.first_drawn(), 0);
    }
}
