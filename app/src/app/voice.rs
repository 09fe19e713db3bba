//! Dictation in the window: the mic button (disabled with the reason when there is no microphone
//! or model), the push-to-talk key held anywhere in the window — also while a text field has the
//! focus — the level meter while recording, and the transcript landing in the composer. Also the
//! sounds the window asks for: a cue when a background job ends, and answers read aloud.

use aetheria_engine::api::{Command, Cue, SubmissionId, VoiceCommand, VoiceEvent, VoiceStatus};
use iced::keyboard::{self, Key, Modifiers};
use iced::widget::{column, container, text, tooltip};
use iced::{Element, Fill, Subscription};

use super::view::btn;
use super::{App, Message};
use crate::theme::{self, ButtonKind, Palette};

/// What the window does with voice.
#[derive(Debug, Clone)]
pub enum Msg {
    /// The mic button: start, or stop and transcribe.
    Toggle,
    /// The push-to-talk key went down (`true`) or up.
    Hold(bool),
}

/// The push-to-talk key: modifiers and one key, parsed from `voice.push_to_talk`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hotkey {
    /// The key: a lowercase character, or a named key's name in lowercase (`space`, `f8`).
    key: String,
    ctrl: bool,
    shift: bool,
    alt: bool,
    logo: bool,
}

impl Default for Hotkey {
    fn default() -> Self {
        Self::parse("Ctrl+Space").unwrap_or(Self {
            key: "space".into(),
            ctrl: true,
            shift: false,
            alt: false,
            logo: false,
        })
    }
}

impl Hotkey {
    /// Parses `Ctrl+Space`, `Alt+Shift+R`, `F8`; none when it names no key or an unknown modifier.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut hotkey = Self {
            key: String::new(),
            ctrl: false,
            shift: false,
            alt: false,
            logo: false,
        };
        let parts: Vec<&str> = text.split('+').map(str::trim).collect();
        let (key, modifiers) = parts.split_last()?;
        for modifier in modifiers {
            match modifier.to_ascii_lowercase().as_str() {
                "ctrl" | "control" => hotkey.ctrl = true,
                "shift" => hotkey.shift = true,
                "alt" | "option" => hotkey.alt = true,
                "super" | "cmd" | "command" | "logo" | "meta" | "win" => hotkey.logo = true,
                _ => return None,
            }
        }
        if key.is_empty() {
            return None;
        }
        hotkey.key = key.to_lowercase();
        Some(hotkey)
    }

    fn names(&self, key: &Key) -> bool {
        match key.as_ref() {
            Key::Character(c) => c.to_lowercase() == self.key,
            Key::Named(named) => format!("{named:?}").to_lowercase() == self.key,
            Key::Unidentified => false,
        }
    }

    /// Whether a key press is this hotkey (modifiers exactly as configured).
    #[must_use]
    pub fn pressed(&self, key: &Key, modifiers: Modifiers) -> bool {
        self.names(key)
            && modifiers.control() == self.ctrl
            && modifiers.shift() == self.shift
            && modifiers.alt() == self.alt
            && modifiers.logo() == self.logo
    }

    /// `Some(true)` when the key goes down, `Some(false)` when its key is let go (whatever the
    /// modifiers are by then), none otherwise. Auto-repeat is not a new press.
    #[must_use]
    pub fn react(&self, event: &keyboard::Event) -> Option<bool> {
        match event {
            keyboard::Event::KeyPressed {
                key,
                modifiers,
                repeat: false,
                ..
            } if self.pressed(key, *modifiers) => Some(true),
            keyboard::Event::KeyReleased { key, .. } if self.names(key) => Some(false),
            _ => None,
        }
    }
}

/// Dictation as the window sees it.
#[derive(Debug, Default)]
pub struct Dictation {
    /// What voice can do here, as last reported.
    pub status: Option<VoiceStatus>,
    /// A start was asked for and has not been answered.
    starting: Option<SubmissionId>,
    /// The key was let go before recording started: stop as soon as it does.
    stop_when_started: bool,
    /// Recording now.
    pub recording: bool,
    /// Waiting for the transcript.
    pub transcribing: bool,
    /// The input level, 0 to 1.
    pub level: f32,
    /// The push-to-talk key.
    pub hotkey: Hotkey,
}

impl Dictation {
    /// Why the mic cannot be used now, if it cannot.
    #[must_use]
    pub fn unavailable(&self) -> Option<String> {
        match &self.status {
            None => Some("Checking the microphone…".into()),
            Some(status) => status.unavailable.clone(),
        }
    }

    /// Forgets a start or stop the engine refused.
    pub fn failed(&mut self, submission: SubmissionId) {
        if self.starting == Some(submission) {
            self.starting = None;
            self.stop_when_started = false;
        }
        if !self.recording {
            self.transcribing = false;
        }
    }
}

/// The push-to-talk key, seen whichever widget has the focus.
pub(super) fn subscription(hotkey: &Hotkey) -> Subscription<Message> {
    iced::event::listen_with(|event, _status, _window| match event {
        iced::Event::Keyboard(
            event @ (keyboard::Event::KeyPressed { .. } | keyboard::Event::KeyReleased { .. }),
        ) => Some(event),
        _ => None,
    })
    .with(hotkey.clone())
    .filter_map(|(hotkey, event)| {
        hotkey
            .react(&event)
            .map(|down| Message::Voice(Msg::Hold(down)))
    })
}

impl App {
    fn voice_command(&mut self, command: VoiceCommand) -> Option<SubmissionId> {
        self.submit(Command::Voice(command))
    }

    fn start_dictation(&mut self) {
        if self.dictation.recording || self.dictation.starting.is_some() {
            return;
        }
        if let Some(why) = self.dictation.unavailable() {
            self.notice = Some(why);
            return;
        }
        self.dictation.stop_when_started = false;
        self.dictation.starting = self.voice_command(VoiceCommand::Start);
    }

    fn stop_dictation(&mut self) {
        if self.dictation.recording && !self.dictation.transcribing {
            self.dictation.transcribing = true;
            self.voice_command(VoiceCommand::Stop);
        } else if self.dictation.starting.is_some() {
            self.dictation.stop_when_started = true;
        }
    }

    /// Handles the window's voice messages.
    pub(super) fn voice(&mut self, msg: Msg) {
        match msg {
            Msg::Toggle if self.dictation.recording => self.stop_dictation(),
            Msg::Toggle | Msg::Hold(true) => self.start_dictation(),
            Msg::Hold(false) => self.stop_dictation(),
        }
    }

    /// Applies what the engine reports about voice.
    pub(super) fn voice_event(&mut self, event: VoiceEvent) {
        let dictation = &mut self.dictation;
        match event {
            VoiceEvent::Status(status) => dictation.status = Some(status),
            VoiceEvent::Started { .. } => {
                dictation.starting = None;
                dictation.recording = true;
                if std::mem::take(&mut dictation.stop_when_started) {
                    self.stop_dictation();
                }
            }
            VoiceEvent::Level { level } => dictation.level = level,
            VoiceEvent::Stopped { error } => {
                dictation.recording = false;
                dictation.level = 0.0;
                if let Some(error) = error {
                    // The device failed mid-sentence: keep what was heard.
                    self.notice = Some(format!("Recording stopped: {error}"));
                    if !self.dictation.transcribing {
                        self.dictation.transcribing = true;
                        self.voice_command(VoiceCommand::Stop);
                    }
                }
            }
            VoiceEvent::Transcribed(transcript) => {
                dictation.transcribing = false;
                if transcript.text.is_empty() {
                    self.notice = Some(
                        "Nothing was heard. Hold the key while you speak; Settings → Voice picks the microphone.".into(),
                    );
                    return;
                }
                self.insert_dictated(&transcript.text);
                if transcript.auto_send && !self.conversation.running() {
                    // Sending answers at once (no task to run).
                    let _ = self.composer_message(super::composer::Msg::Send);
                }
            }
            _ => {}
        }
    }

    /// Puts dictated words at the cursor, with a space before them when the text needs one.
    fn insert_dictated(&mut self, words: &str) {
        self.composer.insert_spaced(words);
    }

    fn voice_config(&self) -> aetheria_engine::api::VoiceConfig {
        self.known_settings
            .as_ref()
            .map(|s| s.voice.clone())
            .unwrap_or_default()
    }

    /// A background job ended: a cue, when cues are on.
    pub(super) fn job_ended(&mut self) {
        if self.voice_config().cues {
            self.voice_command(VoiceCommand::PlayCue {
                cue: Cue::JobFinished,
            });
        }
    }

    /// A turn ended: read the answer aloud, when that is on.
    pub(super) fn answer_ended(&mut self) {
        if self.voice_config().read_aloud
            && let Some(answer) = self
                .conversation
                .transcript
                .last_answer()
                .map(str::to_owned)
        {
            self.voice_command(VoiceCommand::Speak { text: answer });
        }
    }

    /// Settings changed: the key and what voice can do may have too.
    pub(super) fn voice_settings(&mut self, settings: &aetheria_engine::api::Settings) {
        self.dictation.hotkey = Hotkey::parse(&settings.voice.push_to_talk).unwrap_or_default();
    }

    /// The mic button: the state at a glance, why it is off when it is.
    pub(super) fn mic_button(&self, p: Palette) -> Element<'_, Message> {
        let d = &self.dictation;
        let key = self.voice_config().push_to_talk;
        let (caption, kind, action, tip) = if d.recording && !d.transcribing {
            (
                "● Stop",
                ButtonKind::Danger,
                Some(Message::Voice(Msg::Toggle)),
                format!("Recording — click or let go of {key} to transcribe"),
            )
        } else if d.transcribing || d.starting.is_some() {
            (
                "Mic …",
                ButtonKind::Secondary,
                None,
                "Transcribing on this computer…".to_owned(),
            )
        } else if let Some(why) = d.unavailable() {
            ("Mic", ButtonKind::Secondary, None, why)
        } else {
            (
                "Mic",
                ButtonKind::Secondary,
                Some(Message::Voice(Msg::Toggle)),
                format!("Dictate: click, or hold {key} and speak"),
            )
        };
        let button = btn(p, kind, caption).on_press_maybe(action);
        tooltip(
            button,
            container(text(tip).size(13))
                .padding(8)
                .max_width(320)
                .style(move |_| theme::block(&p, p.surface)),
            tooltip::Position::Top,
        )
        .into()
    }

    /// The level meter and state line under the composer while dictating.
    pub(super) fn dictation_bar(&self, p: Palette) -> Option<Element<'_, Message>> {
        let d = &self.dictation;
        if d.transcribing {
            Some(text("Transcribing on this computer…").size(13).into())
        } else if d.recording {
            let level = d.level.clamp(0.0, 1.0);
            let meter = iced::widget::progress_bar(0.0..=1.0, level)
                .length(Fill)
                .girth(8)
                .style(move |_| iced::widget::progress_bar::Style {
                    background: p.surface.into(),
                    bar: p.accent.into(),
                    border: theme::border(&p),
                });
            Some(
                column![text("Listening — speak now").size(13), meter]
                    .spacing(4)
                    .into(),
            )
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use iced::keyboard::key::Named;

    use super::*;

    fn press(key: Key, modifiers: Modifiers, repeat: bool) -> keyboard::Event {
        keyboard::Event::KeyPressed {
            key: key.clone(),
            modified_key: key,
            physical_key: keyboard::key::Physical::Unidentified(
                keyboard::key::NativeCode::Unidentified,
            ),
            location: keyboard::Location::Standard,
            modifiers,
            text: None,
            repeat,
        }
    }

    fn release(key: Key, modifiers: Modifiers) -> keyboard::Event {
        keyboard::Event::KeyReleased {
            key: key.clone(),
            modified_key: key,
            physical_key: keyboard::key::Physical::Unidentified(
                keyboard::key::NativeCode::Unidentified,
            ),
            location: keyboard::Location::Standard,
            modifiers,
        }
    }

    #[test]
    fn hotkeys_parse_and_match_exactly() {
        let ctrl_space = Hotkey::parse("Ctrl+Space").unwrap();
        let space = Key::Named(Named::Space);
        assert_eq!(
            ctrl_space.react(&press(space.clone(), Modifiers::CTRL, false)),
            Some(true)
        );
        // Auto-repeat while held is not a new press; other modifiers are another shortcut.
        assert_eq!(
            ctrl_space.react(&press(space.clone(), Modifiers::CTRL, true)),
            None
        );
        assert_eq!(
            ctrl_space.react(&press(space.clone(), Modifiers::empty(), false)),
            None
        );
        assert_eq!(
            ctrl_space.react(&press(
                space.clone(),
                Modifiers::CTRL | Modifiers::SHIFT,
                false
            )),
            None
        );
        // Letting go of Space ends it even when Ctrl went up first.
        assert_eq!(
            ctrl_space.react(&release(space, Modifiers::empty())),
            Some(false)
        );

        let f8 = Hotkey::parse("F8").unwrap();
        assert_eq!(
            f8.react(&press(Key::Named(Named::F8), Modifiers::empty(), false)),
            Some(true)
        );
        let alt_r = Hotkey::parse("alt + shift + R").unwrap();
        assert_eq!(
            alt_r.react(&press(
                Key::Character("R".into()),
                Modifiers::ALT | Modifiers::SHIFT,
                false
            )),
            Some(true)
        );
        assert!(Hotkey::parse("Hyper+X").is_none());
        assert!(Hotkey::parse("Ctrl+").is_none());
        assert_eq!(Hotkey::default(), ctrl_space);
    }
}
