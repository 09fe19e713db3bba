//! Context management: a conversation longer than the model's window still gets its answer — old
//! tool outputs shrink, older turns are summarised by the model, a provider's "context length"
//! refusal is met by compacting and asking again — and the stored conversation stays whole.

use aetheria_engine::api::Event;
use aetheria_engine::testkit::Reply;

use super::common::{Harness, streamed_text};

fn compacted(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ContextCompacted { detail, .. } => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

fn read_call(id: &str) -> Reply {
    Reply::tool_calls(&[(id, "fs_read", r#"{"path": "big.txt"}"#)], 50)
}

#[tokio::test]
async fn old_tool_outputs_shrink_to_fit_a_small_window() {
    let mut h = Harness::start_with(
        vec![
            read_call("c1"),
            Reply::text(&["Read it."]),
            Reply::text(&["Still here."]),
        ],
        |c| c.providers[0].context_window = Some(2_400),
    )
    .await;
    std::fs::write(h.workspace.join("big.txt"), "line of text\n".repeat(800)).unwrap();
    let session = h.new_session().await;
    // The fresh output alone is over the window: its middle is cut for that step.
    let first = h.turn(&session, "read big.txt").await;
    assert!(
        compacted(&first)
            .iter()
            .any(|n| n.contains("cut the middle")),
        "{first:?}"
    );
    let events = h.turn(&session, "and now?").await;
    assert_eq!(streamed_text(&events), "Still here.");
    let notes = compacted(&events);
    assert_eq!(notes.len(), 1, "{events:?}");
    assert!(
        notes[0].contains("shortened 1 old tool outputs"),
        "{}",
        notes[0]
    );
    let body = h.server.requests().pop().unwrap();
    let tool = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .unwrap();
    assert!(
        tool["content"]
            .as_str()
            .unwrap()
            .contains("left out to fit"),
        "{tool}"
    );
}

#[tokio::test]
async fn older_turns_are_summarised_by_the_model_and_the_answer_still_arrives() {
    let long = |tag: &str| format!("{tag}: {}", "a long note about the project. ".repeat(40));
    let mut h = Harness::start_with(
        vec![
            Reply::text(&["one."]),
            Reply::text(&["two."]),
            Reply::text(&["SUMMARY: two long notes about the project"]),
            Reply::text(&["three."]),
        ],
        |c| c.providers[0].context_window = Some(1_200),
    )
    .await;
    let session = h.new_session().await;
    h.turn(&session, &long("first")).await;
    h.turn(&session, &long("second")).await;
    let events = h.turn(&session, &long("third")).await;
    assert_eq!(streamed_text(&events), "three.", "{events:?}");
    let notes = compacted(&events);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("summarised 4 earlier messages")),
        "{notes:?}"
    );
    let bodies = h.server.requests();
    assert_eq!(bodies.len(), 4);
    let summary_request = bodies[2]["messages"][0]["content"].as_str().unwrap();
    assert!(
        summary_request.contains("compress conversations"),
        "{summary_request}"
    );
    assert!(
        bodies[2].get("tools").is_none(),
        "the summary request offers no tools"
    );
    let last = bodies[3]["messages"].to_string();
    assert!(last.contains("SUMMARY: two long notes"), "{last}");
    assert!(
        last.contains("third: ") && !last.contains("first: "),
        "{last}"
    );
    // Nothing stored was changed.
    let messages = h.messages(&session).await;
    assert_eq!(messages.len(), 6);
    assert!(messages[0].content.starts_with("first: "));
}

#[tokio::test]
async fn a_context_length_refusal_is_met_by_compacting_and_asking_again() {
    let mut h = Harness::start(vec![
        read_call("c1"),
        Reply::text(&["Read it."]),
        Reply::error(
            400,
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        ),
        Reply::text(&["Fits now."]),
    ])
    .await;
    std::fs::write(h.workspace.join("big.txt"), "line of text\n".repeat(400)).unwrap();
    let session = h.new_session().await;
    h.turn(&session, "read big.txt").await;
    let events = h.turn(&session, "summarise it").await;
    assert_eq!(streamed_text(&events), "Fits now.", "{events:?}");
    assert_eq!(compacted(&events).len(), 1, "{events:?}");
    assert!(matches!(events.last(), Some(Event::TurnFinished { .. })));
}
