//! Streamed turns: text, tool calls split over chunks, parallel calls, errors, cuts, cancel.

use std::time::Duration;

use aetheria_engine::api::{
    Command, ErrorKind, Event, MessageStatus, Role, ToolStatus, TurnCommand,
};
use aetheria_engine::testkit::{Reply, text_chunk};

use super::common::{Harness, roles, streamed_text};

#[tokio::test]
async fn text_answer_streams_is_stored_and_titles_the_session() {
    let mut h = Harness::start(vec![Reply::text(&["Hel", "lo, ", "world", " ✓"])]).await;
    let session = h.new_session().await;
    let events = h.turn(&session, "Say hello to the world please").await;

    assert!(
        matches!(events.first(), Some(Event::TurnStarted { .. })),
        "{events:?}"
    );
    assert_eq!(streamed_text(&events), "Hello, world ✓");
    let Some(Event::TurnFinished {
        usage,
        message,
        finish_reason,
        ..
    }) = events.last()
    else {
        panic!("no TurnFinished: {events:?}");
    };
    assert_eq!(*finish_reason, aetheria_engine::api::FinishReason::Stop);
    assert_eq!(usage.input_tokens, 12);
    assert_eq!(usage.output_tokens, 4);

    // The request carried the system prompt, the user message, the tools and streaming options.
    let requests = h.server.requests();
    let body = &requests[0];
    assert_eq!(roles(body), vec!["system", "user"]);
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true);
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tools,
        vec![
            "browser_back",
            "browser_click",
            "browser_download",
            "browser_forward",
            "browser_open",
            "browser_screenshot",
            "browser_scroll",
            "browser_select",
            "browser_snapshot",
            "browser_tabs",
            "browser_type",
            "browser_wait",
            "forget",
            "fs_delete",
            "fs_edit",
            "fs_glob",
            "fs_list",
            "fs_move",
            "fs_read",
            "fs_search",
            "fs_write",
            "recall",
            "remember",
            "run_code",
            "sandbox_network",
            "shell",
            "web_fetch",
            "web_search"
        ]
    );

    // Auto-title after the first exchange.
    let titled = h.until(|e| matches!(e, Event::SessionUpdated { .. })).await;
    let Some(Event::SessionUpdated { session: summary }) = titled.last() else {
        unreachable!()
    };
    assert_eq!(summary.title, "Say hello to the world please");

    let messages = h.messages(&session).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].role, Role::User);
    assert_eq!(messages[1].content, "Hello, world ✓");
    assert_eq!(&messages[1].id, message);
    assert_eq!(messages[1].status, MessageStatus::Complete);
}

#[tokio::test]
async fn a_tool_call_split_over_many_chunks_runs_and_its_result_goes_back() {
    let mut h = Harness::start(vec![
        Reply::tool_calls(
            &[("call_abc", "fs_read", r#"{"path": "notes/todo.md"}"#)],
            3,
        ),
        Reply::text(&["The file says: buy milk."]),
    ])
    .await;
    std::fs::create_dir_all(h.workspace.join("notes")).unwrap();
    std::fs::write(h.workspace.join("notes/todo.md"), "- buy milk\n").unwrap();
    let session = h.new_session().await;
    let events = h.turn(&session, "What is on my todo list?").await;

    let started: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::ToolCallStarted {
                tool,
                kind,
                arguments,
                call,
                ..
            } => Some((call.0.clone(), tool.clone(), *kind, arguments.clone())),
            _ => None,
        })
        .collect();
    // The engine names the call itself; the provider's id goes back only on the wire (below).
    assert_eq!(started.len(), 1, "{started:?}");
    assert_ne!(started[0].0, "call_abc");
    // The call says its tool's family, so a front end needs no list of tool names.
    assert_eq!(
        (started[0].1.as_str(), started[0].2, started[0].3.as_str()),
        (
            "fs_read",
            Some(aetheria_engine::api::ToolKind::Files),
            r#"{"path": "notes/todo.md"}"#
        )
    );
    assert!(events.iter().any(|e| matches!(e,
        Event::ToolCallFinished { status: ToolStatus::Succeeded, output, .. } if output == "- buy milk\n")));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ApprovalRequested { .. })),
        "fs_read needs no approval"
    );
    assert!(matches!(events.last(), Some(Event::TurnFinished { .. })));

    let requests = h.server.requests();
    let second = &requests[1];
    assert_eq!(roles(second), vec!["system", "user", "assistant", "tool"]);
    let messages = second["messages"].as_array().unwrap();
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_abc");
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["arguments"],
        r#"{"path": "notes/todo.md"}"#
    );
    assert_eq!(messages[3]["tool_call_id"], "call_abc");
    assert_eq!(messages[3]["content"], "- buy milk\n");
}

#[tokio::test]
async fn two_parallel_tool_calls_both_run_and_return_in_order() {
    let mut h = Harness::start(vec![
        Reply::tool_calls(
            &[
                ("call_1", "fs_list", r#"{"path": ""}"#),
                ("call_2", "fs_read", r#"{"path": "a.txt"}"#),
            ],
            4,
        ),
        Reply::text(&["done"]),
    ])
    .await;
    std::fs::write(h.workspace.join("a.txt"), "alpha").unwrap();
    let session = h.new_session().await;
    let events = h.turn(&session, "look around").await;
    let finished = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::ToolCallFinished {
                    status: ToolStatus::Succeeded,
                    ..
                }
            )
        })
        .count();
    assert_eq!(finished, 2, "{events:?}");
    let requests = h.server.requests();
    let second = &requests[1];
    let messages = second["messages"].as_array().unwrap();
    assert_eq!(
        roles(second),
        vec!["system", "user", "assistant", "tool", "tool"]
    );
    assert_eq!(messages[3]["tool_call_id"], "call_1");
    assert_eq!(messages[3]["content"], "a.txt (5 B)");
    assert_eq!(messages[4]["tool_call_id"], "call_2");
    assert_eq!(messages[4]["content"], "alpha");
}

#[tokio::test]
async fn arguments_that_are_not_json_go_back_to_the_model() {
    let mut h = Harness::start(vec![
        Reply::tool_calls(&[("call_bad", "fs_read", r#"{"path": "a.txt""#)], 5),
        Reply::tool_calls(&[("call_bad2", "no_such_tool", "{}")], 5),
        Reply::text(&["sorry"]),
    ])
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "read a.txt").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    let requests = h.server.requests();
    let tool_msg = &requests[1]["messages"].as_array().unwrap()[3];
    let content = tool_msg["content"].as_str().unwrap();
    assert!(content.contains("not valid"), "{content}");
    let tool_msg = &requests[2]["messages"].as_array().unwrap()[5];
    let content = tool_msg["content"].as_str().unwrap();
    assert!(
        content.contains("no tool named \"no_such_tool\""),
        "{content}"
    );
    // A tool there is not has no family.
    assert!(events.iter().any(|e| matches!(e,
        Event::ToolCallStarted { tool, kind: None, .. } if tool == "no_such_tool")));
}

#[tokio::test]
async fn provider_errors_become_clear_turn_failures() {
    let refusal = |status: u16, message: &str| Reply::Error {
        status,
        body: serde_json::json!({ "error": { "message": message } }).to_string(),
        retry_after: Some(0),
    };
    // (replies, kind, hint, retries): refusals that may pass are asked again three times first.
    let cases = [
        (
            vec![Reply::error(401, "Incorrect API key provided")],
            ErrorKind::Auth,
            "aetheria auth set loopback",
            0,
        ),
        (
            vec![Reply::error(404, "The model `test-model` does not exist")],
            ErrorKind::NotFound,
            "test-model",
            0,
        ),
        (
            vec![refusal(429, "Rate limit reached"); 4],
            ErrorKind::RateLimited,
            "Rate limit reached",
            3,
        ),
        (
            vec![refusal(503, "overloaded"); 4],
            ErrorKind::Unavailable,
            "try again later",
            3,
        ),
    ];
    for (replies, kind, hint, retries) in cases {
        let mut h = Harness::start(replies).await;
        let session = h.new_session().await;
        let events = h.turn(&session, "hi").await;
        let Some(Event::TurnFailed { error, .. }) = events.last() else {
            panic!("expected TurnFailed: {events:?}");
        };
        assert_eq!(error.kind, kind, "{error:?}");
        assert!(error.message.contains("\"loopback\""), "{}", error.message);
        assert!(error.message.contains(hint), "{}", error.message);
        let retried = events
            .iter()
            .filter(|e| matches!(e, Event::ProviderRetrying { .. }))
            .count();
        assert_eq!(retried, retries, "{events:?}");
        assert_eq!(h.server.requests().len(), retries + 1);
    }
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_the_server_asks() {
    let mut h = Harness::start(vec![
        Reply::Error {
            status: 429,
            body: "{\"error\":{\"message\":\"Rate limit reached\"}}".into(),
            retry_after: Some(1),
        },
        Reply::text(&["Made it."]),
    ])
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "hi").await;
    let retry = events
        .iter()
        .find_map(|e| match e {
            Event::ProviderRetrying {
                attempt,
                wait_secs,
                reason,
                ..
            } => Some((*attempt, *wait_secs, reason.clone())),
            _ => None,
        })
        .expect("a retry was announced");
    assert_eq!((retry.0, retry.1), (1, 1));
    assert!(retry.2.contains("Rate limit reached"), "{}", retry.2);
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(streamed_text(&events), "Made it.");
}

#[tokio::test]
async fn an_unreachable_provider_fails_the_turn_and_keeps_the_message() {
    let mut h = Harness::start_with(vec![], |c| {
        c.providers[0].base_url = "http://127.0.0.1:9/v1".into();
    })
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "anyone there?").await;
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(error.kind, ErrorKind::Unavailable);
    assert!(error.message.contains("cannot reach"), "{}", error.message);
    let messages = h.messages(&session).await;
    assert_eq!(messages[0].content, "anyone there?");
}

/// A turn that ends before its answer streams (here: no model to ask) keeps the person's message
/// and leaves no empty answer behind, though the answer's row was written with the message.
#[tokio::test]
async fn a_turn_without_a_model_keeps_the_message_and_no_empty_answer() {
    let mut h = Harness::start_with(vec![], |c| {
        c.providers.clear();
        c.default_provider = None;
    })
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "is anyone configured?").await;
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(error.kind, ErrorKind::Config, "{}", error.message);
    assert!(
        matches!(events.first(), Some(Event::TurnStarted { .. })),
        "{events:?}"
    );
    let messages = h.messages(&session).await;
    let stored: Vec<(Role, &str)> = messages
        .iter()
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(stored, vec![(Role::User, "is anyone configured?")]);
    assert!(h.server.requests().is_empty());
}

#[tokio::test]
async fn a_stream_cut_in_the_middle_keeps_the_partial_answer() {
    let reply = Reply::stream(vec![
        text_chunk("The first half"),
        text_chunk(" and then"),
        text_chunk(" never this"),
    ])
    .cut_after(2);
    let mut h = Harness::start(vec![reply]).await;
    let session = h.new_session().await;
    let events = h.turn(&session, "tell me a story").await;
    assert_eq!(streamed_text(&events), "The first half and then");
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(error.kind, ErrorKind::BadResponse);
    assert!(
        error.message.contains("partial answer is kept"),
        "{}",
        error.message
    );

    let messages = h.messages(&session).await;
    assert_eq!(messages[1].content, "The first half and then");
    assert_eq!(messages[1].status, MessageStatus::Failed);
}

#[tokio::test]
async fn malformed_sse_fails_the_turn_without_panicking() {
    let reply = Reply::stream(vec![
        text_chunk("ok so far"),
        "{not json".into(),
        "[DONE]".into(),
    ]);
    let mut h = Harness::start(vec![reply]).await;
    let session = h.new_session().await;
    let events = h.turn(&session, "hi").await;
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(error.kind, ErrorKind::BadResponse);
    assert!(
        error.message.contains("not valid JSON"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn cancel_stops_a_stream_within_200_ms_and_keeps_the_partial_answer() {
    let pieces: Vec<String> = (0..100).map(|i| text_chunk(&format!("w{i} "))).collect();
    let reply = Reply::stream(pieces).with_delay(Duration::from_millis(50));
    let mut h = Harness::start(vec![reply]).await;
    let session = h.new_session().await;
    h.send(&session, "talk slowly");
    h.until(|e| matches!(e, Event::TextDelta { .. })).await;
    h.until(|e| matches!(e, Event::TextDelta { .. })).await;
    h.handle
        .submit(Command::Turn(TurnCommand::Cancel {
            session: session.clone(),
        }))
        .unwrap();
    let events = h.until(super::common::turn_ended).await;
    assert!(
        matches!(events.last(), Some(Event::TurnCancelled { .. })),
        "{events:?}"
    );
    // Chunks arrive every 50 ms: at most what was in flight may follow the cancel, i.e. the stream
    // stopped within a chunk or two (well under 200 ms), not after the remaining 97 chunks.
    let late = events
        .iter()
        .filter(|e| matches!(e, Event::TextDelta { .. }))
        .count();
    assert!(late <= 2, "{late} deltas arrived after Cancel");

    let messages = h.messages(&session).await;
    assert_eq!(messages[1].status, MessageStatus::Cancelled);
    assert!(
        messages[1].content.starts_with("w0 w1 "),
        "{:?}",
        messages[1].content
    );
}

#[tokio::test]
async fn the_step_limit_ends_a_looping_turn() {
    let replies = (0..3)
        .map(|i| Reply::tool_calls(&[(&format!("call_{i}"), "fs_list", "{}")], 10))
        .collect();
    let mut h = Harness::start_with(replies, |c| c.max_steps = 2).await;
    let session = h.new_session().await;
    let events = h.turn(&session, "loop").await;
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(error.kind, ErrorKind::StepLimit);
    assert_eq!(h.server.requests().len(), 2);
}

#[tokio::test]
async fn a_server_that_will_not_stream_with_tools_is_asked_without_streaming() {
    let whole = serde_json::json!({
        "id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": "test-model",
        "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{ "id": "call_whole", "type": "function",
                             "function": { "name": "fs_list", "arguments": "{}" } }]
        }}],
        "usage": { "prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12 }
    });
    let mut h = Harness::start(vec![
        Reply::error(400, "Streaming is not supported when tools are provided"),
        Reply::Json {
            body: whole.to_string(),
        },
        Reply::text(&["Listed."]),
    ])
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "list").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ToolCallFinished {
            status: ToolStatus::Succeeded,
            ..
        }
    )));
    assert_eq!(streamed_text(&events), "Listed.");
    let bodies = h.server.requests();
    assert_eq!(bodies[0]["stream"], true);
    assert_eq!(bodies[1]["stream"], false);
    assert!(bodies[1].get("stream_options").is_none());
    assert!(bodies[1]["tools"].is_array());
}

/// A provider whose error answer never ends (a broken proxy, a hostile server) cannot hold the
/// turn or fill the memory: only the first 64 KiB of an error body are read.
#[tokio::test]
async fn an_error_body_that_never_ends_fails_the_turn_at_once() {
    let mut h = Harness::start(vec![Reply::EndlessError { status: 400 }]).await;
    let session = h.new_session().await;
    let events = h.turn(&session, "hello").await;
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert!(error.message.contains("400"), "{}", error.message);
    assert!(error.message.len() < 2000, "{}", error.message);
}

/// A provider that streams text (or one tool call's arguments) without end: the turn fails
/// with a sentence once the answer passes its limit, instead of filling the memory for ever.
#[tokio::test]
async fn an_answer_that_never_ends_is_stopped_at_its_limit() {
    use aetheria_engine::testkit::{text_chunk, tool_call_chunk};
    let piece = "x".repeat(64 * 1024);
    let mut h = Harness::start(vec![
        Reply::Endless {
            first: vec![],
            event: text_chunk(&piece),
        },
        Reply::Endless {
            first: vec![tool_call_chunk(
                0,
                Some("c1"),
                Some("fs_read"),
                "{\"path\": \"",
            )],
            event: tool_call_chunk(0, None, None, &piece),
        },
    ])
    .await;
    let session = h.new_session().await;
    for expected in ["passed 32 MiB", "tool call larger than 32 MiB"] {
        let events = h.turn(&session, "hello").await;
        let Some(Event::TurnFailed { error, .. }) = events.last() else {
            panic!("{:?}", events.last())
        };
        assert!(error.message.contains(expected), "{}", error.message);
    }
}

/// A turn's tokens and cost: priced from the config (`[prices]`), said with `TurnFinished`, kept
/// with the turn's last answer, and read back with the session (the cost is none for a model
/// whose price is not known).
#[tokio::test]
async fn a_turn_s_tokens_and_cost_are_said_and_kept_with_its_answer() {
    let mut h = Harness::start_with(
        vec![Reply::text(&["a", "b", "c", "d"]), Reply::text(&["e"])],
        |config| {
            config.prices.insert(
                "test-model".into(),
                aetheria_engine::config::Price {
                    input: 1.5,
                    output: 10.0,
                },
            );
        },
    )
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "count").await;
    let Some(Event::TurnFinished { usage, message, .. }) = events.last() else {
        panic!("no TurnFinished: {events:?}");
    };
    // 12 prompt tokens at $1.50 and 4 completion tokens at $10 per million: 58 millionths.
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.cost_micros),
        (12, 4, Some(58))
    );
    let message = message.clone();
    // Kept once the turn has ended: loading the session shows it.
    h.until(|e| matches!(e, Event::SessionUpdated { .. })).await;
    let messages = h.messages(&session).await;
    let answer = messages.iter().find(|m| m.id == message).unwrap();
    assert_eq!(answer.usage.map(|u| u.cost_micros), Some(Some(58)));
    let user = messages.iter().find(|m| m.role == Role::User).unwrap();
    assert_eq!(user.usage, None);
    // The reducer adds up the session's turns.
    let conversation = aetheria_engine::api::conversation::Conversation::from_history(
        session.clone(),
        &messages,
        &[],
    );
    let events = h.turn(&session, "once more").await;
    let Some(Event::TurnFinished { usage: second, .. }) = events.last() else {
        panic!("no TurnFinished: {events:?}");
    };
    let mut conversation = conversation;
    for event in &events {
        conversation.apply(event);
    }
    let total = conversation.total_usage().unwrap();
    assert_eq!(
        total.input_tokens,
        12 + second.input_tokens,
        "both turns: {total:?}"
    );
    assert_eq!(total.cost_micros, Some(58 + second.cost_micros.unwrap()));
}
