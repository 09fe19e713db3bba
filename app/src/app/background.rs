//! Settings → Background: whether Aetheria's engine starts at login (a systemd user unit, a
//! launchd agent or a Startup-folder script, as `aetheria service install` writes), so schedules
//! and queued jobs run with no window open. The switch acts at once, off the window's thread; the
//! service manager's answer is shown as it came.

use std::sync::Arc;

use iced::widget::{button, column, row, text};
use iced::{Element, Fill, Task};

use crate::service::{Installed, Service, ServiceError};
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// What the section does.
#[derive(Debug, Clone)]
pub enum BackgroundMsg {
    /// Start the engine at every login (and now).
    Install,
    /// Stop starting it at login.
    Uninstall,
    /// What the service manager said: worked, and the sentence to show.
    Done(bool, String),
}

/// The login service as this window sees it.
#[derive(Debug, Clone)]
pub struct Background {
    /// The service of this program, or why there is none on this system.
    service: Arc<Result<Service, ServiceError>>,
    /// Whether its file is in place (read when the section opens and after each switch, not on
    /// every redraw).
    installed: bool,
    /// A switch is being acted on.
    busy: bool,
    /// The last answer: worked, and what it said.
    said: Option<(bool, String)>,
}

impl Default for Background {
    fn default() -> Self {
        Self::new(Arc::new(Service::of_this_program()))
    }
}

impl Background {
    /// The section for this service (the app's own, or a test's).
    pub fn new(service: Arc<Result<Service, ServiceError>>) -> Self {
        let installed = service.as_ref().as_ref().is_ok_and(Service::installed);
        Self {
            service,
            installed,
            busy: false,
            said: None,
        }
    }

    pub fn update(&mut self, msg: BackgroundMsg) -> Task<BackgroundMsg> {
        let Ok(_) = self.service.as_ref() else {
            return Task::none();
        };
        match msg {
            BackgroundMsg::Install | BackgroundMsg::Uninstall if self.busy => Task::none(),
            BackgroundMsg::Install | BackgroundMsg::Uninstall => {
                self.busy = true;
                self.said = None;
                let install = matches!(msg, BackgroundMsg::Install);
                let service = Arc::clone(&self.service);
                Task::perform(
                    async move {
                        // systemctl and launchctl block: not on the window's thread.
                        tokio::task::spawn_blocking(move || act(&service, install))
                            .await
                            .unwrap_or_else(|e| (false, format!("the service switch failed: {e}")))
                    },
                    |(worked, said)| BackgroundMsg::Done(worked, said),
                )
            }
            BackgroundMsg::Done(worked, said) => {
                self.busy = false;
                self.installed = self.service.as_ref().as_ref().is_ok_and(Service::installed);
                self.said = Some((worked, said));
                Task::none()
            }
        }
    }

    pub fn view(&self, p: Palette) -> Element<'_, BackgroundMsg> {
        let mut col = column![
            text("BACKGROUND — SCHEDULES AND JOBS WITH NO WINDOW OPEN")
                .font(BOLD)
                .size(12),
            text("While work is due (a schedule, a queued job), Aetheria's engine keeps running after the last window closes, and stops once it is idle. Started at login, it is always there.")
                .size(13)
                .color(p.muted),
        ]
        .spacing(8);
        match self.service.as_ref() {
            Err(why) => col = col.push(text(why.to_string()).size(13).color(p.muted)),
            Ok(service) => {
                let installed = self.installed;
                let (state, caption, msg) = if installed {
                    (
                        "Starts at login:",
                        "Stop starting at login",
                        BackgroundMsg::Uninstall,
                    )
                } else {
                    (
                        "Does not start at login.",
                        "Start at login",
                        BackgroundMsg::Install,
                    )
                };
                let mut line = row![text(state).size(13)].spacing(8).align_y(iced::Center);
                if installed {
                    line = line.push(
                        text(service.path.display().to_string())
                            .font(MONO)
                            .size(12)
                            .width(Fill),
                    );
                } else {
                    line = line.push(iced::widget::Space::new().width(Fill));
                }
                let kind = if installed {
                    ButtonKind::Secondary
                } else {
                    ButtonKind::Primary
                };
                let button = button(text(caption).font(BOLD).size(13))
                    .padding([6, 12])
                    .style(theme::button(p, kind));
                line = line.push(if self.busy {
                    button
                } else {
                    button.on_press(msg)
                });
                col = col.push(line);
            }
        }
        if let Some((worked, said)) = &self.said {
            let color = if *worked { p.ok } else { p.danger };
            col = col.push(text(said.as_str()).size(13).color(color));
        }
        col.into()
    }
}

/// Installs or uninstalls; whether it worked and what to show.
fn act(service: &Result<Service, ServiceError>, install: bool) -> (bool, String) {
    let Ok(service) = service else {
        return (false, "no login service on this system".into());
    };
    if install {
        match service.install() {
            Ok(Installed::Running) => (
                true,
                "The engine now starts at every login, and runs now.".into(),
            ),
            Ok(Installed::Written { why, how }) => (
                false,
                format!(
                    "Written to {}, but the service manager did not take it ({why}). In a session that has one, run: {how}",
                    service.path.display()
                ),
            ),
            Err(e) => (false, e.to_string()),
        }
    } else {
        match service.uninstall() {
            Ok(None) => (true, "The engine no longer starts at login.".into()),
            Ok(Some(why)) => (true, format!("Removed; the service manager said: {why}")),
            Err(e) => (false, e.to_string()),
        }
    }
}
