//! One tool call from start to end: it is announced, passed through the gate, run (stopped with
//! the turn), redacted, recorded and reported. A failing tool never ends the turn: the model reads
//! why and goes on.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::api::{Event, MessageId, SessionId, ToolCallRecord, ToolCallRequest, ToolStatus};
use crate::outbox::Outbox;
use crate::services::Services;
use crate::tool::{LiveOutput, ToolCx, ToolError, truncate_output};

use super::gate::{Answerer, ToolGate, Verdict};
use super::recorder::Recorder;

/// Where a call belongs and who answers for it.
pub(crate) struct CallCx<'a> {
    pub services: &'a Services,
    pub out: &'a Outbox,
    pub recorder: &'a Recorder,
    pub answerer: &'a Answerer,
    /// The session (none for a tool the person called directly).
    pub session: Option<&'a SessionId>,
    pub cancel: &'a CancellationToken,
}

/// Runs one tool call; how it ended, the text the model gets and the images it produced (as
/// kept in the data folder).
pub(crate) async fn run_call(
    cx: &CallCx<'_>,
    message: Option<MessageId>,
    call: ToolCallRequest,
) -> (ToolStatus, String, Vec<PathBuf>) {
    let services = cx.services;
    let mut record = ToolCallRecord {
        id: call.id.clone(),
        message,
        tool: call.name.clone(),
        kind: None,
        arguments: call.arguments.clone(),
        status: ToolStatus::Running,
        output: String::new(),
        log: String::new(),
        images: Vec::new(),
    };
    let live = LiveOutput::new(call.id.clone(), cx.out.clone(), services.secrets.redactor());
    let tool_cx = || ToolCx {
        workspace: services.workspace(),
        cancel: cx.cancel.clone(),
        session: cx.session.cloned(),
        live: live.clone(),
    };
    // An MCP server's tools are known once it runs: start servers not yet started.
    if services.registry.get(&call.name).is_none() {
        services.registry.mcp.start_all().await;
    }
    let tool = services.registry.get(&call.name);
    record.kind = tool.as_ref().map(|t| t.kind());
    cx.out.emit(Event::ToolCallStarted {
        session: cx.session.cloned(),
        call: call.id.clone(),
        tool: call.name.clone(),
        kind: record.kind,
        arguments: call.arguments.clone(),
    });
    let (status, output) = match tool {
        None => {
            let names: Vec<String> = services
                .registry
                .infos(&services.policies)
                .into_iter()
                .map(|t| t.name)
                .collect();
            (
                ToolStatus::Failed,
                format!(
                    "there is no tool named {:?}; the tools are: {}",
                    call.name,
                    names.join(", ")
                ),
            )
        }
        Some(tool) => match ToolGate(cx).admit(&call, &tool, &mut record, tool_cx).await {
            Verdict::Refused(status, why) => (status, why),
            Verdict::Run => {
                record.status = ToolStatus::Running;
                cx.recorder.tool_call(&record).await;
                let result = tokio::select! {
                    () = cx.cancel.cancelled() => None,
                    result = tool.call_json(&call.arguments, tool_cx()) => Some(result),
                };
                match result {
                    None => (
                        ToolStatus::Cancelled,
                        "the turn was stopped while the tool ran".into(),
                    ),
                    Some(Ok(output)) => (ToolStatus::Succeeded, output.0),
                    Some(Err(ToolError::RespondToModel(message))) => {
                        (ToolStatus::Failed, format!("error: {message}"))
                    }
                }
            }
        },
    };
    record.status = status;
    record.output = services.redact(&truncate_output(output));
    record.log = live.log();
    record.images = keep_images(services, &live).await;
    cx.recorder.tool_call(&record).await;
    cx.out.emit(Event::ToolCallFinished {
        session: cx.session.cloned(),
        call: call.id.clone(),
        status: record.status,
        output: record.output.clone(),
        images: record.images.clone(),
    });
    (record.status, record.output, record.images)
}

/// Keeps the images a call produced with the person's attachments; one that cannot be written is
/// logged and left out (the call's text already says it had an image).
async fn keep_images(services: &Services, live: &LiveOutput) -> Vec<PathBuf> {
    let images = live.take_images();
    if images.is_empty() {
        return Vec::new();
    }
    match super::attachments::keep(&services.config().data_dir, images).await {
        Ok(kept) => kept,
        Err(e) => {
            tracing::warn!("a tool's images could not be kept: {e}");
            Vec::new()
        }
    }
}
