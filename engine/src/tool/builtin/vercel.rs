//! Vercel over its REST API: projects, deployments, a deployment's build events (its logs),
//! environment variables (names and targets only — values never leave Vercel), domains, and a
//! deploy of a workspace folder (its files sent inline). Offered only when `[vercel]` is
//! configured; the token comes from the keychain.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::keychain_token;
use crate::api::Effect;
use crate::config::VercelConfig;
use crate::secrets::Secrets;
use crate::tool::registry::Registry;
use crate::tool::{ToolCx, ToolError};

/// Most bytes a deploy sends inline, and most files.
const MAX_DEPLOY_BYTES: u64 = 30 << 20;
const MAX_DEPLOY_FILES: usize = 5_000;

/// The Vercel connection the tools share.
pub(crate) struct Vercel {
    config: RwLock<Option<VercelConfig>>,
    secrets: Secrets,
}

impl Vercel {
    pub(crate) fn new(config: Option<VercelConfig>, secrets: Secrets) -> Arc<Self> {
        Arc::new(Self {
            config: RwLock::new(config),
            secrets,
        })
    }

    pub(crate) fn configure(&self, config: Option<VercelConfig>) {
        if let Ok(mut c) = self.config.write() {
            *c = config;
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.config.read().is_ok_and(|c| c.is_some())
    }

    async fn client(&self) -> Result<Client, ToolError> {
        let config = self
            .config
            .read()
            .ok()
            .and_then(|c| c.clone())
            .ok_or_else(|| {
                ToolError::RespondToModel("Vercel is not set up in the settings".into())
            })?;
        let token = keychain_token(
            &self.secrets,
            &config.token_ref,
            &format!(
                "no Vercel token: create one at vercel.com/account/tokens and store it with `aetheria auth set {}`",
                config.token_ref
            ),
        )
        .await?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("Aetheria/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ToolError::RespondToModel(format!("the HTTP client failed: {e}")))?;
        Ok(Client {
            http,
            base: config.api_url.trim_end_matches('/').to_owned(),
            team: config.team_id,
            token,
        })
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    team: Option<String>,
    token: String,
}

impl Client {
    /// Up to `max` items of a listing, following `pagination.next` (passed back as `until`);
    /// `true` when more were left.
    async fn pages(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, &str)],
        max: usize,
    ) -> Result<(Vec<Value>, bool), ToolError> {
        let mut items = Vec::new();
        let mut until: Option<String> = None;
        loop {
            let size = (max - items.len()).min(100).to_string();
            let mut q: Vec<(&str, &str)> = query.to_vec();
            q.push(("limit", &size));
            if let Some(until) = &until {
                q.push(("until", until));
            }
            let answer = self.call(reqwest::Method::GET, path, &q, None).await?;
            items.extend(answer[key].as_array().cloned().unwrap_or_default());
            until = match &answer["pagination"]["next"] {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) => Some(s.clone()),
                _ => None,
            };
            if items.len() >= max || until.is_none() {
                let more = items.len() > max || until.is_some();
                items.truncate(max);
                return Ok((items, more));
            }
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<url::Url, ToolError> {
        let mut url = url::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| ToolError::RespondToModel(format!("vercel.api_url is not a URL: {e}")))?;
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
            if let Some(team) = &self.team {
                pairs.append_pair("teamId", team);
            }
        }
        Ok(url)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, ToolError> {
        let mut request = self
            .http
            .request(method, self.url(path, query)?)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ToolError::RespondToModel(format!("Vercel could not be reached: {e}")))?;
        let status = response.status();
        let reset = response
            .headers()
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        let text = if status.is_success() {
            crate::body::text_within(response, crate::body::MAX_API, "Vercel")
                .await
                .map_err(|e| ToolError::RespondToModel(e.to_string()))?
        } else {
            crate::body::error_text(response).await
        };
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|e| {
                ToolError::RespondToModel(format!("Vercel answered something unexpected: {e}"))
            });
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let message = body["error"]["message"]
            .as_str()
            .map_or_else(|| text.chars().take(200).collect(), str::to_owned);
        let code = body["error"]["code"].as_str().unwrap_or("");
        let text = match status.as_u16() {
            401 | 403 => format!(
                "Vercel refused the token ({message}); check it, and `team_id` for team projects"
            ),
            404 => format!(
                "Vercel found nothing there ({message}); check the project or deployment name"
            ),
            429 => {
                let wait = reset.map_or(60, |r| (r - chrono::Utc::now().timestamp()).max(0));
                format!("Vercel's rate limit was reached ({message}); try again in {wait} s")
            }
            _ if !code.is_empty() => format!("Vercel answered {status} {code}: {message}"),
            _ => format!("Vercel answered {status}: {message}"),
        };
        Err(ToolError::RespondToModel(text))
    }
}

fn time(ms: &Value) -> String {
    ms.as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// Adds every Vercel tool; they are offered only while `[vercel]` is configured.
pub(crate) fn register(registry: &mut Registry, vercel: &Arc<Vercel>) {
    registry.add(VercelProjects(vercel.clone()));
    registry.add(VercelDeployments(vercel.clone()));
    registry.add(VercelEvents(vercel.clone()));
    registry.add(VercelEnv(vercel.clone()));
    registry.add(VercelDomains(vercel.clone()));
    registry.add(VercelDeploy(vercel.clone()));
}

/// Arguments of `vercel_projects`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectsArgs {
    /// Most projects (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
}

service_tool!(
    Vercel,
    VercelProjects,
    ProjectsArgs,
    "vercel_projects",
    Effect::ReadOnly,
    "List the Vercel projects of the account (or team)."
);

impl VercelProjects {
    async fn run(&self, args: ProjectsArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let client = &self.0.client().await?;
        let (projects, more) = client
            .pages(
                "/v9/projects",
                "projects",
                &[],
                args.limit.unwrap_or(20).clamp(1, 500),
            )
            .await?;
        if projects.is_empty() {
            return Ok("no projects".into());
        }
        let mut lines: Vec<String> = projects
            .iter()
            .map(|p| {
                format!(
                    "{} ({}, {}) updated {}",
                    p["name"].as_str().unwrap_or("?"),
                    p["id"].as_str().unwrap_or("?"),
                    p["framework"].as_str().unwrap_or("no framework"),
                    time(&p["updatedAt"])
                )
            })
            .collect();
        if more {
            lines.push("[more projects not shown; raise limit]".into());
        }
        Ok(lines.join("\n"))
    }
}

/// Arguments of `vercel_deployments`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeploymentsArgs {
    /// Only this project's (its id or name).
    #[serde(default)]
    pub project: Option<String>,
    /// Most deployments (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
}

service_tool!(
    Vercel,
    VercelDeployments,
    DeploymentsArgs,
    "vercel_deployments",
    Effect::ReadOnly,
    "List recent Vercel deployments with their state and URL, newest first."
);

impl VercelDeployments {
    async fn run(&self, args: DeploymentsArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let client = &self.0.client().await?;
        let mut query = vec![];
        if let Some(project) = &args.project {
            query.push(("projectId", project.as_str()));
        }
        let max = args.limit.unwrap_or(20).clamp(1, 500);
        let (list, _) = client
            .pages("/v6/deployments", "deployments", &query, max)
            .await?;
        if list.is_empty() {
            return Ok("no deployments".into());
        }
        Ok(list
            .iter()
            .map(|d| {
                format!(
                    "{} {} [{}{}] https://{} {}",
                    d["uid"].as_str().unwrap_or("?"),
                    d["name"].as_str().unwrap_or("?"),
                    d["state"]
                        .as_str()
                        .or(d["readyState"].as_str())
                        .unwrap_or("?"),
                    d["target"]
                        .as_str()
                        .map(|t| format!(", {t}"))
                        .unwrap_or_default(),
                    d["url"].as_str().unwrap_or("?"),
                    time(&d["created"])
                )
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// Arguments of `vercel_deployment_events`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsArgs {
    /// The deployment's id or URL.
    pub deployment: String,
    /// Most lines, from the end (default 200).
    #[serde(default)]
    pub limit: Option<usize>,
}

service_tool!(
    Vercel,
    VercelEvents,
    EventsArgs,
    "vercel_deployment_events",
    Effect::ReadOnly,
    "Show a Vercel deployment's build log (its events), to see why a build failed."
);

impl VercelEvents {
    async fn run(&self, args: EventsArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let client = &self.0.client().await?;
        let id = args.deployment.trim().trim_start_matches("https://");
        if id.is_empty() || id.contains(['/', '?', '#']) {
            return Err(ToolError::RespondToModel(format!(
                "{:?} is not a deployment id or URL",
                args.deployment
            )));
        }
        let answer = client
            .call(
                reqwest::Method::GET,
                &format!("/v3/deployments/{id}/events"),
                &[("builds", "1"), ("direction", "forward")],
                None,
            )
            .await?;
        let events = answer.as_array().cloned().unwrap_or_default();
        let lines: Vec<String> = events
            .iter()
            .filter_map(|e| {
                let text = e["payload"]["text"].as_str().or(e["text"].as_str())?;
                let kind = e["type"].as_str().unwrap_or("");
                Some(if kind == "stderr" {
                    format!("! {text}")
                } else {
                    text.to_owned()
                })
            })
            .collect();
        let keep = args.limit.unwrap_or(200).clamp(1, 5000);
        let skip = lines.len().saturating_sub(keep);
        if lines.is_empty() {
            return Ok("the deployment has no build events yet".into());
        }
        let mut out = String::new();
        if skip > 0 {
            out.push_str(&format!("[{skip} earlier lines not shown]\n"));
        }
        out.push_str(&lines[skip..].join("\n"));
        Ok(out)
    }
}

/// Arguments of `vercel_env` and `vercel_domains`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProjectArgs {
    /// The project's id or name.
    pub project: String,
}

fn project_path(project: &str, rest: &str) -> Result<String, ToolError> {
    if project.is_empty()
        || !project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ToolError::RespondToModel(format!(
            "{project:?} is not a project id or name"
        )));
    }
    Ok(format!("/{rest}/projects/{project}"))
}

service_tool!(
    Vercel,
    VercelEnv,
    ProjectArgs,
    "vercel_env",
    Effect::ReadOnly,
    "List a Vercel project's environment variables: names, targets and kinds. Values are never shown."
);

impl VercelEnv {
    async fn run(&self, args: ProjectArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let client = &self.0.client().await?;
        let path = format!("{}/env", project_path(&args.project, "v10")?);
        let answer = client.call(reqwest::Method::GET, &path, &[], None).await?;
        let envs = answer["envs"].as_array().cloned().unwrap_or_default();
        if envs.is_empty() {
            return Ok(format!("{} has no environment variables", args.project));
        }
        // Only the name, target and kind are read; the value (even an encrypted one) is dropped.
        Ok(envs
            .iter()
            .map(|e| {
                let targets: Vec<&str> = e["target"]
                    .as_array()
                    .map(|t| t.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                format!(
                    "{} = [REDACTED] ({}; {})",
                    e["key"].as_str().unwrap_or("?"),
                    e["type"].as_str().unwrap_or("?"),
                    targets.join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

service_tool!(
    Vercel,
    VercelDomains,
    ProjectArgs,
    "vercel_domains",
    Effect::ReadOnly,
    "List a Vercel project's domains and whether each is verified."
);

impl VercelDomains {
    async fn run(&self, args: ProjectArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let client = &self.0.client().await?;
        let path = format!("{}/domains", project_path(&args.project, "v9")?);
        let answer = client.call(reqwest::Method::GET, &path, &[], None).await?;
        let domains = answer["domains"].as_array().cloned().unwrap_or_default();
        if domains.is_empty() {
            return Ok(format!("{} has no domains", args.project));
        }
        Ok(domains
            .iter()
            .map(|d| {
                let redirect = d["redirect"]
                    .as_str()
                    .map(|r| format!(" → {r}"))
                    .unwrap_or_default();
                format!(
                    "{}{redirect} ({})",
                    d["name"].as_str().unwrap_or("?"),
                    if d["verified"].as_bool() == Some(true) {
                        "verified"
                    } else {
                        "not verified"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// Arguments of `vercel_deploy`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeployArgs {
    /// The workspace folder to deploy.
    pub path: String,
    /// The project's name.
    pub project: String,
    /// Deploy to production (default: a preview).
    #[serde(default)]
    pub production: bool,
}

service_tool!(
    Vercel,
    VercelDeploy,
    DeployArgs,
    "vercel_deploy",
    Effect::External,
    "Deploy a workspace folder to a Vercel project (a preview unless production is set). Needs the person's approval."
);

/// The folder's files (skipping what .gitignore ignores, `.git`, `node_modules` and `.vercel`), as
/// Vercel's inline file list.
fn collect_files(
    ws: &crate::tool::workspace::Workspace,
    path: &str,
) -> Result<Vec<Value>, ToolError> {
    let (root, start) = ws
        .walk_starts(path)?
        .into_iter()
        .next()
        .ok_or_else(|| ToolError::RespondToModel("a folder is needed".into()))?;
    let base = root.path.join(&start);
    let walker = ignore::WalkBuilder::new(&base)
        .hidden(false)
        .parents(false)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|e| {
            !matches!(
                e.file_name().to_str(),
                Some(".git" | "node_modules" | ".vercel")
            )
        })
        .build();
    let mut files = Vec::new();
    let mut total = 0u64;
    for entry in walker.flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Ok(inside) = entry.path().strip_prefix(&root.path) else {
            continue;
        };
        let bytes = root
            .dir
            .read(inside)
            .map_err(|e| crate::tool::workspace::io_error(path, &e))?;
        total += bytes.len() as u64;
        if total > MAX_DEPLOY_BYTES || files.len() >= MAX_DEPLOY_FILES {
            return Err(ToolError::RespondToModel(format!(
                "{path} is too big to deploy from here (over {} MiB or {MAX_DEPLOY_FILES} files); deploy it with the Vercel CLI in the sandbox",
                MAX_DEPLOY_BYTES >> 20
            )));
        }
        let name = entry
            .path()
            .strip_prefix(&base)
            .unwrap_or(inside)
            .to_string_lossy()
            .replace('\\', "/");
        files.push(json!({
            "file": name,
            "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
            "encoding": "base64",
        }));
    }
    if files.is_empty() {
        return Err(ToolError::RespondToModel(format!(
            "{path} has no files to deploy"
        )));
    }
    Ok(files)
}

impl VercelDeploy {
    async fn run(&self, args: DeployArgs, cx: ToolCx) -> Result<String, ToolError> {
        let client = &self.0.client().await?;
        let ws = cx.workspace.clone();
        let path = args.path.clone();
        let files = tokio::task::spawn_blocking(move || collect_files(&ws, &path))
            .await
            .map_err(|e| ToolError::RespondToModel(format!("reading the folder failed: {e}")))??;
        let count = files.len();
        let mut body = json!({"name": args.project, "project": args.project, "files": files});
        if args.production {
            body["target"] = json!("production");
        }
        let answer = client
            .call(
                reqwest::Method::POST,
                "/v13/deployments",
                &[("skipAutoDetectionConfirmation", "1")],
                Some(&body),
            )
            .await?;
        Ok(format!(
            "deployment {} started with {count} files: https://{} ({})",
            answer["id"].as_str().unwrap_or("?"),
            answer["url"].as_str().unwrap_or("?"),
            answer["readyState"].as_str().unwrap_or("QUEUED")
        ))
    }
}
