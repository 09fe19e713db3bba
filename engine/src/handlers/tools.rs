//! Tools and MCP servers: list them, set a tool's policy, call one directly, list the workspace.

use crate::api::{ErrorInfo, ErrorKind, Event, ToolCallRequest, ToolsCommand};

use super::Cx;

pub(super) async fn handle(cx: Cx, command: ToolsCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    match command {
        ToolsCommand::List => {
            services.registry.mcp.start_all().await;
            out.emit(Event::ToolList {
                tools: services.registry.infos(&services.policies),
            });
        }
        ToolsCommand::SetPolicy { tool, policy } => {
            let Some(effect) = services.registry.get(&tool).map(|t| t.effect()) else {
                return Err(ErrorInfo::new(
                    ErrorKind::Missing,
                    format!("no tool named {tool:?}"),
                ));
            };
            let written = services.policies.remember(&tool, policy);
            out.emit(Event::ToolPolicyChanged {
                policy: services.policies.policy(&tool, effect),
                tool,
            });
            written.map_err(|e| {
                ErrorInfo::new(
                    ErrorKind::Storage,
                    format!(
                        "the choice holds until Aetheria stops, but could not be written down: {e}"
                    ),
                )
            })?;
        }
        ToolsCommand::RestartMcpServer { name } => {
            services.registry.mcp.restart(&name).await?;
            out.emit(Event::McpServers {
                servers: services.registry.mcp.infos(),
            });
        }
        ToolsCommand::ListMcpServers => {
            services.registry.mcp.start_all().await;
            out.emit(Event::McpServers {
                servers: services.registry.mcp.infos(),
            });
        }
        ToolsCommand::Call {
            call,
            tool,
            arguments,
        } => {
            let cancel = services.shutdown.child_token();
            let request = ToolCallRequest {
                id: call,
                wire_id: None,
                name: tool,
                arguments: arguments.to_string(),
            };
            // A failing tool is told by the call's `ToolCallFinished`, not as a failed command.
            let recorder = crate::agent::Recorder::new(services.store.clone(), None);
            let cx = crate::agent::CallCx {
                services,
                out,
                recorder: &recorder,
                answerer: &crate::agent::Answerer::person(),
                session: None,
                cancel: &cancel,
            };
            crate::agent::run_call(&cx, None, request).await;
        }
        ToolsCommand::ListFiles { path } => {
            let workspace = services.workspace();
            let asked = path.clone();
            let entries = tokio::task::spawn_blocking(move || workspace.list(&asked))
                .await
                .map_err(|e| ErrorInfo::new(ErrorKind::Internal, e.to_string()))?
                .map_err(|e| ErrorInfo::new(ErrorKind::Invalid, e.to_string()))?;
            out.emit(Event::FileList { path, entries });
        }
    }
    Ok(())
}
