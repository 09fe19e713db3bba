//! The agent turn: store the user message, then loop — stream from the provider (persisting the
//! answer as it arrives), run the tool calls it asks for (concurrently, each through the approval
//! policy), feed the results back — until a final answer, the step limit, a failure or a cancel.

mod attachments;
mod history;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::api::{
    Decision, Effect, ErrorInfo, ErrorKind, Event, FinishReason, MessageId, MessageRecord,
    MessageStatus, Policy, Role, SessionId, ToolCallId, ToolCallRecord, ToolCallRequest,
    ToolStatus, Usage,
};
use crate::engine::{DEFAULT_TITLE, Shared};
use crate::outbox::Outbox;
use crate::provider::{ChatMessage, Request, ResponseEvent};
use crate::tool::{LiveOutput, Scope, ToolCx, ToolError, truncate_output};

use self::history::{history, on_wire, wire_id};

/// How many times a refused request is asked again before the turn fails.
const MAX_RETRIES: u32 = 3;
/// The longest wait between tries, whatever the server asks.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// How often streamed text is written to the database while it arrives.
const FLUSH_EVERY: Duration = Duration::from_millis(150);

/// What every step of a turn works with.
#[derive(Clone, Copy)]
struct TurnCx<'a> {
    shared: &'a Arc<Shared>,
    /// Where the turn's events go (stamped with the submission that started it, if any).
    out: &'a Outbox,
    session: &'a SessionId,
    cancel: &'a CancellationToken,
}

enum TurnEnd {
    Finished(MessageId, FinishReason),
    Failed(ErrorInfo),
    Cancelled,
}

/// Runs one turn and emits exactly one of `TurnFinished`, `TurnFailed`, `TurnCancelled`.
pub(crate) async fn run_turn(
    shared: Arc<Shared>,
    out: Outbox,
    session: SessionId,
    text: String,
    attachments: Vec<PathBuf>,
    cancel: CancellationToken,
) {
    let mut usage = Usage::default();
    let mut first_words = None;
    let cx = TurnCx {
        shared: &shared,
        out: &out,
        session: &session,
        cancel: &cancel,
    };
    let end = turn(cx, text, &attachments, &mut usage, &mut first_words).await;
    shared.turns.end(&session);
    match end {
        TurnEnd::Finished(message, finish_reason) => {
            out.emit(Event::TurnFinished {
                session: session.clone(),
                message,
                usage,
                finish_reason,
            });
            auto_title(&shared, &out, &session, first_words).await;
        }
        TurnEnd::Failed(error) => {
            if error.kind == ErrorKind::Auth {
                // The key may be fixed meanwhile (`aetheria auth set`): read it again next turn.
                shared.forget_client().await;
            }
            let error = shared.error(error.kind, &error.message);
            out.emit(Event::TurnFailed { session, error });
        }
        TurnEnd::Cancelled => out.emit(Event::TurnCancelled { session }),
    }
}

/// Runs a turn; `first_words` gets what the person said when it is the first thing said in the
/// session (for its title).
async fn turn(
    cx: TurnCx<'_>,
    text: String,
    attachments: &[PathBuf],
    usage: &mut Usage,
    first_words: &mut Option<String>,
) -> TurnEnd {
    let TurnCx {
        shared,
        out,
        session,
        ..
    } = cx;
    let (content, images) = match attachments::with_attachments(shared, text, attachments).await {
        Ok(attached) => attached,
        Err(error) => return TurnEnd::Failed(error),
    };
    let user = MessageRecord {
        id: MessageId::new(),
        role: Role::User,
        content,
        tool_calls: vec![],
        images,
        thinking: String::new(),
        status: MessageStatus::Complete,
        created_at: Utc::now(),
    };
    // The message is stored (with the row of the first answer, the session touched: one write)
    // while the history is read and the model asked. Nothing of the turn is shown before it is
    // stored (`TurnStarted` says it is), and the turn does not end before it is.
    let first = assistant_row();
    let mut stored = Stored {
        write: Write::spawn({
            let (shared, session, user, first) =
                (shared.clone(), session.clone(), user.clone(), first.clone());
            async move {
                shared
                    .store
                    .add_user_message(&session, &user, Some(&first))
                    .await
            }
        }),
        message: user.id.clone(),
        answer: Some(first),
    };
    let history = history(shared, session, &user).await;
    if let Ok(history) = &history
        && history
            .iter()
            .filter(|m| matches!(m, ChatMessage::User(_)))
            .count()
            == 1
    {
        *first_words = Some(user.content.clone());
    }
    let end = match history {
        Ok(history) => answer(cx, history, &mut stored, usage).await,
        Err(e) => TurnEnd::Failed(ErrorInfo::new(ErrorKind::Storage, e.to_string())),
    };
    if let Err(error) = stored.wait(out, session).await {
        return TurnEnd::Failed(error);
    }
    // The turn ended before it streamed: the row of its answer goes.
    if let Some(unused) = stored.answer.take() {
        logged(shared.store.delete_message(&unused.id).await);
    }
    end
}

/// The row of an answer about to stream.
fn assistant_row() -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        role: Role::Assistant,
        content: String::new(),
        tool_calls: vec![],
        images: vec![],
        thinking: String::new(),
        status: MessageStatus::Streaming,
        created_at: Utc::now(),
    }
}

/// The model's answer to the history, with the tool calls it asks for, step after step.
async fn answer(
    cx: TurnCx<'_>,
    mut history: Vec<ChatMessage>,
    stored: &mut Stored,
    usage: &mut Usage,
) -> TurnEnd {
    let TurnCx {
        shared,
        out,
        session,
        cancel,
    } = cx;
    let storage = |e: crate::store::MemoryError| {
        TurnEnd::Failed(ErrorInfo::new(ErrorKind::Storage, e.to_string()))
    };
    let client = match shared.client().await {
        Ok(c) => c,
        Err(e) => return TurnEnd::Failed(e),
    };

    let max_steps = shared.config().max_steps;
    let window = shared
        .config()
        .effective_provider()
        .map_or(32_768, |p| crate::provider::catalog::context_window(&p));
    for _step in 0..max_steps {
        // Fit the model's window before asking: old tool outputs shrink, older turns get summarised.
        match crate::compaction::fit(
            client.as_ref(),
            &mut history,
            crate::compaction::budget(window),
        )
        .await
        {
            Ok(Some(done)) => {
                if let Err(e) = stored.wait(out, session).await {
                    return TurnEnd::Failed(e);
                }
                out.emit(Event::ContextCompacted {
                    session: session.clone(),
                    detail: done.describe(),
                });
            }
            Ok(None) => {}
            Err(e) => return TurnEnd::Failed(e.to_info()),
        }
        shared.registry.mcp.start_all().await;
        let mut request = Request {
            messages: history.clone(),
            tools: shared.registry.specs(&shared.policies),
        };
        let mut stream = client.stream(request.clone());
        if let Err(e) = stored.wait(out, session).await {
            return TurnEnd::Failed(e);
        }
        // The first answer's row was written with the person's message. A later step's is
        // written while the request goes out and the answer streams in; it is awaited before
        // anything updates it.
        let (assistant, mut row) = match stored.answer.take() {
            Some(first) => (first, Write(None)),
            None => {
                let assistant = assistant_row();
                let row = Write::spawn({
                    let (shared, session, assistant) =
                        (shared.clone(), session.clone(), assistant.clone());
                    async move { shared.store.insert_message(&session, &assistant).await }
                });
                (assistant, row)
            }
        };
        let mut attempt = 0u32;
        let mut overflowed = false;
        let mut text = String::new();
        let mut thinking = String::new();
        let mut calls: Vec<ToolCallRequest> = Vec::new();
        let mut finish_reason = FinishReason::Stop;
        let mut flushed_len = 0;
        let mut last_flush = Instant::now();
        // An event read ahead while joining text deltas, handled next.
        let mut ahead = None;
        let outcome: Result<(), TurnEnd> = loop {
            let next = match ahead.take() {
                Some(next) => next,
                None => tokio::select! {
                    biased;
                    () = cancel.cancelled() => break Err(TurnEnd::Cancelled),
                    next = stream.next() => next,
                },
            };
            match next {
                Some(Ok(ResponseEvent::TextDelta(mut delta))) => {
                    // Deltas that already arrived go out as one event: the same text, less work
                    // per token for the engine and the window.
                    while let Some(more) = stream.next().now_or_never() {
                        match more {
                            Some(Ok(ResponseEvent::TextDelta(more))) => delta.push_str(&more),
                            other => {
                                ahead = Some(other);
                                break;
                            }
                        }
                    }
                    text.push_str(&delta);
                    out.emit(Event::TextDelta {
                        session: session.clone(),
                        message: assistant.id.clone(),
                        delta,
                    });
                    if last_flush.elapsed() >= FLUSH_EVERY && text.len() != flushed_len {
                        if let Err(e) = row.done().await {
                            break Err(TurnEnd::Failed(e));
                        }
                        // Batched: a crash loses at most the last FLUSH_EVERY of text. Only the
                        // text since the last checkpoint is written; a failed write's text goes
                        // with the next one.
                        let appended = shared
                            .store
                            .append_message_text(
                                session,
                                &assistant.id,
                                flushed_len,
                                &text[flushed_len..],
                            )
                            .await;
                        if appended.is_ok() {
                            flushed_len = text.len();
                        }
                        logged(appended);
                        last_flush = Instant::now();
                    }
                }
                Some(Ok(ResponseEvent::ThinkingDelta(delta))) => {
                    thinking.push_str(&delta);
                    out.emit(Event::ThinkingDelta {
                        session: session.clone(),
                        message: assistant.id.clone(),
                        delta,
                    });
                }
                // The provider's id goes to the wire only; the engine names the call itself.
                Some(Ok(ResponseEvent::ToolCall(mut call))) => {
                    call.wire_id = Some(call.id.to_string());
                    call.id = ToolCallId::new();
                    calls.push(call);
                }
                Some(Ok(ResponseEvent::Usage(u))) => {
                    usage.input_tokens += u.input_tokens;
                    usage.output_tokens += u.output_tokens;
                }
                Some(Ok(ResponseEvent::Finished { reason })) => {
                    finish_reason = FinishReason::from_wire(&reason);
                    break Ok(());
                }
                None => break Ok(()),
                Some(Err(e))
                    if !overflowed
                        && text.is_empty()
                        && calls.is_empty()
                        && crate::compaction::is_overflow(&e) =>
                {
                    // The estimate was too kind: compact to half and ask once more.
                    overflowed = true;
                    let half = crate::compaction::estimate(&history) / 2;
                    match crate::compaction::fit(client.as_ref(), &mut history, half).await {
                        Ok(done) => {
                            if let Some(done) = done {
                                out.emit(Event::ContextCompacted {
                                    session: session.clone(),
                                    detail: done.describe(),
                                });
                            }
                            request.messages = history.clone();
                            ahead = None;
                            stream = client.stream(request.clone());
                        }
                        Err(e) => break Err(TurnEnd::Failed(e.to_info())),
                    }
                }
                Some(Err(e)) => {
                    // A refusal before any output is asked again, after the wait the server named
                    // (else 1, 2, 4 s); output already shown is never thrown away.
                    let nothing_yet = text.is_empty() && calls.is_empty();
                    match e.retry().filter(|_| nothing_yet && attempt < MAX_RETRIES) {
                        Some(hint) => {
                            attempt += 1;
                            let wait = hint
                                .unwrap_or(Duration::from_secs(1 << (attempt - 1)))
                                .min(MAX_RETRY_WAIT);
                            out.emit(Event::ProviderRetrying {
                                session: session.clone(),
                                attempt,
                                wait_secs: wait.as_secs(),
                                reason: shared.redact(&e.to_string()),
                            });
                            tokio::select! {
                                () = cancel.cancelled() => break Err(TurnEnd::Cancelled),
                                () = tokio::time::sleep(wait) => {}
                            }
                            ahead = None;
                            stream = client.stream(request.clone());
                        }
                        None => break Err(TurnEnd::Failed(e.to_info())),
                    }
                }
            }
        };
        drop(stream);
        let written = row.done().await.map(drop);
        if !thinking.is_empty() && written.is_ok() {
            logged(shared.store.set_thinking(&assistant.id, &thinking).await);
        }
        if let Err(end) = outcome {
            if let Err(e) = &written {
                tracing::warn!("the answer's row: {}", e.message);
            }
            let status = match end {
                TurnEnd::Cancelled => MessageStatus::Cancelled,
                _ => MessageStatus::Failed,
            };
            logged(
                shared
                    .store
                    .update_message(&assistant.id, &text, &[], status)
                    .await,
            );
            return end;
        }
        if let Err(e) = written {
            return TurnEnd::Failed(e);
        }
        if let Err(e) = shared
            .store
            .update_message(&assistant.id, &text, &calls, MessageStatus::Complete)
            .await
        {
            return storage(e);
        }
        if calls.is_empty() {
            return TurnEnd::Finished(assistant.id, finish_reason);
        }
        history.push(ChatMessage::Assistant {
            content: text,
            tool_calls: calls.iter().cloned().map(on_wire).collect(),
        });
        // Independent calls run concurrently; results go back in the order the model asked.
        let results = futures::future::join_all(calls.iter().cloned().map(|call| {
            run_call(
                shared,
                out,
                Some(session),
                Some(assistant.id.clone()),
                call,
                cancel,
            )
        }))
        .await;
        if cancel.is_cancelled() {
            return TurnEnd::Cancelled;
        }
        for (call, (_, output)) in calls.iter().zip(results) {
            history.push(ChatMessage::Tool {
                call_id: wire_id(call),
                content: output,
            });
        }
    }
    TurnEnd::Failed(ErrorInfo::new(
        ErrorKind::StepLimit,
        format!(
            "the agent stopped after {max_steps} steps without a final answer; send another message to let it continue"
        ),
    ))
}

/// A write to the store going on in the background.
struct Write<T>(Option<tokio::task::JoinHandle<Result<T, crate::store::MemoryError>>>);

impl<T: Send + 'static> Write<T> {
    fn spawn(
        write: impl Future<Output = Result<T, crate::store::MemoryError>> + Send + 'static,
    ) -> Self {
        Self(Some(tokio::spawn(write)))
    }

    /// Waits until it is done: its result the first time, `None` after.
    async fn done(&mut self) -> Result<Option<T>, ErrorInfo> {
        let Some(task) = self.0.take() else {
            return Ok(None);
        };
        match task.await {
            Ok(result) => result
                .map(Some)
                .map_err(|e| ErrorInfo::new(ErrorKind::Storage, e.to_string())),
            Err(e) => Err(ErrorInfo::new(
                ErrorKind::Storage,
                format!("storing the conversation stopped: {e}"),
            )),
        }
    }
}

/// What the person said, being stored while the turn goes on.
struct Stored {
    write: Write<Option<crate::api::SessionSummary>>,
    message: MessageId,
    /// The row of the first answer, stored with the message, until that answer takes it.
    answer: Option<MessageRecord>,
}

impl Stored {
    /// Waits until the message is stored and says the turn started (once).
    async fn wait(&mut self, out: &Outbox, session: &SessionId) -> Result<(), ErrorInfo> {
        let Some(summary) = self.write.done().await? else {
            return Ok(());
        };
        out.emit(Event::TurnStarted {
            session: session.clone(),
            user_message: self.message.clone(),
        });
        if let Some(summary) = summary {
            out.emit(Event::SessionUpdated { session: summary });
        }
        Ok(())
    }
}

/// Runs one tool call through the policy, stores it and emits its events; how it ended and the
/// text the model gets. A failing tool never ends the turn: the model reads why and goes on.
pub(crate) async fn run_call(
    shared: &Shared,
    out: &Outbox,
    session: Option<&SessionId>,
    message: Option<MessageId>,
    call: ToolCallRequest,
    cancel: &CancellationToken,
) -> (ToolStatus, String) {
    let mut record = ToolCallRecord {
        id: call.id.clone(),
        message,
        tool: call.name.clone(),
        kind: None,
        arguments: call.arguments.clone(),
        status: ToolStatus::Running,
        output: String::new(),
        log: String::new(),
    };
    let live = LiveOutput::new(call.id.clone(), out.clone(), shared.secrets.redactor());
    let cx = || ToolCx {
        workspace: shared.workspace(),
        cancel: cancel.clone(),
        session: session.cloned(),
        live: live.clone(),
    };
    // An MCP server's tools are known once it runs: start servers not yet started.
    if shared.registry.get(&call.name).is_none() {
        shared.registry.mcp.start_all().await;
    }
    let tool = shared.registry.get(&call.name);
    record.kind = tool.as_ref().map(|t| t.kind());
    out.emit(Event::ToolCallStarted {
        session: session.cloned(),
        call: call.id.clone(),
        tool: call.name.clone(),
        kind: record.kind,
        arguments: call.arguments.clone(),
    });
    let finish = |record: &mut ToolCallRecord, status: ToolStatus, output: String| {
        record.status = status;
        record.output = shared.redact(&truncate_output(output));
    };
    'run: {
        let Some(tool) = tool else {
            let names: Vec<String> = shared
                .registry
                .infos(&shared.policies)
                .into_iter()
                .map(|t| t.name)
                .collect();
            finish(
                &mut record,
                ToolStatus::Failed,
                format!(
                    "there is no tool named {:?}; the tools are: {}",
                    call.name,
                    names.join(", ")
                ),
            );
            break 'run;
        };
        let scope = tool.scope_json(&call.arguments, &shared.workspace());
        // A background job's turn: nobody is there to ask; only the tools this machine allows
        // for jobs (narrowed by the job) run, whatever their policy.
        let headless = session.and_then(|s| shared.headless_allowed(s));
        if headless
            .as_ref()
            .is_some_and(|allowed| !allowed.contains(&call.name))
        {
            finish(
                &mut record,
                ToolStatus::Denied,
                format!(
                    "this is a background job with nobody to approve {}, and jobs may not use it; do without it",
                    call.name
                ),
            );
            break 'run;
        }
        match shared
            .policies
            .policy_for_call(&call.name, tool.effect(), scope.as_ref())
        {
            Policy::Deny => {
                finish(
                    &mut record,
                    ToolStatus::Denied,
                    format!(
                        "the tool {} is turned off in the person's settings; do not try it again",
                        call.name
                    ),
                );
                break 'run;
            }
            // A job's turn: the tool is on this machine's list for jobs (checked above).
            Policy::Ask if headless.is_some() => {}
            Policy::Ask => {
                record.status = ToolStatus::AwaitingApproval;
                logged(shared.store.save_tool_call(session, &record).await);
                let preview = tool
                    .preview_json(&call.arguments, cx())
                    .await
                    .map(|p| shared.redact(&p));
                let answer = shared.approvals.wait_for(&call.id);
                out.emit(Event::ApprovalRequested {
                    session: session.cloned(),
                    call: call.id.clone(),
                    tool: call.name.clone(),
                    effect: tool.effect(),
                    arguments: call.arguments.clone(),
                    preview,
                    scope: scope.as_ref().map(Scope::suggestion),
                });
                let answer = tokio::select! {
                    () = cancel.cancelled() => None,
                    answer = answer => answer.ok(),
                };
                let Some(answer) = answer else {
                    shared.approvals.forget(&call.id);
                    finish(
                        &mut record,
                        ToolStatus::Cancelled,
                        "the turn was stopped before approval".into(),
                    );
                    break 'run;
                };
                if answer.decision == Decision::Deny {
                    finish(
                        &mut record,
                        ToolStatus::Denied,
                        "the person denied this call; do not retry it unless they ask".into(),
                    );
                    break 'run;
                }
                // The folder or domain the person chose, in the same workspace folder as the
                // call (none when it is no plain folder: `..`, an absolute path).
                let chosen = answer.scope.as_deref().zip(scope.as_ref());
                let grant = chosen.and_then(|(value, scope)| scope.grant(value));
                let destructive = tool.effect() == Effect::Destructive;
                match grant {
                    _ if !answer.remember => {}
                    // A destructive tool's grant must name a folder: the whole workspace would
                    // be "everywhere" again.
                    Some(grant) if !(destructive && grant.is_everywhere()) => {
                        remembered(shared.policies.grant(&call.name, grant));
                    }
                    // A destructive tool is never allowed everywhere by one click, and a chosen
                    // folder that is no folder is never widened to the whole tool: the answer
                    // counts once.
                    _ if destructive || chosen.is_some() => {}
                    _ => {
                        remembered(shared.policies.remember(&call.name, Policy::Allow));
                        out.emit(Event::ToolPolicyChanged {
                            tool: call.name.clone(),
                            policy: shared.policies.policy(&call.name, tool.effect()),
                        });
                    }
                }
            }
            Policy::Allow => {}
        }
        record.status = ToolStatus::Running;
        logged(shared.store.save_tool_call(session, &record).await);
        let result = tokio::select! {
            () = cancel.cancelled() => None,
            result = tool.call_json(&call.arguments, cx()) => Some(result),
        };
        match result {
            None => finish(
                &mut record,
                ToolStatus::Cancelled,
                "the turn was stopped while the tool ran".into(),
            ),
            Some(Ok(output)) => finish(&mut record, ToolStatus::Succeeded, output.0),
            Some(Err(ToolError::RespondToModel(message))) => {
                finish(&mut record, ToolStatus::Failed, format!("error: {message}"));
            }
        }
    }
    record.log = live.log();
    logged(shared.store.save_tool_call(session, &record).await);
    out.emit(Event::ToolCallFinished {
        session: session.cloned(),
        call: call.id.clone(),
        status: record.status,
        output: record.output.clone(),
    });
    (record.status, record.output)
}

/// Reports a remembered approval that could not be written down (it holds until the engine stops).
fn remembered(result: std::io::Result<()>) {
    if let Err(e) = result {
        tracing::warn!("writing the remembered approvals failed: {e}");
    }
}

/// Some writes must not end a turn when they fail (a streaming flush, a status change): the final
/// write reports the error. They are logged, never silently dropped.
fn logged(result: Result<(), crate::store::MemoryError>) {
    if let Err(e) = result {
        tracing::warn!("database write failed: {e}");
    }
}

/// Titles a session after its first exchange, from the person's first words.
async fn auto_title(
    shared: &Shared,
    out: &Outbox,
    session: &SessionId,
    first_words: Option<String>,
) {
    let Ok(Some(summary)) = shared.store.session(session).await else {
        return;
    };
    if summary.title != DEFAULT_TITLE {
        return;
    }
    let first = match first_words {
        Some(words) => words,
        None => {
            let Ok(messages) = shared.store.messages(session).await else {
                return;
            };
            let Some(first) = messages.into_iter().find(|m| m.role == Role::User) else {
                return;
            };
            first.content
        }
    };
    let title = title_from(&first);
    if title.is_empty() {
        return;
    }
    if let Ok(Some(summary)) = shared.store.touch_session(session, Some(&title)).await {
        out.emit(Event::SessionUpdated { session: summary });
    }
}

/// The first line of a message, cut to a word boundary of at most 48 characters.
pub(crate) fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut title = String::new();
    for word in line.split_whitespace() {
        if title.chars().count() + word.chars().count() + 1 > 48 {
            if title.is_empty() {
                title = word.chars().take(47).collect();
                title.push('…');
            } else {
                title.push('…');
            }
            break;
        }
        if !title.is_empty() {
            title.push(' ');
        }
        title.push_str(word);
    }
    title
}

#[cfg(test)]
mod tests {
    use super::title_from;

    #[test]
    fn titles_are_short_first_lines() {
        assert_eq!(
            title_from("  \nSummarise the README please\nmore"),
            "Summarise the README please"
        );
        let long =
            "Please read every file in the project and tell me which ones are unused by anything";
        let title = title_from(long);
        assert!(title.chars().count() <= 49, "{title}");
        assert!(title.ends_with('…'));
        assert_eq!(title_from(&"x".repeat(100)).chars().count(), 48);
    }
}
