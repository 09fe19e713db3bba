//! File tools confined to the workspace: `fs_list`, `fs_read` (read-only) and `fs_write`
//! (mutating). All disk access goes through the workspace's cap-std handles.

use std::io::Read;
use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::api::{Effect, FileKind};
use crate::tool::workspace::io_error;
use crate::tool::{Tool, ToolCx, ToolError, ToolOutput};

/// Largest file `fs_read` returns whole.
const MAX_READ_BYTES: u64 = 256 * 1024;
/// Most entries `fs_list` shows.
const MAX_LIST_ENTRIES: usize = 1_000;
/// Largest content `fs_write` accepts.
const MAX_WRITE_BYTES: usize = 8 * 1024 * 1024;

async fn blocking<T: Send + 'static>(
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
}

impl Tool for FsRead {
    type Args = FsReadArgs;
    const NAME: &'static str = "fs_read";

    fn description(&self) -> &'static str {
        "Read a UTF-8 text file of the workspace. Files over 256 KiB are cut; binary files are refused."
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: FsReadArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let (root, rel) = cx.workspace.resolve(&args.path)?;
        let shown = args.path;
        blocking(move || {
            let file = root.dir.open(&rel).map_err(|e| io_error(&shown, &e))?;
            let meta = file.metadata().map_err(|e| io_error(&shown, &e))?;
            if meta.is_dir() {
                return Err(ToolError::RespondToModel(format!(
                    "{shown:?} is a folder; use fs_list"
                )));
            }
            let mut bytes = Vec::new();
            file.take(MAX_READ_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|e| io_error(&shown, &e))?;
            if bytes.iter().take(8192).any(|b| *b == 0) {
                return Err(ToolError::RespondToModel(format!(
                    "{shown:?} is a binary file ({} bytes); it cannot be shown as text",
                    meta.len()
                )));
            }
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if meta.len() > MAX_READ_BYTES {
                text.push_str(&format!(
                    "\n[file cut: first {MAX_READ_BYTES} of {} bytes shown]",
                    meta.len()
                ));
            }
            Ok(ToolOutput(text))
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

    fn description(&self) -> &'static str {
        "Create or replace a text file of the workspace with the given content. Needs the person's approval."
    }

    fn effect(&self) -> Effect {
        Effect::Mutating
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
            if let Some(parent) = rel.parent()
                && !parent.as_os_str().is_empty()
            {
                root.dir
                    .create_dir_all(parent)
                    .map_err(|e| io_error(&shown, &e))?;
            }
            root.dir
                .write(&rel, content.as_bytes())
                .map_err(|e| io_error(&shown, &e))?;
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
        tokio::task::spawn_blocking(move || {
            let old = match root.dir.open(&rel) {
                Ok(file) => {
                    let mut bytes = Vec::new();
                    file.take(MAX_READ_BYTES).read_to_end(&mut bytes).ok()?;
                    if bytes.contains(&0) {
                        return Some(format!("{shown}: replaces a binary file"));
                    }
                    Some(String::from_utf8_lossy(&bytes).into_owned())
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(_) => return None,
            };
            let header = if old.is_some() {
                format!("a/{shown}")
            } else {
                "/dev/null".into()
            };
            let old = old.unwrap_or_default();
            if old == new {
                return Some(format!("{shown}: no change"));
            }
            let diff = similar::TextDiff::from_lines(&old, &new)
                .unified_diff()
                .context_radius(3)
                .header(&header, &format!("b/{shown}"))
                .to_string();
            Some(crate::tool::truncate_output(diff))
        })
        .await
        .ok()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::tool::DynTool;
    use crate::tool::workspace::Workspace;

    fn cx(roots: &[std::path::PathBuf]) -> ToolCx {
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        ToolCx {
            workspace: Arc::new(Workspace::open(roots).unwrap()),
            cancel: CancellationToken::new(),
            session: None,
            live: crate::tool::LiveOutput::new(
                crate::api::ToolCallId::from("t"),
                events,
                crate::secrets::Redactor::default(),
            ),
        }
    }

    async fn call(
        tool: &dyn DynTool,
        args: serde_json::Value,
        cx: &ToolCx,
    ) -> Result<String, String> {
        tool.call_json(&args.to_string(), cx.clone())
            .await
            .map(|o| o.0)
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn write_read_list_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cx = cx(&[dir.path().to_path_buf()]);
        let out = call(
            &FsWrite,
            serde_json::json!({"path": "notes/a.txt", "content": "héllo"}),
            &cx,
        )
        .await
        .unwrap();
        assert_eq!(out, "wrote 6 bytes to notes/a.txt");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("notes/a.txt")).unwrap(),
            "héllo"
        );
        let read = call(&FsRead, serde_json::json!({"path": "./notes/a.txt"}), &cx)
            .await
            .unwrap();
        assert_eq!(read, "héllo");
        let list = call(&FsList, serde_json::json!({}), &cx).await.unwrap();
        assert_eq!(list, "notes/");
        let list = call(&FsList, serde_json::json!({"path": "notes"}), &cx)
            .await
            .unwrap();
        assert_eq!(list, "a.txt (6 B)");
    }

    #[tokio::test]
    async fn write_previews_are_unified_diffs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\ntwo\nthree\n").unwrap();
        let cx = cx(&[dir.path().to_path_buf()]);
        let edit = serde_json::json!({"path": "a.txt", "content": "one\n2\nthree\n"}).to_string();
        let diff = FsWrite.preview_json(&edit, cx.clone()).await.unwrap();
        assert!(
            diff.contains("--- a/a.txt") && diff.contains("+++ b/a.txt"),
            "{diff}"
        );
        assert!(diff.contains("-two\n") && diff.contains("+2\n"), "{diff}");
        let new = serde_json::json!({"path": "new.md", "content": "# hi\n"}).to_string();
        let diff = FsWrite.preview_json(&new, cx.clone()).await.unwrap();
        assert!(
            diff.contains("--- /dev/null") && diff.contains("+# hi"),
            "{diff}"
        );
        let escape = serde_json::json!({"path": "../x", "content": "x"}).to_string();
        assert_eq!(FsWrite.preview_json(&escape, cx.clone()).await, None);
        assert_eq!(FsRead.preview_json(r#"{"path":"a.txt"}"#, cx).await, None);
        // Previewing wrote nothing.
        assert!(!dir.path().join("new.md").exists());
    }

    #[tokio::test]
    async fn bad_arguments_and_binary_files_are_told_to_the_model() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bin"), [0u8, 1, 2, 3]).unwrap();
        let cx = cx(&[dir.path().to_path_buf()]);
        let err = FsRead.call_json("{not json", cx.clone()).await.unwrap_err();
        assert!(matches!(err, ToolError::RespondToModel(_)));
        assert!(err.to_string().contains("not valid"), "{err}");
        let err = call(&FsRead, serde_json::json!({"path": "bin"}), &cx)
            .await
            .unwrap_err();
        assert!(err.contains("binary"), "{err}");
        let err = call(&FsRead, serde_json::json!({"path": "missing.txt"}), &cx)
            .await
            .unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[tokio::test]
    async fn several_roots_are_named_by_folder() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(b.path().join("x.txt"), "in b").unwrap();
        let cx = cx(&[a.path().to_path_buf(), b.path().to_path_buf()]);
        let b_name = b.path().file_name().unwrap().to_string_lossy().into_owned();
        let read = call(
            &FsRead,
            serde_json::json!({"path": format!("{b_name}/x.txt")}),
            &cx,
        )
        .await
        .unwrap();
        assert_eq!(read, "in b");
        let top = call(&FsList, serde_json::json!({}), &cx).await.unwrap();
        assert!(top.contains(&format!("{b_name}/")), "{top}");
    }

    /// Every escape attempt is refused, and nothing outside is read or written.
    #[cfg(unix)]
    #[tokio::test]
    async fn escapes_are_refused() {
        let base = tempfile::tempdir().unwrap();
        let ws = base.path().join("ws");
        let outside = base.path().join("outside");
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "top secret").unwrap();
        std::os::unix::fs::symlink(outside.join("secret.txt"), ws.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(&outside, ws.join("linkdir")).unwrap();
        std::os::unix::fs::symlink("../../outside", ws.join("sub/rel")).unwrap();
        let cx = cx(std::slice::from_ref(&ws));
        let secret = outside.join("secret.txt").display().to_string();
        let reads = [
            "../outside/secret.txt".to_owned(),
            "sub/../../outside/secret.txt".to_owned(),
            secret.clone(),
            "link.txt".to_owned(),
            "linkdir/secret.txt".to_owned(),
            "sub/rel/secret.txt".to_owned(),
            "C:\\Windows\\win.ini".to_owned(),
        ];
        for path in &reads {
            let result = call(&FsRead, serde_json::json!({"path": path}), &cx).await;
            let err = result.expect_err(&format!("reading {path} must fail"));
            assert!(!err.contains("top secret"), "{path}: {err}");
        }
        for path in [
            "../evil.txt",
            "linkdir/evil.txt",
            "link.txt",
            "sub/rel/evil.txt",
            &secret,
        ] {
            let result = call(
                &FsWrite,
                serde_json::json!({"path": path, "content": "pwned"}),
                &cx,
            )
            .await;
            assert!(result.is_err(), "writing {path} must fail");
        }
        for path in ["..", "linkdir", "sub/rel"] {
            assert!(
                call(&FsList, serde_json::json!({"path": path}), &cx)
                    .await
                    .is_err(),
                "listing {path}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
            "top secret"
        );
        assert!(!base.path().join("evil.txt").exists());
        assert!(!outside.join("evil.txt").exists());
    }
}
