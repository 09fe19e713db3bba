//! The in-process runtime of a local GGUF model: candle's quantized Llama on the CPU (pure Rust, so
//! it cannot clash with whisper's ggml), a kept KV cache so a conversation's next turn only reads
//! its new tokens, and llguidance masks that hold the answer to the tool-call grammar.

use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};
use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use toktrie::{ApproximateTokEnv, TokRxInfo, TokTrie};

use super::LocalError;
use super::prompt::ChatTemplate;
use super::vocab::Vocab;

/// Tokens read per forward pass while reading a prompt (between them a cancelled turn stops).
const PREFILL_CHUNK: usize = 64;

/// How tokens are picked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sampler {
    /// 0 picks the likeliest token (reproducible); above 0 samples.
    pub temperature: f64,
    /// Seed of the sampler.
    pub seed: u64,
    /// Penalty on tokens of the last 64 (1.0: none).
    pub repeat_penalty: f32,
    /// Most tokens of one answer.
    pub max_tokens: usize,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            seed: 299_792_458,
            repeat_penalty: 1.1,
            max_tokens: 1024,
        }
    }
}

/// What one generation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Generated {
    /// Tokens of the prompt.
    pub prompt_tokens: usize,
    /// Of them, read from the kept cache instead of computed.
    pub cached_tokens: usize,
    /// Tokens of the answer.
    pub output_tokens: usize,
    /// Whether the answer hit `max_tokens`.
    pub truncated: bool,
}

struct State {
    weights: ModelWeights,
    /// The tokens whose keys and values sit in the cache, in order.
    cached: Vec<u32>,
    /// The model right after reading the last prompt (cheap to keep: tensors are shared), so asking
    /// again from the same point (a retry, a second try in text) reads nothing twice.
    checkpoint: Option<Checkpoint>,
}

struct Checkpoint {
    tokens: Vec<u32>,
    weights: ModelWeights,
    logits: Vec<f32>,
}

/// The grammar engine for a vocabulary (each token's bytes, and the end-of-text token).
pub(crate) fn grammar_factory(
    token_bytes: &[Vec<u8>],
    eos: u32,
) -> Result<ParserFactory, LocalError> {
    let info = TokRxInfo::new(
        u32::try_from(token_bytes.len()).map_err(LocalError::model)?,
        eos,
    );
    let trie = TokTrie::from(&info, token_bytes);
    let env: toktrie::TokEnv = Arc::new(ApproximateTokEnv::new(trie));
    let mut factory = ParserFactory::new_simple(&env).map_err(LocalError::model)?;
    factory.quiet();
    Ok(factory)
}

/// A loaded model, shared by the turns that use it (one generation at a time).
pub(crate) struct LocalModel {
    state: Mutex<State>,
    pub(crate) vocab: Vocab,
    pub(crate) template: ChatTemplate,
    factory: Arc<ParserFactory>,
    pool: rayon::ThreadPool,
    /// Longest prompt plus answer, in tokens.
    pub(crate) context_length: usize,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("context_length", &self.context_length)
            .finish_non_exhaustive()
    }
}

impl LocalModel {
    /// Loads a GGUF file and prepares its tokenizer, template and grammar engine. `threads` is the
    /// number of CPU threads generation may use.
    pub(crate) fn load(path: &Path, threads: usize) -> Result<Self, LocalError> {
        let mut file = std::fs::File::open(path).map_err(|e| LocalError::io(path, e))?;
        let content = Content::read(&mut file).map_err(|e| {
            LocalError::Model(format!("{} is not a GGUF model: {e}", path.display()))
        })?;
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if arch != "llama" {
            return Err(LocalError::Unsupported(format!(
                "architecture {arch:?} is not supported by the built-in runtime (it runs Llama-family models such as SmolLM2, Llama 3.2 and TinyLlama); serve this model with Ollama or llama.cpp and add that as a provider"
            )));
        }
        let vocab = Vocab::from_gguf(&content)?;
        let context_length = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |n| (n as usize).min(MAX_SEQ_LEN));
        let source = content
            .metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
            .cloned();
        let template = ChatTemplate::new(source, vocab.bos_text.clone(), vocab.eos_text.clone())?;
        let factory = grammar_factory(&vocab.token_bytes, vocab.eos)?;
        let weights = ModelWeights::from_gguf(content, &mut file, &Device::Cpu)
            .map_err(|e| LocalError::Model(format!("cannot load {}: {e}", path.display())))?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("aetheria-llm-{i}"))
            .build()
            .map_err(LocalError::model)?;
        Ok(Self {
            state: Mutex::new(State {
                weights,
                cached: Vec::new(),
                checkpoint: None,
            }),
            vocab,
            template,
            factory: Arc::new(factory),
            pool,
            context_length,
        })
    }

    /// A matcher for a Lark grammar (llguidance's dialect, JSON schemas inline with `%json`).
    pub(crate) fn matcher(&self, lark: &str) -> Result<Matcher, LocalError> {
        let parser = self
            .factory
            .create_parser(TopLevelGrammar::from_lark(lark.to_owned()))
            .map_err(|e| LocalError::Grammar(e.to_string()))?;
        Ok(Matcher::new(Ok(parser)))
    }

    /// Generates an answer to `prompt` on the calling thread (call it from a blocking task).
    /// `on_token` gets every answer token's bytes and returns `false` to stop (a cancelled turn).
    /// With a `matcher`, every token is picked among those the grammar allows.
    pub(crate) fn generate(
        &self,
        prompt: &[u32],
        sampler: Sampler,
        mut matcher: Option<Matcher>,
        on_token: &mut (dyn FnMut(&[u8]) -> bool + Send),
    ) -> Result<Generated, LocalError> {
        if prompt.is_empty() {
            return Err(LocalError::Model("the prompt is empty".into()));
        }
        if prompt.len() >= self.context_length {
            return Err(LocalError::ContextLength {
                prompt: prompt.len(),
                window: self.context_length,
            });
        }
        let mut state = self
            .state
            .lock()
            .map_err(|_| LocalError::Model("a previous generation crashed".into()))?;
        let state = &mut *state;
        self.pool.install(|| {
            // Reuse what was read before: the cache when it holds a prefix of this prompt (the
            // conversation so far), or the checkpoint after the last prompt when that goes further.
            let cache_fits = state.cached.len() < prompt.len() && prompt.starts_with(&state.cached);
            let checkpoint = state.checkpoint.as_ref().filter(|c| {
                prompt.starts_with(&c.tokens)
                    && (!cache_fits || c.tokens.len() > state.cached.len())
            });
            let mut logits = None;
            if let Some(c) = checkpoint {
                state.weights = c.weights.clone();
                state.cached = c.tokens.clone();
                logits = Some(c.logits.clone());
            } else if !cache_fits {
                state.weights.clear_kv_cache();
                state.cached.clear();
            }
            let mut stats = Generated {
                prompt_tokens: prompt.len(),
                cached_tokens: state.cached.len(),
                ..Generated::default()
            };
            while state.cached.len() < prompt.len() {
                let start = state.cached.len();
                let end = (start + PREFILL_CHUNK).min(prompt.len());
                logits = Some(forward(state, &prompt[start..end])?);
                if end < prompt.len() && !on_token(&[]) {
                    return Ok(stats);
                }
            }
            let Some(mut logits) = logits else {
                return Err(LocalError::Model("nothing to read".into()));
            };
            state.checkpoint = Some(Checkpoint {
                tokens: prompt.to_vec(),
                weights: state.weights.clone(),
                logits: logits.clone(),
            });
            let mut processor = LogitsProcessor::from_sampling(
                sampler.seed,
                if sampler.temperature <= 0.0 {
                    Sampling::ArgMax
                } else {
                    Sampling::All {
                        temperature: sampler.temperature,
                    }
                },
            );
            let budget = sampler
                .max_tokens
                .min(self.context_length.saturating_sub(prompt.len()));
            let mut answer: Vec<u32> = Vec::new();
            loop {
                if let Some(m) = matcher.as_mut() {
                    let mask = m
                        .compute_mask()
                        .map_err(|e| LocalError::Grammar(e.to_string()))?;
                    for (id, value) in logits.iter_mut().enumerate() {
                        let allowed = id < mask.len()
                            && u32::try_from(id).is_ok_and(|id| mask.is_allowed(id));
                        if !allowed {
                            *value = f32::NEG_INFINITY;
                        }
                    }
                }
                penalise(&mut logits, &answer, sampler.repeat_penalty);
                let tensor =
                    Tensor::new(logits.as_slice(), &Device::Cpu).map_err(LocalError::model)?;
                let token = processor.sample(&tensor).map_err(LocalError::model)?;
                let stop = self.vocab.stop_tokens.contains(&token);
                if let Some(m) = matcher.as_mut() {
                    m.consume_token(token)
                        .map_err(|e| LocalError::Grammar(e.to_string()))?;
                }
                if stop {
                    break;
                }
                answer.push(token);
                stats.output_tokens += 1;
                let bytes = self
                    .vocab
                    .token_bytes
                    .get(token as usize)
                    .map_or(&[][..], Vec::as_slice);
                // Special tokens (0xFF-marked) are not text.
                let text = if bytes.first() == Some(&TokTrie::SPECIAL_TOKEN_MARKER) {
                    &[][..]
                } else {
                    bytes
                };
                if !on_token(text) {
                    break;
                }
                if matcher.as_ref().is_some_and(Matcher::is_stopped) {
                    break;
                }
                if answer.len() >= budget {
                    stats.truncated = true;
                    break;
                }
                logits = forward(state, &[token])?;
            }
            Ok(stats)
        })
    }
}

/// Reads `tokens` after the cached ones; the logits of the last.
fn forward(state: &mut State, tokens: &[u32]) -> Result<Vec<f32>, LocalError> {
    let input = Tensor::new(tokens, &Device::Cpu)
        .and_then(|t| t.unsqueeze(0))
        .map_err(LocalError::model)?;
    let logits = state
        .weights
        .forward(&input, state.cached.len())
        .and_then(|l| l.squeeze(0))
        .and_then(|l| l.to_dtype(candle_core::DType::F32))
        .and_then(|l| l.to_vec1::<f32>());
    match logits {
        Ok(logits) => {
            state.cached.extend_from_slice(tokens);
            Ok(logits)
        }
        Err(e) => {
            // The cache may be half-written: start afresh next time.
            state.weights.clear_kv_cache();
            state.cached.clear();
            state.checkpoint = None;
            Err(LocalError::model(e))
        }
    }
}

/// Makes recently used tokens less likely, so small models do not loop.
fn penalise(logits: &mut [f32], answer: &[u32], penalty: f32) {
    if (penalty - 1.0).abs() < f32::EPSILON {
        return;
    }
    let recent = &answer[answer.len().saturating_sub(64)..];
    let mut seen = std::collections::HashSet::new();
    for &token in recent {
        if seen.insert(token)
            && let Some(v) = logits.get_mut(token as usize)
        {
            *v = if *v >= 0.0 {
                *v / penalty
            } else {
                *v * penalty
            };
        }
    }
}
