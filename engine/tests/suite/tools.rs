//! Approvals enforced in code: ask → ApprovalRequested → Approve; deny; always allow; direct calls.

use aetheria_engine::api::{
    Command, Decision, Effect, Event, FileKind, Policy, ScopeKind, SessionCommand, ToolCallId,
    ToolStatus, ToolsCommand, TurnCommand,
};
use aetheria_engine::testkit::Reply;

use super::common::{Harness, turn_ended};

fn write_call(id: &str, path: &str, content: &str) -> Reply {
    let args = serde_json::json!({ "path": path, "content": content }).to_string();
    Reply::tool_calls(&[(id, "fs_write", &args)], 7)
}

async fn approval(h: &mut Harness) -> (ToolCallId, String, Effect) {
    let (call, tool, effect, _) = approval_with_preview(h).await;
    (call, tool, effect)
}

async fn approval_with_preview(h: &mut Harness) -> (ToolCallId, String, Effect, Option<String>) {
    let events = h
        .until(|e| matches!(e, Event::ApprovalRequested { .. }))
        .await;
    let Some(Event::ApprovalRequested {
        call,
        tool,
        effect,
        preview,
        ..
    }) = events.last()
    else {
        unreachable!()
    };
    (call.clone(), tool.clone(), *effect, preview.clone())
}

#[tokio::test]
async fn an_approved_write_runs() {
    let mut h = Harness::start(vec![
        write_call("call_w", "out/hello.txt", "hi!"),
        Reply::text(&["Written."]),
    ])
    .await;
    let session = h.new_session().await;
    h.send(&session, "write hello");
    let (call, tool, effect, preview) = approval_with_preview(&mut h).await;
    assert_eq!((tool.as_str(), effect), ("fs_write", Effect::Mutating));
    let preview = preview.expect("a diff preview");
    assert!(
        preview.contains("+++ b/out/hello.txt") && preview.contains("+hi!"),
        "{preview}"
    );
    // Nothing is written before the approval.
    assert!(!h.workspace.join("out/hello.txt").exists());
    answer(&h, call.clone(), Decision::Allow, false, None);
    let events = h.until(turn_ended).await;
    assert!(events.iter().any(|e| matches!(e,
        Event::ToolCallFinished { call: c, status: ToolStatus::Succeeded, .. } if *c == call)));
    assert!(matches!(events.last(), Some(Event::TurnFinished { .. })));
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("out/hello.txt")).unwrap(),
        "hi!"
    );
}

#[tokio::test]
async fn a_denied_write_does_not_run_and_the_model_is_told() {
    let mut h = Harness::start(vec![
        write_call("call_w", "x.txt", "nope"),
        Reply::text(&["OK, I won't."]),
    ])
    .await;
    let session = h.new_session().await;
    h.send(&session, "write x");
    let (call, ..) = approval(&mut h).await;
    answer(&h, call, Decision::Deny, false, None);
    let events = h.until(turn_ended).await;
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolCallFinished {
            status: ToolStatus::Denied,
            ..
        }
    )));
    assert!(!h.workspace.join("x.txt").exists());
    let requests = h.server.requests();
    let tool_msg = &requests[1]["messages"].as_array().unwrap()[3];
    assert!(
        tool_msg["content"].as_str().unwrap().contains("denied"),
        "{tool_msg}"
    );
}

#[tokio::test]
async fn always_allow_is_remembered_across_restarts() {
    let mut h = Harness::start(vec![
        write_call("call_1", "a.txt", "1"),
        Reply::text(&["one"]),
        write_call("call_2", "b.txt", "2"),
        Reply::text(&["two"]),
    ])
    .await;
    let session = h.new_session().await;
    h.send(&session, "write a");
    let (call, ..) = approval(&mut h).await;
    answer(&h, call, Decision::Allow, true, None);
    let events = h.until(turn_ended).await;
    assert!(events.iter().any(|e| matches!(e,
        Event::ToolPolicyChanged { tool, policy: Policy::Allow } if tool == "fs_write")));
    // The second write runs without asking.
    let events = h.turn(&session, "write b").await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ApprovalRequested { .. })),
        "{events:?}"
    );
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("b.txt")).unwrap(),
        "2"
    );

    // A new engine on the same database still allows it.
    h.handle.submit(Command::Shutdown).unwrap();
    while h.events.recv().await.is_some() {}
    let config = super::common::config_for(&h.data, &h.workspace, &h.server.base_url());
    let (handle, mut events) = aetheria_engine::Engine::start(config).await.unwrap();
    handle.submit(Command::Tools(ToolsCommand::List)).unwrap();
    let Some(Event::ToolList { tools }) = events.recv().await.map(|e| e.event) else {
        panic!("no tool list")
    };
    let write = tools.iter().find(|t| t.name == "fs_write").unwrap();
    assert_eq!(write.policy, Policy::Allow);
}

#[tokio::test]
async fn a_denied_tool_is_not_offered_and_never_runs() {
    let mut h = Harness::start_with(
        vec![write_call("call_w", "x.txt", "nope"), Reply::text(&["ok"])],
        |c| {
            c.tools.policy.insert("fs_write".into(), Policy::Deny);
        },
    )
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "write x").await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ApprovalRequested { .. }))
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolCallFinished {
            status: ToolStatus::Denied,
            ..
        }
    )));
    assert!(!h.workspace.join("x.txt").exists());
    let offered = h.server.requests()[0]["tools"].to_string();
    assert!(!offered.contains("fs_write"), "{offered}");
}

#[tokio::test]
async fn cancel_while_waiting_for_approval() {
    let mut h = Harness::start(vec![write_call("call_w", "x.txt", "nope")]).await;
    let session = h.new_session().await;
    h.send(&session, "write x");
    let (call, ..) = approval(&mut h).await;
    h.handle
        .submit(Command::Turn(TurnCommand::Cancel { session }))
        .unwrap();
    let events = h.until(turn_ended).await;
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolCallFinished {
            status: ToolStatus::Cancelled,
            ..
        }
    )));
    assert!(matches!(events.last(), Some(Event::TurnCancelled { .. })));
    // A late approval finds nothing waiting.
    answer(&h, call, Decision::Allow, false, None);
    let late = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(matches!(late.last(), Some(Event::CommandFailed { .. })));
    assert!(!h.workspace.join("x.txt").exists());
}

#[tokio::test]
async fn direct_tool_calls_apply_the_policy() {
    let mut h = Harness::start(vec![]).await;
    std::fs::write(h.workspace.join("r.txt"), "read me").unwrap();
    let call = ToolCallId::new();
    h.handle
        .submit(Command::Tools(ToolsCommand::Call {
            call: call.clone(),
            tool: "fs_read".into(),
            arguments: serde_json::json!({ "path": "r.txt" }),
        }))
        .unwrap();
    let events = h
        .until(|e| matches!(e, Event::ToolCallFinished { .. }))
        .await;
    assert!(
        matches!(events.last(), Some(Event::ToolCallFinished { status: ToolStatus::Succeeded, output, .. }) if output == "read me")
    );

    let call = ToolCallId::new();
    h.handle
        .submit(Command::Tools(ToolsCommand::Call {
            call: call.clone(),
            tool: "fs_write".into(),
            arguments: serde_json::json!({ "path": "w.txt", "content": "x" }),
        }))
        .unwrap();
    let (asked, ..) = approval(&mut h).await;
    assert_eq!(asked, call);
    answer(&h, call, Decision::Deny, false, None);
    let events = h
        .until(|e| matches!(e, Event::ToolCallFinished { .. }))
        .await;
    assert!(matches!(
        events.last(),
        Some(Event::ToolCallFinished {
            status: ToolStatus::Denied,
            ..
        })
    ));
    assert!(!h.workspace.join("w.txt").exists());

    h.handle
        .submit(Command::Tools(ToolsCommand::SetPolicy {
            tool: "nope".into(),
            policy: Policy::Allow,
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.message.contains("no tool named"))
    );
}

#[tokio::test]
async fn the_files_panel_lists_the_workspace_and_nothing_outside() {
    let mut h = Harness::start(vec![]).await;
    std::fs::create_dir_all(h.workspace.join("notes")).unwrap();
    std::fs::write(h.workspace.join("b.txt"), "bb").unwrap();
    std::fs::write(h.workspace.join("a.txt"), "a").unwrap();
    h.handle
        .submit(Command::Tools(ToolsCommand::ListFiles {
            path: String::new(),
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::FileList { .. })).await;
    let Some(Event::FileList { entries, .. }) = events.last() else {
        unreachable!()
    };
    let shown: Vec<(&str, FileKind, u64)> = entries
        .iter()
        .map(|e| (e.name.as_str(), e.kind, e.size))
        .collect();
    assert_eq!(
        shown,
        [
            ("notes", FileKind::Dir, 0),
            ("a.txt", FileKind::File, 1),
            ("b.txt", FileKind::File, 2)
        ]
    );
    h.handle
        .submit(Command::Tools(ToolsCommand::ListFiles {
            path: "..".into(),
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(matches!(events.last(), Some(Event::CommandFailed { .. })));
}

/// Answers the approval of `call` as the person would.
fn answer(
    h: &Harness,
    call: ToolCallId,
    decision: Decision,
    remember: bool,
    scope: Option<String>,
) {
    h.handle
        .submit(Command::Turn(TurnCommand::Approve {
            call,
            decision,
            remember,
            scope,
        }))
        .unwrap();
}

fn call_of(id: &str, tool: &str, args: serde_json::Value) -> Reply {
    Reply::tool_calls(&[(id, tool, &args.to_string())], 7)
}

/// The model asks to replace "old" with "new" in `path`.
fn edit(id: &str, path: &str) -> Reply {
    call_of(
        id,
        "fs_edit",
        serde_json::json!({"path": path, "old_text": "old", "new_text": "new"}),
    )
}

/// "Always allow" for a folder: later edits inside it run at once, edits elsewhere still ask, and
/// the grant outlives a restart. A destructive tool's "always allow" without a folder counts once.
#[tokio::test]
async fn always_allow_can_be_limited_to_a_folder() {
    let mut h = Harness::start(vec![
        edit("e1", "notes/a.md"),
        Reply::text(&["one"]),
        edit("e2", "notes/deep/b.md"),
        Reply::text(&["two"]),
        edit("e3", "other/c.md"),
        Reply::text(&["three"]),
        call_of("d1", "fs_delete", serde_json::json!({"path": "other/c.md"})),
        Reply::text(&["four"]),
        call_of("d2", "fs_delete", serde_json::json!({"path": "notes/a.md"})),
        Reply::text(&["five"]),
    ])
    .await;
    for path in ["notes/a.md", "notes/deep/b.md", "other/c.md"] {
        let file = h.workspace.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "old text\n").unwrap();
    }
    let session = h.new_session().await;
    h.send(&session, "edit a");
    let events = h
        .until(|e| matches!(e, Event::ApprovalRequested { .. }))
        .await;
    let Some(Event::ApprovalRequested {
        call,
        scope,
        preview,
        ..
    }) = events.last()
    else {
        unreachable!()
    };
    let scope = scope.clone().expect("fs_edit names a scope");
    assert_eq!(
        (scope.kind, scope.value.as_str()),
        (ScopeKind::Path, "notes")
    );
    assert!(
        preview.as_deref().unwrap().contains("+new text"),
        "{preview:?}"
    );
    answer(&h, call.clone(), Decision::Allow, true, Some(scope.value));
    let events = h.until(turn_ended).await;
    // Only the folder was allowed, not the tool.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ToolPolicyChanged { .. })),
        "{events:?}"
    );
    let events = h.turn(&session, "edit b").await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ApprovalRequested { .. })),
        "{events:?}"
    );
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("notes/deep/b.md")).unwrap(),
        "new text\n"
    );
    // Outside the folder it asks again; deny it.
    h.send(&session, "edit c");
    let (call, tool, _) = approval(&mut h).await;
    assert_eq!(tool, "fs_edit");
    answer(&h, call, Decision::Deny, false, None);
    h.until(turn_ended).await;
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("other/c.md")).unwrap(),
        "old text\n"
    );

    // A delete "always allowed" with no folder runs once and is not remembered.
    h.send(&session, "delete c");
    let (call, tool, effect) = approval(&mut h).await;
    assert_eq!((tool.as_str(), effect), ("fs_delete", Effect::Destructive));
    answer(&h, call, Decision::Allow, true, None);
    let events = h.until(turn_ended).await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ToolPolicyChanged { .. })),
        "{events:?}"
    );
    assert!(!h.workspace.join("other/c.md").exists());
    h.send(&session, "delete a");
    let (call, tool, _) = approval(&mut h).await;
    assert_eq!(tool, "fs_delete");
    answer(&h, call, Decision::Deny, false, None);
    h.until(turn_ended).await;
    assert!(h.workspace.join("notes/a.md").exists());

    // The folder grant outlives a restart.
    h.handle.submit(Command::Shutdown).unwrap();
    while h.events.recv().await.is_some() {}
    let config = super::common::config_for(&h.data, &h.workspace, &h.server.base_url());
    let (handle, mut events) = aetheria_engine::Engine::start(config).await.unwrap();
    let call = ToolCallId::from("direct");
    handle
        .submit(Command::Tools(ToolsCommand::Call {
            call: call.clone(),
            tool: "fs_edit".into(),
            arguments: serde_json::json!({"path": "notes/a.md", "old_text": "new", "new_text": "newer"}),
        }))
        .unwrap();
    loop {
        match events.recv().await.map(|e| e.event).unwrap() {
            Event::ApprovalRequested { .. } => panic!("the grant was forgotten"),
            Event::ToolCallFinished { status, output, .. } => {
                assert_eq!(status, ToolStatus::Succeeded, "{output}");
                break;
            }
            _ => {}
        }
    }
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("notes/a.md")).unwrap(),
        "newer text\n"
    );
}

/// A token planted in a workspace file never reaches the model, the events, the database files or
/// the saved history: every tool output is redacted first.
#[tokio::test]
async fn a_planted_token_is_redacted_from_every_output() {
    let token = "ghp_Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz1Xc3V";
    let mut h = Harness::start(vec![
        call_of("r1", "fs_read", serde_json::json!({"path": "deploy.env"})),
        call_of(
            "s1",
            "fs_search",
            serde_json::json!({"pattern": "TOKEN", "literal": true}),
        ),
        Reply::text(&["I read it."]),
    ])
    .await;
    std::fs::write(
        h.workspace.join("deploy.env"),
        format!("REGION=eu-west\nGITHUB_TOKEN={token}\n"),
    )
    .unwrap();
    let session = h.new_session().await;
    let events = h.turn(&session, "what is in deploy.env?").await;
    let outputs: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::ToolCallFinished { output, .. } => Some(output),
            _ => None,
        })
        .collect();
    assert_eq!(outputs.len(), 2, "{events:?}");
    assert!(
        outputs[0].contains("GITHUB_TOKEN=[REDACTED]"),
        "{}",
        outputs[0]
    );
    assert!(
        outputs[1].contains("GITHUB_TOKEN=[REDACTED]"),
        "{}",
        outputs[1]
    );
    assert!(!format!("{events:?}").contains(token));
    // What the model was sent.
    let sent = serde_json::to_string(&h.server.requests()).unwrap();
    assert!(sent.contains("[REDACTED]") && !sent.contains(token));
    // The saved history.
    h.handle
        .submit(Command::Session(SessionCommand::Load {
            session: session.clone(),
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SessionLoaded { .. })).await;
    let loaded = format!("{:?}", events.last());
    assert!(loaded.contains("[REDACTED]") && !loaded.contains(token));
    // Every byte the database wrote to disk.
    h.handle.submit(Command::Shutdown).unwrap();
    while h.events.recv().await.is_some() {}
    let mut files = vec![h.data.path().join("data")];
    let mut scanned = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            scanned += bytes.len();
            assert!(
                !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                "{} holds the token",
                path.display()
            );
        }
    }
    assert!(scanned > 0, "the database wrote nothing to disk");
}

/// A destructive tool's "always allow" for the whole workspace is "everywhere" again: it counts
/// once, and the next delete asks.
#[tokio::test]
async fn a_delete_is_never_always_allowed_in_the_whole_workspace() {
    let mut h = Harness::start(vec![
        call_of("d1", "fs_delete", serde_json::json!({"path": "a.txt"})),
        Reply::text(&["one"]),
        call_of("d2", "fs_delete", serde_json::json!({"path": "b.txt"})),
        Reply::text(&["two"]),
    ])
    .await;
    std::fs::write(h.workspace.join("a.txt"), "a").unwrap();
    std::fs::write(h.workspace.join("b.txt"), "b").unwrap();
    let session = h.new_session().await;
    h.send(&session, "delete a");
    let (call, ..) = approval(&mut h).await;
    answer(&h, call, Decision::Allow, true, Some(String::new()));
    h.until(turn_ended).await;
    assert!(!h.workspace.join("a.txt").exists());
    h.send(&session, "delete b");
    let (_, tool, _) = approval(&mut h).await;
    assert_eq!(tool, "fs_delete", "the second delete asks again");
}

/// A folder grant is compared name by name on where a path really leads, in the one workspace
/// folder it was given for: `..` is refused outright, a link inside the folder that leads out of
/// it asks again, the grant is written to this machine's `approvals.json` (not the database), and
/// the same folder name in another project asks again.
#[tokio::test]
async fn a_folder_grant_never_reaches_past_its_folder() {
    let mut h = Harness::start(vec![
        edit("e1", "notes/a.md"),
        Reply::text(&["one"]),
        edit("e2", "notes/../secret/s.md"),
        Reply::text(&["two"]),
        edit("e3", "notes/link/s.md"),
        Reply::text(&["three"]),
    ])
    .await;
    for path in ["notes/a.md", "secret/s.md"] {
        let file = h.workspace.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, "old text\n").unwrap();
    }
    std::os::unix::fs::symlink("../secret", h.workspace.join("notes/link")).unwrap();
    let session = h.new_session().await;
    h.send(&session, "edit a");
    let (call, ..) = approval(&mut h).await;
    answer(&h, call, Decision::Allow, true, Some("notes".into()));
    h.until(turn_ended).await;
    let approvals = std::fs::read_to_string(h.data.path().join("data/approvals.json")).unwrap();
    assert!(approvals.contains("\"notes\""), "{approvals}");

    // A path with `..` is no path in the granted folder: the person is asked, and even with
    // their yes the tool refuses it.
    h.send(&session, "edit through ..");
    let (call, tool, _) = approval(&mut h).await;
    assert_eq!(tool, "fs_edit");
    answer(&h, call, Decision::Allow, false, None);
    let events = h.until(turn_ended).await;
    let refused = events.iter().find_map(|e| match e {
        Event::ToolCallFinished { status, output, .. } => Some((*status, output.clone())),
        _ => None,
    });
    let (status, output) = refused.expect("the call finished");
    assert_eq!(status, ToolStatus::Failed);
    assert!(output.contains("`..`"), "{output}");
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("secret/s.md")).unwrap(),
        "old text\n"
    );

    // A link inside the granted folder leads out of it: asked, and denied.
    h.send(&session, "edit through the link");
    let (call, tool, _) = approval(&mut h).await;
    assert_eq!(tool, "fs_edit");
    answer(&h, call, Decision::Deny, false, None);
    h.until(turn_ended).await;
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("secret/s.md")).unwrap(),
        "old text\n"
    );

    // Another project with a `notes` folder of its own: the grant is not for it.
    h.handle.submit(Command::Shutdown).unwrap();
    while h.events.recv().await.is_some() {}
    let other = h.data.path().join("other-project");
    std::fs::create_dir_all(other.join("notes")).unwrap();
    std::fs::write(other.join("notes/a.md"), "old text\n").unwrap();
    let config = super::common::config_for(&h.data, &other, &h.server.base_url());
    let (handle, mut events) = aetheria_engine::Engine::start(config).await.unwrap();
    handle
        .submit(Command::Tools(ToolsCommand::Call {
            call: ToolCallId::from("direct"),
            tool: "fs_edit".into(),
            arguments: serde_json::json!({"path": "notes/a.md", "old_text": "old", "new_text": "new"}),
        }))
        .unwrap();
    loop {
        match events.recv().await.map(|e| e.event).unwrap() {
            Event::ApprovalRequested { .. } => break,
            Event::ToolCallFinished { output, .. } => {
                panic!("the grant reached another project: {output}")
            }
            _ => {}
        }
    }
}

/// A provider's tool-call ids are its own business: a server that gives two sessions' calls the
/// same id cannot make one approval answer the other. The engine names every call itself, and
/// the provider still gets its own id back on the wire.
#[tokio::test]
async fn a_provider_that_repeats_call_ids_cannot_cross_approvals() {
    let write = |path: &str| {
        call_of(
            "dup",
            "fs_write",
            serde_json::json!({"path": path, "content": "written\n"}),
        )
    };
    let mut h = Harness::start(vec![
        write("a.txt"),
        write("b.txt"),
        Reply::text(&["done a"]),
        Reply::text(&["done b"]),
    ])
    .await;
    let first = h.new_session().await;
    let second = h.new_session().await;
    h.send(&first, "write a");
    let (call_a, ..) = approval(&mut h).await;
    h.send(&second, "write b");
    let (call_b, ..) = approval(&mut h).await;
    assert_ne!(call_a, call_b, "two calls, one id");
    assert_ne!(call_a.as_str(), "dup");
    answer(&h, call_a, Decision::Allow, false, None);
    h.until(turn_ended).await;
    answer(&h, call_b, Decision::Deny, false, None);
    h.until(turn_ended).await;
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("a.txt")).unwrap(),
        "written\n"
    );
    assert!(!h.workspace.join("b.txt").exists(), "the denied call ran");
    // On the wire the provider sees the id it gave, for the call and for its result.
    let requests = h.server.requests();
    let follow_up = &requests[2]["messages"];
    let sent = serde_json::to_string(follow_up).unwrap();
    assert!(sent.contains("\"tool_call_id\":\"dup\""), "{sent}");
    assert!(sent.contains("\"id\":\"dup\""), "{sent}");
}
