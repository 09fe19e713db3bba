//! The GitHub tools: read (repositories, files, code search, issues, pull requests) run freely;
//! writes on GitHub (issues, comments, pull requests, commits) are external and ask; a clone
//! downloads the tarball into a workspace folder (mutating, confined like the file tools).

use std::io::Read;
use std::sync::Arc;

use base64::Engine as _;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Github;
use crate::api::Effect;
use crate::tool::builtin::form;
use crate::tool::registry::Registry;
use crate::tool::{ToolCx, ToolError};

/// Largest tarball a clone downloads, and most files it unpacks.
const MAX_TARBALL: usize = 200 << 20;
const MAX_FILES: usize = 20_000;
/// Most bytes a clone writes once unpacked (a small tarball can inflate enormously).
const MAX_UNPACKED: u64 = 1 << 30;
/// Largest file content shown.
const MAX_FILE_CHARS: usize = 100_000;

/// Adds every GitHub tool; they are offered only while `[github]` is configured.
pub(crate) fn register(registry: &mut Registry, github: &Arc<Github>) {
    registry.add(GithubRepos(github.clone()));
    registry.add(GithubRead(github.clone()));
    registry.add(GithubSearchCode(github.clone()));
    registry.add(GithubIssues(github.clone()));
    registry.add(GithubPulls(github.clone()));
    registry.add(GithubCreateIssue(github.clone()));
    registry.add(GithubComment(github.clone()));
    registry.add(GithubCreatePull(github.clone()));
    registry.add(GithubWriteFile(github.clone()));
    registry.add(GithubClone(github.clone()));
}

/// `owner/name`, checked.
fn repo(text: &str) -> Result<(String, String), ToolError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match text.trim().split_once('/') {
        Some((owner, name)) if ok(owner) && ok(name) => Ok((owner.to_owned(), name.to_owned())),
        _ => Err(ToolError::RespondToModel(format!(
            "{text:?} is not a repository; write it as owner/name"
        ))),
    }
}

/// A URL path built from segments, each percent-encoded.
fn path(segments: &[&str]) -> String {
    let mut url = url::Url::parse("http://x/").unwrap_or_else(|_| unreachable!());
    if let Ok(mut parts) = url.path_segments_mut() {
        parts.pop_if_empty().extend(
            segments
                .iter()
                .flat_map(|s| s.split('/'))
                .filter(|s| !s.is_empty()),
        );
    }
    url.path().to_owned()
}

fn limit(n: Option<usize>) -> usize {
    n.unwrap_or(30).clamp(1, 300)
}

fn more(more: bool) -> &'static str {
    if more {
        "\n[more not shown; raise limit]"
    } else {
        ""
    }
}

/// Arguments of `github_repos`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReposArgs {
    /// Most repositories to list (default 30).
    #[serde(default)]
    pub limit: Option<usize>,
}

service_tool!(
    Github,
    GithubRepos,
    ReposArgs,
    "github_repos",
    Effect::ReadOnly,
    "List the GitHub repositories the signed-in account can use, most recently updated first."
);

impl GithubRepos {
    async fn run(&self, args: ReposArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let client = self.0.client().await?;
        let (repos, left): (Vec<Value>, bool) = client
            .get_all("/user/repos?per_page=100&sort=updated", limit(args.limit))
            .await?;
        let lines: Vec<String> = repos
            .iter()
            .map(|r| {
                format!(
                    "{}{} — {}",
                    r["full_name"].as_str().unwrap_or("?"),
                    if r["private"].as_bool() == Some(true) {
                        " (private)"
                    } else {
                        ""
                    },
                    r["description"].as_str().unwrap_or("")
                )
            })
            .collect();
        Ok(format!("{}{}", lines.join("\n"), more(left)))
    }
}

/// Arguments of `github_read`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadArgs {
    /// The repository, owner/name.
    pub repo: String,
    /// A file or folder in it (default: the top).
    #[serde(default)]
    pub path: String,
    /// A branch, tag or commit (default: the default branch).
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
}

service_tool!(
    Github,
    GithubRead,
    ReadArgs,
    "github_read",
    Effect::ReadOnly,
    "Read a file of a GitHub repository, or list a folder of it."
);

impl GithubRead {
    async fn run(&self, args: ReadArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let (owner, name) = repo(&args.repo)?;
        let client = self.0.client().await?;
        let mut url = path(&["repos", &owner, &name, "contents", &args.path]);
        if let Some(reference) = &args.reference {
            url = format!("{url}?{}", form(&[("ref", reference)]));
        }
        let answer: Value = client.get(&url).await?;
        if let Some(entries) = answer.as_array() {
            let lines: Vec<String> = entries
                .iter()
                .map(|e| match e["type"].as_str() {
                    Some("dir") => format!("{}/", e["name"].as_str().unwrap_or("?")),
                    _ => format!(
                        "{} ({} B)",
                        e["name"].as_str().unwrap_or("?"),
                        e["size"].as_u64().unwrap_or(0)
                    ),
                })
                .collect();
            return Ok(lines.join("\n"));
        }
        match (answer["type"].as_str(), answer["encoding"].as_str()) {
            (Some("file"), Some("base64")) => {
                let packed: String = answer["content"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(packed)
                    .map_err(|e| {
                        ToolError::RespondToModel(format!("the file's content is damaged: {e}"))
                    })?;
                if bytes.iter().take(8192).any(|b| *b == 0) {
                    return Err(ToolError::RespondToModel(format!(
                        "{} is a binary file ({} bytes)",
                        args.path,
                        bytes.len()
                    )));
                }
                let text = String::from_utf8_lossy(&bytes);
                Ok(text.chars().take(MAX_FILE_CHARS).collect())
            }
            (Some("file"), _) => Err(ToolError::RespondToModel(format!(
                "{} is too large for the contents API ({} bytes); use github_clone",
                args.path,
                answer["size"].as_u64().unwrap_or(0)
            ))),
            (kind, _) => Err(ToolError::RespondToModel(format!(
                "{} is a {} and cannot be shown",
                args.path,
                kind.unwrap_or("thing")
            ))),
        }
    }
}

/// Arguments of `github_search_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchArgs {
    /// GitHub code search syntax, e.g. "tokio::select repo:owner/name language:rust".
    pub query: String,
    /// Most results (default 30, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

service_tool!(
    Github,
    GithubSearchCode,
    SearchArgs,
    "github_search_code",
    Effect::ReadOnly,
    "Search code on GitHub; returns repository, path and link of each match."
);

impl GithubSearchCode {
    async fn run(&self, args: SearchArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let client = self.0.client().await?;
        let per_page = limit(args.limit).min(100).to_string();
        let answer: Value = client
            .get(&format!(
                "/search/code?{}",
                form(&[("q", &args.query), ("per_page", &per_page)])
            ))
            .await?;
        let items = answer["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return Ok(format!("no code matches {:?}", args.query));
        }
        let mut lines: Vec<String> = items
            .iter()
            .map(|i| {
                format!(
                    "{}: {} {}",
                    i["repository"]["full_name"].as_str().unwrap_or("?"),
                    i["path"].as_str().unwrap_or("?"),
                    i["html_url"].as_str().unwrap_or("")
                )
            })
            .collect();
        lines.push(format!(
            "[{} matches in all]",
            answer["total_count"].as_u64().unwrap_or(0)
        ));
        Ok(lines.join("\n"))
    }
}

/// Arguments of `github_issues` and `github_pulls`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListArgs {
    /// The repository, owner/name.
    pub repo: String,
    /// "open" (default), "closed" or "all".
    #[serde(default)]
    pub state: Option<String>,
    /// Most to list (default 30).
    #[serde(default)]
    pub limit: Option<usize>,
}

fn state(state: Option<&str>) -> Result<&str, ToolError> {
    match state.unwrap_or("open") {
        s @ ("open" | "closed" | "all") => Ok(s),
        other => Err(ToolError::RespondToModel(format!(
            "state {other:?} is not one of open, closed, all"
        ))),
    }
}

service_tool!(
    Github,
    GithubIssues,
    ListArgs,
    "github_issues",
    Effect::ReadOnly,
    "List the issues of a GitHub repository (not pull requests)."
);

impl GithubIssues {
    async fn run(&self, args: ListArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let (owner, name) = repo(&args.repo)?;
        let client = self.0.client().await?;
        let url = format!(
            "{}?{}",
            path(&["repos", &owner, &name, "issues"]),
            form(&[
                ("state", state(args.state.as_deref())?),
                ("per_page", "100")
            ])
        );
        let (items, left): (Vec<Value>, bool) = client.get_all(&url, limit(args.limit)).await?;
        let lines: Vec<String> = items
            .iter()
            .filter(|i| i.get("pull_request").is_none())
            .map(|i| {
                format!(
                    "#{} [{}] {} (by {}, {} comments)",
                    i["number"],
                    i["state"].as_str().unwrap_or("?"),
                    i["title"].as_str().unwrap_or(""),
                    i["user"]["login"].as_str().unwrap_or("?"),
                    i["comments"].as_u64().unwrap_or(0)
                )
            })
            .collect();
        if lines.is_empty() {
            return Ok(format!("{} has no such issues", args.repo));
        }
        Ok(format!("{}{}", lines.join("\n"), more(left)))
    }
}

service_tool!(
    Github,
    GithubPulls,
    ListArgs,
    "github_pulls",
    Effect::ReadOnly,
    "List the pull requests of a GitHub repository."
);

impl GithubPulls {
    async fn run(&self, args: ListArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let (owner, name) = repo(&args.repo)?;
        let client = self.0.client().await?;
        let url = format!(
            "{}?{}",
            path(&["repos", &owner, &name, "pulls"]),
            form(&[
                ("state", state(args.state.as_deref())?),
                ("per_page", "100")
            ])
        );
        let (items, left): (Vec<Value>, bool) = client.get_all(&url, limit(args.limit)).await?;
        let lines: Vec<String> = items
            .iter()
            .map(|p| {
                format!(
                    "#{} [{}{}] {} ({} → {}, by {})",
                    p["number"],
                    p["state"].as_str().unwrap_or("?"),
                    if p["draft"].as_bool() == Some(true) {
                        ", draft"
                    } else {
                        ""
                    },
                    p["title"].as_str().unwrap_or(""),
                    p["head"]["ref"].as_str().unwrap_or("?"),
                    p["base"]["ref"].as_str().unwrap_or("?"),
                    p["user"]["login"].as_str().unwrap_or("?")
                )
            })
            .collect();
        if lines.is_empty() {
            return Ok(format!("{} has no such pull requests", args.repo));
        }
        Ok(format!("{}{}", lines.join("\n"), more(left)))
    }
}

/// Arguments of `github_create_issue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateIssueArgs {
    /// The repository, owner/name.
    pub repo: String,
    /// The title.
    pub title: String,
    /// The text, in markdown.
    #[serde(default)]
    pub body: String,
}

service_tool!(
    Github,
    GithubCreateIssue,
    CreateIssueArgs,
    "github_create_issue",
    Effect::External,
    "Open an issue on a GitHub repository. Needs the person's approval."
);

impl GithubCreateIssue {
    async fn run(&self, args: CreateIssueArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let (owner, name) = repo(&args.repo)?;
        let client = self.0.client().await?;
        let issue: Value = client
            .send_json(
                reqwest::Method::POST,
                &path(&["repos", &owner, &name, "issues"]),
                &json!({"title": args.title, "body": args.body}),
            )
            .await?;
        Ok(format!(
            "opened issue #{} {}",
            issue["number"],
            issue["html_url"].as_str().unwrap_or("")
        ))
    }
}

/// Arguments of `github_comment`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommentArgs {
    /// The repository, owner/name.
    pub repo: String,
    /// The issue or pull request number.
    pub number: u64,
    /// The comment, in markdown.
    pub body: String,
}

service_tool!(
    Github,
    GithubComment,
    CommentArgs,
    "github_comment",
    Effect::External,
    "Comment on an issue or pull request of a GitHub repository. Needs the person's approval."
);

impl GithubComment {
    async fn run(&self, args: CommentArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let (owner, name) = repo(&args.repo)?;
        let client = self.0.client().await?;
        let number = args.number.to_string();
        let comment: Value = client
            .send_json(
                reqwest::Method::POST,
                &path(&["repos", &owner, &name, "issues", &number, "comments"]),
                &json!({"body": args.body}),
            )
            .await?;
        Ok(format!(
            "commented: {}",
            comment["html_url"].as_str().unwrap_or("")
        ))
    }
}

/// Arguments of `github_create_pull`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePullArgs {
    /// The repository, owner/name.
    pub repo: String,
    /// The title.
    pub title: String,
    /// The branch with the changes.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    /// The description, in markdown.
    #[serde(default)]
    pub body: String,
    /// Open it as a draft.
    #[serde(default)]
    pub draft: bool,
}

service_tool!(
    Github,
    GithubCreatePull,
    CreatePullArgs,
    "github_create_pull",
    Effect::External,
    "Open a pull request on a GitHub repository. Needs the person's approval."
);

impl GithubCreatePull {
    async fn run(&self, args: CreatePullArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let (owner, name) = repo(&args.repo)?;
        let client = self.0.client().await?;
        let pull: Value = client
            .send_json(
                reqwest::Method::POST,
                &path(&["repos", &owner, &name, "pulls"]),
                &json!({"title": args.title, "head": args.head, "base": args.base, "body": args.body, "draft": args.draft}),
            )
            .await?;
        Ok(format!(
            "opened pull request #{} {}",
            pull["number"],
            pull["html_url"].as_str().unwrap_or("")
        ))
    }
}

/// Arguments of `github_write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteFileArgs {
    /// The repository, owner/name.
    pub repo: String,
    /// The file's path in it.
    pub path: String,
    /// The whole new content.
    pub content: String,
    /// The commit message.
    pub message: String,
    /// The branch (default: the default branch).
    #[serde(default)]
    pub branch: Option<String>,
}

service_tool!(
    Github,
    GithubWriteFile,
    WriteFileArgs,
    "github_write_file",
    Effect::External,
    "Create or update one file of a GitHub repository in a new commit. Needs the person's approval."
);

impl GithubWriteFile {
    async fn run(&self, args: WriteFileArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let (owner, name) = repo(&args.repo)?;
        if args.path.trim().is_empty() {
            return Err(ToolError::RespondToModel("a file path is needed".into()));
        }
        let client = self.0.client().await?;
        let url = path(&["repos", &owner, &name, "contents", &args.path]);
        // An existing file is updated by its blob sha.
        let lookup = match &args.branch {
            Some(branch) => format!("{url}?{}", form(&[("ref", branch)])),
            None => url.clone(),
        };
        let sha = match client.get::<Value>(&lookup).await {
            Ok(existing) => existing["sha"].as_str().map(str::to_owned),
            Err(ToolError::RespondToModel(m)) if m.contains("found nothing") => None,
            Err(e) => return Err(e),
        };
        let mut body = json!({
            "message": args.message,
            "content": base64::engine::general_purpose::STANDARD.encode(args.content.as_bytes()),
        });
        if let Some(sha) = &sha {
            body["sha"] = json!(sha);
        }
        if let Some(branch) = &args.branch {
            body["branch"] = json!(branch);
        }
        let answer: Value = client.send_json(reqwest::Method::PUT, &url, &body).await?;
        Ok(format!(
            "{} {} in commit {}",
            if sha.is_some() { "updated" } else { "created" },
            args.path,
            answer["commit"]["sha"].as_str().unwrap_or("?")
        ))
    }
}

/// Arguments of `github_clone`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CloneArgs {
    /// The repository, owner/name.
    pub repo: String,
    /// A branch, tag or commit (default: the default branch).
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// The workspace folder to put it in; it must not exist (default: the repository's name).
    #[serde(default)]
    pub path: Option<String>,
}

service_tool!(
    Github,
    GithubClone,
    CloneArgs,
    "github_clone",
    Effect::Mutating,
    "Download a GitHub repository's files (at a branch, tag or commit) into a new folder of the workspace, where the file tools and the sandbox can use them. Needs the person's approval."
);

impl GithubClone {
    async fn run(&self, args: CloneArgs, cx: ToolCx) -> Result<String, ToolError> {
        let (owner, name) = repo(&args.repo)?;
        let target = args.path.clone().unwrap_or_else(|| name.clone());
        let (root, rel) = cx.workspace.resolve(&target)?;
        if rel.as_os_str().is_empty() {
            return Err(ToolError::RespondToModel(
                "a new folder name is needed".into(),
            ));
        }
        if root.dir.symlink_metadata(&rel).is_ok() {
            return Err(ToolError::RespondToModel(format!(
                "{target:?} already exists in the workspace; pick another path"
            )));
        }
        let client = self.0.client().await?;
        let reference = args.reference.as_deref().unwrap_or("");
        let tarball = client
            .bytes(
                &path(&["repos", &owner, &name, "tarball", reference]),
                MAX_TARBALL,
            )
            .await?;
        let shown = target.clone();
        tokio::task::spawn_blocking(move || unpack(&tarball, &root, &rel, &shown))
            .await
            .map_err(|e| ToolError::RespondToModel(format!("unpacking failed: {e}")))?
    }
}

/// Unpacks a GitHub tarball (one top folder, which is dropped) into `rel`, through the root's
/// capability: only regular files and folders; links and odd paths are skipped.
fn unpack(
    tarball: &[u8],
    root: &crate::tool::workspace::Root,
    rel: &std::path::Path,
    shown: &str,
) -> Result<String, ToolError> {
    use std::path::Component;
    let io = |e: std::io::Error| crate::tool::workspace::io_error(shown, &e);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    root.dir.create_dir_all(rel).map_err(io)?;
    let (mut files, mut skipped, mut written) = (0usize, 0usize, 0u64);
    for entry in archive
        .entries()
        .map_err(|e| ToolError::RespondToModel(format!("the download is not a tarball: {e}")))?
    {
        let mut entry =
            entry.map_err(|e| ToolError::RespondToModel(format!("the tarball is damaged: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| ToolError::RespondToModel(format!("the tarball is damaged: {e}")))?
            .into_owned();
        let mut parts = path.components();
        parts.next(); // GitHub's top folder, owner-name-sha
        let inner = parts.as_path();
        if inner.as_os_str().is_empty() {
            continue;
        }
        if !inner
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            skipped += 1;
            continue;
        }
        let dest = rel.join(inner);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            root.dir.create_dir_all(&dest).map_err(io)?;
        } else if kind.is_file() {
            files += 1;
            if files > MAX_FILES {
                return Err(ToolError::RespondToModel(format!(
                    "the repository has more than {MAX_FILES} files; clone it in the sandbox with git instead"
                )));
            }
            if let Some(parent) = dest.parent() {
                root.dir.create_dir_all(parent).map_err(io)?;
            }
            // The header's size is the archive's word: read no more than what is left.
            let room = MAX_UNPACKED - written;
            let mut bytes = Vec::new();
            (&mut entry)
                .take(room + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| ToolError::RespondToModel(format!("the tarball is damaged: {e}")))?;
            written += bytes.len() as u64;
            if written > MAX_UNPACKED {
                return Err(ToolError::RespondToModel(format!(
                    "the repository unpacks to more than {} GiB; clone it in the sandbox with git instead",
                    MAX_UNPACKED >> 30
                )));
            }
            root.dir.write(&dest, &bytes).map_err(io)?;
        } else {
            skipped += 1;
        }
    }
    let note = if skipped > 0 {
        format!(" ({skipped} links or special entries skipped)")
    } else {
        String::new()
    };
    Ok(format!("downloaded {files} files into {shown}{note}"))
}
