//! The file tools on real folders: round trips, previews, and a corpus of escapes (`..`, absolute
//! paths, symlinks, hard links, odd Unicode) that must all be refused.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::tool::DynTool;
use crate::tool::builtin::fs::{FsDelete, FsEdit, FsGlob, FsMove, FsSearch};
use crate::tool::workspace::Workspace;

fn cx(roots: &[std::path::PathBuf]) -> ToolCx {
    let (events, _) = tokio::sync::mpsc::unbounded_channel();
    ToolCx {
        workspace: Arc::new(Workspace::open(roots).unwrap()),
        cancel: CancellationToken::new(),
        session: None,
        live: crate::tool::LiveOutput::new(
            crate::api::ToolCallId::from("t"),
            crate::outbox::Outbox::new(events),
            crate::secrets::Redactor::default(),
        ),
    }
}

async fn call(tool: &dyn DynTool, args: serde_json::Value, cx: &ToolCx) -> Result<String, String> {
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

/// Every escape attempt is refused, by every file tool, and nothing outside is read, written,
/// moved or deleted.
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
    // A hard link inside the workspace to a file outside it.
    std::fs::hard_link(outside.join("secret.txt"), ws.join("hard.txt")).unwrap();
    let cx = cx(std::slice::from_ref(&ws));
    let secret = outside.join("secret.txt").display().to_string();
    let corpus = [
        "../outside/secret.txt".to_owned(),
        "sub/../../outside/secret.txt".to_owned(),
        "./../outside/secret.txt".to_owned(),
        secret.clone(),
        "//outside/secret.txt".to_owned(),
        "link.txt".to_owned(),
        "hard.txt".to_owned(),
        "linkdir/secret.txt".to_owned(),
        "sub/rel/secret.txt".to_owned(),
        "C:\\Windows\\win.ini".to_owned(),
        "\\\\server\\share\\x".to_owned(),
        // Look-alikes and invisible characters.
        "..\u{200B}/outside/secret.txt".to_owned(),
        "\u{202E}txt.terces/edistuo/..".to_owned(),
        "sub/..\u{0000}/x".to_owned(),
        "..\n/outside/secret.txt".to_owned(),
    ];
    for (i, path) in corpus.iter().enumerate() {
        let result = call(&FsRead, serde_json::json!({"path": path}), &cx).await;
        let err = result.expect_err(&format!("reading {path:?} must fail"));
        assert!(!err.contains("top secret"), "{path:?}: {err}");
        let result = call(
            &FsRead,
            serde_json::json!({"path": path, "start_line": 1}),
            &cx,
        )
        .await;
        assert!(result.is_err(), "reading lines of {path:?} must fail");
        let result = call(
            &FsEdit,
            serde_json::json!({"path": path, "old_text": "top", "new_text": "pwned"}),
            &cx,
        )
        .await;
        assert!(result.is_err(), "editing {path:?} must fail");
        // Deleting or renaming the link itself is allowed (it never touches the target); that is
        // checked at the end.
        if matches!(path.as_str(), "link.txt" | "hard.txt") {
            continue;
        }
        let result = call(&FsDelete, serde_json::json!({"path": path}), &cx).await;
        assert!(result.is_err(), "deleting {path:?} must fail");
        let result = call(
            &FsMove,
            serde_json::json!({"from": path, "to": format!("stolen-{i}.txt")}),
            &cx,
        )
        .await;
        assert!(result.is_err(), "moving {path:?} must fail");
    }
    let err = call(
        &FsMove,
        serde_json::json!({"from": "hard.txt", "to": "stolen.txt"}),
        &cx,
    )
    .await
    .unwrap_err();
    assert!(err.contains("hard links"), "{err}");
    for path in [
        "../evil.txt",
        "linkdir/evil.txt",
        "link.txt",
        "sub/rel/evil.txt",
        "sub/\u{202E}evil.txt",
        &secret,
    ] {
        let result = call(
            &FsWrite,
            serde_json::json!({"path": path, "content": "pwned"}),
            &cx,
        )
        .await;
        assert!(result.is_err(), "writing {path:?} must fail");
        let result = call(&FsMove, serde_json::json!({"from": "sub", "to": path}), &cx).await;
        assert!(result.is_err(), "moving into {path:?} must fail");
    }
    for path in ["..", "linkdir", "sub/rel"] {
        assert!(
            call(&FsList, serde_json::json!({"path": path}), &cx)
                .await
                .is_err(),
            "listing {path}"
        );
        let glob = call(
            &FsGlob,
            serde_json::json!({"pattern": "*", "path": path}),
            &cx,
        )
        .await;
        assert!(glob.is_err(), "globbing {path}: {glob:?}");
        let search = call(
            &FsSearch,
            serde_json::json!({"pattern": "secret", "path": path}),
            &cx,
        )
        .await;
        assert!(search.is_err(), "searching {path}: {search:?}");
    }
    // A search of the whole workspace walks past the links without following them and skips the
    // hard-linked file.
    let found = call(&FsSearch, serde_json::json!({"pattern": "secret"}), &cx)
        .await
        .unwrap();
    assert_eq!(found, "no line matches \"secret\"");
    // A write to the hard-linked name replaces that name only; the file outside keeps its text.
    call(
        &FsWrite,
        serde_json::json!({"path": "hard.txt", "content": "new"}),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(std::fs::read_to_string(ws.join("hard.txt")).unwrap(), "new");
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "top secret"
    );
    // Deleting the symlink removes the link, not the file it points to.
    let out = call(&FsDelete, serde_json::json!({"path": "link.txt"}), &cx)
        .await
        .unwrap();
    assert_eq!(out, "deleted the link link.txt");
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "top secret"
    );
    assert!(!base.path().join("evil.txt").exists());
    assert!(!outside.join("evil.txt").exists());
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
}

#[tokio::test]
async fn line_ranges_edits_moves_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (1..=10).map(|n| format!("line {n}\n")).collect();
    std::fs::write(dir.path().join("ten.txt"), &text).unwrap();
    let cx = cx(&[dir.path().to_path_buf()]);

    let part = call(
        &FsRead,
        serde_json::json!({"path": "ten.txt", "start_line": 3, "end_line": 4}),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(part, "line 3\nline 4\n[lines 3-4 of 10]");
    let tail = call(
        &FsRead,
        serde_json::json!({"path": "ten.txt", "start_line": 10}),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(tail, "line 10\n[lines 10-10 of 10]");
    let err = call(
        &FsRead,
        serde_json::json!({"path": "ten.txt", "start_line": 11}),
        &cx,
    )
    .await
    .unwrap_err();
    assert!(err.contains("has 10 lines"), "{err}");

    // Edits: exactly one match, or replace_all; the preview is the diff.
    let edit = serde_json::json!({"path": "ten.txt", "old_text": "line 5\n", "new_text": "five\n"});
    let preview = FsEdit
        .preview_json(&edit.to_string(), cx.clone())
        .await
        .unwrap();
    assert!(
        preview.contains("-line 5") && preview.contains("+five"),
        "{preview}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ten.txt")).unwrap(),
        text
    );
    let out = call(&FsEdit, edit, &cx).await.unwrap();
    assert_eq!(out, "replaced 1 occurrence in ten.txt");
    let err = call(
        &FsEdit,
        serde_json::json!({"path": "ten.txt", "old_text": "line 1", "new_text": "x"}),
        &cx,
    )
    .await
    .unwrap_err();
    assert!(err.contains("occurs 2 times"), "{err}"); // "line 1" and "line 10"
    let err = call(
        &FsEdit,
        serde_json::json!({"path": "ten.txt", "old_text": "line 5", "new_text": "x"}),
        &cx,
    )
    .await
    .unwrap_err();
    assert!(err.contains("not found"), "{err}");
    let out = call(
        &FsEdit,
        serde_json::json!({"path": "ten.txt", "old_text": "line", "new_text": "row", "replace_all": true}),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(out, "replaced 9 occurrences in ten.txt");
    let now = std::fs::read_to_string(dir.path().join("ten.txt")).unwrap();
    assert!(
        now.starts_with("row 1\nrow 2\n") && now.contains("five\nrow 6"),
        "{now}"
    );

    // Moves never overwrite; deletes of folders with content need recursive.
    std::fs::write(dir.path().join("other.txt"), "keep me").unwrap();
    let err = call(
        &FsMove,
        serde_json::json!({"from": "ten.txt", "to": "other.txt"}),
        &cx,
    )
    .await
    .unwrap_err();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("other.txt")).unwrap(),
        "keep me"
    );
    call(
        &FsMove,
        serde_json::json!({"from": "ten.txt", "to": "a/b/ten.txt"}),
        &cx,
    )
    .await
    .unwrap();
    assert!(dir.path().join("a/b/ten.txt").exists() && !dir.path().join("ten.txt").exists());
    let preview = FsDelete
        .preview_json(r#"{"path":"a","recursive":true}"#, cx.clone())
        .await
        .unwrap();
    assert!(preview.contains("with 1 files"), "{preview}");
    let err = call(&FsDelete, serde_json::json!({"path": "a"}), &cx)
        .await
        .unwrap_err();
    assert!(err.contains("set recursive"), "{err}");
    let err = call(&FsDelete, serde_json::json!({"path": "."}), &cx)
        .await
        .unwrap_err();
    assert!(err.contains("cannot be deleted"), "{err}");
    let out = call(
        &FsDelete,
        serde_json::json!({"path": "a", "recursive": true}),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(out, "deleted the folder a");
    assert!(!dir.path().join("a").exists());
}

#[tokio::test]
async fn glob_and_search_respect_gitignore() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src/deep")).unwrap();
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".gitignore"), "target/\n*.log\n").unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        "fn main() {\n    todo!(\"Hello\");\n}\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/deep/lib.rs"),
        "// hello again\npub fn f() {}\n",
    )
    .unwrap();
    std::fs::write(root.join("README.md"), "# Hello\n").unwrap();
    std::fs::write(root.join("target/out.rs"), "hello from the build\n").unwrap();
    std::fs::write(root.join("debug.log"), "hello log\n").unwrap();
    std::fs::write(root.join(".git/config"), "hello git\n").unwrap();
    std::fs::write(root.join("blob.bin"), b"hello\0binary").unwrap();
    let cx = cx(&[root.to_path_buf()]);

    let rs = call(&FsGlob, serde_json::json!({"pattern": "*.rs"}), &cx)
        .await
        .unwrap();
    assert_eq!(rs, "src/deep/lib.rs\nsrc/main.rs");
    let deep = call(
        &FsGlob,
        serde_json::json!({"pattern": "deep/**", "path": "src"}),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(deep, "src/deep/lib.rs");
    let none = call(&FsGlob, serde_json::json!({"pattern": "*.py"}), &cx)
        .await
        .unwrap();
    assert_eq!(none, "no file matches \"*.py\"");
    let err = call(&FsGlob, serde_json::json!({"pattern": "a[b"}), &cx)
        .await
        .unwrap_err();
    assert!(err.contains("not valid"), "{err}");

    let hits = call(
        &FsSearch,
        serde_json::json!({"pattern": "hello", "case_insensitive": true}),
        &cx,
    )
    .await
    .unwrap();
    assert_eq!(
        hits,
        "README.md:1: # Hello\nsrc/deep/lib.rs:1: // hello again\nsrc/main.rs:2:     todo!(\"Hello\");\n[3 matches in 3 files]"
    );
    let rs_only = call(
        &FsSearch,
        serde_json::json!({"pattern": "todo!(", "literal": true, "glob": "*.rs"}),
        &cx,
    )
    .await
    .unwrap();
    assert!(rs_only.starts_with("src/main.rs:2:"), "{rs_only}");
    let err = call(&FsSearch, serde_json::json!({"pattern": "todo!("}), &cx)
        .await
        .unwrap_err();
    assert!(err.contains("not a valid regular expression"), "{err}");
    let one = call(
        &FsSearch,
        serde_json::json!({"pattern": "hello", "case_insensitive": true, "max_results": 1}),
        &cx,
    )
    .await
    .unwrap();
    assert!(
        one.ends_with("[stopped at 1 matches; narrow the search or raise max_results]"),
        "{one}"
    );
}

/// A named pipe planted in the workspace (the sandbox can make one) must not hang the read.
#[cfg(unix)]
#[tokio::test]
async fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
    let ws = tempfile::tempdir().unwrap();
    let fifo = ws.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let cx = cx(&[ws.path().to_path_buf()]);
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        call(&FsRead, serde_json::json!({"path": "pipe"}), &cx),
    )
    .await
    .expect("fs_read waited on the pipe");
    let err = read.unwrap_err();
    assert!(err.contains("not a regular file"), "{err}");
}
