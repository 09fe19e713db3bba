//! File tools confined to the workspace. This module holds `fs_list`, `fs_read` and `fs_write` and
//! the helpers every file tool shares; `change` edits, moves and deletes, `find` globs and searches.
//! All disk access goes through the workspace's cap-std handles.

mod change;
mod find;
#[cfg(test)]
mod tests;

use std::io::Read;
use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;

pub(crate) use self::change::{FsDelete, FsEdit, FsMove};
pub(crate) use self::find::{FsGlob, FsSearch};
use crate::api::{Effect, FileKind};
use crate::tool::workspace::{Root, Workspace, io_error};
use crate::tool::{Scope, Tool, ToolCx, ToolError, ToolOutput};

/// Largest file `fs_read` returns whole.
const MAX_READ_BYTES: u64 = 256 * 1024;
/// Largest file read to pick a line range from, or to edit.
const MAX_TEXT_BYTES: u64 = 8 * 1024 * 1024;
/// Most entries `fs_list` shows.
const MAX_LIST_ENTRIES: usize = 1_000;
/// Largest content `fs_write` accepts.
const MAX_WRITE_BYTES: usize = 8 * 1024 * 1024;

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ToolError::RespondToModel(format!("the file operation failed: {e}")))?
}

fn display(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        ".".into()
    } else {
        path.display().to_string()
    }
}

/// A file with more than one name may have a name outside the workspace; reading or changing it in
/// place would reach past the roots, so it is refused.
fn refuse_hard_links(shown: &str, meta: &cap_std::fs::Metadata) -> Result<(), ToolError> {
    #[cfg(unix)]
    {
        use cap_std::fs::MetadataExt;
        if meta.is_file() && meta.nlink() > 1 {
            return Err(ToolError::RespondToModel(format!(
                "{shown:?} has {} hard links, and another name of it may be outside the workspace; it cannot be used",
                meta.nlink()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (shown, meta);
    Ok(())
}

/// Reads a whole text file (up to `limit` bytes): `Ok(None)` when it does not exist.
fn read_text(
    root: &Root,
    rel: &Path,
    shown: &str,
    limit: u64,
) -> Result<Option<(String, u64)>, ToolError> {
    // Opening a named pipe for reading waits for a writer, for ever: only files are opened.
    match root.dir.metadata(rel) {
        Ok(meta) if meta.is_dir() => {
            return Err(ToolError::RespondToModel(format!(
                "{shown:?} is a folder; use fs_list"
            )));
        }
        Ok(meta) if !meta.is_file() => {
            return Err(ToolError::RespondToModel(format!(
                "{shown:?} is not a regular file (a pipe, socket or device); it cannot be read"
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(shown, &e)),
    }
    let file = match root.dir.open(rel) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(shown, &e)),
    };
    let meta = file.metadata().map_err(|e| io_error(shown, &e))?;
    if !meta.is_file() {
        return Err(ToolError::RespondToModel(format!(
            "{shown:?} is not a regular file; it cannot be read"
        )));
    }
    refuse_hard_links(shown, &meta)?;
    let mut bytes = Vec::new();
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(shown, &e))?;
    if bytes.iter().take(8192).any(|b| *b == 0) {
        return Err(ToolError::RespondToModel(format!(
            "{shown:?} is a binary file ({} bytes); it cannot be shown as text",
            meta.len()
        )));
    }
    Ok(Some((
        String::from_utf8_lossy(&bytes).into_owned(),
        meta.len(),
    )))
}

/// Writes a file by writing a temporary file beside it and renaming it over the old one, so a
/// reader never sees half a file, and a hard link to the old file (maybe from outside the
/// workspace) keeps its content. Missing folders are created.
fn write_atomic(root: &Root, rel: &Path, shown: &str, content: &[u8]) -> Result<(), ToolError> {
    let name = rel
        .file_name()
        .ok_or_else(|| ToolError::RespondToModel("a file name is needed".into()))?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    if !parent.as_os_str().is_empty() {
        root.dir
            .create_dir_all(parent)
            .map_err(|e| io_error(shown, &e))?;
    }
    let old = root.dir.symlink_metadata(rel).ok();
    if let Some(meta) = &old {
        if meta.is_dir() {
            return Err(ToolError::RespondToModel(format!("{shown:?} is a folder")));
        }
        if meta.is_symlink() {
            return Err(ToolError::RespondToModel(format!(
                "{shown:?} is a symbolic link; links are not followed or replaced"
            )));
        }
    }
    let temp = parent.join(format!(
        ".{}.aetheria-{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::now_v7().simple()
    ));
    let written = root
        .dir
        .write(&temp, content)
        .and_then(|()| match &old {
            Some(meta) if meta.is_file() => root.dir.set_permissions(&temp, meta.permissions()),
            _ => Ok(()),
        })
        .and_then(|()| root.dir.rename(&temp, &root.dir, rel));
    if let Err(e) = written {
        let _ = root.dir.remove_file(&temp);
        return Err(io_error(shown, &e));
    }
    Ok(())
}

/// Writes a file the engine itself makes (a research report) at a path in the workspace, with
/// the same confinement and atomic write as `fs_write`.
pub(crate) fn save(workspace: &Workspace, path: &str, content: &[u8]) -> Result<(), ToolError> {
    let (root, rel) = workspace.resolve(path)?;
    write_atomic(&root, &rel, path, content)
}

/// A unified diff from `old` (none: a new file) to `new`, cut to what the approval shows.
fn diff(shown: &str, old: Option<&str>, new: &str) -> String {
    let header = if old.is_some() {
        format!("a/{shown}")
    } else {
        "/dev/null".into()
    };
    let old = old.unwrap_or_default();
    if old == new {
        return format!("{shown}: no change");
    }
    let diff = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&header, &format!("b/{shown}"))
        .to_string();
    crate::tool::truncate_output(diff)
}

/// Lists a folder of the workspace.
pub(crate) struct FsList;

/// Arguments of `fs_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsListArgs {
    /// Folder to list, relative to the workspace ("." or empty for its top).
    #[serde(default)]
    pub path: String,
}

impl Tool for FsList {
    type Args = FsListArgs;
    const NAME: &'static str = "fs_list";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Files;

    fn description(&self) -> &'static str {
        "List the files and folders in a folder of the workspace. Folders end with '/'; files show their size in bytes."
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: FsListArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let ws = cx.workspace.clone();
        let path = args.path;
        blocking(move || {
            let entries = ws.list(&path)?;
            if entries.is_empty() {
                let shown = if path.trim().is_empty() {
                    "."
                } else {
                    path.as_str()
                };
                return Ok(ToolOutput(format!("{shown} is empty")));
            }
            let total = entries.len();
            let mut lines: Vec<String> = entries
                .iter()
                .take(MAX_LIST_ENTRIES)
                .map(|e| match e.kind {
                    FileKind::Dir => format!("{}/", e.name),
                    FileKind::Link => format!("{} (link)", e.name),
                    FileKind::File => format!("{} ({} B)", e.name, e.size),
                })
                .collect();
            if total > MAX_LIST_ENTRIES {
                lines.push(format!(
                    "[{} more entries not shown]",
                    total - MAX_LIST_ENTRIES
                ));
            }
            Ok(ToolOutput(lines.join("\n")))
        })
        .await
    }
}

/// Reads a text file of the workspace.
pub(crate) struct FsRead;

/// Arguments of `fs_read`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsReadArgs {
    /// File to read, relative to the workspace.
    pub path: String,
    /// First line to return (1-based); omit to start at the top.
    #[serde(default)]
    pub start_line: Option<usize>,
    /// Last line to return (inclusive); omit to read to the end.
    #[serde(default)]
    pub end_line: Option<usize>,
}

impl Tool for FsRead {
    type Args = FsReadArgs;
    const NAME: &'static str = "fs_read";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Files;

    fn description(&self) -> &'static str {
        "Read a UTF-8 text file of the workspace, whole or a range of lines. Files over 256 KiB are cut unless a line range is given; binary files are refused."
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    fn scope(&self, args: &FsReadArgs, workspace: &Workspace) -> Option<Scope> {
        workspace.scope_of(&args.path)
    }

    async fn call(&self, args: FsReadArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let (root, rel) = cx.workspace.resolve(&args.path)?;
        let shown = args.path;
        let ranged = args.start_line.is_some() || args.end_line.is_some();
        blocking(move || {
            let limit = if ranged { MAX_TEXT_BYTES } else { MAX_READ_BYTES };
            let Some((text, len)) = read_text(&root, &rel, &shown, limit)? else {
                return Err(ToolError::RespondToModel(format!(
                    "{shown:?} does not exist"
                )));
            };
            if !ranged {
                let mut text = text;
                if len > MAX_READ_BYTES {
                    text.push_str(&format!(
                        "\n[file cut: first {MAX_READ_BYTES} of {len} bytes shown; ask for a line range to see more]"
                    ));
                }
                return Ok(ToolOutput(text));
            }
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let total = lines.len();
            let start = args.start_line.unwrap_or(1).max(1);
            let end = args.end_line.unwrap_or(total).min(total);
            if start > total {
                return Err(ToolError::RespondToModel(format!(
                    "{shown:?} has {total} lines; line {start} does not exist"
                )));
            }
            if end < start {
                return Err(ToolError::RespondToModel(format!(
                    "end_line {end} is before start_line {start}"
                )));
            }
            let mut out = lines[start - 1..end].concat();
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("[lines {start}-{end} of {total}]"));
            Ok(ToolOutput(out))
        })
        .await
    }
}

/// Writes a text file of the workspace.
pub(crate) struct FsWrite;

/// Arguments of `fs_write`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsWriteArgs {
    /// File to write, relative to the workspace; missing folders are created.
    pub path: String,
    /// The whole new content of the file.
    pub content: String,
}

impl Tool for FsWrite {
    type Args = FsWriteArgs;
    const NAME: &'static str = "fs_write";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Files;

    fn description(&self) -> &'static str {
        "Create or replace a text file of the workspace with the given content. Needs the person's approval."
    }

    fn effect(&self) -> Effect {
        Effect::Mutating
    }

    fn scope(&self, args: &FsWriteArgs, workspace: &Workspace) -> Option<Scope> {
        workspace.scope_of(&args.path)
    }

    async fn call(&self, args: FsWriteArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        if args.content.len() > MAX_WRITE_BYTES {
            return Err(ToolError::RespondToModel(format!(
                "the content is {} bytes; at most {MAX_WRITE_BYTES} can be written at once",
                args.content.len()
            )));
        }
        let (root, rel) = cx.workspace.resolve(&args.path)?;
        if rel.as_os_str().is_empty() {
            return Err(ToolError::RespondToModel("a file name is needed".into()));
        }
        let shown = args.path;
        let content = args.content;
        blocking(move || {
            write_atomic(&root, &rel, &shown, content.as_bytes())?;
            Ok(ToolOutput(format!(
                "wrote {} bytes to {}",
                content.len(),
                display(&rel)
            )))
        })
        .await
    }

    /// A unified diff of the file as it is against the content the call would write.
    async fn preview(&self, args: &FsWriteArgs, cx: &ToolCx) -> Option<String> {
        let (root, rel) = cx.workspace.resolve(&args.path).ok()?;
        let new = args.content.clone();
        let shown = args.path.clone();
        tokio::task::spawn_blocking(
            move || match read_text(&root, &rel, &shown, MAX_TEXT_BYTES) {
                Ok(old) => Some(diff(&shown, old.as_ref().map(|(t, _)| t.as_str()), &new)),
                Err(ToolError::RespondToModel(m)) if m.contains("binary") => {
                    Some(format!("{shown}: replaces a binary file"))
                }
                Err(_) => None,
            },
        )
        .await
        .ok()
        .flatten()
    }
}
