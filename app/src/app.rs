//! The window's root state and update (Elm architecture): it keeps the engine handle it received in
//! the bridge handshake, the session list, the open conversation and pending approvals, and turns
//! the person's actions into engine commands. Drawing lives in `view`.

mod actions;
pub mod approvals;
mod background;
pub mod browser;
pub mod composer;
pub mod conversation;
mod entry_view;
mod events;
pub mod export;
pub mod header;
mod input;
pub mod jobs;
mod links;
pub mod memories;
mod message;
pub mod models_hub;
pub mod palette;
pub mod panel;
mod pictures;
mod prompts;
mod sandbox;
pub mod schedules;
pub mod settings;
mod shell;
pub mod sidebar;
mod transcript;
mod view;
pub mod voice;
mod voice_settings;
pub mod window_state;

pub use self::message::{Action, Message, Window};
pub use self::view::{COMPOSER, RENAME, SEARCH, TRANSCRIPT};

use std::path::PathBuf;

use aetheria_engine::Handle;
use aetheria_engine::api::{
    Command, Decision, SessionCommand, SessionId, SessionSummary, SubmissionId, TurnCommand,
};
use iced::Task;

use crate::engine_bridge;
use crate::theme::Mode;

/// What fills the window: it follows the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// The engine is starting (or reconnecting).
    Starting,
    /// The engine runs: the sidebar, the conversation and the panel.
    Main,
    /// The engine could not start or stopped; the text says why.
    Failed(String),
}

/// What is open over the window, one at a time (an approval prompt goes over it).
pub(crate) enum Modal {
    /// The settings screen (the welcome on a first start).
    Settings(Box<settings::Form>),
    /// The command palette.
    Palette(palette::CommandPalette),
    /// An image, as large as it fits: its file and pixels.
    Enlarged(PathBuf, iced::widget::image::Handle),
    /// Delete this session? (asked first)
    ConfirmDelete(SessionId),
}

/// One entry of the model picker: a provider and its model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelChoice {
    /// The provider's name.
    pub provider: String,
    /// Shown as "provider · model".
    pub label: String,
}

impl std::fmt::Display for ModelChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

/// The app.
pub struct App {
    pub(crate) mode: Mode,
    pub(crate) engine: Option<Handle>,
    pub(crate) screen: Screen,
    pub(crate) provider: Option<String>,
    pub(crate) workspace: Vec<PathBuf>,
    pub(crate) sessions: Vec<SessionSummary>,
    /// The message being written and its files.
    pub(crate) composer: composer::Composer,
    /// Tool calls waiting for the person.
    pub(crate) approvals: approvals::Approvals,
    pub(crate) notice: Option<String>,
    /// The open conversation (its session is the one open): its entries and their view state,
    /// whether its turn runs, the search hit shown, the link waiting to be confirmed.
    pub(crate) conversation: conversation::Conversation,
    /// The sidebar's search and what it found.
    pub(crate) sidebar: sidebar::Sidebar,
    /// The conversation's header: its title being renamed, the export.
    pub(crate) header: header::Header,
    /// What is open over the window: the settings, the palette, an image, a confirmation.
    pub(crate) modal: Option<Modal>,
    /// The right panel: activity, files, the sandbox, jobs and schedules.
    pub(crate) panel: panel::Panel,
    /// Base text size of the conversation.
    pub(crate) font_size: f32,
    /// The settings as the engine last reported them (for the model picker).
    pub(crate) known_settings: Option<aetheria_engine::api::Settings>,
    /// What is remembered between runs, and where (`None`: nothing is written).
    window: window_state::WindowState,
    state_dir: Option<PathBuf>,
    /// The session to reopen once the list arrives.
    restore: Option<SessionId>,
    /// Spinner frame.
    pub(crate) tick: usize,
    /// The window is closing: exit once the engine has stopped.
    closing: bool,
    /// Dictation's state.
    pub dictation: voice::Dictation,
    /// The data folder, where the images people attach are kept (shown and exported from there).
    pub(crate) data_dir: Option<PathBuf>,
    /// What the window uses of the desktop: where web pages open, the login service.
    desktop: shell::Desktop,
}

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// A window that waits for its engine.
    #[must_use]
    pub fn new() -> Self {
        Self {
            mode: Mode::default(),
            engine: None,
            screen: Screen::Starting,
            provider: None,
            workspace: Vec::new(),
            sessions: Vec::new(),
            composer: composer::Composer::default(),
            approvals: approvals::Approvals::default(),
            notice: None,
            conversation: conversation::Conversation::default(),
            sidebar: sidebar::Sidebar::default(),
            header: header::Header::default(),
            panel: panel::Panel::default(),
            modal: None,
            font_size: 16.0,
            known_settings: None,
            window: window_state::WindowState::default(),
            state_dir: None,
            restore: None,
            tick: 0,
            closing: false,
            dictation: voice::Dictation::default(),
            data_dir: aetheria_engine::config::Config::directories()
                .ok()
                .map(|(_, data)| data),
            desktop: shell::Desktop::default(),
        }
    }

    /// Shows and exports the images of another data folder (a test's).
    pub fn use_data_dir(&mut self, dir: PathBuf) {
        self.data_dir = Some(dir);
    }

    /// Points Settings → Background at another service manager's file and commands (a test's).
    pub fn use_login_service(&mut self, service: crate::service::Service) {
        self.desktop.login_service = std::sync::Arc::new(Ok(service));
    }

    /// A window that restores `state` and remembers changes in `dir`.
    #[must_use]
    pub fn with_state(state: window_state::WindowState, dir: Option<PathBuf>) -> Self {
        Self {
            mode: state.mode(),
            font_size: state.font_size,
            restore: state.last_session.clone(),
            window: state,
            state_dir: dir,
            ..Self::new()
        }
    }

    /// Writes what the next start restores (size, open session, theme, text size).
    fn remember(&mut self) {
        self.window.last_session = self.current().cloned();
        self.window.dark = self.mode == Mode::GodMode;
        self.window.font_size = self.font_size;
        if let Some(dir) = &self.state_dir
            && let Err(e) = self.window.save(dir)
        {
            tracing::warn!("cannot remember the window state: {e}");
        }
    }

    /// The open session (none: a new chat not sent yet).
    #[must_use]
    pub fn current(&self) -> Option<&SessionId> {
        self.conversation.session()
    }

    /// What the composer holds.
    #[must_use]
    pub fn composer_text(&self) -> String {
        self.composer.text()
    }

    /// Opens `modal` over the window, unless the settings are open (what is typed there is kept:
    /// nothing else opens over it); whether it opened.
    fn open_modal(&mut self, modal: Modal) -> bool {
        if matches!(self.modal, Some(Modal::Settings(_))) && !matches!(modal, Modal::Settings(_)) {
            return false;
        }
        self.modal = Some(modal);
        true
    }

    /// Opens an image over the window (`None`: closes the one shown).
    fn enlarge(&mut self, path: Option<PathBuf>) -> Task<Message> {
        match path {
            None => {
                if matches!(self.modal, Some(Modal::Enlarged(..))) {
                    self.modal = None;
                }
            }
            Some(path) => match pictures::full(&path) {
                Ok(image) => {
                    self.open_modal(Modal::Enlarged(path, image));
                }
                Err(why) => self.notice = Some(format!("The image cannot be shown: {why}")),
            },
        }
        Task::none()
    }

    /// The settings screen, when open.
    pub(crate) fn settings_form(&mut self) -> Option<&mut settings::Form> {
        match &mut self.modal {
            Some(Modal::Settings(form)) => Some(form),
            _ => None,
        }
    }

    /// Closes the settings screen (when open).
    fn close_settings(&mut self) {
        if matches!(self.modal, Some(Modal::Settings(_))) {
            self.modal = None;
        }
    }

    fn submit(&mut self, command: Command) -> Option<SubmissionId> {
        submit_to(self.engine.as_ref(), &mut self.notice, command)
    }

    /// Handles one message; never blocks (engine commands are queued).
    pub fn update(&mut self, message: Message) -> Task<Message> {
        let remembered = matches!(
            message,
            Message::Do(Action::NewChat | Action::OpenSession(_) | Action::ToggleTheme)
                | Message::Sidebar(
                    sidebar::Msg::Open(_) | sidebar::Msg::Move(_) | sidebar::Msg::NewChat
                )
                | Message::Window(Window::Resized(_))
                | Message::Settings(settings::Msg::Theme(_) | settings::Msg::FontSize(_))
        );
        let task = self.handle(message);
        // The Browser tab watches the open conversation's browser while it is shown.
        let want = (self.panel.tab == panel::Tab::Browser)
            .then(|| self.conversation.session().cloned())
            .flatten();
        let (engine, notice) = (self.engine.as_ref(), &mut self.notice);
        if engine.is_some() {
            self.panel.browser.watch(want.as_ref(), &mut |c| {
                submit_to(engine, notice, c);
            });
        }
        if remembered {
            self.remember();
        }
        task
    }

    fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Bridge(event) => return self.bridge(event),
            Message::Window(report) => return self.window_report(report),
            Message::Do(action) => return self.act(action),
            Message::Voice(msg) => self.voice(msg),
            Message::Sidebar(msg) => {
                let current = self.current().cloned();
                let (task, event) = self.sidebar.update(msg, &self.sessions, current.as_ref());
                let follow = match event {
                    None => Task::none(),
                    Some(sidebar::Event::NewChat) => self.act(Action::NewChat),
                    Some(sidebar::Event::Open(session)) => self.act(Action::OpenSession(session)),
                    Some(sidebar::Event::OpenHit(session, anchor)) => {
                        let open = self.act(Action::OpenSession(session));
                        let reveal = self.conversation.reveal(anchor);
                        Task::batch([open, reveal.map(Message::Conversation)])
                    }
                    Some(sidebar::Event::Search(query)) => {
                        let id = self.submit(Command::Session(SessionCommand::Search {
                            query,
                            limit: Some(12),
                        }));
                        self.sidebar.searching(id);
                        Task::none()
                    }
                };
                return Task::batch([task.map(Message::Sidebar), follow]);
            }
            // Typing ahead while a turn runs is fine; only sending waits.
            Message::Composer(msg) => return self.composer_message(msg),
            Message::Approval(msg) => {
                if let Some(decided) = self.approvals.update(msg) {
                    if decided.decision == Decision::Allow {
                        self.conversation.approved(&decided.call);
                    }
                    self.submit(Command::Turn(TurnCommand::Approve {
                        call: decided.call,
                        decision: decided.decision,
                        remember: decided.remember,
                        scope: decided.scope,
                    }));
                }
            }
            Message::Conversation(msg) => {
                let (task, event) = self.conversation.update(msg);
                let follow = event.map_or_else(Task::none, |event| self.conversation_event(event));
                return Task::batch([task.map(Message::Conversation), follow]);
            }
            Message::Header(msg) => {
                let title = (self.current())
                    .and_then(|id| self.session_title(id))
                    .unwrap_or_default();
                let current = self.current().cloned();
                let (task, event) =
                    self.header
                        .update(msg, current.as_ref(), &title, self.engine.as_ref());
                match event {
                    Some(header::Event::Rename(session, title)) => {
                        self.submit(Command::Session(SessionCommand::Rename { session, title }));
                    }
                    Some(header::Event::AskDelete(session)) => {
                        self.open_modal(Modal::ConfirmDelete(session));
                    }
                    None => {}
                }
                return task.map(Message::Header);
            }
            Message::Panel(msg) => {
                let Self {
                    panel,
                    engine,
                    notice,
                    ..
                } = self;
                let mut submit = |command| submit_to(engine.as_ref(), notice, command);
                if let Some(panel::Event::Open(session)) =
                    panel.update(msg, engine.as_ref(), &mut submit)
                {
                    return self.act(Action::OpenSession(session));
                }
            }
            Message::Settings(msg) => return self.settings_message(msg),
            Message::Palette(msg) => {
                let action = match &mut self.modal {
                    Some(Modal::Palette(palette)) => palette.update(msg),
                    _ => None,
                };
                if let Some(action) = action {
                    self.modal = None;
                    return self.handle(action);
                }
            }
        }
        Task::none()
    }

    /// What the conversation asks of the window.
    fn conversation_event(&mut self, event: conversation::Event) -> Task<Message> {
        match event {
            conversation::Event::Open(url) => self.open_link(&url),
            conversation::Event::Enlarge(path) => return self.enlarge(path),
            conversation::Event::Notice(notice) => self.notice = Some(notice),
            conversation::Event::AnswerEnded { cut } => {
                self.answer_ended();
                if cut {
                    self.notice =
                        Some("The answer was cut: the model reached its output limit.".into());
                }
            }
        }
        Task::none()
    }

    /// What the person asks of the whole window.
    fn act(&mut self, action: Action) -> Task<Message> {
        match action {
            Action::NewChat => self.conversation.open(None),
            Action::OpenSession(session) => {
                if self.current() != Some(&session) {
                    self.conversation.open(Some(session.clone()));
                    self.submit(Command::Session(SessionCommand::Load { session }));
                }
            }
            Action::Stop => {
                if let Some(session) = self.current().cloned() {
                    self.submit(Command::Turn(TurnCommand::Cancel { session }));
                }
            }
            Action::ToggleTheme => {
                self.mode = match self.mode {
                    Mode::Light => Mode::GodMode,
                    Mode::GodMode => Mode::Light,
                };
            }
            Action::OpenSettings => self.open_settings(/*onboarding*/ false),
            Action::OpenPalette => {
                if self.open_modal(Modal::Palette(palette::CommandPalette::default())) {
                    return iced::widget::operation::focus(palette::INPUT);
                }
            }
            Action::DismissNotice => self.notice = None,
            Action::ConfirmDelete => {
                if let Some(Modal::ConfirmDelete(session)) = self.modal.take() {
                    self.submit(Command::Session(SessionCommand::Delete { session }));
                }
            }
            Action::Escape => {
                let closed = self.header.cancel_rename() || self.modal.take().is_some();
                if !closed && self.conversation.running() {
                    return self.act(Action::Stop);
                }
            }
            Action::MoveFocus(true) => return iced::widget::operation::focus_next(),
            Action::MoveFocus(false) => return iced::widget::operation::focus_previous(),
        }
        Task::none()
    }

    /// What the window reports of itself.
    fn window_report(&mut self, report: Window) -> Task<Message> {
        match report {
            Window::Tick => self.tick = self.tick.wrapping_add(1),
            Window::Resized(size) => {
                self.window.width = size.width;
                self.window.height = size.height;
            }
            Window::CloseRequested => {
                self.remember();
                let stopping = self
                    .engine
                    .as_ref()
                    .is_some_and(|engine| engine.submit(Command::Shutdown).is_ok());
                if !stopping {
                    return iced::exit();
                }
                self.closing = true;
            }
            Window::EscapeInField => {
                if matches!(self.modal, Some(Modal::Palette(_))) {
                    self.modal = None;
                } else {
                    self.header.cancel_rename();
                }
            }
        }
        Task::none()
    }
}

/// Sends a command to the engine; when it cannot be sent, the notice says why.
fn submit_to(
    engine: Option<&Handle>,
    notice: &mut Option<String>,
    command: Command,
) -> Option<SubmissionId> {
    let Some(engine) = engine else {
        *notice = Some("The engine is not ready yet.".into());
        return None;
    };
    match engine.submit(command) {
        Ok(id) => Some(id),
        Err(e) => {
            *notice = Some(format!("The engine stopped ({e}); restart Aetheria."));
            None
        }
    }
}
