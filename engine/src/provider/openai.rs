//! The OpenAI-compatible Chat Completions wire (OpenAI, Groq, OpenRouter, Ollama, LM Studio,
//! llama.cpp, vLLM…): SSE streaming, tool calls assembled from incremental deltas by index,
//! usage and finish reasons.

use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;

use super::http::{self, Data, Out, Tx, send, truncate};
use super::sse::{Flow, Repeats};
use super::{
    ChatMessage, EventStream, ModelClient, ProviderError, Request, ResponseEvent, TaskStream,
};
use crate::api::{ToolCallId, ToolCallRequest, Usage};
use crate::config::ProviderConfig;

#[derive(Debug)]
pub(crate) struct OpenAiClient {
    config: ProviderConfig,
    key: Option<String>,
    http: reqwest::Client,
}

impl OpenAiClient {
    pub(crate) fn new(config: ProviderConfig, key: Option<String>) -> Result<Self, ProviderError> {
        Ok(Self {
            config,
            key,
            http: http::http_client()?,
        })
    }

    fn body(&self, request: &Request) -> Value {
        let mut messages: Vec<Value> = Vec::new();
        for message in &request.messages {
            if let ChatMessage::Image { media_type, data } = message {
                attach_image(&mut messages, media_type, data);
            } else {
                messages.push(wire_message(message));
            }
        }
        let mut body = json!({
            "model": self.config.model,
            "messages": messages,
            "stream": true,
            "stream_options": { "include_usage": true },
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    json!({
                        "type": "function",
                        "function": {
                            "name": t.name,
                            "description": t.description,
                            "parameters": t.parameters,
                        }
                    })
                })
                .collect();
        }
        body
    }
}

/// Adds an image to the last user message, whose text content becomes a list of parts.
fn attach_image(messages: &mut Vec<Value>, media_type: &str, data: &str) {
    let part = json!({ "type": "image_url", "image_url": { "url": format!("data:{media_type};base64,{data}") } });
    if let Some(last) = messages.last_mut()
        && last["role"] == "user"
    {
        if let Some(text) = last["content"].as_str().map(str::to_owned) {
            last["content"] = json!([{ "type": "text", "text": text }]);
        }
        if let Some(parts) = last["content"].as_array_mut() {
            parts.push(part);
            return;
        }
    }
    messages.push(json!({ "role": "user", "content": [part] }));
}

fn wire_message(message: &ChatMessage) -> Value {
    match message {
        ChatMessage::System(text) => json!({ "role": "system", "content": text }),
        ChatMessage::User(text) => json!({ "role": "user", "content": text }),
        ChatMessage::Assistant {
            content,
            tool_calls,
        } => {
            let mut m = json!({ "role": "assistant", "content": content });
            if !tool_calls.is_empty() {
                m["tool_calls"] = tool_calls
                    .iter()
                    .map(|c| {
                        json!({
                            "id": c.id,
                            "type": "function",
                            "function": { "name": c.name, "arguments": c.arguments },
                        })
                    })
                    .collect();
            }
            m
        }
        ChatMessage::Tool { call_id, content } => {
            json!({ "role": "tool", "tool_call_id": call_id, "content": content })
        }
        ChatMessage::Image { media_type, data } => {
            let mut one = Vec::new();
            attach_image(&mut one, media_type, data);
            one.pop().unwrap_or(Value::Null)
        }
    }
}

impl ModelClient for OpenAiClient {
    fn stream(&self, request: Request) -> EventStream {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let body = self.body(&request);
        let post = {
            let (http, key) = (self.http.clone(), self.key.clone());
            move |body: &Value| {
                let builder = http.post(&url).json(body);
                match &key {
                    Some(key) => builder.bearer_auth(key),
                    None => builder,
                }
            }
        };
        let config = self.config.clone();
        let has_key = self.key.is_some();
        let tools = !request.tools.is_empty();
        Box::pin(TaskStream::network(move |tx| async move {
            let result = match http::open(post(&body), &config, has_key).await {
                // Some servers refuse to stream when tools are offered: ask once more without.
                Err(e) if tools && refuses_streaming(&e) => {
                    let mut whole = body.clone();
                    whole["stream"] = json!(false);
                    if let Some(map) = whole.as_object_mut() {
                        map.remove("stream_options");
                    }
                    match http::open(post(&whole), &config, has_key).await {
                        Ok(response) => complete(response, &config, &tx).await,
                        Err(e) => Err(e),
                    }
                }
                Ok(response) => http::batched(response, &config, &tx, read).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                let _ = tx.send(Err(e)).await;
            }
        }))
    }
}

/// Whether a refusal says the server cannot stream this request.
fn refuses_streaming(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Http { status: 400 | 422 | 501, message, .. }
        if message.to_ascii_lowercase().contains("stream"))
}

/// A whole (non-streamed) chat completion, turned into the same events a stream gives.
async fn complete(
    response: reqwest::Response,
    config: &ProviderConfig,
    tx: &Tx,
) -> Result<(), ProviderError> {
    let name = &config.name;
    let text = super::http::whole_text(response, super::http::MAX_WHOLE_BODY, name).await?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        ProviderError::Stream(format!(
            "provider {name:?} sent an answer that is not valid JSON ({e}): {}",
            truncate(&text, 200)
        ))
    })?;
    let choice = &v["choices"][0];
    let message = &choice["message"];
    if let Some(content) = message["content"].as_str().filter(|c| !c.is_empty()) {
        send(tx, ResponseEvent::TextDelta(content.to_owned())).await?;
    }
    if let Some(usage) = v.get("usage") {
        send(
            tx,
            ResponseEvent::Usage(Usage {
                input_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
                output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
                cached_input_tokens: usage
                    .pointer("/prompt_tokens_details/cached_tokens")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
                cost_micros: None,
            }),
        )
        .await?;
    }
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let id = call["id"].as_str().filter(|id| !id.is_empty()).map_or_else(
            || format!("call_{}", uuid::Uuid::now_v7().simple()),
            str::to_owned,
        );
        send(
            tx,
            ResponseEvent::ToolCall(ToolCallRequest {
                id: ToolCallId(id),
                wire_id: None,
                name: call["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                arguments: call["function"]["arguments"]
                    .as_str()
                    .unwrap_or("{}")
                    .to_owned(),
            }),
        )
        .await?;
    }
    let reason = choice["finish_reason"]
        .as_str()
        .unwrap_or("stop")
        .to_owned();
    send(tx, ResponseEvent::Finished { reason }).await
}

async fn read(
    response: reqwest::Response,
    config: &ProviderConfig,
    out: &mut Out<'_>,
) -> Result<(), ProviderError> {
    let name = config.name.as_str();
    let mut answer = Answer::default();
    http::each_event_raw(response, config, out, |data, out| match data {
        // The usual token of a fast stream: the last chunk again with another text.
        Data::Raw(raw) => Ok(answer.repeats.raw(raw).map(|text| {
            out.text(text);
            Flow::Continue(())
        })),
        Data::Text(data) => answer.chunk(data, name, out).map(Some),
    })
    .await?;
    let Some(reason) = answer.finish else {
        return Err(ProviderError::Stream(format!(
            "the answer from provider {name:?} ended before it was complete (no finish reason); the partial answer is kept"
        )));
    };
    for (_, call) in answer.calls {
        let id = if call.id.is_empty() {
            ToolCallId(format!("call_{}", uuid::Uuid::now_v7().simple()))
        } else {
            ToolCallId(call.id)
        };
        out.send(ResponseEvent::ToolCall(ToolCallRequest {
            id,
            wire_id: None,
            name: call.name,
            arguments: call.arguments,
        }))
        .await?;
    }
    out.send(ResponseEvent::Finished { reason }).await
}

/// What an answer has said so far, chunk by chunk.
#[derive(Debug, Default)]
struct Answer {
    calls: BTreeMap<u64, PartialCall>,
    finish: Option<String>,
    repeats: Repeats,
}

impl Answer {
    /// One event's data: `[DONE]` ends the answer; a chunk's text and reasoning go out, its tool
    /// call deltas are joined by index.
    fn chunk(&mut self, data: &str, name: &str, out: &mut Out<'_>) -> Result<Flow, ProviderError> {
        if data == "[DONE]" {
            return Ok(Flow::Break(()));
        }
        if let Some(text) = self.repeats.text(data) {
            out.text(&text);
            return Ok(Flow::Continue(()));
        }
        let chunk: Chunk<'_> = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => {
                // An error object in the stream, or garbage.
                if let Ok(v) = serde_json::from_str::<Value>(data)
                    && let Some(msg) = v.pointer("/error/message").and_then(Value::as_str)
                {
                    return Err(ProviderError::Stream(format!(
                        "provider {name:?} reported an error mid-answer: {msg}"
                    )));
                }
                return Err(http::not_json(name, data, &e));
            }
        };
        // Only a text read without escapes is a slice of the chunk, whose bytes can be compared.
        match chunk.only_text() {
            Some(Cow::Borrowed(text)) => self.repeats.remember(data, text),
            _ => self.repeats.forget(),
        }
        if let Some(usage) = chunk.usage {
            out.push(ResponseEvent::Usage(Usage {
                input_tokens: usage.prompt_tokens.unwrap_or(0),
                output_tokens: usage.completion_tokens.unwrap_or(0),
                cached_input_tokens: usage
                    .prompt_tokens_details
                    .and_then(|d| d.cached_tokens)
                    .unwrap_or(0),
                cost_micros: None,
            }));
        }
        for choice in chunk.choices {
            if let Some(thought) = &choice.delta.reasoning_content {
                out.thinking(thought);
            }
            if let Some(text) = &choice.delta.content {
                out.text(text);
            }
            for delta in choice.delta.tool_calls.unwrap_or_default() {
                let index = delta.index.unwrap_or(self.calls.len() as u64);
                let call = self.calls.entry(index).or_default();
                if let Some(id) = delta.id.filter(|id| !id.is_empty())
                    && call.id.is_empty()
                {
                    call.id = id.into_owned();
                }
                if let Some(function) = delta.function {
                    if let Some(name) = function.name.filter(|n| !n.is_empty())
                        && call.name.is_empty()
                    {
                        call.name = name.into_owned();
                    }
                    if let Some(args) = function.arguments {
                        if call.arguments.len() + args.len() > super::bounded::MAX_ANSWER {
                            return Err(super::bounded::too_large(name));
                        }
                        call.arguments.push_str(&args);
                    }
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.finish = Some(reason.into_owned());
            }
        }
        Ok(Flow::Continue(()))
    }
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

// One streamed chunk. Its strings borrow from the event's bytes unless they hold escapes, so a
// text delta costs one parse and no allocation until it is joined to the answer.

/// A string of a chunk (serde borrows a `Cow` only when it is a field of its own, not inside an
/// `Option`).
#[derive(Debug, Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Text<'_> {
    fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

#[derive(Debug, Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

impl Chunk<'_> {
    /// The text of a chunk that carries nothing else.
    fn only_text(&self) -> Option<&Cow<'_, str>> {
        let [choice] = self.choices.as_slice() else {
            return None;
        };
        let delta = &choice.delta;
        let plain = self.usage.is_none()
            && choice.finish_reason.is_none()
            && delta.reasoning_content.is_none()
            && delta.tool_calls.is_none();
        delta
            .content
            .as_ref()
            .filter(|_| plain)
            .map(|Text(text)| text)
    }
}

#[derive(Debug, Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Delta<'a>,
    #[serde(default, borrow)]
    finish_reason: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Text<'a>>,
    /// Reasoning text of DeepSeek, llama.cpp and vLLM (`reasoning_content`) or OpenRouter and
    /// Ollama (`reasoning`).
    #[serde(default, borrow, alias = "reasoning")]
    reasoning_content: Option<Text<'a>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCallDelta<'a>>>,
}

#[derive(Debug, Deserialize)]
struct ToolCallDelta<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    id: Option<Text<'a>>,
    #[serde(default, borrow)]
    function: Option<FunctionDelta<'a>>,
}

#[derive(Debug, Deserialize)]
struct FunctionDelta<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    arguments: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<WirePromptDetails>,
}

/// `usage.prompt_tokens_details`: how much of the prompt the vendor's cache served.
#[derive(Debug, Deserialize)]
struct WirePromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn messages_use_the_wire_shape() {
        let call = ToolCallRequest {
            id: ToolCallId::from("call_1"),
            wire_id: None,
            name: "fs_read".into(),
            arguments: r#"{"path":"a"}"#.into(),
        };
        let assistant = wire_message(&ChatMessage::Assistant {
            content: String::new(),
            tool_calls: vec![call],
        });
        assert_eq!(assistant["tool_calls"][0]["function"]["name"], "fs_read");
        assert_eq!(assistant["tool_calls"][0]["type"], "function");
        let tool = wire_message(&ChatMessage::Tool {
            call_id: ToolCallId::from("call_1"),
            content: "ok".into(),
        });
        assert_eq!(
            tool,
            json!({"role": "tool", "tool_call_id": "call_1", "content": "ok"})
        );
    }

    #[test]
    fn http_errors_say_what_to_do() {
        use super::http::http_error;
        use std::time::Duration;
        let config = ProviderConfig {
            name: "openai".into(),
            wire: crate::config::Wire::Openai,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-x".into(),
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        };
        let e = http_error(
            &config,
            true,
            401,
            r#"{"error":{"message":"Incorrect API key"}}"#,
            None,
        );
        let text = e.to_string();
        assert!(text.contains("aetheria auth set openai"), "{text}");
        assert!(text.contains("OPENAI_API_KEY"), "{text}");
        assert!(text.contains("Incorrect API key"), "{text}");
        let e = http_error(
            &config,
            true,
            429,
            "slow down",
            Some(Duration::from_secs(7)),
        );
        assert!(e.to_string().contains("in 7 s"));
        assert_eq!(e.to_info().kind, crate::api::ErrorKind::RateLimited);
        let e = http_error(&config, true, 404, "{}", None);
        assert!(e.to_string().contains("gpt-x"));
    }

    /// The full parse of a chunk, as the text it carries when it carries nothing else.
    #[cfg(feature = "testkit")]
    fn parsed_text(data: &str) -> Option<String> {
        let chunk: Chunk<'_> = serde_json::from_str(data).ok()?;
        chunk.only_text().map(ToString::to_string)
    }

    /// A remembered text chunk answers for a chunk (read as text, or as bytes before they are
    /// checked) only when the full parse would give that same text and nothing else: a seeded
    /// search over chunks whose text is written properly (each must be recognised) and over bytes
    /// put raw where the text was (quotes that end the string early and smuggle in fields, lone
    /// backslashes, control characters, cut escapes, non-ASCII).
    #[cfg(feature = "testkit")]
    #[test]
    fn a_repeated_chunk_gives_what_a_full_parse_gives() {
        const CASES: usize = 20_000;
        let templates = [
            crate::testkit::text_chunk("Hi"),
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}"#.to_owned(),
            r#"{"choices":[{"delta":{"content":"Hi","role":"assistant"}}]}"#.to_owned(),
        ];
        let pieces = [
            "a",
            " ",
            "é",
            "日本",
            "✓",
            r#"\""#,
            r"\\",
            r"\n",
            r"\u00e9",
            r"\ud83d\ude00",
            r"\",
            r"\u00",
            r#"""#,
            r#"","finish_reason":"stop"#,
            r#""},"finish_reason":"stop","x":{"y":""#,
            r#"","reasoning_content":"r"#,
            "\n",
            "\t",
            "\u{1}",
            "}",
            "]",
            "{",
            ",",
        ];
        let mut next = crate::testkit::xorshift(0x2545_F491_4F6C_DD1D);
        let (mut hits, mut refused, mut raw_hits) = (0, 0, 0);
        for case in 0..CASES {
            let template = &templates[case % templates.len()];
            let mut repeats = Repeats::default();
            let chunk: Chunk<'_> = serde_json::from_str(template).unwrap();
            repeats.remember(template, chunk.only_text().unwrap());
            let raw: String = (0..next() % 6)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let at = template.find(r#""Hi""#).unwrap();
            let (before, after) = (&template[..at], &template[at + 4..]);
            // The text written properly: always recognised, with the text a full parse gives.
            let text: String =
                serde_json::from_str(&format!("\"{raw}\"")).unwrap_or_else(|_| raw.clone());
            let proper = format!("{before}{}{after}", serde_json::to_string(&text).unwrap());
            assert_eq!(
                repeats.text(&proper).as_deref(),
                Some(text.as_str()),
                "{proper}"
            );
            assert_eq!(
                parsed_text(&proper).as_deref(),
                Some(text.as_str()),
                "{proper}"
            );
            // The same bytes put raw: recognised only when they are one whole string.
            let smuggled = format!("{before}\"{raw}\"{after}");
            match repeats.text(&smuggled) {
                Some(got) => {
                    hits += 1;
                    assert_eq!(Some(got.into_owned()), parsed_text(&smuggled), "{smuggled}");
                }
                None => refused += 1,
            }
            // Taken from the bytes as they arrived, only what the checked text gives.
            for data in [&proper, &smuggled] {
                if let Some(got) = repeats.raw(data.as_bytes()) {
                    raw_hits += 1;
                    assert_eq!(repeats.text(data).as_deref(), Some(got), "{data}");
                    assert_eq!(parsed_text(data).as_deref(), Some(got), "{data}");
                }
            }
        }
        assert!(
            hits > 1000 && refused > 1000 && raw_hits > 1000,
            "{hits} recognised, {refused} refused, {raw_hits} taken raw"
        );
    }

    /// A stream with every quirk servers show: a keep-alive comment, `data:` without a space, CRLF
    /// line ends, reasoning deltas, the tool call's id, type and name repeated on every chunk,
    /// multi-byte text and a usage-only final chunk.
    #[cfg(feature = "testkit")]
    fn quirky_stream() -> Vec<u8> {
        let call = |args: &str| {
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_q",
                "type": "function", "function": {"name": "fs_read", "arguments": args}}]},
                "finish_reason": null}]})
        };
        let mut out = String::from(": keep-alive\r\n\r\n");
        // Reasoning as DeepSeek/llama.cpp (`reasoning_content`) and OpenRouter (`reasoning`) send it.
        out.push_str(&format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"reasoning_content": "Let me think."}}]})
        ));
        out.push_str(&format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"reasoning": " Files."}}]})
        ));
        out.push_str(&format!(
            "data:{}\r\n\r\n",
            crate::testkit::text_chunk("Hé wörld ✓ ")
        ));
        out.push_str(&format!(
            "data: {}\n\n",
            crate::testkit::text_chunk("日本語")
        ));
        for piece in [r#"{"pa"#, r#"th": "#, r#""a.txt"}"#] {
            out.push_str(&format!("data: {}\n\n", call(piece)));
        }
        out.push_str(&format!(
            "data: {}\n\n",
            crate::testkit::finish_chunk("tool_calls")
        ));
        // With the vendor's prompt-cache count, as OpenAI reports it.
        let mut usage: serde_json::Value =
            serde_json::from_str(&crate::testkit::usage_chunk(5, 7)).unwrap_or_default();
        usage["usage"]["prompt_tokens_details"] = serde_json::json!({"cached_tokens": 3});
        out.push_str(&format!("data: {usage}\n\n"));
        out.push_str("data: [DONE]\n\n");
        out.into_bytes()
    }

    /// The events of one answer, adjacent text (and reasoning) joined: how text is split into
    /// events depends on when bytes arrive (deltas that arrive together are sent as one), the text
    /// does not.
    #[cfg(feature = "testkit")]
    async fn events_of(client: &OpenAiClient) -> Vec<ResponseEvent> {
        let events: Vec<ResponseEvent> = client
            .stream(Request::default())
            .map(|e| e.unwrap())
            .collect()
            .await;
        let mut joined: Vec<ResponseEvent> = Vec::new();
        for event in events {
            match (joined.last_mut(), event) {
                (Some(ResponseEvent::TextDelta(text)), ResponseEvent::TextDelta(more))
                | (Some(ResponseEvent::ThinkingDelta(text)), ResponseEvent::ThinkingDelta(more)) => {
                    text.push_str(&more);
                }
                (_, event) => joined.push(event),
            }
        }
        joined
    }

    /// The quirky stream parses as intended, and however its bytes are cut into pieces (a seeded
    /// random search over 200 cuttings, through real HTTP), the events are the same.
    #[cfg(feature = "testkit")]
    #[tokio::test]
    async fn quirks_and_any_chunking_give_the_same_events() {
        use crate::testkit::{Reply, ScriptedServer};
        const CASES: usize = 200;
        let bytes = quirky_stream();
        let mut replies = vec![Reply::Raw {
            pieces: vec![bytes.clone()],
        }];
        replies.extend(crate::testkit::random_cuttings(
            &bytes,
            CASES,
            0x9E37_79B9_7F4A_7C15,
        ));
        let server = ScriptedServer::start(replies).await.unwrap();
        let config = ProviderConfig {
            name: "quirky".into(),
            wire: crate::config::Wire::Openai,
            base_url: server.base_url(),
            model: "m".into(),
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        };
        let client = OpenAiClient::new(config, None).unwrap();
        let whole = events_of(&client).await;
        assert_eq!(
            whole,
            vec![
                ResponseEvent::ThinkingDelta("Let me think. Files.".into()),
                ResponseEvent::TextDelta("Hé wörld ✓ 日本語".into()),
                ResponseEvent::Usage(Usage {
                    input_tokens: 5,
                    output_tokens: 7,
                    cached_input_tokens: 3,
                    cost_micros: None
                }),
                ResponseEvent::ToolCall(ToolCallRequest {
                    id: ToolCallId::from("call_q"),
                    wire_id: None,
                    name: "fs_read".into(),
                    arguments: r#"{"path": "a.txt"}"#.into(),
                }),
                ResponseEvent::Finished {
                    reason: "tool_calls".into()
                },
            ]
        );
        for case in 0..CASES {
            assert_eq!(events_of(&client).await, whole, "cutting #{case}");
        }
    }
}
