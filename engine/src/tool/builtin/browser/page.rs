//! What the model sees of a page and how it acts on one: the page's accessibility tree (as
//! Chromium computes it, out of the page's reach) written as short lines with a reference
//! (`e7`) for every element one can act on, and clicks, typing and choices sent as real input
//! events to the element a reference, a CSS selector or a visible name picks.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::accessibility::{AxNode, GetFullAxTreeParams};
use chromiumoxide::cdp::browser_protocol::dom::{BackendNodeId, FocusParams, ResolveNodeParams};
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, InsertTextParams,
};
use chromiumoxide::cdp::js_protocol::runtime::{CallArgument, CallFunctionOnParams};
use chromiumoxide::layout::Point;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::tool::ToolError;

/// How long an action waits for the page to settle (a navigation it started to load).
const SETTLE: Duration = Duration::from_secs(15);
/// The longest accessible name or value shown for one element.
const MAX_NAME: usize = 200;

/// The roles one can act on: each gets a reference.
const ACTIONABLE: &[&str] = &[
    "button",
    "checkbox",
    "combobox",
    "link",
    "listbox",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "option",
    "radio",
    "searchbox",
    "slider",
    "spinbutton",
    "switch",
    "tab",
    "textbox",
    "treeitem",
];

/// Roles that only group others: not written, their children are.
const SILENT: &[&str] = &[
    "generic",
    "none",
    "presentation",
    "InlineTextBox",
    "LineBreak",
    "RootWebArea",
    "WebArea",
    "Section",
    "group",
    "paragraph",
    "div",
    "LabelText",
];

/// An element the last snapshot named.
#[derive(Debug, Clone)]
pub(super) struct Ref {
    pub node: BackendNodeId,
    pub name: String,
}

/// The last snapshot's references, `e1`, `e2`, … in page order.
pub(super) type Refs = HashMap<String, Ref>;

/// Which element an action is for: exactly one of a reference from the last snapshot, a CSS
/// selector, or the element's visible name.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub(crate) struct Target {
    /// A reference from the last browser_snapshot, like "e7".
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// A CSS selector, like "form#login input[name=user]".
    #[serde(default)]
    pub selector: Option<String>,
    /// The element's visible name: a link's or button's text, a field's label.
    #[serde(default)]
    pub name: Option<String>,
}

impl Target {
    /// The element in a few words, for the person watching (`"Sign in"`, `e7`, a selector).
    pub(super) fn describe(&self, refs: &Refs) -> String {
        match (&self.reference, &self.selector, &self.name) {
            (Some(r), _, _) => refs
                .get(r.trim())
                .map_or_else(|| r.clone(), |found| format!("{:?}", found.name)),
            (_, Some(selector), _) => selector.clone(),
            (_, _, Some(name)) => format!("{name:?}"),
            _ => String::new(),
        }
    }
}

/// Gets a new tab ready: nothing to do yet but to check it answers.
pub(super) async fn prepare(page: &Page) -> Result<(), ToolError> {
    page.evaluate("1")
        .await
        .map(|_| ())
        .map_err(|e| failed("the new tab did not answer", &e))
}

pub(super) fn failed(what: &str, e: &dyn std::fmt::Display) -> ToolError {
    ToolError::RespondToModel(format!("{what}: {e}"))
}

/// The page as the model reads it: title, address, and the accessibility tree as lines (cut at
/// `max` characters), with the references it gave.
pub(super) async fn snapshot(page: &Page, max: usize) -> Result<(String, Refs), ToolError> {
    let tree = page
        .execute(GetFullAxTreeParams::default())
        .await
        .map_err(|e| failed("the page could not be read", &e))?
        .result
        .nodes;
    let title = page.get_title().await.ok().flatten().unwrap_or_default();
    let url = page.url().await.ok().flatten().unwrap_or_default();
    let mut out = format!("Page: {}\nURL: {}\n\n", clean(&title), clean(&url));
    let (lines, refs) = outline(&tree);
    let mut cut = false;
    for line in lines {
        if out.len() + line.len() + 1 > max {
            cut = true;
            break;
        }
        out.push_str(&line);
        out.push('\n');
    }
    if cut {
        let _ = write!(
            out,
            "[the page goes on; cut at {max} characters — scroll, or use browser_snapshot with a larger max_chars]"
        );
    }
    Ok((out, refs))
}

/// The tree's lines in page order and the references given to actionable elements.
pub(super) fn outline(nodes: &[AxNode]) -> (Vec<String>, Refs) {
    let by_id: HashMap<&str, &AxNode> = nodes
        .iter()
        .map(|n| (n.node_id.inner().as_str(), n))
        .collect();
    let mut lines = Vec::new();
    let mut refs = Refs::new();
    let Some(root) = nodes.first() else {
        return (lines, refs);
    };
    // Depth-first, children in order; an explicit stack (a hostile page can nest deeply).
    let mut stack = vec![(root, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        let role = value_text(node.role.as_ref());
        let name = clean(&value_text(node.name.as_ref()));
        let mut child_depth = depth;
        if !node.ignored && !SILENT.contains(&role.as_str()) {
            let indent = "  ".repeat(depth.min(12));
            if role == "StaticText" {
                if !name.trim().is_empty() {
                    lines.push(format!("{indent}{}", name.trim()));
                }
            } else if ACTIONABLE.contains(&role.as_str())
                && let Some(backend) = node.backend_dom_node_id
            {
                let reference = format!("e{}", refs.len() + 1);
                let mut line = format!("{indent}- {role} {name:?} [{reference}]");
                let value = clean(&value_text(node.value.as_ref()));
                if !value.is_empty() && role != "link" {
                    let _ = write!(line, " value={value:?}");
                }
                for property in node.properties.iter().flatten() {
                    let key = property.name.as_ref();
                    let on = property
                        .value
                        .value
                        .as_ref()
                        .and_then(serde_json::Value::as_bool)
                        == Some(true);
                    if on
                        && matches!(
                            key,
                            "checked" | "disabled" | "required" | "selected" | "expanded"
                        )
                    {
                        let _ = write!(line, " ({key})");
                    }
                }
                lines.push(line);
                refs.insert(
                    reference,
                    Ref {
                        node: backend,
                        name: name.clone(),
                    },
                );
                // A link's or button's own text is its name: not written twice.
                continue;
            } else if role == "heading" {
                lines.push(format!("{indent}# {}", name.trim()));
                continue;
            } else if role == "image" || role == "img" {
                if !name.trim().is_empty() {
                    lines.push(format!("{indent}[image: {}]", name.trim()));
                }
                continue;
            } else if !matches!(role.as_str(), "StaticText") {
                if !name.trim().is_empty()
                    && matches!(
                        role.as_str(),
                        "form"
                            | "table"
                            | "list"
                            | "navigation"
                            | "dialog"
                            | "alert"
                            | "main"
                            | "banner"
                            | "region"
                    )
                {
                    lines.push(format!("{indent}[{role}: {}]", name.trim()));
                } else if matches!(role.as_str(), "form" | "dialog" | "alert") {
                    lines.push(format!("{indent}[{role}]"));
                }
                child_depth = depth + 1;
            }
        }
        if role == "StaticText" {
            continue;
        }
        for child in node.child_ids.iter().flatten().rev() {
            if let Some(child) = by_id.get(child.inner().as_str()) {
                stack.push((child, child_depth));
            }
        }
    }
    (lines, refs)
}

/// An accessibility value as text.
fn value_text(
    value: Option<&chromiumoxide::cdp::browser_protocol::accessibility::AxValue>,
) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Text from a page as shown to the model: control characters (terminal escapes among them)
/// become spaces, runs of space one, and it is cut at `MAX_NAME` characters.
pub(super) fn clean(text: &str) -> String {
    let mut out = String::new();
    let mut last_space = false;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
        if out.chars().count() >= MAX_NAME {
            out.push('…');
            break;
        }
    }
    out
}

/// The element a target names, as a live node of the page.
pub(super) async fn resolve(
    page: &Page,
    refs: &Refs,
    target: &Target,
) -> Result<BackendNodeId, ToolError> {
    match (&target.reference, &target.selector, &target.name) {
        (Some(reference), None, None) => {
            let reference = reference
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']');
            refs.get(reference).map(|r| r.node).ok_or_else(|| {
                ToolError::RespondToModel(format!(
                    "there is no {reference:?} in the last snapshot; take a new browser_snapshot"
                ))
            })
        }
        (None, Some(selector), None) => {
            let element = page.find_element(selector.as_str()).await.map_err(|_| {
                ToolError::RespondToModel(format!("no element matches the selector {selector:?}"))
            })?;
            Ok(element.backend_node_id)
        }
        (None, None, Some(text)) => {
            let (_, fresh) = snapshot(page, usize::MAX).await?;
            by_name(&fresh, text).ok_or_else(|| {
                ToolError::RespondToModel(format!(
                    "no element one can act on is named {text:?}; take a browser_snapshot and use a ref"
                ))
            })
        }
        _ => Err(ToolError::RespondToModel(
            "name exactly one of ref, selector or name".into(),
        )),
    }
}

/// The first element named `text` (exactly, ignoring case), else the first whose name holds it.
fn by_name(refs: &Refs, text: &str) -> Option<BackendNodeId> {
    let wanted = text.trim().to_lowercase();
    let mut ordered: Vec<(&String, &Ref)> = refs.iter().collect();
    ordered.sort_by_key(|(k, _)| {
        k.trim_start_matches('e')
            .parse::<usize>()
            .unwrap_or(usize::MAX)
    });
    ordered
        .iter()
        .find(|(_, r)| r.name.trim().to_lowercase() == wanted)
        .or_else(|| {
            ordered
                .iter()
                .find(|(_, r)| r.name.to_lowercase().contains(&wanted))
        })
        .map(|(_, r)| r.node)
}

/// Runs `function` (JavaScript, `this` the element) on a node and returns its JSON result.
pub(super) async fn on_node(
    page: &Page,
    node: BackendNodeId,
    function: &str,
    argument: Option<serde_json::Value>,
) -> Result<serde_json::Value, ToolError> {
    let object = page
        .execute(ResolveNodeParams::builder().backend_node_id(node).build())
        .await
        .map_err(|_| {
            ToolError::RespondToModel(
                "that element is gone (the page changed); take a new browser_snapshot".into(),
            )
        })?
        .result
        .object
        .object_id
        .ok_or_else(|| ToolError::RespondToModel("that element cannot be acted on".into()))?;
    let mut call = CallFunctionOnParams::builder()
        .object_id(object)
        .function_declaration(function)
        .return_by_value(true)
        .await_promise(true);
    if let Some(argument) = argument {
        call = call.argument(CallArgument::builder().value(argument).build());
    }
    let call = call
        .build()
        .map_err(|e| failed("the element could not be reached", &e))?;
    let result = page
        .execute(call)
        .await
        .map_err(|e| failed("the element could not be reached", &e))?
        .result;
    if let Some(exception) = result.exception_details {
        return Err(ToolError::RespondToModel(format!(
            "the page refused: {}",
            clean(&exception.text)
        )));
    }
    Ok(result.result.value.unwrap_or(serde_json::Value::Null))
}

/// What the element is, for approvals: a password field, and where a click or Enter on it
/// would send the person (a link's address, or its form's action).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Facts {
    pub password: bool,
    pub link: Option<String>,
    pub form_action: Option<String>,
    pub submits: bool,
}

/// Reads the element's facts from the live page.
pub(super) async fn facts(page: &Page, node: BackendNodeId) -> Result<Facts, ToolError> {
    let value = on_node(
        page,
        node,
        "function() {
            const a = this.closest ? this.closest('a[href]') : null;
            const form = this.form || (this.closest ? this.closest('form') : null);
            const type = (this.type || '').toLowerCase();
            const tag = (this.tagName || '').toLowerCase();
            const submits = !!form && ((tag === 'button' && (type === 'submit' || type === ''))
                || (tag === 'input' && (type === 'submit' || type === 'image')));
            return {
                password: tag === 'input' && type === 'password',
                link: a ? a.href : null,
                form_action: form ? (form.action || location.href) : null,
                submits,
            };
        }",
        None,
    )
    .await?;
    serde_json::from_value(value).map_err(|e| failed("the element could not be read", &e))
}

/// Clicks the element's middle with the mouse, after scrolling it into view.
pub(super) async fn click(page: &Page, node: BackendNodeId) -> Result<(), ToolError> {
    let point = on_node(
        page,
        node,
        "function() {
            this.scrollIntoView({block: 'center', inline: 'center'});
            const r = this.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height];
        }",
        None,
    )
    .await?;
    let numbers: Vec<f64> = serde_json::from_value(point).unwrap_or_default();
    let [x, y, width, height] = numbers[..] else {
        return Err(ToolError::RespondToModel(
            "that element has no place on the page".into(),
        ));
    };
    if width <= 0.0 || height <= 0.0 {
        return Err(ToolError::RespondToModel(
            "that element is not visible (it has no size); take a new browser_snapshot".into(),
        ));
    }
    page.click(Point { x, y })
        .await
        .map_err(|e| failed("the click failed", &e))?;
    Ok(())
}

/// Types into the element (replacing what it held), then presses Enter when `submit`.
pub(super) async fn type_into(
    page: &Page,
    node: BackendNodeId,
    text: &str,
    submit: bool,
) -> Result<(), ToolError> {
    page.execute(FocusParams::builder().backend_node_id(node).build())
        .await
        .map_err(|e| failed("the field could not be focused", &e))?;
    on_node(
        page,
        node,
        "function() {
            if ('value' in this) { this.value = ''; this.dispatchEvent(new Event('input', {bubbles: true})); }
            else if (this.isContentEditable) { this.textContent = ''; }
        }",
        None,
    )
    .await?;
    page.execute(InsertTextParams::new(text))
        .await
        .map_err(|e| failed("typing failed", &e))?;
    if submit {
        for kind in [DispatchKeyEventType::KeyDown, DispatchKeyEventType::KeyUp] {
            let mut key = DispatchKeyEventParams::builder()
                .r#type(kind.clone())
                .key("Enter")
                .code("Enter")
                .windows_virtual_key_code(13)
                .native_virtual_key_code(13);
            if kind == DispatchKeyEventType::KeyDown {
                key = key.text("\r");
            }
            let key = key
                .build()
                .map_err(|e| failed("pressing Enter failed", &e))?;
            page.execute(key)
                .await
                .map_err(|e| failed("pressing Enter failed", &e))?;
        }
    }
    Ok(())
}

/// Chooses an option of a `<select>` by its value or its text; returns the option's text.
pub(super) async fn select(
    page: &Page,
    node: BackendNodeId,
    option: &str,
) -> Result<String, ToolError> {
    let chosen = on_node(
        page,
        node,
        "function(wanted) {
            if (!this.options) return {error: 'that element is no list of options'};
            const w = String(wanted).trim().toLowerCase();
            const o = [...this.options].find(o => o.value === wanted || o.text.trim().toLowerCase() === w)
                || [...this.options].find(o => o.text.trim().toLowerCase().includes(w));
            if (!o) return {error: 'no option is ' + JSON.stringify(wanted) + '; the options are ' + JSON.stringify([...this.options].map(o => o.text.trim()))};
            this.value = o.value;
            this.dispatchEvent(new Event('input', {bubbles: true}));
            this.dispatchEvent(new Event('change', {bubbles: true}));
            return {text: o.text.trim()};
        }",
        Some(serde_json::Value::String(option.to_owned())),
    )
    .await?;
    if let Some(error) = chosen.get("error").and_then(serde_json::Value::as_str) {
        return Err(ToolError::RespondToModel(clean(error)));
    }
    Ok(clean(
        chosen
            .get("text")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default(),
    ))
}

/// Waits until a navigation the last action may have started has loaded (or `SETTLE` passed).
pub(super) async fn settle(page: &Page) {
    // A click's navigation starts a moment after the click.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let start = Instant::now();
    while start.elapsed() < SETTLE {
        let ready = page
            .evaluate("document.readyState")
            .await
            .ok()
            .and_then(|r| r.into_value::<String>().ok());
        if ready.as_deref() == Some("complete") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the page's text shows `text`.
pub(super) async fn shows(page: &Page, text: &str) -> bool {
    let found = page
        .evaluate_function(format!(
            "() => (document.body ? document.body.innerText : '').includes({})",
            serde_json::Value::String(text.to_owned())
        ))
        .await
        .ok()
        .and_then(|r| r.into_value::<bool>().ok());
    found == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_text_loses_escapes_and_length() {
        assert_eq!(clean("a\u{1b}[31mred\n\n b"), "a [31mred b");
        assert_eq!(clean(&"x".repeat(500)).chars().count(), MAX_NAME + 1);
    }
}
