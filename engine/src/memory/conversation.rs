//! A conversation as stored: the messages of a session (the person's, with the row of the answer
//! to come, in one write; an answer updated as it streams, and put in the history search once
//! final) and the tool calls made in it, read back together for a turn or a loaded session.

use chrono::Utc;
use serde_json::{Value, json};

use super::fulltext;
use super::recent::Conversation;
use super::{MemoryError, Result, Store, decode, document, now_ms};
use crate::api::{
    MessageId, MessageRecord, MessageStatus, SessionId, SessionSummary, ToolCallRecord,
    ToolCallRequest,
};

/// A session's messages, oldest first.
const MESSAGES: &str = "SELECT * OMIT id FROM message WHERE session = $s ORDER BY uid";

/// A message's document as stored: its fields, with its session.
fn message_doc(session: &SessionId, message: &MessageRecord) -> Result<Value> {
    let mut doc = document(message)?;
    doc["session"] = json!(session);
    Ok(doc)
}

impl Store {
    /// Stores a message as it is (the row of a later step's answer, or a message written whole).
    pub(crate) async fn insert_message(
        &self,
        session: &SessionId,
        message: &MessageRecord,
    ) -> Result<()> {
        let written = async {
            let doc = message_doc(session, message)?;
            self.exec("CREATE message CONTENT $doc", json!({ "doc": doc }))
                .await?;
            self.index_stored(&doc)
        }
        .await;
        self.noted(written, |recent| recent.put_messages(session, [message]))
    }

    /// Puts a stored message (its document) in the history search.
    fn index_stored(&self, doc: &Value) -> Result<()> {
        let field = |name: &str| doc[name].as_str().unwrap_or_default();
        self.index_message(
            field("uid"),
            field("session"),
            field("role"),
            field("content"),
        )
    }

    /// Puts a message's text in the history search.
    fn index_message(&self, uid: &str, session: &str, role: &str, text: &str) -> Result<()> {
        self.history.put(&fulltext::Entry {
            kind: fulltext::Kind::Message,
            uid,
            session,
            parent: None,
            label: role,
            text,
        })
    }

    /// Stores what the person said, with the row of the answer to come when given (it is
    /// streaming, with no text yet), and touches its session: one transaction, one commit. Returns
    /// the session as it is now.
    pub(crate) async fn add_user_message(
        &self,
        session: &SessionId,
        message: &MessageRecord,
        answer: Option<&MessageRecord>,
    ) -> Result<Option<SessionSummary>> {
        let written = self.store_user_message(session, message, answer).await;
        self.noted(written, |recent| {
            recent.put_messages(session, [Some(message), answer].into_iter().flatten());
        })
    }

    async fn store_user_message(
        &self,
        session: &SessionId,
        message: &MessageRecord,
        answer: Option<&MessageRecord>,
    ) -> Result<Option<SessionSummary>> {
        // Both messages in one INSERT: every statement here is part of each turn's fixed cost.
        let doc = message_doc(session, message)?;
        let answer = answer.map(|a| message_doc(session, a)).transpose()?;
        let docs: Vec<&Value> = std::iter::once(&doc).chain(answer.as_ref()).collect();
        let now = Utc::now();
        let at = serde_json::to_value(now).map_err(|e| MemoryError::Query(e.to_string()))?;
        let mut res = self
            .db
            .query("BEGIN TRANSACTION")
            .query("INSERT INTO message $docs RETURN NONE")
            .query("UPDATE session SET updated_at = $at, updated_ms = $ms WHERE uid = $uid RETURN uid, title, created_at, updated_at")
            .query("COMMIT TRANSACTION")
            .bind(json!({ "docs": docs, "uid": session, "at": at, "ms": now_ms(now) }))
            .await?
            .check()?;
        // The UPDATE's rows: the statement before COMMIT.
        let rows: Vec<Value> = res.take(res.num_statements().saturating_sub(2))?;
        // The answer goes in the history search once it has its text (`update_message`).
        self.index_stored(&doc)?;
        Ok(decode(rows)?.into_iter().next())
    }

    /// Deletes one message (an answer's row the turn ended before using).
    pub(crate) async fn delete_message(&self, id: &MessageId) -> Result<()> {
        let written = self
            .exec("DELETE message WHERE uid = $uid", json!({ "uid": id }))
            .await;
        self.noted(written, |recent| recent.remove_message(id))
    }

    /// Keeps the model's reasoning of an assistant message.
    pub(crate) async fn set_thinking(&self, id: &MessageId, thinking: &str) -> Result<()> {
        let written = self
            .exec(
                "UPDATE message SET thinking = $thinking WHERE uid = $uid",
                json!({ "uid": id, "thinking": thinking }),
            )
            .await;
        self.noted(written, |recent| {
            recent.change_message(id, |m| thinking.clone_into(&mut m.thinking));
        })
    }

    /// Sets an assistant message's text, tool calls and status. The history search gets the text
    /// once it is final: a streaming answer is written every moment and would be indexed again,
    /// whole, each time (the recovery at start indexes one a crash left behind).
    pub(crate) async fn update_message(
        &self,
        id: &MessageId,
        content: &str,
        tool_calls: &[ToolCallRequest],
        status: MessageStatus,
    ) -> Result<()> {
        let written = self
            .store_message_update(id, content, tool_calls, status)
            .await;
        self.noted(written, |recent| {
            recent.change_message(id, |m| {
                content.clone_into(&mut m.content);
                tool_calls.clone_into(&mut m.tool_calls);
                m.status = status;
            });
        })
    }

    async fn store_message_update(
        &self,
        id: &MessageId,
        content: &str,
        tool_calls: &[ToolCallRequest],
        status: MessageStatus,
    ) -> Result<()> {
        let rows = self
            .rows(
                "UPDATE message SET content = $content, tool_calls = $calls, status = $status WHERE uid = $uid RETURN session, role",
                json!({
                    "uid": id,
                    "content": content,
                    "calls": tool_calls,
                    "status": status,
                }),
            )
            .await?;
        if status == MessageStatus::Streaming {
            return Ok(());
        }
        for row in rows {
            let field = |name: &str| row[name].as_str().unwrap_or_default();
            self.index_message(id.as_str(), field("session"), field("role"), content)?;
        }
        Ok(())
    }

    /// A session's messages and tool calls (a turn reads both before it asks the model, and so
    /// does loading a session): from memory when kept there (`recent`), else in one query.
    pub(crate) async fn conversation(&self, session: &SessionId) -> Result<Conversation> {
        let Some(recent) = &self.recent else {
            return self.read_conversation(session).await;
        };
        if let Some(kept) = recent.get(session) {
            return Ok(kept);
        }
        let writes = recent.writes();
        let read = self.read_conversation(session).await?;
        recent.read(session, writes, read.clone());
        Ok(read)
    }

    /// A session's conversation as the database has it.
    pub(super) async fn read_conversation(&self, session: &SessionId) -> Result<Conversation> {
        let mut res = self
            .db
            .query(MESSAGES)
            .query("SELECT * OMIT id FROM tool_call WHERE session = $s ORDER BY uid")
            .bind(json!({ "s": session }))
            .await?
            .check()?;
        let messages: Vec<Value> = res.take(0)?;
        let calls: Vec<Value> = res.take(1)?;
        Ok((decode(messages)?, decode(calls)?))
    }

    pub(crate) async fn messages(&self, session: &SessionId) -> Result<Vec<MessageRecord>> {
        Ok(self.conversation(session).await?.0)
    }

    pub(crate) async fn save_tool_call(
        &self,
        session: Option<&SessionId>,
        call: &ToolCallRecord,
    ) -> Result<()> {
        let written = self.store_tool_call(session, call).await;
        self.noted(written, |recent| recent.put_call(session, call))
    }

    async fn store_tool_call(
        &self,
        session: Option<&SessionId>,
        call: &ToolCallRecord,
    ) -> Result<()> {
        let mut doc = document(call)?;
        doc["session"] = json!(session);
        let exists = self
            .rows(
                "SELECT VALUE uid FROM tool_call WHERE uid = $uid",
                json!({ "uid": call.id }),
            )
            .await?;
        let sql = if exists.is_empty() {
            "CREATE tool_call CONTENT $doc"
        } else {
            "UPDATE tool_call CONTENT $doc WHERE uid = $uid"
        };
        self.exec(sql, json!({ "doc": doc, "uid": call.id }))
            .await?;
        // Tool calls of a job outside any session are not part of the history.
        if let Some(session) = session {
            self.history.put(&fulltext::Entry {
                kind: fulltext::Kind::ToolCall,
                uid: call.id.as_str(),
                session: session.as_str(),
                parent: call.message.as_ref().map(MessageId::as_str),
                label: &call.tool,
                text: &call.output,
            })?;
        }
        Ok(())
    }

    /// Ends the answers a crash or a kill left streaming (cancelled, their text kept) and puts
    /// them in the history search, which gets a streaming answer only once it is final.
    pub(crate) async fn recover_interrupted(&self) -> Result<()> {
        let written = async {
            let rows = self
                .rows(
                    "UPDATE message SET status = 'cancelled' WHERE status = 'streaming' RETURN uid, session, role, content",
                    json!({}),
                )
                .await?;
            rows.iter().try_for_each(|row| self.index_stored(row))
        }
        .await;
        self.noted(written, super::recent::Recent::forget_all)
    }

    /// Tells `recent` what a write of a conversation did: `apply` when it succeeded; when it
    /// failed, what it left is unknown and everything kept is forgotten.
    pub(super) fn noted<T>(
        &self,
        written: Result<T>,
        apply: impl FnOnce(&super::recent::Recent),
    ) -> Result<T> {
        if let Some(recent) = &self.recent {
            match &written {
                Ok(_) => apply(recent),
                Err(_) => recent.forget_all(),
            }
        }
        written
    }
}
