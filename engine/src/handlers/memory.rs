//! Long-term memories: list, change, delete (the agent's own tools write them during turns).

use crate::api::{ErrorInfo, ErrorKind, Event, MemoryCommand};

use super::{Cx, storage};

pub(super) async fn handle(cx: Cx, command: MemoryCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    let store = &services.store;
    let missing = |id| ErrorInfo::new(ErrorKind::Missing, format!("no memory {id}"));
    match command {
        MemoryCommand::List => {
            let memories = store.memories().await.map_err(storage)?;
            out.emit(Event::Memories { memories });
        }
        MemoryCommand::Update { id, text, tags } => {
            if text.trim().is_empty() {
                return Err(ErrorInfo::new(
                    ErrorKind::Invalid,
                    "a memory cannot be empty; delete it instead",
                ));
            }
            let memory = store
                .update_memory(&id, &text, &tags)
                .await
                .map_err(storage)?
                .ok_or_else(|| missing(&id))?;
            if let Some(vector) = services.embed_or_log(&memory.text).await
                && let Err(e) = store.set_embedding(&memory.id, &vector).await
            {
                tracing::warn!("the memory's embedding was not kept: {e}");
            }
            out.emit(Event::MemoryUpdated { memory });
        }
        MemoryCommand::Delete { id } => {
            if !store.delete_memory(&id).await.map_err(storage)? {
                return Err(missing(&id));
            }
            out.emit(Event::MemoryDeleted { id });
        }
    }
    Ok(())
}
