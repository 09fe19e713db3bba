//! The settings' workspace page: the folders file tools may touch, which sandbox runs code, and
//! each tool's policy (allow, ask, deny; set at once, not on Save).

use std::path::PathBuf;

use aetheria_engine::api::{
    Command, Event, Policy, SandboxStatus, Settings, ToolInfo, ToolsCommand,
};
use iced::widget::{button, column, row, text};
use iced::{Element, Fill, Task};

use super::sections::section;
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// What the person does on the workspace page.
#[derive(Debug, Clone)]
pub enum WorkspaceMsg {
    /// Pick a workspace folder.
    AddFolder,
    /// A folder was picked.
    FolderPicked(Option<PathBuf>),
    /// Remove a workspace folder.
    RemoveFolder(usize),
    /// Set a tool's policy.
    Policy(String, Policy),
}

/// What the page asks of the settings screen.
pub enum WorkspaceOut {
    /// Nothing more.
    None,
    /// Send this command.
    Command(Command),
    /// Run this task (the folder dialog).
    Task(Task<WorkspaceMsg>),
}

/// The workspace page's state (the folders are in the settings being edited).
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// Tools with their policies.
    pub tools: Vec<ToolInfo>,
    /// Which sandbox runs code, as last reported.
    pub sandbox: Option<SandboxStatus>,
}

impl Workspace {
    /// Takes the tools' list and policy changes; `true` when `event` was one.
    pub fn event(&mut self, event: &Event) -> bool {
        match event {
            Event::ToolList { tools } => self.tools.clone_from(tools),
            Event::ToolPolicyChanged { tool, policy } => {
                if let Some(t) = self.tools.iter_mut().find(|t| &t.name == tool) {
                    t.policy = *policy;
                }
            }
            _ => return false,
        }
        true
    }

    /// Handles a message, editing `settings`.
    pub fn update(&mut self, msg: WorkspaceMsg, settings: &mut Settings) -> WorkspaceOut {
        match msg {
            WorkspaceMsg::AddFolder => {
                return WorkspaceOut::Task(Task::perform(
                    async {
                        rfd::AsyncFileDialog::new()
                            .set_title("Allow a workspace folder")
                            .pick_folder()
                            .await
                            .map(|f| f.path().to_path_buf())
                    },
                    WorkspaceMsg::FolderPicked,
                ));
            }
            WorkspaceMsg::FolderPicked(Some(folder)) => {
                if !settings.workspace_roots.contains(&folder) {
                    settings.workspace_roots.push(folder);
                }
            }
            WorkspaceMsg::FolderPicked(None) => {}
            WorkspaceMsg::RemoveFolder(i) => {
                if i < settings.workspace_roots.len() {
                    settings.workspace_roots.remove(i);
                }
            }
            WorkspaceMsg::Policy(tool, policy) => {
                settings.tool_policies.insert(tool.clone(), policy);
                return WorkspaceOut::Command(Command::Tools(ToolsCommand::SetPolicy {
                    tool,
                    policy,
                }));
            }
        }
        WorkspaceOut::None
    }

    /// The page: folders, the sandbox, the tools' policies.
    pub fn view<'a>(&'a self, p: Palette, settings: &'a Settings) -> Element<'a, WorkspaceMsg> {
        let mut col = column![
            folders(p, settings),
            sandbox_section(p, self.sandbox.as_ref())
        ]
        .spacing(18);
        if !self.tools.is_empty() {
            col = col.push(self.policies(p));
        }
        col.into()
    }

    /// The tools with their policies: allow, ask, deny.
    fn policies(&self, p: Palette) -> Element<'_, WorkspaceMsg> {
        let mut col = column![section("TOOLS — RUN WITHOUT ASKING?")].spacing(8);
        for tool in &self.tools {
            let choice = |caption: &'static str, policy: Policy| {
                button(text(caption).font(BOLD).size(12))
                    .padding([4, 8])
                    .style(theme::button(
                        p,
                        ButtonKind::Item {
                            selected: tool.policy == policy,
                        },
                    ))
                    .on_press(WorkspaceMsg::Policy(tool.name.clone(), policy))
            };
            col = col.push(
                row![
                    text(tool.name.as_str()).font(MONO).size(13).width(Fill),
                    choice("allow", Policy::Allow),
                    choice("ask", Policy::Ask),
                    choice("deny", Policy::Deny),
                ]
                .spacing(6)
                .align_y(iced::Center),
            );
        }
        col.into()
    }
}

/// The workspace folders, with Remove and Add folder.
pub fn folders<'a>(p: Palette, settings: &'a Settings) -> Element<'a, WorkspaceMsg> {
    let mut col = column![section(
        "WORKSPACE FOLDERS — THE ONLY PLACES FILE TOOLS MAY TOUCH"
    )]
    .spacing(8);
    if settings.workspace_roots.is_empty() {
        col = col.push(text("None yet.").size(13).color(p.muted));
    }
    for (i, folder) in settings.workspace_roots.iter().enumerate() {
        col = col.push(
            row![
                text(folder.display().to_string())
                    .font(MONO)
                    .size(13)
                    .width(Fill),
                theme::action(p, ButtonKind::Danger, "Remove")
                    .on_press(WorkspaceMsg::RemoveFolder(i)),
            ]
            .spacing(8)
            .align_y(iced::Center),
        );
    }
    col.push(
        theme::action(p, ButtonKind::Secondary, "Add folder…").on_press(WorkspaceMsg::AddFolder),
    )
    .into()
}

/// Which isolation runs code (set in config.toml's `[sandbox]`; the image is built from the
/// Sandbox tab or `aetheria sandbox build-image`).
fn sandbox_section(p: Palette, status: Option<&SandboxStatus>) -> Element<'_, WorkspaceMsg> {
    let line = match status {
        None => text("Checking…").size(13).color(p.muted),
        Some(s) => text(format!(
            "{} · {} — {}",
            s.backend.as_deref().unwrap_or("none"),
            if s.ready { "ready" } else { "not ready" },
            s.detail
        ))
        .size(13)
        .color(if s.ready { p.ink } else { p.danger }),
    };
    column![section("CODE SANDBOX"), line].spacing(10).into()
}
