//! Aetheria's engine: everything that thinks, remembers and acts, behind one typed API
//! (`api::Command` in, `api::Event` out). It names no GUI type; the app, the CLI and the worker are
//! front ends of the same API.
#![warn(missing_docs)]

pub use aetheria_protocol as api;
pub mod config;
pub mod doctor;
mod engine;
mod error;
pub mod jobs;
pub mod secrets;

mod accounts;
mod agent;
mod body;
mod compaction;
mod fetch;
mod handlers;
pub mod host;
mod offline;
mod outbox;
mod platform;
mod provider;
mod router;
mod sandboxes;
mod services;
mod settings;
mod stoppable;
mod store;
mod tool;
mod turns;
mod voice;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use crate::tool::builtin::sign_in::SignInError;

/// Signing in to Google Drive (OAuth for installed apps with PKCE; the CLI's `aetheria auth drive`).
pub mod drive {
    pub use crate::tool::builtin::drive::oauth::{Pending, SCOPE, start};
}

/// Images kept with the person's messages, for front ends that show or export them: read only
/// from the data folder's attachments, whatever a stored record names.
pub mod images {
    pub use crate::agent::attachments::{
        image_type as media_type, read_image as read, stored_image as stored,
    };
}

/// Signing in to GitHub with the OAuth device flow (the CLI's `aetheria auth github`).
pub mod github {
    pub use crate::tool::builtin::github::{DeviceCode, device};
}

pub use engine::{Engine, Events, Handle};
pub use error::{EngineError, Result};
pub use offline::size_model_threads;
