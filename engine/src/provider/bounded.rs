//! The most one answer may hold, whatever a provider streams: a server (or a model in a loop)
//! that sends text, reasoning or tool calls without end fails the turn with a sentence once the
//! answer passes `MAX_ANSWER`, instead of filling the memory. The wires check a tool call's
//! arguments against the same limit while they join its pieces.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use super::{EventStream, ModelClient, ProviderError, Request, ResponseEvent};

/// Most bytes of text, reasoning and tool-call arguments in one answer.
pub(crate) const MAX_ANSWER: usize = 32 << 20;
/// Most tool calls in one answer.
pub(crate) const MAX_CALLS: usize = 256;

/// The error a wire returns for a tool call whose arguments pass `MAX_ANSWER`.
pub(crate) fn too_large(name: &str) -> ProviderError {
    ProviderError::Stream(format!(
        "provider {name:?} sent a tool call larger than {} MiB; the answer was stopped",
        MAX_ANSWER >> 20
    ))
}

/// A client whose answers are held to the limits.
#[derive(Debug)]
pub(crate) struct Bounded<C>(pub C);

impl<C: ModelClient> ModelClient for Bounded<C> {
    fn stream(&self, request: Request) -> EventStream {
        Box::pin(Limited {
            inner: self.0.stream(request),
            bytes: 0,
            calls: 0,
            done: false,
        })
    }
}

struct Limited {
    inner: EventStream,
    bytes: usize,
    calls: usize,
    done: bool,
}

impl Stream for Limited {
    type Item = Result<ResponseEvent, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let next = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(event))) = &next {
            let (bytes, calls) = match event {
                ResponseEvent::TextDelta(t) | ResponseEvent::ThinkingDelta(t) => (t.len(), 0),
                ResponseEvent::ToolCall(call) => (call.arguments.len() + call.name.len(), 1),
                _ => (0, 0),
            };
            self.bytes += bytes;
            self.calls += calls;
            if self.bytes > MAX_ANSWER || self.calls > MAX_CALLS {
                // The provider's stream is dropped here, which stops its reading.
                self.done = true;
                self.inner = Box::pin(futures::stream::empty());
                return Poll::Ready(Some(Err(ProviderError::Stream(format!(
                    "the answer passed {} MiB or {MAX_CALLS} tool calls; it was stopped",
                    MAX_ANSWER >> 20
                )))));
            }
        }
        next
    }
}
