//! The agent turn: store the user message, then loop — stream from the provider (the recorder
//! persisting the answer as it arrives), run the tool calls it asks for (concurrently, each through
//! the gate), feed the results back — until a final answer, the step limit, a failure or a cancel.
//! `step` reads one streamed answer, `gate` decides whether a call runs, `recorder` what is stored
//! and when, `call` is one call's life, `history` builds what the provider sees, `attachments`
//! reads attached files.

pub(crate) mod attachments;
mod call;
mod gate;
mod history;
mod recorder;
mod step;

pub(crate) use self::call::{CallCx, run_call};
pub(crate) use self::gate::Answerer;
pub(crate) use self::recorder::{DEFAULT_TITLE, Recorder, title_from};

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::api::{
    ErrorInfo, ErrorKind, Event, FinishReason, MessageId, MessageRecord, MessageStatus, Role,
    SessionId, Usage,
};
use crate::outbox::Outbox;
use crate::provider::{ChatMessage, Request};
use crate::services::Services;

use self::history::{history, on_wire, wire_id};
use self::recorder::{Stored, Write, answer_row};
use self::step::{Step, StepStream};

/// What every step of a turn works with.
#[derive(Clone, Copy)]
struct TurnCx<'a> {
    services: &'a Arc<Services>,
    /// Where the turn's events go (stamped with the submission that started it, if any).
    out: &'a Outbox,
    session: &'a SessionId,
    cancel: &'a CancellationToken,
    recorder: &'a Recorder,
    answerer: &'a Answerer,
}

enum TurnEnd {
    Finished(MessageId, FinishReason),
    Failed(ErrorInfo),
    Cancelled,
}

/// Runs one turn and emits exactly one of `TurnFinished`, `TurnFailed`, `TurnCancelled`.
pub(crate) async fn run_turn(
    services: Arc<Services>,
    out: Outbox,
    session: SessionId,
    text: String,
    attachments: Vec<PathBuf>,
    answerer: Answerer,
    cancel: CancellationToken,
) {
    let recorder = Recorder::new(services.store.clone(), Some(session.clone()));
    let mut usage = Usage::default();
    let mut first_words = None;
    let cx = TurnCx {
        services: &services,
        out: &out,
        session: &session,
        cancel: &cancel,
        recorder: &recorder,
        answerer: &answerer,
    };
    let end = turn(cx, text, &attachments, &mut usage, &mut first_words).await;
    services.turns.end(&session);
    match end {
        TurnEnd::Finished(message, finish_reason) => {
            out.emit(Event::TurnFinished {
                session: session.clone(),
                message,
                usage,
                finish_reason,
            });
            if let Some(summary) = recorder.title(first_words).await {
                out.emit(Event::SessionUpdated { session: summary });
            }
        }
        TurnEnd::Failed(error) => {
            if error.kind == ErrorKind::Auth {
                // The key may be fixed meanwhile (`aetheria auth set`): read it again next turn.
                services.forget_client().await;
            }
            let error = services.error(error.kind, &error.message);
            out.emit(Event::TurnFailed { session, error });
        }
        TurnEnd::Cancelled => out.emit(Event::TurnCancelled { session }),
    }
}

/// Prices `usage` with the turn's model: the configured price, else the list price.
fn priced(services: &Services, usage: &mut Usage) {
    let config = services.config();
    usage.cost_micros = config.effective_provider().and_then(|provider| {
        crate::provider::catalog::cost_micros(&provider, &config.prices, usage)
    });
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
        services,
        out,
        session,
        recorder,
        ..
    } = cx;
    let (files, images) = match attachments::read(services, attachments).await {
        Ok(attached) => attached,
        Err(error) => return TurnEnd::Failed(error),
    };
    let user = MessageRecord {
        attachments: files,
        images,
        ..MessageRecord::new(Role::User, text)
    };
    // The message is stored while the history is read and the model asked. Nothing of the turn
    // is shown before it is stored (`TurnStarted` says it is), and the turn does not end before
    // it is.
    let mut stored = recorder.user_message(&user);
    let history = history(services, session, &user).await;
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
    if let Err(error) = stored.wait(out, session, &services.turns).await {
        return TurnEnd::Failed(error);
    }
    // The turn ended before it streamed: the row of its answer goes.
    if let Some(unused) = stored.answer.take() {
        recorder.answer_unused(&unused.id).await;
    }
    end
}

/// The model's answer to the history, with the tool calls it asks for, step after step.
async fn answer(
    cx: TurnCx<'_>,
    mut history: Vec<ChatMessage>,
    stored: &mut Stored,
    usage: &mut Usage,
) -> TurnEnd {
    let TurnCx {
        services,
        out,
        session,
        cancel,
        recorder,
        answerer,
    } = cx;
    let client = match services.client().await {
        Ok(c) => c,
        Err(e) => return TurnEnd::Failed(e),
    };

    let max_steps = services.config().max_steps;
    let window = services
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
                if let Err(e) = stored.wait(out, session, &services.turns).await {
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
        services.registry.mcp.start_all().await;
        let request = Request {
            messages: history.clone(),
            tools: services.registry.specs(&services.policies),
        };
        let step = StepStream::start(client.as_ref(), request);
        if let Err(e) = stored.wait(out, session, &services.turns).await {
            return TurnEnd::Failed(e);
        }
        // The first answer's row was written with the person's message. A later step's is
        // written while the request goes out and the answer streams in; it is awaited before
        // anything updates it.
        let (assistant, mut row) = match stored.answer.take() {
            Some(first) => (first, Write::none()),
            None => {
                let assistant = answer_row();
                let row = recorder.answer_begun(&assistant);
                (assistant, row)
            }
        };
        let (step, outcome) = step
            .read(cx, &mut history, &assistant.id, &mut row, usage)
            .await;
        let Step {
            text,
            thinking,
            calls,
            finish_reason,
        } = step;
        let written = row.done().await.map(drop);
        if !thinking.is_empty() && written.is_ok() {
            recorder.answer_thinking(&assistant.id, &thinking).await;
        }
        if let Err(end) = outcome {
            if let Err(e) = &written {
                tracing::warn!("the answer's row: {}", e.message);
            }
            let status = match end {
                TurnEnd::Cancelled => MessageStatus::Cancelled,
                _ => MessageStatus::Failed,
            };
            recorder.answer_cut(&assistant.id, &text, status).await;
            return end;
        }
        if let Err(e) = written {
            return TurnEnd::Failed(e);
        }
        // The turn's last answer keeps what the whole turn took, in the same write.
        let last = calls.is_empty();
        if last {
            priced(services, usage);
        }
        let kept = last.then_some(*usage);
        if let Err(e) = recorder
            .answer_done(&assistant.id, &text, &calls, kept)
            .await
        {
            return TurnEnd::Failed(e);
        }
        if last {
            return TurnEnd::Finished(assistant.id, finish_reason);
        }
        history.push(ChatMessage::Assistant {
            content: text,
            tool_calls: calls.iter().cloned().map(on_wire).collect(),
        });
        // Independent calls run concurrently; results go back in the order the model asked.
        let call_cx = CallCx {
            services,
            out,
            recorder,
            answerer,
            session: Some(session),
            cancel,
        };
        let results = futures::future::join_all(
            calls
                .iter()
                .cloned()
                .map(|call| run_call(&call_cx, Some(assistant.id.clone()), call)),
        )
        .await;
        if cancel.is_cancelled() {
            return TurnEnd::Cancelled;
        }
        let mut images = Vec::new();
        for (call, (_, output, kept)) in calls.iter().zip(results) {
            history.push(ChatMessage::Tool {
                call_id: wire_id(call),
                content: output,
            });
            images.extend(kept.into_iter().map(|image| (call.name.clone(), image)));
        }
        show_tool_images(services, &mut history, images).await;
    }
    TurnEnd::Failed(ErrorInfo::new(
        ErrorKind::StepLimit,
        format!(
            "the agent stopped after {max_steps} steps without a final answer; send another message to let it continue"
        ),
    ))
}

/// Shows a model that sees images the images this step's tool calls produced (a browser
/// screenshot), after their results, as the person's attachments are shown; the turn's later
/// steps keep them, later turns do not resend them.
async fn show_tool_images(
    services: &Services,
    history: &mut Vec<ChatMessage>,
    images: Vec<(String, PathBuf)>,
) {
    let config = services.config();
    let sees = config
        .effective_provider()
        .is_some_and(|p| crate::provider::catalog::takes_images(&p));
    if images.is_empty() || !sees {
        return;
    }
    let tools: Vec<&str> = images.iter().map(|(tool, _)| tool.as_str()).collect();
    history.push(ChatMessage::User(format!(
        "[the image{} {} produced]",
        if images.len() == 1 { "" } else { "s" },
        tools.join(", ")
    )));
    for (_, image) in &images {
        match attachments::image_message(&config.data_dir, image).await {
            Ok(message) => history.push(message),
            Err(e) => tracing::warn!(%e, "a tool's image could not be read back"),
        }
    }
}
