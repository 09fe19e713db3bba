//! Which models a provider offers and what each can do. Lists come from the provider's own API
//! (`GET /models` on every wire, following pages); capabilities (context window, tools, images) come
//! from what that API says when it says it (Gemini's `inputTokenLimit`, OpenRouter's
//! `context_length` and modalities), else from a table of known families, else safe defaults.

use serde_json::Value;

use super::ProviderError;
use super::http;
use crate::api::ModelInfo;
use crate::config::{ProviderConfig, Wire};

/// Pages followed at most (a runaway `next` link cannot loop forever).
const MAX_PAGES: usize = 20;

/// What a model family can do: `(name fragment, context window, tools, vision)`, first match wins.
const KNOWN: [(&str, u64, bool, bool); 24] = [
    ("gemini", 1_048_576, true, true),
    ("claude", 200_000, true, true),
    ("gpt-4.1", 1_047_576, true, true),
    ("gpt-4o", 128_000, true, true),
    ("gpt-5", 400_000, true, true),
    ("o4-mini", 200_000, true, true),
    ("o3", 200_000, true, true),
    ("gpt-3.5", 16_385, true, false),
    ("llava", 4_096, false, true),
    ("llama-4", 1_048_576, true, true),
    ("llama3.2-vision", 128_000, true, true),
    ("llama-3.2-11b-vision", 128_000, true, true),
    ("llama-3", 128_000, true, false),
    ("llama3", 128_000, true, false),
    ("qwen2.5-vl", 128_000, true, true),
    ("qwen", 32_768, true, false),
    ("pixtral", 128_000, true, true),
    ("mistral-large", 128_000, true, false),
    ("mistral-small", 128_000, true, true),
    ("mistral", 32_768, true, false),
    ("deepseek", 64_000, true, false),
    ("gemma3", 128_000, false, true),
    ("smollm", 8_192, false, false),
    ("phi", 16_384, true, false),
];

/// The model's context window in tokens: configured, else known for the model's family, else a
/// cautious 32,768.
pub(crate) fn context_window(provider: &ProviderConfig) -> u64 {
    provider
        .context_window
        .unwrap_or_else(|| capabilities(&provider.model).0)
}

/// Whether image attachments can go to this model: configured, else known for its family. The
/// built-in local runtime takes none.
pub(crate) fn takes_images(provider: &ProviderConfig) -> bool {
    provider.wire != Wire::Local
        && provider
            .vision
            .unwrap_or_else(|| capabilities(&provider.model).2)
}

/// Capabilities of a model by its id: known family, else 32,768 tokens, tools, no images.
#[must_use]
pub(crate) fn capabilities(model: &str) -> (u64, bool, bool) {
    let id = model.to_ascii_lowercase();
    KNOWN
        .iter()
        .find(|(fragment, ..)| id.contains(fragment))
        .map_or((32_768, true, false), |(_, window, tools, vision)| {
            (*window, *tools, *vision)
        })
}

fn info(id: &str, display_name: Option<&str>) -> ModelInfo {
    let (context_window, tools, vision) = capabilities(id);
    ModelInfo {
        id: id.to_owned(),
        display_name: display_name.unwrap_or(id).to_owned(),
        context_window,
        tools,
        vision,
    }
}

/// Lists the models of a provider through its API.
pub(crate) async fn list(
    provider: &ProviderConfig,
    key: Option<&str>,
) -> Result<Vec<ModelInfo>, ProviderError> {
    let http = http::http_client()?;
    let base = provider.base_url.trim_end_matches('/');
    let mut models = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut url = reqwest::Url::parse(&format!("{base}/models")).map_err(|e| {
            ProviderError::Connect(format!(
                "provider {:?}: base URL {base:?} is not a URL ({e})",
                provider.name
            ))
        })?;
        match provider.wire {
            Wire::Anthropic => {
                url.query_pairs_mut().append_pair("limit", "1000");
                if let Some(after) = &cursor {
                    url.query_pairs_mut().append_pair("after_id", after);
                }
            }
            Wire::Gemini => {
                url.query_pairs_mut().append_pair("pageSize", "1000");
                if let Some(token) = &cursor {
                    url.query_pairs_mut().append_pair("pageToken", token);
                }
            }
            _ => {}
        }
        let request = http.get(url);
        let request = http::authorize(request, provider.wire, key);
        let response = http::open(request, provider, key.is_some()).await?;
        let text = http::whole_text(response, http::MAX_WHOLE_BODY, &provider.name).await?;
        let body: Value = serde_json::from_str(&text).map_err(|e| {
            ProviderError::Stream(format!(
                "provider {:?} answered GET /models with something that is not JSON: {e}",
                provider.name
            ))
        })?;
        cursor = match provider.wire {
            Wire::Gemini => {
                models.extend(gemini_models(&body));
                body["nextPageToken"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
            }
            Wire::Anthropic => {
                models.extend(listed(&body));
                if body["has_more"].as_bool() == Some(true) {
                    body["last_id"].as_str().map(str::to_owned)
                } else {
                    None
                }
            }
            _ => {
                models.extend(listed(&body));
                None
            }
        };
        if cursor.is_none() {
            break;
        }
    }
    models.sort_by(|a, b| a.id.cmp(&b.id));
    models.dedup_by(|a, b| a.id == b.id);
    Ok(models)
}

/// `{"data": [{"id", "display_name"?, "context_length"?, "architecture"?…}]}`: OpenAI, Anthropic,
/// OpenRouter, Ollama, LM Studio and llama.cpp.
fn listed(body: &Value) -> Vec<ModelInfo> {
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let id = m["id"].as_str()?;
            let mut model = info(id, m["display_name"].as_str().or(m["name"].as_str()));
            // OpenRouter says what each model takes.
            if let Some(window) = m["context_length"].as_u64() {
                model.context_window = window;
            }
            if let Some(inputs) = m
                .pointer("/architecture/input_modalities")
                .and_then(Value::as_array)
            {
                model.vision = inputs.iter().any(|i| i == "image");
            }
            if let Some(params) = m["supported_parameters"].as_array() {
                model.tools = params.iter().any(|p| p == "tools");
            }
            Some(model)
        })
        .collect()
}

/// `{"models": [{"name": "models/…", "displayName", "inputTokenLimit", "supportedGenerationMethods"}]}`;
/// only models that generate content.
fn gemini_models(body: &Value) -> Vec<ModelInfo> {
    body["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| {
            m["supportedGenerationMethods"]
                .as_array()
                .is_none_or(|methods| methods.iter().any(|x| x == "generateContent"))
        })
        .filter_map(|m| {
            let name = m["name"].as_str()?;
            let id = name.strip_prefix("models/").unwrap_or(name);
            let mut model = info(id, m["displayName"].as_str());
            if let Some(window) = m["inputTokenLimit"].as_u64() {
                model.context_window = window;
            }
            Some(model)
        })
        .collect()
}

/// List prices this build knows, in US dollars per million tokens (prompt, completion), by the
/// start of the model's id; the longest match wins. Prices change: `[prices]` in the config
/// overrides them.
const PRICES: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-3-5-sonnet", 3.00, 15.00),
    ("claude-3-7-sonnet", 3.00, 15.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4", 15.00, 75.00),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-pro", 1.25, 10.00),
];

/// What `usage` of `provider`'s model cost, in millionths of a dollar: nothing on this machine's
/// own runtime; the configured price, else the list price; none when neither is known.
pub(crate) fn cost_micros(
    provider: &ProviderConfig,
    prices: &std::collections::BTreeMap<String, crate::config::Price>,
    usage: &crate::api::Usage,
) -> Option<u64> {
    if provider.wire == Wire::Local {
        return Some(0);
    }
    let (input, output) = match prices.get(&provider.model) {
        Some(price) => (price.input, price.output),
        None => PRICES
            .iter()
            .filter(|(id, ..)| provider.model.starts_with(id))
            .max_by_key(|(id, ..)| id.len())
            .map(|&(_, input, output)| (input, output))?,
    };
    // Dollars per million tokens are millionths of a dollar per token.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let micros = (usage.input_tokens as f64 * input + usage.output_tokens as f64 * output)
        .max(0.0)
        .round() as u64;
    Some(micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn capabilities_come_from_the_family_with_safe_defaults() {
        assert_eq!(capabilities("claude-sonnet-4-5"), (200_000, true, true));
        assert_eq!(capabilities("gpt-4o-mini"), (128_000, true, true));
        assert_eq!(capabilities("deepseek-chat"), (64_000, true, false));
        assert_eq!(capabilities("something-new"), (32_768, true, false));
    }

    #[test]
    fn openrouter_metadata_wins_over_the_table() {
        let body = json!({"data": [{"id": "vendor/claude-x", "name": "Claude X",
            "context_length": 100_000,
            "architecture": {"input_modalities": ["text"]},
            "supported_parameters": ["temperature"]}]});
        let models = listed(&body);
        assert_eq!(models[0].display_name, "Claude X");
        assert_eq!(models[0].context_window, 100_000);
        assert!(!models[0].vision);
        assert!(!models[0].tools);
    }

    #[test]
    fn gemini_lists_only_models_that_generate() {
        let body = json!({"models": [
            {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash",
             "inputTokenLimit": 1_000_000, "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]}
        ]});
        let models = gemini_models(&body);
        assert_eq!(models.len(), 1);
        assert_eq!(models[0].id, "gemini-2.5-flash");
        assert_eq!(models[0].context_window, 1_000_000);
        assert!(models[0].vision);
    }

    #[test]
    fn a_turn_costs_the_configured_price_else_the_list_price() {
        use crate::api::Usage;
        let usage = Usage {
            input_tokens: 1_000,
            output_tokens: 200,
            cached_input_tokens: 0,
            cost_micros: None,
        };
        let provider = |wire, model: &str| ProviderConfig {
            name: "p".into(),
            wire,
            base_url: String::new(),
            model: model.into(),
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        };
        let none = std::collections::BTreeMap::new();
        // gpt-4o-mini, not gpt-4o: the longest known start wins. 1000 × 0.15 + 200 × 0.60.
        assert_eq!(
            cost_micros(
                &provider(Wire::Openai, "gpt-4o-mini-2024-07-18"),
                &none,
                &usage
            ),
            Some(270)
        );
        assert_eq!(
            cost_micros(&provider(Wire::Openai, "gpt-4o"), &none, &usage),
            Some(4_500)
        );
        assert_eq!(
            cost_micros(&provider(Wire::Openai, "mystery-model"), &none, &usage),
            None
        );
        assert_eq!(
            cost_micros(&provider(Wire::Local, "smollm2"), &none, &usage),
            Some(0)
        );
        let mut prices = std::collections::BTreeMap::new();
        prices.insert(
            "mystery-model".to_owned(),
            crate::config::Price {
                input: 1.0,
                output: 2.5,
            },
        );
        assert_eq!(
            cost_micros(&provider(Wire::Openai, "mystery-model"), &prices, &usage),
            Some(1_500)
        );
    }
}
