//! MCP servers for real: a server written with the official Python SDK (PyPI `mcp`), over stdio
//! and over streamable HTTP — listing, calls, a tool error, approval by default, a crash and the
//! restart, stderr kept, and a server that cannot start.

use std::path::PathBuf;
use std::time::Duration;

use aetheria_engine::api::{
    Command, Decision, Effect, Event, McpServerInfo, McpState, Policy, SettingsCommand, ToolInfo,
    ToolStatus, ToolsCommand, TurnCommand,
};
use aetheria_engine::config::McpServerConfig;
use aetheria_engine::testkit::Reply;

use super::common::{Harness, turn_ended};

const SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/mcp/notes_server.py"
);

/// The Python with the MCP SDK installed (`installer/dev.sh test` makes it).
fn python() -> Option<PathBuf> {
    match std::env::var_os("AETHERIA_TEST_MCP_PYTHON") {
        Some(path) => Some(PathBuf::from(path)),
        None if super::common::skip("mcp") => None,
        None => panic!(
            "AETHERIA_TEST_MCP_PYTHON is not set: run installer/dev.sh test, or point it at a python with `pip install mcp` (AETHERIA_SKIP=mcp to skip)"
        ),
    }
}

fn stdio_server(python: &std::path::Path) -> McpServerConfig {
    McpServerConfig {
        command: Some(python.display().to_string()),
        args: vec![SERVER.into(), "stdio".into()],
        env: Default::default(),
        url: None,
        token_ref: None,
        enabled: true,
    }
}

async fn tools(h: &mut Harness) -> Vec<ToolInfo> {
    h.handle.submit(Command::Tools(ToolsCommand::List)).unwrap();
    let events = h.until(|e| matches!(e, Event::ToolList { .. })).await;
    let Some(Event::ToolList { tools }) = events.last() else {
        unreachable!()
    };
    tools.clone()
}

async fn servers(h: &mut Harness) -> Vec<McpServerInfo> {
    h.handle
        .submit(Command::Tools(ToolsCommand::ListMcpServers))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::McpServers { .. })).await;
    let Some(Event::McpServers { servers }) = events.last() else {
        unreachable!()
    };
    servers.clone()
}

async fn direct(h: &mut Harness, tool: &str, arguments: serde_json::Value) -> (ToolStatus, String) {
    let d = h.direct(tool, arguments).await;
    (d.status, d.output)
}

#[tokio::test]
async fn a_stdio_server_lists_calls_fails_crashes_and_restarts() {
    let Some(python) = python() else { return };
    let add = serde_json::json!({"a": 2, "b": 3}).to_string();
    let mut h = Harness::start_with(
        vec![
            Reply::tool_calls(&[("m1", "notes__add", &add)], 4),
            Reply::text(&["2 + 3 is 5."]),
        ],
        |config| {
            config.mcp.insert("notes".into(), stdio_server(&python));
            config
                .tools
                .policy
                .insert("notes__fail".into(), Policy::Allow);
            for tool in ["notes__crash", "notes__shout"] {
                config.tools.policy.insert(tool.into(), Policy::Allow);
            }
        },
    )
    .await;
    // The settings list the server.
    h.handle
        .submit(Command::Settings(SettingsCommand::Get))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::Settings { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::Settings { settings }) if settings.mcp_servers.contains_key("notes"))
    );

    let listed = tools(&mut h).await;
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    for name in ["notes__add", "notes__shout", "notes__fail", "notes__crash"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let add_info = listed.iter().find(|t| t.name == "notes__add").unwrap();
    assert_eq!(
        (add_info.effect, add_info.policy),
        (Effect::External, Policy::Ask)
    );
    assert!(add_info.description.contains("Add two whole numbers"));
    assert_eq!(add_info.schema["properties"]["a"]["type"], "integer");

    // The model sees the tool and calls it; the call waits for approval (default `ask`).
    let session = h.new_session().await;
    h.send(&session, "add 2 and 3 with the notes tool");
    let events = h
        .until(|e| matches!(e, Event::ApprovalRequested { .. }))
        .await;
    let Some(Event::ApprovalRequested {
        call, tool, effect, ..
    }) = events.last()
    else {
        unreachable!()
    };
    assert_eq!((tool.as_str(), *effect), ("notes__add", Effect::External));
    let offered = serde_json::to_string(&h.server.requests()[0]["tools"]).unwrap();
    assert!(offered.contains("notes__shout"), "{offered}");
    h.handle
        .submit(Command::Turn(TurnCommand::Approve {
            call: call.clone(),
            decision: Decision::Allow,
            remember: false,
            scope: None,
        }))
        .unwrap();
    let events = h.until(turn_ended).await;
    let output = events.iter().find_map(|e| match e {
        Event::ToolCallFinished { output, status, .. } => Some((status, output.clone())),
        _ => None,
    });
    assert_eq!(
        output,
        Some((&ToolStatus::Succeeded, "2 + 3 = 5".to_owned()))
    );

    // A tool error goes back to the model as an error.
    let (status, out) = direct(&mut h, "notes__fail", serde_json::json!({"reason": "test"})).await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(out.contains("failed on purpose: test"), "{out}");
    let (status, out) = direct(&mut h, "notes__shout", serde_json::json!([1, 2])).await;
    assert_eq!(status, ToolStatus::Failed, "{out}");

    // The server dies in the middle of a call; the next call starts it again.
    let (status, out) = direct(&mut h, "notes__crash", serde_json::json!({})).await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(out.contains("stopped answering"), "{out}");
    let (status, out) = direct(&mut h, "notes__shout", serde_json::json!({"text": "back"})).await;
    assert_eq!((status, out.as_str()), (ToolStatus::Succeeded, "BACK"));
    let info = servers(&mut h).await;
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].state, McpState::Running, "{info:?}");
    assert_eq!(info[0].restarts, 1, "{info:?}");
    assert_eq!(info[0].tools.len(), 7);
    // Its stderr was kept (and logged).
    let stderr = info[0].stderr.join("\n");
    assert!(stderr.contains("crashing on request"), "{stderr}");
    assert!(stderr.contains("notes server starting"), "{stderr}");
}

/// A stdio server gets a cleared environment plus its own variables (their values redacted),
/// and one that writes an endless-looking stderr line (8 MB, far past a pipe's buffer) still
/// answers: its stderr is read on in bounded pieces, and the overlong line is noted, not kept.
#[tokio::test]
async fn a_server_gets_a_cleared_environment_and_its_stderr_is_read_in_bounded_lines() {
    let Some(python) = python() else { return };
    let mut h = Harness::start_with(vec![], |config| {
        let mut server = stdio_server(&python);
        server
            .env
            .insert("NOTES_STDERR_FLOOD".into(), (8 << 20).to_string());
        server
            .env
            .insert("NOTES_TOKEN".into(), "notes-token-0123456789".into());
        config.mcp.insert("notes".into(), server);
        for tool in ["notes__shout", "notes__env"] {
            config.tools.policy.insert(tool.into(), Policy::Allow);
        }
    })
    .await;
    // The server gets its configured variables (whose values are redacted like keys), not the
    // app's whole environment.
    let (_, out) = direct(
        &mut h,
        "notes__env",
        serde_json::json!({"name": "NOTES_TOKEN"}),
    )
    .await;
    assert_eq!(out, "[REDACTED]");
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let (_, out) = direct(
        &mut h,
        "notes__env",
        serde_json::json!({"name": "CARGO_MANIFEST_DIR"}),
    )
    .await;
    assert_eq!(out, "(unset)");
    let (_, out) = direct(&mut h, "notes__env", serde_json::json!({"name": "PATH"})).await;
    assert_ne!(out, "(unset)");
    let (status, out) = direct(
        &mut h,
        "notes__shout",
        serde_json::json!({"text": "still here"}),
    )
    .await;
    assert_eq!(
        (status, out.as_str()),
        (ToolStatus::Succeeded, "STILL HERE")
    );
    let stderr = servers(&mut h).await[0].stderr.join("\n");
    assert!(
        stderr.contains("[a line longer than 4096 bytes was left out]"),
        "{}",
        &stderr[..stderr.len().min(300)]
    );
    assert!(
        stderr.contains("flood over"),
        "{}",
        &stderr[..stderr.len().min(300)]
    );
    assert!(
        stderr.len() < 64 * 1024,
        "{} bytes of stderr kept",
        stderr.len()
    );
}

/// Starts the Python server over streamable HTTP (with a required bearer token when given).
async fn http_server(
    python: &std::path::Path,
    token: Option<&str>,
) -> (tokio::process::Child, String) {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut command = tokio::process::Command::new(python);
    command
        .args([SERVER, "http", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(token) = token {
        command.env("MCP_TOKEN", token);
    }
    let child = command.spawn().unwrap();
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the HTTP server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, format!("http://127.0.0.1:{port}/mcp"))
}

#[tokio::test]
async fn a_streamable_http_server() {
    let Some(python) = python() else { return };
    let (mut child, url) = http_server(&python, None).await;
    let mut h = Harness::start_with(vec![], move |config| {
        config.mcp.insert(
            "web-notes".into(),
            McpServerConfig {
                command: None,
                args: vec![],
                env: Default::default(),
                url: Some(url),
                token_ref: None,
                enabled: true,
            },
        );
        config
            .tools
            .policy
            .insert("web-notes__add".into(), Policy::Allow);
        config
            .tools
            .policy
            .insert("web-notes__fail".into(), Policy::Allow);
    })
    .await;
    let names: Vec<String> = tools(&mut h).await.into_iter().map(|t| t.name).collect();
    assert!(names.contains(&"web-notes__shout".to_owned()), "{names:?}");
    let (status, out) = direct(
        &mut h,
        "web-notes__add",
        serde_json::json!({"a": 40, "b": 2}),
    )
    .await;
    assert_eq!(
        (status, out.as_str()),
        (ToolStatus::Succeeded, "40 + 2 = 42")
    );
    let (status, out) = direct(
        &mut h,
        "web-notes__fail",
        serde_json::json!({"reason": "http"}),
    )
    .await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(out.contains("failed on purpose: http"), "{out}");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_server_that_cannot_start_is_reported_and_the_rest_still_works() {
    let mut h = Harness::start_with(vec![], |config| {
        config.mcp.insert(
            "broken".into(),
            McpServerConfig {
                command: Some("/nonexistent/aetheria-mcp-server".into()),
                args: vec![],
                env: Default::default(),
                url: None,
                token_ref: None,
                enabled: true,
            },
        );
    })
    .await;
    let info = servers(&mut h).await;
    assert_eq!(info[0].state, McpState::Failed);
    let error = info[0].error.clone().unwrap();
    assert!(error.contains("could not be run"), "{error}");
    let names: Vec<String> = tools(&mut h).await.into_iter().map(|t| t.name).collect();
    assert!(
        names.contains(&"fs_read".to_owned()) && !names.iter().any(|n| n.starts_with("broken"))
    );
    let (status, out) = direct(&mut h, "broken__anything", serde_json::json!({})).await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(out.contains("no tool named"), "{out}");
}

/// A server that wants a bearer token: without it the start fails with the reason; with the token
/// from the keychain it works.
#[tokio::test]
async fn an_http_server_gets_its_token_from_the_keychain() {
    if super::common::skip("keychain") {
        return;
    }
    let Some(python) = python() else { return };
    let token = "mcp-token-0123456789abcdef";
    let (mut child, url) = http_server(&python, Some(token)).await;
    let account = format!("aetheria-test-mcp-{}", std::process::id());
    let server = |token_ref: Option<String>| McpServerConfig {
        command: None,
        args: vec![],
        env: Default::default(),
        url: Some(url.clone()),
        token_ref,
        enabled: true,
    };
    let without = server(None);
    let mut h = Harness::start_with(vec![], move |config| {
        config.mcp.insert("locked".into(), without);
    })
    .await;
    let info = servers(&mut h).await;
    assert_eq!(info[0].state, McpState::Failed, "{info:?}");
    assert!(
        info[0].error.as_deref().unwrap().contains("did not start"),
        "{info:?}"
    );

    let acct = account.clone();
    std::thread::spawn(move || {
        aetheria_engine::secrets::Secrets::new()
            .set(&acct, token)
            .unwrap();
    })
    .join()
    .unwrap();
    let with = server(Some(account.clone()));
    let mut h = Harness::start_with(vec![], move |config| {
        config.mcp.insert("locked".into(), with);
        config
            .tools
            .policy
            .insert("locked__add".into(), Policy::Allow);
    })
    .await;
    let (status, out) = direct(&mut h, "locked__add", serde_json::json!({"a": 1, "b": 1})).await;
    assert_eq!((status, out.as_str()), (ToolStatus::Succeeded, "1 + 1 = 2"));
    std::thread::spawn(move || {
        aetheria_engine::secrets::Secrets::new()
            .delete(&account)
            .unwrap()
    })
    .join()
    .unwrap();
    child.kill().await.unwrap();
}

/// The local model's tool-call grammar holds every tool the engine can offer at once: all the
/// built-in ones (the code tools, whose `language` is a `$ref` into `$defs`, and every service's
/// tools with the services set up) and an MCP server's, one of which takes a pydantic model. With
/// the grammar compiled against the real model's tokenizer, a `$ref` left pointing at the wrong
/// root fails here, as it failed every offline turn on a machine with Docker.
#[tokio::test]
async fn every_tool_the_engine_can_offer_fits_in_the_local_models_grammar() {
    let Some(python) = python() else { return };
    let mut h = Harness::start_with(vec![], |config| {
        config.mcp.insert("notes".into(), stdio_server(&python));
        config.github = Some(Default::default());
        config.vercel = Some(Default::default());
        config.drive = Some(Default::default());
    })
    .await;
    let all = tools(&mut h).await;
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    for name in [
        "fs_read",
        "run_code",
        "shell",
        "web_fetch",
        "remember",
        "notes__tag",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for prefix in ["github_", "vercel_", "drive_"] {
        assert!(
            names.iter().any(|n| n.starts_with(prefix)),
            "{prefix}: {names:?}"
        );
    }
    let tag = all.iter().find(|t| t.name == "notes__tag").unwrap();
    assert!(tag.schema.to_string().contains("$ref"), "{}", tag.schema);
    let model = aetheria_engine::testkit::test_model::path();
    for decide in [true, false] {
        aetheria_engine::testkit::test_model::tool_grammar_compiles(&model, &all, decide)
            .unwrap_or_else(|e| panic!("{} tools, decide {decide}: {e}", all.len()));
    }
}

/// What an MCP tool draws is kept with its call (in the data folder, by a new name) and shown to
/// the person; the model reads that an image came. Bytes that are no image, more than four images
/// and an oversized one are not kept, and the call's text says so.
#[tokio::test]
async fn a_tool_s_pictures_are_kept_checked_and_bounded() {
    let Some(python) = python() else { return };
    let picture = |kind: &str| serde_json::json!({ "kind": kind }).to_string();
    let mut h = Harness::start_with(
        vec![
            Reply::tool_calls(&[("p1", "notes__picture", &picture("plain"))], 7),
            Reply::text(&["An orange square."]),
        ],
        |config| {
            config.mcp.insert("notes".into(), stdio_server(&python));
            config
                .tools
                .policy
                .insert("notes__picture".into(), Policy::Allow);
        },
    )
    .await;
    let attachments = h.data.path().join("data").join("attachments");
    let session = h.new_session().await;
    let events = h.turn(&session, "Draw me something").await;
    let Some(Event::ToolCallFinished {
        status,
        output,
        images,
        ..
    }) = events
        .iter()
        .find(|e| matches!(e, Event::ToolCallFinished { .. }))
    else {
        panic!("no call in {events:?}")
    };
    assert_eq!(*status, ToolStatus::Succeeded, "{output}");
    assert!(output.contains("[image, image/png]") && output.contains("an orange square"));
    assert_eq!(images.len(), 1);
    let kept = aetheria_engine::images::stored(&h.data.path().join("data"), &images[0])
        .expect("a name the data folder keeps");
    assert!(kept.starts_with(&attachments));
    let (bytes, kind) =
        aetheria_engine::images::read(&h.data.path().join("data"), &images[0]).unwrap();
    assert_eq!((kind, &bytes[..4]), ("image/png", &b"\x89PNG"[..]));
    // Kept with the conversation: loaded again, the call still has its picture.
    h.handle
        .submit(Command::Session(
            aetheria_engine::api::SessionCommand::Load {
                session: session.clone(),
            },
        ))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SessionLoaded { .. })).await;
    let Some(Event::SessionLoaded { tool_calls, .. }) = events.last() else {
        unreachable!()
    };
    assert_eq!(&tool_calls[0].images, images);

    // What a hostile server sends instead.
    let count = || std::fs::read_dir(&attachments).unwrap().count();
    let before = count();
    for (kind, said, kept) in [
        ("forged", "an image that is no PNG, JPEG, GIF or WebP", 0),
        ("huge", "at most 5242880 are kept", 0),
        ("many", "more than 4 images", 4),
    ] {
        let call = aetheria_engine::api::ToolCallId::new();
        h.handle
            .submit(Command::Tools(ToolsCommand::Call {
                call: call.clone(),
                tool: "notes__picture".into(),
                arguments: serde_json::json!({ "kind": kind }),
            }))
            .unwrap();
        let events = h
            .until(|e| matches!(e, Event::ToolCallFinished { call: c, .. } if c == &call))
            .await;
        let Some(Event::ToolCallFinished { output, images, .. }) = events.last() else {
            unreachable!()
        };
        assert!(output.contains(said), "{kind}: {output}");
        assert!(
            output.contains("[an image was not kept:"),
            "{kind}: {output}"
        );
        assert_eq!(images.len(), kept, "{kind}");
    }
    assert_eq!(
        count(),
        before + 4,
        "only the four real images were written"
    );
}
