//! What the window does with a conversation and the settings screen beyond drawing them: sending
//! the composer's message, keeping the sidebar's sessions in order (and which are shown), the
//! model choices, and opening the settings screen with its
//! commands noted so only their failures show on it.

use aetheria_engine::api::{Command, SessionId, SessionSummary, SettingsCommand, TurnCommand};
use iced::Task;

use super::{App, Message, ModelChoice, background, composer, settings};

impl App {
    /// A message of the composer, and what the window does with what it asks.
    pub(super) fn composer_message(&mut self, msg: composer::Msg) -> Task<Message> {
        let (task, event) = self.composer.update(
            msg,
            self.engine.is_some(),
            self.conversation.running(),
            self.data_dir.as_deref(),
        );
        let task = task.map(Message::Composer);
        let follow = match event {
            None => Task::none(),
            Some(composer::Event::Send { text, attachments }) => {
                self.send(text, attachments);
                Task::none()
            }
            Some(composer::Event::Stop) => self.act(super::Action::Stop),
            Some(composer::Event::Background { kind, text }) => self.send_to_background(kind, text),
            Some(composer::Event::PickModel(choice)) => {
                if let Some(mut settings) = self.known_settings.clone()
                    && settings.default_provider.as_ref() != Some(&choice.provider)
                {
                    settings.default_provider = Some(choice.provider);
                    self.submit(Command::Settings(SettingsCommand::Save { settings }));
                }
                Task::none()
            }
            Some(composer::Event::Notice(notice)) => {
                self.notice = Some(notice);
                Task::none()
            }
        };
        Task::batch([task, follow])
    }

    /// Sends a message the composer gave up, as a turn of the open session (or a new one).
    fn send(&mut self, text: String, attachments: Vec<std::path::PathBuf>) {
        // A first message creates its session with it: one command, no round trip.
        let (session, create) = match self.current() {
            Some(session) => (session.clone(), false),
            None => (SessionId::new(), true),
        };
        (self.conversation).sending(&session, &text, &attachments, self.data_dir.as_deref());
        let sent = self.submit(Command::Turn(TurnCommand::Send {
            session,
            text,
            attachments,
            create,
            allow: vec![],
        }));
        self.conversation.sent(sent);
    }

    /// Queues the composer's message as a job of `kind` and shows the Jobs tab, where it runs.
    fn send_to_background(&mut self, kind: super::jobs::Background, text: String) -> Task<Message> {
        let allowed = self
            .known_settings
            .as_ref()
            .map(|s| s.jobs_allow.clone())
            .unwrap_or_default();
        let job = aetheria_engine::jobs::JobSpec::new(kind.job(text, &allowed));
        self.submit(Command::Jobs(aetheria_engine::api::JobsCommand::Submit {
            job,
        }));
        self.handle(Message::Panel(super::panel::Msg::Show(
            super::panel::Tab::Jobs,
        )))
    }

    pub(super) fn is_current(&self, session: &SessionId) -> bool {
        self.current() == Some(session)
    }

    pub(super) fn upsert_session(&mut self, summary: SessionSummary) {
        self.sessions.retain(|s| s.id != summary.id);
        self.sessions.insert(0, summary);
    }

    pub(super) fn open_settings(&mut self, onboarding: bool) {
        let (mut form, commands) = settings::Form::open(onboarding);
        form.background = background::Background::new(self.desktop.login_service.clone());
        self.open_modal(super::Modal::Settings(Box::new(form)));
        self.submit_for_settings(commands);
    }

    /// Sends the settings screen's commands, noting them so their failures show on the screen.
    pub(super) fn submit_for_settings(&mut self, commands: Vec<Command>) {
        for command in commands {
            let adds_model = matches!(
                command,
                Command::Models(
                    aetheria_engine::api::ModelsCommand::AddLocal { .. }
                        | aetheria_engine::api::ModelsCommand::InstallCatalog { .. }
                )
            );
            let account = settings::accounts::Accounts::service_of(&command);
            if let Some(id) = self.submit(command)
                && let Some(form) = self.settings_form()
            {
                form.sent.insert(id);
                if adds_model {
                    form.hub.sent(id);
                }
                if let Some(service) = account {
                    form.accounts.sent(id, service);
                }
            }
        }
    }

    pub(super) fn settings_message(&mut self, msg: settings::Msg) -> Task<Message> {
        let Some(form) = self.settings_form() else {
            return Task::none();
        };
        match form.update(msg) {
            settings::Out::None => {}
            settings::Out::Commands(commands) => self.submit_for_settings(commands),
            settings::Out::Task(task) => return task.map(Message::Settings),
            settings::Out::Close => self.close_settings(),
            settings::Out::Theme(mode) => self.mode = mode,
            settings::Out::FontSize(size) => self.font_size = size.clamp(12.0, 22.0),
            settings::Out::Open(url) => self.open_link(&url),
        }
        Task::none()
    }

    /// The model picker's entries and the chosen one.
    pub(crate) fn model_choices(&self) -> (Vec<ModelChoice>, Option<ModelChoice>) {
        let Some(settings) = &self.known_settings else {
            return (Vec::new(), None);
        };
        let choices: Vec<ModelChoice> = settings
            .providers
            .iter()
            .map(|p| ModelChoice {
                provider: p.name.clone(),
                label: format!("{} · {}", p.name, p.model),
            })
            .collect();
        let current = settings
            .default_provider
            .as_ref()
            .and_then(|name| choices.iter().find(|c| &c.provider == name))
            .or_else(|| choices.first())
            .cloned();
        (choices, current)
    }

    pub(crate) fn session_title(&self, id: &SessionId) -> Option<String> {
        self.sessions
            .iter()
            .find(|s| &s.id == id)
            .map(|s| s.title.clone())
    }
}
