//! Embeddings for vector recall: an OpenAI-compatible `POST {base_url}/embeddings` (OpenAI, Ollama,
//! LM Studio, llama.cpp all speak it). Without an endpoint configured, recall is full-text only.

use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use serde::Deserialize;

use crate::config::EmbeddingsConfig;
use crate::secrets::Secrets;

/// The configured embeddings endpoint (changed live by settings).
pub(crate) struct Embeddings {
    config: RwLock<Option<EmbeddingsConfig>>,
    secrets: Secrets,
    /// Made at the first use and kept: building one loads the system's certificates (milliseconds,
    /// on the way to every turn's first token), and a kept one reuses its connections.
    http: OnceLock<reqwest::Client>,
}

impl Embeddings {
    pub(crate) fn new(config: Option<EmbeddingsConfig>, secrets: Secrets) -> Self {
        Self {
            config: RwLock::new(config),
            secrets,
            http: OnceLock::new(),
        }
    }

    pub(crate) fn configure(&self, config: Option<EmbeddingsConfig>) {
        if let Ok(mut c) = self.config.write() {
            *c = config;
        }
    }

    /// The vector of `text`; `Ok(None)` when no endpoint is configured.
    pub(crate) async fn embed(&self, text: &str) -> Result<Option<Vec<f32>>, String> {
        #[derive(Deserialize)]
        struct Answer {
            data: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            embedding: Vec<f32>,
        }
        let Some(config) = self.config.read().ok().and_then(|c| c.clone()) else {
            return Ok(None);
        };
        let key = match (&config.key_ref, &config.key_env) {
            (Some(account), _) => {
                let secrets = self.secrets.clone();
                let account = account.clone();
                tokio::task::spawn_blocking(move || secrets.get(&account))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?
            }
            (None, Some(var)) => std::env::var(var).ok(),
            (None, None) => None,
        };
        let http = match self.http.get() {
            Some(http) => http,
            None => {
                let built = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .map_err(|e| e.to_string())?;
                self.http.get_or_init(|| built)
            }
        };
        let mut request = http
            .post(format!(
                "{}/embeddings",
                config.base_url.trim_end_matches('/')
            ))
            .json(&serde_json::json!({ "model": config.model, "input": [text] }));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("the embeddings endpoint could not be reached: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            let body: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            return Err(format!("the embeddings endpoint answered {status}: {body}"));
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|e| format!("the embeddings endpoint answered something unexpected: {e}"))?;
        let vector = answer
            .data
            .into_iter()
            .next()
            .map(|i| i.embedding)
            .filter(|v| !v.is_empty())
            .ok_or("the embeddings endpoint sent no vector")?;
        Ok(Some(vector))
    }
}
