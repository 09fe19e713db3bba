//! The Google Gemini wire: `models/{model}:streamGenerateContent?alt=sse` with `contents` of
//! `user`/`model` turns made of parts (`text`, `functionCall`, `functionResponse`), the system prompt
//! as `systemInstruction`, tools as `functionDeclarations` with a JSON Schema, and the key in
//! `x-goog-api-key`. Built from Google's public API reference.

use serde_json::{Value, json};

use super::http::{self, Out, Tx};
use super::sse::Flow;
use super::{
    ChatMessage, EventStream, ModelClient, ProviderError, Request, ResponseEvent, TaskStream,
};
use crate::api::{ToolCallId, ToolCallRequest, Usage};
use crate::config::ProviderConfig;

#[derive(Debug)]
pub(crate) struct GeminiClient {
    config: ProviderConfig,
    key: Option<String>,
    http: reqwest::Client,
}

impl GeminiClient {
    pub(crate) fn new(config: ProviderConfig, key: Option<String>) -> Result<Self, ProviderError> {
        Ok(Self {
            config,
            key,
            http: http::http_client()?,
        })
    }

    fn body(&self, request: &Request) -> Value {
        let mut body = json!({ "contents": contents(&request.messages) });
        if let Some(system) = http::system_prompt(&request.messages) {
            body["systemInstruction"] = json!({ "parts": [{ "text": system }] });
        }
        if !request.tools.is_empty() {
            let declarations: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    json!({
                        "name": t.name,
                        "description": t.description,
                        "parametersJsonSchema": t.parameters,
                    })
                })
                .collect();
            body["tools"] = json!([{ "functionDeclarations": declarations }]);
        }
        body
    }
}

/// The conversation as Gemini wants it: `user` and `model` turns; tool results are
/// `functionResponse` parts of a user turn, named after the call they answer.
fn contents(messages: &[ChatMessage]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut names = std::collections::HashMap::new();
    let mut push = |role: &str, parts: Vec<Value>| {
        if let Some(last) = out.last_mut()
            && last["role"] == role
            && let Some(existing) = last["parts"].as_array_mut()
        {
            existing.extend(parts);
            return;
        }
        out.push(json!({ "role": role, "parts": parts }));
    };
    for message in messages {
        match message {
            ChatMessage::System(_) => {}
            ChatMessage::User(text) => push("user", vec![json!({ "text": text })]),
            ChatMessage::Image { media_type, data } => push(
                "user",
                vec![json!({ "inlineData": { "mimeType": media_type, "data": data } })],
            ),
            ChatMessage::Assistant {
                content,
                tool_calls,
            } => {
                let mut parts = Vec::new();
                if !content.is_empty() {
                    parts.push(json!({ "text": content }));
                }
                for call in tool_calls {
                    names.insert(call.id.clone(), call.name.clone());
                    let args = serde_json::from_str::<Value>(&call.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    parts.push(json!({
                        "functionCall": { "id": call.id, "name": call.name, "args": args }
                    }));
                }
                if !parts.is_empty() {
                    push("model", parts);
                }
            }
            ChatMessage::Tool { call_id, content } => {
                let name = names.get(call_id).cloned().unwrap_or_default();
                push(
                    "user",
                    vec![json!({ "functionResponse": {
                        "id": call_id, "name": name, "response": { "content": content }
                    }})],
                );
            }
        }
    }
    out
}

impl ModelClient for GeminiClient {
    fn stream(&self, request: Request) -> EventStream {
        let url = format!(
            "{}/models/{}:streamGenerateContent?alt=sse",
            self.config.base_url.trim_end_matches('/'),
            self.config.model
        );
        let mut builder = self.http.post(&url).json(&self.body(&request));
        if let Some(key) = &self.key {
            builder = builder.header("x-goog-api-key", key);
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
    let mut calls: Vec<ToolCallRequest> = Vec::new();
    let mut usage: Option<Usage> = None;
    let mut finish: Option<String> = None;
    http::each_event(response, config, out, |data, out| {
        let v = http::json(name, data)?;
        if let Some(message) = v.pointer("/error/message").and_then(Value::as_str) {
            return Err(ProviderError::Stream(format!(
                "provider {name:?} reported an error mid-answer: {message}; the partial answer is kept"
            )));
        }
        if let Some(meta) = v.get("usageMetadata") {
            usage = Some(Usage {
                input_tokens: meta["promptTokenCount"].as_u64().unwrap_or(0),
                output_tokens: meta["candidatesTokenCount"].as_u64().unwrap_or(0)
                    + meta["thoughtsTokenCount"].as_u64().unwrap_or(0),
                cached_input_tokens: meta["cachedContentTokenCount"].as_u64().unwrap_or(0),
                cost_micros: None,
            });
        }
        let Some(candidate) = v.pointer("/candidates/0") else {
            return Ok(Flow::Continue(()));
        };
        for part in candidate
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // Thought summaries are the model's reasoning, not the answer.
            if part["thought"].as_bool() == Some(true) {
                if let Some(text) = part["text"].as_str().filter(|t| !t.is_empty()) {
                    out.thinking(text);
                }
                continue;
            }
            if let Some(text) = part["text"].as_str().filter(|t| !t.is_empty()) {
                out.text(text);
            }
            if let Some(call) = part.get("functionCall") {
                let id = call["id"].as_str().filter(|id| !id.is_empty()).map_or_else(
                    || format!("call_{}", uuid::Uuid::now_v7().simple()),
                    str::to_owned,
                );
                calls.push(ToolCallRequest {
                    id: ToolCallId(id),
                    wire_id: None,
                    name: call["name"].as_str().unwrap_or_default().to_owned(),
                    arguments: call
                        .get("args")
                        .map_or_else(|| "{}".to_owned(), Value::to_string),
                });
            }
        }
        if let Some(reason) = candidate["finishReason"].as_str() {
            finish = Some(reason.to_owned());
        }
        Ok(Flow::Continue(()))
    })
    .await?;
    let Some(reason) = finish else {
        return Err(ProviderError::Stream(format!(
            "the answer from provider {name:?} ended before it was complete (no finish reason); the partial answer is kept"
        )));
    };
    if let Some(usage) = usage {
        out.send(ResponseEvent::Usage(usage)).await?;
    }
    let has_calls = !calls.is_empty();
    for call in calls {
        out.send(ResponseEvent::ToolCall(call)).await?;
    }
    // The engine speaks OpenAI's finish words.
    let reason = match reason.as_str() {
        "STOP" if has_calls => "tool_calls".to_owned(),
        "STOP" => "stop".to_owned(),
        "MAX_TOKENS" => "length".to_owned(),
        other => other.to_ascii_lowercase(),
    };
    out.send(ResponseEvent::Finished { reason }).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn an_image_is_inline_data_of_the_user_turn() {
        let wire = contents(&[
            ChatMessage::User("what is it?".into()),
            ChatMessage::Image {
                media_type: "image/jpeg".into(),
                data: "/9j/".into(),
            },
        ]);
        assert_eq!(wire.len(), 1);
        assert_eq!(wire[0]["parts"][0]["text"], "what is it?");
        assert_eq!(wire[0]["parts"][1]["inlineData"]["mimeType"], "image/jpeg");
        assert_eq!(wire[0]["parts"][1]["inlineData"]["data"], "/9j/");
    }

    #[test]
    fn tool_results_are_named_function_responses_in_user_turns() {
        let call = |id: &str, name: &str| ToolCallRequest {
            id: ToolCallId::from(id),
            wire_id: None,
            name: name.into(),
            arguments: r#"{"path":"a"}"#.into(),
        };
        let wire = contents(&[
            ChatMessage::System("be brief".into()),
            ChatMessage::User("go".into()),
            ChatMessage::Assistant {
                content: String::new(),
                tool_calls: vec![call("c1", "fs_list"), call("c2", "fs_read")],
            },
            ChatMessage::Tool {
                call_id: ToolCallId::from("c1"),
                content: "a".into(),
            },
            ChatMessage::Tool {
                call_id: ToolCallId::from("c2"),
                content: "b".into(),
            },
        ]);
        let roles: Vec<&str> = wire.iter().map(|c| c["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["user", "model", "user"]);
        assert_eq!(wire[1]["parts"][1]["functionCall"]["name"], "fs_read");
        assert_eq!(wire[1]["parts"][1]["functionCall"]["args"]["path"], "a");
        let responses = wire[2]["parts"].as_array().unwrap();
        assert_eq!(responses[0]["functionResponse"]["name"], "fs_list");
        assert_eq!(responses[1]["functionResponse"]["name"], "fs_read");
        assert_eq!(responses[1]["functionResponse"]["response"]["content"], "b");
    }

    /// The key travels in `x-goog-api-key`, the model in the path.
    #[cfg(feature = "testkit")]
    #[tokio::test]
    async fn the_key_and_model_travel_as_gemini_expects() {
        use crate::testkit::{ScriptedServer, gemini};
        let server = ScriptedServer::start(vec![gemini::text(&["ok"])])
            .await
            .unwrap();
        let config = ProviderConfig {
            name: "gemini".into(),
            wire: crate::config::Wire::Gemini,
            base_url: server.base_url(),
            model: "test-model".into(),
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        };
        let client = GeminiClient::new(config, Some("AIza-test".into())).unwrap();
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
            server.headers("x-goog-api-key"),
            [Some("AIza-test".to_owned())]
        );
        assert_eq!(server.authorizations(), [None]);
    }
}
