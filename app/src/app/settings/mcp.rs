//! The settings' MCP page: the servers kept in the settings with their state (tools, last error,
//! restarts, last stderr lines); on/off, remove, edit and add take effect on Save, Restart at once;
//! and a form that tries one of a running server's tools.

use aetheria_engine::api::{
    Command, Event, McpServerInfo, McpState, Settings, SettingsCommand, ToolsCommand,
};
use iced::widget::{column, container, row, text};
use iced::{Element, Fill};

use super::mcp_add::{AddForm, AddMsg};
use super::mcp_try::{TryForm, TryMsg};
use super::sections::section;
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// What the person does on the MCP page.
#[derive(Debug, Clone)]
pub enum McpMsg {
    /// Turn a server on or off.
    Enabled(String, bool),
    /// Remove a server.
    Remove(String),
    /// Stop a server and start it again (at once, not on Save).
    Restart(String),
    /// Fill the form with a kept server, to change it.
    Edit(String),
    /// The form that adds (or edits) a server.
    Add(AddMsg),
    /// The form that tries a server's tool.
    Try(TryMsg),
}

/// The MCP page's state (the servers themselves are in the settings being edited).
#[derive(Debug, Clone, Default)]
pub struct McpPage {
    /// The servers with their state (`None` until listed).
    pub servers: Option<Vec<McpServerInfo>>,
    /// The form that adds a server.
    pub add: AddForm,
    /// The form that tries a server's tool.
    pub tried: TryForm,
}

impl McpPage {
    /// Takes the engine's list of servers; `true` when `event` was it.
    pub fn event(&mut self, event: &Event) -> bool {
        match event {
            Event::McpServers { servers } => {
                self.servers = Some(servers.clone());
                true
            }
            _ => false,
        }
    }

    /// Follows the answers to the tool calls it made.
    pub fn on_engine(&mut self, envelope: &aetheria_engine::api::Envelope) {
        self.tried.on_engine(envelope);
    }

    /// Handles a message, editing `settings`: a note for the person, and the command to send.
    pub fn update(
        &mut self,
        msg: McpMsg,
        settings: &mut Settings,
    ) -> (Option<String>, Option<Command>) {
        match msg {
            McpMsg::Enabled(name, enabled) => {
                if let Some(server) = settings.mcp_servers.get_mut(&name) {
                    server.enabled = enabled;
                }
            }
            McpMsg::Remove(name) => {
                settings.mcp_servers.remove(&name);
            }
            McpMsg::Restart(name) => {
                return (
                    None,
                    Some(Command::Tools(ToolsCommand::RestartMcpServer { name })),
                );
            }
            McpMsg::Try(msg) => {
                return (None, self.tried.update(msg));
            }
            McpMsg::Edit(name) => {
                if let Some(server) = settings.mcp_servers.get(&name) {
                    self.add = AddForm::edit(&name, server);
                }
            }
            McpMsg::Add(msg) => {
                let servers = &settings.mcp_servers;
                let edited = self.add.editing().is_some();
                let Some(new) = self.add.update(msg, |name| servers.contains_key(name)) else {
                    return (None, None);
                };
                let note = Some(if edited {
                    format!("Changed {}: it starts again when you Save.", new.name)
                } else {
                    format!(
                        "Added {}: it starts when you Save; its tools are named {}__TOOL and ask before they run.",
                        new.name, new.name
                    )
                });
                settings.mcp_servers.insert(new.name, new.server);
                let store = new.token.map(|(account, key)| {
                    Command::Settings(SettingsCommand::StoreKey {
                        provider: account,
                        key,
                    })
                });
                return (note, store);
            }
        }
        (None, None)
    }

    /// The page: the servers, the form that tries a tool (when open), the form that adds one.
    pub fn view<'a>(&'a self, p: Palette, settings: &'a Settings) -> Element<'a, McpMsg> {
        let mut col = column![servers(p, settings, self.servers.as_deref())].spacing(18);
        if let Some(tried) = self.tried.view(p, self.servers.as_deref()) {
            col = col.push(tried.map(McpMsg::Try));
        }
        col.push(self.add.view(p).map(McpMsg::Add)).into()
    }
}

/// How many of a server's last stderr lines are shown.
const STDERR_SHOWN: usize = 4;

/// MCP servers: each with its state, tools, last error, restarts and last stderr lines; adding
/// (the form below), on/off and remove take effect on Save, Restart at once.
fn servers<'a>(
    p: Palette,
    settings: &'a Settings,
    infos: Option<&'a [McpServerInfo]>,
) -> Element<'a, McpMsg> {
    let mut col = column![section("MCP SERVERS — THEIR TOOLS ASK BEFORE THEY RUN")].spacing(8);
    if settings.mcp_servers.is_empty() {
        col = col.push(
            text("None yet. Add one below: the command line that starts it, or its URL.")
                .size(13)
                .color(p.muted),
        );
    }
    for (name, server) in &settings.mcp_servers {
        let info = infos.and_then(|list| list.iter().find(|i| &i.name == name));
        let (state, color) = match info.map(|i| i.state) {
            _ if !server.enabled => ("OFF".to_owned(), p.muted),
            Some(McpState::Running) => (
                format!("RUNNING · {} TOOLS", info.map_or(0, |i| i.tools.len())),
                p.ok,
            ),
            Some(McpState::Failed) => ("FAILED".to_owned(), p.danger),
            None => ("CHECKING…".to_owned(), p.muted),
            Some(_) => ("NOT STARTED".to_owned(), p.muted),
        };
        let target = server
            .url
            .clone()
            .or_else(|| {
                server.command.clone().map(|c| {
                    std::iter::once(c)
                        .chain(server.args.iter().cloned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
            })
            .unwrap_or_default();
        // Restarting acts at once on the running server, so only a saved one that is on can.
        let restart = theme::action(p, ButtonKind::Secondary, "Restart");
        let restart = if server.enabled && info.is_some() {
            restart.on_press(McpMsg::Restart(name.clone()))
        } else {
            restart
        };
        let toggle = if server.enabled {
            "Turn off"
        } else {
            "Turn on"
        };
        col = col.push(
            row![
                text(name.as_str()).font(BOLD).size(14),
                container(text(state).font(BOLD).size(11))
                    .padding([2, 6])
                    .style(move |_| theme::badge(&p, color)),
                iced::widget::Space::new().width(Fill),
                theme::action(p, ButtonKind::Secondary, "Edit")
                    .on_press(McpMsg::Edit(name.clone())),
                theme::action(p, ButtonKind::Secondary, toggle)
                    .on_press(McpMsg::Enabled(name.clone(), !server.enabled)),
                restart,
                theme::action(p, ButtonKind::Danger, "Remove")
                    .on_press(McpMsg::Remove(name.clone())),
            ]
            .spacing(8)
            .align_y(iced::Center),
        );
        // What starts it, on a line of its own (a long command line must not squeeze the row).
        col = col.push(
            text(super::super::view::cut(&target, 120))
                .font(MONO)
                .size(12)
                .color(p.muted),
        );
        if let Some(error) = info.and_then(|i| i.error.as_deref()) {
            col = col.push(text(error).size(12).color(p.danger));
        }
        if let Some(info) = info.filter(|i| !i.tools.is_empty()) {
            col = col.push(
                row![
                    text(info.tools.join("  "))
                        .font(MONO)
                        .size(12)
                        .color(p.muted)
                        .width(Fill),
                    theme::action(p, ButtonKind::Secondary, "Try a tool")
                        .on_press(McpMsg::Try(TryMsg::Open(name.clone()))),
                ]
                .spacing(8)
                .align_y(iced::Center),
            );
        }
        if let Some(info) = info.filter(|i| !i.stderr.is_empty() || i.restarts > 0) {
            // What it last said on stderr (already redacted by the engine), newest last.
            let mut said = format!("started again {}×", info.restarts);
            for line in info.stderr.iter().rev().take(STDERR_SHOWN).rev() {
                said.push('\n');
                said.push_str(&super::super::view::cut(line, 160));
            }
            col = col.push(
                container(text(said).font(MONO).size(11).color(p.muted))
                    .padding([4, 8])
                    .width(Fill),
            );
        }
    }
    col.into()
}
