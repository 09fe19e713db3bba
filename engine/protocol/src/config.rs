//! The settings types the API carries: model endpoints and MCP servers, as data. How a key is
//! found, what a model can do and how a server is started are the engine's business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wire {
    /// OpenAI-compatible Chat Completions (OpenAI, Groq, OpenRouter, Ollama, LM Studio, llama.cpp…).
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini (`streamGenerateContent`).
    Gemini,
    /// A GGUF model run in-process (`model` is an installed model's name or a `.gguf` path).
    Local,
}

/// A wire name that is none of the supported ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown wire {0:?}; supported: openai, anthropic, gemini, local")]
pub struct UnknownWire(pub String);

impl std::str::FromStr for Wire {
    type Err = UnknownWire;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "openai" | "openai-compatible" | "openai_compatible" => Ok(Self::Openai),
            "anthropic" => Ok(Self::Anthropic),
            "gemini" | "google" => Ok(Self::Gemini),
            "local" | "gguf" => Ok(Self::Local),
            other => Err(UnknownWire(other.to_owned())),
        }
    }
}

/// One model endpoint, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// A short name (also the keychain account of its key).
    pub name: String,
    /// The protocol.
    pub wire: Wire,
    /// The API base, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// The model to ask.
    pub model: String,
    /// The environment variable that holds the key (defaults by name, e.g. `OPENAI_API_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// The keychain account of the key, when it differs from `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    /// The model's context window in tokens (default: known for common models, else 32,768).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    /// Whether the model takes images (default: known for common model families, else no).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision: Option<bool>,
}

impl ProviderConfig {
    /// The environment variable consulted for this provider's key.
    #[must_use]
    pub fn key_env_var(&self) -> String {
        if let Some(var) = &self.key_env {
            return var.clone();
        }
        let upper: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{upper}_API_KEY")
    }

    /// The keychain account that holds this provider's key.
    #[must_use]
    pub fn key_account(&self) -> &str {
        self.key_ref.as_deref().unwrap_or(&self.name)
    }
}

/// How Aetheria talks to an MCP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    /// A program to start, speaking MCP on its stdin and stdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment variables for it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Or the URL of a streamable-HTTP MCP endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The keychain account of a bearer token for `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ref: Option<String>,
    /// Off: its tools are not offered and it is not started.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_true(v: &bool) -> bool {
    *v
}

impl McpServerConfig {
    /// Why this entry cannot work, if it cannot.
    pub fn problem(&self, name: &str) -> Option<String> {
        if name.is_empty()
            || name.contains("__")
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Some(format!(
                "the MCP server name {name:?} must be letters, digits, '-' or '_', without \"__\" (it prefixes its tools' names, joined by \"__\")"
            ));
        }
        match (&self.command, &self.url) {
            (Some(_), Some(_)) => Some(format!(
                "MCP server {name}: give either a command or a url, not both"
            )),
            (None, None) => Some(format!("MCP server {name}: give a command or a url")),
            (None, Some(url)) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                Some(format!(
                    "MCP server {name}: the url must start with http:// or https://"
                ))
            }
            _ => None,
        }
    }
}
