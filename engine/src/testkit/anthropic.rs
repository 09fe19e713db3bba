//! Scripted replies in Anthropic's Messages stream format, from its public API reference:
//! `message_start`, `content_block_start` / `content_block_delta` (`text_delta`, `input_json_delta`,
//! `thinking_delta`, `signature_delta`) / `content_block_stop`, `ping`, `message_delta` with the
//! stop reason and usage, `message_stop`, and the `error` event.

use serde_json::{Value, json};

use super::Reply;

/// One SSE frame with its event name.
#[must_use]
pub fn frame(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}")
}

fn start() -> String {
    frame(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": "msg_test", "type": "message", "role": "assistant", "content": [],
            "model": "test-model", "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 16, "cache_read_input_tokens": 5, "output_tokens": 1}
        }}),
    )
}

fn stop(reason: &str, output_tokens: u64) -> Vec<String> {
    vec![
        frame(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": null},
                    "usage": {"output_tokens": output_tokens}}),
        ),
        frame("message_stop", &json!({"type": "message_stop"})),
    ]
}

fn block_stop(index: usize) -> String {
    frame(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    )
}

fn text_block(index: usize, pieces: &[&str]) -> Vec<String> {
    let mut events = vec![frame(
        "content_block_start",
        &json!({"type": "content_block_start", "index": index,
                "content_block": {"type": "text", "text": ""}}),
    )];
    events.push(frame("ping", &json!({"type": "ping"})));
    for piece in pieces {
        events.push(frame(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": piece}}),
        ));
    }
    events.push(block_stop(index));
    events
}

/// A streamed text answer in the given pieces, ending with `end_turn`.
#[must_use]
pub fn text(pieces: &[&str]) -> Reply {
    let mut events = vec![start()];
    events.extend(text_block(0, pieces));
    events.extend(stop("end_turn", pieces.len() as u64));
    Reply::stream(events)
}

/// A thinking block, then tool calls `(id, name, input JSON)` whose input arrives in pieces of
/// `split` characters, ending with `tool_use`.
#[must_use]
pub fn tool_calls(calls: &[(&str, &str, &str)], split: usize) -> Reply {
    let mut events = vec![
        start(),
        frame(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "thinking", "thinking": ""}}),
        ),
        frame(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": "The person wants files."}}),
        ),
        frame(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "signature_delta", "signature": "c2lnbmF0dXJl"}}),
        ),
        block_stop(0),
    ];
    for (i, (id, name, input)) in calls.iter().enumerate() {
        let index = i + 1;
        events.push(frame(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        let chars: Vec<char> = input.chars().collect();
        for piece in chars.chunks(split.max(1)) {
            let piece: String = piece.iter().collect();
            events.push(frame(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(block_stop(index));
    }
    events.extend(stop("tool_use", 30));
    Reply::stream(events)
}

/// Text that starts to stream, then an `error` event (e.g. `overloaded_error`).
#[must_use]
pub fn error_midway(pieces: &[&str], kind: &str, message: &str) -> Reply {
    let mut events = vec![start()];
    let mut block = text_block(0, pieces);
    block.pop();
    events.extend(block);
    events.push(frame(
        "error",
        &json!({"type": "error", "error": {"type": kind, "message": message}}),
    ));
    Reply::stream(events)
}

/// An error status with Anthropic's error body.
#[must_use]
pub fn http_error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::Error {
        status,
        body: json!({"type": "error", "error": {"type": kind, "message": message}}).to_string(),
        retry_after: None,
    }
}
