//! Turns a conversation into the exact prompt text a local model was trained on (its own Jinja chat
//! template from the GGUF file, ChatML when it has none), describes the offered tools in the
//! `<tool_call>` convention small instruct models learn, and reads tool calls back out of an answer.

use serde_json::{Value, json};

use super::LocalError;
use crate::api::{ToolCallId, ToolCallRequest};
use crate::provider::{ChatMessage, ToolSpec};

/// Opens a tool call in the answer.
pub(crate) const CALL_OPEN: &str = "<tool_call>";
/// Closes a tool call.
pub(crate) const CALL_CLOSE: &str = "</tool_call>";
/// "No tool is needed", written before a plain answer at the start of a turn.
const NO_CALL: &str = "<tool_call>[]</tool_call>";

/// The grammar of a plain-text answer (no call).
pub(crate) const TEXT_ONLY: &str = "start: TEXT\nTEXT: /[^<][\\s\\S]*/\n";

/// ChatML, for models whose file carries no template.
const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// A compiled chat template.
pub(crate) struct ChatTemplate {
    env: minijinja::Environment<'static>,
    bos: String,
    eos: String,
}

impl ChatTemplate {
    /// Compiles the template (`None`: ChatML). Python-style string methods that Hugging Face
    /// templates use (`strip`, `startswith`…) work; `raise_exception` becomes an error.
    pub(crate) fn new(
        source: Option<String>,
        bos: String,
        eos: String,
    ) -> Result<Self, LocalError> {
        let mut env = minijinja::Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    message,
                ))
            },
        );
        env.add_template_owned("chat", source.unwrap_or_else(|| CHATML.to_owned()))
            .map_err(|e| {
                LocalError::Model(format!("the model's chat template does not compile: {e}"))
            })?;
        Ok(Self { env, bos, eos })
    }

    /// The prompt for `messages`, ending where the assistant's answer starts.
    pub(crate) fn render(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
    ) -> Result<String, LocalError> {
        let turns = turns(messages, tools);
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| LocalError::Model(e.to_string()))?;
        template
            .render(minijinja::context! {
                messages => minijinja::Value::from(minijinja::value::Serde(&turns)),
                add_generation_prompt => true,
                bos_token => &self.bos,
                eos_token => &self.eos,
            })
            .map_err(|e| LocalError::Model(format!("the model's chat template failed: {e}")))
    }
}

/// The grammar of an answer when tools are offered (llguidance's Lark). A call is
/// `<tool_call>` with a JSON array naming one of the tools with arguments that match its schema,
/// so a small model cannot write a malformed one. When the person has just spoken (`decide`), the
/// answer must start with the call list, where `[]` means "no tool" and is followed by the plain
/// answer: a small model then decides deliberately instead of drifting into prose. After tool
/// results: plain text (not starting with `<`), or another call.
pub(crate) fn tool_grammar(tools: &[ToolSpec], decide: bool) -> String {
    let calls: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({
                "type": "object",
                "properties": {"name": {"const": t.name}, "arguments": t.parameters},
                "required": ["name", "arguments"],
                "additionalProperties": false
            })
        })
        .collect();
    let schema = json!({
        "x-guidance": {"lenient": true, "whitespace_flexible": true},
        "type": "array",
        "minItems": if decide { 0 } else { 1 },
        // One call per step: small models otherwise repeat the call they just wrote.
        "maxItems": 1,
        "items": {"anyOf": calls}
    });
    // One path through `<tool_call>` (lexemes that share a prefix would make the lexer commit early).
    let start = if decide {
        format!("start: \"{CALL_OPEN}\" calls \"{CALL_CLOSE}\" TEXT?")
    } else {
        format!("start: TEXT | \"{CALL_OPEN}\" calls \"{CALL_CLOSE}\"")
    };
    format!("{start}\ncalls: %json {schema}\nTEXT: /[^<][\\s\\S]*/\n")
}

/// The system text that tells the model which tools it has and how to call them (the wording of
/// the function-calling data small instruct models such as SmolLM2 were tuned on).
fn tool_instructions(tools: &[ToolSpec]) -> String {
    let listed: Vec<Value> = tools
        .iter()
        .map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters}))
        .collect();
    format!(
        "You are an expert in composing functions. You are given a question and a set of possible functions.\n\
         Based on the question, you will need to make one or more function/tool calls to achieve the purpose.\n\
         You have access to the following tools:\n<tools>{}</tools>\n\
         The output MUST strictly adhere to the following format, and NO other text MUST be included.\n\
         The example format is as follows. Please make sure the parameter type is correct. If no function call is needed, please make the tool calls an empty list '[]' and then answer in plain text.\n\
         {CALL_OPEN}[\n{{\"name\": \"func_name1\", \"arguments\": {{\"argument1\": \"value1\", \"argument2\": \"value2\"}}}},\n(more tool calls as required)\n]{CALL_CLOSE}\n\
         Tool results come back in <tool_response></tool_response>.",
        Value::from(listed)
    )
}

/// The conversation as template messages (`role`, `content`): system texts and tool instructions
/// merged into one system message, tool calls written in the `<tool_call>` form, tool results as
/// the next user message (templates of many models accept only alternating user/assistant turns).
fn turns(messages: &[ChatMessage], tools: &[ToolSpec]) -> Vec<Value> {
    let mut system: Vec<String> = messages
        .iter()
        .filter_map(|m| match m {
            ChatMessage::System(text) => Some(text.clone()),
            _ => None,
        })
        .collect();
    if !tools.is_empty() {
        system.push(tool_instructions(tools));
    }
    let mut out = Vec::new();
    if !system.is_empty() {
        out.push(json!({"role": "system", "content": system.join("\n\n")}));
    }
    let mut results: Vec<String> = Vec::new();
    let mut after_user = false;
    let flush = |results: &mut Vec<String>, out: &mut Vec<Value>| {
        if !results.is_empty() {
            out.push(json!({"role": "user", "content": results.join("\n")}));
            results.clear();
        }
    };
    for message in messages {
        match message {
            // The built-in runtime takes no images; the turn refuses them before it gets here.
            ChatMessage::System(_) | ChatMessage::Image { .. } => {}
            ChatMessage::User(text) => {
                flush(&mut results, &mut out);
                out.push(json!({"role": "user", "content": text}));
                after_user = true;
                continue;
            }
            ChatMessage::Assistant {
                content,
                tool_calls,
            } => {
                flush(&mut results, &mut out);
                // As the model wrote it (see `tool_grammar`), so the cached prompt still matches.
                let mut text = if after_user && tool_calls.is_empty() && !tools.is_empty() {
                    format!("{NO_CALL}{content}")
                } else {
                    content.clone()
                };
                if !tool_calls.is_empty() {
                    let calls: Vec<Value> = tool_calls
                        .iter()
                        .map(|c| {
                            let arguments = serde_json::from_str::<Value>(&c.arguments)
                                .unwrap_or_else(|_| Value::String(c.arguments.clone()));
                            json!({"name": c.name, "arguments": arguments})
                        })
                        .collect();
                    let calls: Vec<String> = calls.iter().map(Value::to_string).collect();
                    text.push_str(&format!(
                        "{CALL_OPEN}[\n{}\n]{CALL_CLOSE}",
                        calls.join(",\n")
                    ));
                }
                out.push(json!({"role": "assistant", "content": text}));
            }
            ChatMessage::Tool { content, .. } => {
                results.push(format!("<tool_response>\n{content}\n</tool_response>"));
            }
        }
        after_user = false;
    }
    flush(&mut results, &mut out);
    out
}

/// Reads the tool calls out of an answer that starts with `<tool_call>`: a JSON array of
/// `{name, arguments}` (or a single object). `None` when the text is not a tool call at all, so it
/// stays an ordinary answer.
pub(crate) fn parse_calls(text: &str) -> Option<Vec<ToolCallRequest>> {
    let body = text.trim().strip_prefix(CALL_OPEN)?;
    let body = body.split(CALL_CLOSE).next().unwrap_or(body).trim();
    let value: Value = serde_json::from_str(body).ok()?;
    let items = match value {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => return None,
    };
    let mut calls = Vec::new();
    for item in items {
        let name = item.get("name")?.as_str()?.to_owned();
        let arguments = match item.get("arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "{}".to_owned(),
        };
        calls.push(ToolCallRequest {
            id: ToolCallId::new(),
            name,
            arguments,
        });
    }
    Some(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: &str) -> ToolCallRequest {
        ToolCallRequest {
            id: ToolCallId::from("c1"),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    #[test]
    fn chatml_renders_tools_calls_and_results() {
        let template = ChatTemplate::new(None, String::new(), String::new()).expect("template");
        let tools = [ToolSpec {
            name: "read_file".into(),
            description: "Read a file".into(),
            parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        }];
        let messages = [
            ChatMessage::System("Be brief.".into()),
            ChatMessage::User("Read a.txt".into()),
            ChatMessage::Assistant {
                content: String::new(),
                tool_calls: vec![call("read_file", r#"{"path":"a.txt"}"#)],
            },
            ChatMessage::Tool {
                call_id: ToolCallId::from("c1"),
                content: "hello".into(),
            },
        ];
        let prompt = template.render(&messages, &tools).expect("render");
        assert!(prompt.starts_with(
            "<|im_start|>system\nBe brief.\n\nYou are an expert in composing functions."
        ));
        assert!(prompt.contains(
            r#"<tools>[{"name":"read_file","description":"Read a file","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}]</tools>"#
        ));
        assert!(prompt.contains(
            "<|im_start|>assistant\n<tool_call>[\n{\"name\":\"read_file\",\"arguments\":{\"path\":\"a.txt\"}}\n]</tool_call><|im_end|>"
        ));
        assert!(prompt.contains(
            "<|im_start|>user\n<tool_response>\nhello\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
        ));
        assert!(prompt.ends_with("<|im_start|>assistant\n"));
    }

    #[test]
    fn a_plain_answer_to_the_person_shows_the_empty_call_list_the_model_wrote() {
        let template = ChatTemplate::new(None, String::new(), String::new()).expect("template");
        let tools = [ToolSpec {
            name: "t".into(),
            description: "d".into(),
            parameters: json!({"type": "object"}),
        }];
        let messages = [
            ChatMessage::User("hi".into()),
            ChatMessage::Assistant {
                content: "Hello!".into(),
                tool_calls: vec![],
            },
            ChatMessage::User("again".into()),
        ];
        let with_tools = template.render(&messages, &tools).expect("render");
        assert!(
            with_tools.contains("<|im_start|>assistant\n<tool_call>[]</tool_call>Hello!<|im_end|>")
        );
        let without = template.render(&messages, &[]).expect("render");
        assert!(without.contains("<|im_start|>assistant\nHello!<|im_end|>"));
        assert!(!without.contains("<tools>"));
    }

    #[test]
    fn hugging_face_templates_with_python_methods_render() {
        let source = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[U]{{ m['content'].strip() }}{% elif m['role'] == 'assistant' %}[A]{{ m['content'] }}{{ eos_token }}{% else %}{{ raise_exception('bad role ' + m['role']) }}{% endif %}{% endfor %}";
        let template =
            ChatTemplate::new(Some(source.into()), "<s>".into(), "</s>".into()).expect("template");
        let prompt = template
            .render(&[ChatMessage::User("  hi  ".into())], &[])
            .expect("render");
        assert_eq!(prompt, "<s>[U]hi");
        let refused = template
            .render(
                &[
                    ChatMessage::System("s".into()),
                    ChatMessage::User("x".into()),
                ],
                &[],
            )
            .expect_err("system role refused");
        assert!(refused.to_string().contains("bad role system"), "{refused}");
    }

    #[test]
    fn tool_calls_are_read_back() {
        let calls = parse_calls(
            r#"<tool_call>[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": "{}"}]</tool_call>"#,
        )
        .expect("calls");
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].name, "a");
        assert_eq!(calls[0].arguments, r#"{"x":1}"#);
        assert_ne!(calls[0].id, calls[1].id, "every call has its own id");
        assert_eq!(calls[1].arguments, "{}");
        let single = parse_calls(r#"<tool_call>{"name": "a"}"#).expect("one call");
        assert_eq!(single[0].arguments, "{}");
        assert!(parse_calls("Paris is the capital.").is_none());
        assert!(parse_calls("<tool_call>not json</tool_call>").is_none());
    }
}
