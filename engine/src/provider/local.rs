//! The `local` wire: the same `ModelClient` as the cloud wires, answered by a GGUF model in this
//! process. Generation runs on a blocking thread and streams text as it decodes; when tools are
//! offered, the answer is held to the tool-call grammar, so even a tiny model calls tools validly.

use std::path::PathBuf;
use std::sync::Arc;

use llguidance::Matcher;
use tokio::sync::OnceCell;

use super::http::Tx;
use super::{
    ChatMessage, EventStream, ModelClient, ProviderError, Request, ResponseEvent, TaskStream,
    ToolSpec,
};
use crate::api::Usage;
use crate::config::{LocalConfig, ProviderConfig};
use crate::offline::prompt::{self, CALL_CLOSE, CALL_OPEN};
use crate::offline::runtime::{Generated, LocalModel, Sampler};
use crate::offline::{LocalError, select, store};

#[derive(Debug)]
struct Inner {
    config: ProviderConfig,
    models_dir: PathBuf,
    settings: LocalConfig,
    model: OnceCell<Arc<LocalModel>>,
}

/// A client of the built-in runtime; the model loads on first use and stays loaded.
#[derive(Debug, Clone)]
pub(crate) struct LocalClient {
    inner: Arc<Inner>,
}

impl LocalClient {
    pub(crate) fn new(config: ProviderConfig, models_dir: PathBuf, settings: LocalConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                models_dir,
                settings,
                model: OnceCell::new(),
            }),
        }
    }
}

impl Inner {
    async fn model(&self) -> Result<Arc<LocalModel>, ProviderError> {
        self.model
            .get_or_try_init(|| async {
                let path = store::resolve(&self.models_dir, &self.config.model)
                    .map_err(|e| self.error(&e))?;
                let threads = self.settings.threads();
                tokio::task::spawn_blocking(move || LocalModel::load(&path, threads))
                    .await
                    .map_err(|e| ProviderError::Stream(e.to_string()))?
                    .map(Arc::new)
                    .map_err(|e| self.error(&e))
            })
            .await
            .cloned()
    }

    fn error(&self, e: &LocalError) -> ProviderError {
        let status = match e {
            LocalError::NotFound(_) => 404,
            LocalError::ContextLength { .. } | LocalError::Unsupported(_) => 400,
            _ => 500,
        };
        ProviderError::Http {
            status,
            message: format!("local model {:?}: {e}", self.config.model),
            retry_after: None,
        }
    }
}

impl ModelClient for LocalClient {
    fn stream(&self, request: Request) -> EventStream {
        let inner = self.inner.clone();
        Box::pin(TaskStream::spawn(move |tx| async move {
            if let Err(e) = answer(&inner, request, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        }))
    }
}

/// Decodes token bytes into text as they come; a UTF-8 character split across tokens waits for
/// its last byte.
#[derive(Default)]
struct Utf8 {
    pending: Vec<u8>,
}

impl Utf8 {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        match std::str::from_utf8(&self.pending) {
            Ok(text) => {
                let text = text.to_owned();
                self.pending.clear();
                text
            }
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                let text = String::from_utf8_lossy(self.pending.get(..valid).unwrap_or_default())
                    .into_owned();
                self.pending.drain(..valid);
                text
            }
            Err(_) => {
                let text = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                text
            }
        }
    }

    fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

/// Whether the answer so far is plain text (streamed) or a tool call (held until complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Undecided,
    Text,
    Call,
}

/// What to do with a token's text.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Send this text now.
    Text(String),
    /// Hold it (a call, or not known yet).
    Wait,
    /// A complete call: stop generating.
    Stop,
}

/// Splits an answer as it decodes: plain text streams at once; `<tool_call>…</tool_call>` is held
/// until complete; an empty call list ("no tool") is dropped and the answer after it streams.
struct Splitter {
    tools: bool,
    utf8: Utf8,
    mode: Mode,
    held: String,
}

impl Splitter {
    fn new(tools: bool) -> Self {
        Self {
            tools,
            utf8: Utf8::default(),
            mode: Mode::Undecided,
            held: String::new(),
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Step {
        self.held.push_str(&self.utf8.push(bytes));
        if self.mode == Mode::Undecided {
            let start = self.held.trim_start();
            let may_become_call = self.tools && CALL_OPEN.starts_with(start);
            if start.is_empty() || (may_become_call && start.len() < CALL_OPEN.len()) {
                return Step::Wait;
            }
            self.mode = if self.tools && start.starts_with(CALL_OPEN) {
                Mode::Call
            } else {
                Mode::Text
            };
        }
        if self.mode == Mode::Call {
            let Some(end) = self.held.find(CALL_CLOSE).map(|i| i + CALL_CLOSE.len()) else {
                return Step::Wait;
            };
            let list = self.held.get(..end).unwrap_or_default();
            // An empty list ("no tool", however it is spaced): the plain answer follows.
            if prompt::parse_calls(list).is_some_and(|calls| calls.is_empty()) {
                self.held = self.held.get(end..).unwrap_or_default().to_owned();
                self.mode = Mode::Text;
            } else {
                return Step::Stop;
            }
        }
        if self.held.is_empty() {
            Step::Wait
        } else {
            Step::Text(std::mem::take(&mut self.held))
        }
    }

    /// The mode it ended in and the text still held.
    fn finish(mut self) -> (Mode, String) {
        let rest = self.utf8.finish();
        self.held.push_str(&rest);
        (self.mode, self.held)
    }
}

/// What an answer is held to.
enum Grammar {
    /// A call to one of these tools, or text (`decide`: see `prompt::tool_grammar`).
    Tools(Vec<ToolSpec>, bool),
    /// Plain text only.
    TextOnly,
}

impl Grammar {
    /// The compiled grammar. A tool whose schema does not compile (an MCP server can send any
    /// schema) is left out of it, with a warning naming it, so one bad tool never leaves the
    /// model unconstrained for all the others.
    fn matcher(&self, model: &LocalModel) -> Option<Matcher> {
        let (tools, decide) = match self {
            Self::TextOnly => {
                return model
                    .matcher(prompt::TEXT_ONLY)
                    .inspect_err(|e| tracing::warn!(%e, "the text grammar did not compile"))
                    .ok();
            }
            Self::Tools(tools, decide) => (tools, *decide),
        };
        let error = match model.matcher(&prompt::tool_grammar(tools, decide)) {
            Ok(matcher) => return Some(matcher),
            Err(e) => e,
        };
        let (usable, broken): (Vec<ToolSpec>, Vec<ToolSpec>) =
            tools.iter().cloned().partition(|tool| {
                model
                    .matcher(&prompt::tool_grammar(std::slice::from_ref(tool), decide))
                    .is_ok()
            });
        let names: Vec<&str> = broken.iter().map(|t| t.name.as_str()).collect();
        tracing::warn!(%error, left_out = ?names, "tools whose argument schema does not compile are left out of the tool-call grammar");
        if usable.is_empty() {
            return None;
        }
        model
            .matcher(&prompt::tool_grammar(&usable, decide))
            .inspect_err(|e| tracing::warn!(%e, "the tool-call grammar did not compile; answering unconstrained"))
            .ok()
    }
}

/// What one generation left: its statistics, whether it was a call, and the text not yet sent.
struct Outcome {
    stats: Generated,
    mode: Mode,
    held: String,
}

/// Runs one generation on a blocking thread, streaming plain text as it decodes and holding a
/// tool call until it is complete.
async fn generate(
    model: Arc<LocalModel>,
    tokens: Arc<Vec<u32>>,
    sampler: Sampler,
    grammar: Option<Grammar>,
    tools_offered: bool,
    tx: &Tx,
) -> Result<Result<Outcome, LocalError>, ProviderError> {
    let sender = tx.clone();
    let run = tokio::task::spawn_blocking(move || {
        let matcher = grammar.and_then(|g| g.matcher(&model));
        let mut splitter = Splitter::new(tools_offered);
        let mut on_token = |bytes: &[u8]| -> bool {
            if sender.is_closed() {
                return false;
            }
            match splitter.push(bytes) {
                Step::Wait => true,
                Step::Stop => false,
                Step::Text(piece) => sender
                    .blocking_send(Ok(ResponseEvent::TextDelta(piece)))
                    .is_ok(),
            }
        };
        let result = model.generate(&tokens, sampler, matcher, &mut on_token);
        let (mode, held) = splitter.finish();
        result.map(|stats| Outcome { stats, mode, held })
    });
    run.await
        .map_err(|e| ProviderError::Stream(format!("the local model crashed: {e}")))
}

/// The calls already made since the person last spoke, as `(name, arguments)` in canonical JSON.
fn calls_this_turn(messages: &[ChatMessage]) -> Vec<(String, String)> {
    let since = messages
        .iter()
        .rposition(|m| matches!(m, ChatMessage::User(_)))
        .map_or(0, |i| i + 1);
    messages
        .get(since..)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| match m {
            ChatMessage::Assistant { tool_calls, .. } => Some(tool_calls),
            _ => None,
        })
        .flatten()
        .map(|c| (c.name.clone(), canonical(&c.arguments)))
        .collect()
}

fn canonical(arguments: &str) -> String {
    serde_json::from_str::<serde_json::Value>(arguments)
        .map_or_else(|_| arguments.to_owned(), |v| v.to_string())
}

async fn answer(inner: &Inner, request: Request, tx: &Tx) -> Result<(), ProviderError> {
    let model = inner.model().await?;
    let tools = select::relevant(&request.tools, &request.messages, inner.settings.max_tools);
    let text = model
        .template
        .render(&request.messages, &tools)
        .map_err(|e| inner.error(&e))?;
    let tokens = Arc::new(model.vocab.encode(&text).map_err(|e| inner.error(&e))?);
    let tools_offered = !tools.is_empty();
    let decide = matches!(request.messages.last(), Some(ChatMessage::User(_)));
    let grammar = tools_offered.then(|| Grammar::Tools(tools, decide));
    let sampler = Sampler {
        temperature: inner.settings.temperature,
        max_tokens: inner.settings.max_tokens,
        ..Sampler::default()
    };
    let mut outcome = generate(
        model.clone(),
        tokens.clone(),
        sampler,
        grammar,
        tools_offered,
        tx,
    )
    .await?
    .map_err(|e| inner.error(&e))?;
    tracing::debug!(
        prompt = outcome.stats.prompt_tokens,
        cached = outcome.stats.cached_tokens,
        output = outcome.stats.output_tokens,
        "local model answered"
    );
    let mut calls = Vec::new();
    if outcome.mode == Mode::Call && !outcome.stats.truncated {
        calls = prompt::parse_calls(&outcome.held).unwrap_or_default();
        // A small model may ask again for what it was just given; it answers in text instead
        // (from the same point: the prompt is not read twice).
        let made = calls_this_turn(&request.messages);
        let repeated = !calls.is_empty()
            && calls
                .iter()
                .all(|c| made.contains(&(c.name.clone(), canonical(&c.arguments))));
        if repeated {
            tracing::debug!(
                "the local model repeated a call it has the result of; asking for text"
            );
            calls.clear();
            outcome = generate(model, tokens, sampler, Some(Grammar::TextOnly), false, tx)
                .await?
                .map_err(|e| inner.error(&e))?;
        }
    }
    let reason = if !calls.is_empty() {
        for call in calls {
            send(tx, ResponseEvent::ToolCall(call)).await;
        }
        "tool_calls"
    } else {
        // Text not sent yet, or a call cut off by the length limit: given back as text, so
        // nothing is lost.
        if !outcome.held.is_empty() {
            send(tx, ResponseEvent::TextDelta(outcome.held)).await;
        }
        if outcome.stats.truncated {
            "length"
        } else {
            "stop"
        }
    };
    send(
        tx,
        ResponseEvent::Usage(Usage {
            input_tokens: outcome.stats.prompt_tokens as u64,
            output_tokens: outcome.stats.output_tokens as u64,
            cached_input_tokens: outcome.stats.cached_tokens as u64,
            cost_micros: None,
        }),
    )
    .await;
    send(
        tx,
        ResponseEvent::Finished {
            reason: reason.into(),
        },
    )
    .await;
    Ok(())
}

async fn send(tx: &Tx, event: ResponseEvent) {
    let _ = tx.send(Ok(event)).await;
}

#[cfg(test)]
mod tests {
    use super::{Mode, Splitter, Step, Utf8};

    fn text(s: &str) -> Step {
        Step::Text(s.to_owned())
    }

    #[test]
    fn plain_text_streams_a_call_is_held_and_an_empty_list_is_dropped() {
        let mut plain = Splitter::new(true);
        assert_eq!(plain.push(b"Paris"), text("Paris"));
        assert_eq!(plain.push(b" is"), text(" is"));
        assert_eq!(plain.finish(), (Mode::Text, String::new()));

        let mut call = Splitter::new(true);
        for piece in [
            "<tool",
            "_call>[\n{\"name\": \"fs_read\", ",
            "\"arguments\": {}}\n]",
        ] {
            assert_eq!(call.push(piece.as_bytes()), Step::Wait, "{piece}");
        }
        assert_eq!(call.push(b"</tool_call>"), Step::Stop);
        let (mode, held) = call.finish();
        assert_eq!(mode, Mode::Call);
        assert!(
            held.starts_with("<tool_call>[\n{\"name\": \"fs_read\""),
            "{held}"
        );

        let mut none = Splitter::new(true);
        assert_eq!(none.push(b"<tool_call>[\n"), Step::Wait);
        assert_eq!(none.push(b"]</tool_call>"), Step::Wait);
        assert_eq!(none.push(b"\nThe answer."), text("\nThe answer."));
        assert_eq!(none.finish().0, Mode::Text);

        // Without tools, `<` is ordinary text.
        let mut no_tools = Splitter::new(false);
        assert_eq!(no_tools.push(b"<b>"), text("<b>"));
    }

    #[test]
    fn a_character_split_across_tokens_waits_for_its_last_byte() {
        let mut utf8 = Utf8::default();
        let euro = "€".as_bytes();
        assert_eq!(utf8.push(b"a"), "a");
        assert_eq!(utf8.push(&euro[..1]), "");
        assert_eq!(utf8.push(&euro[1..2]), "");
        assert_eq!(utf8.push(&euro[2..]), "€");
        assert_eq!(utf8.push(&[0xff, b'b']), "\u{fffd}b");
        assert_eq!(utf8.push(&euro[..2]), "");
        assert_eq!(utf8.finish(), "\u{fffd}");
    }
}
