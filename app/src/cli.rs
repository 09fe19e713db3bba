//! The command line: `aetheria` opens the window; the subcommands are a contract scripts rely on
//! (`ask`, `sessions`, `search`, `memory`, `worker`, `jobs`, `auth`, `tools`, `mcp`, `sandbox`, `models`, `voice`, `data`, `doctor`). Every one of them drives the same engine API as
//! the window.

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

use clap::{Args, Parser, Subcommand};

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

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Print the config and data folders.
    Path,
    /// Delete the config and data folders: settings, conversations, memories, models.
    Remove {
        /// Really delete them.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum VoiceCommand {
    /// Transcribe a WAV file (any rate and channel count) with the local speech model.
    Transcribe {
        /// The file.
        file: PathBuf,
        /// The speech model (an installed name or a ggml .bin file; default: from the config).
        #[arg(long)]
        model: Option<String>,
        /// The spoken language (`auto`, `en`, `de`, …; default: from the config).
        #[arg(long)]
        language: Option<String>,
        /// Print JSON (text, language, timings).
        #[arg(long)]
        json: bool,
    },
    /// List the installed speech models and the catalog; add or remove one.
    Models {
        #[command(subcommand)]
        action: Option<VoiceModelsCommand>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Say whether dictation, sound and reading aloud work here, and why not.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read text aloud (espeak-ng).
    Say {
        /// What to say.
        #[arg(required = true)]
        words: Vec<String>,
    },
    /// Play a cue: `record-start`, `record-stop` or `job-finished` (e.g. at the end of a script).
    Cue {
        /// Which.
        #[arg(value_enum)]
        cue: CueName,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CueName {
    RecordStart,
    RecordStop,
    JobFinished,
}

#[derive(Debug, Subcommand)]
enum VoiceModelsCommand {
    /// Install a model: a catalog name (downloaded and checked), or any name `--from` a URL or file.
    Add {
        /// The name (`tiny.en`, `base.en`, …).
        name: String,
        /// A URL or a ggml .bin file (default: the catalog's download).
        #[arg(long = "from")]
        source: Option<String>,
        /// The expected digest: `sha256:HEX`, `sha1:HEX` or bare hex (default: the catalog's).
        #[arg(long)]
        checksum: Option<String>,
    },
    /// Remove an installed model.
    Rm {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// List the installed models.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Install a GGUF model from a file or an http(s) URL.
    Add {
        /// A file path or URL.
        source: String,
        /// The name to install it as (default: from the file name).
        #[arg(long)]
        name: Option<String>,
        /// The file's expected sha256 (hex); nothing is installed when it differs.
        #[arg(long)]
        sha256: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an installed model.
    Rm {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Build the sandbox image with no registry (debootstrap + Docker Engine API import; needs
    /// root and a Debian mirror the first time; cached afterwards).
    BuildImage,
    /// Say which backend runs code and whether the image is ready (exit 1 when not).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List Aetheria's sandboxes, including ones a crashed app left.
    Ps {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove sandboxes by id (or a prefix of at least 4 characters).
    Rm {
        /// Which sandboxes.
        ids: Vec<String>,
        /// Remove every Aetheria sandbox.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
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

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Write the service's file and ask the service manager to start it now and at login.
    Install,
    /// Stop it and remove its file.
    Uninstall,
    /// Whether it is installed.
    Status,
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// List sessions, newest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a session's messages and tool calls.
    Show {
        /// The session's id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a session to a Markdown file (its images in a folder beside it) or one
    /// self-contained HTML file (images inlined); to the terminal without --out.
    Export {
        /// The session's id.
        id: String,
        /// What to write.
        #[arg(long, value_enum, default_value = "md")]
        format: crate::export::Format,
        /// The file to write (refused when it exists; a Markdown file's images go to
        /// `<name>-images/` beside it).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Delete a session.
    Rm {
        /// The session's id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AuthCommand {
    /// Store a provider's API key in the OS keychain (read from stdin, never echoed).
    Set {
        /// The provider's name.
        provider: String,
    },
    /// Remove a provider's key from the keychain.
    Rm {
        /// The provider's name.
        provider: String,
    },
    /// Say where a provider's key comes from (never prints it).
    Status {
        /// The provider's name.
        provider: String,
    },
    /// Sign in to Google Drive in the browser (OAuth with PKCE); the tokens go to the keychain and
    /// the Drive tools are turned on.
    Drive {
        /// The OAuth client id of a "Desktop app" client (saved as drive.client_id).
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Sign in to GitHub with the OAuth device flow; the token goes to the keychain and the
    /// GitHub tools are turned on.
    Github {
        /// The OAuth app's client id (saved as github.client_id).
        #[arg(long)]
        client_id: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Queue a job: `prompt --text T [--allow TOOLS]`, `research --text QUESTION`,
    /// `code --language L (--file F | --text CODE) [--timeout-s N]` (runs in a sandbox, once),
    /// `noop`, or `wait --millis N`.
    Submit(jobs::SubmitArgs),
    /// The newest jobs.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One job.
    Show {
        /// Its id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued or running job.
    Cancel {
        /// Its id.
        id: String,
    },
    /// Run a prompt on a cron schedule, e.g. `"0 9 * * 1-5" --text "Summarise my inbox"`.
    Schedule {
        /// The cron expression (5 fields, or 6 with seconds first).
        cron: String,
        /// The time zone its times are in (an IANA name such as Europe/Paris; default: this
        /// machine's).
        #[arg(long)]
        tz: Option<String>,
        /// The prompt.
        #[arg(long)]
        text: String,
        /// Tools its runs may use without asking (comma-separated).
        #[arg(long, value_delimiter = ',')]
        allow: Vec<String>,
    },
    /// List the schedules.
    Schedules {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a schedule.
    Unschedule {
        /// Its id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum MemoryCommand {
    /// List the memories, newest first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace a memory's text.
    Edit {
        /// Its id.
        id: String,
        /// The new text.
        #[arg(required = true)]
        text: Vec<String>,
    },
    /// Delete a memory.
    Rm {
        /// Its id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum McpCommand {
    /// List the servers with their state and tools (starting them).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a server: `aetheria mcp add NAME -- COMMAND ARGS…` (stdio) or `--url URL` (HTTP).
    Add {
        /// Its name: letters, digits, '-' or '_' (it prefixes its tools' names).
        name: String,
        /// A streamable-HTTP endpoint instead of a command.
        #[arg(long, conflicts_with = "command")]
        url: Option<String>,
        /// An environment variable for the command, KEY=VALUE (repeatable).
        #[arg(long)]
        env: Vec<String>,
        /// The keychain account holding a bearer token for --url.
        #[arg(long)]
        token_ref: Option<String>,
        /// The command and its arguments, after `--`.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Remove a server.
    Rm {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum ToolsCommand {
    /// List the tools with their effect and policy.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one tool directly, with its policy applied.
    Call {
        /// The tool's name.
        name: String,
        /// Its arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        #[command(flatten)]
        access: ToolAccess,
    },
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
                AuthCommand::Github { client_id } => manage::auth_github(client_id).await,
                AuthCommand::Drive { client_id } => manage::auth_drive(client_id).await,
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
                } => models::add(source, name, sha256, json).await,
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
