//! A conversation as stored: the messages of a session (the person's, with the row of the answer
//! to come, in one write; an answer appended to in parts as it streams, joined and put in the
//! history search once final) and the tool calls made in it, read back together for a turn or a
//! loaded session.

use chrono::Utc;
use serde_json::{Value, json};

use super::fulltext;
use super::recent::Conversation;
use super::{MemoryError, Result, Store, decode, document, now_ms};
use crate::api::{
    Attachment, MessageId, MessageRecord, MessageStatus, SessionId, SessionSummary, ToolCallRecord,
    ToolCallRequest, Usage,
};

/// A session's messages, oldest first.
const MESSAGES: &str = "SELECT * OMIT id FROM message WHERE session = $s ORDER BY uid";

/// The stored parts of streaming answers, in order.
const PARTS: &str = "SELECT message, at, text FROM message_part WHERE message IN $ids ORDER BY at";

/// Text a streaming answer's checkpoint stored: it follows the answer's first `at` bytes.
#[derive(serde::Deserialize)]
struct Part {
    message: MessageId,
    at: usize,
    text: String,
}

/// Puts a part after the text before it: where it starts, or (overlapping what is there) only its
/// new end. A part past the end (one before it lost) still goes on: the text kept matters most.
fn join_part(content: &mut String, at: usize, text: &str) {
    if at >= content.len() {
        content.push_str(text);
    } else if let Some(new) = text.get(content.len() - at..) {
        content.push_str(new);
    }
}

/// Puts the parts of the message `id` (of `parts`, in order) after its text.
fn join_parts(content: &mut String, id: &str, parts: &[Part]) {
    for part in parts.iter().filter(|p| p.message.as_str() == id) {
        join_part(content, part.at, &part.text);
    }
}

/// A message's document as stored: its fields, with its session.
fn message_doc(session: &SessionId, message: &MessageRecord) -> Result<Value> {
    let mut doc = document(message)?;
    doc["session"] = json!(session);
    Ok(doc)
}

/// Runs a transaction, and again when it conflicted with a write to the same records meanwhile
/// (it was rolled back whole, so trying again is safe): at most 5 more times, 20 ms to 320 ms
/// apart.
async fn retrying<T, F, Fut>(mut run: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        match run().await {
            Err(e) if attempt < 5 && e.to_string().to_lowercase().contains("transaction") => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10 << attempt)).await;
            }
            other => return other,
        }
    }
}

/// What the history search finds a stored message (its document) by: its text and the names and
/// text of the files attached to it.
pub(super) fn searched_text(doc: &Value) -> String {
    let mut text = doc["content"].as_str().unwrap_or_default().to_owned();
    for file in doc["attachments"].as_array().into_iter().flatten() {
        for part in ["name", "text"] {
            text.push('\n');
            text.push_str(file[part].as_str().unwrap_or_default());
        }
    }
    text
}

/// How the engine marked a file attached to a message before version 7 of the schema.
pub(super) const OLD_ATTACHMENT_OPEN: &str = "\n\n<attachment name=\"";
const OLD_ATTACHMENT_CLOSE: &str = "\n</attachment>";

/// A message text written before version 7: the person's text and the files attached after it,
/// or `None` when it holds no attachment blocks in the shape the engine wrote them.
pub(super) fn split_old_attachments(content: &str) -> Option<(String, Vec<Attachment>)> {
    let start = content.find(OLD_ATTACHMENT_OPEN)?;
    let blocks = content[start + OLD_ATTACHMENT_OPEN.len()..].strip_suffix(OLD_ATTACHMENT_CLOSE)?;
    let between = format!("{OLD_ATTACHMENT_CLOSE}{OLD_ATTACHMENT_OPEN}");
    let files = blocks
        .split(between.as_str())
        .map(|block| {
            let (name, text) = block.split_once("\">\n")?;
            Some(Attachment {
                name: name.to_owned(),
                text: text.to_owned(),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((content[..start].to_owned(), files))
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
        let text = searched_text(doc);
        self.index_message(field("uid"), field("session"), field("role"), &text)
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
        // The session's title may be written meanwhile (after the first answer).
        let mut res = retrying(|| async {
            Ok(self
                .db
                .query("BEGIN TRANSACTION")
                .query("INSERT INTO message $docs RETURN NONE")
                .query("UPDATE session SET updated_at = $at, updated_ms = $ms WHERE uid = $uid RETURN uid, title, created_at, updated_at")
                .query("COMMIT TRANSACTION")
                .bind(json!({ "docs": docs, "uid": session, "at": at, "ms": now_ms(now) }))
                .await?
                .check()?)
        })
        .await?;
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

    /// Stores more of a streaming answer's text: `text` follows its first `at` bytes. Only the
    /// new text is written, as a row of its own: rewriting the whole answer at each checkpoint put
    /// a copy of it in SurrealKV's value log each time, never reclaimed while the log file holds a
    /// live value (a 122 KB answer's 1,000 checkpoints left 63 MB on disk).
    pub(crate) async fn append_message_text(
        &self,
        session: &SessionId,
        id: &MessageId,
        at: usize,
        text: &str,
    ) -> Result<()> {
        // Noted before the write: one that fails may still have stored its part.
        if let Ok(mut p) = self.parted.lock() {
            p.insert(id.clone());
        }
        let written = self
            .exec(
                "CREATE message_part CONTENT $part",
                json!({ "part": { "message": id, "session": session, "at": at, "text": text } }),
            )
            .await;
        self.noted(written, |recent| {
            recent.change_message(id, |m| join_part(&mut m.content, at, text));
        })
    }

    /// The stored parts of the answers `ids`, in order.
    async fn parts(&self, ids: &[impl serde::Serialize]) -> Result<Vec<Part>> {
        let rows = self.rows(PARTS, json!({ "ids": ids })).await?;
        rows.into_iter()
            .map(|row| serde_json::from_value(row).map_err(|e| MemoryError::Corrupt(e.to_string())))
            .collect()
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
        usage: Option<Usage>,
    ) -> Result<()> {
        let written = self
            .store_message_update(id, content, tool_calls, status, usage)
            .await;
        self.noted(written, |recent| {
            recent.change_message(id, |m| {
                content.clone_into(&mut m.content);
                tool_calls.clone_into(&mut m.tool_calls);
                m.status = status;
                m.usage = usage;
            });
        })
    }

    async fn store_message_update(
        &self,
        id: &MessageId,
        content: &str,
        tool_calls: &[ToolCallRequest],
        status: MessageStatus,
        usage: Option<Usage>,
    ) -> Result<()> {
        const UPDATE: &str = "UPDATE message SET content = $content, tool_calls = $calls, status = $status, usage = $usage WHERE uid = $uid RETURN session, role";
        let vars = json!({
            "uid": id,
            "content": content,
            "calls": tool_calls,
            "status": status,
            "usage": usage,
        });
        // The whole text replaces the parts stored as it streamed, in the same transaction.
        let parted = self.parted.lock().is_ok_and(|p| p.contains(id));
        let rows: Vec<Value> = if parted {
            let mut res = retrying(|| async {
                Ok(self
                    .db
                    .query("BEGIN TRANSACTION")
                    .query(UPDATE)
                    .query("DELETE message_part WHERE message = $uid")
                    .query("COMMIT TRANSACTION")
                    .bind(vars.clone())
                    .await?
                    .check()?)
            })
            .await?;
            // The UPDATE's rows: the statement after BEGIN.
            let rows = res.take(1)?;
            if let Ok(mut p) = self.parted.lock() {
                p.remove(id);
            }
            rows
        } else {
            self.rows(UPDATE, vars).await?
        };
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
        let mut messages: Vec<MessageRecord> = decode(messages)?;
        // An answer streaming now (or left streaming by a crash) has the rest of its text in parts.
        let streaming: Vec<&MessageId> = messages
            .iter()
            .filter(|m| m.status == MessageStatus::Streaming)
            .map(|m| &m.id)
            .collect();
        if !streaming.is_empty() {
            let parts = self.parts(&streaming).await?;
            for m in &mut messages {
                join_parts(&mut m.content, m.id.as_str(), &parts);
            }
        }
        Ok((messages, decode(calls)?))
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

    /// Ends the answers a crash or a kill left streaming (cancelled, their text and its stored
    /// parts joined and kept) and puts them in the history search, which gets a streaming answer
    /// only once it is final.
    pub(crate) async fn recover_interrupted(&self) -> Result<()> {
        let written = async {
            let mut rows = self
                .rows(
                    "SELECT uid, session, role, content, attachments FROM message WHERE status = 'streaming'",
                    json!({}),
                )
                .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let ids: Vec<Value> = rows.iter().map(|row| row["uid"].clone()).collect();
            let parts = self.parts(&ids).await?;
            for row in &mut rows {
                let mut content = row["content"].as_str().unwrap_or_default().to_owned();
                join_parts(&mut content, row["uid"].as_str().unwrap_or_default(), &parts);
                row["content"] = json!(content);
            }
            self.db
                .query("BEGIN TRANSACTION")
                .query("FOR $m IN $rows { UPDATE message SET content = $m.content, status = 'cancelled' WHERE uid = $m.uid AND status = 'streaming' }")
                .query("DELETE message_part WHERE message IN $ids")
                .query("COMMIT TRANSACTION")
                .bind(json!({ "rows": rows, "ids": ids }))
                .await?
                .check()?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Role;
    use crate::store::tests::{message, on_disk};
    use crate::store::wait_closed;

    fn answer_row() -> MessageRecord {
        MessageRecord {
            status: MessageStatus::Streaming,
            ..message(Role::Assistant, "")
        }
    }

    async fn part_rows(store: &Store) -> usize {
        store
            .rows("SELECT VALUE at FROM message_part", json!({}))
            .await
            .unwrap()
            .len()
    }

    fn disk_size(path: &std::path::Path) -> u64 {
        std::fs::read_dir(path)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    disk_size(&entry.path())
                } else {
                    meta.len()
                }
            })
            .sum()
    }

    #[test]
    fn parts_join_in_place_whatever_overlaps() {
        let mut text = String::from("Hello");
        join_part(&mut text, 5, ", wor");
        join_part(&mut text, 7, "world");
        assert_eq!(text, "Hello, world");
        // Wholly there already: nothing added.
        join_part(&mut text, 0, "Hello");
        assert_eq!(text, "Hello, world");
        // Past a lost part: kept all the same.
        join_part(&mut text, 20, "!");
        assert_eq!(text, "Hello, world!");
        // An overlap that would split a character adds nothing rather than panic.
        let mut text = String::from("é");
        join_part(&mut text, 1, "éa");
        assert_eq!(text, "é");
    }

    /// Each checkpoint stores only its new text; the answer reads whole from memory and from the
    /// database while it streams, and its final write joins the parts away in one transaction.
    #[tokio::test]
    async fn a_streaming_answer_is_stored_in_parts_and_joined_when_it_ends() {
        let (_dir, url) = on_disk();
        let store = Store::open(&url).await.unwrap();
        let s = SessionId::new();
        store.create_session(&s, "New chat").await.unwrap();
        let answer = answer_row();
        store.insert_message(&s, &answer).await.unwrap();
        for (at, text) in [(0, "Hel"), (3, "lo, "), (7, "wombat")] {
            store
                .append_message_text(&s, &answer.id, at, text)
                .await
                .unwrap();
        }
        assert_eq!(part_rows(&store).await, 3);
        // The row itself was not rewritten.
        let row = store
            .rows(
                "SELECT VALUE content FROM message WHERE uid = $uid",
                json!({ "uid": answer.id }),
            )
            .await
            .unwrap();
        assert_eq!(row, vec![json!("")]);
        assert_eq!(
            store.messages(&s).await.unwrap()[0].content,
            "Hello, wombat"
        );
        let (read, _) = store.read_conversation(&s).await.unwrap();
        assert_eq!(read[0].content, "Hello, wombat");
        assert_eq!(read[0].status, MessageStatus::Streaming);
        assert!(store.search("wombat", 5).await.unwrap().is_empty());

        store
            .update_message(
                &answer.id,
                "Hello, wombat!",
                &[],
                MessageStatus::Complete,
                None,
            )
            .await
            .unwrap();
        assert_eq!(part_rows(&store).await, 0);
        let (read, _) = store.read_conversation(&s).await.unwrap();
        assert_eq!(read[0].content, "Hello, wombat!");
        assert_eq!(read[0].status, MessageStatus::Complete);
        let hits = store.search("wombat", 5).await.unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");

        // Deleting the session takes the parts of an answer it was streaming.
        let other = answer_row();
        store.insert_message(&s, &other).await.unwrap();
        store
            .append_message_text(&s, &other.id, 0, "half")
            .await
            .unwrap();
        assert!(store.delete_session(&s).await.unwrap());
        assert_eq!(part_rows(&store).await, 0);
    }

    /// After a crash, an answer's parts are in no one's memory: reading joins them, and the
    /// recovery at the next start writes the joined text, ends the answer and deletes its parts.
    #[tokio::test]
    async fn a_crash_leaves_parts_that_recovery_joins() {
        let (dir, url) = on_disk();
        let s = SessionId::new();
        let answer = answer_row();
        {
            let store = Store::open(&url).await.unwrap();
            store.create_session(&s, "New chat").await.unwrap();
            store.insert_message(&s, &answer).await.unwrap();
            store
                .append_message_text(&s, &answer.id, 0, "partial ")
                .await
                .unwrap();
            store
                .append_message_text(&s, &answer.id, 8, "okapi")
                .await
                .unwrap();
        }
        wait_closed(Some(dir.path().join("db").join("LOCK"))).await;
        let store = Store::open(&url).await.unwrap();
        let (read, _) = store.read_conversation(&s).await.unwrap();
        assert_eq!(read[0].content, "partial okapi");
        store.recover_interrupted().await.unwrap();
        assert_eq!(part_rows(&store).await, 0);
        let (read, _) = store.read_conversation(&s).await.unwrap();
        assert_eq!(read[0].content, "partial okapi");
        assert_eq!(read[0].status, MessageStatus::Cancelled);
        let hits = store.search("okapi", 5).await.unwrap();
        assert_eq!(hits[0].message.as_ref(), Some(&answer.id));
        // Nothing left to recover: a second start changes nothing.
        store.recover_interrupted().await.unwrap();
        assert_eq!(store.read_conversation(&s).await.unwrap().0, read);
    }

    /// A long answer checkpointed many times takes about its own size on disk. Rewriting it whole
    /// at each checkpoint left a copy per checkpoint in the value log (a 125 KB answer in 500
    /// checkpoints: about 31 MB).
    #[tokio::test]
    async fn many_checkpoints_of_a_long_answer_do_not_multiply_it_on_disk() {
        let (dir, url) = on_disk();
        let s = SessionId::new();
        let answer = answer_row();
        let mut text = String::new();
        {
            let store = Store::open(&url).await.unwrap();
            store.create_session(&s, "New chat").await.unwrap();
            store.insert_message(&s, &answer).await.unwrap();
            for i in 0..500 {
                let at = text.len();
                let more = format!("{i:0250}");
                text.push_str(&more);
                store
                    .append_message_text(&s, &answer.id, at, &more)
                    .await
                    .unwrap();
            }
            store
                .update_message(&answer.id, &text, &[], MessageStatus::Complete, None)
                .await
                .unwrap();
            assert_eq!(store.messages(&s).await.unwrap()[0].content, text);
        }
        wait_closed(Some(dir.path().join("db").join("LOCK"))).await;
        let size = disk_size(&dir.path().join("db"));
        assert!(
            size < 10 * text.len() as u64,
            "{size} bytes on disk for an answer of {}",
            text.len()
        );
    }
}
