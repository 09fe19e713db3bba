//! Configuration: a TOML file in the platform config directory, with environment overrides for the
//! directories, validated with errors a person can act on. Secrets never live here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::api::Policy;
pub use crate::api::VoiceConfig;
pub use crate::api::config::{McpServerConfig, ProviderConfig, UnknownWire, Wire};

mod services;
pub use self::services::{DriveConfig, GithubConfig, SearchBackend, VercelConfig, WebConfig};

/// The config file's name inside the config directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path} is not a valid Aetheria config: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A value is out of range or refers to something missing.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// No home directory to derive platform directories from.
    #[error(
        "no home directory found; set AETHERIA_CONFIG_DIR and AETHERIA_DATA_DIR to usable folders"
    )]
    NoHome,
}

/// Where memory lives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryConfig {
    /// A SurrealDB URL: `surrealkv://PATH` (on disk), `mem://`, or a server (`ws://HOST:PORT`,
    /// `wss://…`) that many machines share; default: on disk in the data dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For a server: the (root) user to sign in as; its password is in the keychain account
    /// `key_ref` (`aetheria auth set surrealdb`) or `AETHERIA_MEMORY_PASSWORD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The keychain account of the server password (default `surrealdb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    /// An embeddings endpoint for vector recall of long-term memories (else full-text only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<EmbeddingsConfig>,
}

/// An OpenAI-compatible embeddings endpoint (OpenAI, Ollama, LM Studio, llama.cpp).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsConfig {
    /// The API base, e.g. `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// The embedding model, e.g. `nomic-embed-text`.
    pub model: String,
    /// The keychain account of its key, if it needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    /// Or an environment variable holding the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
}

/// Tool settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolsConfig {
    /// Policies by tool name; they override the defaults by effect.
    #[serde(default)]
    pub policy: BTreeMap<String, Policy>,
}

/// Which isolation runs model-written code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxBackend {
    /// Docker when an engine answers (`DOCKER_HOST` or the local socket), else bubblewrap on
    /// Linux, else code is not run.
    #[default]
    Auto,
    /// Docker only.
    Docker,
    /// bubblewrap only (Linux).
    Bubblewrap,
}

/// The code sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Which isolation to use.
    pub backend: SandboxBackend,
    /// Seconds a session's sandbox may sit idle before it is stopped (started again on next use).
    pub idle_stop_secs: u64,
    /// Default deadline of one run, in seconds (the model may ask for up to `max_timeout_secs`).
    pub timeout_secs: u64,
    /// Longest deadline the model may ask for, in seconds.
    pub max_timeout_secs: u64,
    /// Memory limit in MiB.
    pub memory_mib: u64,
    /// Process limit.
    pub pids: u64,
    /// CPU share (1.0 = one core).
    pub cpus: f64,
    /// Where the image's root filesystem is cached (default: the platform cache folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// MiB the workspace folder may grow by in one run; a run past it is stopped.
    pub workspace_growth_mib: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            backend: SandboxBackend::Auto,
            idle_stop_secs: 600,
            timeout_secs: 60,
            max_timeout_secs: 600,
            memory_mib: 1024,
            pids: 256,
            cpus: 1.0,
            cache_dir: None,
            workspace_growth_mib: 1024,
        }
    }
}

impl SandboxConfig {
    fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// Background jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs this process runs at once.
    pub concurrency: usize,
    /// Milliseconds a running job may go without a heartbeat before another worker takes it.
    pub visibility_ms: u64,
    /// The tools a background job may use on this machine, with nobody there to approve them. A
    /// job (whoever wrote it into the queue) can only narrow this list, never add to it.
    pub allow: Vec<String>,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            visibility_ms: 10_000,
            allow: vec!["web_search".into(), "web_fetch".into()],
        }
    }
}

impl JobsConfig {
    fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// Makes a folder (and its parents) that only its owner can enter: the config and data folders
/// hold conversations, approvals and settings.
pub(crate) fn private_dir(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The built-in local model runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// CPU threads for generation (default: up to 4 of this machine's cores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// 0 picks the likeliest token every time (reproducible); higher values sample more freely.
    pub temperature: f64,
    /// Most tokens of one answer.
    pub max_tokens: usize,
    /// The installed model used when no provider is configured (default: the first installed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<String>,
    /// Most tools shown to the model at once: those whose name or description shares words with
    /// what the person last said (none for a plain question). Each tool's schema costs a small
    /// model's CPU time before the first word, and small models call what they are shown.
    pub max_tools: usize,
    /// Where catalogue models download from instead of their publishers' URLs: a mirror that
    /// serves each file under its file name (default: `$AETHERIA_MODELS_URL`, else none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            threads: None,
            temperature: 0.0,
            max_tokens: 1024,
            default_model: None,
            max_tools: 3,
            mirror: None,
        }
    }
}

impl LocalConfig {
    fn is_default(&self) -> bool {
        self == &Self::default()
    }

    /// The threads generation uses.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)))
    }
}

/// A model's price, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million completion tokens.
    pub output: f64,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which provider answers by default (by name); the first one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_provider: Option<String>,
    /// The model endpoints.
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    /// Folders the file tools may use; nothing outside them.
    #[serde(default)]
    pub workspace_roots: Vec<PathBuf>,
    /// Most model calls in one turn before it stops.
    #[serde(default = "default_max_steps")]
    pub max_steps: u32,
    /// The system prompt that starts every conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Tool policies.
    #[serde(default)]
    pub tools: ToolsConfig,
    /// Memory store.
    #[serde(default)]
    pub memory: MemoryConfig,
    /// A Redis URL for background jobs shared by many workers; absent: the embedded queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// The code sandbox.
    #[serde(default, skip_serializing_if = "SandboxConfig::is_default")]
    pub sandbox: SandboxConfig,
    /// The built-in local model runtime.
    #[serde(default, skip_serializing_if = "LocalConfig::is_default")]
    pub local: LocalConfig,
    /// The web tools.
    #[serde(default, skip_serializing_if = "WebConfig::is_default")]
    pub web: WebConfig,
    /// GitHub; its tools are offered when this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubConfig>,
    /// Google Drive; its tools are offered when this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive: Option<DriveConfig>,
    /// Vercel; its tools are offered when this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vercel: Option<VercelConfig>,
    /// MCP servers by name; their tools join the registry as `NAME__TOOL`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mcp: BTreeMap<String, McpServerConfig>,
    /// Background jobs.
    #[serde(default, skip_serializing_if = "JobsConfig::is_default")]
    pub jobs: JobsConfig,
    /// Dictation and sound.
    #[serde(default, skip_serializing_if = "VoiceConfig::is_default")]
    pub voice: VoiceConfig,
    /// What models cost, by model name (`[prices."gpt-4o"] input = 2.5, output = 10`): these
    /// override the list prices this build knows.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, Price>,
    /// Whether this process runs queued jobs (the app and `aetheria worker` do; short-lived CLI
    /// commands do not). Not stored.
    #[serde(skip, default = "run_jobs")]
    pub run_jobs: bool,
    /// Where the config file lives (not stored in it).
    #[serde(skip)]
    pub config_dir: PathBuf,
    /// Where the database and other data live (not stored in it).
    #[serde(skip)]
    pub data_dir: PathBuf,
}

fn run_jobs() -> bool {
    true
}

fn default_max_steps() -> u32 {
    16
}

impl Config {
    /// An empty configuration using the given directories.
    #[must_use]
    pub fn new(config_dir: PathBuf, data_dir: PathBuf) -> Self {
        Self {
            default_provider: None,
            providers: Vec::new(),
            workspace_roots: Vec::new(),
            max_steps: default_max_steps(),
            system_prompt: None,
            tools: ToolsConfig::default(),
            memory: MemoryConfig::default(),
            redis_url: None,
            sandbox: SandboxConfig::default(),
            local: LocalConfig::default(),
            web: WebConfig::default(),
            github: None,
            drive: None,
            vercel: None,
            mcp: BTreeMap::new(),
            jobs: JobsConfig::default(),
            voice: VoiceConfig::default(),
            prices: BTreeMap::new(),
            run_jobs: true,
            config_dir,
            data_dir,
        }
    }

    /// The platform directories, overridden by `AETHERIA_CONFIG_DIR` and `AETHERIA_DATA_DIR`.
    pub fn directories() -> Result<(PathBuf, PathBuf), ConfigError> {
        let env_dir = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let project = directories::ProjectDirs::from("dev", "Aetheria", "aetheria");
        let config_dir = match env_dir("AETHERIA_CONFIG_DIR") {
            Some(dir) => dir,
            None => project
                .as_ref()
                .ok_or(ConfigError::NoHome)?
                .config_dir()
                .to_path_buf(),
        };
        let data_dir = match env_dir("AETHERIA_DATA_DIR") {
            Some(dir) => dir,
            None => project
                .as_ref()
                .ok_or(ConfigError::NoHome)?
                .data_dir()
                .to_path_buf(),
        };
        Ok((config_dir, data_dir))
    }

    /// Loads the config from the platform (or overridden) directories; a missing file is an empty
    /// configuration.
    pub fn load() -> Result<Self, ConfigError> {
        let (config_dir, data_dir) = Self::directories()?;
        Self::load_from(config_dir, data_dir)
    }

    /// Loads `config.toml` from `config_dir`.
    pub fn load_from(config_dir: PathBuf, data_dir: PathBuf) -> Result<Self, ConfigError> {
        let path = config_dir.join(CONFIG_FILE);
        let mut config = match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::new(PathBuf::new(), PathBuf::new())
            }
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        config.config_dir = config_dir;
        config.data_dir = data_dir;
        config.validate()?;
        Ok(config)
    }

    /// Parses config text (the path is only for messages).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Writes the config file, creating its directory.
    pub fn save(&self) -> Result<(), ConfigError> {
        self.validate()?;
        let path = self.config_dir.join(CONFIG_FILE);
        let text = toml::to_string_pretty(self)
            .map_err(|e| ConfigError::Invalid(format!("cannot serialise config: {e}")))?;
        private_dir(&self.config_dir).map_err(|source| ConfigError::Io {
            path: self.config_dir.clone(),
            source,
        })?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let written = options.open(&path).and_then(|mut file| {
            use std::io::Write;
            // An older file keeps its mode on open: made private here too.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            file.write_all(text.as_bytes())
        });
        written.map_err(|source| ConfigError::Io { path, source })
    }

    /// Checks names, URLs and limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let sb = &self.sandbox;
        if sb.timeout_secs == 0 || sb.max_timeout_secs < sb.timeout_secs {
            return Err(ConfigError::Invalid(format!(
                "sandbox.timeout_secs ({}) must be at least 1 and at most sandbox.max_timeout_secs ({})",
                sb.timeout_secs, sb.max_timeout_secs
            )));
        }
        if sb.memory_mib < 64 || sb.pids < 16 || sb.cpus.is_nan() || sb.cpus <= 0.0 {
            return Err(ConfigError::Invalid(
                "sandbox limits are too small: memory_mib >= 64, pids >= 16 and cpus > 0 are needed"
                    .into(),
            ));
        }
        for (name, server) in &self.mcp {
            if let Some(problem) = server.problem(name) {
                return Err(ConfigError::Invalid(problem));
            }
        }
        if let Some(mirror) = &self.local.mirror
            && !(mirror.starts_with("http://") || mirror.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "local.mirror must be an http(s) URL, not {mirror:?}"
            )));
        }
        let web = &self.web;
        if web.timeout_secs == 0 || web.max_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "web.timeout_secs must be at least 1 and web.max_bytes at least 1024".into(),
            ));
        }
        if web.search == SearchBackend::Searxng && web.searxng_url.is_none() {
            return Err(ConfigError::Invalid(
                "web.search is \"searxng\" but web.searxng_url is not set".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.providers {
            if p.name.trim().is_empty() {
                return Err(ConfigError::Invalid("a provider has an empty name".into()));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "provider {:?} is defined twice",
                    p.name
                )));
            }
            if p.wire == Wire::Local {
                if p.model.trim().is_empty() {
                    return Err(ConfigError::Invalid(format!(
                        "provider {:?} has no model (an installed model's name or a .gguf path)",
                        p.name
                    )));
                }
                continue;
            }
            let url = reqwest::Url::parse(&p.base_url).map_err(|e| {
                ConfigError::Invalid(format!(
                    "provider {:?}: base_url {:?} is not a URL ({e})",
                    p.name, p.base_url
                ))
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid(format!(
                    "provider {:?}: base_url must start with http:// or https://",
                    p.name
                )));
            }
            if p.model.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "provider {:?} has no model",
                    p.name
                )));
            }
        }
        if let Some(name) = &self.default_provider
            && !self.providers.iter().any(|p| &p.name == name)
        {
            return Err(ConfigError::Invalid(format!(
                "default_provider {name:?} is not among the providers"
            )));
        }
        if self.max_steps == 0 || self.max_steps > 200 {
            return Err(ConfigError::Invalid(
                "max_steps must be between 1 and 200".into(),
            ));
        }
        Ok(())
    }

    /// The provider that answers by default.
    #[must_use]
    pub fn active_provider(&self) -> Option<&ProviderConfig> {
        match &self.default_provider {
            Some(name) => self.providers.iter().find(|p| &p.name == name),
            None => self.providers.first(),
        }
    }

    /// The provider that answers: the active one, else the installed local model (the offline
    /// default), else none.
    #[must_use]
    pub fn effective_provider(&self) -> Option<ProviderConfig> {
        self.active_provider()
            .cloned()
            .or_else(|| crate::offline::implied_provider(self))
    }

    /// The keychain account of a provider's key: its `key_ref` when it is configured, else its name.
    #[must_use]
    pub fn key_account_of(&self, provider: &str) -> String {
        self.providers
            .iter()
            .find(|p| p.name == provider)
            .map_or_else(|| provider.to_owned(), |p| p.key_account().to_owned())
    }

    /// Puts `provider` first and makes it the default (replacing one of the same name).
    pub fn use_provider(&mut self, provider: ProviderConfig) {
        self.providers.retain(|p| p.name != provider.name);
        self.default_provider = Some(provider.name.clone());
        self.providers.insert(0, provider);
    }

    /// The SurrealDB URL of the memory store.
    #[must_use]
    pub fn memory_url(&self) -> String {
        match &self.memory.url {
            Some(url) => url.clone(),
            None => format!("surrealkv://{}", self.data_dir.join("db").display()),
        }
    }

    /// A warning when the memory store is a server reached in the clear (`ws://`, `http://`) off
    /// this machine: its password and every conversation cross the network unencrypted.
    #[must_use]
    pub fn memory_warning(&self) -> Option<String> {
        let url = url::Url::parse(self.memory.url.as_deref()?).ok()?;
        crate::body::plain_off_this_machine(&url).then(|| {
            format!(
                "memory.url {} is not encrypted and not on this machine: the password and every \
                 conversation cross the network in the clear; use wss:// (or https://)",
                crate::secrets::shown_url(url.as_str())
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_config_is_written_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config_dir = dir.path().join("config");
        std::fs::create_dir_all(&config_dir).unwrap();
        std::fs::set_permissions(&config_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(config_dir.join(CONFIG_FILE), "").unwrap();
        std::fs::set_permissions(
            config_dir.join(CONFIG_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        Config::new(config_dir.clone(), dir.path().join("data"))
            .save()
            .unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&config_dir), 0o700);
        assert_eq!(mode(&config_dir.join(CONFIG_FILE)), 0o600);
    }

    #[test]
    fn a_plain_memory_server_off_this_machine_warns() {
        let mut config = Config::new("c".into(), "d".into());
        for (url, warns) in [
            ("ws://db.lan:8000", true),
            ("http://10.0.0.5:8000", true),
            ("ws://127.0.0.1:8000", false),
            ("ws://[::1]:8000", false),
            ("ws://localhost:8000", false),
            ("wss://db.example.com", false),
        ] {
            config.memory.url = Some(url.into());
            assert_eq!(config.memory_warning().is_some(), warns, "{url}");
        }
        config.memory.url = None;
        assert!(config.memory_warning().is_none());
    }

    #[test]
    fn sandbox_section_parses_validates_and_stays_out_when_default() {
        let text = "[sandbox]\nbackend = \"bubblewrap\"\nidle_stop_secs = 30\n";
        let config = Config::parse(text, Path::new("c.toml")).unwrap();
        config.validate().unwrap();
        assert_eq!(config.sandbox.backend, SandboxBackend::Bubblewrap);
        assert_eq!(config.sandbox.idle_stop_secs, 30);
        assert_eq!(
            config.sandbox.timeout_secs, 60,
            "unset keys keep their defaults"
        );

        let bad = Config::parse("[sandbox]\ntimeout_secs = 0\n", Path::new("c.toml")).unwrap();
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("sandbox.timeout_secs"), "{err}");
        let typo = Config::parse("[sandbox]\nbackend = \"podman\"\n", Path::new("c.toml"));
        assert!(typo.unwrap_err().to_string().contains("podman"));

        let plain = Config::new(PathBuf::new(), PathBuf::new());
        assert!(!toml::to_string(&plain).unwrap().contains("sandbox"));
    }

    #[test]
    fn parses_providers_and_policies() {
        let text = r#"
            default_provider = "groq"
            workspace_roots = ["/tmp/work"]
            [[providers]]
            name = "openai"
            wire = "openai"
            base_url = "https://api.openai.com/v1"
            model = "gpt-4o-mini"
            [[providers]]
            name = "groq"
            wire = "openai"
            base_url = "https://api.groq.com/openai/v1"
            model = "llama-3.3-70b-versatile"
            [tools.policy]
            fs_write = "deny"
        "#;
        let mut config = Config::parse(text, Path::new("c.toml")).unwrap();
        config.validate().unwrap();
        assert_eq!(config.active_provider().unwrap().name, "groq");
        assert_eq!(
            config.active_provider().unwrap().key_env_var(),
            "GROQ_API_KEY"
        );
        assert_eq!(config.tools.policy.get("fs_write"), Some(&Policy::Deny));
        assert_eq!(config.max_steps, 16);
        config.default_provider = Some("nope".into());
        assert!(matches!(config.validate(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn rejects_bad_urls_and_unknown_fields() {
        let bad_url = r#"
            [[providers]]
            name = "x"
            wire = "openai"
            base_url = "ftp://host"
            model = "m"
        "#;
        let config = Config::parse(bad_url, Path::new("c.toml")).unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("http://"), "{err}");

        let unknown = "colour = \"red\"";
        let err = Config::parse(unknown, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        let bad_wire = "[[providers]]\nname='x'\nwire='smoke'\nbase_url='http://a'\nmodel='m'";
        assert!(Config::parse(bad_wire, Path::new("c.toml")).is_err());
    }

    #[test]
    fn saves_and_loads_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("cfg"), dir.path().join("data"));
        config.use_provider(ProviderConfig {
            name: "local".into(),
            wire: Wire::Openai,
            base_url: "http://127.0.0.1:11434/v1".into(),
            model: "llama3.2".into(),
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        });
        config.save().unwrap();
        let loaded = Config::load_from(dir.path().join("cfg"), dir.path().join("data")).unwrap();
        assert_eq!(loaded, config);
    }
}
