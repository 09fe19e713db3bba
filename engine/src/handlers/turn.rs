//! The turn's commands: send a message (creating its session when asked), stop a turn, answer an
//! approval. A turn runs as a task of its own, registered in `Services::turns`.

use crate::api::{ErrorInfo, ErrorKind, Event, TurnCommand};
use crate::tool::registry::Answer;

use super::{Cx, sessions, storage};

pub(super) async fn handle(cx: Cx, command: TurnCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    match command {
        TurnCommand::Send {
            session,
            text,
            attachments,
            create,
            allow,
        } => {
            let exists = services
                .store
                .session_exists(&session)
                .await
                .map_err(storage)?;
            if !exists && !create {
                return Err(ErrorInfo::new(
                    ErrorKind::Missing,
                    format!("no session {session}"),
                ));
            }
            if text.trim().is_empty() && attachments.is_empty() {
                return Err(ErrorInfo::new(ErrorKind::Invalid, "the message is empty"));
            }
            if !exists {
                let summary = sessions::create(&cx, &session, None).await?;
                out.emit(Event::SessionCreated { session: summary });
            }
            let Some(cancel) = services.turns.begin(&session, &services.shutdown) else {
                return Err(ErrorInfo::new(
                    ErrorKind::Conflict,
                    "a turn is already running in this session; wait for it or stop it first",
                ));
            };
            let task = tokio::spawn(crate::agent::run_turn(
                services.clone(),
                out.clone(),
                session.clone(),
                text,
                attachments,
                crate::agent::Answerer::Person { allowed: allow },
                cancel,
            ));
            services.turns.track(&session, task);
        }
        // Any turn: the window's, the CLI's or a background job's.
        TurnCommand::Cancel { session } => {
            services.turns.cancel(&session);
        }
        TurnCommand::Approve {
            call,
            decision,
            remember,
            scope,
        } => {
            let answer = Answer {
                decision,
                remember,
                scope,
            };
            if !services.approvals.answer(&call, answer) {
                return Err(ErrorInfo::new(
                    ErrorKind::Missing,
                    format!("no tool call {call} waits for approval"),
                ));
            }
        }
    }
    Ok(())
}
