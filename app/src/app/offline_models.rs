//! Settings → offline models: the GGUF models installed on this computer (each can become a
//! provider), and adding one from a file or an `http(s)` URL with its progress, so the welcome
//! never sends the person to a terminal for an offline model. The engine checks and installs; a
//! refused file leaves nothing behind.

use std::path::PathBuf;

use aetheria_engine::api::{Command, Event, LocalModelInfo, ModelsCommand, SubmissionId};
use iced::widget::{button, column, progress_bar, row, text, text_input};
use iced::{Element, Fill, Task};

use crate::theme::{self, BOLD, ButtonKind, Palette};

/// The id of the field a model's file path or URL is typed in.
pub const SOURCE: &str = "offline-model-source";

/// What the section does.
#[derive(Debug, Clone)]
pub enum OfflineMsg {
    /// The file path or URL being typed.
    Source(String),
    /// Install what was typed.
    Add,
    /// Pick a model file.
    Choose,
    /// A file was picked (or the dialog was closed).
    Picked(Option<PathBuf>),
    /// Make an installed model (by index) a provider.
    Use(usize),
}

/// What the section asks of the form.
pub enum OfflineOut {
    /// Nothing.
    None,
    /// Send this to the engine.
    Command(Command),
    /// Run this.
    Task(Task<OfflineMsg>),
    /// Add this installed model as a provider.
    Use(LocalModelInfo),
}

/// The installed models and the one being added.
#[derive(Debug, Clone, Default)]
pub struct OfflineModels {
    /// Installed here (`None` until listed).
    pub installed: Option<Vec<LocalModelInfo>>,
    /// The file path or URL typed.
    source: String,
    /// Being installed: its source, and bytes so far of how many.
    adding: Option<(String, u64, Option<u64>)>,
    /// The submission installing it, once sent.
    submission: Option<SubmissionId>,
    /// Why the last one was refused.
    error: Option<String>,
}

impl OfflineModels {
    /// Applies an engine event meant for the section; `true` when it was.
    pub fn event(&mut self, event: &Event) -> bool {
        match event {
            Event::LocalModels { models } => self.installed = Some(models.clone()),
            Event::LocalModelProgress {
                source,
                done,
                total,
            } => self.adding = Some((source.clone(), *done, *total)),
            Event::LocalModelAdded { model } => {
                self.adding = None;
                self.submission = None;
                self.source.clear();
                let installed = self.installed.get_or_insert_with(Vec::new);
                installed.retain(|m| m.name != model.name);
                installed.push(model.clone());
            }
            Event::LocalModelRemoved { name } => {
                if let Some(installed) = self.installed.as_mut() {
                    installed.retain(|m| &m.name != name);
                }
            }
            _ => return false,
        }
        true
    }

    /// The install this section asked for went as `submission`.
    pub fn sent(&mut self, submission: SubmissionId) {
        self.submission = Some(submission);
    }

    /// A command of the form failed: when it was this section's install, say why here; `true`
    /// if it was.
    pub fn failed(&mut self, submission: SubmissionId, message: &str) -> bool {
        if self.submission != Some(submission) {
            return false;
        }
        self.submission = None;
        self.adding = None;
        self.error = Some(message.to_owned());
        true
    }

    pub fn update(&mut self, msg: OfflineMsg) -> OfflineOut {
        match msg {
            OfflineMsg::Source(source) => {
                self.source = source;
                OfflineOut::None
            }
            OfflineMsg::Add => self.add(self.source.trim().to_owned()),
            OfflineMsg::Choose => OfflineOut::Task(Task::perform(
                async {
                    rfd::AsyncFileDialog::new()
                        .set_title("Add an offline model")
                        .add_filter("GGUF model", &["gguf"])
                        .pick_file()
                        .await
                        .map(|f| f.path().to_path_buf())
                },
                OfflineMsg::Picked,
            )),
            OfflineMsg::Picked(Some(path)) => {
                self.source = path.display().to_string();
                self.add(self.source.clone())
            }
            OfflineMsg::Picked(None) => OfflineOut::None,
            OfflineMsg::Use(i) => self
                .installed
                .as_ref()
                .and_then(|m| m.get(i))
                .cloned()
                .map_or(OfflineOut::None, OfflineOut::Use),
        }
    }

    fn add(&mut self, source: String) -> OfflineOut {
        if source.is_empty() || self.adding.is_some() {
            return OfflineOut::None;
        }
        self.error = None;
        self.adding = Some((source.clone(), 0, None));
        OfflineOut::Command(Command::Models(ModelsCommand::AddLocal {
            source,
            name: None,
            sha256: None,
        }))
    }

    pub fn view(&self, p: Palette) -> Element<'_, OfflineMsg> {
        let small = |caption: &'static str, kind: ButtonKind| {
            button(text(caption).font(BOLD).size(13))
                .padding([6, 12])
                .style(theme::button(p, kind))
        };
        let mut col = column![].spacing(8);
        match self.installed.as_deref() {
            None => {}
            Some([]) => {
                col = col.push(
                    text("No offline model installed. Add a GGUF model (SmolLM2, Llama 3.2…) from a file or a URL: it answers with no network.")
                        .size(13)
                        .color(p.muted),
                );
            }
            Some(models) => {
                for (i, model) in models.iter().enumerate() {
                    col = col.push(
                        row![
                            text(format!(
                                "Offline model {} ({}, {} MiB, runs on this computer)",
                                model.name,
                                model.quantization,
                                model.size_bytes >> 20
                            ))
                            .size(13)
                            .width(Fill),
                            small("Use this model", ButtonKind::Ok).on_press(OfflineMsg::Use(i)),
                        ]
                        .spacing(8)
                        .align_y(iced::Center),
                    );
                }
            }
        }
        let busy = self.adding.is_some();
        let field = text_input("A .gguf file or https://… URL", &self.source)
            .id(SOURCE)
            .size(13)
            .padding(6)
            .style(theme::input(p));
        let (field, choose, add) = if busy {
            (
                field,
                small("Choose file…", ButtonKind::Secondary),
                small("Add model", ButtonKind::Primary),
            )
        } else {
            (
                field
                    .on_input(OfflineMsg::Source)
                    .on_submit(OfflineMsg::Add),
                small("Choose file…", ButtonKind::Secondary).on_press(OfflineMsg::Choose),
                small("Add model", ButtonKind::Primary).on_press(OfflineMsg::Add),
            )
        };
        col = col.push(row![field, choose, add].spacing(8).align_y(iced::Center));
        if let Some((source, done, total)) = &self.adding {
            let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20));
            let amount = match total {
                Some(total) if *total > 0 => format!("{} of {}", mib(*done), mib(*total)),
                _ => mib(*done),
            };
            col = col.push(text(format!("Adding {source}: {amount}")).size(13));
            if let Some(total) = total.filter(|t| *t > 0) {
                col = col.push(progress_bar(0.0..=total as f32, *done as f32).girth(6));
            }
        }
        if let Some(error) = &self.error {
            col = col.push(text(error.as_str()).size(13).color(p.danger));
        }
        col.into()
    }
}
