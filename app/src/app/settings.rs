//! The settings screen, also the onboarding when no model works yet: providers (keys go to the
//! keychain, never the config), a connection test, local servers found on this machine, workspace
//! folders, tool policies, theme and text size. Everything is saved through the engine.

use std::path::PathBuf;

use aetheria_engine::api::{
    Command, Event, McpServerInfo, MemoryCommand, ModelInfo, ModelsCommand, Policy, SandboxCommand,
    SandboxStatus, Secret, Settings, SettingsCommand, SubmissionId, ToolInfo, ToolsCommand,
};
use aetheria_engine::config::{ProviderConfig, Wire};
use iced::Task;

use super::memories::{Memories, MemoryMsg};
use crate::theme::Mode;

pub mod accounts;
pub mod mcp_add;
pub mod mcp_try;
mod pages;
mod provider_view;
mod sections;

pub use self::pages::Page;

/// Widget ids of the provider fields (focus and tests find them by these).
pub const URL: &str = "settings-url";
/// The model field.
pub const MODEL: &str = "settings-model";
/// The API key field.
pub const KEY: &str = "settings-key";

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

/// What the settings screen does.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Show another page.
    Page(Page),
    /// Choose the provider to edit.
    Select(usize),
    /// Add a preset provider (by index in `PRESETS`).
    AddPreset(usize),
    /// Add a provider found on this machine.
    UseFound(usize),
    /// The models hub.
    Hub(super::models_hub::HubMsg),
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
    /// Pick a workspace folder.
    AddFolder,
    /// A folder was picked.
    FolderPicked(Option<PathBuf>),
    /// Remove a workspace folder.
    RemoveFolder(usize),
    /// Set a tool's policy.
    Policy(String, Policy),
    /// Turn an MCP server on or off.
    McpEnabled(String, bool),
    /// Remove an MCP server.
    McpRemove(String),
    /// Stop an MCP server and start it again (at once, not on Save).
    McpRestart(String),
    /// Fill the form with a kept MCP server, to change it.
    McpEdit(String),
    /// The form that adds (or edits) an MCP server.
    McpAdd(mcp_add::AddMsg),
    /// The form that tries a server's tool.
    McpTry(mcp_try::TryMsg),
    /// The accounts section.
    Accounts(accounts::AccountsMsg),
    /// The long-term memories section.
    Memory(MemoryMsg),
    /// The voice section.
    Voice(super::voice_settings::VoiceMsg),
    /// The login service.
    Background(super::background::BackgroundMsg),
    /// Light / God Mode.
    Theme(Mode),
    /// Text size.
    FontSize(f32),
    /// Save and close.
    Save,
    /// Close without saving.
    Close,
}

/// The open settings screen.
#[derive(Debug, Clone, Default)]
pub struct Form {
    /// The settings as edited (`None` until the engine sent them).
    pub settings: Option<Settings>,
    /// The provider being edited.
    pub selected: usize,
    /// The key being typed.
    pub key: String,
    /// The last connection test: worked, and what was found.
    pub tested: Option<(bool, String)>,
    /// Tools with their policies.
    pub tools: Vec<ToolInfo>,
    /// Servers found on this machine (`None` while looking).
    pub found: Option<Vec<ProviderConfig>>,
    /// The models the selected provider offers, once asked: `(provider, models)`.
    pub models: Option<(String, Vec<ModelInfo>)>,
    /// The models hub: installed here, the catalogue, one being added.
    pub hub: super::models_hub::ModelsHub,
    /// Shown as the first-run welcome.
    pub onboarding: bool,
    /// The page shown.
    pub page: Page,
    /// A problem to show (bad settings, keychain error).
    pub error: Option<String>,
    /// A note to show (key stored).
    pub note: Option<String>,
    /// Which sandbox runs code, as last reported.
    pub sandbox: Option<SandboxStatus>,
    /// The MCP servers with their state (`None` until listed).
    pub mcp: Option<Vec<McpServerInfo>>,
    /// The form that adds an MCP server.
    pub mcp_add: mcp_add::AddForm,
    /// The form that tries a server's tool.
    pub mcp_try: mcp_try::TryForm,
    /// GitHub, Google Drive and Vercel.
    pub accounts: accounts::Accounts,
    /// The long-term memories.
    pub memories: Memories,
    /// Voice: microphone, key, models.
    pub voice: super::voice_settings::VoiceSection,
    /// Whether the engine starts at login.
    pub background: super::background::Background,
    /// The commands this screen sent: only their failures are shown on it.
    pub sent: std::collections::HashSet<SubmissionId>,
}

/// What the form asks of the app.
pub enum Out {
    /// Nothing more.
    None,
    /// Send these commands to the engine.
    Commands(Vec<Command>),
    /// Run this task.
    Task(Task<Msg>),
    /// Close the screen.
    Close,
    /// Change the theme.
    Theme(Mode),
    /// Change the text size.
    FontSize(f32),
    /// Open a web page in the browser.
    Open(String),
}

impl Form {
    /// A form that waits for the engine's settings; these commands fill it.
    pub fn open(onboarding: bool) -> (Self, Vec<Command>) {
        let form = Self {
            onboarding,
            ..Self::default()
        };
        let mut commands = vec![
            Command::Settings(SettingsCommand::Get),
            Command::Tools(ToolsCommand::List),
            Command::Models(ModelsCommand::DetectLocalServers),
            Command::Sandbox(SandboxCommand::Status),
            Command::Tools(ToolsCommand::ListMcpServers),
            Command::Memory(MemoryCommand::List),
        ];
        commands.extend(super::models_hub::ModelsHub::commands());
        commands.extend(accounts::Accounts::commands());
        commands.extend(super::voice_settings::VoiceSection::commands());
        (form, commands)
    }

    fn provider_mut(&mut self) -> Option<&mut ProviderConfig> {
        let selected = self.selected;
        self.settings.as_mut()?.providers.get_mut(selected)
    }

    fn add_provider(&mut self, provider: ProviderConfig) {
        let Some(settings) = self.settings.as_mut() else {
            return;
        };
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

    /// Applies an engine event meant for the form; `true` when it was.
    pub fn event(&mut self, event: &Event) -> bool {
        match event {
            Event::Settings { settings } => {
                self.settings = Some(settings.clone());
                self.selected = 0;
            }
            Event::ToolList { tools } => self.tools.clone_from(tools),
            Event::McpServers { servers } => self.mcp = Some(servers.clone()),
            Event::Memories { .. } | Event::MemoryUpdated { .. } | Event::MemoryDeleted { .. } => {
                self.memories.event(event);
            }
            Event::LocalServers { found } => self.found = Some(found.clone()),
            Event::LocalModels { .. }
            | Event::ModelCatalog { .. }
            | Event::LocalModelProgress { .. }
            | Event::LocalModelAdded { .. }
            | Event::LocalModelCancelled { .. }
            | Event::LocalModelRemoved { .. } => return self.hub.event(event),
            Event::ModelList { provider, models } => {
                self.models = Some((provider.clone(), models.clone()));
            }
            Event::ProviderTested { ok, detail, .. } => self.tested = Some((*ok, detail.clone())),
            Event::KeyStored { provider } => {
                self.note = Some(format!("The key for {provider} is in the OS keychain."));
                self.error = None;
            }
            Event::ToolPolicyChanged { tool, policy } => {
                if let Some(t) = self.tools.iter_mut().find(|t| &t.name == tool) {
                    t.policy = *policy;
                }
            }
            _ => return false,
        }
        true
    }

    /// Handles one of the form's messages.
    pub fn update(&mut self, msg: Msg) -> Out {
        self.note = None;
        match msg {
            Msg::Page(page) => self.page = page,
            Msg::Select(i) => {
                self.selected = i;
                self.tested = None;
                self.key.clear();
            }
            Msg::AddPreset(i) => {
                if let Some((name, wire, url, model)) = PRESETS.get(i) {
                    self.add_provider(ProviderConfig {
                        name: (*name).into(),
                        wire: *wire,
                        base_url: (*url).into(),
                        model: (*model).into(),
                        key_env: None,
                        key_ref: None,
                        context_window: None,
                        vision: None,
                    });
                }
            }
            Msg::UseFound(i) => {
                if let Some(provider) = self.found.as_ref().and_then(|f| f.get(i)).cloned() {
                    self.add_provider(provider);
                }
            }
            Msg::Hub(msg) => {
                use super::models_hub::HubOut;
                match self.hub.update(msg) {
                    HubOut::None => {}
                    HubOut::Command(command) => return Out::Commands(vec![command]),
                    HubOut::Task(task) => return Out::Task(task.map(Msg::Hub)),
                    HubOut::Use(model) => self.add_provider(ProviderConfig {
                        name: "local".into(),
                        wire: Wire::Local,
                        base_url: String::new(),
                        model: model.name,
                        key_env: None,
                        key_ref: None,
                        context_window: Some(model.context_length),
                        vision: None,
                    }),
                }
            }
            Msg::Remove => {
                let selected = self.selected;
                if let Some(settings) = self.settings.as_mut()
                    && selected < settings.providers.len()
                {
                    let removed = settings.providers.remove(selected);
                    if settings.default_provider.as_ref() == Some(&removed.name) {
                        settings.default_provider =
                            settings.providers.first().map(|p| p.name.clone());
                    }
                    self.selected = 0;
                }
            }
            Msg::MakeDefault => {
                let selected = self.selected;
                if let Some(settings) = self.settings.as_mut() {
                    settings.default_provider =
                        settings.providers.get(selected).map(|p| p.name.clone());
                }
            }
            Msg::Name(name) => {
                let old = self
                    .provider_mut()
                    .map(|p| std::mem::replace(&mut p.name, name.clone()));
                if let Some(settings) = self.settings.as_mut()
                    && settings.default_provider.is_some()
                    && settings.default_provider == old
                {
                    settings.default_provider = Some(name);
                }
            }
            Msg::Url(url) => {
                if let Some(p) = self.provider_mut() {
                    p.base_url = url;
                }
            }
            Msg::Model(model) => {
                if let Some(p) = self.provider_mut() {
                    p.model = model;
                }
            }
            Msg::Key(key) => self.key = key,
            Msg::SaveKey => {
                let name = self.provider_mut().map(|p| p.name.clone());
                let key = std::mem::take(&mut self.key);
                if let Some(provider) = name
                    && !key.trim().is_empty()
                {
                    return Out::Commands(vec![Command::Settings(SettingsCommand::StoreKey {
                        provider,
                        key: Secret::new(key.trim()),
                    })]);
                }
            }
            Msg::ListModels => {
                if let Some(provider) = self.provider_mut().cloned() {
                    self.models = Some((provider.name.clone(), Vec::new()));
                    return Out::Commands(vec![Command::Models(ModelsCommand::List { provider })]);
                }
            }
            Msg::Test => {
                if let Some(provider) = self.provider_mut().cloned() {
                    self.tested = Some((false, "Testing…".into()));
                    return Out::Commands(vec![Command::Settings(SettingsCommand::TestProvider {
                        provider,
                    })]);
                }
            }
            Msg::AddFolder => {
                return Out::Task(Task::perform(
                    async {
                        rfd::AsyncFileDialog::new()
                            .set_title("Allow a workspace folder")
                            .pick_folder()
                            .await
                            .map(|f| f.path().to_path_buf())
                    },
                    Msg::FolderPicked,
                ));
            }
            Msg::FolderPicked(Some(folder)) => {
                if let Some(settings) = self.settings.as_mut()
                    && !settings.workspace_roots.contains(&folder)
                {
                    settings.workspace_roots.push(folder);
                }
            }
            Msg::FolderPicked(None) => {}
            Msg::RemoveFolder(i) => {
                if let Some(settings) = self.settings.as_mut()
                    && i < settings.workspace_roots.len()
                {
                    settings.workspace_roots.remove(i);
                }
            }
            Msg::Policy(tool, policy) => {
                if let Some(settings) = self.settings.as_mut() {
                    settings.tool_policies.insert(tool.clone(), policy);
                }
                return Out::Commands(vec![Command::Tools(ToolsCommand::SetPolicy {
                    tool,
                    policy,
                })]);
            }
            Msg::McpEnabled(name, enabled) => {
                if let Some(server) = self
                    .settings
                    .as_mut()
                    .and_then(|s| s.mcp_servers.get_mut(&name))
                {
                    server.enabled = enabled;
                }
            }
            Msg::McpRemove(name) => {
                if let Some(settings) = self.settings.as_mut() {
                    settings.mcp_servers.remove(&name);
                }
            }
            Msg::McpRestart(name) => {
                return Out::Commands(vec![Command::Tools(ToolsCommand::RestartMcpServer {
                    name,
                })]);
            }
            Msg::McpTry(msg) => {
                if let Some(command) = self.mcp_try.update(msg) {
                    return Out::Commands(vec![command]);
                }
            }
            Msg::McpEdit(name) => {
                if let Some(server) = self
                    .settings
                    .as_ref()
                    .and_then(|s| s.mcp_servers.get(&name))
                {
                    self.mcp_add = mcp_add::AddForm::edit(&name, server);
                }
            }
            Msg::McpAdd(msg) => {
                let Some(settings) = self.settings.as_mut() else {
                    return Out::None;
                };
                let servers = &settings.mcp_servers;
                let edited = self.mcp_add.editing().is_some();
                let Some(new) = self.mcp_add.update(msg, |name| servers.contains_key(name)) else {
                    return Out::None;
                };
                self.note = Some(if edited {
                    format!("Changed {}: it starts again when you Save.", new.name)
                } else {
                    format!(
                        "Added {}: it starts when you Save; its tools are named {}__TOOL and ask before they run.",
                        new.name, new.name
                    )
                });
                settings.mcp_servers.insert(new.name, new.server);
                if let Some((account, key)) = new.token {
                    return Out::Commands(vec![Command::Settings(SettingsCommand::StoreKey {
                        provider: account,
                        key,
                    })]);
                }
            }
            Msg::Theme(mode) => return Out::Theme(mode),
            Msg::FontSize(size) => return Out::FontSize(size),
            Msg::Save => {
                if let Some(settings) = self.settings.clone() {
                    self.error = None;
                    return Out::Commands(vec![Command::Settings(SettingsCommand::Save {
                        settings,
                    })]);
                }
            }
            Msg::Memory(msg) => return Out::Commands(self.memories.update(msg)),
            Msg::Accounts(msg) => {
                use accounts::AccountsOut;
                return match self.accounts.update(msg) {
                    AccountsOut::None => Out::None,
                    AccountsOut::Command(command) => Out::Commands(vec![command]),
                    AccountsOut::Open(url) => Out::Open(url),
                    AccountsOut::Copy(code) => Out::Task(iced::clipboard::write(code)),
                };
            }
            Msg::Voice(msg) => {
                use super::voice_settings::VoiceOut;
                let Some(settings) = self.settings.as_mut() else {
                    return Out::None;
                };
                return match self.voice.update(msg, &mut settings.voice) {
                    VoiceOut::None => Out::None,
                    VoiceOut::Commands(commands) => Out::Commands(commands),
                    VoiceOut::Task(task) => Out::Task(task.map(Msg::Voice)),
                };
            }
            Msg::Background(msg) => {
                return Out::Task(self.background.update(msg).map(Msg::Background));
            }
            Msg::Close => return Out::Close,
        }
        Out::None
    }
}
