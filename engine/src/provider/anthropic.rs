//! The Anthropic Messages wire: the system prompt apart, content blocks (text, `tool_use`,
//! `tool_result`), and SSE events — `message_start`, `content_block_start/delta/stop` (text,
//! `input_json_delta` for tool input, thinking), `message_delta` with the stop reason and usage,
//! `message_stop`, `ping` and `error`. Built from Anthropic's public API reference.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::http::{self, Out, Tx};
use super::sse::Flow;
use super::{
    ChatMessage, EventStream, ModelClient, ProviderError, Request, ResponseEvent, TaskStream,
};
use crate::api::{ToolCallId, ToolCallRequest, Usage};
use crate::config::ProviderConfig;

/// The API version this client speaks.
const API_VERSION: &str = "2023-06-01";
/// Most tokens an answer may have (the API requires a bound).
const MAX_TOKENS: u32 = 8192;

#[derive(Debug)]
pub(crate) struct AnthropicClient {
    config: ProviderConfig,
    key: Option<String>,
    http: reqwest::Client,
}

impl AnthropicClient {
    pub(crate) fn new(config: ProviderConfig, key: Option<String>) -> Result<Self, ProviderError> {
        Ok(Self {
            config,
            key,
            http: http::http_client()?,
        })
    }

    fn body(&self, request: &Request) -> Value {
        let mut body = json!({
            "model": self.config.model,
            "max_tokens": MAX_TOKENS,
            "messages": wire_messages(&request.messages),
            "stream": true,
        });
        if let Some(system) = http::system_prompt(&request.messages) {
            body["system"] = json!(system);
        }
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "description": t.description,
                        "input_schema": t.parameters,
                    })
                })
                .collect();
        }
        body
    }
}

/// The conversation as Anthropic wants it: roles alternate, so consecutive user-side messages (tool
/// results, then the person's next words) merge into one message of several blocks.
fn wire_messages(messages: &[ChatMessage]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut push = |role: &str, blocks: Vec<Value>| {
        if let Some(last) = out.last_mut()
            && last["role"] == role
            && let Some(content) = last["content"].as_array_mut()
        {
            content.extend(blocks);
            return;
        }
        out.push(json!({ "role": role, "content": blocks }));
    };
    for message in messages {
        match message {
            ChatMessage::System(_) => {}
            ChatMessage::User(text) => push("user", vec![json!({ "type": "text", "text": text })]),
            ChatMessage::Image { media_type, data } => push(
                "user",
                vec![
                    json!({ "type": "image", "source": { "type": "base64", "media_type": media_type, "data": data } }),
                ],
            ),
            ChatMessage::Assistant {
                content,
                tool_calls,
            } => {
                let mut blocks = Vec::new();
                if !content.is_empty() {
                    blocks.push(json!({ "type": "text", "text": content }));
                }
                for call in tool_calls {
                    // Arguments that were not valid JSON were answered with an error; send an
                    // empty input so the history stays acceptable.
                    let input = serde_json::from_str::<Value>(&call.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    blocks.push(json!({
                        "type": "tool_use", "id": call.id, "name": call.name, "input": input,
                    }));
                }
                if !blocks.is_empty() {
                    push("assistant", blocks);
                }
            }
            ChatMessage::Tool { call_id, content } => push(
                "user",
                vec![json!({ "type": "tool_result", "tool_use_id": call_id, "content": content })],
            ),
        }
    }
    out
}

impl ModelClient for AnthropicClient {
    fn stream(&self, request: Request) -> EventStream {
        let url = format!("{}/messages", self.config.base_url.trim_end_matches('/'));
        let mut builder = self
            .http
            .post(&url)
            .header("anthropic-version", API_VERSION)
            .json(&self.body(&request));
        if let Some(key) = &self.key {
            builder = builder.header("x-api-key", key);
        }
        let config = self.config.clone();
        let has_key = self.key.is_some();
        Box::pin(TaskStream::network(move |tx| async move {
            if let Err(e) = run(builder, &config, has_key, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        }))
    }
}

/// A content block as it streams in.
enum Block {
    Text,
    Tool {
        id: String,
        name: String,
        input: String,
    },
    Other,
}

async fn run(
    builder: reqwest::RequestBuilder,
    config: &ProviderConfig,
    has_key: bool,
    tx: &Tx,
) -> Result<(), ProviderError> {
    let response = http::open(builder, config, has_key).await?;
    http::batched(response, config, tx, read).await
}

async fn read(
    response: reqwest::Response,
    config: &ProviderConfig,
    out: &mut Out<'_>,
) -> Result<(), ProviderError> {
    let name = &config.name;
    let mut blocks: BTreeMap<u64, Block> = BTreeMap::new();
    let mut usage = Usage::default();
    let mut stop: Option<String> = None;
    let mut stopped = false;
    http::each_event(response, config, out, |data, out| {
        let v = http::json(name, data)?;
        let kind = v["type"].as_str().unwrap_or_default();
        match kind {
            "message_start" => {
                let u = &v["message"]["usage"];
                usage.input_tokens = u["input_tokens"].as_u64().unwrap_or(0)
                    + u["cache_read_input_tokens"].as_u64().unwrap_or(0)
                    + u["cache_creation_input_tokens"].as_u64().unwrap_or(0);
                usage.output_tokens = u["output_tokens"].as_u64().unwrap_or(0);
                usage.cached_input_tokens = u["cache_read_input_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_start" => {
                let index = v["index"].as_u64().unwrap_or(blocks.len() as u64);
                let block = &v["content_block"];
                let entry = match block["type"].as_str() {
                    Some("text") => {
                        if let Some(text) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.text(text);
                        }
                        Block::Text
                    }
                    Some("tool_use") => Block::Tool {
                        id: block["id"].as_str().unwrap_or_default().to_owned(),
                        name: block["name"].as_str().unwrap_or_default().to_owned(),
                        input: String::new(),
                    },
                    Some("thinking") => {
                        if let Some(text) = block["thinking"].as_str().filter(|t| !t.is_empty()) {
                            out.thinking(text);
                        }
                        Block::Other
                    }
                    // Redacted thinking and other blocks are not part of the answer.
                    _ => Block::Other,
                };
                blocks.insert(index, entry);
            }
            "content_block_delta" => {
                let index = v["index"].as_u64().unwrap_or(0);
                let delta = &v["delta"];
                match (delta["type"].as_str(), blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => {
                        if let Some(text) = delta["text"].as_str().filter(|t| !t.is_empty()) {
                            out.text(text);
                        }
                    }
                    (Some("thinking_delta"), _) => {
                        if let Some(text) = delta["thinking"].as_str().filter(|t| !t.is_empty()) {
                            out.thinking(text);
                        }
                    }
                    (Some("input_json_delta"), Some(Block::Tool { input, .. })) => {
                        let piece = delta["partial_json"].as_str().unwrap_or_default();
                        if input.len() + piece.len() > super::bounded::MAX_ANSWER {
                            return Err(super::bounded::too_large(name));
                        }
                        input.push_str(piece);
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(reason) = v["delta"]["stop_reason"].as_str() {
                    stop = Some(reason.to_owned());
                }
                if let Some(n) = v["usage"]["output_tokens"].as_u64() {
                    usage.output_tokens = n;
                }
            }
            "message_stop" => {
                stopped = true;
                return Ok(Flow::Break(()));
            }
            "error" => {
                let message = v["error"]["message"].as_str().unwrap_or("unknown error");
                let what = v["error"]["type"].as_str().unwrap_or("error");
                return Err(ProviderError::Stream(format!(
                    "provider {name:?} reported {what} mid-answer: {message}; the partial answer is kept"
                )));
            }
            // `ping`, `content_block_stop` and future events need nothing.
            _ => {}
        }
        Ok(Flow::Continue(()))
    })
    .await?;
    if !stopped {
        return Err(ProviderError::Stream(format!(
            "the answer from provider {name:?} ended before it was complete (no message_stop); the partial answer is kept"
        )));
    }
    out.send(ResponseEvent::Usage(usage)).await?;
    for block in blocks.into_values() {
        if let Block::Tool { id, name, input } = block {
            let id = if id.is_empty() {
                format!("toolu_{}", uuid::Uuid::now_v7().simple())
            } else {
                id
            };
            let arguments = if input.trim().is_empty() {
                "{}".to_owned()
            } else {
                input
            };
            out.send(ResponseEvent::ToolCall(ToolCallRequest {
                id: ToolCallId(id),
                wire_id: None,
                name,
                arguments,
            }))
            .await?;
        }
    }
    // The engine speaks OpenAI's finish words.
    let reason = match stop.as_deref() {
        Some("end_turn" | "stop_sequence") | None => "stop",
        Some("tool_use") => "tool_calls",
        Some("max_tokens") => "length",
        Some(other) => other,
    };
    out.send(ResponseEvent::Finished {
        reason: reason.to_owned(),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn an_image_is_a_base64_block_of_the_user_turn() {
        let wire = wire_messages(&[
            ChatMessage::User("what is it?".into()),
            ChatMessage::Image {
                media_type: "image/png".into(),
                data: "iVBO".into(),
            },
        ]);
        assert_eq!(wire.len(), 1);
        assert_eq!(wire[0]["content"][0]["text"], "what is it?");
        let image = &wire[0]["content"][1];
        assert_eq!(image["type"], "image");
        assert_eq!(image["source"]["type"], "base64");
        assert_eq!(image["source"]["media_type"], "image/png");
        assert_eq!(image["source"]["data"], "iVBO");
    }

    #[test]
    fn history_alternates_and_tool_results_are_user_blocks() {
        let call = |id: &str| ToolCallRequest {
            id: ToolCallId::from(id),
            wire_id: None,
            name: "fs_read".into(),
            arguments: r#"{"path":"a"}"#.into(),
        };
        let messages = vec![
            ChatMessage::System("be brief".into()),
            ChatMessage::User("read a and b".into()),
            ChatMessage::Assistant {
                content: "Reading.".into(),
                tool_calls: vec![call("t1"), call("t2")],
            },
            ChatMessage::Tool {
                call_id: ToolCallId::from("t1"),
                content: "A".into(),
            },
            ChatMessage::Tool {
                call_id: ToolCallId::from("t2"),
                content: "B".into(),
            },
            ChatMessage::User("thanks".into()),
        ];
        let wire = wire_messages(&messages);
        let roles: Vec<&str> = wire.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(wire[1]["content"][1]["type"], "tool_use");
        assert_eq!(wire[1]["content"][1]["input"], json!({"path": "a"}));
        let results = wire[2]["content"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["tool_use_id"], "t1");
        assert_eq!(results[1]["tool_use_id"], "t2");
        assert_eq!(results[2]["text"], "thanks");
    }

    /// The key goes in `x-api-key` (never as a bearer token), with the API version.
    #[cfg(feature = "testkit")]
    #[tokio::test]
    async fn the_key_travels_as_x_api_key() {
        use crate::testkit::{ScriptedServer, anthropic};
        let server = ScriptedServer::start(vec![anthropic::text(&["ok"])])
            .await
            .unwrap();
        let config = ProviderConfig {
            name: "claude".into(),
            wire: crate::config::Wire::Anthropic,
            base_url: server.base_url(),
            model: "claude-test".into(),
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        };
        let client = AnthropicClient::new(config, Some("sk-ant-test".into())).unwrap();
        let request = Request {
            messages: vec![ChatMessage::User("hi".into())],
            tools: vec![],
        };
        let events: Vec<_> = client.stream(request).collect().await;
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Ok(ResponseEvent::TextDelta(t)) if t == "ok"))
        );
        assert_eq!(
            server.headers("x-api-key"),
            [Some("sk-ant-test".to_owned())]
        );
        assert_eq!(server.authorizations(), [None]);
        assert_eq!(server.requests()[0]["model"], "claude-test");
    }

    /// Anthropic's stream with CRLF line ends and a thinking block, cut at 200 random places sets
    /// (and once into single bytes), parses to the same events every time.
    #[cfg(feature = "testkit")]
    #[tokio::test]
    async fn any_chunking_gives_the_same_events() {
        use crate::testkit::{Reply, ScriptedServer, anthropic, random_cuttings};
        const CASES: usize = 200;
        let Reply::Stream { events, .. } =
            anthropic::tool_calls(&[("toolu_1", "fs_read", r#"{"path": "é.txt"}"#)], 3)
        else {
            unreachable!()
        };
        let mut text = String::new();
        for event in events {
            text.push_str(&event.replace('\n', "\r\n"));
            text.push_str("\r\n\r\n");
        }
        let bytes = text.into_bytes();
        let mut replies = vec![Reply::Raw {
            pieces: vec![bytes.clone()],
        }];
        replies.extend(random_cuttings(&bytes, CASES, 42));
        let server = ScriptedServer::start(replies).await.unwrap();
        let config = ProviderConfig {
            name: "claude".into(),
            wire: crate::config::Wire::Anthropic,
            base_url: server.base_url(),
            model: "m".into(),
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        };
        let client = AnthropicClient::new(config, None).unwrap();
        let run = || async {
            client
                .stream(Request::default())
                .map(|e| e.unwrap())
                .collect::<Vec<_>>()
                .await
        };
        let whole = run().await;
        assert_eq!(
            whole,
            vec![
                // The reasoning is its own event, never part of the answer.
                ResponseEvent::ThinkingDelta("The person wants files.".into()),
                ResponseEvent::Usage(Usage {
                    input_tokens: 21,
                    output_tokens: 30,
                    cached_input_tokens: 5,
                    cost_micros: None
                }),
                ResponseEvent::ToolCall(ToolCallRequest {
                    id: ToolCallId::from("toolu_1"),
                    wire_id: None,
                    name: "fs_read".into(),
                    arguments: r#"{"path": "é.txt"}"#.into(),
                }),
                ResponseEvent::Finished {
                    reason: "tool_calls".into()
                },
            ]
        );
        for case in 0..CASES {
            assert_eq!(run().await, whole, "cutting #{case}");
        }
    }
}
