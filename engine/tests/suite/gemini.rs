//! Turns over the Gemini wire against a loopback server that replays Gemini's documented stream
//! format: text with the system prompt as `systemInstruction`, parallel function calls with a
//! thought summary, and a stream that ends without a finish reason.

use aetheria_engine::api::{Event, ToolStatus};
use aetheria_engine::config::Wire;
use aetheria_engine::testkit::{Reply, gemini};

use super::common::{Harness, streamed_text};

async fn start(replies: Vec<Reply>) -> Harness {
    Harness::start_with(replies, |config| {
        if let Some(p) = config.providers.first_mut() {
            p.wire = Wire::Gemini;
        }
    })
    .await
}

#[tokio::test]
async fn text_streams_and_the_request_has_gemini_shape() {
    let mut h = start(vec![gemini::text(&["Hello", " from", " Gemini"])]).await;
    let session = h.new_session().await;
    let events = h.turn(&session, "hi").await;
    assert_eq!(streamed_text(&events), "Hello from Gemini");
    let Some(Event::TurnFinished {
        usage,
        finish_reason,
        ..
    }) = events.last()
    else {
        panic!("{events:?}")
    };
    assert_eq!(*finish_reason, aetheria_engine::api::FinishReason::Stop);
    assert_eq!(
        (
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.output_tokens
        ),
        (17, 9, 4)
    );
    let body = &h.server.requests()[0];
    assert!(
        body["systemInstruction"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .len()
            > 20
    );
    assert_eq!(body["contents"][0]["role"], "user");
    assert_eq!(body["contents"][0]["parts"][0]["text"], "hi");
    let declarations = body["tools"][0]["functionDeclarations"].as_array().unwrap();
    assert!(
        declarations
            .iter()
            .any(|d| d["name"] == "fs_read" && d["parametersJsonSchema"]["type"] == "object"),
        "{body}"
    );
}

#[tokio::test]
async fn parallel_function_calls_round_trip_with_their_names() {
    let mut h = start(vec![
        gemini::tool_calls(&[
            ("c-list", "fs_list", "{}"),
            ("c-read", "fs_read", r#"{"path": "todo.md"}"#),
        ]),
        gemini::text(&["Done."]),
    ])
    .await;
    std::fs::write(h.workspace.join("todo.md"), "- ship it").unwrap();
    let session = h.new_session().await;
    let events = h.turn(&session, "what is left?").await;
    assert_eq!(
        streamed_text(&events),
        "Done.",
        "the thought summary is not the answer"
    );
    let thoughts: String = events
        .iter()
        .filter_map(|e| match e {
            Event::ThinkingDelta { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        thoughts, "Listing first.",
        "the thought summary is shown apart"
    );
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
    assert!(finished.iter().all(|(_, s, _)| *s == ToolStatus::Succeeded));
    assert!(
        finished
            .iter()
            .any(|(id, _, out)| id != "c-read" && out.contains("ship it"))
    );
    let body = &h.server.requests()[1];
    let contents = body["contents"].as_array().unwrap();
    let roles: Vec<&str> = contents
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "model", "user"], "{body}");
    let responses: Vec<(&str, &str)> = contents[2]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["functionResponse"]["id"].as_str().unwrap(),
                p["functionResponse"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(responses, [("c-list", "fs_list"), ("c-read", "fs_read")]);
    assert!(h.server.requests()[0]["contents"].as_array().unwrap().len() == 1);
}

#[tokio::test]
async fn a_stream_without_a_finish_reason_fails_and_keeps_the_text() {
    let Reply::Stream { mut events, .. } = gemini::text(&["Half", " an answer", "."]) else {
        unreachable!()
    };
    events.pop();
    let mut h = start(vec![Reply::stream(events)]).await;
    let session = h.new_session().await;
    let events = h.turn(&session, "go").await;
    assert_eq!(streamed_text(&events), "Half an answer");
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert!(
        error.message.contains("ended before it was complete"),
        "{error:?}"
    );
}
