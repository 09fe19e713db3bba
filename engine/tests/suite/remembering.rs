//! Remembering through the engine API: the `remember` tool (asks first) keeps a fact that a later
//! session's context carries; the person lists, edits and deletes memories; history search finds
//! messages and tool results across sessions.

use aetheria_engine::api::{
    Command, Decision, Event, MemoryCommand, MemoryRecord, Role, SessionCommand, TurnCommand,
};
use aetheria_engine::testkit::Reply;

use super::common::{Harness, remembering_with_embeddings, turn_ended};

async fn memories(h: &mut Harness) -> Vec<MemoryRecord> {
    h.handle
        .submit(Command::Memory(MemoryCommand::List))
        .unwrap();
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
        .submit(Command::Turn(TurnCommand::Approve {
            call: call.clone(),
            decision: Decision::Allow,
            remember: false,
            scope: None,
        }))
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
        .submit(Command::Memory(MemoryCommand::Update {
            id: listed[0].id.clone(),
            text: "The person's cat is called Mochi.".into(),
            tags: vec![],
        }))
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
    let error = h
        .refused(Command::Memory(MemoryCommand::Update {
            id: listed[0].id.clone(),
            text: "  ".into(),
            tags: vec![],
        }))
        .await;
    assert!(error.message.contains("cannot be empty"), "{error:?}");
    h.handle
        .submit(Command::Memory(MemoryCommand::Delete {
            id: listed[0].id.clone(),
        }))
        .unwrap();
    h.until(|e| matches!(e, Event::MemoryDeleted { .. })).await;
    assert!(memories(&mut h).await.is_empty());
    let error = h
        .refused(Command::Memory(MemoryCommand::Delete {
            id: listed[0].id.clone(),
        }))
        .await;
    assert!(error.message.contains("no memory"), "{error:?}");
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
        .submit(Command::Session(SessionCommand::Search {
            query: "Lisbon river".into(),
            limit: None,
        }))
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
        .submit(Command::Session(SessionCommand::Search {
            query: "release".into(),
            limit: Some(5),
        }))
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

/// A loopback embeddings endpoint in OpenAI's wire format whose vectors follow meaning a little:
/// words of one concept (cat, feline, kitty…) share a dimension.
async fn embeddings_server(
    seen: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/v1/embeddings",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                let body: serde_json::Value = serde_json::from_str(&body).unwrap();
                seen.lock().unwrap().push(body.clone());
                let concept = |w: &str| match w {
                    "cat" | "cats" | "feline" | "kitty" | "kitten" => Some(0),
                    "rust" | "cargo" | "crate" => Some(1),
                    "editor" | "ide" | "helix" => Some(2),
                    "name" | "called" => Some(3),
                    _ => None,
                };
                let inputs = body["input"].as_array().cloned().unwrap_or_default();
                let data: Vec<serde_json::Value> = inputs
                    .iter()
                    .enumerate()
                    .map(|(i, text)| {
                        let mut v = [0.01f32; 8];
                        for w in text
                            .as_str()
                            .unwrap_or("")
                            .to_lowercase()
                            .split(|c: char| !c.is_alphanumeric())
                        {
                            if let Some(d) = concept(w.trim_end_matches("'s")) {
                                v[d] += 1.0;
                            }
                        }
                        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                        let v: Vec<f32> = v.iter().map(|x| x / norm).collect();
                        serde_json::json!({"object": "embedding", "index": i, "embedding": v})
                    })
                    .collect();
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    serde_json::json!({
                        "object": "list", "data": data, "model": "loop-embed",
                        "usage": {"prompt_tokens": 3, "total_tokens": 3}
                    })
                    .to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn with_embeddings_recall_finds_memories_by_meaning() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let base = embeddings_server(seen.clone()).await;
    let cat = serde_json::json!({"text": "The person's cat is called Miso."}).to_string();
    let rust = serde_json::json!({"text": "Their main project is written in Rust."}).to_string();
    let recall = serde_json::json!({"query": "feline"}).to_string();
    let mut h = Harness::start_with(
        vec![
            Reply::tool_calls(&[("r1", "remember", &cat), ("r2", "remember", &rust)], 5),
            Reply::text(&["Noted."]),
            Reply::tool_calls(&[("c1", "recall", &recall)], 5),
            Reply::text(&["Miso."]),
        ],
        move |c| remembering_with_embeddings(c, base, "loop-embed", None),
    )
    .await;
    let session = h.new_session().await;
    h.turn(&session, "Remember my cat Miso and that I work in Rust")
        .await;
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|b| b["model"] == "loop-embed")
    );
    // "feline" shares no word with the memory: only its meaning finds it, and the Rust fact,
    // unrelated, is left out.
    let events = h.turn(&session, "What is my feline called?").await;
    let output = events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::ToolCallFinished { output, .. } => Some(output.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        output.starts_with("- The person's cat is called Miso."),
        "{output}"
    );
    assert!(!output.contains("Rust"), "{output}");
    // The same question's turn carried the memory in its context, by meaning too.
    let system = h.server.requests()[2]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.contains("Miso"), "{system}");
}

/// The embeddings endpoint is asked for a message's vector only when there are memories: a
/// person who keeps none waits for no embeddings request at each turn.
#[tokio::test]
async fn no_embedding_is_asked_for_while_nothing_is_remembered() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let base = embeddings_server(seen.clone()).await;
    let cat = serde_json::json!({"text": "The person's cat is called Miso."}).to_string();
    let mut h = Harness::start_with(
        vec![
            Reply::text(&["Hello."]),
            Reply::tool_calls(&[("r1", "remember", &cat)], 5),
            Reply::text(&["Noted."]),
            Reply::text(&["Miso."]),
        ],
        move |c| remembering_with_embeddings(c, base, "loop-embed", None),
    )
    .await;
    let inputs = || -> Vec<String> {
        seen.lock()
            .unwrap()
            .iter()
            .flat_map(|b| b["input"].as_array().cloned().unwrap_or_default())
            .map(|i| i.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let session = h.new_session().await;
    let events = h.turn(&session, "Hello there").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(inputs(), Vec::<String>::new(), "nothing is remembered yet");
    // The memory gets its vector; the message that asked for it was sent while there was none.
    h.turn(&session, "Remember my cat Miso").await;
    assert_eq!(inputs(), ["The person's cat is called Miso."]);
    // Now a message's meaning can find it.
    let events = h.turn(&session, "What is my feline called?").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(
        inputs(),
        [
            "The person's cat is called Miso.",
            "What is my feline called?"
        ]
    );
    let system = h.server.requests()[3]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.contains("Miso"), "{system}");
}
