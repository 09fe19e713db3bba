//! Long-term memory tools: `remember` keeps a short fact (with tags and the session it came from),
//! `recall` finds facts by their words, `forget` deletes one. The person sees and edits the same
//! memories in the settings; relevant ones also join each turn's context (see `agent`).

use schemars::JsonSchema;
use serde::Deserialize;

use std::sync::Arc;

use crate::api::{Effect, Event, MemoryId};
use crate::store::Store;
use crate::store::embed::Embeddings;
use crate::tool::{Tool, ToolCx, ToolError, ToolOutput};

/// Longest fact kept.
const MAX_MEMORY_CHARS: usize = 1_000;

fn storage(e: &crate::store::MemoryError) -> ToolError {
    ToolError::RespondToModel(format!("the memory store failed: {e}"))
}

/// Keeps a fact for later sessions (with its embedding when an endpoint is configured).
pub(crate) struct Remember(pub Store, pub Arc<Embeddings>);

/// Arguments of `remember`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RememberArgs {
    /// One short fact worth knowing in later conversations, written so it stands alone
    /// ("The person's cat is called Miso").
    pub text: String,
    /// A few words to group it by, e.g. ["pets"].
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Tool for Remember {
    type Args = RememberArgs;
    const NAME: &'static str = "remember";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Memory;

    fn description(&self) -> &'static str {
        "Keep a short fact about the person or their work for later conversations. Do not store secrets."
    }

    async fn call(&self, args: RememberArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let text = args.text.trim();
        if text.is_empty() || text.chars().count() > MAX_MEMORY_CHARS {
            return Err(ToolError::RespondToModel(format!(
                "a memory is one short fact of 1 to {MAX_MEMORY_CHARS} characters"
            )));
        }
        if cx.live.redacts(text) {
            return Err(ToolError::RespondToModel(
                "that looks like a secret (a key or token); secrets belong in the keychain, not in memory".into(),
            ));
        }
        let memory = self
            .0
            .add_memory(text, &args.tags, cx.session.as_ref())
            .await
            .map_err(|e| storage(&e))?;
        let id = memory.id.clone();
        match self.1.embed(text).await {
            Ok(Some(vector)) => {
                if let Err(e) = self.0.set_embedding(&id, &vector).await {
                    tracing::warn!("the memory's embedding was not kept: {e}");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("embeddings: {e}; the memory is found by its words"),
        }
        cx.live.event(Event::MemoryUpdated { memory });
        Ok(ToolOutput(format!("remembered (id {id})")))
    }
}

/// Finds facts kept earlier (by meaning when embeddings are configured, else by words).
pub(crate) struct Recall(pub Store, pub Arc<Embeddings>);

/// Arguments of `recall`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecallArgs {
    /// Words to look for.
    pub query: String,
    /// Most memories (default 10).
    #[serde(default)]
    pub limit: Option<usize>,
}

impl Tool for Recall {
    type Args = RecallArgs;
    const NAME: &'static str = "recall";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Memory;

    fn description(&self) -> &'static str {
        "Look up facts kept with `remember` in earlier conversations."
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: RecallArgs, _cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let found = self
            .0
            .recall(
                &args.query,
                args.limit.unwrap_or(10).clamp(1, 50),
                async || self.1.embed(&args.query).await.ok().flatten(),
            )
            .await
            .map_err(|e| storage(&e))?;
        if found.is_empty() {
            return Ok(ToolOutput(format!(
                "nothing remembered about {:?}",
                args.query
            )));
        }
        Ok(ToolOutput(
            found
                .iter()
                .map(|m| {
                    let tags = if m.tags.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", m.tags.join(", "))
                    };
                    format!(
                        "- {} (id {}, {}){tags}",
                        m.text,
                        m.id,
                        m.created_at.format("%Y-%m-%d")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ))
    }
}

/// Deletes a fact.
pub(crate) struct Forget(pub Store);

/// Arguments of `forget`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForgetArgs {
    /// The memory's id, as `recall` shows it.
    pub id: String,
}

impl Tool for Forget {
    type Args = ForgetArgs;
    const NAME: &'static str = "forget";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Memory;

    fn description(&self) -> &'static str {
        "Delete a fact kept with `remember` (when it is wrong or the person asks)."
    }

    async fn call(&self, args: ForgetArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let id = MemoryId(args.id.trim().to_owned());
        if self.0.delete_memory(&id).await.map_err(|e| storage(&e))? {
            cx.live.event(Event::MemoryDeleted { id: id.clone() });
            Ok(ToolOutput(format!("forgot {id}")))
        } else {
            Err(ToolError::RespondToModel(format!(
                "there is no memory {id}; use recall to find its id"
            )))
        }
    }
}
