//! The subcommands' arguments as clap parses them (the top-level `Commands`, `ask`'s arguments and
//! the dispatch stay in `cli.rs`).

use std::path::PathBuf;

use aetheria_engine::api::AccountService;
use clap::Subcommand;

use super::{ToolAccess, jobs};

#[derive(Debug, Subcommand)]
pub(super) enum DataCommand {
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
pub(super) enum VoiceCommand {
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
pub(super) enum CueName {
    RecordStart,
    RecordStop,
    JobFinished,
}

#[derive(Debug, Subcommand)]
pub(super) enum VoiceModelsCommand {
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
pub(super) enum ModelsCommand {
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
    /// List the built-in catalogue of small models (size, licence, sha256, download URL).
    Catalog {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download a catalogue model, checked against the catalogue's sha256.
    Install {
        /// Its catalogue name (`aetheria models catalog`).
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Choose the installed model that answers when no provider is configured (no name: the
    /// first installed).
    Default {
        /// Its name.
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum SandboxCommand {
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

#[derive(Debug, Subcommand)]
pub(super) enum ServiceCommand {
    /// Write the service's file and ask the service manager to start it now and at login.
    Install,
    /// Stop it and remove its file.
    Uninstall,
    /// Whether it is installed.
    Status,
}

#[derive(Debug, Subcommand)]
pub(super) enum SessionsCommand {
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
pub(super) enum AuthCommand {
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
    /// GitHub tools are turned on. (`auth set github` keeps a personal access token instead.)
    Github {
        /// The OAuth app's client id (saved as github.client_id).
        #[arg(long)]
        client_id: Option<String>,
    },
    /// Keep a Vercel token (read from stdin, never echoed) and turn the Vercel tools on.
    Vercel,
    /// Forget the token of github, drive or vercel and turn its tools off (its settings stay).
    Signout {
        /// github, drive or vercel.
        #[arg(value_parser = parse_service)]
        service: AccountService,
    },
    /// Where GitHub, Google Drive and Vercel stand: signed in, tools on.
    Accounts,
}

/// A service the accounts commands know, by the name the config uses for it.
pub(super) fn account_service(name: &str) -> Option<AccountService> {
    match name {
        "github" => Some(AccountService::Github),
        "drive" | "google-drive" => Some(AccountService::Drive),
        "vercel" => Some(AccountService::Vercel),
        _ => None,
    }
}

fn parse_service(name: &str) -> Result<AccountService, String> {
    account_service(name).ok_or_else(|| format!("{name:?} is none of github, drive, vercel"))
}

#[derive(Debug, Subcommand)]
pub(super) enum JobsCommand {
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
    /// Pause a schedule: no run until it is resumed.
    Pause {
        /// Its id.
        id: String,
    },
    /// Resume a paused schedule (what it missed meanwhile does not run).
    Resume {
        /// Its id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum MemoryCommand {
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
pub(super) enum McpCommand {
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
pub(super) enum ToolsCommand {
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
