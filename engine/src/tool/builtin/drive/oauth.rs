//! Google's OAuth 2.0 for installed apps: PKCE (S256) with a loopback redirect on 127.0.0.1, the
//! tokens (with the refresh token) kept in the keychain as one JSON entry, and refresh before
//! expiry.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::DriveConfig;
use crate::secrets::Secrets;
use crate::tool::builtin::form;
use crate::tool::builtin::sign_in::SignInError;

/// The access the Drive tools need: files the person opens or makes with them, plus reading.
pub const SCOPE: &str = "https://www.googleapis.com/auth/drive";

/// The tokens kept in the keychain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Google's token endpoint answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn random_url_safe(bytes: usize) -> Result<String, SignInError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| SignInError::Local(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

async fn client_secret(
    config: &DriveConfig,
    secrets: &Secrets,
) -> Result<Option<String>, SignInError> {
    let Some(account) = config.client_secret_ref.clone() else {
        return Ok(None);
    };
    Ok(secrets.load(&account).await?)
}

/// Posts to the token endpoint.
async fn token_request(
    config: &DriveConfig,
    pairs: &[(&str, &str)],
) -> Result<TokenAnswer, SignInError> {
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| SignInError::Local(format!("no HTTP client: {e}")))?
        .post(&config.token_url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .map_err(|e| {
            SignInError::Service(format!("Google's token endpoint could not be reached: {e}"))
        })?;
    let text =
        crate::body::text_within(response, crate::body::MAX_ERROR, "Google's token endpoint")
            .await?;
    let answer: TokenAnswer = serde_json::from_str(&text).map_err(|e| {
        SignInError::Service(format!(
            "Google's token endpoint answered something unexpected: {e}"
        ))
    })?;
    if let Some(error) = &answer.error {
        return Err(SignInError::Declined(format!(
            "Google refused the sign-in: {} ({error})",
            answer
                .error_description
                .as_deref()
                .unwrap_or("no reason given")
        )));
    }
    Ok(answer)
}

/// A sign-in waiting for the browser to come back.
pub struct Pending {
    /// The page to open in the browser.
    pub auth_url: String,
    listener: tokio::net::TcpListener,
    redirect_uri: String,
    verifier: String,
    state: String,
    config: DriveConfig,
}

/// Starts a sign-in: a loopback listener for the redirect and the URL to open.
pub async fn start(config: &DriveConfig) -> Result<Pending, SignInError> {
    let client_id = config.client_id.as_deref().ok_or_else(|| {
        SignInError::Setup(
            "Google Drive needs an OAuth client id (a \"Desktop app\" client from Google Cloud console) as drive.client_id".into(),
        )
    })?;
    let no_listener = |e: std::io::Error| {
        SignInError::Local(format!("cannot listen for the sign-in's redirect: {e}"))
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(no_listener)?;
    let port = listener.local_addr().map_err(no_listener)?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}");
    let verifier = random_url_safe(32)?;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let state = random_url_safe(16)?;
    let mut url = url::Url::parse(&config.auth_url)
        .map_err(|e| SignInError::Setup(format!("drive.auth_url is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", SCOPE)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state)
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent");
    Ok(Pending {
        auth_url: url.to_string(),
        listener,
        redirect_uri,
        verifier,
        state,
        config: config.clone(),
    })
}

impl Pending {
    /// Waits (up to `timeout`) for the browser to come back with the code, trades it for tokens and
    /// keeps them in the keychain.
    pub async fn finish(self, secrets: &Secrets, timeout: Duration) -> Result<(), SignInError> {
        let code = tokio::time::timeout(timeout, self.wait_for_code())
            .await
            .map_err(|_| {
                SignInError::Declined("the sign-in was not finished in the browser in time".into())
            })??;
        let client_id = self.config.client_id.clone().unwrap_or_default();
        let secret = client_secret(&self.config, secrets).await?;
        let mut pairs = vec![
            ("client_id", client_id.as_str()),
            ("code", code.as_str()),
            ("code_verifier", self.verifier.as_str()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", self.redirect_uri.as_str()),
        ];
        if let Some(secret) = &secret {
            pairs.push(("client_secret", secret));
        }
        let answer = token_request(&self.config, &pairs).await?;
        let tokens = Tokens {
            access_token: answer.access_token.ok_or_else(no_token)?,
            refresh_token: answer.refresh_token,
            expires_at: chrono::Utc::now().timestamp() + answer.expires_in.unwrap_or(3600),
        };
        store(&self.config, secrets, &tokens).await
    }

    /// Serves the one redirect request and returns its code.
    async fn wait_for_code(&self) -> Result<String, SignInError> {
        let lost = |e: std::io::Error| {
            SignInError::Local(format!("the browser's answer could not be read: {e}"))
        };
        loop {
            let (mut socket, _) = self.listener.accept().await.map_err(lost)?;
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.map_err(lost)?;
            let request = String::from_utf8_lossy(&buf[..n]);
            let target = request
                .lines()
                .next()
                .and_then(|line| line.split_whitespace().nth(1))
                .unwrap_or("/");
            // A request line that is no path is answered like any unknown page.
            let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else {
                continue;
            };
            let get = |key: &str| {
                url.query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
            };
            let (status, page, outcome) = match (get("code"), get("state"), get("error")) {
                (_, _, Some(error)) => (
                    "400 Bad Request",
                    "The sign-in was declined. You can close this window.",
                    Some(Err(SignInError::Declined(format!(
                        "the sign-in was declined ({error})"
                    )))),
                ),
                (Some(code), Some(state), None) if state == self.state => (
                    "200 OK",
                    "Aetheria is signed in to Google Drive. You can close this window.",
                    Some(Ok(code)),
                ),
                (Some(_), _, None) => (
                    "400 Bad Request",
                    "This answer does not belong to the sign-in Aetheria started.",
                    None,
                ),
                _ => ("404 Not Found", "Not found.", None),
            };
            let body = format!("<!doctype html><title>Aetheria</title><p>{page}</p>");
            let _ = socket
                .write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }
}

/// Google sent tokens without the access token.
fn no_token() -> SignInError {
    SignInError::Service("Google sent no access token".into())
}

async fn store(
    config: &DriveConfig,
    secrets: &Secrets,
    tokens: &Tokens,
) -> Result<(), SignInError> {
    let text = serde_json::to_string(tokens)
        .map_err(|e| SignInError::Local(format!("the tokens could not be written: {e}")))?;
    Ok(secrets.save(&config.token_ref, text).await?)
}

/// A valid access token: the stored one, or a refreshed one when it expires within a minute (or
/// `force`, after a 401).
pub(crate) async fn access_token(
    config: &DriveConfig,
    secrets: &Secrets,
    force: bool,
) -> Result<String, SignInError> {
    let stored = secrets.load(&config.token_ref).await?.ok_or_else(|| {
        SignInError::SignedOut("not signed in to Google Drive: run `aetheria auth drive`".into())
    })?;
    let mut tokens: Tokens = serde_json::from_str(&stored).map_err(|_| {
        SignInError::SignedOut(
            "the stored Google Drive sign-in is damaged: run `aetheria auth drive` again".into(),
        )
    })?;
    secrets.redactor().learn(&tokens.access_token);
    if !force && tokens.expires_at - chrono::Utc::now().timestamp() > 60 {
        return Ok(tokens.access_token);
    }
    let refresh = tokens.refresh_token.clone().ok_or_else(|| {
        SignInError::SignedOut(
            "the Google Drive sign-in expired: run `aetheria auth drive` again".into(),
        )
    })?;
    secrets.redactor().learn(&refresh);
    let client_id = config.client_id.clone().unwrap_or_default();
    let secret = client_secret(config, secrets).await?;
    let mut pairs = vec![
        ("client_id", client_id.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    if let Some(secret) = &secret {
        pairs.push(("client_secret", secret));
    }
    let answer = token_request(config, &pairs).await?;
    tokens.access_token = answer.access_token.ok_or_else(no_token)?;
    tokens.expires_at = chrono::Utc::now().timestamp() + answer.expires_in.unwrap_or(3600);
    if answer.refresh_token.is_some() {
        tokens.refresh_token = answer.refresh_token;
    }
    secrets.redactor().learn(&tokens.access_token);
    store(config, secrets, &tokens).await?;
    Ok(tokens.access_token)
}
