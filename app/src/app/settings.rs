//! The settings screen, also the onboarding when no model works yet. It holds the settings being
//! edited (saved through the engine on Save) and one component per page — providers and the
//! models hub, workspace, MCP, accounts, memory, voice, general — each with its own message, state
//! and view; it routes their messages and the engine's answers to them.

use aetheria_engine::api::{
    Command, Event, MemoryCommand, ModelsCommand, SandboxCommand, Settings, SettingsCommand,
    SubmissionId, ToolsCommand,
};
use aetheria_engine::config::{ProviderConfig, Wire};
use iced::Task;

use super::memories::{Memories, MemoryMsg};
use crate::theme::Mode;

pub mod accounts;
pub mod mcp;
pub mod mcp_add;
pub mod mcp_try;
mod pages;
pub mod providers;
mod sections;
pub mod workspace;

pub use self::pages::Page;

/// Widget ids of the provider fields (focus and tests find them by these).
pub const URL: &str = "settings-url";
/// The model field.
pub const MODEL: &str = "settings-model";
/// The API key field.
pub const KEY: &str = "settings-key";

/// What the settings screen does.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Show another page.
    Page(Page),
    /// The model providers.
    Provider(providers::ProviderMsg),
    /// The models hub.
    Hub(super::models_hub::HubMsg),
    /// The workspace page: folders, the sandbox, the tools' policies.
    Workspace(workspace::WorkspaceMsg),
    /// The MCP servers page.
    Mcp(mcp::McpMsg),
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
    /// The model providers' page state.
    pub providers: providers::Providers,
    /// The workspace page: the tools with their policies, the sandbox.
    pub workspace: workspace::Workspace,
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
    /// The MCP servers page.
    pub mcp: mcp::McpPage,
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

    /// Applies an engine event meant for the form; `true` when it was.
    pub fn event(&mut self, event: &Event) -> bool {
        match event {
            Event::Settings { settings } => {
                self.settings = Some(settings.clone());
                // The providers are new: the first is chosen.
                self.providers.selected = 0;
            }
            Event::LocalServers { .. } | Event::ModelList { .. } | Event::ProviderTested { .. } => {
                return self.providers.event(event);
            }
            Event::ToolList { .. } | Event::ToolPolicyChanged { .. } => {
                return self.workspace.event(event);
            }
            Event::McpServers { .. } => return self.mcp.event(event),
            Event::Memories { .. } | Event::MemoryUpdated { .. } | Event::MemoryDeleted { .. } => {
                self.memories.event(event);
            }
            Event::LocalModels { .. }
            | Event::ModelCatalog { .. }
            | Event::LocalModelProgress { .. }
            | Event::LocalModelAdded { .. }
            | Event::LocalModelCancelled { .. }
            | Event::LocalModelRemoved { .. } => return self.hub.event(event),
            Event::KeyStored { provider } => {
                self.note = Some(format!("The key for {provider} is in the OS keychain."));
                self.error = None;
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
            Msg::Provider(msg) => {
                let Some(settings) = self.settings.as_mut() else {
                    return Out::None;
                };
                if let Some(command) = self.providers.update(msg, settings) {
                    return Out::Commands(vec![command]);
                }
            }
            Msg::Hub(msg) => {
                use super::models_hub::HubOut;
                match self.hub.update(msg) {
                    HubOut::None => {}
                    HubOut::Command(command) => return Out::Commands(vec![command]),
                    HubOut::Task(task) => return Out::Task(task.map(Msg::Hub)),
                    HubOut::Use(model) => {
                        let Some(settings) = self.settings.as_mut() else {
                            return Out::None;
                        };
                        self.providers.add(
                            settings,
                            ProviderConfig {
                                name: "local".into(),
                                wire: Wire::Local,
                                base_url: String::new(),
                                model: model.name,
                                key_env: None,
                                key_ref: None,
                                context_window: Some(model.context_length),
                                vision: None,
                            },
                        );
                    }
                }
            }
            Msg::Workspace(msg) => {
                let Some(settings) = self.settings.as_mut() else {
                    return Out::None;
                };
                return match self.workspace.update(msg, settings) {
                    workspace::WorkspaceOut::None => Out::None,
                    workspace::WorkspaceOut::Command(command) => Out::Commands(vec![command]),
                    workspace::WorkspaceOut::Task(task) => Out::Task(task.map(Msg::Workspace)),
                };
            }
            Msg::Mcp(msg) => {
                let Some(settings) = self.settings.as_mut() else {
                    return Out::None;
                };
                let (note, command) = self.mcp.update(msg, settings);
                if note.is_some() {
                    self.note = note;
                }
                if let Some(command) = command {
                    return Out::Commands(vec![command]);
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
