//! A GGUF file carries its tokenizer as metadata (tokens, merges, pre-tokenizer name). This module
//! turns that into a Hugging Face `tokenizer.json` value, which both `tokenizers` (to encode
//! prompts) and `llguidance` (to know each token's bytes for grammar masks) read.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};
use serde_json::json;

use super::LocalError;

/// What the runtime needs to know about a model's vocabulary.
pub(crate) struct Vocab {
    /// Encodes prompts.
    pub tokenizer: tokenizers::Tokenizer,
    /// The raw bytes of every token (special tokens start with 0xFF, as toktrie expects).
    pub token_bytes: Vec<Vec<u8>>,
    /// Tokens that end an answer.
    pub stop_tokens: Vec<u32>,
    /// The end-of-sequence token.
    pub eos: u32,
    /// The text of the begin-of-sequence token, for chat templates.
    pub bos_text: String,
    /// The text of the end-of-sequence token, for chat templates.
    pub eos_text: String,
}

fn strings(content: &Content, key: &str) -> Result<Vec<String>, LocalError> {
    let value = content
        .metadata
        .get(key)
        .ok_or_else(|| LocalError::Unsupported(format!("the model file has no {key}")))?;
    let items = value.to_vec().map_err(LocalError::model)?;
    items
        .iter()
        .map(|v| v.to_string().cloned().map_err(LocalError::model))
        .collect()
}

fn number(content: &Content, key: &str) -> Option<u32> {
    content.metadata.get(key).and_then(|v| match v {
        Value::U32(n) => Some(*n),
        Value::I32(n) => u32::try_from(*n).ok(),
        Value::U64(n) => u32::try_from(*n).ok(),
        _ => None,
    })
}

/// The pre-tokenizer a GGUF `tokenizer.ggml.pre` name stands for (the same table llama.cpp keeps).
fn pre_tokenizer(pre: &str) -> serde_json::Value {
    // GPT-2's split, used by most byte-level BPE vocabularies.
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    let split = |pattern: &str| {
        json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": false},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
        ]})
    };
    match pre {
        // SmolLM and StarCoder: every digit alone, then GPT-2's split.
        "smollm" | "starcoder" | "refact" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level
        ]}),
        "llama3" | "llama-bpe" | "llama-v3" | "smaug-bpe" => split(
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ),
        "qwen2" | "deepseek-r1-qwen" => split(
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ),
        _ => byte_level,
    }
}

impl Vocab {
    /// Reads the vocabulary of a GGUF model. Only byte-level BPE vocabularies (`gpt2`: SmolLM,
    /// Qwen, Llama 3 and most recent models) are supported; others get a clear error.
    pub(crate) fn from_gguf(content: &Content) -> Result<Self, LocalError> {
        let model = content
            .metadata
            .get("tokenizer.ggml.model")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if model != "gpt2" {
            return Err(LocalError::Unsupported(format!(
                "tokenizer {model:?} is not supported yet; use a model with a byte-level BPE vocabulary (SmolLM, Qwen, Llama 3), or serve it with Ollama or llama.cpp"
            )));
        }
        let tokens = strings(content, "tokenizer.ggml.tokens")?;
        let merges = strings(content, "tokenizer.ggml.merges")?;
        let types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(LocalError::model)?
                .iter()
                .map(|t| t.to_i32().unwrap_or(1))
                .collect(),
            None => vec![1; tokens.len()],
        };
        let pre = content
            .metadata
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        // Control (3) and user-defined (4) tokens are matched whole, before BPE.
        let added: Vec<serde_json::Value> = tokens
            .iter()
            .zip(&types)
            .enumerate()
            .filter(|(_, (_, t))| matches!(**t, 3 | 4))
            .map(|(id, (content, t))| {
                json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": *t == 3})
            })
            .collect();
        let vocab: HashMap<&str, usize> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        let spec = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer(&pre),
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null,
                      "continuing_subword_prefix": null, "end_of_word_suffix": null,
                      "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": merges}
        });
        let token_bytes =
            llguidance::token_bytes_from_tokenizer_json(&spec).map_err(LocalError::model)?;
        if token_bytes.len() != tokens.len() {
            return Err(LocalError::Model(format!(
                "the vocabulary has {} tokens but {} could be decoded",
                tokens.len(),
                token_bytes.len()
            )));
        }
        let tokenizer: tokenizers::Tokenizer = spec
            .to_string()
            .parse()
            .map_err(|e: tokenizers::Error| LocalError::Model(e.to_string()))?;
        let eos = number(content, "tokenizer.ggml.eos_token_id").unwrap_or(0);
        let bos = number(content, "tokenizer.ggml.bos_token_id");
        let mut stop_tokens = vec![eos];
        for (id, text) in tokens.iter().enumerate() {
            let ends_turn = matches!(
                text.as_str(),
                "<|im_end|>" | "<|eot_id|>" | "<|endoftext|>" | "<end_of_turn>" | "<|end|>"
            );
            if ends_turn && let Ok(id) = u32::try_from(id) {
                stop_tokens.push(id);
            }
        }
        stop_tokens.sort_unstable();
        stop_tokens.dedup();
        let text_of = |id: Option<u32>| {
            id.and_then(|id| tokens.get(id as usize))
                .cloned()
                .unwrap_or_default()
        };
        Ok(Self {
            tokenizer,
            bos_text: text_of(bos),
            eos_text: text_of(Some(eos)),
            token_bytes,
            stop_tokens,
            eos,
        })
    }

    /// The tokens of a prompt (special tokens in the text are matched whole).
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<u32>, LocalError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| LocalError::Model(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }
}
