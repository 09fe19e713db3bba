//! The settings' model providers: the list, the chosen provider's fields (its key goes to the
//! keychain, never the config), a connection test, its models, one-click presets and model
//! servers found on this computer. It edits the providers of the settings being edited.

use aetheria_engine::api::{
    Command, Event, ModelInfo, ModelsCommand, Secret, Settings, SettingsCommand,
};
use aetheria_engine::config::{ProviderConfig, Wire};
use iced::widget::{Space, button, column, container, row, scrollable, text, text_input};
use iced::{Element, Fill, Length};

use super::sections::section;
use super::{KEY, MODEL, URL};
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// Providers a person can add with one click (the key comes next).
const PRESETS: [(&str, Wire, &str, &str); 11] = [
    (
        "openai",
        Wire::Openai,
        "https://api.openai.com/v1",
        "gpt-4o-mini",
    ),
    (
        "anthropic",
        Wire::Anthropic,
        "https://api.anthropic.com/v1",
        "claude-sonnet-4-5",
    ),
    (
        "gemini",
        Wire::Gemini,
        "https://generativelanguage.googleapis.com/v1beta",
        "gemini-2.5-flash",
    ),
    (
        "groq",
        Wire::Openai,
        "https://api.groq.com/openai/v1",
        "llama-3.3-70b-versatile",
    ),
    (
        "openrouter",
        Wire::Openai,
        "https://openrouter.ai/api/v1",
        "openrouter/auto",
    ),
    (
        "mistral",
        Wire::Openai,
        "https://api.mistral.ai/v1",
        "mistral-large-latest",
    ),
    (
        "deepseek",
        Wire::Openai,
        "https://api.deepseek.com/v1",
        "deepseek-chat",
    ),
    (
        "ollama",
        Wire::Openai,
        "http://127.0.0.1:11434/v1",
        "llama3.2",
    ),
    (
        "lmstudio",
        Wire::Openai,
        "http://127.0.0.1:1234/v1",
        "local-model",
    ),
    (
        "llamacpp",
        Wire::Openai,
        "http://127.0.0.1:8080/v1",
        "default",
    ),
    ("custom", Wire::Openai, "http://127.0.0.1:8080/v1", "model"),
];

/// What the person does with the providers.
#[derive(Debug, Clone)]
pub enum ProviderMsg {
    /// Choose the provider to edit.
    Select(usize),
    /// Add a preset provider (by index in `PRESETS`).
    AddPreset(usize),
    /// Add a provider found on this machine.
    UseFound(usize),
    /// Remove the selected provider.
    Remove,
    /// Make the selected provider the default.
    MakeDefault,
    /// Edits of the selected provider.
    Name(String),
    /// Base URL.
    Url(String),
    /// Model.
    Model(String),
    /// Ask the selected provider which models it has.
    ListModels,
    /// The API key being typed (never stored in the app).
    Key(String),
    /// Put the typed key in the keychain.
    SaveKey,
    /// Test the selected provider.
    Test,
}

/// The providers' own state (the providers themselves are in the settings being edited).
#[derive(Debug, Clone, Default)]
pub struct Providers {
    /// The provider being edited.
    pub selected: usize,
    /// The key being typed.
    pub key: String,
    /// The last connection test: worked, and what was found.
    pub tested: Option<(bool, String)>,
    /// Servers found on this machine (`None` while looking).
    pub found: Option<Vec<ProviderConfig>>,
    /// The models the selected provider offers, once asked: `(provider, models)`.
    pub models: Option<(String, Vec<ModelInfo>)>,
}

impl Providers {
    /// Adds `provider` (renamed when its name is taken) and chooses it; the first becomes the
    /// default.
    pub fn add(&mut self, settings: &mut Settings, provider: ProviderConfig) {
        let mut provider = provider;
        let base = provider.name.clone();
        let mut n = 2;
        while settings.providers.iter().any(|p| p.name == provider.name) {
            provider.name = format!("{base}-{n}");
            n += 1;
        }
        if settings.providers.is_empty() {
            settings.default_provider = Some(provider.name.clone());
        }
        settings.providers.push(provider);
        self.selected = settings.providers.len() - 1;
        self.tested = None;
        self.key.clear();
    }

    /// Takes the engine's answers to what it asked; `true` when `event` was one.
    pub fn event(&mut self, event: &Event) -> bool {
        match event {
            Event::LocalServers { found } => self.found = Some(found.clone()),
            Event::ModelList { provider, models } => {
                self.models = Some((provider.clone(), models.clone()));
            }
            Event::ProviderTested { ok, detail, .. } => self.tested = Some((*ok, detail.clone())),
            _ => return false,
        }
        true
    }

    /// Handles a message, editing `settings`; the command to send, if any.
    pub fn update(&mut self, msg: ProviderMsg, settings: &mut Settings) -> Option<Command> {
        match msg {
            ProviderMsg::Select(i) => {
                self.selected = i;
                self.tested = None;
                self.key.clear();
            }
            ProviderMsg::AddPreset(i) => {
                if let Some((name, wire, url, model)) = PRESETS.get(i) {
                    self.add(
                        settings,
                        ProviderConfig {
                            name: (*name).into(),
                            wire: *wire,
                            base_url: (*url).into(),
                            model: (*model).into(),
                            key_env: None,
                            key_ref: None,
                            context_window: None,
                            vision: None,
                        },
                    );
                }
            }
            ProviderMsg::UseFound(i) => {
                if let Some(provider) = self.found.as_ref().and_then(|f| f.get(i)).cloned() {
                    self.add(settings, provider);
                }
            }
            ProviderMsg::Remove => {
                let selected = self.selected;
                if selected < settings.providers.len() {
                    let removed = settings.providers.remove(selected);
                    if settings.default_provider.as_ref() == Some(&removed.name) {
                        settings.default_provider =
                            settings.providers.first().map(|p| p.name.clone());
                    }
                    self.selected = 0;
                }
            }
            ProviderMsg::MakeDefault => {
                settings.default_provider = (settings.providers)
                    .get(self.selected)
                    .map(|p| p.name.clone());
            }
            ProviderMsg::Name(name) => {
                let old = (settings.providers.get_mut(self.selected))
                    .map(|p| std::mem::replace(&mut p.name, name.clone()));
                if settings.default_provider.is_some() && settings.default_provider == old {
                    settings.default_provider = Some(name);
                }
            }
            ProviderMsg::Url(url) => {
                if let Some(p) = settings.providers.get_mut(self.selected) {
                    p.base_url = url;
                }
            }
            ProviderMsg::Model(model) => {
                if let Some(p) = settings.providers.get_mut(self.selected) {
                    p.model = model;
                }
            }
            ProviderMsg::Key(key) => self.key = key,
            ProviderMsg::SaveKey => {
                let name = settings
                    .providers
                    .get_mut(self.selected)
                    .map(|p| p.name.clone());
                let key = std::mem::take(&mut self.key);
                if let Some(provider) = name
                    && !key.trim().is_empty()
                {
                    return Some(Command::Settings(SettingsCommand::StoreKey {
                        provider,
                        key: Secret::new(key.trim()),
                    }));
                }
            }
            ProviderMsg::ListModels => {
                if let Some(provider) = settings.providers.get_mut(self.selected).cloned() {
                    self.models = Some((provider.name.clone(), Vec::new()));
                    return Some(Command::Models(ModelsCommand::List { provider }));
                }
            }
            ProviderMsg::Test => {
                if let Some(provider) = settings.providers.get_mut(self.selected).cloned() {
                    self.tested = Some((false, "Testing…".into()));
                    return Some(Command::Settings(SettingsCommand::TestProvider {
                        provider,
                    }));
                }
            }
        }
        None
    }

    /// The providers: the list, the chosen one's fields and buttons, presets, servers found.
    pub fn view<'a>(&'a self, p: Palette, settings: &'a Settings) -> Element<'a, ProviderMsg> {
        let mut list = row![].spacing(8);
        for (i, provider) in settings.providers.iter().enumerate() {
            let default = settings.default_provider.as_ref() == Some(&provider.name)
                || (settings.default_provider.is_none() && i == 0);
            let caption = if default {
                format!("★ {}", provider.name)
            } else {
                provider.name.clone()
            };
            list = list.push(
                button(text(caption).font(BOLD).size(13))
                    .padding([6, 10])
                    .style(theme::button(
                        p,
                        ButtonKind::Item {
                            selected: i == self.selected,
                        },
                    ))
                    .on_press(ProviderMsg::Select(i)),
            );
        }
        let mut col = column![section("MODEL PROVIDERS"), list.wrap()].spacing(10);
        if let Some(provider) = settings.providers.get(self.selected) {
            let field = |label: &'a str,
                         value: &'a str,
                         id: &'static str,
                         on: fn(String) -> ProviderMsg| {
                row![
                    text(label).font(BOLD).size(13).width(Length::Fixed(90.0)),
                    text_input(label, value)
                        .id(id)
                        .on_input(on)
                        .padding(6)
                        .size(14)
                        .style(theme::input(p)),
                ]
                .spacing(8)
                .align_y(iced::Center)
            };
            col = col
                .push(field(
                    "Name",
                    &provider.name,
                    "settings-name",
                    ProviderMsg::Name,
                ))
                .push(field("Base URL", &provider.base_url, URL, ProviderMsg::Url))
                .push(field("Model", &provider.model, MODEL, ProviderMsg::Model))
                .push(
                    row![
                        text("API key")
                            .font(BOLD)
                            .size(13)
                            .width(Length::Fixed(90.0)),
                        text_input("stored in the OS keychain, never in the config", &self.key)
                            .id(KEY)
                            .secure(true)
                            .on_input(ProviderMsg::Key)
                            .on_submit(ProviderMsg::SaveKey)
                            .padding(6)
                            .size(14)
                            .style(theme::input(p)),
                        theme::action(p, ButtonKind::Secondary, "Save key")
                            .on_press(ProviderMsg::SaveKey),
                    ]
                    .spacing(8)
                    .align_y(iced::Center),
                )
                .push(
                    row![
                        theme::action(p, ButtonKind::Secondary, "Test connection")
                            .on_press(ProviderMsg::Test),
                        theme::action(p, ButtonKind::Secondary, "List models")
                            .on_press(ProviderMsg::ListModels),
                        theme::action(p, ButtonKind::Secondary, "Make default")
                            .on_press(ProviderMsg::MakeDefault),
                        Space::new().width(Fill),
                        theme::action(p, ButtonKind::Danger, "Remove")
                            .on_press(ProviderMsg::Remove),
                    ]
                    .spacing(10),
                );
            if let Some((name, models)) = &self.models
                && name == &provider.name
            {
                col = col.push(model_choices(p, models, &provider.model));
            }
            if let Some((ok, detail)) = &self.tested {
                let fill = if *ok { p.ok } else { p.accent };
                col = col.push(
                    container(text(detail.as_str()).size(13))
                        .padding(8)
                        .width(Fill)
                        .style(move |_| theme::badge(&p, fill)),
                );
            }
        }
        let mut add = row![text("Add:").font(BOLD).size(13)]
            .spacing(8)
            .align_y(iced::Center);
        for (i, (name, ..)) in PRESETS.iter().enumerate() {
            add = add.push(
                theme::action(p, ButtonKind::Secondary, name).on_press(ProviderMsg::AddPreset(i)),
            );
        }
        col = col.push(add.wrap());
        match &self.found {
            None => {
                col = col.push(
                    text("Looking for model servers on this computer…")
                        .size(13)
                        .color(p.muted),
                );
            }
            Some(found) if found.is_empty() => {
                col = col.push(
                    text("No local model server found (Ollama on 11434, LM Studio on 1234, llama.cpp on 8080).")
                        .size(13)
                        .color(p.muted),
                );
            }
            Some(found) => {
                for (i, server) in found.iter().enumerate() {
                    col = col.push(
                        row![
                            text(format!(
                                "Found {} at {} ({})",
                                server.name, server.base_url, server.model
                            ))
                            .size(13)
                            .width(Fill),
                            theme::action(p, ButtonKind::Ok, "Use it")
                                .on_press(ProviderMsg::UseFound(i)),
                        ]
                        .spacing(8)
                        .align_y(iced::Center),
                    );
                }
            }
        }
        col.into()
    }
}

/// The provider's models as buttons: id, window, and what it takes.
fn model_choices<'a>(
    p: Palette,
    models: &'a [ModelInfo],
    current: &str,
) -> Element<'a, ProviderMsg> {
    if models.is_empty() {
        return text("Asking the provider for its models…")
            .size(13)
            .color(p.muted)
            .into();
    }
    let mut list = row![].spacing(6);
    for m in models {
        let mut caption = format!("{} · {}k", m.id, m.context_window / 1000);
        if m.tools {
            caption.push_str(" · tools");
        }
        if m.vision {
            caption.push_str(" · images");
        }
        list = list.push(
            button(text(caption).font(MONO).size(12))
                .padding([4, 8])
                .style(theme::button(
                    p,
                    ButtonKind::Item {
                        selected: m.id == current,
                    },
                ))
                .on_press(ProviderMsg::Model(m.id.clone())),
        );
    }
    scrollable(list.wrap()).height(Length::Shrink).into()
}
