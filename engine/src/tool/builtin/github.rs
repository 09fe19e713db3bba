//! GitHub over its REST API (v2022-11-28): a thin client that turns every documented failure (401,
//! 403 and rate limits, 404, 422 validation errors) into a sentence the model can act on, follows
//! `Link` pagination, and signs in with a keychain token or the OAuth device flow. The tools that
//! use it live in `tools`; they are offered only when `[github]` is configured.

mod tools;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap};
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub(crate) use self::tools::register;
use crate::config::GithubConfig;
use crate::secrets::Secrets;
use crate::tool::ToolError;

/// Most pages one listing follows.
const MAX_PAGES: usize = 10;

/// The GitHub connection the tools share.
pub(crate) struct Github {
    config: RwLock<Option<GithubConfig>>,
    secrets: Secrets,
}

impl Github {
    pub(crate) fn new(config: Option<GithubConfig>, secrets: Secrets) -> Arc<Self> {
        Arc::new(Self {
            config: RwLock::new(config),
            secrets,
        })
    }

    pub(crate) fn configure(&self, config: Option<GithubConfig>) {
        if let Ok(mut c) = self.config.write() {
            *c = config;
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.config.read().is_ok_and(|c| c.is_some())
    }

    fn config(&self) -> Result<GithubConfig, ToolError> {
        self.config
            .read()
            .ok()
            .and_then(|c| c.clone())
            .ok_or_else(|| ToolError::RespondToModel("GitHub is not set up in the settings".into()))
    }

    /// A client signed in with the token from the keychain.
    async fn client(&self) -> Result<Client, ToolError> {
        let config = self.config()?;
        let token = super::keychain_token(
            &self.secrets,
            &config.token_ref,
            &format!(
                "no GitHub token: sign in with `aetheria auth github`, or store a token with `aetheria auth set {}`",
                config.token_ref
            ),
        )
        .await?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("Aetheria/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| ToolError::RespondToModel(format!("the HTTP client failed: {e}")))?;
        Ok(Client {
            http,
            base: config.api_url.trim_end_matches('/').to_owned(),
            token,
        })
    }
}

/// A signed-in client.
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// GitHub's error body.
#[derive(Deserialize)]
struct ErrorBody {
    message: String,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// Explains a failed response: what GitHub said, and what to do about it.
fn explain(status: reqwest::StatusCode, headers: &HeaderMap, body: &str) -> ToolError {
    let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .map_or_else(|| body.chars().take(200).collect(), |b| b.message.clone());
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let text = match status.as_u16() {
        401 => format!(
            "GitHub refused the token ({message}); sign in again with `aetheria auth github`"
        ),
        403 | 429 if header("x-ratelimit-remaining") == Some("0") => {
            let reset = header("x-ratelimit-reset")
                .and_then(|r| r.parse::<i64>().ok())
                .map(|r| r - chrono::Utc::now().timestamp())
                .map_or_else(String::new, |s| format!(" It resets in {} s.", s.max(0)));
            format!("the GitHub API rate limit is used up ({message}).{reset}")
        }
        403 | 429 if header("retry-after").is_some() => format!(
            "GitHub asks to slow down ({message}); try again in {} s",
            header("retry-after").unwrap_or("60")
        ),
        403 => format!("GitHub forbids this ({message}); the token may lack a scope or access"),
        404 => format!(
            "GitHub found nothing there ({message}): check the owner/name, path and branch, and that the token can see private repositories"
        ),
        422 => {
            let details: Vec<String> = parsed
                .map(|b| {
                    b.errors
                        .iter()
                        .map(|e| {
                            match (
                                e["field"].as_str(),
                                e["code"].as_str(),
                                e["message"].as_str(),
                            ) {
                                (_, _, Some(m)) => m.to_owned(),
                                (Some(f), Some(c), None) => format!("{f}: {c}"),
                                _ => e.to_string(),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            if details.is_empty() {
                format!("GitHub did not accept the request ({message})")
            } else {
                format!(
                    "GitHub did not accept the request ({message}: {})",
                    details.join("; ")
                )
            }
        }
        _ => format!("GitHub answered {status}: {message}"),
    };
    ToolError::RespondToModel(text)
}

/// Whether `url` lies on the API at `base` (same scheme, host and port, under its path).
fn on_api(base: &str, url: &str) -> bool {
    match (url::Url::parse(base), url::Url::parse(url)) {
        (Ok(base), Ok(url)) => {
            base.origin() == url.origin()
                && url.path().starts_with(base.path().trim_end_matches('/'))
        }
        _ => false,
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .bearer_auth(&self.token)
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    }

    async fn send(&self, builder: reqwest::RequestBuilder) -> Result<reqwest::Response, ToolError> {
        let response = builder
            .send()
            .await
            .map_err(|e| ToolError::RespondToModel(format!("GitHub could not be reached: {e}")))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = crate::body::error_text(response).await;
        Err(explain(status, &headers, &body))
    }

    async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ToolError> {
        let text = crate::body::text_within(response, crate::body::MAX_API, "GitHub")
            .await
            .map_err(|e| ToolError::RespondToModel(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| {
            ToolError::RespondToModel(format!("GitHub answered something unexpected: {e}"))
        })
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ToolError> {
        let response = self
            .send(self.request(reqwest::Method::GET, &self.url(path)))
            .await?;
        Self::json(response).await
    }

    /// Every item of a listing, following `Link: rel="next"` (up to `MAX_PAGES` pages); `true` when
    /// more pages were left.
    pub(crate) async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
    ) -> Result<(Vec<T>, bool), ToolError> {
        let mut url = self.url(path);
        let mut items = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self.send(self.request(reqwest::Method::GET, &url)).await?;
            let next = next_link(response.headers());
            let page: Vec<T> = Self::json(response).await?;
            items.extend(page);
            if items.len() >= limit {
                let more = items.len() > limit || next.is_some();
                items.truncate(limit);
                return Ok((items, more));
            }
            match next {
                // The token goes only to the API it was made for: a next page elsewhere is not
                // followed (its listing is reported as cut).
                Some(n) if on_api(&self.base, &n) => url = n,
                Some(n) => {
                    tracing::warn!(next = %n, "GitHub named a next page off its API; not followed");
                    return Ok((items, true));
                }
                None => return Ok((items, false)),
            }
        }
        Ok((items, true))
    }

    pub(crate) async fn send_json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, ToolError> {
        let response = self
            .send(self.request(method, &self.url(path)).json(body))
            .await?;
        Self::json(response).await
    }

    /// The raw bytes at a path (a tarball; redirects are followed).
    pub(crate) async fn bytes(&self, path: &str, max: usize) -> Result<Vec<u8>, ToolError> {
        let mut response = self
            .send(self.request(reqwest::Method::GET, &self.url(path)))
            .await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ToolError::RespondToModel(format!("downloading failed: {e}")))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > max {
                return Err(ToolError::RespondToModel(format!(
                    "the download is larger than {} MiB; clone it in the sandbox with git instead",
                    max >> 20
                )));
            }
        }
        Ok(bytes)
    }
}

/// What the device flow shows the person.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    /// Kept to poll with.
    pub device_code: String,
    /// The code the person types.
    pub user_code: String,
    /// Where they type it.
    pub verification_uri: String,
    /// Seconds before the code expires.
    pub expires_in: u64,
    /// Seconds between polls.
    #[serde(default = "five")]
    pub interval: u64,
}

fn five() -> u64 {
    5
}

/// GitHub's OAuth device flow: start it, then poll until the person has entered the code. The token
/// goes to the keychain under the configured account.
pub mod device {
    use super::{Deserialize, DeviceCode, Duration};
    use crate::config::GithubConfig;
    use crate::secrets::Secrets;
    use crate::tool::builtin::form;
    use crate::tool::builtin::sign_in::SignInError;

    fn client_id(config: &GithubConfig) -> Result<&str, SignInError> {
        config.client_id.as_deref().ok_or_else(|| {
            SignInError::Setup("the device flow needs an OAuth app's client id: set github.client_id (or store a personal access token with `aetheria auth set github`)".to_owned())
        })
    }

    fn http() -> Result<reqwest::Client, SignInError> {
        reqwest::Client::builder()
            .user_agent(concat!("Aetheria/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| SignInError::Local(format!("no HTTP client: {e}")))
    }

    fn unreachable(e: reqwest::Error) -> SignInError {
        SignInError::Service(format!("GitHub could not be reached: {e}"))
    }

    fn unexpected(e: impl std::fmt::Display) -> SignInError {
        SignInError::Service(format!("GitHub answered something unexpected: {e}"))
    }

    fn expired() -> SignInError {
        SignInError::Declined("the code expired before it was entered; start again".into())
    }

    /// Asks for a device and user code.
    pub async fn start(config: &GithubConfig) -> Result<DeviceCode, SignInError> {
        let url = format!(
            "{}/login/device/code",
            config.oauth_url.trim_end_matches('/')
        );
        let response = http()?
            .post(url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("client_id", client_id(config)?),
                ("scope", "repo"),
            ]))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let text = crate::body::text_within(response, crate::body::MAX_ERROR, "GitHub").await?;
        if !status.is_success() {
            return Err(SignInError::Service(format!(
                "GitHub refused to start the sign-in ({status}): {text}"
            )));
        }
        let code: DeviceCode = serde_json::from_str(&text).map_err(unexpected)?;
        checked(code)
    }

    /// The code as the person will see and follow it: a short visible code, a web address to
    /// open (nothing else a browser would run), and waits kept within reason.
    fn checked(mut code: DeviceCode) -> Result<DeviceCode, SignInError> {
        let web = url::Url::parse(&code.verification_uri)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
        if !web || code.verification_uri.len() > 512 {
            return Err(unexpected("the sign-in page is not a web address"));
        }
        if code.user_code.is_empty()
            || code.user_code.len() > 32
            || !code.user_code.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(unexpected("the code to enter is not a short code"));
        }
        code.expires_in = code.expires_in.clamp(1, 3600);
        code.interval = code.interval.clamp(1, 60);
        Ok(code)
    }

    /// Polls until the person enters the code (or it expires), then stores the token.
    pub async fn finish(
        config: &GithubConfig,
        code: &DeviceCode,
        secrets: &Secrets,
    ) -> Result<(), SignInError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: Option<String>,
            error: Option<String>,
            error_description: Option<String>,
            interval: Option<u64>,
        }
        let url = format!(
            "{}/login/oauth/access_token",
            config.oauth_url.trim_end_matches('/')
        );
        let http = http()?;
        let mut interval = code.interval.max(1);
        let deadline = std::time::Instant::now() + Duration::from_secs(code.expires_in);
        loop {
            if std::time::Instant::now() >= deadline {
                return Err(expired());
            }
            tokio::time::sleep(Duration::from_secs(interval)).await;
            let answer: Answer = http
                .post(&url)
                .header("Accept", "application/json")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(&[
                    ("client_id", client_id(config)?),
                    ("device_code", code.device_code.as_str()),
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ]))
                .send()
                .await
                .map_err(unreachable)?
                .json()
                .await
                .map_err(unexpected)?;
            match (answer.access_token, answer.error.as_deref()) {
                (Some(token), _) => {
                    return Ok(secrets.save(&config.token_ref, token).await?);
                }
                (None, Some("authorization_pending")) => {}
                (None, Some("slow_down")) => interval = answer.interval.unwrap_or(interval + 5),
                (None, Some("access_denied")) => {
                    return Err(SignInError::Declined("the sign-in was declined".into()));
                }
                (None, Some("expired_token")) => return Err(expired()),
                (None, error) => {
                    return Err(SignInError::Service(format!(
                        "GitHub refused the sign-in: {}",
                        answer
                            .error_description
                            .as_deref()
                            .or(error)
                            .unwrap_or("no reason given")
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_and_errors() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "link",
            r#"<https://api.github.com/user/repos?page=2>; rel="next", <https://api.github.com/user/repos?page=5>; rel="last""#
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://api.github.com/user/repos?page=2")
        );
        let err = explain(
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            r#"{"message":"Validation Failed","errors":[{"resource":"Issue","code":"missing_field","field":"title"}],"documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"422"}"#,
        );
        assert_eq!(
            err.to_string(),
            "GitHub did not accept the request (Validation Failed: title: missing_field)"
        );
    }

    #[test]
    fn the_token_follows_next_pages_only_on_the_api() {
        let base = "https://api.github.com";
        assert!(on_api(base, "https://api.github.com/user/repos?page=2"));
        assert!(!on_api(base, "https://evil.example/user/repos?page=2"));
        assert!(!on_api(base, "http://api.github.com/user/repos?page=2"));
        assert!(!on_api(base, "https://api.github.com:8443/user/repos"));
        let enterprise = "https://git.corp/api/v3";
        assert!(on_api(
            enterprise,
            "https://git.corp/api/v3/user/repos?page=2"
        ));
        assert!(!on_api(enterprise, "https://git.corp/login?next=x"));
    }
}
