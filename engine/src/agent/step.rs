//! One step of a turn as a stream: the provider's answer to the history, read to its end — text
//! (deltas that queued up go out as one event), thinking, the calls it asks for (named by the
//! engine), usage, retries after a refusal, one compaction when the window still overflows — shown
//! as it arrives and checkpointed through the recorder. The turn loop decides what comes next.

use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};

use crate::api::{Event, FinishReason, MessageId, ToolCallId, ToolCallRequest, Usage};
use crate::provider::{ChatMessage, EventStream, ModelClient, Request, ResponseEvent};

use super::recorder::Write;
use super::{TurnCx, TurnEnd};

/// How many times a refused request is asked again before the turn fails.
const MAX_RETRIES: u32 = 3;
/// The longest wait between tries, whatever the server asks.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// How often streamed text is written to the database while it arrives.
const FLUSH_EVERY: Duration = Duration::from_millis(150);

/// What one step said.
pub(super) struct Step {
    /// The answer's text so far (all of it when the step ended well).
    pub(super) text: String,
    /// The model's reasoning, when it shows it.
    pub(super) thinking: String,
    /// The calls it asked for, each named by the engine (the provider's id kept for the wire).
    pub(super) calls: Vec<ToolCallRequest>,
    /// Why the provider stopped.
    pub(super) finish_reason: FinishReason,
}

/// A step whose request has gone out.
pub(super) struct StepStream<'c> {
    client: &'c dyn ModelClient,
    request: Request,
    stream: EventStream,
}

impl<'c> StepStream<'c> {
    /// Sends the request; the answer streams in while the caller finishes what it was doing.
    pub(super) fn start(client: &'c dyn ModelClient, request: Request) -> Self {
        let stream = client.stream(request.clone());
        Self {
            client,
            request,
            stream,
        }
    }

    /// Asks again from the start (after a wait or a compaction).
    fn restart(&mut self) {
        self.stream = self.client.stream(self.request.clone());
    }

    /// Reads the answer to its end, showing it as `answer` and writing it through `row` (the
    /// answer's row, awaited before its first update). The step is returned however it ended:
    /// a cut step's text is still stored.
    pub(super) async fn read(
        mut self,
        cx: TurnCx<'_>,
        history: &mut Vec<ChatMessage>,
        answer: &MessageId,
        row: &mut Write<()>,
        usage: &mut Usage,
    ) -> (Step, Result<(), TurnEnd>) {
        let TurnCx {
            services,
            out,
            session,
            cancel,
            recorder,
            ..
        } = cx;
        let mut step = Step {
            text: String::new(),
            thinking: String::new(),
            calls: Vec::new(),
            finish_reason: FinishReason::Stop,
        };
        let mut attempt = 0u32;
        let mut overflowed = false;
        let mut flushed_len = 0;
        let mut last_flush = Instant::now();
        // An event read ahead while joining text deltas, handled next.
        let mut ahead = None;
        let outcome = loop {
            let next = match ahead.take() {
                Some(next) => next,
                None => tokio::select! {
                    biased;
                    () = cancel.cancelled() => break Err(TurnEnd::Cancelled),
                    next = self.stream.next() => next,
                },
            };
            match next {
                Some(Ok(ResponseEvent::TextDelta(mut delta))) => {
                    // Deltas that already arrived go out as one event: the same text, less work
                    // per token for the engine and the window.
                    while let Some(more) = self.stream.next().now_or_never() {
                        match more {
                            Some(Ok(ResponseEvent::TextDelta(more))) => delta.push_str(&more),
                            other => {
                                ahead = Some(other);
                                break;
                            }
                        }
                    }
                    step.text.push_str(&delta);
                    services.turns.said_text(session, answer, delta, |delta| {
                        out.emit(Event::TextDelta {
                            session: session.clone(),
                            message: answer.clone(),
                            delta,
                        });
                    });
                    if last_flush.elapsed() >= FLUSH_EVERY && step.text.len() != flushed_len {
                        if let Err(e) = row.done().await {
                            break Err(TurnEnd::Failed(e));
                        }
                        // Batched: a crash loses at most the last FLUSH_EVERY of text. Only the
                        // text since the last checkpoint is written; a failed write's text goes
                        // with the next one.
                        if recorder.answer_text(answer, flushed_len, &step.text).await {
                            flushed_len = step.text.len();
                        }
                        last_flush = Instant::now();
                    }
                }
                Some(Ok(ResponseEvent::ThinkingDelta(delta))) => {
                    step.thinking.push_str(&delta);
                    out.emit(Event::ThinkingDelta {
                        session: session.clone(),
                        message: answer.clone(),
                        delta,
                    });
                }
                // The provider's id goes to the wire only; the engine names the call itself.
                Some(Ok(ResponseEvent::ToolCall(mut call))) => {
                    call.wire_id = Some(call.id.to_string());
                    call.id = ToolCallId::new();
                    step.calls.push(call);
                }
                // (Priced once the turn ends: `agent::priced`.)
                Some(Ok(ResponseEvent::Usage(u))) => *usage = usage.plus(u),
                Some(Ok(ResponseEvent::Finished { reason })) => {
                    step.finish_reason = FinishReason::from_wire(&reason);
                    break Ok(());
                }
                None => break Ok(()),
                Some(Err(e))
                    if !overflowed
                        && step.text.is_empty()
                        && step.calls.is_empty()
                        && crate::compaction::is_overflow(&e) =>
                {
                    // The estimate was too kind: compact to half and ask once more.
                    overflowed = true;
                    let half = crate::compaction::estimate(history) / 2;
                    match crate::compaction::fit(self.client, history, half).await {
                        Ok(done) => {
                            if let Some(done) = done {
                                out.emit(Event::ContextCompacted {
                                    session: session.clone(),
                                    detail: done.describe(),
                                });
                            }
                            self.request.messages = history.clone();
                            ahead = None;
                            self.restart();
                        }
                        Err(e) => break Err(TurnEnd::Failed(e.to_info())),
                    }
                }
                Some(Err(e)) => {
                    // A refusal before any output is asked again, after the wait the server named
                    // (else 1, 2, 4 s); output already shown is never thrown away.
                    let nothing_yet = step.text.is_empty() && step.calls.is_empty();
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
                                reason: services.redact(&e.to_string()),
                            });
                            tokio::select! {
                                () = cancel.cancelled() => break Err(TurnEnd::Cancelled),
                                () = tokio::time::sleep(wait) => {}
                            }
                            ahead = None;
                            self.restart();
                        }
                        None => break Err(TurnEnd::Failed(e.to_info())),
                    }
                }
            }
        };
        (step, outcome)
    }
}
