//! Errors of starting and talking to the engine; each says how to recover.

use crate::config::ConfigError;
use crate::store::MemoryError;

/// Why the engine could not start or accept a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configuration is unusable: fix the file or the flags (fatal until fixed).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated (fatal; the message says what to do).
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The process hosting the data folder's engine cannot be reached or become this one (the
    /// message says why and what to do).
    #[error("{0}")]
    Host(String),
    /// The engine task ended; start a new engine.
    #[error("the engine has stopped")]
    EngineDied,
}

/// A result of the engine's public functions.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
