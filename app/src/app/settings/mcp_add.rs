//! Settings → MCP servers → Add: a server from a command line (stdio) or a URL (streamable
//! HTTP), its environment, and for a URL a bearer token that goes to the keychain. What the
//! person typed is checked here with the engine's own rules; the server is added to the edited
//! settings and takes effect on Save, as `aetheria mcp add` does at once.

use std::collections::BTreeMap;

use aetheria_engine::api::Secret;
use aetheria_engine::config::McpServerConfig;
use iced::widget::{column, row, text};
use iced::{Element, Fill};

use crate::theme::{self, ButtonKind, Palette};

/// The name field's id.
pub const NAME: &str = "mcp-name";
/// The command or URL field's id.
pub const TARGET: &str = "mcp-target";
/// The environment field's id.
pub const ENV: &str = "mcp-env";
/// The token field's id.
pub const TOKEN: &str = "mcp-token";

/// What the add form does.
#[derive(Debug, Clone)]
pub enum AddMsg {
    Name(String),
    Target(String),
    Env(String),
    Token(String),
    /// Check it and add it.
    Add,
}

/// A server ready to add: its name, its entry, and a token to put in the keychain first.
pub struct NewServer {
    pub name: String,
    pub server: McpServerConfig,
    /// The keychain account and the token, for a URL with one.
    pub token: Option<(String, Secret)>,
}

/// The add form as typed.
#[derive(Debug, Clone, Default)]
pub struct AddForm {
    name: String,
    target: String,
    env: String,
    token: String,
    /// Why the last Add was refused.
    error: Option<String>,
}

impl AddForm {
    /// Applies `msg`; a server to add when Add was pressed and what was typed holds. `taken`
    /// says whether a name is in use already.
    pub fn update(&mut self, msg: AddMsg, taken: impl Fn(&str) -> bool) -> Option<NewServer> {
        match msg {
            AddMsg::Name(v) => self.name = v,
            AddMsg::Target(v) => self.target = v,
            AddMsg::Env(v) => self.env = v,
            AddMsg::Token(v) => self.token = v,
            AddMsg::Add => match self.checked(&taken) {
                Ok(new) => {
                    *self = Self::default();
                    return Some(new);
                }
                Err(why) => self.error = Some(why),
            },
        }
        None
    }

    fn checked(&self, taken: &impl Fn(&str) -> bool) -> Result<NewServer, String> {
        let name = self.name.trim().to_owned();
        let target = self.target.trim();
        if target.is_empty() {
            return Err("Give the server's command line, or its URL.".into());
        }
        let mut env = BTreeMap::new();
        for pair in shlex::split(&self.env)
            .ok_or_else(|| "The environment has an unclosed quote.".to_owned())?
        {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("{pair:?} in the environment is not KEY=VALUE."));
            };
            env.insert(key.to_owned(), value.to_owned());
        }
        let is_url = target.starts_with("http://") || target.starts_with("https://");
        let token = self.token.trim();
        let (command, args, url) = if is_url {
            (None, Vec::new(), Some(target.to_owned()))
        } else {
            if !token.is_empty() {
                return Err("A token is sent only to a server reached by URL.".into());
            }
            let mut words = shlex::split(target)
                .ok_or_else(|| "The command line has an unclosed quote.".to_owned())?
                .into_iter();
            let program = words.next();
            (program, words.collect(), None)
        };
        let account = format!("mcp-{name}");
        let server = McpServerConfig {
            command,
            args,
            env,
            url,
            token_ref: (!token.is_empty()).then(|| account.clone()),
            enabled: true,
        };
        if let Some(problem) = server.problem(&name) {
            return Err(problem);
        }
        if taken(&name) {
            return Err(format!(
                "An MCP server named {name:?} exists; remove it first."
            ));
        }
        Ok(NewServer {
            name,
            server,
            token: (!token.is_empty()).then(|| (account, Secret::new(token))),
        })
    }

    pub fn view(&self, p: Palette) -> Element<'_, AddMsg> {
        let field = |id, hint, value| theme::field(p, id, hint, value);
        let mut col = column![
            row![
                field(NAME, "name (letters, digits, - or _)", &self.name)
                    .on_input(AddMsg::Name)
                    .width(220),
                field(
                    TARGET,
                    "command line (npx -y @scope/server) or https:// URL",
                    &self.target
                )
                .on_input(AddMsg::Target)
                .on_submit(AddMsg::Add)
                .width(Fill),
            ]
            .spacing(8),
            row![
                field(ENV, "environment: KEY=VALUE KEY2=\"two words\"", &self.env)
                    .on_input(AddMsg::Env)
                    .width(Fill),
                field(
                    TOKEN,
                    "bearer token (URL only; to the keychain)",
                    &self.token
                )
                .secure(true)
                .on_input(AddMsg::Token)
                .width(260),
                super::theme::action(p, ButtonKind::Primary, "Add server").on_press(AddMsg::Add),
            ]
            .spacing(8)
            .align_y(iced::Center),
        ]
        .spacing(8);
        if let Some(error) = &self.error {
            col = col.push(text(error.as_str()).size(12).color(p.danger));
        }
        col.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, target: &str, env: &str, token: &str) -> AddForm {
        AddForm {
            name: name.into(),
            target: target.into(),
            env: env.into(),
            token: token.into(),
            error: None,
        }
    }

    #[test]
    fn a_command_line_and_its_environment_are_split_as_a_shell_would() {
        let new = form(
            "notes",
            r#"python3 "/my files/server.py" stdio"#,
            r#"A=1 B="two words""#,
            "",
        )
        .checked(&|_| false)
        .unwrap();
        assert_eq!(new.server.command.as_deref(), Some("python3"));
        assert_eq!(new.server.args, ["/my files/server.py", "stdio"]);
        assert_eq!(new.server.env["B"], "two words");
        assert!(new.token.is_none() && new.server.token_ref.is_none());
    }

    #[test]
    fn a_url_takes_a_token_to_the_keychain() {
        let new = form("remote", "https://mcp.example/mcp", "", "tok-123")
            .checked(&|_| false)
            .unwrap();
        assert_eq!(new.server.url.as_deref(), Some("https://mcp.example/mcp"));
        assert_eq!(new.server.token_ref.as_deref(), Some("mcp-remote"));
        let (account, secret) = new.token.unwrap();
        assert_eq!(account, "mcp-remote");
        assert_eq!(secret.expose(), "tok-123");
    }

    #[test]
    fn what_cannot_work_is_refused_with_a_reason() {
        let refused = |f: AddForm, taken: bool| f.checked(&|_| taken).err().unwrap();
        assert!(refused(form("a__b", "x", "", ""), false).contains("without \"__\""));
        assert!(refused(form("../x", "x", "", ""), false).contains("must be letters"));
        assert!(refused(form("n", "", "", ""), false).contains("command line, or its URL"));
        assert!(refused(form("n", "x 'open", "", ""), false).contains("unclosed quote"));
        assert!(refused(form("n", "x", "NOEQUALS", ""), false).contains("not KEY=VALUE"));
        assert!(refused(form("n", "x", "", "tok"), false).contains("only to a server"));
        assert!(refused(form("n", "x", "", ""), true).contains("exists"));
        // A refused form keeps what was typed, and says why.
        let mut f = form("n", "", "", "");
        assert!(f.update(AddMsg::Add, |_| false).is_none());
        assert_eq!(f.name, "n");
        assert!(f.error.is_some());
    }
}
