//! The offline model: GGUF files kept in the data folder (the model manager) and run in-process,
//! so Aetheria answers and calls tools with no network and no other program installed.

pub(crate) mod catalog;
pub(crate) mod prompt;
pub(crate) mod runtime;
pub(crate) mod select;
pub(crate) mod store;
pub(crate) mod vocab;

use std::path::{Path, PathBuf};

use crate::config::{Config, ProviderConfig, Wire};

/// Why a local model could not be added, loaded or run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LocalError {
    /// The file is not a usable model, or the runtime failed.
    #[error("{0}")]
    Model(String),
    /// The model is of a kind the built-in runtime does not run.
    #[error("{0}")]
    Unsupported(String),
    /// The tool-call grammar could not be built or followed.
    #[error("the tool-call grammar failed: {0}")]
    Grammar(String),
    /// The prompt does not fit.
    #[error(
        "the prompt has {prompt} tokens, which exceeds the model's context length of {window} tokens"
    )]
    ContextLength {
        /// Prompt tokens.
        prompt: usize,
        /// The model's window.
        window: usize,
    },
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A download failed.
    #[error("{0}")]
    Download(String),
    /// The file is not the one expected.
    #[error("checksum mismatch: expected sha256 {expected}, got {actual}; nothing was added")]
    Checksum {
        /// What the person gave.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// No model of that name.
    #[error("no local model named {0:?}; `aetheria models list` shows the installed ones")]
    NotFound(String),
    /// A name that cannot be a file name.
    #[error("{0}")]
    Name(String),
    /// The disk lacks room for it.
    #[error("{0}")]
    NoRoom(String),
    /// The install was stopped.
    #[error("the install of {0:?} was stopped; nothing was kept")]
    Stopped(String),
}

impl From<crate::fetch::FetchError> for LocalError {
    fn from(e: crate::fetch::FetchError) -> Self {
        match e {
            crate::fetch::FetchError::Io { path, source } => Self::Io { path, source },
            crate::fetch::FetchError::Download(message) => Self::Download(message),
            e @ crate::fetch::FetchError::NoRoom { .. } => Self::NoRoom(e.to_string()),
            // The caller knows the name and says which install stopped.
            crate::fetch::FetchError::Cancelled => Self::Stopped(String::new()),
        }
    }
}

impl LocalError {
    pub(crate) fn model(e: impl std::fmt::Display) -> Self {
        Self::Model(e.to_string())
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The kind of failure for the typed API.
    pub(crate) fn kind(&self) -> crate::api::ErrorKind {
        use crate::api::ErrorKind;
        match self {
            Self::NotFound(_) => ErrorKind::Missing,
            Self::Download(_) => ErrorKind::Unavailable,
            Self::Io { .. } | Self::Model(_) | Self::Grammar(_) | Self::ContextLength { .. } => {
                ErrorKind::Internal
            }
            Self::Unsupported(_) | Self::Checksum { .. } | Self::Name(_) => ErrorKind::Invalid,
            Self::NoRoom(_) => ErrorKind::Conflict,
            Self::Stopped(_) => ErrorKind::Cancelled,
        }
    }
}

/// The installs under way, by the name each installs as, so a front end can stop one.
pub(crate) type Installs = crate::stoppable::Stoppable<String>;

/// Where installed models live.
pub(crate) fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

/// The installed model that answers offline: the configured `local.default_model` while it is
/// installed, else the first installed model.
pub(crate) fn default_model<'a>(
    config: &Config,
    models: &'a [crate::api::LocalModelInfo],
) -> Option<&'a crate::api::LocalModelInfo> {
    let chosen = config.local.default_model.as_ref();
    chosen
        .and_then(|name| models.iter().find(|m| &m.name == name))
        .or_else(|| models.first())
}

/// The provider of the offline default (see `default_model`). Its context window is the model's.
pub(crate) fn implied_provider(config: &Config) -> Option<ProviderConfig> {
    let models = store::list(&models_dir(&config.data_dir)).ok()?;
    let model = default_model(config, &models)?;
    Some(ProviderConfig {
        name: "local".into(),
        wire: Wire::Local,
        base_url: String::new(),
        model: model.name.clone(),
        key_env: None,
        key_ref: None,
        context_window: Some(model.context_length),
        vision: None,
    })
}

/// Sizes the thread pool the built-in model's kernels run on to `threads`. candle runs them on a
/// process-wide pool of its own, sized once, at the first model run, from `CANDLE_NUM_THREADS`
/// (else every physical core, each spinning while it waits): the `[local] threads` setting reaches
/// it only this way. A value already in the environment is kept. Call it first thing in `main`,
/// before any other thread starts: the environment is not safe to change once others may read it.
#[allow(unsafe_code)]
pub fn size_model_threads(threads: usize) {
    if std::env::var_os("CANDLE_NUM_THREADS").is_some() {
        return;
    }
    // SAFETY: the caller runs this before any other thread of the process exists (see above),
    // so nothing reads the environment while it changes.
    unsafe { std::env::set_var("CANDLE_NUM_THREADS", threads.max(1).to_string()) };
}
