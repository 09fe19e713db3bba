//! One handler per domain of the API, all of one shape: `handle(cx, command) -> Result<(),
//! ErrorInfo>`. A handler answers through `cx.out` (stamped with the submission); its error is
//! redacted and sent as `CommandFailed` once, by the router. Which commands run in the order they
//! came and which run beside the others is decided here too (`in_order`).

mod accounts;
mod browser;
mod jobs;
mod memory;
mod models;
mod sandbox;
mod sessions;
mod settings;
mod tools;
mod turn;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::api::{
    AccountsCommand, Command, ErrorInfo, ModelsCommand, SessionCommand, SettingsCommand,
    ToolsCommand,
};
use crate::outbox::Outbox;
use crate::services::Services;

/// What a handler works with: the engine's services and where its answers go.
#[derive(Clone)]
pub(crate) struct Cx {
    pub services: Arc<Services>,
    pub out: Outbox,
}

/// The work of one command (`Shutdown` has none: the router stops).
pub(crate) fn handle(
    cx: Cx,
    command: Command,
) -> Option<BoxFuture<'static, Result<(), ErrorInfo>>> {
    Some(match command {
        Command::Session(c) => Box::pin(sessions::handle(cx, c)),
        Command::Turn(c) => Box::pin(turn::handle(cx, c)),
        Command::Tools(c) => Box::pin(tools::handle(cx, c)),
        Command::Jobs(c) => Box::pin(jobs::handle(cx, c)),
        Command::Memory(c) => Box::pin(memory::handle(cx, c)),
        Command::Settings(c) => Box::pin(settings::handle(cx, c)),
        Command::Models(c) => Box::pin(models::handle(cx, c)),
        Command::Sandbox(c) => Box::pin(sandbox::handle(cx, c)),
        Command::Voice(c) => Box::pin(crate::voice::handle(cx, c)),
        Command::Accounts(c) => Box::pin(accounts::handle(cx, c)),
        Command::Browser(c) => Box::pin(browser::handle(cx, c)),
        Command::Shutdown => return None,
    })
}

/// Whether a command is carried out before the next one is read: what changes what later
/// commands see (a session created, then a message sent to it; settings saved, then read), and
/// the turn's commands, which only start or signal work. The rest (network, keychain, Docker,
/// microphone, MCP servers starting) run beside the others.
pub(crate) fn in_order(command: &Command) -> bool {
    match command {
        Command::Session(c) => !matches!(c, SessionCommand::Search { .. }),
        // The person's clicks and keys reach the page in the order they came.
        Command::Turn(_) | Command::Memory(_) | Command::Browser(_) | Command::Shutdown => true,
        Command::Settings(c) => matches!(c, SettingsCommand::Get | SettingsCommand::Save { .. }),
        Command::Tools(c) => matches!(
            c,
            ToolsCommand::SetPolicy { .. } | ToolsCommand::ListFiles { .. }
        ),
        // Choosing the default writes the config, as a settings save does.
        Command::Models(c) => matches!(c, ModelsCommand::SetDefault { .. }),
        // Storing or forgetting a token saves the config; a sign-in waits for the person.
        Command::Accounts(c) => matches!(
            c,
            AccountsCommand::SetToken { .. } | AccountsCommand::SignOut { .. }
        ),
        Command::Jobs(_) | Command::Sandbox(_) | Command::Voice(_) => false,
    }
}

/// A storage failure as the API says it.
pub(crate) fn storage(e: impl std::fmt::Display) -> ErrorInfo {
    ErrorInfo::new(crate::api::ErrorKind::Storage, e.to_string())
}
