//! Settings → MCP servers → Add or Edit: a server from a command line (stdio) or a URL
//! (streamable HTTP), its environment, and for a URL a bearer token that goes to the keychain.
//! What the person typed is checked here with the engine's own rules; the server is added to (or
//! changed in) the edited settings and takes effect on Save, as `aetheria mcp add` does at once.

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
    /// Check it and add it (or keep the changes of the server being edited).
    Add,
    /// Stop editing; the form empties.
    CancelEdit,
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
    /// The server being edited (its name stays), with its keychain account when it has a token.
    editing: Option<(String, Option<String>)>,
    /// Why the last Add was refused.
    error: Option<String>,
}

impl AddForm {
    /// The form filled with a kept server, to change it in place: its command line or URL and
    /// its environment as they would be typed; its token stays unless a new one is typed.
    #[must_use]
    pub fn edit(name: &str, server: &McpServerConfig) -> Self {
        let target = match (&server.url, &server.command) {
            (Some(url), _) => url.clone(),
            (None, Some(command)) => {
                let words = std::iter::once(command).chain(&server.args);
                shlex::try_join(words.map(String::as_str)).unwrap_or_default()
            }
            (None, None) => String::new(),
        };
        let env = server
            .env
            .iter()
            .map(|(k, v)| {
                let pair = format!("{k}={v}");
                shlex::try_quote(&pair).map_or(pair.clone(), std::borrow::Cow::into_owned)
            })
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            name: name.to_owned(),
            target,
            env,
            token: String::new(),
            editing: Some((name.to_owned(), server.token_ref.clone())),
            error: None,
        }
    }

    /// The name of the server being edited.
    #[must_use]
    pub fn editing(&self) -> Option<&str> {
        self.editing.as_ref().map(|(name, _)| name.as_str())
    }

    /// Applies `msg`; a server to add when Add was pressed and what was typed holds. `taken`
    /// says whether a name is in use already.
    pub fn update(&mut self, msg: AddMsg, taken: impl Fn(&str) -> bool) -> Option<NewServer> {
        match msg {
            // The name of a server being edited stays: its tools and their policies carry it.
            AddMsg::Name(v) if self.editing.is_none() => self.name = v,
            AddMsg::Name(_) => {}
            AddMsg::CancelEdit => *self = Self::default(),
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
        // An edited URL server keeps its stored token unless a new one is typed.
        let kept = self
            .editing
            .as_ref()
            .and_then(|(_, token_ref)| token_ref.clone())
            .filter(|_| is_url && token.is_empty());
        let server = McpServerConfig {
            command,
            args,
            env,
            url,
            token_ref: kept.or_else(|| (!token.is_empty()).then(|| account.clone())),
            enabled: true,
        };
        if let Some(problem) = server.problem(&name) {
            return Err(problem);
        }
        if self.editing.is_none() && taken(&name) {
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
        let name = field(NAME, "name (letters, digits, - or _)", &self.name).width(220);
        let (name, keep, token_hint) = match &self.editing {
            None => (
                name.on_input(AddMsg::Name),
                "Add server",
                "bearer token (URL only; to the keychain)",
            ),
            Some((_, Some(_))) => (
                name,
                "Keep changes",
                "new token (empty: keep the stored one)",
            ),
            Some((_, None)) => (
                name,
                "Keep changes",
                "bearer token (URL only; to the keychain)",
            ),
        };
        let mut buttons =
            row![theme::action(p, ButtonKind::Primary, keep).on_press(AddMsg::Add)].spacing(8);
        if self.editing.is_some() {
            buttons = buttons.push(
                theme::action(p, ButtonKind::Secondary, "Cancel edit").on_press(AddMsg::CancelEdit),
            );
        }
        let mut col = column![
            row![
                name,
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
            field(ENV, "environment: KEY=VALUE KEY2=\"two words\"", &self.env)
                .on_input(AddMsg::Env)
                .width(Fill),
            row![
                field(TOKEN, token_hint, &self.token)
                    .secure(true)
                    .on_input(AddMsg::Token)
                    .width(Fill),
                buttons,
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
            editing: None,
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

    #[test]
    fn a_kept_server_is_edited_in_place_and_keeps_its_name_and_token() {
        let kept = form(
            "notes",
            r#"python3 "/my files/s.py" stdio"#,
            r#"B="two words""#,
            "",
        )
        .checked(&|_| false)
        .unwrap()
        .server;
        let mut f = AddForm::edit("notes", &kept);
        assert_eq!(f.target, r#"python3 '/my files/s.py' stdio"#);
        assert_eq!(f.env, "'B=two words'");
        // Round trip: unchanged, it is the same server; its name cannot be typed over.
        let _ = f.update(AddMsg::Name("other".into()), |_| true);
        assert_eq!(f.editing(), Some("notes"));
        let same = f.clone().checked(&|_| true).unwrap();
        assert_eq!((same.name.as_str(), &same.server), ("notes", &kept));
        let _ = f.update(AddMsg::Env("B=one".into()), |_| true);
        let changed = f.update(AddMsg::Add, |_| true).unwrap();
        assert_eq!(changed.server.env["B"], "one");
        assert_eq!(f.editing(), None, "the form empties");

        // A URL server keeps its stored token unless a new one is typed.
        let remote = form("remote", "https://mcp.example/mcp", "", "tok")
            .checked(&|_| false)
            .unwrap()
            .server;
        let f = AddForm::edit("remote", &remote);
        let same = f.checked(&|_| true).unwrap();
        assert_eq!(same.server.token_ref.as_deref(), Some("mcp-remote"));
        assert!(same.token.is_none(), "nothing new for the keychain");
    }
}
