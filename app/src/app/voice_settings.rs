//! Settings → Voice: the microphone, the spoken language, the push-to-talk key, auto-send, cues
//! and reading aloud (saved with the other settings), and the speech-model manager (download from
//! the catalog with progress, add a local file, remove, pick — these act at once).

use std::path::PathBuf;

use aetheria_engine::api::{
    Command, VoiceCommand, VoiceConfig, VoiceEvent, VoiceModel, VoiceStatus,
};
use iced::widget::{button, checkbox, column, pick_list, progress_bar, row, text, text_input};
use iced::{Element, Fill, Task};

use super::voice::Hotkey;
use crate::theme::{self, BOLD, ButtonKind, Palette};

/// The microphone choice that means "whatever the system uses".
const SYSTEM_DEFAULT: &str = "System default";

/// What the voice section does.
#[derive(Debug, Clone)]
pub enum VoiceMsg {
    /// Pick a microphone.
    Device(String),
    /// The spoken language (`auto` or a code).
    Language(String),
    /// The push-to-talk key.
    Key(String),
    /// Send transcripts at once.
    AutoSend(bool),
    /// Sound cues.
    Cues(bool),
    /// Read answers aloud.
    ReadAloud(bool),
    /// Faster, sometimes less accurate transcription.
    Fast(bool),
    /// Use an installed model.
    Use(String),
    /// Download a catalog model.
    Install(String),
    /// Remove an installed model.
    Remove(String),
    /// Pick a model file to add.
    AddFile,
    /// A model file was picked.
    FilePicked(Option<PathBuf>),
}

/// What the section asks of the form.
pub enum VoiceOut {
    /// Nothing.
    None,
    /// Send these to the engine.
    Commands(Vec<Command>),
    /// Run this.
    Task(Task<VoiceMsg>),
}

/// What the engine said about voice.
#[derive(Debug, Clone, Default)]
pub struct VoiceSection {
    status: Option<VoiceStatus>,
    models: Option<Vec<VoiceModel>>,
    /// The model being installed and how far it is.
    progress: Option<(String, u64, Option<u64>)>,
}

impl VoiceSection {
    /// What to ask the engine when the screen opens.
    #[must_use]
    pub fn commands() -> Vec<Command> {
        vec![
            Command::Voice(VoiceCommand::Status),
            Command::Voice(VoiceCommand::Models),
        ]
    }

    /// The speech models installed here.
    #[must_use]
    pub fn installed(&self) -> Vec<&VoiceModel> {
        self.models
            .iter()
            .flatten()
            .filter(|m| m.path.is_some())
            .collect()
    }

    /// Applies a voice event.
    pub fn event(&mut self, event: &VoiceEvent) {
        match event {
            VoiceEvent::Status(status) => self.status = Some(status.clone()),
            VoiceEvent::Models { models, .. } => {
                self.models = Some(models.clone());
                self.progress = None;
            }
            VoiceEvent::Progress { name, done, total } => {
                self.progress = Some((name.clone(), *done, *total));
            }
            _ => {}
        }
    }

    /// An install failed: stop showing its progress.
    pub fn failed(&mut self) {
        self.progress = None;
    }

    /// Handles a message, editing `config` (saved with the form).
    pub fn update(&mut self, msg: VoiceMsg, config: &mut VoiceConfig) -> VoiceOut {
        let voice = |command| VoiceOut::Commands(vec![Command::Voice(command)]);
        match msg {
            VoiceMsg::Device(device) => {
                config.input_device = (device != SYSTEM_DEFAULT).then_some(device);
            }
            VoiceMsg::Language(language) => config.language = language,
            VoiceMsg::Key(key) => config.push_to_talk = key,
            VoiceMsg::AutoSend(on) => config.auto_send = on,
            VoiceMsg::Cues(on) => config.cues = on,
            VoiceMsg::ReadAloud(on) => config.read_aloud = on,
            VoiceMsg::Fast(on) => config.fast = on,
            VoiceMsg::Use(name) => config.model = name,
            VoiceMsg::Install(name) => {
                self.progress = Some((name.clone(), 0, None));
                return voice(VoiceCommand::InstallModel {
                    name,
                    source: None,
                    checksum: None,
                });
            }
            VoiceMsg::Remove(name) => return voice(VoiceCommand::RemoveModel { name }),
            VoiceMsg::AddFile => {
                return VoiceOut::Task(Task::perform(
                    async {
                        rfd::AsyncFileDialog::new()
                            .set_title("Add a whisper.cpp model (ggml .bin)")
                            .add_filter("whisper.cpp model", &["bin"])
                            .pick_file()
                            .await
                            .map(|f| f.path().to_path_buf())
                    },
                    VoiceMsg::FilePicked,
                ));
            }
            VoiceMsg::FilePicked(Some(path)) => {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let name = stem.strip_prefix("ggml-").unwrap_or(&stem).to_owned();
                self.progress = Some((name.clone(), 0, None));
                return voice(VoiceCommand::InstallModel {
                    name,
                    source: Some(path.display().to_string()),
                    checksum: None,
                });
            }
            VoiceMsg::FilePicked(None) => {}
        }
        VoiceOut::None
    }

    /// The section.
    pub fn view<'a>(&'a self, p: Palette, config: &'a VoiceConfig) -> Element<'a, VoiceMsg> {
        let mut col = column![
            text("VOICE — DICTATION HEARD ON THIS COMPUTER")
                .font(BOLD)
                .size(12)
        ]
        .spacing(10);
        let mut devices = vec![SYSTEM_DEFAULT.to_owned()];
        if let Some(status) = &self.status {
            devices.extend(status.devices.iter().cloned());
        }
        if let Some(current) = &config.input_device
            && !devices.contains(current)
        {
            devices.push(current.clone());
        }
        let chosen = config
            .input_device
            .clone()
            .unwrap_or_else(|| SYSTEM_DEFAULT.to_owned());
        col = col.push(
            row![
                text("Microphone").size(14).width(140),
                pick_list(devices, Some(chosen), VoiceMsg::Device)
                    .text_size(14)
                    .style(theme::pick_list(p)),
            ]
            .spacing(10)
            .align_y(iced::Center),
        );
        if let Some(status) = &self.status {
            let line = match &status.unavailable {
                None => "Dictation is ready.".to_owned(),
                Some(why) => format!("Dictation is off: {why}"),
            };
            col = col.push(text(line).size(13).color(p.muted));
            if let Some(why) = &status.sound_unavailable {
                col = col.push(text(format!("Sounds: {why}")).size(13).color(p.muted));
            }
        }
        col = col.push(
            row![
                text("Language").size(14).width(140),
                text_input("auto, en, de, fr…", &config.language)
                    .on_input(VoiceMsg::Language)
                    .width(160)
                    .style(theme::input(p)),
                text("English-only (.en) models always hear English.")
                    .size(13)
                    .color(p.muted),
            ]
            .spacing(10)
            .align_y(iced::Center),
        );
        let mut key_row = row![
            text("Push to talk").size(14).width(140),
            text_input("Ctrl+Space", &config.push_to_talk)
                .on_input(VoiceMsg::Key)
                .width(160)
                .style(theme::input(p)),
        ]
        .spacing(10)
        .align_y(iced::Center);
        if Hotkey::parse(&config.push_to_talk).is_none() {
            key_row = key_row.push(
                text("Not a key: write e.g. Ctrl+Space or F8 (Ctrl+Space is used meanwhile).")
                    .size(13)
                    .color(p.danger),
            );
        }
        col = col.push(key_row);
        col = col.push(
            row![
                checkbox(config.auto_send)
                    .label("Send what I dictate at once")
                    .text_size(14)
                    .on_toggle(VoiceMsg::AutoSend),
                checkbox(config.cues)
                    .label("Sound cues")
                    .text_size(14)
                    .on_toggle(VoiceMsg::Cues),
                checkbox(config.fast)
                    .label("Faster, less exact")
                    .text_size(14)
                    .on_toggle(VoiceMsg::Fast),
                checkbox(config.read_aloud)
                    .label("Read answers aloud")
                    .text_size(14)
                    .on_toggle_maybe(
                        self.status
                            .as_ref()
                            .is_none_or(|s| s.speech)
                            .then_some(VoiceMsg::ReadAloud)
                    ),
            ]
            .spacing(18)
            .wrap(),
        );
        if self.status.as_ref().is_some_and(|s| !s.speech) {
            col = col.push(
                text("Reading aloud needs espeak-ng (apt install espeak-ng, brew install espeak-ng).")
                    .size(13)
                    .color(p.muted),
            );
        }
        col = col.push(self.models_view(p, config));
        col.into()
    }

    fn models_view<'a>(&'a self, p: Palette, config: &'a VoiceConfig) -> Element<'a, VoiceMsg> {
        let small = |caption: &'a str, kind: ButtonKind| {
            button(text(caption).font(BOLD).size(12))
                .padding([3, 8])
                .style(theme::button(p, kind))
        };
        let mut col = column![
            text("Speech models (run on this computer)")
                .font(BOLD)
                .size(13)
        ]
        .spacing(6);
        let Some(models) = &self.models else {
            return col.push(text("Listing…").size(13)).into();
        };
        let busy = self.progress.is_some();
        for model in models {
            let size = format!("{} MiB", model.bytes >> 20);
            let language = if model.english_only {
                "English"
            } else {
                "many languages"
            };
            let mut line = row![
                text(model.name.as_str()).font(BOLD).size(14).width(120),
                text(size).size(13).width(80),
                text(language).size(13).width(Fill),
            ]
            .spacing(10)
            .align_y(iced::Center);
            if model.path.is_some() {
                line = if model.name == config.model {
                    line.push(text("in use").size(13).color(p.ok))
                } else {
                    line.push(
                        small("Use", ButtonKind::Primary)
                            .on_press(VoiceMsg::Use(model.name.clone())),
                    )
                };
                line = line.push(
                    small("Remove", ButtonKind::Danger)
                        .on_press(VoiceMsg::Remove(model.name.clone())),
                );
            } else {
                line = line.push(
                    small("Download", ButtonKind::Secondary)
                        .on_press_maybe((!busy).then(|| VoiceMsg::Install(model.name.clone()))),
                );
            }
            col = col.push(line);
        }
        if let Some((name, done, total)) = &self.progress {
            #[allow(clippy::cast_precision_loss)]
            let share = total.map_or(0.0, |t| *done as f32 / t.max(1) as f32);
            col = col.push(text(format!("Installing {name}: {} MiB", done >> 20)).size(13));
            col = col.push(progress_bar(0.0..=1.0, share).girth(8));
        }
        if !models
            .iter()
            .any(|m| m.name == config.model && m.path.is_some())
            && std::path::Path::new(&config.model).is_file()
        {
            col = col.push(text(format!("In use: {}", config.model)).size(13));
        }
        col = col.push(
            small("Add model file…", ButtonKind::Secondary)
                .on_press_maybe((!busy).then_some(VoiceMsg::AddFile)),
        );
        col.into()
    }
}
