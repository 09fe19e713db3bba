//! The management commands: `sessions`, `auth`, `tools` and `doctor`.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use aetheria_engine::api::{
    Command, Envelope, Event, SessionCommand, SessionId, SubmissionId, ToolCallId, ToolStatus,
    ToolsCommand, TurnCommand,
};
use aetheria_engine::config::Config;
use aetheria_engine::doctor::{self, Status};
use aetheria_engine::secrets::Secrets;
use aetheria_engine::{Engine, Events, Handle};

use super::ask::{apply_workspace, decide, shutdown};
use super::{CliError, ToolAccess};
use crate::visible::for_terminal;

pub(super) async fn start() -> Result<(Handle, Events), CliError> {
    let mut config = Config::load()?;
    // A short-lived command leaves background jobs to the app or a worker.
    config.run_jobs = false;
    open(config, None).await
}

/// The engine of the data folder: that of the process hosting it (the window, `aetheria serve`,
/// another command), or one hosted here for as long as this command runs. `own` names the flags
/// that changed `config`: they need the engine hosted here, so beside a host they are refused.
pub(super) async fn open(config: Config, own: Option<&str>) -> Result<(Handle, Events), CliError> {
    let opened = Engine::open(config, "cli").await?;
    if let (false, Some(flags)) = (opened.hosting, own) {
        let host = opened.host;
        shutdown(&opened.handle, opened.events).await;
        return Err(CliError::new(format!(
            "{flags} set up an engine of this command's own, but this data folder's engine runs in another process ({}, pid {}): leave {flags} out to use its settings, change them there (Settings), or run this once it has closed",
            host.kind, host.pid
        )));
    }
    Ok((opened.handle, opened.events))
}

/// The flags among `flags` that were given, as `--a, --b` (none when none was): what `open`
/// refuses beside a host.
pub(super) fn given_flags(flags: &[(bool, &str)]) -> Option<String> {
    let named: Vec<&str> = flags
        .iter()
        .filter_map(|(given, flag)| given.then_some(*flag))
        .collect();
    (!named.is_empty()).then(|| named.join(", "))
}

/// A file named on the command line, as the engine must see it: the engine may run in another
/// process (the window, `aetheria serve`) whose working folder is not this one. URLs pass as they
/// are.
pub(super) fn from_here(source: &str) -> String {
    if source.contains("://") {
        return source.to_owned();
    }
    std::path::absolute(source).map_or_else(|_| source.to_owned(), |p| p.display().to_string())
}

/// Submits a command and returns the first event that answers it (or its failure).
pub(super) async fn request(
    handle: &Handle,
    events: &mut Events,
    command: Command,
    answers: fn(&Event) -> bool,
) -> Result<Event, CliError> {
    let id = handle.submit(command)?;
    loop {
        match answer(events, id).await {
            Some(Event::CommandFailed { error, .. }) => return Err(CliError::new(error.message)),
            Some(event) if answers(&event) => return Ok(event),
            Some(_) => {}
            None => return Err(CliError::new("the engine stopped unexpectedly")),
        }
    }
}

/// The next event answering `submission`, or none when the engine stopped. Events of other
/// submissions (and what the engine says on its own, like a job's progress) are passed over.
pub(super) async fn answer(events: &mut Events, submission: SubmissionId) -> Option<Event> {
    answer_envelope(events, submission)
        .await
        .map(|envelope| envelope.event)
}

/// As [`answer`], keeping the envelope (what `--json` prints).
pub(super) async fn answer_envelope(
    events: &mut Events,
    submission: SubmissionId,
) -> Option<Envelope> {
    while let Some(envelope) = events.recv().await {
        if envelope.submission == Some(submission) {
            return Some(envelope);
        }
        if let Event::HostLost { reason } = &envelope.event {
            // The stream ends next; say why first.
            eprintln!("{}", for_terminal(reason));
        }
    }
    None
}

/// A download's progress on one stderr line (`fetching: 12.0 MiB of 75.0 MiB (16%)`), redrawn only
/// when the text changes.
#[derive(Debug, Default)]
pub(super) struct Progress(Option<String>);

impl Progress {
    pub(super) fn show(&mut self, done: u64, total: Option<u64>) {
        let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20));
        let line = match total {
            Some(total) if total > 0 => {
                format!("{} of {} ({}%)", mib(done), mib(total), done * 100 / total)
            }
            _ => mib(done),
        };
        if self.0.as_ref() != Some(&line) {
            eprint!("\rfetching: {line}   ");
            let _ = std::io::Write::flush(&mut std::io::stderr());
            self.0 = Some(line);
        }
    }

    /// Ends the line, when one was drawn.
    pub(super) fn finish(&self) {
        if self.0.is_some() {
            eprintln!();
        }
    }
}

pub(super) async fn sessions_list(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Session(SessionCommand::List),
        |e| matches!(e, Event::SessionList { .. }),
    )
    .await?;
    if let Event::SessionList { sessions } = event {
        if json {
            println!("{}", serde_json::to_string_pretty(&sessions)?);
        } else if sessions.is_empty() {
            println!("no sessions yet");
        } else {
            for s in sessions {
                println!(
                    "{}  {}  {}",
                    s.id,
                    s.updated_at.format("%Y-%m-%d %H:%M"),
                    for_terminal(&s.title)
                );
            }
        }
    }
    shutdown(&handle, events).await;
    Ok(ExitCode::SUCCESS)
}

/// A stored session (`SessionLoaded`), asked of the data folder's engine.
async fn load_session(id: &str) -> Result<Event, CliError> {
    let (handle, mut events) = start().await?;
    let command = Command::Session(SessionCommand::Load {
        session: SessionId::from(id),
    });
    let event = request(&handle, &mut events, command, |e| {
        matches!(e, Event::SessionLoaded { .. })
    })
    .await;
    shutdown(&handle, events).await;
    event
}

pub(super) async fn sessions_show(id: &str, json: bool) -> Result<ExitCode, CliError> {
    let event = load_session(id).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&event)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Event::SessionLoaded {
        session,
        messages,
        tool_calls,
    } = event
    {
        println!("# {}\n", for_terminal(&session.title));
        for m in messages {
            let who = match m.role {
                aetheria_engine::api::Role::User => "you",
                aetheria_engine::api::Role::Assistant => "aetheria",
            };
            if !m.content.is_empty() {
                println!("## {who}\n{}\n", for_terminal(&m.content));
            }
            for call in tool_calls
                .iter()
                .filter(|c| c.message.as_ref() == Some(&m.id))
            {
                println!(
                    "[tool {} {:?}] {}\n{}\n",
                    for_terminal(&call.tool),
                    call.status,
                    for_terminal(&call.arguments),
                    for_terminal(&call.output)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn sessions_export(
    id: &str,
    format: crate::export::Format,
    out: Option<&std::path::Path>,
) -> Result<ExitCode, CliError> {
    use crate::export::{self, Format};
    let data_dir = Config::load()?.data_dir;
    // The file is claimed before anything is read: an existing one is never overwritten.
    let file = match out {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?,
        ),
        None => None,
    };
    let written = async {
        let Event::SessionLoaded {
            session,
            messages,
            tool_calls,
        } = load_session(id).await?
        else {
            return Err(CliError::new("the engine answered something else"));
        };
        let session = export::Session {
            summary: &session,
            messages: &messages,
            tool_calls: &tool_calls,
            data_dir: &data_dir,
        };
        if let (Format::Md, Some(path)) = (format, out) {
            let (folder, _) = export::images_beside(path);
            if folder.exists() {
                return Err(CliError::new(format!(
                    "{} exists already; the images would go there",
                    folder.display()
                )));
            }
        }
        Ok::<_, CliError>(export::render(&session, format, out)?)
    }
    .await;
    match (file, out, written) {
        (Some(mut file), Some(path), Ok(text)) => {
            std::io::Write::write_all(&mut file, text.as_bytes())
                .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
            println!("wrote {}", path.display());
        }
        (None, _, Ok(text)) => print!("{}", for_terminal(&text)),
        (_, path, Err(e)) => {
            // Nothing half-written stays behind.
            if let Some(path) = path {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        (Some(_), None, Ok(_)) => {}
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn sessions_rm(id: &str, json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let command = Command::Session(SessionCommand::Delete {
        session: SessionId::from(id),
    });
    let event = request(&handle, &mut events, command, |e| {
        matches!(e, Event::SessionDeleted { .. })
    })
    .await;
    shutdown(&handle, events).await;
    let event = event?;
    if json {
        println!("{}", serde_json::to_string(&event)?);
    } else {
        println!("deleted session {id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The keychain account of a provider: its `key_ref` when configured, else its name.
fn account(provider: &str) -> Result<(String, Option<String>), CliError> {
    let config = Config::load()?;
    let env = config
        .providers
        .iter()
        .find(|p| p.name == provider)
        .map(aetheria_engine::config::ProviderConfig::key_env_var);
    Ok((config.key_account_of(provider), env))
}

/// A secret typed at a prompt (not shown) or piped in, trimmed; refused when empty.
pub(super) fn read_secret(what: &str) -> Result<String, CliError> {
    let secret = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{what}: "))?
    } else {
        let mut secret = String::new();
        std::io::stdin().read_to_string(&mut secret)?;
        secret
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        return Err(CliError::new("nothing was given; nothing was stored"));
    }
    Ok(secret)
}

pub(super) async fn auth_set(provider: &str) -> Result<ExitCode, CliError> {
    let (account, env) = account(provider)?;
    // `github` and `vercel`, unless a model provider has that name, are the services' tokens.
    if env.is_none()
        && let Some(service) = super::args::account_service(provider)
        && service.takes_token()
    {
        return super::accounts::set_token(service).await;
    }
    let key = read_secret(&format!("API key for {provider} (not shown)"))?;
    let acct = account.clone();
    tokio::task::spawn_blocking(move || Secrets::new().set(&acct, &key))
        .await
        .map_err(CliError::new)??;
    println!("stored the key for {provider} in the OS keychain");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn auth_rm(provider: &str) -> Result<ExitCode, CliError> {
    let (account, _) = account(provider)?;
    let removed = tokio::task::spawn_blocking(move || Secrets::new().delete(&account))
        .await
        .map_err(CliError::new)??;
    if removed {
        println!("removed the key for {provider} from the OS keychain");
    } else {
        println!("the keychain held no key for {provider}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn auth_status(provider: &str) -> Result<ExitCode, CliError> {
    let (account, env) = account(provider)?;
    if let Some(var) = &env {
        let set = std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
        println!(
            "{var}: {}",
            if set { "set (used first)" } else { "not set" }
        );
    } else {
        println!("{provider} is not a configured provider; showing the keychain only");
    }
    let found =
        tokio::task::spawn_blocking(move || Secrets::new().get(&account).map(|k| k.is_some()))
            .await
            .map_err(CliError::new)?;
    match found {
        Ok(true) => println!("keychain: a key is stored"),
        Ok(false) => {
            println!("keychain: no key stored (set one with `aetheria auth set {provider}`)");
        }
        Err(e) => println!("keychain: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn tools_list(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Tools(ToolsCommand::List),
        |e| matches!(e, Event::ToolList { .. }),
    )
    .await?;
    shutdown(&handle, events).await;
    if let Event::ToolList { tools } = event {
        if json {
            println!("{}", serde_json::to_string_pretty(&tools)?);
        } else {
            for t in tools {
                println!(
                    "{:<22} {:<11} {:<6} {}",
                    for_terminal(&t.name),
                    format!("{:?}", t.effect).to_lowercase(),
                    format!("{:?}", t.policy).to_lowercase(),
                    for_terminal(&t.description)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn tools_call(
    name: &str,
    args: &str,
    access: &ToolAccess,
) -> Result<ExitCode, CliError> {
    let arguments: serde_json::Value = serde_json::from_str(args)
        .map_err(|e| CliError::new(format!("--args is not valid JSON: {e}")))?;
    let mut config = Config::load()?;
    apply_workspace(&mut config, access)?;
    config.run_jobs = false;
    let own = given_flags(&[(access.workspace.is_some(), "--workspace")]);
    let (handle, mut events) = open(config, own.as_deref()).await?;
    let call = ToolCallId::new();
    let id = handle.submit(Command::Tools(ToolsCommand::Call {
        call: call.clone(),
        tool: name.to_owned(),
        arguments,
    }))?;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let code = loop {
        match answer(&mut events, id).await {
            Some(Event::ApprovalRequested {
                call: c,
                tool,
                arguments,
                preview,
                ..
            }) if c == call => {
                let (decision, remember) =
                    decide(&tool, &arguments, preview.as_deref(), access, interactive).await;
                handle.submit(Command::Turn(TurnCommand::Approve {
                    call: c,
                    decision,
                    remember,
                    scope: None,
                }))?;
            }
            Some(Event::ToolCallFinished {
                call: c,
                status,
                output,
                ..
            }) if c == call => {
                let output = for_terminal(&output);
                if status == ToolStatus::Succeeded {
                    println!("{output}");
                    break ExitCode::SUCCESS;
                }
                eprintln!("{name}: {output}");
                break ExitCode::FAILURE;
            }
            Some(_) => {}
            None => return Err(CliError::new("the engine stopped unexpectedly")),
        }
    };
    shutdown(&handle, events).await;
    Ok(code)
}

pub(super) async fn doctor() -> Result<ExitCode, CliError> {
    let (config, config_error) = match Config::load() {
        Ok(config) => (config, None),
        Err(e) => {
            let (config_dir, data_dir) = Config::directories()?;
            (Config::new(config_dir, data_dir), Some(e.to_string()))
        }
    };
    let mut checks = doctor::run(&config).await;
    if let Some(error) = config_error
        && let Some(first) = checks.first_mut()
    {
        first.status = Status::Fail;
        first.detail = error;
        first.fix = Some("fix the file, or move it aside to start from defaults".into());
    }
    let mut failed = false;
    for c in &checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => {
                failed = true;
                "FAIL"
            }
        };
        println!("[{mark}] {:<18} {}", c.name, c.detail);
        if let Some(fix) = &c.fix {
            println!("       {:<18} fix: {fix}", "");
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
