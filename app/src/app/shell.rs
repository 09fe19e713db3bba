//! The iced application around `App`: how the window is run, its title and theme, and the
//! subscriptions that feed it (the engine bridge, shortcuts, dropped files, resizes, closing,
//! signals, dictation's key, the spinner's tick).

use iced::{Subscription, Theme};

use super::{App, Message, Window, engine_bridge, input, voice, window_state};
use crate::theme::Palette;

impl App {
    /// Runs the window until it is closed.
    pub fn run() -> iced::Result {
        let dir = window_state::folder();
        let state = dir
            .as_deref()
            .map(window_state::WindowState::load)
            .unwrap_or_default();
        let size = (state.width, state.height);
        let boot = move || Self::with_state(state.clone(), dir.clone());
        let mut app = iced::application(boot, Self::update, Self::view)
            .title(Self::title)
            .subscription(Self::subscription)
            .theme(Self::theme)
            .window(iced::window::Settings {
                size: iced::Size::new(size.0, size.1),
                // Closing stops the engine first, so the database closes cleanly.
                exit_on_close_request: false,
                ..iced::window::Settings::default()
            })
            .default_font(crate::theme::BODY);
        for font in crate::theme::FONTS {
            app = app.font(font);
        }
        app.run()
    }

    pub(super) fn title(&self) -> String {
        let session = self.current().and_then(|id| self.session_title(id));
        match session {
            Some(title) => format!("{title} — Aetheria"),
            None => "Aetheria".into(),
        }
    }

    /// The colours in use.
    #[must_use]
    pub fn palette(&self) -> Palette {
        Palette::of(self.mode)
    }

    /// The iced theme of the current mode.
    #[must_use]
    pub fn theme(&self) -> Theme {
        self.palette().theme(self.mode)
    }

    /// The engine bridge, and the keyboard shortcuts.
    pub fn subscription(&self) -> Subscription<Message> {
        let bridge = engine_bridge::subscription().map(Message::Bridge);
        let state = (
            self.prompting(),
            matches!(self.modal, Some(super::Modal::Palette(_))),
        );
        let keys = iced::keyboard::listen()
            .with(state)
            .filter_map(|((asking, palette), event)| match event {
                iced::keyboard::Event::KeyPressed { key, modifiers, .. } => {
                    input::shortcut(&key, modifiers, asking, palette)
                }
                _ => None,
            });
        let drops = iced::event::listen_with(|event, status, _window| match event {
            iced::Event::Window(iced::window::Event::FileDropped(path)) => {
                Some(Message::Composer(super::composer::Msg::Attached(vec![
                    path,
                ])))
            }
            // Esc in a text field is taken by the field (it lets go of the cursor); the palette's
            // search and the rename field then close too. Other dialogs keep what was typed.
            iced::Event::Keyboard(iced::keyboard::Event::KeyPressed {
                key: iced::keyboard::Key::Named(iced::keyboard::key::Named::Escape),
                ..
            }) if status == iced::event::Status::Captured => {
                Some(Message::Window(Window::EscapeInField))
            }
            _ => None,
        });
        let resized =
            iced::window::resize_events().map(|(_, size)| Message::Window(Window::Resized(size)));
        let close = iced::window::close_requests().map(|_| Message::Window(Window::CloseRequested));
        // Spinners move only while a turn runs, so an idle window does not redraw.
        let ticks = if self.conversation.running() {
            iced::time::every(std::time::Duration::from_millis(120))
                .map(|_| Message::Window(Window::Tick))
        } else {
            Subscription::none()
        };
        let terminate =
            Subscription::run(input::termination).map(|()| Message::Window(Window::CloseRequested));
        let talk = voice::subscription(&self.dictation.hotkey);
        Subscription::batch([bridge, keys, drops, resized, close, terminate, ticks, talk])
    }

    /// Whether the approval prompt is shown (keys then belong to it).
    pub(crate) fn prompting(&self) -> bool {
        self.approvals.prompting()
    }

    /// Opens a web address with the system's browser (the address was judged by `links`, or is
    /// a sign-in page the engine checked).
    pub(super) fn open_link(&mut self, url: &str) {
        match &mut self.desktop.browser {
            Browser::System => {
                if let Err(e) = open::that_detached(url) {
                    self.notice = Some(format!("Cannot open {url}: {e}"));
                }
            }
            Browser::Recorded(pages) => pages.push(url.to_owned()),
        }
    }

    /// From now on pages are noted instead of opened (tests read them with `opened_pages`).
    pub fn record_browser(&mut self) {
        self.desktop.browser = Browser::Recorded(Vec::new());
    }

    /// The pages opened since `record_browser`.
    #[must_use]
    pub fn opened_pages(&self) -> &[String] {
        match &self.desktop.browser {
            Browser::System => &[],
            Browser::Recorded(pages) => pages,
        }
    }
}

/// What the window uses of the desktop it runs on.
pub(super) struct Desktop {
    /// Where web pages open: the system's browser, or a list a test reads.
    pub(super) browser: Browser,
    /// The login service Settings → Background switches.
    pub(super) login_service:
        std::sync::Arc<Result<crate::service::Service, crate::service::ServiceError>>,
}

impl Default for Desktop {
    fn default() -> Self {
        Self {
            browser: Browser::System,
            login_service: std::sync::Arc::new(crate::service::Service::of_this_program()),
        }
    }
}

/// Where web pages open.
#[derive(Debug)]
pub(super) enum Browser {
    /// The system's browser.
    System,
    /// Nowhere: the pages are noted (tests).
    Recorded(Vec<String>),
}
