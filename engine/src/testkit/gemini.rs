//! Scripted replies in Gemini's `streamGenerateContent?alt=sse` format, from Google's public API
//! reference: each event a `GenerateContentResponse` with `candidates[0].content.parts` (text,
//! thought summaries, whole `functionCall`s), a `finishReason` on the last, and `usageMetadata`.

use serde_json::{Value, json};

use super::Reply;

fn chunk(parts: &[Value], finish: Option<&str>, usage: bool) -> String {
    let mut candidate = json!({ "content": { "role": "model", "parts": parts }, "index": 0 });
    if let Some(reason) = finish {
        candidate["finishReason"] = json!(reason);
    }
    let mut response = json!({ "candidates": [candidate], "modelVersion": "test-model" });
    if usage {
        response["usageMetadata"] = json!({ "promptTokenCount": 17, "cachedContentTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 21 });
    }
    response.to_string()
}

/// A streamed text answer in the given pieces (the last carries `STOP` and usage).
#[must_use]
pub fn text(pieces: &[&str]) -> Reply {
    let last = pieces.len().saturating_sub(1);
    let events = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            chunk(
                &[json!({ "text": p })],
                (i == last).then_some("STOP"),
                i == last,
            )
        })
        .collect();
    Reply::stream(events)
}

/// A thought summary, then function calls `(id, name, args JSON)` in one event, ending with `STOP`.
#[must_use]
pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
    let thought = chunk(
        &[json!({ "text": "Listing first.", "thought": true })],
        None,
        false,
    );
    let parts: Vec<Value> = calls
        .iter()
        .map(|(id, name, args)| {
            let args: Value = serde_json::from_str(args).unwrap_or_else(|_| json!({}));
            json!({ "functionCall": { "id": id, "name": name, "args": args } })
        })
        .collect();
    Reply::stream(vec![thought, chunk(&parts, Some("STOP"), true)])
}
