//! `aetheria mcp`: add, remove and list MCP servers. Changes go through the engine's settings
//! command, so they are validated and written to `config.toml` exactly as the settings screen does.

use std::process::ExitCode;

use aetheria_engine::api::{Command, Event, McpState, Settings, SettingsCommand, ToolsCommand};
use aetheria_engine::config::McpServerConfig;

use super::CliError;
use super::ask::shutdown;
use super::manage::{request, start};
use crate::visible::for_terminal;

async fn settings(
    handle: &aetheria_engine::Handle,
    events: &mut aetheria_engine::Events,
) -> Result<Settings, CliError> {
    match request(
        handle,
        events,
        Command::Settings(SettingsCommand::Get),
        |e| matches!(e, Event::Settings { .. }),
    )
    .await?
    {
        Event::Settings { settings } => Ok(settings),
        _ => Err(CliError::new("unexpected answer")),
    }
}

async fn save(
    handle: &aetheria_engine::Handle,
    events: &mut aetheria_engine::Events,
    settings: Settings,
) -> Result<(), CliError> {
    request(
        handle,
        events,
        Command::Settings(SettingsCommand::Save { settings }),
        |e| matches!(e, Event::SettingsSaved { .. }),
    )
    .await
    .map(|_| ())
}

/// What `aetheria mcp add` was given.
pub(super) struct Add {
    pub name: String,
    pub url: Option<String>,
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub token_ref: Option<String>,
}

pub(super) async fn add(add: Add) -> Result<ExitCode, CliError> {
    let mut env = std::collections::BTreeMap::new();
    for pair in &add.env {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(CliError::new(format!("--env {pair:?} is not KEY=VALUE")));
        };
        env.insert(key.to_owned(), value.to_owned());
    }
    let mut words = add.command.into_iter();
    let server = McpServerConfig {
        command: words.next(),
        args: words.collect(),
        env,
        url: add.url,
        token_ref: add.token_ref,
        enabled: true,
    };
    let (handle, mut events) = start().await?;
    let result = async {
        let mut current = settings(&handle, &mut events).await?;
        if current.mcp_servers.contains_key(&add.name) {
            return Err(CliError::new(format!(
                "an MCP server named {:?} exists; remove it first",
                add.name
            )));
        }
        current.mcp_servers.insert(add.name.clone(), server);
        save(&handle, &mut events, current).await
    }
    .await;
    shutdown(&handle, events).await;
    result?;
    println!(
        "added MCP server {}; its tools are named {}__TOOL and ask before they run",
        add.name, add.name
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn rm(name: &str) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let result = async {
        let mut current = settings(&handle, &mut events).await?;
        if current.mcp_servers.remove(name).is_none() {
            return Err(CliError::new(format!(
                "there is no MCP server named {name:?}"
            )));
        }
        save(&handle, &mut events, current).await
    }
    .await;
    shutdown(&handle, events).await;
    result?;
    println!("removed MCP server {name}");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn list(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Tools(ToolsCommand::ListMcpServers),
        |e| matches!(e, Event::McpServers { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::McpServers { servers } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&servers)?);
        return Ok(ExitCode::SUCCESS);
    }
    if servers.is_empty() {
        println!(
            "no MCP servers; add one with `aetheria mcp add NAME -- COMMAND ARGS…` or `--url URL`"
        );
    }
    for s in servers {
        let state = match s.state {
            McpState::NotStarted => "not started".to_owned(),
            McpState::Running => format!("running, {} tools", s.tools.len()),
            McpState::Failed => "failed".to_owned(),
            McpState::Disabled => "off".to_owned(),
        };
        println!("{:<16} {:<20} {}", s.name, state, s.target);
        // What a server says (its error, its tools' names) is shown escaped.
        if let Some(error) = s.error {
            println!("{:<16} {}", "", for_terminal(&error));
        }
        for tool in s.tools {
            println!("{:<16}   {}", "", for_terminal(&tool));
        }
    }
    Ok(ExitCode::SUCCESS)
}
