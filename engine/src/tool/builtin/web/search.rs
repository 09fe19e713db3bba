//! `web_search`: one tool, three backends — DuckDuckGo's HTML page (no key, the default), a
//! SearXNG instance's JSON API, or the Brave Search API — all answering as a numbered list.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

use super::Web;
use crate::api::Effect;
use crate::config::{SearchBackend, WebConfig};
use crate::tool::{Tool, ToolCx, ToolError, ToolOutput};

/// Default and largest number of results.
const DEFAULT_RESULTS: usize = 8;
const MAX_RESULTS: usize = 20;

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub title: String,
    pub url: String,
    pub snippet: String,
}

fn failed(backend: &str, e: &reqwest::Error) -> ToolError {
    let why = if e.is_timeout() {
        "it took too long".to_owned()
    } else if e.is_connect() {
        "it could not be reached".to_owned()
    } else {
        e.to_string()
    };
    ToolError::RespondToModel(format!("the {backend} search failed: {why}"))
}

async fn body(backend: &str, response: reqwest::Response) -> Result<String, ToolError> {
    let status = response.status();
    let text = crate::body::text_within(response, crate::body::MAX_SEARCH, backend)
        .await
        .map_err(|e| ToolError::RespondToModel(format!("the {backend} search failed: {e}")))?;
    if status.is_success() {
        return Ok(text);
    }
    let detail: String = text.chars().take(200).collect();
    let hint = match (backend, status.as_u16()) {
        ("Brave", 401 | 403) => " (the API key was refused; store a valid one in settings)",
        ("Brave", 429) => " (the plan's rate limit was reached; try again later)",
        ("SearXNG", 403) => " (enable the json format under search.formats in its settings.yml)",
        ("DuckDuckGo", _) => {
            " (it may have taken this for a bot; configure SearXNG or Brave in settings)"
        }
        _ => "",
    };
    Err(ToolError::RespondToModel(format!(
        "the {backend} search answered {status}{hint}: {detail}"
    )))
}

/// DuckDuckGo's HTML results: `.result` blocks with an `a.result__a` link (through its `/l/?uddg=`
/// redirect) and a `.result__snippet`; ads are skipped.
pub(crate) fn parse_duckduckgo(html: &str, max: usize) -> Vec<Hit> {
    let doc = dom_query::Document::from(html);
    let mut hits = Vec::new();
    for result in doc.select(".result").iter() {
        if hits.len() == max {
            break;
        }
        if result.has_class("result--ad") {
            continue;
        }
        let link = result.select("a.result__a");
        let Some(href) = link.attr("href") else {
            continue;
        };
        let href = href.to_string();
        let absolute = if href.starts_with("//") {
            format!("https:{href}")
        } else {
            href.clone()
        };
        let url = url::Url::parse(&absolute)
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "uddg")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or(href);
        hits.push(Hit {
            title: link.text().trim().to_owned(),
            url,
            snippet: result.select(".result__snippet").text().trim().to_owned(),
        });
    }
    hits
}

async fn duckduckgo(
    client: &reqwest::Client,
    config: &WebConfig,
    query: &str,
    max: usize,
) -> Result<Vec<Hit>, ToolError> {
    let mut url = url::Url::parse(&config.duckduckgo_url)
        .map_err(|e| ToolError::RespondToModel(format!("web.duckduckgo_url is not a URL: {e}")))?;
    url.query_pairs_mut().append_pair("q", query);
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed("DuckDuckGo", &e))?;
    // DuckDuckGo answers 202 with a challenge page when it suspects a bot.
    if response.status() == reqwest::StatusCode::ACCEPTED {
        return Err(ToolError::RespondToModel(
            "DuckDuckGo asked for a challenge instead of answering (it may have taken this for a bot); configure SearXNG or Brave in settings".into(),
        ));
    }
    let html = body("DuckDuckGo", response).await?;
    Ok(parse_duckduckgo(&html, max))
}

async fn searxng(
    client: &reqwest::Client,
    config: &WebConfig,
    query: &str,
    max: usize,
) -> Result<Vec<Hit>, ToolError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        results: Vec<Result_>,
    }
    #[derive(Deserialize)]
    struct Result_ {
        url: String,
        #[serde(default)]
        title: String,
        #[serde(default)]
        content: String,
    }
    let base = config.searxng_url.as_deref().ok_or_else(|| {
        ToolError::RespondToModel("web.searxng_url is not set in settings".into())
    })?;
    let mut url = url::Url::parse(base)
        .and_then(|u| u.join("search"))
        .map_err(|e| ToolError::RespondToModel(format!("web.searxng_url is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("q", query)
        .append_pair("format", "json");
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed("SearXNG", &e))?;
    let text = body("SearXNG", response).await?;
    let answer: Answer = serde_json::from_str(&text).map_err(|e| {
        ToolError::RespondToModel(format!(
            "SearXNG answered something that is not its JSON: {e}"
        ))
    })?;
    Ok(answer
        .results
        .into_iter()
        .take(max)
        .map(|r| Hit {
            title: r.title,
            url: r.url,
            snippet: r.content,
        })
        .collect())
}

async fn brave(
    web: &Web,
    client: &reqwest::Client,
    config: &WebConfig,
    query: &str,
    max: usize,
) -> Result<Vec<Hit>, ToolError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        web: Option<Results>,
    }
    #[derive(Deserialize)]
    struct Results {
        #[serde(default)]
        results: Vec<Result_>,
    }
    #[derive(Deserialize)]
    struct Result_ {
        url: String,
        #[serde(default)]
        title: String,
        #[serde(default)]
        description: String,
    }
    let secrets = web.secrets.clone();
    let account = config.brave_key_ref.clone();
    let key = tokio::task::spawn_blocking(move || secrets.get(&account))
        .await
        .map_err(|e| ToolError::RespondToModel(format!("reading the keychain failed: {e}")))?
        .map_err(|e| ToolError::RespondToModel(e.to_string()))?
        .ok_or_else(|| {
            ToolError::RespondToModel(format!(
                "no Brave Search API key: store one in the keychain as `{}` (settings)",
                config.brave_key_ref
            ))
        })?;
    let mut url = url::Url::parse(&config.brave_url)
        .map_err(|e| ToolError::RespondToModel(format!("web.brave_url is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("q", query)
        .append_pair("count", &max.to_string());
    let response = client
        .get(url)
        .header("Accept", "application/json")
        .header("X-Subscription-Token", key)
        .send()
        .await
        .map_err(|e| failed("Brave", &e))?;
    let text = body("Brave", response).await?;
    let answer: Answer = serde_json::from_str(&text).map_err(|e| {
        ToolError::RespondToModel(format!(
            "Brave answered something that is not its JSON: {e}"
        ))
    })?;
    Ok(answer
        .web
        .map(|w| w.results)
        .unwrap_or_default()
        .into_iter()
        .take(max)
        .map(|r| Hit {
            title: r.title,
            url: r.url,
            snippet: r.description,
        })
        .collect())
}

/// Searches the web.
pub(crate) struct WebSearch(pub Arc<Web>);

/// Arguments of `web_search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebSearchArgs {
    /// What to search for.
    pub query: String,
    /// Most results (default 8, at most 20).
    #[serde(default)]
    pub max_results: Option<usize>,
}

impl Tool for WebSearch {
    type Args = WebSearchArgs;
    const NAME: &'static str = "web_search";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Web;

    fn description(&self) -> &'static str {
        "Search the web; returns titles, URLs and snippets. Use web_fetch to read a result."
    }

    /// The query goes only to the search service the person configured.
    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: WebSearchArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let query = args.query.trim();
        if query.is_empty() {
            return Err(ToolError::RespondToModel("the query is empty".into()));
        }
        if cx.live.redacts(query) {
            return Err(ToolError::RespondToModel(
                "the query contains a secret (an API key or token); it was not sent".into(),
            ));
        }
        let max = args
            .max_results
            .unwrap_or(DEFAULT_RESULTS)
            .clamp(1, MAX_RESULTS);
        let config = self.0.config();
        let client = Web::search_client(&config)?;
        let hits = match config.search {
            SearchBackend::Duckduckgo => duckduckgo(&client, &config, query, max).await?,
            SearchBackend::Searxng => searxng(&client, &config, query, max).await?,
            SearchBackend::Brave => brave(&self.0, &client, &config, query, max).await?,
        };
        if hits.is_empty() {
            return Ok(ToolOutput(format!("no results for {query:?}")));
        }
        let list: Vec<String> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let mut item = format!("{}. {}\n   {}", i + 1, h.title, h.url);
                if !h.snippet.is_empty() {
                    item.push_str(&format!("\n   {}", h.snippet));
                }
                item
            })
            .collect();
        Ok(ToolOutput(list.join("\n")))
    }
}
