//! Settings of the outside services the tools reach: the web (fetch limits and the search
//! backend) and MCP servers. Every base URL is configurable, so a proxy, a self-hosted instance
//! or a test server can stand in for the public one.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which service answers `web_search`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchBackend {
    /// DuckDuckGo's HTML results page: needs no key (the default).
    #[default]
    Duckduckgo,
    /// A SearXNG instance's JSON API (`searxng_url`, with `json` among its formats).
    Searxng,
    /// The Brave Search API (its key in the keychain, under `brave_key_ref`).
    Brave,
}

/// The web tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Which backend `web_search` uses.
    pub search: SearchBackend,
    /// DuckDuckGo's HTML endpoint.
    pub duckduckgo_url: String,
    /// A SearXNG instance, e.g. `http://localhost:8888`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub searxng_url: Option<String>,
    /// The Brave Search API endpoint.
    pub brave_url: String,
    /// The keychain account holding the Brave Search API key.
    pub brave_key_ref: String,
    /// Seconds a fetch may take in all.
    pub timeout_secs: u64,
    /// Most bytes of a page that are read.
    pub max_bytes: u64,
    /// Most redirects a fetch follows.
    pub max_redirects: usize,
    /// A Chromium (or Chrome) binary for pages that need scripts; default: looked up on `PATH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chromium: Option<PathBuf>,
    /// `host:port` places off the public internet (this machine, the local network) that
    /// `web_fetch` (and a code sandbox the person let online) may reach, e.g. `localhost:8080` or
    /// `192.168.1.20:80`. Every other loopback, private, link-local or reserved address is
    /// refused, whatever name leads to it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub private_hosts: Vec<String>,
    /// Show the browser the agent drives in a window of its own (default: it runs headless).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub browser_visible: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            search: SearchBackend::Duckduckgo,
            duckduckgo_url: "https://html.duckduckgo.com/html/".into(),
            searxng_url: None,
            brave_url: "https://api.search.brave.com/res/v1/web/search".into(),
            brave_key_ref: "brave-search".into(),
            timeout_secs: 20,
            max_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            chromium: None,
            private_hosts: Vec::new(),
            browser_visible: false,
        }
    }
}

impl WebConfig {
    pub(crate) fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// GitHub (or GitHub Enterprise: `api_url = "https://HOST/api/v3"`, `oauth_url = "https://HOST"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubConfig {
    /// The REST API.
    pub api_url: String,
    /// Where the OAuth device flow runs.
    pub oauth_url: String,
    /// An OAuth app's client id, for `aetheria auth github` (the device flow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The keychain account of the token.
    pub token_ref: String,
    /// Its tools are offered (`false` after signing out: the rest is kept for the next sign-in).
    #[serde(skip_serializing_if = "is_true")]
    pub enabled: bool,
}

impl Default for GithubConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.github.com".into(),
            oauth_url: "https://github.com".into(),
            client_id: None,
            token_ref: "github".into(),
            enabled: true,
        }
    }
}

/// Vercel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VercelConfig {
    /// The REST API.
    pub api_url: String,
    /// A team's id, for a team's projects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// The keychain account of the token.
    pub token_ref: String,
    /// Its tools are offered (`false` after signing out: the rest is kept for the next sign-in).
    #[serde(skip_serializing_if = "is_true")]
    pub enabled: bool,
}

impl Default for VercelConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.vercel.com".into(),
            team_id: None,
            token_ref: "vercel".into(),
            enabled: true,
        }
    }
}

/// Google Drive (OAuth for installed apps; every URL can point elsewhere).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriveConfig {
    /// The OAuth client id of a "Desktop app" client from Google Cloud console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The keychain account of that client's secret, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<String>,
    /// Google's authorization endpoint.
    pub auth_url: String,
    /// Google's token endpoint.
    pub token_url: String,
    /// The Drive v3 API.
    pub api_url: String,
    /// The Drive v3 upload API.
    pub upload_url: String,
    /// The keychain account of the tokens.
    pub token_ref: String,
    /// Its tools are offered (`false` after signing out: the rest is kept for the next sign-in).
    #[serde(skip_serializing_if = "is_true")]
    pub enabled: bool,
}

impl Default for DriveConfig {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret_ref: None,
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            api_url: "https://www.googleapis.com/drive/v3".into(),
            upload_url: "https://www.googleapis.com/upload/drive/v3".into(),
            token_ref: "google-drive".into(),
            enabled: true,
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_true(v: &bool) -> bool {
    *v
}
