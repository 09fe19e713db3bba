//! File tools that change what is there: `fs_edit` (search and replace, previewed as a diff),
//! `fs_move` and `fs_delete` (destructive). Each is confined to the workspace like the others.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{MAX_TEXT_BYTES, blocking, diff, display, read_text, refuse_hard_links, write_atomic};
use crate::api::Effect;
use crate::tool::workspace::{Workspace, io_error};
use crate::tool::{Scope, Tool, ToolCx, ToolError, ToolOutput};

/// Replaces text in a file of the workspace.
pub(crate) struct FsEdit;

/// Arguments of `fs_edit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsEditArgs {
    /// File to edit, relative to the workspace.
    pub path: String,
    /// The exact text to replace, with enough surrounding lines to be unique in the file.
    pub old_text: String,
    /// The text to put in its place.
    pub new_text: String,
    /// Replace every occurrence instead of requiring exactly one.
    #[serde(default)]
    pub replace_all: bool,
}

/// The file's new content after an edit.
fn apply(text: &str, args: &FsEditArgs, shown: &str) -> Result<String, ToolError> {
    if args.old_text.is_empty() {
        return Err(ToolError::RespondToModel(
            "old_text is empty; give the exact text to replace (use fs_write for a new file)"
                .into(),
        ));
    }
    let count = text.matches(args.old_text.as_str()).count();
    match count {
        0 => Err(ToolError::RespondToModel(format!(
            "old_text was not found in {shown:?}; read the file and copy the text exactly, whitespace included"
        ))),
        1 => Ok(text.replacen(args.old_text.as_str(), &args.new_text, 1)),
        _ if args.replace_all => Ok(text.replace(args.old_text.as_str(), &args.new_text)),
        n => Err(ToolError::RespondToModel(format!(
            "old_text occurs {n} times in {shown:?}; add surrounding lines to make it unique, or set replace_all"
        ))),
    }
}

impl Tool for FsEdit {
    type Args = FsEditArgs;
    const NAME: &'static str = "fs_edit";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Files;

    fn description(&self) -> &'static str {
        "Edit a text file of the workspace by replacing an exact piece of text (which must occur once unless replace_all is set). Needs the person's approval, who sees the diff."
    }

    fn effect(&self) -> Effect {
        Effect::Mutating
    }

    fn scope(&self, args: &FsEditArgs, workspace: &Workspace) -> Option<Scope> {
        workspace.scope_of(&args.path)
    }

    async fn call(&self, args: FsEditArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let (root, rel) = cx.workspace.resolve(&args.path)?;
        blocking(move || {
            let shown = args.path.as_str();
            let Some((text, len)) = read_text(&root, &rel, shown, MAX_TEXT_BYTES)? else {
                return Err(ToolError::RespondToModel(format!(
                    "{shown:?} does not exist; use fs_write to create it"
                )));
            };
            if len > MAX_TEXT_BYTES {
                return Err(ToolError::RespondToModel(format!(
                    "{shown:?} is {len} bytes; files over {MAX_TEXT_BYTES} bytes cannot be edited"
                )));
            }
            let new = apply(&text, &args, shown)?;
            write_atomic(&root, &rel, shown, new.as_bytes())?;
            let count = if args.replace_all {
                text.matches(args.old_text.as_str()).count()
            } else {
                1
            };
            Ok(ToolOutput(format!(
                "replaced {count} occurrence{} in {}",
                if count == 1 { "" } else { "s" },
                display(&rel)
            )))
        })
        .await
    }

    async fn preview(&self, args: &FsEditArgs, cx: &ToolCx) -> Option<String> {
        let (root, rel) = cx.workspace.resolve(&args.path).ok()?;
        let args = FsEditArgs {
            path: args.path.clone(),
            old_text: args.old_text.clone(),
            new_text: args.new_text.clone(),
            replace_all: args.replace_all,
        };
        tokio::task::spawn_blocking(move || {
            let (text, _) = read_text(&root, &rel, &args.path, MAX_TEXT_BYTES).ok()??;
            match apply(&text, &args, &args.path) {
                Ok(new) => Some(diff(&args.path, Some(&text), &new)),
                Err(e) => Some(format!("this edit will fail: {e}")),
            }
        })
        .await
        .ok()
        .flatten()
    }
}

/// Moves or renames a file or folder of the workspace.
pub(crate) struct FsMove;

/// Arguments of `fs_move`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsMoveArgs {
    /// What to move, relative to the workspace.
    pub from: String,
    /// Where to, relative to the workspace; it must not exist yet.
    pub to: String,
}

impl Tool for FsMove {
    type Args = FsMoveArgs;
    const NAME: &'static str = "fs_move";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Files;

    fn description(&self) -> &'static str {
        "Move or rename a file or folder of the workspace. The destination must not exist; missing folders are created. Needs the person's approval."
    }

    fn effect(&self) -> Effect {
        Effect::Mutating
    }

    fn scope(&self, args: &FsMoveArgs, workspace: &Workspace) -> Option<Scope> {
        // A remembered grant must cover both ends: the scope is an entry of their common folder.
        let (
            Some(Scope::Path { root, parts: from }),
            Some(Scope::Path {
                root: to_root,
                parts: to,
            }),
        ) = (workspace.scope_of(&args.from), workspace.scope_of(&args.to))
        else {
            return None;
        };
        if root != to_root {
            return None;
        }
        let mut parts: Vec<String> = from
            .iter()
            .zip(&to)
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.clone())
            .collect();
        parts.push("*".into());
        Some(Scope::Path { root, parts })
    }

    async fn call(&self, args: FsMoveArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let (from_root, from) = cx.workspace.resolve(&args.from)?;
        let (to_root, to) = cx.workspace.resolve(&args.to)?;
        if from.as_os_str().is_empty() || to.as_os_str().is_empty() {
            return Err(ToolError::RespondToModel(
                "a workspace folder itself cannot be moved".into(),
            ));
        }
        blocking(move || {
            let meta = from_root
                .dir
                .symlink_metadata(&from)
                .map_err(|e| io_error(&args.from, &e))?;
            refuse_hard_links(&args.from, &meta)?;
            if to_root.dir.symlink_metadata(&to).is_ok() {
                return Err(ToolError::RespondToModel(format!(
                    "{:?} already exists; delete it first or pick another name",
                    args.to
                )));
            }
            if let Some(parent) = to.parent()
                && !parent.as_os_str().is_empty()
            {
                to_root
                    .dir
                    .create_dir_all(parent)
                    .map_err(|e| io_error(&args.to, &e))?;
            }
            if std::sync::Arc::ptr_eq(&from_root, &to_root) {
                from_root
                    .dir
                    .rename(&from, &to_root.dir, &to)
                    .map_err(|e| io_error(&args.from, &e))?;
            } else if meta.is_file() {
                // Across workspace folders (maybe across disks): copy, then remove the original.
                from_root
                    .dir
                    .copy(&from, &to_root.dir, &to)
                    .map_err(|e| io_error(&args.to, &e))?;
                from_root
                    .dir
                    .remove_file(&from)
                    .map_err(|e| io_error(&args.from, &e))?;
            } else {
                return Err(ToolError::RespondToModel(
                    "only files can be moved between workspace folders".into(),
                ));
            }
            Ok(ToolOutput(format!(
                "moved {} to {}",
                args.from.trim(),
                args.to.trim()
            )))
        })
        .await
    }
}

/// Deletes a file or folder of the workspace.
pub(crate) struct FsDelete;

/// Arguments of `fs_delete`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FsDeleteArgs {
    /// File or folder to delete, relative to the workspace.
    pub path: String,
    /// Delete a folder with everything in it (otherwise only an empty folder is deleted).
    #[serde(default)]
    pub recursive: bool,
}

impl Tool for FsDelete {
    type Args = FsDeleteArgs;
    const NAME: &'static str = "fs_delete";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Files;

    fn description(&self) -> &'static str {
        "Delete a file, a link or a folder of the workspace (a folder with content only with recursive). This cannot be undone; it always needs the person's approval."
    }

    fn effect(&self) -> Effect {
        Effect::Destructive
    }

    fn scope(&self, args: &FsDeleteArgs, workspace: &Workspace) -> Option<Scope> {
        workspace.scope_of(&args.path)
    }

    async fn call(&self, args: FsDeleteArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let (root, rel) = cx.workspace.resolve(&args.path)?;
        if rel.as_os_str().is_empty() {
            return Err(ToolError::RespondToModel(
                "a workspace folder itself cannot be deleted".into(),
            ));
        }
        blocking(move || {
            let shown = args.path.as_str();
            // Links are removed, never followed.
            let meta = root
                .dir
                .symlink_metadata(&rel)
                .map_err(|e| io_error(shown, &e))?;
            let what = if meta.is_dir() {
                if args.recursive {
                    root.dir.remove_dir_all(&rel)
                } else {
                    root.dir.remove_dir(&rel)
                }
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::DirectoryNotEmpty => ToolError::RespondToModel(format!(
                        "{shown:?} is a folder with content; set recursive to delete it all"
                    )),
                    _ => io_error(shown, &e),
                })?;
                "folder"
            } else {
                root.dir
                    .remove_file(&rel)
                    .map_err(|e| io_error(shown, &e))?;
                if meta.is_symlink() { "link" } else { "file" }
            };
            Ok(ToolOutput(format!("deleted the {what} {}", display(&rel))))
        })
        .await
    }

    async fn preview(&self, args: &FsDeleteArgs, cx: &ToolCx) -> Option<String> {
        let (root, rel) = cx.workspace.resolve(&args.path).ok()?;
        let shown = args.path.clone();
        tokio::task::spawn_blocking(move || {
            let meta = root.dir.symlink_metadata(&rel).ok()?;
            if !meta.is_dir() {
                return Some(format!("deletes {shown} ({} bytes)", meta.len()));
            }
            let mut files = 0u64;
            let mut bytes = 0u64;
            let mut stack = vec![rel];
            while let Some(dir) = stack.pop() {
                for entry in root.dir.read_dir(&dir).ok()?.flatten() {
                    let path = dir.join(entry.file_name());
                    match entry.file_type() {
                        Ok(t) if t.is_dir() => stack.push(path),
                        Ok(_) => {
                            files += 1;
                            bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
                        }
                        Err(_) => {}
                    }
                }
            }
            Some(format!(
                "deletes the folder {shown} with {files} files ({bytes} bytes)"
            ))
        })
        .await
        .ok()
        .flatten()
    }
}
