//! The window's root state and update (Elm architecture): it keeps the engine handle it received in
//! the bridge handshake, the session list, the open conversation and pending approvals, and turns
//! the person's actions into engine commands. Drawing lives in `view`.

mod actions;
pub mod approvals;
mod background;
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

pub use self::message::Message;
pub use self::view::{COMPOSER, RENAME, SEARCH, TRANSCRIPT};

use std::path::PathBuf;

use aetheria_engine::Handle;
use aetheria_engine::api::{
    Command, Decision, SessionCommand, SessionId, SessionSummary, SubmissionId, TurnCommand,
};
use iced::Task;

use self::transcript::Transcript;
use crate::engine_bridge;
use crate::theme::Mode;

/// Where the app stands with its engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Starting the engine.
    Connecting,
    /// The engine runs.
    Ready,
    /// The engine could not start; the text says why.
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
    pub(crate) status: Status,
    pub(crate) provider: Option<String>,
    pub(crate) workspace: Vec<PathBuf>,
    pub(crate) sessions: Vec<SessionSummary>,
    pub(crate) current: Option<SessionId>,
    pub(crate) running: bool,
    /// The message being written and its files.
    pub(crate) composer: composer::Composer,
    /// Tool calls waiting for the person.
    pub(crate) approvals: approvals::Approvals,
    pub(crate) notice: Option<String>,
    /// The open conversation: its entries and their view state, the search hit shown, the link
    /// waiting to be confirmed.
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
    /// The message being sent: its failure (the session busy or gone) ends the wait for a turn.
    sending: Option<SubmissionId>,
    /// Dictation's state.
    pub dictation: voice::Dictation,
    /// The data folder, where the images people attach are kept (shown and exported from there).
    pub(crate) data_dir: Option<PathBuf>,
    /// Where web pages open: the system's browser, or a list a test reads.
    browser: shell::Browser,
    /// The login service Settings → Background switches.
    login_service: std::sync::Arc<Result<crate::service::Service, crate::service::ServiceError>>,
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
            status: Status::Connecting,
            provider: None,
            workspace: Vec::new(),
            sessions: Vec::new(),
            current: None,
            running: false,
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
            sending: None,
            dictation: voice::Dictation::default(),
            data_dir: aetheria_engine::config::Config::directories()
                .ok()
                .map(|(_, data)| data),
            browser: shell::Browser::System,
            login_service: std::sync::Arc::new(crate::service::Service::of_this_program()),
        }
    }

    /// Shows and exports the images of another data folder (a test's).
    pub fn use_data_dir(&mut self, dir: PathBuf) {
        self.data_dir = Some(dir);
    }

    /// Points Settings → Background at another service manager's file and commands (a test's).
    pub fn use_login_service(&mut self, service: crate::service::Service) {
        self.login_service = std::sync::Arc::new(Ok(service));
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
        self.window.last_session.clone_from(&self.current);
        self.window.dark = self.mode == Mode::GodMode;
        self.window.font_size = self.font_size;
        if let Some(dir) = &self.state_dir
            && let Err(e) = self.window.save(dir)
        {
            tracing::warn!("cannot remember the window state: {e}");
        }
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
            Message::NewChat
                | Message::OpenSession(_)
                | Message::Sidebar(
                    sidebar::Msg::Open(_) | sidebar::Msg::Move(_) | sidebar::Msg::NewChat
                )
                | Message::ToggleTheme
                | Message::Resized(_)
                | Message::Settings(settings::Msg::Theme(_) | settings::Msg::FontSize(_))
        );
        let task = self.handle(message);
        if remembered {
            self.remember();
        }
        task
    }

    fn handle(&mut self, message: Message) -> Task<Message> {
        match message {
            Message::Bridge(event) => return self.bridge(event),
            Message::Voice(msg) => self.voice(msg),
            Message::NewChat => {
                self.current = None;
                self.conversation.found_entry = None;
                self.conversation.reveal = None;
                self.conversation.transcript = Transcript::default();
                self.running = false;
            }
            Message::Sidebar(msg) => {
                let (task, event) = self
                    .sidebar
                    .update(msg, &self.sessions, self.current.as_ref());
                let follow = match event {
                    None => Task::none(),
                    Some(sidebar::Event::NewChat) => self.handle(Message::NewChat),
                    Some(sidebar::Event::Open(session)) => {
                        self.handle(Message::OpenSession(session))
                    }
                    Some(sidebar::Event::OpenHit(session, anchor)) => {
                        self.conversation.reveal = anchor;
                        if self.current.as_ref() == Some(&session) {
                            self.reveal_hit()
                        } else {
                            self.handle(Message::OpenSession(session))
                        }
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
            Message::OpenSession(session) => {
                self.conversation.found_entry = None;
                if self.current.as_ref() != Some(&session) {
                    self.current = Some(session.clone());
                    self.conversation.transcript = Transcript::new(Some(session.clone()));
                    self.running = false;
                    self.submit(Command::Session(SessionCommand::Load { session }));
                }
            }
            // Typing ahead while a turn runs is fine; only sending waits.
            Message::Composer(msg) => return self.composer_message(msg),
            Message::Stop => {
                if let Some(session) = self.current.clone() {
                    self.submit(Command::Turn(TurnCommand::Cancel { session }));
                }
            }
            Message::Approval(msg) => {
                if let Some(decided) = self.approvals.update(msg) {
                    if decided.decision == Decision::Allow {
                        self.conversation.transcript.approved(&decided.call);
                    }
                    self.submit(Command::Turn(TurnCommand::Approve {
                        call: decided.call,
                        decision: decided.decision,
                        remember: decided.remember,
                        scope: decided.scope,
                    }));
                }
            }
            Message::ToggleTheme => {
                self.mode = match self.mode {
                    Mode::Light => Mode::GodMode,
                    Mode::GodMode => Mode::Light,
                };
            }
            Message::Conversation(msg) => {
                let (task, event) = self.conversation.update(msg);
                match event {
                    Some(conversation::Event::Open(url)) => self.open_link(&url),
                    Some(conversation::Event::Enlarge(path)) => return self.enlarge(path),
                    Some(conversation::Event::Notice(notice)) => self.notice = Some(notice),
                    None => {}
                }
                return task.map(Message::Conversation);
            }
            Message::DismissNotice => self.notice = None,
            Message::MoveFocus(true) => return iced::widget::operation::focus_next(),
            Message::MoveFocus(false) => return iced::widget::operation::focus_previous(),
            Message::Header(msg) => {
                let title = (self.current.as_ref())
                    .and_then(|id| self.session_title(id))
                    .unwrap_or_default();
                let (task, event) =
                    self.header
                        .update(msg, self.current.as_ref(), &title, self.engine.as_ref());
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
            Message::ConfirmDelete => {
                if let Some(Modal::ConfirmDelete(session)) = self.modal.take() {
                    self.submit(Command::Session(SessionCommand::Delete { session }));
                }
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
                    return self.handle(Message::OpenSession(session));
                }
            }
            Message::OpenSettings => self.open_settings(/*onboarding*/ false),
            Message::Settings(msg) => return self.settings_message(msg),
            Message::Tick => self.tick = self.tick.wrapping_add(1),
            Message::CloseRequested => {
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
            Message::Resized(size) => {
                self.window.width = size.width;
                self.window.height = size.height;
            }
            Message::OpenPalette => {
                if self.open_modal(Modal::Palette(palette::CommandPalette::default())) {
                    return iced::widget::operation::focus(palette::INPUT);
                }
            }
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
            Message::EscapeInField => {
                if matches!(self.modal, Some(Modal::Palette(_))) {
                    self.modal = None;
                } else {
                    self.header.cancel_rename();
                }
            }
            Message::Escape => {
                let closed = self.header.cancel_rename() || self.modal.take().is_some();
                if !closed
                    && self.running
                    && let Some(session) = self.current.clone()
                {
                    self.submit(Command::Turn(TurnCommand::Cancel { session }));
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
