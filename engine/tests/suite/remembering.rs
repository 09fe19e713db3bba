//! Remembering through the engine API: the `remember` tool (asks first) keeps a fact that a later
//! session's context carries; the person lists, edits and deletes memories; history search finds
//! messages and tool results across sessions.

use aetheria_engine::api::{Command, Decision, Event, MemoryRecord, Role};
use aetheria_engine::testkit::Reply;

use super::common::{Harness, turn_ended};

async fn memories(h: &mut Harness) -> Vec<MemoryRecord> {
    h.handle.submit(Command::ListMemories).unwrap();
    let events = h.until(|e| matches!(e, Event::Memories { .. })).await;
    let Some(Event::Memories { memories }) = events.last() else {
        unreachable!()
    };
    memories.clone()
}

#[tokio::test]
async fn a_remembered_fact_reaches_a_later_session_and_the_person_can_edit_it() {
    let remember =
        serde_json::json!({"text": "The person's cat is called Miso.", "tags": ["pets"]})
            .to_string();
    let mut h = Harness::start(vec![
        Reply::tool_calls(&[("r1", "remember", &remember)], 5),
        Reply::text(&["Noted: Miso."]),
        Reply::text(&["Your cat is Miso."]),
        Reply::text(&["Mochi it is."]),
    ])
    .await;
    let first = h.new_session().await;
    h.send(&first, "My cat is called Miso, please remember that");
    let events = h
        .until(|e| matches!(e, Event::ApprovalRequested { .. }))
        .await;
    let Some(Event::ApprovalRequested { call, tool, .. }) = events.last() else {
        unreachable!()
    };
    assert_eq!(tool, "remember");
    h.handle
        .submit(Command::Approve {
            call: call.clone(),
            decision: Decision::Allow,
            remember: false,
            scope: None,
        })
        .unwrap();
    let events = h.until(turn_ended).await;
    let stored = events.iter().find_map(|e| match e {
        Event::MemoryUpdated { memory } => Some(memory.clone()),
        _ => None,
    });
    let stored = stored.expect("the front end hears of the new memory");
    assert_eq!(
        (stored.text.as_str(), stored.tags.clone()),
        ("The person's cat is called Miso.", vec!["pets".to_owned()])
    );
    assert_eq!(stored.session.as_ref(), Some(&first));

    // A new session: the question shares words with the memory, so the context carries it.
    let second = h.new_session().await;
    h.turn(&second, "What is my cat called?").await;
    let system = h.server.requests()[2]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system.contains("From earlier conversations you remember")
            && system.contains("- The person's cat is called Miso."),
        "{system}"
    );

    // The person edits it; the next turn sees the new text. Then deletes it.
    let listed = memories(&mut h).await;
    assert_eq!(listed.len(), 1);
    h.handle
        .submit(Command::UpdateMemory {
            id: listed[0].id.clone(),
            text: "The person's cat is called Mochi.".into(),
            tags: vec![],
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::MemoryUpdated { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::MemoryUpdated { memory }) if memory.text.ends_with("Mochi."))
    );
    h.turn(&second, "Sorry, my cat is called what again?").await;
    let system = h.server.requests()[3]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system.contains("Mochi") && !system.contains("Miso"),
        "{system}"
    );
    h.handle
        .submit(Command::UpdateMemory {
            id: listed[0].id.clone(),
            text: "  ".into(),
            tags: vec![],
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(format!("{:?}", events.last()).contains("cannot be empty"));
    h.handle
        .submit(Command::DeleteMemory {
            id: listed[0].id.clone(),
        })
        .unwrap();
    h.until(|e| matches!(e, Event::MemoryDeleted { .. })).await;
    assert!(memories(&mut h).await.is_empty());
    h.handle
        .submit(Command::DeleteMemory {
            id: listed[0].id.clone(),
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(format!("{:?}", events.last()).contains("no memory"));
}

#[tokio::test]
async fn a_secret_is_not_remembered() {
    let remember = serde_json::json!({"text": "Their GitHub token is ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"}).to_string();
    let mut h = Harness::start_with(
        vec![
            Reply::tool_calls(&[("r1", "remember", &remember)], 5),
            Reply::text(&["I will not keep that."]),
        ],
        |c| {
            c.tools
                .policy
                .insert("remember".into(), aetheria_engine::api::Policy::Allow);
        },
    )
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "remember my token").await;
    let output = events.iter().find_map(|e| match e {
        Event::ToolCallFinished { output, .. } => Some(output.clone()),
        _ => None,
    });
    assert!(output.unwrap().contains("looks like a secret"));
    assert!(memories(&mut h).await.is_empty());
}

#[tokio::test]
async fn history_search_finds_messages_across_sessions() {
    let mut h = Harness::start(vec![
        Reply::text(&["The Tagus flows through Lisbon."]),
        Reply::text(&["Use cargo build --release."]),
    ])
    .await;
    let trip = h.new_session().await;
    h.turn(&trip, "Which river flows through Lisbon?").await;
    let code = h.new_session().await;
    h.turn(&code, "How do I build a release binary?").await;
    h.handle
        .submit(Command::SearchHistory {
            query: "Lisbon river".into(),
            limit: None,
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SearchResults { .. })).await;
    let Some(Event::SearchResults { query, hits }) = events.last() else {
        unreachable!()
    };
    assert_eq!(query, "Lisbon river");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits.iter()
            .all(|h| h.session == trip && h.session_title == "Which river flows through Lisbon?"),
        "{hits:?}"
    );
    assert!(
        hits.iter()
            .any(|h| h.role == Some(Role::Assistant) && h.snippet.contains("«Lisbon»")),
        "{hits:?}"
    );
    h.handle
        .submit(Command::SearchHistory {
            query: "release".into(),
            limit: Some(5),
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SearchResults { .. })).await;
    let Some(Event::SearchResults { hits, .. }) = events.last() else {
        unreachable!()
    };
    assert!(
        !hits.is_empty() && hits.iter().all(|h| h.session == code),
        "{hits:?}"
    );
}
