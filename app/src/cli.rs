//! The command line: `aetheria` opens the window; the subcommands are a contract scripts rely on
//! (`ask`, `sessions`, `search`, `memory`, `worker`, `jobs`, `auth`, `tools`, `mcp`, `sandbox`, `models`, `voice`, `data`, `doctor`). Every one of them drives the same engine API as
//! the window.

mod accounts;
mod args;
mod ask;
mod data;
mod jobs;
mod manage;
mod mcp;
mod models;
mod recall;
mod sandbox;
mod serve;
mod service;
mod voice;

use std::path::PathBuf;
use std::process::ExitCode;

use aetheria_engine::api::AccountService;
use clap::{Args, Parser, Subcommand};

use self::args::{
    AuthCommand, CueName, DataCommand, JobsCommand, McpCommand, MemoryCommand, ModelsCommand,
    SandboxCommand, ServiceCommand, SessionsCommand, ToolsCommand, VoiceCommand,
    VoiceModelsCommand,
};

/// Aetheria — a native desktop system operator.
#[derive(Debug, Parser)]
#[command(name = "aetheria", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Commands>,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Run one turn and stream the answer to stdout.
    Ask(AskArgs),
    /// List, show or delete sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Manage API keys in the OS keychain.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// List tools or run one directly.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Build the code sandbox's image, see its backend, list or remove sandboxes.
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Search every message and tool result of every session (best first).
    Search {
        /// Words to look for.
        #[arg(required = true)]
        words: Vec<String>,
        /// Most hits.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Host this data folder's engine with no window: schedules and queued jobs run, and the window
    /// and every command connect to it.
    Serve {
        /// End once nothing has been connected, queued, running or scheduled for this many seconds.
        #[arg(long, value_name = "SECONDS")]
        idle_exit: Option<u64>,
    },
    /// Start `aetheria serve` at every login with the system's service manager (a systemd user
    /// unit on Linux, a launchd agent on macOS), or stop doing so.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Run background jobs from Redis (many workers on many machines can share one Redis).
    Worker {
        /// The Redis URL (default: redis_url from the config).
        #[arg(long)]
        redis: Option<String>,
        /// Jobs run at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Milliseconds a job may go without a heartbeat before another worker takes it.
        #[arg(long, hide = true)]
        visibility_ms: Option<u64>,
    },
    /// Submit, list, show or cancel background jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// List, change or delete long-term memories.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Add, remove or list MCP servers (their tools join the agent's).
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Install, list or remove local GGUF models (the offline default).
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Dictation on this machine: transcribe a WAV file, manage speech models, read text aloud.
    #[command(subcommand)]
    Voice(VoiceCommand),
    /// Where the config, history and models are; remove them (uninstalling keeps them).
    #[command(subcommand)]
    Data(DataCommand),
    /// Check config, keychain, provider, Docker, the sandbox and Redis, with fixes.
    Doctor,
}

/// Where file tools may work and which tools run without asking.
#[derive(Debug, Clone, Args)]
pub struct ToolAccess {
    /// A folder the file tools may use (replaces the configured ones).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Tools allowed without asking: a comma-separated list, or `all`.
    #[arg(long, value_name = "TOOL,…|all", value_delimiter = ',')]
    allow: Vec<String>,
}

impl ToolAccess {
    fn allows(&self, tool: &str) -> bool {
        self.allow.iter().any(|a| a == "all" || a == tool)
    }
}

/// Arguments of `aetheria ask`.
#[derive(Debug, Clone, Args)]
pub struct AskArgs {
    /// Continue this session instead of starting a new one.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// Print each envelope of the turn (`{"submission":…,"event":{…}}`) as a JSON line instead of
    /// the answer.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    access: ToolAccess,
    /// The wire protocol of --base-url, or `local` for an installed model (--model NAME).
    #[arg(long, default_value = "openai")]
    wire: String,
    /// Use this endpoint instead of the configured provider (e.g. http://127.0.0.1:11434/v1).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Use this model.
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// Attach a file to the message (a text file is read with it; a PNG, JPEG, GIF or WebP image
    /// goes to a model that takes images); repeat for more.
    #[arg(long, value_name = "FILE")]
    attach: Vec<std::path::PathBuf>,
    /// What to ask.
    #[arg(required = true, num_args = 1..)]
    prompt: Vec<String>,
}

/// An error a command reports to the person before exiting.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl CliError {
    fn new(message: impl std::fmt::Display) -> Self {
        Self(message.to_string())
    }
}

macro_rules! from_error {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                Self(e.to_string())
            }
        }
    )*};
}
from_error!(
    aetheria_engine::EngineError,
    aetheria_engine::config::ConfigError,
    aetheria_engine::secrets::SecretsError,
    std::io::Error,
    serde_json::Error,
    crate::service::ServiceError
);

/// What `main` should do.
pub enum Run {
    /// Open the window.
    Window,
    /// Run a command in a tokio runtime.
    Command(Box<Cli>),
}

impl Cli {
    /// Whether this is the window or a command.
    #[must_use]
    pub fn into_run(self) -> Run {
        if self.command.is_none() {
            Run::Window
        } else {
            Run::Command(Box::new(self))
        }
    }

    /// Runs the subcommand.
    pub async fn execute(self) -> Result<ExitCode, CliError> {
        let Some(command) = self.command else {
            return Err(CliError::new("no command given"));
        };
        match command {
            Commands::Ask(args) => ask::run(args).await,
            Commands::Sessions(cmd) => match cmd {
                SessionsCommand::List { json } => manage::sessions_list(json).await,
                SessionsCommand::Show { id, json } => manage::sessions_show(&id, json).await,
                SessionsCommand::Export { id, format, out } => {
                    manage::sessions_export(&id, format, out.as_deref()).await
                }
                SessionsCommand::Rm { id, json } => manage::sessions_rm(&id, json).await,
            },
            Commands::Auth(cmd) => match cmd {
                AuthCommand::Set { provider } => manage::auth_set(&provider).await,
                AuthCommand::Rm { provider } => manage::auth_rm(&provider).await,
                AuthCommand::Status { provider } => manage::auth_status(&provider).await,
                AuthCommand::Github { client_id } => {
                    accounts::sign_in(AccountService::Github, client_id).await
                }
                AuthCommand::Drive { client_id } => {
                    accounts::sign_in(AccountService::Drive, client_id).await
                }
                AuthCommand::Vercel => accounts::set_token(AccountService::Vercel).await,
                AuthCommand::Signout { service } => accounts::sign_out(service).await,
                AuthCommand::Accounts => accounts::status().await,
            },
            Commands::Tools(cmd) => match cmd {
                ToolsCommand::List { json } => manage::tools_list(json).await,
                ToolsCommand::Call { name, args, access } => {
                    manage::tools_call(&name, &args, &access).await
                }
            },
            Commands::Sandbox(cmd) => match cmd {
                SandboxCommand::BuildImage => sandbox::build_image().await,
                SandboxCommand::Status { json } => sandbox::status(json).await,
                SandboxCommand::Ps { json } => sandbox::ps(json).await,
                SandboxCommand::Rm { ids, all } => sandbox::rm(ids, all).await,
            },
            Commands::Search { words, limit, json } => recall::search(&words, limit, json).await,
            Commands::Serve { idle_exit } => serve::run(idle_exit).await,
            Commands::Service(cmd) => match cmd {
                ServiceCommand::Install => service::install(),
                ServiceCommand::Uninstall => service::uninstall(),
                ServiceCommand::Status => service::status(),
            },
            Commands::Worker {
                redis,
                concurrency,
                visibility_ms,
            } => jobs::worker(redis, concurrency, visibility_ms).await,
            Commands::Jobs(cmd) => match cmd {
                JobsCommand::Submit(args) => jobs::submit(args).await,
                JobsCommand::List { json } => jobs::list(json).await,
                JobsCommand::Show { id, json } => jobs::show(&id, json).await,
                JobsCommand::Cancel { id } => jobs::cancel(&id).await,
                JobsCommand::Schedule {
                    cron,
                    tz,
                    text,
                    allow,
                } => jobs::schedule(cron, tz, text, allow).await,
                JobsCommand::Schedules { json } => jobs::schedules(json).await,
                JobsCommand::Unschedule { id } => jobs::unschedule(id).await,
                JobsCommand::Pause { id } => jobs::pause(id, true).await,
                JobsCommand::Resume { id } => jobs::pause(id, false).await,
            },
            Commands::Memory(cmd) => match cmd {
                MemoryCommand::List { json } => recall::list(json).await,
                MemoryCommand::Edit { id, text } => recall::edit(&id, &text).await,
                MemoryCommand::Rm { id } => recall::rm(&id).await,
            },
            Commands::Mcp(cmd) => match cmd {
                McpCommand::List { json } => mcp::list(json).await,
                McpCommand::Add {
                    name,
                    url,
                    env,
                    token_ref,
                    command,
                } => {
                    mcp::add(mcp::Add {
                        name,
                        url,
                        command,
                        env,
                        token_ref,
                    })
                    .await
                }
                McpCommand::Rm { name } => mcp::rm(&name).await,
            },
            Commands::Models(cmd) => match cmd {
                ModelsCommand::List { json } => models::list(json).await,
                ModelsCommand::Add {
                    source,
                    name,
                    sha256,
                    json,
                } => {
                    let source = self::manage::from_here(&source);
                    let command = aetheria_engine::api::ModelsCommand::AddLocal {
                        source,
                        name,
                        sha256,
                    };
                    models::add(command, json).await
                }
                ModelsCommand::Install { name, json } => {
                    let command = aetheria_engine::api::ModelsCommand::InstallCatalog { name };
                    models::add(command, json).await
                }
                ModelsCommand::Catalog { json } => models::catalog(json).await,
                ModelsCommand::Default { name } => models::default(name).await,
                ModelsCommand::Rm { name } => models::rm(name).await,
            },
            Commands::Voice(cmd) => match cmd {
                VoiceCommand::Transcribe {
                    file,
                    model,
                    language,
                    json,
                } => voice::transcribe(file, model, language, json).await,
                VoiceCommand::Models { action, json } => match action {
                    None => voice::models(json).await,
                    Some(VoiceModelsCommand::Add {
                        name,
                        source,
                        checksum,
                    }) => voice::add(name, source, checksum).await,
                    Some(VoiceModelsCommand::Rm { name }) => voice::rm(name).await,
                },
                VoiceCommand::Status { json } => voice::status(json).await,
                VoiceCommand::Say { words } => voice::say(words.join(" ")).await,
                VoiceCommand::Cue { cue } => {
                    use aetheria_engine::api::Cue;
                    voice::cue(match cue {
                        CueName::RecordStart => Cue::RecordStart,
                        CueName::RecordStop => Cue::RecordStop,
                        CueName::JobFinished => Cue::JobFinished,
                    })
                    .await
                }
            },
            Commands::Data(DataCommand::Path) => data::path(),
            Commands::Data(DataCommand::Remove { yes }) => data::remove(yes),
            Commands::Doctor => manage::doctor().await,
        }
    }
}
