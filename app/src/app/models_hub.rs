//! Settings → models on this computer (the models hub): the installed GGUF models with their
//! family, size and which one answers offline; the built-in catalogue of small models, one click
//! each; adding from a file or an `http(s)` URL; progress with Cancel; remove (asked twice). The
//! engine downloads, checks the sha256 and the disk space, and keeps nothing of a refused or
//! stopped install, so the welcome never sends the person to a terminal for an offline model.

use std::path::PathBuf;

use aetheria_engine::api::{
    CatalogModel, Command, Event, LocalModelInfo, ModelsCommand, SubmissionId, VoiceModel,
};
use iced::widget::{Space, button, column, container, progress_bar, row, text};
use iced::{Element, Fill, Task};

use crate::theme::{self, BOLD, ButtonKind, Palette};

/// The id of the field a model's file path or URL is typed in.
pub const SOURCE: &str = "offline-model-source";

/// What the hub does.
#[derive(Debug, Clone)]
pub enum HubMsg {
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
    /// Download a catalogue model (by name).
    Download(String),
    /// Stop the install under way.
    Cancel,
    /// Make an installed model (by name) the one that answers offline.
    MakeDefault(String),
    /// Remove an installed model (by name): the first press asks, the second removes.
    Remove(String),
}

/// What the hub asks of the form.
pub enum HubOut {
    /// Nothing.
    None,
    /// Send this to the engine.
    Command(Command),
    /// Run this.
    Task(Task<HubMsg>),
    /// Add this installed model as a provider.
    Use(LocalModelInfo),
}

/// An install under way: what it fetches, the name it installs as, bytes so far of how many.
#[derive(Debug, Clone)]
struct Adding {
    source: String,
    name: Option<String>,
    done: u64,
    total: Option<u64>,
}

/// The models on this computer, the catalogue, and the install under way.
#[derive(Debug, Clone, Default)]
pub struct ModelsHub {
    /// Installed here (`None` until listed).
    pub installed: Option<Vec<LocalModelInfo>>,
    /// The installed model that answers offline.
    default: Option<String>,
    /// The built-in catalogue (`None` until listed).
    catalog: Option<Vec<CatalogModel>>,
    /// The file path or URL typed.
    source: String,
    adding: Option<Adding>,
    /// The submission installing it, once sent.
    submission: Option<SubmissionId>,
    /// The model whose Remove was pressed once.
    removing: Option<String>,
    /// Why the last one was refused.
    error: Option<String>,
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

impl ModelsHub {
    /// What to ask the engine when the screen opens.
    #[must_use]
    pub fn commands() -> Vec<Command> {
        vec![
            Command::Models(ModelsCommand::ListLocal),
            Command::Models(ModelsCommand::Catalog),
        ]
    }

    /// Applies an engine event meant for the hub; `true` when it was.
    pub fn event(&mut self, event: &Event) -> bool {
        match event {
            Event::LocalModels { models, default } => {
                self.installed = Some(models.clone());
                self.default.clone_from(default);
            }
            Event::ModelCatalog { models } => self.catalog = Some(models.clone()),
            Event::LocalModelProgress {
                source,
                name,
                done,
                total,
            } => {
                self.adding = Some(Adding {
                    source: source.clone(),
                    name: Some(name.clone()).filter(|n| !n.is_empty()),
                    done: *done,
                    total: *total,
                });
            }
            Event::LocalModelAdded { model } => {
                self.adding = None;
                self.submission = None;
                self.source.clear();
                let installed = self.installed.get_or_insert_with(Vec::new);
                installed.retain(|m| m.name != model.name);
                installed.push(model.clone());
                installed.sort_by(|a, b| a.name.cmp(&b.name));
                self.mark(&model.name, true);
            }
            Event::LocalModelRemoved { name } => {
                if let Some(installed) = self.installed.as_mut() {
                    installed.retain(|m| &m.name != name);
                }
                self.mark(name, false);
                self.removing = None;
            }
            Event::LocalModelCancelled { .. } => {}
            _ => return false,
        }
        // Until the engine's LocalModels (sent after every install and removal) says which model
        // answers offline, its rule: the chosen model while installed, else the first.
        let installed = self.installed.as_deref().unwrap_or_default();
        if !installed
            .iter()
            .any(|m| Some(&m.name) == self.default.as_ref())
        {
            self.default = installed.first().map(|m| m.name.clone());
        }
        true
    }

    /// Marks a catalogue entry installed or not.
    fn mark(&mut self, name: &str, installed: bool) {
        for entry in self.catalog.iter_mut().flatten() {
            if entry.name == name {
                entry.installed = installed;
            }
        }
    }

    /// The install this hub asked for went as `submission`.
    pub fn sent(&mut self, submission: SubmissionId) {
        self.submission = Some(submission);
    }

    /// A command of the form failed: when it was this hub's install, say why here; `true` if it
    /// was.
    pub fn failed(&mut self, submission: SubmissionId, message: &str) -> bool {
        if self.submission != Some(submission) {
            return false;
        }
        self.submission = None;
        self.adding = None;
        self.error = Some(message.to_owned());
        true
    }

    pub fn update(&mut self, msg: HubMsg) -> HubOut {
        if !matches!(msg, HubMsg::Remove(_)) {
            self.removing = None;
        }
        match msg {
            HubMsg::Source(source) => {
                self.source = source;
                HubOut::None
            }
            HubMsg::Add => {
                let source = self.source.trim().to_owned();
                if source.is_empty() {
                    return HubOut::None;
                }
                self.install(
                    source.clone(),
                    None,
                    ModelsCommand::AddLocal {
                        source,
                        name: None,
                        sha256: None,
                    },
                )
            }
            HubMsg::Download(name) => {
                let Some(entry) = self.catalog.iter().flatten().find(|m| m.name == name) else {
                    return HubOut::None;
                };
                let source = entry.url.clone();
                self.install(
                    source,
                    Some(name.clone()),
                    ModelsCommand::InstallCatalog { name },
                )
            }
            HubMsg::Choose => HubOut::Task(Task::perform(
                async {
                    rfd::AsyncFileDialog::new()
                        .set_title("Add an offline model")
                        .add_filter("GGUF model", &["gguf"])
                        .pick_file()
                        .await
                        .map(|f| f.path().to_path_buf())
                },
                HubMsg::Picked,
            )),
            HubMsg::Picked(Some(path)) => {
                self.source = path.display().to_string();
                self.update(HubMsg::Add)
            }
            HubMsg::Picked(None) => HubOut::None,
            HubMsg::Use(i) => self
                .installed
                .as_ref()
                .and_then(|m| m.get(i))
                .cloned()
                .map_or(HubOut::None, HubOut::Use),
            HubMsg::Cancel => match self.adding.as_ref().and_then(|a| a.name.clone()) {
                Some(name) => HubOut::Command(Command::Models(ModelsCommand::CancelAdd { name })),
                None => HubOut::None,
            },
            HubMsg::MakeDefault(name) => {
                HubOut::Command(Command::Models(ModelsCommand::SetDefault {
                    name: Some(name),
                }))
            }
            HubMsg::Remove(name) => {
                if self.removing.as_ref() == Some(&name) {
                    self.removing = None;
                    HubOut::Command(Command::Models(ModelsCommand::RemoveLocal { name }))
                } else {
                    self.removing = Some(name);
                    HubOut::None
                }
            }
        }
    }

    fn install(&mut self, source: String, name: Option<String>, command: ModelsCommand) -> HubOut {
        if self.adding.is_some() {
            return HubOut::None;
        }
        self.error = None;
        self.adding = Some(Adding {
            source,
            name,
            done: 0,
            total: None,
        });
        HubOut::Command(Command::Models(command))
    }

    /// The hub; `speech` are the speech models installed here (managed in the voice section).
    pub fn view<'a>(&'a self, p: Palette, speech: &[&'a VoiceModel]) -> Element<'a, HubMsg> {
        let small = |caption: &'static str, kind: ButtonKind| theme::action(p, kind, caption);
        let busy = self.adding.is_some();
        let mut col = column![].spacing(8);
        match self.installed.as_deref() {
            None => {}
            Some([]) => {
                col = col.push(
                    text("No offline model installed. Download a small one below, or add a GGUF model from a file or a URL: it answers with no network.")
                        .size(13)
                        .color(p.muted),
                );
            }
            Some(models) => {
                for (i, model) in models.iter().enumerate() {
                    col = col.push(self.installed_row(p, i, model));
                }
            }
        }
        for model in speech {
            let language = if model.english_only {
                "English only"
            } else {
                "many languages"
            };
            col = col.push(
                text(format!(
                    "Speech model {} (whisper, {}, {language}; chosen under Voice)",
                    model.name,
                    mib(model.bytes)
                ))
                .size(13),
            );
        }
        if let Some(catalog) = &self.catalog {
            col = col.push(text("Download a small model").font(BOLD).size(13));
            for entry in catalog {
                let action: Element<'_, HubMsg> = if entry.installed {
                    text("Installed").size(13).color(p.muted).into()
                } else {
                    let press = small("Download", ButtonKind::Secondary);
                    if busy {
                        press.into()
                    } else {
                        press.on_press(HubMsg::Download(entry.name.clone())).into()
                    }
                };
                col = col.push(
                    row![
                        column![
                            text(entry.display_name.as_str()).font(BOLD).size(13),
                            text(format!(
                                "{} · {} · {} · {}",
                                entry.family,
                                entry.quantization,
                                mib(entry.size_bytes),
                                entry.licence
                            ))
                            .size(12)
                            .color(p.muted),
                        ]
                        .width(Fill),
                        action,
                    ]
                    .spacing(8)
                    .align_y(iced::Center),
                );
            }
        }
        let field = theme::field(p, SOURCE, "A .gguf file or https://… URL", &self.source);
        let (field, choose, add) = if busy {
            (
                field,
                small("Choose file…", ButtonKind::Secondary),
                small("Add model", ButtonKind::Primary),
            )
        } else {
            (
                field.on_input(HubMsg::Source).on_submit(HubMsg::Add),
                small("Choose file…", ButtonKind::Secondary).on_press(HubMsg::Choose),
                small("Add model", ButtonKind::Primary).on_press(HubMsg::Add),
            )
        };
        col = col.push(row![field, choose, add].spacing(8).align_y(iced::Center));
        if let Some(adding) = &self.adding {
            let amount = match adding.total {
                Some(total) if total > 0 => format!("{} of {}", mib(adding.done), mib(total)),
                _ => mib(adding.done),
            };
            let cancel = small("Cancel", ButtonKind::Secondary);
            let cancel = if adding.name.is_some() {
                cancel.on_press(HubMsg::Cancel)
            } else {
                cancel
            };
            col = col.push(
                row![
                    text(format!("Adding {}: {amount}", adding.source))
                        .size(13)
                        .width(Fill),
                    cancel,
                ]
                .spacing(8)
                .align_y(iced::Center),
            );
            if let Some(total) = adding.total.filter(|t| *t > 0) {
                col = col.push(progress_bar(0.0..=total as f32, adding.done as f32).girth(6));
            }
        }
        if let Some(error) = &self.error {
            col = col.push(text(error.as_str()).size(13).color(p.danger));
        }
        col.into()
    }

    fn installed_row<'a>(
        &'a self,
        p: Palette,
        i: usize,
        model: &'a LocalModelInfo,
    ) -> Element<'a, HubMsg> {
        let small = |caption: &'static str, kind: ButtonKind| {
            button(text(caption).font(BOLD).size(12))
                .padding([4, 10])
                .style(theme::button(p, kind))
        };
        let is_default = self.default.as_ref() == Some(&model.name);
        let mut title = row![
            text(format!(
                "Offline model {} ({}, {} MiB, runs on this computer)",
                model.name,
                model.quantization,
                model.size_bytes >> 20
            ))
            .size(13)
        ]
        .spacing(8)
        .align_y(iced::Center);
        if is_default {
            title = title.push(
                container(text("ANSWERS OFFLINE").font(BOLD).size(11))
                    .padding([2, 6])
                    .style(move |_| theme::badge(&p, p.ok)),
            );
        }
        let family = if model.display_name.is_empty() {
            model.architecture.clone()
        } else {
            format!("{} · {}", model.display_name, model.architecture)
        };
        let converted = model
            .converted_from
            .as_ref()
            .map(|from| format!(" (converted from {from})"))
            .unwrap_or_default();
        let mut actions = row![Space::new().width(Fill)].spacing(6);
        if !is_default {
            actions = actions.push(
                small("Make default", ButtonKind::Secondary)
                    .on_press(HubMsg::MakeDefault(model.name.clone())),
            );
        }
        actions = actions.push(small("Use this model", ButtonKind::Ok).on_press(HubMsg::Use(i)));
        let remove = if self.removing.as_ref() == Some(&model.name) {
            small("Really remove?", ButtonKind::Danger)
        } else {
            small("Remove", ButtonKind::Secondary)
        };
        actions = actions.push(remove.on_press(HubMsg::Remove(model.name.clone())));
        column![
            title,
            text(format!(
                "{family}{converted} · {}-token window",
                model.context_length
            ))
            .size(12)
            .color(p.muted),
            actions,
        ]
        .spacing(4)
        .into()
    }
}
