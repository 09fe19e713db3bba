//! `aetheria ask`: one turn in the terminal. The answer streams to stdout (or, with `--json`, each
//! envelope of the turn as a JSON line: `{"submission":…,"event":{…}}`); tool activity goes to
//! stderr; approvals are asked on the terminal, granted by `--allow`, or denied when there is no one
//! to ask.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use aetheria_engine::api::conversation::{Change, Conversation, Entry};
use aetheria_engine::api::{
    Command, Decision, Event, FinishReason, SessionId, ToolStatus, TurnCommand,
};
use aetheria_engine::config::{Config, ConfigError, ProviderConfig, UnknownWire, Wire};
use aetheria_engine::{Events, Handle};

use super::{AskArgs, CliError, ToolAccess};
use crate::visible::for_terminal;

/// Exit code of a turn the person stopped (as for SIGINT).
const CANCELLED: u8 = 130;

pub(super) async fn run(args: AskArgs) -> Result<ExitCode, CliError> {
    let mut config = Config::load()?;
    apply_overrides(&mut config, &args)?;
    config.run_jobs = false;
    let own = own_flags(&args);
    let (handle, mut events) = super::manage::open(config, own.as_deref()).await?;
    let json = args.json;
    // Without `--session`, the message creates its session (`SessionCreated` comes first).
    let (session, create) = match &args.session {
        Some(id) => (SessionId::from(id.as_str()), false),
        None => (SessionId::new(), true),
    };
    // The engine may be another process's, started elsewhere: it gets whole paths.
    let attachments = args
        .attach
        .iter()
        .map(std::path::absolute)
        .collect::<Result<Vec<_>, _>>()?;
    let id = handle.submit(Command::Turn(TurnCommand::Send {
        session: session.clone(),
        text: args.prompt.join(" "),
        attachments,
        create,
        allow: vec![],
    }))?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut interrupted = false;
    // What is printed comes from the conversation the window shows too.
    let mut conversation = Conversation::new(Some(session.clone()));
    let mut printed = Printed::default();
    let code = loop {
        let event = tokio::select! {
            envelope = super::manage::answer_envelope(&mut events, id) => envelope,
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                handle.submit(Command::Turn(TurnCommand::Cancel { session: session.clone() }))?;
                continue;
            }
        };
        let Some(envelope) = event else {
            return Err(CliError::new("the engine stopped unexpectedly"));
        };
        if json {
            println!("{}", serde_json::to_string(&envelope)?);
        }
        let event = envelope.event;
        if !json {
            for change in conversation.apply(&event) {
                printed.show(&conversation, change);
            }
        }
        match event {
            Event::ApprovalRequested {
                call,
                tool,
                arguments,
                preview,
                ..
            } => {
                let (decision, remember) = decide(
                    &tool,
                    &arguments,
                    preview.as_deref(),
                    &args.access,
                    interactive,
                )
                .await;
                handle.submit(Command::Turn(TurnCommand::Approve {
                    call,
                    decision,
                    remember,
                    scope: None,
                }))?;
            }
            Event::TurnFinished { finish_reason, .. } => {
                if !json && finish_reason == FinishReason::Length {
                    eprintln!("\n[the answer was cut: the model reached its output limit]");
                }
                break ExitCode::SUCCESS;
            }
            Event::ProviderRetrying {
                attempt,
                wait_secs,
                reason,
                ..
            } if !json => {
                eprintln!(
                    "\n{}\nretrying in {wait_secs} s (attempt {attempt})",
                    for_terminal(&reason)
                );
            }
            Event::TurnFailed { error, .. } => {
                if !json {
                    eprintln!("\nerror: {}", for_terminal(&error.message));
                }
                break ExitCode::FAILURE;
            }
            Event::TurnCancelled { .. } => {
                if !json {
                    eprintln!("\n[stopped]");
                }
                break ExitCode::from(CANCELLED);
            }
            Event::CommandFailed { error, .. } => {
                if !json {
                    eprintln!("error: {}", for_terminal(&error.message));
                }
                break ExitCode::FAILURE;
            }
            _ => {}
        }
    };
    if !json {
        println!();
        eprintln!("session: {session}");
    }
    shutdown(&handle, events).await;
    Ok(code)
}

/// Stops the engine and waits until it has written everything.
pub(super) async fn shutdown(handle: &Handle, mut events: Events) {
    if handle.submit(Command::Shutdown).is_ok() {
        while events.recv().await.is_some() {}
    }
}

/// How much of each entry is on the terminal already.
#[derive(Debug, Default)]
struct Printed {
    /// Bytes of each answer printed (by entry).
    answers: std::collections::HashMap<usize, usize>,
    /// Tool calls whose end is printed (by entry).
    ended: std::collections::HashSet<usize>,
}

impl Printed {
    /// Prints what a change of the conversation added: the answer's new text on stdout, tool
    /// calls and notes on stderr.
    fn show(&mut self, conversation: &Conversation, change: Change) {
        let ix = match change {
            Change::Added(ix) | Change::Updated(ix) => ix,
            Change::Reset => return,
        };
        let Some(entry) = conversation.entries().get(ix) else {
            return;
        };
        match entry {
            Entry::Answer { text, .. } => {
                let done = self.answers.entry(ix).or_default();
                if let Some(new) = text.get(*done..)
                    && !new.is_empty()
                {
                    print!("{}", for_terminal(new));
                    let _ = std::io::stdout().flush();
                    *done = text.len();
                }
            }
            Entry::Tool(tool) if change == Change::Added(ix) => {
                eprintln!(
                    "\n[tool] {} {}",
                    for_terminal(&tool.tool),
                    short(&tool.arguments, 200)
                );
            }
            Entry::Tool(tool)
                if !matches!(
                    tool.status,
                    ToolStatus::Running | ToolStatus::AwaitingApproval
                ) && self.ended.insert(ix) =>
            {
                let mark = if tool.status == ToolStatus::Succeeded {
                    "ok"
                } else {
                    "not run"
                };
                eprintln!("[tool {mark}] {}", short(&tool.output, 300));
            }
            Entry::Compacted { detail } => eprintln!("\n[{}]", for_terminal(detail)),
            _ => {}
        }
    }
}

/// The flags that give this command an engine set up differently from the data folder's.
fn own_flags(args: &AskArgs) -> Option<String> {
    super::manage::given_flags(&[
        (args.wire != "openai", "--wire"),
        (args.base_url.is_some(), "--base-url"),
        (args.model.is_some(), "--model"),
        (args.access.workspace.is_some(), "--workspace"),
    ])
}

/// Applies `--base-url`, `--model`, `--wire` and `--workspace` to the loaded config (not saved).
fn apply_overrides(config: &mut Config, args: &AskArgs) -> Result<(), CliError> {
    let wire: Wire = args
        .wire
        .parse()
        .map_err(|e: UnknownWire| ConfigError::Invalid(e.to_string()))?;
    if wire == Wire::Local {
        // The built-in runtime: `--model` names an installed model or a .gguf file.
        let model = match &args.model {
            Some(model) => model.clone(),
            None => config
                .effective_provider()
                .filter(|p| p.wire == Wire::Local)
                .map(|p| p.model)
                .ok_or_else(|| {
                    CliError::new("--wire local needs --model (an installed model or a .gguf file)")
                })?,
        };
        config.use_provider(ProviderConfig {
            name: "local".into(),
            wire,
            base_url: String::new(),
            model,
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        });
    } else if let Some(base_url) = &args.base_url {
        let known = config
            .providers
            .iter()
            .find(|p| p.base_url.trim_end_matches('/') == base_url.trim_end_matches('/'))
            .cloned();
        let provider = match known {
            Some(mut p) => {
                if let Some(model) = &args.model {
                    p.model.clone_from(model);
                }
                p
            }
            None => {
                let model = args.model.clone().ok_or_else(|| {
                    CliError::new("--base-url needs --model (the endpoint is not in the config)")
                })?;
                let (name, key_env) = guess_vendor(base_url);
                ProviderConfig {
                    name: name.into(),
                    wire,
                    base_url: base_url.clone(),
                    model,
                    key_env: Some(key_env.into()),
                    key_ref: None,
                    context_window: None,
                    vision: None,
                }
            }
        };
        config.use_provider(provider);
    } else if let Some(model) = &args.model {
        let mut provider = config
            .effective_provider()
            .ok_or_else(|| CliError::new("--model needs a configured provider or --base-url"))?;
        provider.model.clone_from(model);
        config.use_provider(provider);
    }
    apply_workspace(config, &args.access)?;
    config.validate()?;
    Ok(())
}

pub(super) fn apply_workspace(config: &mut Config, access: &ToolAccess) -> Result<(), CliError> {
    if let Some(dir) = &access.workspace {
        let dir = dir
            .canonicalize()
            .map_err(|e| CliError::new(format!("--workspace {}: {e}", dir.display())))?;
        if !dir.is_dir() {
            return Err(CliError::new(format!(
                "--workspace {} is not a folder",
                dir.display()
            )));
        }
        config.workspace_roots = vec![dir];
    }
    Ok(())
}

/// The provider name and key variable of a well-known endpoint; others use `AETHERIA_API_KEY`.
fn guess_vendor(base_url: &str) -> (&'static str, &'static str) {
    let host = url::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    match host.as_str() {
        "api.openai.com" => ("openai", "OPENAI_API_KEY"),
        "api.groq.com" => ("groq", "GROQ_API_KEY"),
        "openrouter.ai" => ("openrouter", "OPENROUTER_API_KEY"),
        "api.mistral.ai" => ("mistral", "MISTRAL_API_KEY"),
        "api.deepseek.com" => ("deepseek", "DEEPSEEK_API_KEY"),
        _ => ("custom", "AETHERIA_API_KEY"),
    }
}

/// Decides an approval: `--allow` grants, a terminal asks, otherwise it is denied with a reason.
pub(super) async fn decide(
    tool: &str,
    arguments: &str,
    preview: Option<&str>,
    access: &ToolAccess,
    interactive: bool,
) -> (Decision, bool) {
    if access.allows(tool) {
        return (Decision::Allow, false);
    }
    let tool = for_terminal(tool);
    if !interactive {
        eprintln!(
            "\n[denied] {tool} needs approval and there is no terminal to ask on. Pass --allow {tool} to allow it."
        );
        return (Decision::Deny, false);
    }
    // Nothing in what the person approves may hide or rewrite itself on the terminal.
    if let Some(warning) = [Some(arguments), preview]
        .into_iter()
        .flatten()
        .find_map(crate::visible::warning)
    {
        eprintln!("\n{warning}");
    }
    if let Some(preview) = preview {
        eprintln!("\n{}", for_terminal(preview));
    }
    let question = format!(
        "\nAllow {tool} {}? [y]es / [n]o / [a]lways: ",
        short(arguments, 400)
    );
    let answer = tokio::task::spawn_blocking(move || {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    match answer
        .ok()
        .and_then(Result::ok)
        .map(|l| l.trim().to_ascii_lowercase())
    {
        Some(a) if a == "y" || a == "yes" => (Decision::Allow, false),
        Some(a) if a == "a" || a == "always" => (Decision::Allow, true),
        _ => (Decision::Deny, false),
    }
}

/// `text` on one line, cut to `max` characters, safe for the terminal.
fn short(text: &str, max: usize) -> String {
    let one_line = for_terminal(text).replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let head: String = one_line.chars().take(max).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_text_reaches_the_terminal_escaped_and_on_one_line() {
        let hidden = short("ok\u{1b}[2K\rrm -rf ~\nnext", 100);
        assert_eq!(hidden, "ok<U+001B>[2K<U+000D>rm -rf ~ next");
        assert_eq!(short("abcdef", 3), "abc…");
    }

    #[test]
    fn well_known_endpoints_use_their_key_variables() {
        assert_eq!(
            guess_vendor("https://api.groq.com/openai/v1"),
            ("groq", "GROQ_API_KEY")
        );
        assert_eq!(
            guess_vendor("https://API.openai.com/v1"),
            ("openai", "OPENAI_API_KEY")
        );
        assert_eq!(
            guess_vendor("http://127.0.0.1:11434/v1"),
            ("custom", "AETHERIA_API_KEY")
        );
    }
}
