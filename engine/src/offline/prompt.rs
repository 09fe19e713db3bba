//! Turns a conversation into the exact prompt text a local model was trained on (its own Jinja chat
//! template from the GGUF file, ChatML when it has none), describes the offered tools in the
//! `<tool_call>` convention small instruct models learn, and reads tool calls back out of an answer.

use serde_json::{Map, Value, json};

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
    let mut defs = Map::new();
    let calls: Vec<Value> = tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let arguments = hoist_definitions(&format!("t{i}"), t.parameters.clone(), &mut defs);
            json!({
                "type": "object",
                "properties": {"name": {"const": t.name}, "arguments": arguments},
                "required": ["name", "arguments"],
                "additionalProperties": false
            })
        })
        .collect();
    let mut schema = json!({
        "x-guidance": {"lenient": true, "whitespace_flexible": true},
        "type": "array",
        "minItems": if decide { 0 } else { 1 },
        // One call per step: small models otherwise repeat the call they just wrote.
        "maxItems": 1,
        "items": {"anyOf": calls}
    });
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    // One path through `<tool_call>` (lexemes that share a prefix would make the lexer commit early).
    let start = if decide {
        format!("start: \"{CALL_OPEN}\" calls \"{CALL_CLOSE}\" TEXT?")
    } else {
        format!("start: TEXT | \"{CALL_OPEN}\" calls \"{CALL_CLOSE}\"")
    };
    format!("{start}\ncalls: %json {schema}\nTEXT: /[^<][\\s\\S]*/\n")
}

/// Makes one tool's argument schema whole inside the grammar's single schema, where it sits deep
/// in `anyOf` and its own `#/...` references would point at the wrong root: its definitions
/// (`$defs`, `definitions`) move into `defs` under names that start with `prefix`, and every local
/// `$ref` is rewritten to match. A reference to the schema itself, or into it by another path,
/// keeps the whole schema in `defs` too. References elsewhere (URLs, other files) are left as
/// they are: such a schema fails to compile and the tool is left out of the grammar.
fn hoist_definitions(prefix: &str, mut schema: Value, defs: &mut Map<String, Value>) -> Value {
    let mut moved = Vec::new();
    if let Value::Object(root) = &mut schema {
        // A base URI of its own would change how the references resolve.
        root.remove("$id");
        root.remove("$schema");
        for (key, mark) in [("$defs", '.'), ("definitions", ':')] {
            if let Some(Value::Object(local)) = root.remove(key) {
                moved.extend(
                    local
                        .into_iter()
                        .map(|(name, def)| (format!("{prefix}{mark}{name}"), def)),
                );
            }
        }
    }
    let mut whole = false;
    rewrite_refs(&mut schema, prefix, &mut whole);
    for (name, mut def) in moved {
        rewrite_refs(&mut def, prefix, &mut whole);
        defs.insert(name, def);
    }
    if whole {
        defs.insert(prefix.to_owned(), schema);
        json!({"$ref": format!("#/$defs/{}", pointer_segment(prefix))})
    } else {
        schema
    }
}

/// Rewrites the local `$ref`s under `value` (see `hoist_definitions`); sets `whole` when one
/// points at the schema itself rather than at one of its definitions.
fn rewrite_refs(value: &mut Value, prefix: &str, whole: &mut bool) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => {
                        if let Some(new) = hoisted_ref(target, prefix, whole) {
                            *target = new;
                        }
                    }
                    // Values, not schemas: a `$ref` in them is data.
                    ("const" | "enum" | "default" | "examples", _) => {}
                    (_, child) => rewrite_refs(child, prefix, whole),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite_refs(item, prefix, whole);
            }
        }
        _ => {}
    }
}

fn hoisted_ref(target: &str, prefix: &str, whole: &mut bool) -> Option<String> {
    let pointer = target.strip_prefix('#')?;
    for (folder, mark) in [("/$defs/", '.'), ("/definitions/", ':')] {
        if let Some(rest) = pointer.strip_prefix(folder) {
            let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let name = name.replace("~1", "/").replace("~0", "~");
            let sep = if tail.is_empty() { "" } else { "/" };
            return Some(format!(
                "#/$defs/{}{sep}{tail}",
                pointer_segment(&format!("{prefix}{mark}{name}"))
            ));
        }
    }
    if pointer.is_empty() || pointer.starts_with('/') {
        *whole = true;
        return Some(format!("#/$defs/{}{pointer}", pointer_segment(prefix)));
    }
    None
}

/// `name` as one segment of a JSON pointer (RFC 6901).
fn pointer_segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
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
            wire_id: None,
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
            wire_id: None,
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

    /// Compiles `lark` for a byte-level vocabulary (token i is byte i; 256 ends the text) and
    /// reports how many bytes of `text` the grammar accepts.
    fn accepted(lark: &str, text: &str) -> Result<usize, String> {
        let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        tokens.push(b"\xff<eos>".to_vec());
        let factory =
            super::super::runtime::grammar_factory(&tokens, 256).map_err(|e| e.to_string())?;
        let parser = factory
            .create_parser(llguidance::api::TopLevelGrammar::from_lark(lark.to_owned()))
            .map_err(|e| e.to_string())?;
        let mut matcher = llguidance::Matcher::new(Ok(parser));
        let bytes: Vec<u32> = text.bytes().map(u32::from).collect();
        matcher.validate_tokens(&bytes).map_err(|e| e.to_string())
    }

    fn tool(name: &str, parameters: Value) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters,
        }
    }

    #[test]
    fn argument_schemas_with_definitions_and_references_stay_whole_in_the_grammar() {
        // As schemars writes `run_code`'s arguments: an enum in `$defs`.
        let run_code = tool(
            "run_code",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": {"language": {"$ref": "#/$defs/Language"}, "code": {"type": "string"}},
                "required": ["language", "code"],
                "$defs": {"Language": {"type": "string", "enum": ["python", "bash"]}}
            }),
        );
        // As pydantic (the MCP Python SDK) writes a model argument, under the same name.
        let mcp = tool(
            "tag",
            json!({
                "type": "object",
                "properties": {"note": {"$ref": "#/definitions/Note"}},
                "required": ["note"],
                "definitions": {
                    "Note": {"type": "object", "properties": {"language": {"$ref": "#/definitions/Language"}}, "required": ["language"]},
                    "Language": {"type": "string", "enum": ["en", "fr"]}
                }
            }),
        );
        // A schema that refers to itself and into its own properties.
        let tree = tool(
            "tree",
            json!({
                "type": "object",
                "properties": {
                    "label": {"type": "string", "enum": ["a/b", "c"]},
                    "same": {"$ref": "#/properties/label"},
                    "child": {"$ref": "#"}
                },
                "required": ["label"]
            }),
        );
        let lark = tool_grammar(&[run_code, mcp, tree], true);
        let valid = r#"<tool_call>[{"name": "run_code", "arguments": {"language": "bash", "code": "ls"}}]</tool_call>"#;
        assert_eq!(accepted(&lark, valid), Ok(valid.len()), "{lark}");
        let nested = r#"<tool_call>[{"name": "tag", "arguments": {"note": {"language": "fr"}}}]</tool_call>"#;
        assert_eq!(accepted(&lark, nested), Ok(nested.len()));
        let recursive = r#"<tool_call>[{"name": "tree", "arguments": {"label": "c", "same": "a/b", "child": {"label": "a/b"}}}]</tool_call>"#;
        assert_eq!(accepted(&lark, recursive), Ok(recursive.len()));
        // A value outside a referenced enum stops at its first wrong byte: the reference holds.
        let wrong = r#"<tool_call>[{"name": "run_code", "arguments": {"language": "ruby""#;
        let at = wrong.find("ruby").expect("ruby");
        assert_eq!(accepted(&lark, wrong), Ok(at));
        let wrong = r#"<tool_call>[{"name": "tag", "arguments": {"note": {"language": "de""#;
        let at = wrong.find("\"de").expect("de") + 1;
        assert_eq!(accepted(&lark, wrong), Ok(at));
    }

    #[test]
    fn two_tools_with_the_same_definition_names_keep_their_own() {
        let a = tool(
            "a",
            json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}}, "required": ["x"], "$defs": {"X": {"const": 1}}}),
        );
        let b = tool(
            "b",
            json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}}, "required": ["x"], "$defs": {"X": {"const": 2}}}),
        );
        let lark = tool_grammar(&[a, b], false);
        let ok = r#"<tool_call>[{"name": "b", "arguments": {"x": 2}}]</tool_call>"#;
        assert_eq!(accepted(&lark, ok), Ok(ok.len()));
        let crossed = r#"<tool_call>[{"name": "b", "arguments": {"x": 1"#;
        assert_eq!(accepted(&lark, crossed), Ok(crossed.len() - 1));
    }

    #[test]
    fn a_reference_that_cannot_resolve_fails_to_compile_instead_of_passing_anything() {
        let remote = tool(
            "remote",
            json!({"type": "object", "properties": {"x": {"$ref": "https://example.invalid/x.json"}}}),
        );
        assert!(accepted(&tool_grammar(&[remote], true), "<tool_call>[]").is_err());
    }
}
