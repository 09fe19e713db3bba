//! The settings screen's smaller sections and the widgets they share: MCP servers, workspace
//! folders, appearance, the sandbox, a provider's models, and the caption, button and panel
//! shapes of every section.

use aetheria_engine::api::{McpServerInfo, McpState, ModelInfo, SandboxStatus, Settings};
use iced::widget::{button, column, container, row, scrollable, slider, text};
use iced::{Element, Fill, Length};

use super::Msg;
use crate::theme::{self, BOLD, ButtonKind, MONO, Mode, Palette};

/// How many of a server's last stderr lines are shown.
const STDERR_SHOWN: usize = 4;

/// MCP servers: each with its state, tools, last error, restarts and last stderr lines; adding
/// (the form below), on/off and remove take effect on Save, Restart at once.
pub(super) fn mcp_section<'a>(
    p: Palette,
    settings: &'a Settings,
    infos: Option<&'a [McpServerInfo]>,
) -> Element<'a, Msg> {
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
            restart.on_press(Msg::McpRestart(name.clone()))
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
                    .on_press(Msg::McpEdit(name.clone())),
                theme::action(p, ButtonKind::Secondary, toggle)
                    .on_press(Msg::McpEnabled(name.clone(), !server.enabled)),
                restart,
                theme::action(p, ButtonKind::Danger, "Remove")
                    .on_press(Msg::McpRemove(name.clone())),
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
                        .on_press(Msg::McpTry(super::mcp_try::TryMsg::Open(name.clone()))),
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

pub(super) fn folders<'a>(p: Palette, settings: &'a Settings) -> Element<'a, Msg> {
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
                theme::action(p, ButtonKind::Danger, "Remove").on_press(Msg::RemoveFolder(i)),
            ]
            .spacing(8)
            .align_y(iced::Center),
        );
    }
    col.push(theme::action(p, ButtonKind::Secondary, "Add folder…").on_press(Msg::AddFolder))
        .into()
}

pub(super) fn appearance<'a>(p: Palette, mode: Mode, font_size: f32) -> Element<'a, Msg> {
    let theme_button = |caption: &'static str, which: Mode| {
        button(text(caption).font(BOLD).size(13))
            .padding([6, 10])
            .style(theme::button(
                p,
                ButtonKind::Item {
                    selected: mode == which,
                },
            ))
            .on_press(Msg::Theme(which))
    };
    column![
        section("APPEARANCE"),
        row![
            theme_button("Light", Mode::Light),
            theme_button("God Mode", Mode::GodMode)
        ]
        .spacing(8),
        row![
            text(format!("Text size {font_size:.0}"))
                .size(13)
                .width(Length::Fixed(110.0)),
            slider(12.0..=22.0, font_size, Msg::FontSize).step(1.0),
        ]
        .spacing(8)
        .align_y(iced::Center),
    ]
    .spacing(8)
    .into()
}

pub(super) fn section(caption: &str) -> Element<'_, Msg> {
    text(caption).font(BOLD).size(12).into()
}

pub(super) fn panel<'a>(p: Palette, content: Element<'a, Msg>) -> Element<'a, Msg> {
    container(content)
        .padding(24)
        .width(Length::Fixed(720.0))
        .height(Length::Fixed(640.0))
        .style(move |_| theme::block(&p, p.surface))
        .into()
}

/// Which isolation runs code (set in config.toml's `[sandbox]`; the image is built from the
/// Sandbox tab or `aetheria sandbox build-image`).
pub(super) fn sandbox_section(p: Palette, status: Option<&SandboxStatus>) -> Element<'_, Msg> {
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

/// The provider's models as buttons: id, window, and what it takes.
pub(super) fn model_choices<'a>(
    p: Palette,
    models: &'a [ModelInfo],
    current: &str,
) -> Element<'a, Msg> {
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
                .on_press(Msg::Model(m.id.clone())),
        );
    }
    scrollable(list.wrap()).height(Length::Shrink).into()
}
