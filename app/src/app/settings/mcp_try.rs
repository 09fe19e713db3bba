//! Settings → MCP servers → Try a tool: call one of a running server's tools with arguments the
//! person writes as JSON, through the engine's direct call (its policy applies: an MCP tool asks
//! first, in the window's approval prompt), and see what it answered — to check a server before
//! a conversation depends on it.

use aetheria_engine::api::{
    Command, Envelope, Event, McpServerInfo, McpState, ToolCallId, ToolStatus, ToolsCommand,
};
use iced::widget::{column, pick_list, row, text};
use iced::{Element, Fill};

use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// The arguments field's id.
pub const ARGS: &str = "mcp-try-args";

/// The most of an answer shown.
const SHOWN: usize = 2000;

/// What the try form does.
#[derive(Debug, Clone)]
pub enum TryMsg {
    /// Try a tool of this server.
    Open(String),
    /// The tool chosen.
    Tool(String),
    /// The arguments as typed (JSON).
    Args(String),
    /// Call it.
    Call,
    /// Close the form.
    Close,
}

/// The form, while open.
#[derive(Debug, Clone, Default)]
pub struct TryForm {
    /// The server whose tools are tried.
    server: Option<String>,
    tool: Option<String>,
    args: String,
    /// The call under way or last made.
    call: Option<ToolCallId>,
    /// How it ended, and its output.
    answer: Option<(ToolStatus, String)>,
    /// Why the arguments cannot be sent.
    error: Option<String>,
}

impl TryForm {
    /// Handles a message; the command to send.
    pub fn update(&mut self, msg: TryMsg) -> Option<Command> {
        match msg {
            TryMsg::Open(server) => {
                *self = Self {
                    server: Some(server),
                    args: "{}".into(),
                    ..Self::default()
                };
            }
            TryMsg::Tool(tool) => self.tool = Some(tool),
            TryMsg::Args(args) => self.args = args,
            TryMsg::Close => *self = Self::default(),
            TryMsg::Call => {
                let Some(tool) = self.tool.clone() else {
                    self.error = Some("Choose a tool first.".into());
                    return None;
                };
                let arguments = match serde_json::from_str::<serde_json::Value>(&self.args) {
                    Ok(value) if value.is_object() => value,
                    Ok(_) => {
                        self.error = Some("The arguments are a JSON object: {\"key\": …}.".into());
                        return None;
                    }
                    Err(e) => {
                        self.error = Some(format!("The arguments are not JSON: {e}."));
                        return None;
                    }
                };
                let call = ToolCallId::new();
                self.call = Some(call.clone());
                self.answer = None;
                self.error = None;
                return Some(Command::Tools(ToolsCommand::Call {
                    call,
                    tool,
                    arguments,
                }));
            }
        }
        None
    }

    /// Notes the answer to its own call (the event also goes on to the rest of the window).
    pub fn on_engine(&mut self, envelope: &Envelope) {
        if let Event::ToolCallFinished {
            call,
            status,
            output,
            ..
        } = &envelope.event
            && self.call.as_ref() == Some(call)
        {
            self.answer = Some((*status, output.clone()));
        }
    }

    /// The form, when open on a server that is listed.
    pub fn view<'a>(
        &'a self,
        p: Palette,
        infos: Option<&'a [McpServerInfo]>,
    ) -> Option<Element<'a, TryMsg>> {
        let server = self.server.as_deref()?;
        let info = infos?.iter().find(|i| i.name == server)?;
        let mut col = column![
            row![
                text(format!("TRY A TOOL OF {server}"))
                    .font(BOLD)
                    .size(12)
                    .width(Fill),
                theme::action(p, ButtonKind::Secondary, "Close").on_press(TryMsg::Close),
            ]
            .align_y(iced::Center)
        ]
        .spacing(8);
        if info.state != McpState::Running {
            return Some(
                col.push(
                    text("It is not running: Save, or Restart it, then try again.")
                        .size(12)
                        .color(p.muted),
                )
                .into(),
            );
        }
        let waiting = self.call.is_some() && self.answer.is_none();
        let call = theme::action(p, ButtonKind::Primary, "Call");
        col = col.push(
            row![
                pick_list(info.tools.clone(), self.tool.clone(), TryMsg::Tool)
                    .placeholder("the tool")
                    .text_size(13)
                    .width(240),
                theme::field(p, ARGS, "arguments as JSON: {\"text\": \"hi\"}", &self.args)
                    .font(MONO)
                    .on_input(TryMsg::Args)
                    .on_submit(TryMsg::Call)
                    .width(Fill),
                call.on_press_maybe((!waiting).then_some(TryMsg::Call)),
            ]
            .spacing(8)
            .align_y(iced::Center),
        );
        if let Some(error) = &self.error {
            col = col.push(text(error.as_str()).size(12).color(p.danger));
        }
        if waiting {
            col = col.push(
                text("Calling… (it asks for your approval first)")
                    .size(12)
                    .color(p.muted),
            );
        }
        if let Some((status, output)) = &self.answer {
            let (said, color) = match status {
                ToolStatus::Succeeded => ("It answered:", p.ok),
                ToolStatus::Denied => ("It was not allowed to run.", p.muted),
                _ => ("It failed:", p.danger),
            };
            col = col.push(text(said).font(BOLD).size(12).color(color));
            col = col.push(
                text(super::super::view::cut(output, SHOWN))
                    .font(MONO)
                    .size(12),
            );
        }
        Some(col.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_json_object_for_a_chosen_tool_is_sent() {
        let mut form = TryForm::default();
        let _ = form.update(TryMsg::Open("notes".into()));
        assert!(form.update(TryMsg::Call).is_none());
        assert_eq!(form.error.as_deref(), Some("Choose a tool first."));
        let _ = form.update(TryMsg::Tool("notes__shout".into()));
        for bad in ["[1]", "{\"text\": ", "\"hi\""] {
            let _ = form.update(TryMsg::Args(bad.into()));
            assert!(form.update(TryMsg::Call).is_none(), "{bad}");
            assert!(form.error.is_some(), "{bad}");
        }
        let _ = form.update(TryMsg::Args("{\"text\": \"hi\"}".into()));
        let Some(Command::Tools(ToolsCommand::Call {
            call,
            tool,
            arguments,
        })) = form.update(TryMsg::Call)
        else {
            panic!("no call")
        };
        assert_eq!(tool, "notes__shout");
        assert_eq!(arguments["text"], "hi");
        // Only its own call's answer is taken.
        let finished = |call: ToolCallId| Envelope {
            submission: None,
            event: Event::ToolCallFinished {
                images: Vec::new(),
                session: None,
                call,
                status: ToolStatus::Succeeded,
                output: "HI".into(),
            },
        };
        form.on_engine(&finished(ToolCallId::new()));
        assert!(form.answer.is_none());
        form.on_engine(&finished(call));
        assert_eq!(form.answer, Some((ToolStatus::Succeeded, "HI".into())));
    }
}
