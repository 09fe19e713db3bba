//! Finding things in the workspace as ripgrep does: `fs_glob` (paths matching a pattern) and
//! `fs_search` (lines matching a regex), both walking with the `ignore` crate so `.gitignore`,
//! `.ignore` and `.git/info/exclude` are respected. The walk never follows links and reads no
//! ignore file above a root; file contents are read through the root's capability.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use grep_regex::RegexMatcherBuilder;
use grep_searcher::{BinaryDetection, SearcherBuilder, sinks};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{blocking, refuse_hard_links};
use crate::api::Effect;
use crate::tool::workspace::{Root, Workspace};
use crate::tool::{Tool, ToolCx, ToolError, ToolOutput};

/// Most paths `fs_glob` returns, and the default and largest number of `fs_search` matches.
const MAX_PATHS: usize = 1_000;
const DEFAULT_MATCHES: usize = 200;
/// Files larger than this are not searched.
const MAX_SEARCH_BYTES: u64 = 16 * 1024 * 1024;
/// Longest line shown in a match.
const MAX_LINE_CHARS: usize = 300;

/// One file the walk found: its root and path inside it.
struct Found {
    root: Arc<Root>,
    rel: PathBuf,
}

/// Walks the files under `path`, handing each to `visit` until it returns `false`.
fn walk(
    ws: &Workspace,
    path: &str,
    cancel: &CancellationToken,
    mut visit: impl FnMut(Found) -> bool,
) -> Result<(), ToolError> {
    for (root, start) in ws.walk_starts(path)? {
        let walker = ignore::WalkBuilder::new(root.path.join(&start))
            .hidden(false)
            .parents(false)
            .git_global(false)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_name(std::ffi::OsStr::cmp)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walker {
            if cancel.is_cancelled() {
                return Err(ToolError::RespondToModel("the search was stopped".into()));
            }
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&root.path) else {
                continue;
            };
            let found = Found {
                root: root.clone(),
                rel: rel.to_path_buf(),
            };
            if !visit(found) {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn glob_matcher(pattern: &str) -> Result<globset::GlobMatcher, ToolError> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| ToolError::RespondToModel(format!("the glob {pattern:?} is not valid: {e}")))
}

/// Whether a found file matches a glob: the pattern is tried against the path from the start
/// folder, and a pattern without '/' also against the file name.
fn glob_hit(glob: &globset::GlobMatcher, pattern: &str, rel: &Path, start: &Path) -> bool {
    let inner = rel.strip_prefix(start).unwrap_or(rel);
    glob.is_match(inner)
        || (!pattern.contains('/') && rel.file_name().is_some_and(|n| glob.is_match(n)))
}

/// Finds files by glob pattern.
pub(crate) struct FsGlob;

/// Arguments of `fs_glob`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsGlobArgs {
    /// A glob such as "**/*.rs", "src/*.toml" or "*.md" (a pattern without '/' matches file names
    /// at any depth).
    pub pattern: String,
    /// Folder to look in, relative to the workspace (default: all of it).
    #[serde(default)]
    pub path: String,
}

impl Tool for FsGlob {
    type Args = FsGlobArgs;
    const NAME: &'static str = "fs_glob";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Files;

    fn description(&self) -> &'static str {
        "Find files of the workspace whose path matches a glob pattern, skipping what .gitignore ignores. Returns paths relative to the workspace."
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: FsGlobArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let glob = glob_matcher(&args.pattern)?;
        let ws = cx.workspace.clone();
        blocking(move || {
            let start = ws
                .resolve(&args.path)
                .map(|(_, rel)| rel)
                .unwrap_or_default();
            let several = ws.several();
            let mut paths = Vec::new();
            let mut more = false;
            walk(&ws, &args.path, &cx.cancel, |found| {
                if glob_hit(&glob, &args.pattern, &found.rel, &start) {
                    if paths.len() == MAX_PATHS {
                        more = true;
                        return false;
                    }
                    paths.push(found.root.show(several, &found.rel));
                }
                true
            })?;
            if paths.is_empty() {
                return Ok(ToolOutput(format!("no file matches {:?}", args.pattern)));
            }
            if more {
                paths.push(format!(
                    "[stopped at {MAX_PATHS} paths; narrow the pattern]"
                ));
            }
            Ok(ToolOutput(paths.join("\n")))
        })
        .await
    }
}

/// Searches file contents.
pub(crate) struct FsSearch;

/// Arguments of `fs_search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsSearchArgs {
    /// What to look for: a regular expression (Rust syntax), or plain text with `literal`.
    pub pattern: String,
    /// Folder to search, relative to the workspace (default: all of it).
    #[serde(default)]
    pub path: String,
    /// Only search files whose name or path matches this glob, e.g. "*.rs".
    #[serde(default)]
    pub glob: Option<String>,
    /// Treat the pattern as plain text.
    #[serde(default)]
    pub literal: bool,
    /// Ignore upper and lower case.
    #[serde(default)]
    pub case_insensitive: bool,
    /// Most matching lines to return (default 200, at most 1000).
    #[serde(default)]
    pub max_results: Option<usize>,
}

impl Tool for FsSearch {
    type Args = FsSearchArgs;
    const NAME: &'static str = "fs_search";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Files;

    fn description(&self) -> &'static str {
        "Search the text files of the workspace for lines matching a regular expression (or plain text), skipping binary files and what .gitignore ignores. Returns path:line: text."
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: FsSearchArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let matcher = RegexMatcherBuilder::new()
            .case_insensitive(args.case_insensitive)
            .fixed_strings(args.literal)
            .build(&args.pattern)
            .map_err(|e| {
                ToolError::RespondToModel(format!(
                    "the pattern {:?} is not a valid regular expression ({e}); set literal to search for plain text",
                    args.pattern
                ))
            })?;
        let glob = args.glob.as_deref().map(glob_matcher).transpose()?;
        let limit = args
            .max_results
            .unwrap_or(DEFAULT_MATCHES)
            .clamp(1, MAX_PATHS);
        let ws = cx.workspace.clone();
        blocking(move || {
            let start = ws
                .resolve(&args.path)
                .map(|(_, rel)| rel)
                .unwrap_or_default();
            let several = ws.several();
            let mut searcher = SearcherBuilder::new()
                .binary_detection(BinaryDetection::quit(0))
                .line_number(true)
                .build();
            let mut lines: Vec<String> = Vec::new();
            let mut files = 0usize;
            walk(&ws, &args.path, &cx.cancel, |found| {
                if let (Some(glob), Some(pattern)) = (&glob, &args.glob)
                    && !glob_hit(glob, pattern, &found.rel, &start)
                {
                    return true;
                }
                let Ok(file) = found.root.dir.open(&found.rel) else {
                    return true;
                };
                // Too big, or with another name maybe outside the workspace: skipped.
                let Ok(meta) = file.metadata() else {
                    return true;
                };
                if meta.len() > MAX_SEARCH_BYTES || refuse_hard_links("", &meta).is_err() {
                    return true;
                }
                let shown = found.root.show(several, &found.rel);
                let before = lines.len();
                let _ = searcher.search_reader(
                    &matcher,
                    file.into_std(),
                    sinks::UTF8(|number, line| {
                        let line = line.trim_end_matches(['\n', '\r']);
                        let cut: String = line.chars().take(MAX_LINE_CHARS).collect();
                        let more = if cut.len() < line.len() { " …" } else { "" };
                        lines.push(format!("{shown}:{number}: {cut}{more}"));
                        Ok(lines.len() < limit)
                    }),
                );
                if lines.len() > before {
                    files += 1;
                }
                lines.len() < limit
            })?;
            if lines.is_empty() {
                return Ok(ToolOutput(format!("no line matches {:?}", args.pattern)));
            }
            let count = lines.len();
            if count >= limit {
                lines.push(format!(
                    "[stopped at {limit} matches; narrow the search or raise max_results]"
                ));
            } else {
                lines.push(format!("[{count} matches in {files} files]"));
            }
            Ok(ToolOutput(lines.join("\n")))
        })
        .await
    }
}
