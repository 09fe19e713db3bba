//! API types of remembering: a hit of the history search, and a long-term memory.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MemoryId, MessageId, Role, SessionId, ToolCallId};

/// One place in the history where a search matched: a message, or a tool call's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The session it is in.
    pub session: SessionId,
    /// That session's title.
    pub session_title: String,
    /// The message that matched, or the message whose tool call matched.
    pub message: Option<MessageId>,
    /// The tool call whose result matched.
    pub tool_call: Option<ToolCallId>,
    /// Who wrote the message (none for a tool result).
    pub role: Option<Role>,
    /// The tool, for a tool result.
    pub tool: Option<String>,
    /// The text around the match; matched words are wrapped in « and ».
    pub snippet: String,
    /// BM25 relevance (higher is better).
    pub score: f64,
}

/// A short fact Aetheria keeps across sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRecord {
    /// Its id.
    pub id: MemoryId,
    /// The fact.
    pub text: String,
    /// Words to group and find it by.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The session it was learned in.
    #[serde(default)]
    pub session: Option<SessionId>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}
