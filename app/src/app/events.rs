//! How the window follows the engine: the bridge's reports, and each event updates the session
//! list, the open conversation, approvals, jobs and panels (the settings form and the sandbox tab
//! take theirs first).

use aetheria_engine::api::{
    Command, Envelope, Event, SandboxCommand, SessionCommand, SettingsCommand, ToolsCommand,
};
use iced::Task;

use super::{App, Message, Screen, jobs, panel};
use crate::engine_bridge::BridgeEvent;

impl App {
    /// What the engine bridge reports: the engine ready (again), a batch of its events, or
    /// that it failed, moved or stopped.
    pub(super) fn bridge(&mut self, event: BridgeEvent) -> Task<Message> {
        match event {
            BridgeEvent::Ready {
                handle,
                provider,
                workspace,
            } => {
                self.engine = Some(handle);
                self.screen = Screen::Main;
                self.provider = provider;
                self.workspace = workspace;
                // The list, and the open conversation after a reconnection.
                self.reload();
                self.submit(Command::Settings(SettingsCommand::Get));
                self.submit(Command::Sandbox(SandboxCommand::Status));
                self.submit(Command::Voice(aetheria_engine::api::VoiceCommand::Status));
                if self.provider.is_none() {
                    self.open_settings(/*onboarding*/ true);
                }
                if !self.workspace.is_empty() {
                    self.submit(Command::Tools(ToolsCommand::ListFiles {
                        path: String::new(),
                    }));
                }
            }
            BridgeEvent::Events(events) => {
                let mut tasks = Vec::new();
                // Only these bring pictures to decode: the person's messages, a tool's drawings.
                let pictures = events.iter().any(|e| match &e.event {
                    Event::SessionLoaded { .. } | Event::TurnStarted { .. } => true,
                    Event::ToolCallFinished { images, .. } => !images.is_empty(),
                    _ => false,
                });
                for envelope in events {
                    if let Some(event) = self.conversation.on_engine(&envelope) {
                        tasks.push(self.conversation_event(event));
                    }
                    self.panel.schedules.on_engine(&envelope);
                    self.approvals.on_engine(&envelope);
                    if self.sidebar.on_engine(&envelope) {
                        continue;
                    }
                    if let Some(form) = self.settings_form() {
                        form.mcp.on_engine(&envelope);
                        let (taken, open) = form.accounts.on_engine(&envelope);
                        if let Some(url) = open {
                            self.open_link(&url);
                        }
                        if taken {
                            continue;
                        }
                    }
                    match self.header.on_engine(&envelope, self.data_dir.as_deref()) {
                        Some(task) => tasks.push(task.map(Message::Header)),
                        None => self.app_event(envelope.event),
                    }
                }
                let shown = self
                    .conversation
                    .after_batch(pictures, self.data_dir.as_deref());
                tasks.push(shown.map(Message::Conversation));
                return Task::batch(tasks);
            }
            // A window that is closing does not wait for an engine that went away: it exits.
            BridgeEvent::Failed(_) | BridgeEvent::Reconnecting(_) if self.closing => {
                return iced::exit();
            }
            BridgeEvent::Failed(reason) => self.screen = Screen::Failed(reason),
            BridgeEvent::Reconnecting(reason) => {
                self.engine = None;
                self.screen = Screen::Starting;
                self.notice = Some(reason);
            }
            BridgeEvent::Stopped => {
                self.engine = None;
                if self.closing {
                    return iced::exit();
                }
                self.screen =
                    Screen::Failed("The engine stopped. Restart Aetheria to continue.".into());
            }
        }
        Task::none()
    }

    /// Applies one engine event that answers no submission of the window (a test's).
    pub fn engine_event(&mut self, event: Event) {
        let envelope = Envelope {
            submission: None,
            event,
        };
        if let Some(event) = self.conversation.on_engine(&envelope) {
            let _ = self.conversation_event(event);
        }
        self.app_event(envelope.event);
    }

    /// Applies one engine event to what the window keeps beyond its components.
    fn app_event(&mut self, event: Event) {
        if let Event::Settings { settings } | Event::SettingsSaved { settings } = &event {
            self.known_settings = Some(settings.clone());
            self.voice_settings(settings);
        }
        if let Event::Voice(voice) = event {
            if let Some(form) = self.settings_form() {
                form.voice.event(&voice);
            }
            self.voice_event(voice);
            return;
        }
        if let Some(form) = self.settings_form()
            && form.event(&event)
        {
            return;
        }
        if self.panel.browser.on_event(&event) {
            return;
        }
        if self.panel.sandbox.on_event(&event) {
            let status = self.panel.sandbox.status.clone();
            if let Some(form) = self.settings_form() {
                form.workspace.sandbox = status;
            }
            return;
        }
        match event {
            Event::JobList { jobs } => self.panel.jobs = jobs,
            Event::JobUpdated { job } => {
                let ended = job.clone();
                if jobs::upsert(&mut self.panel.jobs, job) {
                    jobs::notify(&ended);
                    self.job_ended();
                }
            }
            Event::SessionList { sessions } => {
                self.sessions = sessions;
                // Reopen the session that was open when the window last closed.
                if let Some(session) = self.restore.take()
                    && self.current().is_none()
                    && self.sessions.iter().any(|s| s.id == session)
                {
                    self.conversation.open(Some(session.clone()));
                    self.submit(Command::Session(SessionCommand::Load { session }));
                }
            }
            Event::SessionCreated { session } => {
                let id = session.id.clone();
                self.upsert_session(session);
                if self.is_current(&id) {
                    self.remember();
                }
            }
            Event::SessionUpdated { session } => self.upsert_session(session),
            Event::SessionDeleted { session } => {
                self.sessions.retain(|s| s.id != session);
                if self.is_current(&session) {
                    self.conversation.open(None);
                }
            }
            // A tool may have changed the workspace: list what is shown again.
            Event::ToolCallFinished { status, .. }
                if status == aetheria_engine::api::ToolStatus::Succeeded
                    && !self.workspace.is_empty() =>
            {
                for path in self.panel.files.to_refresh() {
                    self.submit(Command::Tools(ToolsCommand::ListFiles { path }));
                }
            }
            Event::SettingsSaved { settings } => {
                self.close_settings();
                // The microphone or the model may have changed.
                self.submit(Command::Voice(aetheria_engine::api::VoiceCommand::Status));
                self.provider = settings
                    .default_provider
                    .as_ref()
                    .and_then(|name| settings.providers.iter().find(|p| &p.name == name))
                    .or_else(|| settings.providers.first())
                    .map(|p| format!("{} · {}", p.name, p.model));
                self.workspace = settings.workspace_roots;
                self.panel.files = panel::Files::default();
                if !self.workspace.is_empty() {
                    self.submit(Command::Tools(ToolsCommand::ListFiles {
                        path: String::new(),
                    }));
                }
            }
            Event::FileList { path, entries } => {
                self.panel.files.listed.insert(path, entries);
            }
            Event::CommandFailed { submission, error } => {
                self.dictation.failed(submission);
                // The settings screen shows the failures of what it sent; any other goes to the
                // notice line, open screen or not.
                match self
                    .settings_form()
                    .filter(|f| f.sent.contains(&submission))
                {
                    Some(form) => {
                        form.sent.remove(&submission);
                        form.voice.failed();
                        // A refused model shows beside the model field, the rest atop the screen.
                        if !form.hub.failed(submission, &error.message) {
                            form.error = Some(error.message);
                        }
                    }
                    None => self.notice = Some(error.message),
                }
            }
            // Events were dropped for this window (it fell behind its host): what it shows may
            // be stale, so the list and the open conversation are read again.
            Event::Lagged { .. } => self.reload(),
            _ => {}
        }
    }

    /// Reads the sessions and the open conversation again from the engine.
    pub(crate) fn reload(&mut self) {
        self.submit(Command::Session(SessionCommand::List));
        if let Some(session) = self.current().cloned() {
            self.conversation.open(Some(session.clone()));
            self.submit(Command::Session(SessionCommand::Load { session }));
        }
    }
}

#[cfg(test)]
mod tests {
    use aetheria_engine::api::{ErrorInfo, ErrorKind, SubmissionId};

    use super::*;

    fn failed(submission: u64, message: &str) -> Event {
        Event::CommandFailed {
            submission: SubmissionId(submission),
            error: ErrorInfo::new(ErrorKind::Invalid, message),
        }
    }

    #[test]
    fn a_closing_window_exits_when_its_host_goes_away_instead_of_reconnecting() {
        let lost = || BridgeEvent::Reconnecting("the host went away".into());
        // Open: it says so and waits for the next host.
        let mut open = App::new();
        open.screen = Screen::Main;
        let _ = open.bridge(lost());
        assert_eq!(open.screen, Screen::Starting);
        assert_eq!(open.notice.as_deref(), Some("the host went away"));
        // Closing (SIGTERM reached the window and its host at once): it exits, it does not wait.
        let mut closing = App::new();
        closing.screen = Screen::Main;
        closing.closing = true;
        let _ = closing.bridge(lost());
        assert_eq!(closing.screen, Screen::Main, "it started to reconnect");
        assert_eq!(closing.notice, None);
        let _ = closing.bridge(BridgeEvent::Failed("no host".into()));
        assert_eq!(
            closing.screen,
            Screen::Main,
            "it showed a failure instead of exiting"
        );
    }

    #[test]
    fn the_settings_screen_shows_only_the_failures_of_what_it_sent() {
        let mut app = App::new();
        let mut form = super::super::settings::Form::default();
        form.sent.insert(SubmissionId(1));
        app.modal = Some(super::super::Modal::Settings(Box::new(form)));
        // A failure of something else (a job, a session) goes to the notice line.
        app.engine_event(failed(2, "no such job"));
        assert_eq!(app.notice.as_deref(), Some("no such job"));
        assert_eq!(app.settings_form().and_then(|f| f.error.as_deref()), None);
        // The screen's own save shows on the screen.
        app.engine_event(failed(1, "the provider needs a URL"));
        assert_eq!(
            app.settings_form().and_then(|f| f.error.as_deref()),
            Some("the provider needs a URL")
        );
        assert_eq!(app.notice.as_deref(), Some("no such job"));
    }
}
