//! The built-in runtime timed on its own, for the local-model bench and its tests: reading a
//! prompt, generating, and a follow-up turn that should read only its new tokens from the kept
//! cache. The bench runs llama.cpp on the very same tokens, so the two are compared token for token.

use std::path::Path;
use std::time::Instant;

use crate::offline::runtime::{LocalModel, Sampler};
use crate::provider::ChatMessage;

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Timing {
    /// The first turn's prompt, as tokens (what llama.cpp is given too).
    pub prompt: Vec<u32>,
    /// Seconds to read it (start → the first answer token is picked).
    pub prefill_secs: f64,
    /// Tokens of the answer (greedy).
    pub answer_tokens: usize,
    /// Seconds from the first answer token to the last.
    pub decode_secs: f64,
    /// The follow-up turn's prompt length, in tokens.
    pub followup_prompt: usize,
    /// Of them, read from the kept cache.
    pub followup_cached: usize,
    /// Seconds to read the follow-up's prompt.
    pub followup_prefill_secs: f64,
}

/// A system prompt of a realistic length (a few hundred tokens), so reading it is measurable.
pub const SYSTEM: &str = "You are Aetheria, a desktop assistant that runs on this computer. \
You answer in Markdown. You are careful, precise and brief unless asked for length. When you are \
unsure, you say so and suggest how to find out. You never invent file names, people or numbers. \
When the person asks for a story, you write it with a beginning, a middle and an end, with \
concrete details of place and weather, and you give the characters names. When the person asks a \
question about a fact, you answer in one or two sentences first and then add detail if it helps. \
You keep a friendly tone without flattery. You do not repeat the question back. You write lists \
only when the content is a list. You use headings for long answers. You prefer plain words to \
jargon and explain any term a newcomer would not know. Numbers keep their units. Dates are written \
in full. Code is fenced with its language. You never claim to have done something you did not do. \
If a request is unsafe you decline briefly and offer a safer way. You remember that the person may \
be offline, so you do not tell them to look things up on the web unless they ask.";

/// Loads `model` with `threads` threads, answers `question` greedily with at most `max_tokens`
/// tokens, then asks `followup` in the same conversation.
///
/// # Errors
/// When the model does not load or a generation fails.
pub fn run(
    model: &Path,
    threads: usize,
    question: &str,
    followup: &str,
    max_tokens: usize,
) -> Result<Timing, String> {
    let model = LocalModel::load(model, threads).map_err(|e| e.to_string())?;
    let mut messages = vec![
        ChatMessage::System(SYSTEM.into()),
        ChatMessage::User(question.into()),
    ];
    let prompt = encode(&model, &messages)?;
    let sampler = Sampler {
        temperature: 0.0,
        max_tokens,
        ..Sampler::default()
    };
    let started = Instant::now();
    let mut first = None;
    let mut text = Vec::new();
    let first_stats = model
        .generate(&prompt, sampler, None, &mut |bytes| {
            if !bytes.is_empty() {
                first.get_or_insert_with(Instant::now);
                text.extend_from_slice(bytes);
            }
            true
        })
        .map_err(|e| e.to_string())?;
    let ended = Instant::now();
    let first = first.unwrap_or(ended);
    let answer_text = String::from_utf8_lossy(&text).into_owned();

    messages.push(ChatMessage::Assistant {
        content: answer_text,
        tool_calls: Vec::new(),
    });
    messages.push(ChatMessage::User(followup.into()));
    let next = encode(&model, &messages)?;
    let followup_started = Instant::now();
    let mut followup_first = None;
    let stats = model
        .generate(
            &next,
            Sampler {
                max_tokens: 1,
                ..sampler
            },
            None,
            &mut |_| {
                followup_first.get_or_insert_with(Instant::now);
                true
            },
        )
        .map_err(|e| e.to_string())?;
    let followup_first = followup_first.unwrap_or_else(Instant::now);
    Ok(Timing {
        prefill_secs: first.duration_since(started).as_secs_f64(),
        decode_secs: ended.duration_since(first).as_secs_f64(),
        prompt,
        answer_tokens: first_stats.output_tokens,
        followup_prompt: stats.prompt_tokens,
        followup_cached: stats.cached_tokens,
        followup_prefill_secs: followup_first
            .duration_since(followup_started)
            .as_secs_f64(),
    })
}

fn encode(model: &LocalModel, messages: &[ChatMessage]) -> Result<Vec<u32>, String> {
    let text = model
        .template
        .render(messages, &[])
        .map_err(|e| e.to_string())?;
    model.vocab.encode(&text).map_err(|e| e.to_string())
}
