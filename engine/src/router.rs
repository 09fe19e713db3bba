//! The router: the task that takes every submitted command and answers it. It starts turns
//! (registered in `Shared::turns`, with every other turn, one per session, each with its
//! cancellation token) and keeps their tasks to wait for at shutdown. Each turn runs as its own
//! task (the session's actor while it lives), so `Cancel`, `Approve` and other sessions'
//! commands are handled while a turn streams.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::agent;
use crate::api::{Command, ErrorKind, Event, Policy, SessionId, Submission, SubmissionId};
use crate::engine::{DEFAULT_TITLE, Shared};
use crate::tool::registry::Answer;

pub(crate) struct Router {
    shared: Arc<Shared>,
    /// The tasks of the turns this router started (the turns themselves are in `Shared::turns`).
    turns: HashMap<SessionId, JoinHandle<()>>,
    direct_calls: Vec<JoinHandle<()>>,
}

impl Router {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            turns: HashMap::new(),
            direct_calls: Vec::new(),
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Submission>) {
        while let Some(Submission { id, command }) = rx.recv().await {
            self.turns.retain(|_, t| !t.is_finished());
            self.direct_calls.retain(|t| !t.is_finished());
            if matches!(command, Command::Shutdown) {
                break;
            }
            self.handle(id, command).await;
        }
        self.shutdown().await;
        // Close the database before the event stream ends, so a front end that exits when the
        // stream ends never cuts the store's close short.
        let events = self.shared.outbox();
        let lock_file = self.shared.store.lock_file();
        drop(self);
        crate::store::wait_closed(lock_file).await;
        drop(events);
    }

    async fn shutdown(&mut self) {
        self.shared.shutdown.cancel();
        self.shared.registry.mcp.stop_all().await;
        // Every turn's token is a child of the shutdown token, cancelled above.
        for (_, task) in self.turns.drain() {
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                tracing::warn!("a turn did not stop within 5 s of shutdown");
            }
        }
        self.shared.voice.shutdown().await;
        for call in self.direct_calls.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), call).await;
        }
        // Sandboxes go with the app; a crash leaves them for the next start to sweep.
        if tokio::time::timeout(Duration::from_secs(20), self.shared.sandboxes.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("removing sandboxes took longer than 20 s at shutdown");
        }
    }

    fn fail(&self, submission: SubmissionId, kind: ErrorKind, message: impl AsRef<str>) {
        self.shared
            .answering(submission)
            .fail(self.shared.error(kind, message));
    }

    async fn handle(&mut self, id: SubmissionId, command: Command) {
        let shared = self.shared.clone();
        let out = shared.answering(id);
        let store = &shared.store;
        match command {
            Command::CreateSession { session, title } => {
                let title = title
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| DEFAULT_TITLE.to_owned());
                match store.session(&session).await {
                    Ok(Some(_)) => {
                        self.fail(id, ErrorKind::Conflict, format!("session {session} exists"));
                    }
                    Ok(None) => match store.create_session(&session, &title).await {
                        Ok(summary) => out.emit(Event::SessionCreated { session: summary }),
                        Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
                    },
                    Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
                }
            }
            Command::ListSessions => match store.list_sessions().await {
                Ok(sessions) => out.emit(Event::SessionList { sessions }),
                Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
            },
            Command::LoadSession { session } => {
                let loaded = async {
                    let Some(summary) = store.session(&session).await? else {
                        return Ok(None);
                    };
                    let (messages, tool_calls) = store.conversation(&session).await?;
                    Ok::<_, crate::store::MemoryError>(Some((summary, messages, tool_calls)))
                }
                .await;
                match loaded {
                    Ok(Some((session, messages, mut tool_calls))) => {
                        // Records older than their tool's family get it from the tool, if any.
                        for call in tool_calls.iter_mut().filter(|c| c.kind.is_none()) {
                            call.kind = shared.registry.get(&call.tool).map(|t| t.kind());
                        }
                        out.emit(Event::SessionLoaded {
                            session,
                            messages,
                            tool_calls,
                        });
                    }
                    Ok(None) => self.fail(id, ErrorKind::Missing, format!("no session {session}")),
                    Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
                }
            }
            Command::RenameSession { session, title } => {
                let title = title.trim();
                if title.is_empty() {
                    self.fail(id, ErrorKind::Invalid, "a session title cannot be empty");
                    return;
                }
                match store.touch_session(&session, Some(title)).await {
                    Ok(Some(summary)) => out.emit(Event::SessionUpdated { session: summary }),
                    Ok(None) => self.fail(id, ErrorKind::Missing, format!("no session {session}")),
                    Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
                }
            }
            Command::DeleteSession { session } => {
                shared.turns.cancel(&session);
                if let Some(task) = self.turns.remove(&session) {
                    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
                }
                match store.delete_session(&session).await {
                    Ok(true) => out.emit(Event::SessionDeleted { session }),
                    Ok(false) => self.fail(id, ErrorKind::Missing, format!("no session {session}")),
                    Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
                }
            }
            Command::SendMessage {
                session,
                text,
                attachments,
            } => {
                match store.session_exists(&session).await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.fail(id, ErrorKind::Missing, format!("no session {session}"));
                        return;
                    }
                    Err(e) => {
                        self.fail(id, ErrorKind::Storage, e.to_string());
                        return;
                    }
                }
                if text.trim().is_empty() && attachments.is_empty() {
                    self.fail(id, ErrorKind::Invalid, "the message is empty");
                    return;
                }
                let Some(cancel) = shared.turns.begin(&session, &shared.shutdown) else {
                    self.fail(
                        id,
                        ErrorKind::Conflict,
                        "a turn is already running in this session; wait for it or stop it first",
                    );
                    return;
                };
                let task = tokio::spawn(agent::run_turn(
                    shared.clone(),
                    out,
                    session.clone(),
                    text,
                    attachments,
                    cancel,
                ));
                self.turns.insert(session, task);
            }
            Command::Cancel { session } => {
                // Any turn: the window's, the CLI's or a background job's.
                shared.turns.cancel(&session);
            }
            Command::Approve {
                call,
                decision,
                remember,
                scope,
            } => {
                let delivered = shared.approvals.answer(
                    &call,
                    Answer {
                        decision,
                        remember,
                        scope,
                    },
                );
                if !delivered {
                    self.fail(
                        id,
                        ErrorKind::Missing,
                        format!("no tool call {call} waits for approval"),
                    );
                }
            }
            Command::SetToolPolicy { tool, policy } => {
                self.set_policy(id, &tool, policy).await;
            }
            Command::ListTools => {
                self.direct_calls.push(tokio::spawn(async move {
                    shared.registry.mcp.start_all().await;
                    out.emit(Event::ToolList {
                        tools: shared.registry.infos(&shared.policies),
                    });
                }));
            }
            Command::SearchHistory { query, limit } => {
                self.direct_calls.push(tokio::spawn(async move {
                    match shared
                        .store
                        .search(&query, limit.unwrap_or(20).clamp(1, 200))
                        .await
                    {
                        Ok(hits) => out.emit(Event::SearchResults { query, hits }),
                        Err(e) => out.fail(shared.error(ErrorKind::Storage, e.to_string())),
                    }
                }));
            }
            Command::SubmitJob { .. }
            | Command::ListJobs { .. }
            | Command::GetJob { .. }
            | Command::CancelJob { .. }
            | Command::AddSchedule { .. }
            | Command::ListSchedules
            | Command::RemoveSchedule { .. } => {
                self.direct_calls.push(tokio::spawn(async move {
                    if let Err(e) = crate::jobs::command(&shared, &out, command).await {
                        out.fail(e);
                    }
                }));
            }
            Command::ListMemories => match shared.store.memories().await {
                Ok(memories) => out.emit(Event::Memories { memories }),
                Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
            },
            Command::UpdateMemory {
                id: memory,
                text,
                tags,
            } => {
                if text.trim().is_empty() {
                    self.fail(
                        id,
                        ErrorKind::Invalid,
                        "a memory cannot be empty; delete it instead",
                    );
                } else {
                    match shared.store.update_memory(&memory, &text, &tags).await {
                        Ok(Some(memory)) => {
                            if let Some(vector) = shared.embed_or_log(&memory.text).await
                                && let Err(e) =
                                    shared.store.set_embedding(&memory.id, &vector).await
                            {
                                tracing::warn!("the memory's embedding was not kept: {e}");
                            }
                            out.emit(Event::MemoryUpdated { memory });
                        }
                        Ok(None) => {
                            self.fail(id, ErrorKind::Missing, format!("no memory {memory}"));
                        }
                        Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
                    }
                }
            }
            Command::DeleteMemory { id: memory } => match shared.store.delete_memory(&memory).await
            {
                Ok(true) => out.emit(Event::MemoryDeleted { id: memory }),
                Ok(false) => self.fail(id, ErrorKind::Missing, format!("no memory {memory}")),
                Err(e) => self.fail(id, ErrorKind::Storage, e.to_string()),
            },
            Command::ListMcpServers => {
                self.direct_calls.push(tokio::spawn(async move {
                    shared.registry.mcp.start_all().await;
                    out.emit(Event::McpServers {
                        servers: shared.registry.mcp.infos(),
                    });
                }));
            }
            Command::GetSettings => out.emit(Event::Settings {
                settings: crate::settings::current(&shared),
            }),
            Command::SaveSettings { settings } => {
                match crate::settings::save(&shared, settings).await {
                    Ok(settings) => out.emit(Event::SettingsSaved { settings }),
                    Err(error) => out.fail(error),
                }
            }
            Command::StoreKey { provider, key } => {
                self.direct_calls.push(tokio::spawn(async move {
                    match crate::settings::store_key(&shared, &provider, key).await {
                        Ok(()) => out.emit(Event::KeyStored { provider }),
                        Err(error) => out.fail(error),
                    }
                }));
            }
            Command::TestProvider { provider } => {
                self.direct_calls.push(tokio::spawn(async move {
                    let result = crate::settings::test(&shared, provider).await;
                    out.emit(result);
                }));
            }
            Command::ListModels { provider } => {
                self.direct_calls.push(tokio::spawn(async move {
                    match crate::settings::models(&shared, provider).await {
                        Ok(event) => out.emit(event),
                        Err(error) => out.fail(error),
                    }
                }));
            }
            Command::DetectLocalServers => {
                self.direct_calls.push(tokio::spawn(async move {
                    out.emit(crate::settings::detect().await);
                }));
            }
            Command::ListFiles { path } => {
                let workspace = shared.workspace();
                let asked = path.clone();
                let listed = tokio::task::spawn_blocking(move || workspace.list(&asked)).await;
                match listed {
                    Ok(Ok(entries)) => out.emit(Event::FileList { path, entries }),
                    Ok(Err(e)) => self.fail(id, ErrorKind::Invalid, e.to_string()),
                    Err(e) => self.fail(id, ErrorKind::Internal, e.to_string()),
                }
            }
            Command::CallTool {
                call,
                tool,
                arguments,
            } => {
                let cancel = shared.shutdown.child_token();
                let request = crate::api::ToolCallRequest {
                    id: call,
                    wire_id: None,
                    name: tool,
                    arguments: arguments.to_string(),
                };
                let task = tokio::spawn(async move {
                    // A fatal tool error ends a direct call the same way: its finish event says so.
                    let _ = agent::run_call(&shared, &out, None, None, request, &cancel).await;
                });
                self.direct_calls.push(task);
            }
            Command::SandboxStatus => {
                self.direct_calls.push(tokio::spawn(async move {
                    let status = shared.sandboxes.status().await;
                    out.emit(Event::SandboxStatus { status });
                }));
            }
            Command::BuildSandboxImage => {
                self.direct_calls.push(tokio::spawn(async move {
                    let events = out.clone();
                    let mut progress = |p: aetheria_sandbox::image::Progress| {
                        let (message, fraction) = match p {
                            aetheria_sandbox::image::Progress::Step { message } => (message, None),
                            aetheria_sandbox::image::Progress::Import { sent, total } => (
                                format!(
                                    "importing the root filesystem: {} of {} MiB",
                                    sent >> 20,
                                    total >> 20
                                ),
                                Some(if total == 0 {
                                    1.0
                                } else {
                                    sent as f32 / total as f32
                                }),
                            ),
                            aetheria_sandbox::image::Progress::Done { image } => {
                                (format!("ready: {image}"), Some(1.0))
                            }
                            _ => return,
                        };
                        events.emit(Event::SandboxImageProgress { message, fraction });
                    };
                    match shared.sandboxes.build_image(&mut progress).await {
                        Ok(_) => {
                            let status = shared.sandboxes.status().await;
                            out.emit(Event::SandboxStatus { status });
                        }
                        Err(e) => out.fail(shared.error(ErrorKind::Unavailable, e.to_string())),
                    }
                }));
            }
            Command::ListSandboxes => {
                self.direct_calls.push(tokio::spawn(async move {
                    match shared.sandboxes.list().await {
                        Ok(sandboxes) => out.emit(Event::SandboxList { sandboxes }),
                        Err(e) => out.fail(shared.error(ErrorKind::Unavailable, e.to_string())),
                    }
                }));
            }
            Command::RemoveSandboxes { ids } => {
                self.direct_calls.push(tokio::spawn(async move {
                    match shared.sandboxes.remove(&ids).await {
                        Ok(ids) => out.emit(Event::SandboxesRemoved { ids }),
                        Err(e) => out.fail(shared.error(ErrorKind::NotFound, e.to_string())),
                    }
                }));
            }
            Command::ListLocalModels
            | Command::AddLocalModel { .. }
            | Command::RemoveLocalModel { .. } => {
                self.direct_calls
                    .push(tokio::spawn(crate::local::command(shared, out, command)));
            }
            Command::Voice(command) => {
                self.direct_calls
                    .push(tokio::spawn(crate::voice::command(shared, out, command)));
            }
            Command::Shutdown => {}
        }
    }

    async fn set_policy(&self, id: SubmissionId, tool: &str, policy: Policy) {
        let shared = &self.shared;
        if shared.registry.get(tool).is_none() {
            self.fail(id, ErrorKind::Missing, format!("no tool named {tool:?}"));
            return;
        }
        if let Err(e) = shared.policies.remember(tool, policy) {
            self.fail(
                id,
                ErrorKind::Storage,
                format!(
                    "the choice holds until Aetheria stops, but could not be written down: {e}"
                ),
            );
        }
        let effect = shared.registry.get(tool).map(|t| t.effect());
        let now = effect.map_or(policy, |e| shared.policies.policy(tool, e));
        shared.answering(id).emit(Event::ToolPolicyChanged {
            tool: tool.to_owned(),
            policy: now,
        });
    }
}
