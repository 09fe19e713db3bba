//! Embeddings for vector recall: an OpenAI-compatible `POST {base_url}/embeddings` (OpenAI, Ollama,
//! LM Studio, llama.cpp all speak it). Without an endpoint configured, recall is full-text only.

use std::sync::{Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use serde::Deserialize;

use crate::body::TooLarge;
use crate::config::EmbeddingsConfig;
use crate::secrets::{Secrets, SecretsError};

/// Why a text got no vector (recall then falls back to words).
#[derive(Debug, thiserror::Error)]
pub(crate) enum EmbedError {
    /// The keychain did not give the key.
    #[error("the embeddings key could not be read: {0}")]
    Keychain(#[from] SecretsError),
    /// The key would travel in the clear; it was not sent.
    #[error("{0}")]
    InTheClear(String),
    /// The endpoint could not be reached (or no HTTP client could be made).
    #[error("the embeddings endpoint could not be reached: {0}")]
    Unreachable(#[from] reqwest::Error),
    /// The endpoint refused: its status and the start of its body.
    #[error("the embeddings endpoint answered {status}: {body}")]
    Refused {
        status: reqwest::StatusCode,
        body: String,
    },
    /// The answer was larger than an answer may be.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// The answer was not an embeddings answer, or carried no vector.
    #[error("the embeddings endpoint answered something unexpected: {0}")]
    Unexpected(String),
}

/// The configured embeddings endpoint (changed live by settings).
pub(crate) struct Embeddings {
    config: RwLock<Option<EmbeddingsConfig>>,
    secrets: Secrets,
    /// Made at the first use and kept: building one loads the system's certificates (milliseconds,
    /// on the way to every turn's first token), and a kept one reuses its connections.
    http: OnceLock<reqwest::Client>,
    /// The key read from the keychain, with its account: the keychain (a Secret Service call on
    /// Linux) is asked once, not on the way to every turn's first token. Forgotten when the
    /// settings change, when a key is stored, and when the endpoint refuses it, so a key fixed
    /// meanwhile (`aetheria auth set`) is read again.
    key: Mutex<Option<(String, Option<String>)>>,
}

impl Embeddings {
    pub(crate) fn new(config: Option<EmbeddingsConfig>, secrets: Secrets) -> Self {
        Self {
            config: RwLock::new(config),
            secrets,
            http: OnceLock::new(),
            key: Mutex::default(),
        }
    }

    pub(crate) fn configure(&self, config: Option<EmbeddingsConfig>) {
        if let Ok(mut c) = self.config.write() {
            *c = config;
        }
        self.forget_key();
    }

    /// The next request reads its key from the keychain again.
    pub(crate) fn forget_key(&self) {
        *self.key.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The key kept for `account`, else the keychain's (then kept).
    async fn keychain_key(&self, account: &str) -> Result<Option<String>, EmbedError> {
        if let Some((kept_for, key)) = &*self.key.lock().unwrap_or_else(PoisonError::into_inner)
            && kept_for == account
        {
            return Ok(key.clone());
        }
        let key = self.secrets.load(account).await?;
        *self.key.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((account.to_owned(), key.clone()));
        Ok(key)
    }

    /// The vector of `text`; `Ok(None)` when no endpoint is configured.
    pub(crate) async fn embed(&self, text: &str) -> Result<Option<Vec<f32>>, EmbedError> {
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
            (Some(account), _) => self.keychain_key(account).await?,
            (None, Some(var)) => std::env::var(var).ok(),
            (None, None) => None,
        };
        let http = match self.http.get() {
            Some(http) => http,
            None => {
                let built = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()?;
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
            if let Some(why) = crate::body::in_the_clear(&config.base_url, "the embeddings key") {
                return Err(EmbedError::InTheClear(why));
            }
            request = request.bearer_auth(key);
        }
        let response = request.send().await?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403) {
            self.forget_key();
        }
        if !status.is_success() {
            let body: String = crate::body::error_text(response)
                .await
                .chars()
                .take(200)
                .collect();
            return Err(EmbedError::Refused { status, body });
        }
        let text =
            crate::body::text_within(response, crate::body::MAX_API, "the embeddings endpoint")
                .await?;
        let answer: Answer =
            serde_json::from_str(&text).map_err(|e| EmbedError::Unexpected(e.to_string()))?;
        let vector = answer
            .data
            .into_iter()
            .next()
            .map(|i| i.embedding)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| EmbedError::Unexpected("no vector".into()))?;
        Ok(Some(vector))
    }
}
