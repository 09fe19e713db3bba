//! Conversations: create, list, load, rename, delete, search.

use crate::agent::DEFAULT_TITLE;
use crate::api::{ErrorInfo, ErrorKind, Event, SessionCommand, SessionId};

use super::{Cx, storage};

pub(super) async fn handle(cx: Cx, command: SessionCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    let store = &services.store;
    let missing =
        |session: &SessionId| ErrorInfo::new(ErrorKind::Missing, format!("no session {session}"));
    match command {
        SessionCommand::Create { session, title } => {
            let summary = create(&cx, &session, title).await?;
            out.emit(Event::SessionCreated { session: summary });
        }
        SessionCommand::List => {
            let sessions = store.list_sessions().await.map_err(storage)?;
            out.emit(Event::SessionList { sessions });
        }
        SessionCommand::Load { session: id } => {
            let session = store
                .session(&id)
                .await
                .map_err(storage)?
                .ok_or_else(|| missing(&id))?;
            let (messages, mut tool_calls) = store.conversation(&id).await.map_err(storage)?;
            // Records older than their tool's family get it from the tool, if any.
            for call in tool_calls.iter_mut().filter(|c| c.kind.is_none()) {
                call.kind = services.registry.get(&call.tool).map(|t| t.kind());
            }
            // Completed with what a turn running there has said and not stored yet.
            services.turns.loaded(&id, messages, |messages| {
                out.emit(Event::SessionLoaded {
                    session,
                    messages,
                    tool_calls,
                });
            });
        }
        SessionCommand::Rename { session, title } => {
            let title = title.trim();
            if title.is_empty() {
                return Err(ErrorInfo::new(
                    ErrorKind::Invalid,
                    "a session title cannot be empty",
                ));
            }
            let summary = store
                .touch_session(&session, Some(title))
                .await
                .map_err(storage)?
                .ok_or_else(|| missing(&session))?;
            out.emit(Event::SessionUpdated { session: summary });
        }
        SessionCommand::Delete { session } => {
            services.turns.stop(&session).await;
            if !store.delete_session(&session).await.map_err(storage)? {
                return Err(missing(&session));
            }
            // Its browser goes with it, and the cookies and logins of its profile.
            services.connectors.browsers.forget(&session).await;
            out.emit(Event::SessionDeleted { session });
        }
        SessionCommand::Search { query, limit } => {
            let hits = store
                .search(&query, limit.unwrap_or(20).clamp(1, 200))
                .await
                .map_err(storage)?;
            out.emit(Event::SearchResults { query, hits });
        }
    }
    Ok(())
}

/// Creates a session (refused when one with that id exists).
pub(super) async fn create(
    cx: &Cx,
    session: &SessionId,
    title: Option<String>,
) -> Result<crate::api::SessionSummary, ErrorInfo> {
    let store = &cx.services.store;
    let title = title
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| DEFAULT_TITLE.to_owned());
    if store.session(session).await.map_err(storage)?.is_some() {
        return Err(ErrorInfo::new(
            ErrorKind::Conflict,
            format!("session {session} exists"),
        ));
    }
    store.create_session(session, &title).await.map_err(storage)
}
