//! Turns over the Anthropic Messages wire against a loopback server that replays Anthropic's
//! documented stream format: text, parallel tool calls with a thinking block, an `error` event
//! mid-answer, a cut stream and a refused key.

use aetheria_engine::api::{ErrorKind, Event, MessageId, ToolStatus};
use aetheria_engine::config::Wire;
use aetheria_engine::testkit::{Reply, anthropic};

use super::common::{Harness, streamed_text};

async fn start(replies: Vec<Reply>) -> Harness {
    Harness::start_with(replies, |config| {
        if let Some(p) = config.providers.first_mut() {
            p.wire = Wire::Anthropic;
        }
    })
    .await
}

#[tokio::test]
async fn text_streams_with_the_system_prompt_apart() {
    let mut h = start(vec![anthropic::text(&["Hello", " from", " Claude"])]).await;
    let session = h.new_session().await;
    let events = h.turn(&session, "hi").await;
    assert_eq!(streamed_text(&events), "Hello from Claude");
    let Some(Event::TurnFinished {
        usage,
        finish_reason,
        ..
    }) = events.last()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*finish_reason, aetheria_engine::api::FinishReason::Stop);
    assert_eq!((usage.input_tokens, usage.output_tokens), (21, 3));

    let body = &h.server.requests()[0];
    assert!(body["system"].as_str().unwrap().len() > 20, "{body}");
    assert_eq!(body["max_tokens"], 8192);
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(body["messages"][0]["content"][0]["text"], "hi");
    let tools = body["tools"].as_array().unwrap();
    assert!(
        tools
            .iter()
            .any(|t| t["name"] == "fs_read" && t["input_schema"]["type"] == "object")
    );
    assert_eq!(
        h.server.headers("anthropic-version"),
        [Some("2023-06-01".to_owned())]
    );
}

#[tokio::test]
async fn parallel_tool_calls_round_trip_and_thinking_is_not_the_answer() {
    let mut h = start(vec![
        anthropic::tool_calls(
            &[
                ("toolu_a", "fs_list", "{}"),
                ("toolu_b", "fs_read", r#"{"path": "notes.txt"}"#),
            ],
            4,
        ),
        anthropic::text(&["Two files."]),
    ])
    .await;
    std::fs::write(h.workspace.join("notes.txt"), "remember the milk").unwrap();
    let session = h.new_session().await;
    let events = h.turn(&session, "look around").await;
    assert!(
        !streamed_text(&events).contains("The person wants files"),
        "thinking leaked"
    );
    // The reasoning is its own event, tied to the assistant message, and kept with it.
    let thinking: Vec<(&MessageId, &str)> = events
        .iter()
        .filter_map(|e| match e {
            Event::ThinkingDelta { message, delta, .. } => Some((message, delta.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(thinking.len(), 1, "{events:?}");
    assert_eq!(thinking[0].1, "The person wants files.");
    let thinking_message = thinking[0].0.clone();
    let finished: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ToolCallFinished {
                call,
                status,
                output,
                ..
            } => Some((call.to_string(), *status, output.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 2, "{events:?}");
    assert!(
        finished.iter().all(|(_, s, _)| *s == ToolStatus::Succeeded),
        "{finished:?}"
    );
    assert!(
        finished
            .iter()
            .any(|(id, _, out)| id != "toolu_b" && out.contains("remember the milk"))
    );
    assert_eq!(streamed_text(&events), "Two files.");

    // The second request carries the calls as tool_use blocks and their results as one user turn.
    let body = &h.server.requests()[1];
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"], "{body}");
    let uses: Vec<&str> = messages[1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(uses, ["toolu_a", "toolu_b"]);
    assert_eq!(messages[1]["content"][1]["input"]["path"], "notes.txt");
    let results: Vec<&str> = messages[2]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["tool_use_id"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["toolu_a", "toolu_b"]);
    // Never sent back as answer text.
    assert!(
        !body.to_string().contains("The person wants files"),
        "{body}"
    );

    let messages = h.messages(&session).await;
    let stored = messages
        .iter()
        .find(|m| m.id == thinking_message)
        .expect("the message of the thinking");
    assert_eq!(stored.thinking, "The person wants files.");
    assert!(stored.content.is_empty());
}

#[tokio::test]
async fn an_error_event_mid_answer_fails_the_turn_and_keeps_the_text() {
    let mut h = start(vec![anthropic::error_midway(
        &["Partial", " answer"],
        "overloaded_error",
        "Overloaded",
    )])
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "go").await;
    assert_eq!(streamed_text(&events), "Partial answer");
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert!(
        error.message.contains("overloaded_error") && error.message.contains("Overloaded"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_cut_stream_and_a_refused_key_say_what_happened() {
    let mut h = start(vec![
        anthropic::text(&["never", " finished"]).cut_after(4),
        anthropic::http_error(401, "authentication_error", "invalid x-api-key"),
    ])
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "one").await;
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert!(
        error.message.contains("partial answer is kept"),
        "{error:?}"
    );
    let events = h.turn(&session, "two").await;
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(
        error.message.contains("invalid x-api-key") && error.message.contains("aetheria auth set"),
        "{error:?}"
    );
}
