//! API types of the tool belt: the scope an approval can be remembered for, and MCP servers' state.

use serde::{Deserialize, Serialize};

/// Where an MCP server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McpState {
    /// Not needed yet (servers start when their tools are first needed).
    NotStarted,
    /// Connected; its tools are offered.
    Running,
    /// It did not start, or it stopped answering; see `error`. Tried again on next use.
    Failed,
    /// Turned off in the settings.
    Disabled,
}

/// An MCP server as the settings screen and `aetheria mcp list` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServerInfo {
    /// Its name (the prefix of its tools' names).
    pub name: String,
    /// The command line or URL.
    pub target: String,
    /// Whether it is on.
    pub enabled: bool,
    /// Where it stands.
    pub state: McpState,
    /// Its tools' full names.
    pub tools: Vec<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How often it was started again after it exited.
    pub restarts: u32,
    /// The last lines it wrote to stderr (redacted).
    pub stderr: Vec<String>,
}

/// Part of a tool an approval can be remembered for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalScope {
    /// A workspace path prefix or a web site.
    pub kind: ScopeKind,
    /// The suggested prefix or site, e.g. `https://example.com` ("" is the whole workspace).
    pub value: String,
}

/// What an `ApprovalScope` limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// Paths under a folder of the workspace.
    Path,
    /// A web site (scheme, host and port; a named host with its subdomains).
    Site,
}
