//! API types that describe what the engine has: the sandbox, models (remote and installed),
//! tools, and the workspace's files.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Effect, Policy};

/// Which sandbox runs code, and whether it is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxStatus {
    /// `docker` or `bubblewrap`; none when code cannot run here.
    pub backend: Option<String>,
    /// Whether code can run now (the image exists).
    pub ready: bool,
    /// The image this version uses.
    pub image: String,
    /// Whether the image's root filesystem is cached on this machine.
    pub rootfs_cached: bool,
    /// A sentence for the person: what runs code, or what to do.
    pub detail: String,
}

/// A model a provider offers, with what it can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The id to put in the provider's `model`.
    pub id: String,
    /// A name for people.
    pub display_name: String,
    /// Prompt plus answer, in tokens.
    pub context_window: u64,
    /// Whether it calls tools.
    pub tools: bool,
    /// Whether it takes images.
    pub vision: bool,
}

/// A model of the built-in catalogue: a small model the offline runtime runs well, pinned by the
/// sha256 of its file, downloaded from where its publisher put it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogModel {
    /// The name it is installed as.
    pub name: String,
    /// A name for people.
    pub display_name: String,
    /// The model family (`SmolLM2`, `Llama 3.2`).
    pub family: String,
    /// How the weights are stored in the file (`Q4_K_M`…).
    pub quantization: String,
    /// The file's size.
    pub size_bytes: u64,
    /// Its licence.
    pub licence: String,
    /// sha256 of the file, hex: the download is refused when it differs.
    pub sha256: String,
    /// Where it downloads from.
    pub url: String,
    /// Whether a model of this name is installed.
    pub installed: bool,
}

/// An installed local model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalModelInfo {
    /// Its name (the provider's `model` with the `local` wire).
    pub name: String,
    /// Where the file is.
    pub path: PathBuf,
    /// The name inside the file.
    #[serde(default)]
    pub display_name: String,
    /// The model family (`llama`).
    pub architecture: String,
    /// How the weights are stored (`Q8_0`…).
    pub quantization: String,
    /// The format it was converted from at install, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<String>,
    /// File size.
    pub size_bytes: u64,
    /// Longest prompt plus answer, in tokens.
    pub context_length: u64,
    /// The file path or URL it came from.
    pub source: String,
    /// sha256 of the file as fetched, hex.
    pub sha256: String,
    /// When it was installed.
    pub added_at: DateTime<Utc>,
}

/// A sandbox as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSummary {
    /// Its id (the container id for Docker).
    pub id: String,
    /// The session it belongs to (`direct` for tool calls outside a session).
    pub name: String,
    /// Whether it runs now.
    pub running: bool,
    /// The backend's status words.
    pub status: String,
    /// `docker` or `bubblewrap`.
    pub backend: String,
}

/// A tool as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Its name.
    pub name: String,
    /// What family it is of.
    pub kind: ToolKind,
    /// What it does.
    pub description: String,
    /// What it can change.
    pub effect: Effect,
    /// Its policy now.
    pub policy: Policy,
    /// The JSON schema of its arguments.
    pub schema: serde_json::Value,
}

/// What family a tool is of, so a front end can place its calls (code runs on the Sandbox tab)
/// without knowing tool names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// Reads or changes files in the workspace folders.
    Files,
    /// Runs a program in the sandbox.
    Code,
    /// Manages the sandbox itself (its network).
    Sandbox,
    /// Searches or reads the web.
    Web,
    /// Long-term memory.
    Memory,
    /// An outside service: GitHub, Google Drive, Vercel.
    Service,
    /// A tool of an MCP server.
    Mcp,
}

/// What a workspace entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A folder (or, at the top with several roots, a workspace folder).
    Dir,
    /// A symbolic link (not followed).
    Link,
}

/// One entry of a workspace folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: FileKind,
    /// Its size in bytes (0 for folders and links).
    pub size: u64,
}
