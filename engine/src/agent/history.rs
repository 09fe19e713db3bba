//! The conversation as the provider sees it: the system prompt with the long-term memories
//! that share words (or meaning) with what the person just said, the stored messages with their
//! images, and a result for every tool call asked (an interrupted one says so). Calls go by the
//! provider's own ids on the wire.

use crate::api::{MessageRecord, Role, SessionId, ToolCallId, ToolCallRequest};
use crate::provider::ChatMessage;
use crate::services::Services;

use super::attachments;

/// Most memories added to a turn's context, and most characters they may take.
const MEMORIES_IN_CONTEXT: usize = 8;
const MEMORY_CONTEXT_CHARS: usize = 1_500;

/// What the model is told when the config sets no system prompt.
const DEFAULT_SYSTEM_PROMPT: &str = "You are Aetheria, a careful desktop assistant. Answer in concise markdown. \
Use the file tools to look at the person's workspace before you answer questions about it; paths are relative to the workspace. \
Never claim to have done something a tool did not confirm.";

/// The conversation so far, ending with what the person just said, as the provider sees it.
pub(super) async fn history(
    services: &Services,
    session: &SessionId,
    user: &MessageRecord,
) -> Result<Vec<ChatMessage>, crate::store::MemoryError> {
    // Long-term memories that share words (or meaning) with what the person just said.
    let recall = services
        .store
        .recall(&user.content, MEMORIES_IN_CONTEXT, async || {
            services.embed_or_log(&user.content).await
        });
    let ((messages, calls), found) =
        tokio::try_join!(services.store.conversation(session), recall)?;
    // Read while `user` is being stored, so it may or may not be among them: it goes last. The
    // first answer's row, stored with it, has no text yet and is left out below.
    let messages = messages
        .into_iter()
        .filter(|m| m.id != user.id)
        .chain([user.clone()]);
    let mut system = services
        .config()
        .system_prompt
        .unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_owned());
    // Within a size limit.
    let mut budget = MEMORY_CONTEXT_CHARS;
    let mut lines = Vec::new();
    for memory in found {
        let line = format!("- {}", memory.text);
        if line.len() > budget {
            break;
        }
        budget -= line.len();
        lines.push(line);
    }
    if !lines.is_empty() {
        system.push_str(
            "\n\nFrom earlier conversations you remember (use it when it helps; the person can edit these in settings):\n",
        );
        system.push_str(&lines.join("\n"));
    }
    let mut out = vec![ChatMessage::System(system)];
    for m in messages {
        match m.role {
            Role::User => {
                out.push(ChatMessage::User(attachments::wire_text(&m)));
                for path in &m.images {
                    match attachments::image_message(&services.config().data_dir, path).await {
                        Ok(image) => out.push(image),
                        Err(e) => {
                            tracing::warn!(path = %path.display(), %e, "an attached image is gone");
                            out.push(ChatMessage::User(format!(
                                "[an image attached here is no longer available: {e}]"
                            )));
                        }
                    }
                }
            }
            Role::Assistant => {
                if m.content.is_empty() && m.tool_calls.is_empty() {
                    continue;
                }
                let requested = m.tool_calls.clone();
                out.push(ChatMessage::Assistant {
                    content: m.content,
                    tool_calls: m.tool_calls.into_iter().map(on_wire).collect(),
                });
                // Every requested call needs a result, or providers reject the history.
                for c in requested {
                    let output = calls
                        .iter()
                        .find(|r| r.id == c.id)
                        .map(|r| r.output.clone())
                        .filter(|o| !o.is_empty())
                        .unwrap_or_else(|| "[no result: the call was interrupted]".to_owned());
                    out.push(ChatMessage::Tool {
                        call_id: wire_id(&c),
                        content: output,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The id the provider knows a call by: its own when it gave one.
pub(super) fn wire_id(call: &ToolCallRequest) -> ToolCallId {
    call.wire_id
        .as_deref()
        .map_or_else(|| call.id.clone(), ToolCallId::from)
}

/// A call as the provider knows it (see `wire_id`).
pub(super) fn on_wire(mut call: ToolCallRequest) -> ToolCallRequest {
    call.id = wire_id(&call);
    call.wire_id = None;
    call
}
