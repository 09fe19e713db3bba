//! The protocol as front ends rely on it: every event names the submission that caused it, the
//! conversation reduced from a live turn is the one read back from the store, and a turn's own
//! allow list is applied by the engine's gate.

use aetheria_engine::api::conversation::{AnswerState, Conversation, Entry};
use aetheria_engine::api::{Command, Decision, Event, SessionCommand, ToolStatus, TurnCommand};
use aetheria_engine::testkit::Reply;

use super::common::{Harness, turn_ended};

/// Every event says which submission caused it: a turn's stream, its tool calls, the approval it
/// waited for and the call's end all carry the `SendMessage` that started it (not the `Approve`
/// that let the call go on); an answer and a failure carry their own command.
#[tokio::test]
async fn every_event_carries_the_submission_that_caused_it() {
    let mut h = Harness::start(vec![
        Reply::tool_calls(
            &[("c1", "fs_write", r#"{"path": "a.txt", "content": "hi"}"#)],
            2,
        ),
        Reply::text(&["Written."]),
    ])
    .await;
    let session = h.new_session().await;
    let sent = h
        .handle
        .submit(Command::Turn(TurnCommand::Send {
            session: session.clone(),
            text: "Write a.txt".into(),
            attachments: vec![],
            create: false,
            allow: vec![],
        }))
        .unwrap();
    let mut turn = Vec::new();
    loop {
        let envelope = h.next_envelope().await;
        if let Event::ApprovalRequested { call, .. } = &envelope.event {
            let approved = h.answer(call, Decision::Allow);
            assert_ne!(approved, sent);
        }
        let ended = turn_ended(&envelope.event);
        turn.push(envelope);
        if ended {
            break;
        }
    }
    let kinds = |e: &Event| serde_json::to_value(e).unwrap()["type"].clone();
    let seen: Vec<_> = turn.iter().map(|e| kinds(&e.event)).collect();
    for wanted in [
        "turn_started",
        "tool_call_started",
        "approval_requested",
        "tool_call_finished",
        "text_delta",
        "turn_finished",
    ] {
        assert!(seen.contains(&wanted.into()), "no {wanted} in {seen:?}");
    }
    for envelope in &turn {
        assert_eq!(envelope.submission, Some(sent), "{:?}", envelope.event);
    }
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("a.txt")).unwrap(),
        "hi"
    );

    // A forged approval fails, and the failure answers that submission alone.
    let forged = h.answer(&"no-such-call".into(), Decision::Allow);
    let listed = h
        .handle
        .submit(Command::Session(SessionCommand::List))
        .unwrap();
    let mut answered = Vec::new();
    while answered.len() < 2 {
        let envelope = h.next_envelope().await;
        match &envelope.event {
            Event::CommandFailed { submission, .. } => {
                assert_eq!(*submission, forged);
                assert_eq!(envelope.submission, Some(forged));
                answered.push("failed");
            }
            Event::SessionList { .. } => {
                assert_eq!(envelope.submission, Some(listed));
                answered.push("listed");
            }
            // The session's automatic title, after the turn.
            Event::SessionUpdated { .. } => assert_eq!(envelope.submission, Some(sent)),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The conversation a front end reduces from a live turn's events is the one it reads back from
/// the store: the same entries, in the same order, ending the same way.
#[tokio::test]
async fn a_live_conversation_is_the_stored_one() {
    let mut h = Harness::start(vec![
        Reply::tool_calls(
            &[("c1", "fs_write", r#"{"path": "b.txt", "content": "yo"}"#)],
            2,
        ),
        Reply::text(&["Wrote ", "b.txt."]),
    ])
    .await;
    let session = h.new_session().await;
    let mut live = Conversation::new(Some(session.clone()));
    live.push_user("Write b.txt", vec![], vec![]);
    h.send(&session, "Write b.txt");
    loop {
        let event = h.next().await;
        live.apply(&event);
        if let Event::ApprovalRequested { call, .. } = &event {
            assert!(
                live.approved(call).is_some(),
                "the call waits in the conversation"
            );
            h.answer(call, Decision::Allow);
        }
        if turn_ended(&event) {
            break;
        }
    }
    assert!(!live.running());
    let kinds: Vec<&str> = live
        .entries()
        .iter()
        .map(|e| match e {
            Entry::User { .. } => "user",
            Entry::Tool(t) if t.status == ToolStatus::Succeeded => "tool done",
            Entry::Answer {
                state: AnswerState::Complete,
                ..
            } => "answer",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["user", "tool done", "answer"],
        "{:?}",
        live.entries()
    );
    assert_eq!(live.last_answer(), Some("Wrote b.txt."));

    h.handle
        .submit(Command::Session(SessionCommand::Load {
            session: session.clone(),
        }))
        .unwrap();
    let loaded = h.until(|e| matches!(e, Event::SessionLoaded { .. })).await;
    let mut stored = Conversation::new(Some(session));
    stored.apply(loaded.last().unwrap());
    assert_eq!(stored.entries(), live.entries());
}

/// A turn's own allow list (what `aetheria ask --allow` sends) is applied by the engine's gate: an
/// allowed tool runs without asking, another still asks, and a tool turned off stays off.
#[tokio::test]
async fn a_turns_allow_list_is_applied_by_the_gate() {
    let mut h = Harness::start_with(
        vec![
            Reply::tool_calls(
                &[
                    ("c1", "fs_write", r#"{"path": "ok.txt", "content": "1"}"#),
                    ("c2", "fs_delete", r#"{"path": "ok.txt"}"#),
                    ("c3", "shell", r#"{"command": "true"}"#),
                ],
                2,
            ),
            Reply::text(&["Done."]),
        ],
        |c| {
            c.tools
                .policy
                .insert("shell".into(), aetheria_engine::api::Policy::Deny);
        },
    )
    .await;
    let session = h.new_session().await;
    h.handle
        .submit(Command::Turn(TurnCommand::Send {
            session: session.clone(),
            text: "go".into(),
            attachments: vec![],
            create: false,
            allow: vec!["fs_write".into(), "shell".into()],
        }))
        .unwrap();
    let mut asked = Vec::new();
    let mut ended = std::collections::HashMap::new();
    loop {
        let event = h.next().await;
        match &event {
            Event::ApprovalRequested { call, tool, .. } => {
                asked.push(tool.clone());
                h.answer(call, Decision::Deny);
            }
            Event::ToolCallFinished { call, status, .. } => {
                ended.insert(call.clone(), *status);
            }
            _ => {}
        }
        if turn_ended(&event) {
            break;
        }
    }
    assert_eq!(asked, ["fs_delete"], "only the tool not allowed asks");
    let mut statuses: Vec<ToolStatus> = ended.into_values().collect();
    statuses.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(
        statuses,
        [
            ToolStatus::Denied,
            ToolStatus::Denied,
            ToolStatus::Succeeded
        ],
        "fs_write ran; fs_delete was denied by the person; shell stays off"
    );
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("ok.txt")).unwrap(),
        "1"
    );
}
