//! The sidebar: the conversations (filtered by the search box as it is typed), the messages and
//! tool results the history search found, New chat, Settings and the theme. It owns the search;
//! the list of sessions is the window's (the header and the title bar show it too). Opening a
//! conversation or starting one comes back to the window as an `Event`.

use aetheria_engine::api::{
    Envelope, Event as EngineEvent, SearchHit, SessionId, SessionSummary, SubmissionId,
};
use iced::widget::{button, column, container, scrollable, text, text_input};
use iced::{Element, Fill, Length, Task};

use super::view::{SEARCH, btn, cut, label};
use super::{Action, Message};
use crate::theme::{self, BOLD, ButtonKind, HEADING, Mode, Palette};

/// What the sidebar does.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Start a new conversation.
    NewChat,
    /// Open a conversation.
    Open(SessionId),
    /// Open a search hit: its conversation, scrolled to the message or tool call that matched.
    OpenHit {
        /// The conversation.
        session: SessionId,
        /// The message or tool call (its id).
        anchor: Option<String>,
    },
    /// The search text changed.
    Search(String),
    /// Ctrl+K: the cursor to the search box.
    Focus,
    /// ↑/↓: open the conversation above (-1) or below (+1) the open one.
    Move(i32),
}

/// What the sidebar asks of the window.
#[derive(Debug)]
pub enum Event {
    /// Start a new conversation.
    NewChat,
    /// Open this conversation.
    Open(SessionId),
    /// Open this conversation at this message or tool call.
    OpenHit(SessionId, Option<String>),
    /// Search every message for this (answered to `searching`).
    Search(String),
}

/// The search box and what it found.
#[derive(Debug, Default)]
pub struct Sidebar {
    search: String,
    found: Vec<SearchHit>,
    /// The history search under way (only its answer is shown).
    searching: Option<SubmissionId>,
}

/// Titles are filtered as the search is typed; two letters or more also search every message.
const SEARCH_FROM: usize = 2;

impl Sidebar {
    /// Handles a message; `sessions` and `current` are the window's list and open conversation.
    pub fn update(
        &mut self,
        msg: Msg,
        sessions: &[SessionSummary],
        current: Option<&SessionId>,
    ) -> (Task<Msg>, Option<Event>) {
        let event = match msg {
            Msg::NewChat => Some(Event::NewChat),
            Msg::Open(session) => Some(Event::Open(session)),
            Msg::OpenHit { session, anchor } => Some(Event::OpenHit(session, anchor)),
            Msg::Search(text) => {
                self.found.clear();
                self.searching = None;
                let query = text.trim().to_owned();
                self.search = text;
                (query.chars().count() >= SEARCH_FROM).then_some(Event::Search(query))
            }
            Msg::Focus => return (iced::widget::operation::focus(SEARCH), None),
            Msg::Move(step) => {
                let shown: Vec<&SessionId> = self.shown(sessions).map(|s| &s.id).collect();
                let at = current.and_then(|id| shown.iter().position(|s| *s == id));
                let next = match at {
                    Some(i) => i.checked_add_signed(step as isize),
                    None if step > 0 => Some(0),
                    None => shown.len().checked_sub(1),
                };
                next.and_then(|i| shown.get(i))
                    .map(|session| Event::Open((*session).clone()))
            }
        };
        (Task::none(), event)
    }

    /// Notes the submission of the search it asked for.
    pub fn searching(&mut self, submission: Option<SubmissionId>) {
        self.searching = submission;
    }

    /// Takes the answer to its own search; `true` when it was.
    pub fn on_engine(&mut self, envelope: &Envelope) -> bool {
        match &envelope.event {
            EngineEvent::SearchResults { hits, .. }
                if self.searching.is_some() && envelope.submission == self.searching =>
            {
                self.found.clone_from(hits);
                true
            }
            _ => false,
        }
    }

    /// The sessions shown (filtered by the search box), in order.
    pub fn shown<'a>(
        &self,
        sessions: &'a [SessionSummary],
    ) -> impl Iterator<Item = &'a SessionSummary> + use<'a> {
        let needle = self.search.trim().to_lowercase();
        sessions
            .iter()
            .filter(move |s| needle.is_empty() || s.title.to_lowercase().contains(&needle))
    }

    /// The sidebar.
    pub fn view<'a>(
        &'a self,
        p: Palette,
        mode: Mode,
        sessions: &'a [SessionSummary],
        current: Option<&SessionId>,
    ) -> Element<'a, Message> {
        let own = Message::Sidebar;
        let mut list = column![].spacing(10);
        for s in self.shown(sessions) {
            let selected = current == Some(&s.id);
            list = list.push(
                button(text(cut(&s.title, 28)).size(14))
                    .width(Fill)
                    .padding([8, 10])
                    .style(theme::button(p, ButtonKind::Item { selected }))
                    .on_press(own(Msg::Open(s.id.clone()))),
            );
        }
        if !self.found.is_empty() {
            list = list.push(label("IN MESSAGES").color(p.muted));
            for hit in &self.found {
                list = list.push(found(p, hit));
            }
        }
        let theme_caption = match mode {
            Mode::Light => "God Mode",
            Mode::GodMode => "Light mode",
        };
        let side = column![
            text("AETHERIA").font(HEADING).size(28),
            btn(p, ButtonKind::Primary, "+ New chat")
                .width(Fill)
                .on_press(own(Msg::NewChat)),
            text_input("Search sessions (Ctrl+K)", &self.search)
                .id(SEARCH)
                .on_input(move |t| own(Msg::Search(t)))
                .padding(8)
                .size(14)
                .style(theme::input(p)),
            label("SESSIONS").color(p.muted),
            scrollable(list.padding(iced::Padding {
                right: 8.0,
                bottom: 6.0,
                ..Default::default()
            }))
            .height(Fill),
            btn(p, ButtonKind::Secondary, "Settings")
                .width(Fill)
                .on_press(Message::Do(Action::OpenSettings)),
            btn(p, ButtonKind::Secondary, theme_caption)
                .width(Fill)
                .on_press(Message::Do(Action::ToggleTheme)),
        ]
        .spacing(14)
        .padding(18);
        container(side)
            .width(Length::Fixed(270.0))
            .height(Fill)
            .style(move |_| theme::block(&p, p.surface))
            .into()
    }
}

/// One hit of the history search: its conversation, who wrote it, and the words around the match
/// (« » mark the matched words).
fn found(p: Palette, hit: &SearchHit) -> Element<'_, Message> {
    let who = match (&hit.role, &hit.tool) {
        (Some(aetheria_engine::api::Role::User), _) => "you".to_owned(),
        (Some(_), _) => "Aetheria".to_owned(),
        (None, Some(tool)) => tool.clone(),
        (None, None) => String::new(),
    };
    button(
        column![
            text(format!("{} · {who}", cut(&hit.session_title, 22)))
                .font(BOLD)
                .size(12),
            text(cut(&hit.snippet, 90)).size(12),
        ]
        .spacing(2),
    )
    .width(Fill)
    .padding([6, 10])
    .style(theme::button(p, ButtonKind::Item { selected: false }))
    .on_press(Message::Sidebar(Msg::OpenHit {
        session: hit.session.clone(),
        anchor: hit
            .tool_call
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| hit.message.as_ref().map(ToString::to_string)),
    }))
    .into()
}

#[cfg(test)]
mod tests {
    use aetheria_engine::api::ErrorInfo;

    use super::*;

    fn session(title: &str) -> SessionSummary {
        SessionSummary {
            id: SessionId::new(),
            title: title.into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_search_filters_titles_and_only_its_own_answer_is_shown() {
        let sessions = [
            session("Budget 2027"),
            session("Garden plans"),
            session("budget notes"),
        ];
        let mut bar = Sidebar::default();
        let (_, event) = bar.update(Msg::Search("b".into()), &sessions, None);
        assert!(event.is_none(), "one letter filters titles only");
        let (_, event) = bar.update(Msg::Search("budget".into()), &sessions, None);
        assert!(matches!(event, Some(Event::Search(q)) if q == "budget"));
        let titles: Vec<&str> = bar.shown(&sessions).map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Budget 2027", "budget notes"]);
        bar.searching(Some(SubmissionId(4)));
        let results = |id| Envelope {
            submission: Some(SubmissionId(id)),
            event: EngineEvent::SearchResults {
                query: "budget".into(),
                hits: Vec::new(),
            },
        };
        assert!(!bar.on_engine(&results(3)), "another front end's search");
        assert!(bar.on_engine(&results(4)));
        let failed = Envelope {
            submission: Some(SubmissionId(4)),
            event: EngineEvent::CommandFailed {
                submission: SubmissionId(4),
                error: ErrorInfo::new(aetheria_engine::api::ErrorKind::Invalid, "no"),
            },
        };
        assert!(!bar.on_engine(&failed));
        // ↓ from the first shown opens the next shown one.
        let (_, event) = bar.update(Msg::Move(1), &sessions, Some(&sessions[0].id));
        assert!(matches!(event, Some(Event::Open(id)) if id == sessions[2].id));
    }
}
