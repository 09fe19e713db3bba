//! The conversation reducer on event streams as the engine sends them: a turn with an approval,
//! a failure, a cancel before and during the answer, a compaction, other sessions' events, and a
//! stored session read back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aetheria_protocol::conversation::{AnswerState, Change, Conversation, Entry, LIVE_KEPT};
use aetheria_protocol::{
    Attachment, Effect, ErrorInfo, ErrorKind, Event, FinishReason, MessageId, MessageRecord,
    MessageStatus, Role, SessionId, SessionSummary, ToolCallId, ToolCallRecord, ToolKind,
    ToolStatus, Usage,
};

fn session() -> SessionId {
    SessionId::from("s1")
}

fn text(message: &MessageId, delta: &str) -> Event {
    Event::TextDelta {
        session: session(),
        message: message.clone(),
        delta: delta.into(),
    }
}

fn started(call: &ToolCallId, tool: &str) -> Event {
    Event::ToolCallStarted {
        session: Some(session()),
        call: call.clone(),
        tool: tool.into(),
        kind: Some(ToolKind::Files),
        arguments: r#"{"path":"a.txt"}"#.into(),
    }
}

fn finished(message: &MessageId) -> Event {
    Event::TurnFinished {
        session: session(),
        message: message.clone(),
        usage: Usage::default(),
        finish_reason: FinishReason::Stop,
    }
}

/// Applies every event; all the changes, in order.
fn apply(conversation: &mut Conversation, events: &[Event]) -> Vec<Change> {
    events.iter().flat_map(|e| conversation.apply(e)).collect()
}

#[test]
fn a_turn_with_an_approval_streams_into_entries() {
    let mut c = Conversation::new(Some(session()));
    assert_eq!(
        c.push_user("Write a.txt", vec!["notes.md".into()], vec![]),
        Change::Added(0)
    );
    assert!(c.running());
    let (first, second) = (MessageId::new(), MessageId::new());
    let call = ToolCallId::new();
    let user = MessageId::new();
    let changes = apply(
        &mut c,
        &[
            Event::TurnStarted {
                session: session(),
                user_message: user.clone(),
                text: "Write a.txt".into(),
            },
            text(&first, "I will "),
            text(&first, "write it."),
            started(&call, "fs_write"),
            Event::ApprovalRequested {
                session: Some(session()),
                call: call.clone(),
                tool: "fs_write".into(),
                effect: Effect::Mutating,
                arguments: "{}".into(),
                preview: Some("+hi".into()),
                scope: None,
            },
        ],
    );
    assert_eq!(
        changes,
        vec![
            Change::Updated(0),
            Change::Added(1),
            Change::Updated(1),
            Change::Updated(1),
            Change::Added(2),
            Change::Updated(2),
        ]
    );
    assert_eq!(c.anchor(user.as_str()), Some(0));
    // The text before a call is complete; the call waits, with what to ask.
    assert!(matches!(&c.entries()[1],
        Entry::Answer { text, state: AnswerState::Complete, .. } if text == "I will write it."));
    let Entry::Tool(tool) = &c.entries()[2] else {
        panic!("{:?}", c.entries()[2])
    };
    assert_eq!(tool.status, ToolStatus::AwaitingApproval);
    assert_eq!(
        tool.approval.as_ref().and_then(|a| a.preview.as_deref()),
        Some("+hi")
    );

    // The person approves: it runs at once, then the engine says how it ended.
    assert_eq!(c.approved(&call), Some(Change::Updated(2)));
    assert_eq!(c.approved(&call), None, "approved once");
    apply(
        &mut c,
        &[
            Event::ToolOutputDelta {
                call: call.clone(),
                delta: "writing\n".into(),
            },
            Event::ToolCallFinished {
                images: Vec::new(),
                session: Some(session()),
                call: call.clone(),
                status: ToolStatus::Succeeded,
                output: "wrote 2 bytes".into(),
            },
            text(&second, "Done."),
            finished(&second),
        ],
    );
    let Entry::Tool(tool) = &c.entries()[2] else {
        unreachable!()
    };
    assert_eq!(
        (tool.status, tool.output.as_str(), tool.live.as_str()),
        (ToolStatus::Succeeded, "wrote 2 bytes", "writing\n")
    );
    assert!(tool.approval.is_none());
    assert!(matches!(&c.entries()[3],
        Entry::Answer { text, state: AnswerState::Complete, .. } if text == "Done."));
    assert_eq!(c.entries().len(), 4);
    assert_eq!(c.last_answer(), Some("Done."));
    assert!(!c.running());
}

#[test]
fn a_failure_keeps_what_came_and_says_why() {
    let mut c = Conversation::new(Some(session()));
    c.push_user("hi", vec![], vec![]);
    let m = MessageId::new();
    apply(
        &mut c,
        &[
            text(&m, "Half an ans"),
            Event::TurnFailed {
                session: session(),
                error: ErrorInfo::new(ErrorKind::Unavailable, "the provider hung up"),
            },
        ],
    );
    assert!(matches!(&c.entries()[1],
        Entry::Answer { text, state: AnswerState::Incomplete, .. } if text == "Half an ans"));
    assert_eq!(
        c.entries()[2],
        Entry::Failed {
            message: "the provider hung up".into()
        }
    );
}

#[test]
fn a_cancel_marks_the_answer_or_says_it_stopped() {
    // During the answer: the answer says it was stopped; no extra entry.
    let mut c = Conversation::new(Some(session()));
    c.push_user("go", vec![], vec![]);
    let m = MessageId::new();
    let changes = apply(
        &mut c,
        &[
            text(&m, "partial"),
            Event::TurnCancelled { session: session() },
        ],
    );
    assert_eq!(changes, vec![Change::Added(1), Change::Updated(1)]);
    assert!(matches!(
        &c.entries()[1],
        Entry::Answer {
            state: AnswerState::Stopped,
            ..
        }
    ));
    assert_eq!(c.entries().len(), 2);

    // Before any answer (a call was waiting): the call ended stopped, and the turn says so.
    let mut c = Conversation::new(Some(session()));
    c.push_user("delete it", vec![], vec![]);
    let call = ToolCallId::new();
    apply(
        &mut c,
        &[
            started(&call, "fs_delete"),
            Event::ToolCallFinished {
                images: Vec::new(),
                session: Some(session()),
                call: call.clone(),
                status: ToolStatus::Cancelled,
                output: "the turn was stopped before approval".into(),
            },
            Event::TurnCancelled { session: session() },
        ],
    );
    assert!(matches!(&c.entries()[1], Entry::Tool(t) if t.status == ToolStatus::Cancelled));
    assert_eq!(c.entries()[2], Entry::Stopped);
    assert!(!c.running());
}

#[test]
fn compaction_shows_in_the_conversation() {
    let mut c = Conversation::new(Some(session()));
    c.push_user("more", vec![], vec![]);
    let changes = c.apply(&Event::ContextCompacted {
        session: session(),
        detail: "3 older turns summarised".into(),
    });
    assert_eq!(changes, vec![Change::Added(1)]);
    assert_eq!(
        c.entries()[1],
        Entry::Compacted {
            detail: "3 older turns summarised".into()
        }
    );
}

#[test]
fn other_sessions_change_nothing() {
    let mut c = Conversation::new(Some(session()));
    let other = SessionId::from("s2");
    let m = MessageId::new();
    let changes = c.apply(&Event::TextDelta {
        session: other,
        message: m.clone(),
        delta: "not mine".into(),
    });
    assert!(changes.is_empty());
    assert!(c.entries().is_empty());
    // A conversation whose session is not created yet shows no session's events (a job's turn
    // streaming meanwhile stays out of it).
    let mut fresh = Conversation::new(None);
    fresh.push_user("hi", vec![], vec![]);
    assert!(fresh.apply(&text(&m, "a job's answer")).is_empty());
    assert_eq!(fresh.entries().len(), 1);
}

#[test]
fn live_output_keeps_its_end() {
    let mut c = Conversation::new(Some(session()));
    let call = ToolCallId::new();
    c.apply(&started(&call, "run_code"));
    let line = "é".repeat(1000) + "\n";
    for _ in 0..80 {
        c.apply(&Event::ToolOutputDelta {
            call: call.clone(),
            delta: line.clone(),
        });
    }
    let Entry::Tool(tool) = &c.entries()[0] else {
        unreachable!()
    };
    assert!(
        tool.live.len() <= LIVE_KEPT + LIVE_KEPT / 4,
        "{}",
        tool.live.len()
    );
    assert!(tool.live.ends_with(&line));
    // A forged call id changes nothing.
    assert!(
        c.apply(&Event::ToolOutputDelta {
            call: ToolCallId::from("forged"),
            delta: "x".into(),
        })
        .is_empty()
    );
}

#[test]
fn a_stored_session_reads_back_as_it_streamed() {
    let (user, answer) = (MessageId::new(), MessageId::new());
    let call = ToolCallId::new();
    let message = |id: &MessageId, role, content: &str, thinking: &str| MessageRecord {
        id: id.clone(),
        role,
        content: content.into(),
        tool_calls: vec![],
        attachments: if role == Role::User {
            ["a.txt", "b.md"]
                .map(|name| Attachment {
                    name: name.into(),
                    text: "long text".into(),
                })
                .to_vec()
        } else {
            vec![]
        },
        images: if role == Role::User {
            vec!["/tmp/p.png".into()]
        } else {
            vec![]
        },
        usage: None,
        thinking: thinking.into(),
        status: MessageStatus::Cancelled,
        created_at: chrono::Utc::now(),
    };
    let messages = [
        message(&user, Role::User, "see these", ""),
        message(&answer, Role::Assistant, "Partly", "Let me think."),
    ];
    let calls = [ToolCallRecord {
        images: Vec::new(),
        id: call.clone(),
        message: Some(answer),
        tool: "fs_read".into(),
        kind: Some(ToolKind::Files),
        arguments: "{}".into(),
        status: ToolStatus::Succeeded,
        output: "text".into(),
        log: "reading".into(),
    }];
    let c = Conversation::from_history(session(), &messages, &calls);
    assert_eq!(
        c.entries()[0],
        Entry::User {
            id: Some(user.clone()),
            text: "see these".into(),
            attachments: vec!["a.txt".into(), "b.md".into(), "an image".into()],
            images: vec!["/tmp/p.png".into()],
        }
    );
    assert!(matches!(&c.entries()[1], Entry::Thinking { text, .. } if text == "Let me think."));
    assert!(matches!(
        &c.entries()[2],
        Entry::Answer {
            state: AnswerState::Stopped,
            ..
        }
    ));
    assert!(matches!(&c.entries()[3], Entry::Tool(t) if t.live == "reading"));
    assert_eq!(c.anchor(call.as_str()), Some(3));
    assert_eq!(c.anchor(user.as_str()), Some(0));
    // Loading it through the event does the same.
    let mut loaded = Conversation::new(Some(session()));
    let changes = loaded.apply(&Event::SessionLoaded {
        session: aetheria_protocol::SessionSummary {
            id: session(),
            title: "t".into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        },
        messages: messages.to_vec(),
        tool_calls: calls.to_vec(),
    });
    assert_eq!(changes, vec![Change::Reset]);
    assert_eq!(loaded, c);
}

/// Another front end's turn (or a job's): its message shows from `TurnStarted`; a session opened
/// while that turn runs is loaded with what was said so far, and the stream goes on from there
/// with nothing twice.
#[test]
fn another_front_ends_turn_shows_and_a_session_opened_mid_turn_goes_on() {
    let mut watching = Conversation::new(Some(session()));
    let (user, answer) = (MessageId::new(), MessageId::new());
    let started = Event::TurnStarted {
        session: session(),
        user_message: user.clone(),
        text: "count for me".into(),
    };
    let changes = apply(
        &mut watching,
        &[
            started.clone(),
            text(&answer, "one "),
            text(&answer, "two "),
        ],
    );
    assert_eq!(
        changes,
        vec![Change::Added(0), Change::Added(1), Change::Updated(1)]
    );
    assert!(matches!(&watching.entries()[0],
        Entry::User { text, id: Some(id), .. } if text == "count for me" && *id == user));

    // Opened mid-turn: the engine loads it with what the turn said so far (stored or not).
    let mut opened = Conversation::new(Some(session()));
    let record = |id: &MessageId, role: Role, content: &str| MessageRecord {
        id: id.clone(),
        status: MessageStatus::Streaming,
        ..MessageRecord::new(role, content)
    };
    let summary: SessionSummary = serde_json::from_value(serde_json::json!({
        "id": session().as_str(), "title": "count for me",
        "created_at": "2026-12-06T04:00:00Z", "updated_at": "2026-12-06T04:00:00Z"
    }))
    .unwrap();
    apply(
        &mut opened,
        &[
            // What arrived before the load is replaced by it.
            text(&answer, "one "),
            Event::SessionLoaded {
                session: summary,
                messages: vec![
                    record(&user, Role::User, "count for me"),
                    record(&answer, Role::Assistant, "one two "),
                ],
                tool_calls: vec![],
            },
            // A late `TurnStarted` of a message loaded already adds nothing.
            started,
            text(&answer, "three"),
            finished(&answer),
        ],
    );
    assert_eq!(opened.entries().len(), 2, "{:?}", opened.entries());
    assert!(matches!(&opened.entries()[1],
        Entry::Answer { text, .. } if text == "one two three"));
}
