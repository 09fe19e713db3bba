//! Approvals enforced in code: ask → ApprovalRequested → Approve; deny; always allow; direct calls.

use aetheria_engine::api::{
    Command, Decision, Effect, Event, FileKind, Policy, ToolCallId, ToolStatus,
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
    h.handle
        .submit(Command::Approve {
            call: call.clone(),
            decision: Decision::Allow,
            remember: false,
        })
        .unwrap();
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
    h.handle
        .submit(Command::Approve {
            call,
            decision: Decision::Deny,
            remember: false,
        })
        .unwrap();
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
    h.handle
        .submit(Command::Approve {
            call,
            decision: Decision::Allow,
            remember: true,
        })
        .unwrap();
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
    handle.submit(Command::ListTools).unwrap();
    let Some(Event::ToolList { tools }) = events.recv().await else {
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
    h.handle.submit(Command::Cancel { session }).unwrap();
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
    h.handle
        .submit(Command::Approve {
            call,
            decision: Decision::Allow,
            remember: false,
        })
        .unwrap();
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
        .submit(Command::CallTool {
            call: call.clone(),
            tool: "fs_read".into(),
            arguments: serde_json::json!({ "path": "r.txt" }),
        })
        .unwrap();
    let events = h
        .until(|e| matches!(e, Event::ToolCallFinished { .. }))
        .await;
    assert!(
        matches!(events.last(), Some(Event::ToolCallFinished { status: ToolStatus::Succeeded, output, .. }) if output == "read me")
    );

    let call = ToolCallId::new();
    h.handle
        .submit(Command::CallTool {
            call: call.clone(),
            tool: "fs_write".into(),
            arguments: serde_json::json!({ "path": "w.txt", "content": "x" }),
        })
        .unwrap();
    let (asked, ..) = approval(&mut h).await;
    assert_eq!(asked, call);
    h.handle
        .submit(Command::Approve {
            call,
            decision: Decision::Deny,
            remember: false,
        })
        .unwrap();
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
        .submit(Command::SetToolPolicy {
            tool: "nope".into(),
            policy: Policy::Allow,
        })
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
        .submit(Command::ListFiles {
            path: String::new(),
        })
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
        .submit(Command::ListFiles { path: "..".into() })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(matches!(events.last(), Some(Event::CommandFailed { .. })));
}
