//! Finding things again: BM25 full-text search with highlighted snippets over every message and
//! tool result, and long-term memories (short facts with tags and their source session) found the
//! same way. The indexes are SurrealDB's own (`FULLTEXT ANALYZER … BM25 HIGHLIGHTS`).

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Value, json};

use super::{MemoryError, Result, Store, decode, document};
use crate::api::{MemoryId, MemoryRecord, SearchHit, SessionId};

/// Largest cosine distance a vector match may have to count as relevant.
const MAX_COSINE_DISTANCE: f64 = 0.6;
/// Characters of context kept on each side of the first match in a snippet.
const SNIPPET_CONTEXT: usize = 80;

/// The text around the first highlighted word, cut on character boundaries.
fn snippet(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let chars: Vec<char> = flat.chars().collect();
    let at = chars.iter().position(|c| *c == '«').unwrap_or(0);
    let start = at.saturating_sub(SNIPPET_CONTEXT);
    let end = (at + SNIPPET_CONTEXT * 2).min(chars.len());
    let mut out: String = chars[start..end].iter().collect();
    // A cut inside a highlighted word is closed.
    if out.matches('«').count() > out.matches('»').count() {
        out.push('»');
    }
    let prefix = if start > 0 { "…" } else { "" };
    let suffix = if end < chars.len() { "…" } else { "" };
    format!("{prefix}{}{suffix}", out.trim())
}

/// The words of a query as a SurrealDB full-text query: each word may match (OR), so a question
/// phrased differently from the stored text still finds it; BM25 ranks those with more words higher.
fn any_word(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
        .map(str::to_lowercase)
        .take(12)
        .collect()
}

impl Store {
    /// Messages and tool results matching `query`, best first.
    pub(crate) async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let words = any_word(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let text = words.join(" ");
        // Rows with every word first (a small intersection, cheap to rank); only when those are
        // too few, rows with any word (a common word can match most of the history, and ranking
        // all of them is what costs). Highlights come after, for the rows kept.
        let (mut messages, mut calls) = self.ranked(&text, "@1@", limit).await?;
        if messages.len() + calls.len() < limit {
            let (more_messages, more_calls) = self.ranked(&text, "@1,OR@", limit).await?;
            for (rows, more) in [(&mut messages, more_messages), (&mut calls, more_calls)] {
                for row in more {
                    if !rows.iter().any(|r| r["uid"] == row["uid"]) {
                        rows.push(row);
                    }
                }
            }
        }
        let ids = |rows: &[Value]| rows.iter().map(|r| r["uid"].clone()).collect::<Vec<_>>();
        let mut res = self
            .db
            .query("SELECT uid, search::highlight('«', '»', 1) AS snippet FROM message WHERE content @1,OR@ $q AND uid IN $m")
            .query("SELECT uid, search::highlight('«', '»', 1) AS snippet FROM tool_call WHERE output @1,OR@ $q AND uid IN $c")
            .bind(json!({ "q": text, "m": ids(&messages), "c": ids(&calls) }))
            .await?
            .check()?;
        for (rows, index) in [(&mut messages, 0), (&mut calls, 1)] {
            let snippets: Vec<Value> = res.take(index)?;
            let by_uid: HashMap<String, String> = snippets
                .into_iter()
                .filter_map(|r| {
                    Some((
                        r["uid"].as_str()?.to_owned(),
                        r["snippet"].as_str()?.to_owned(),
                    ))
                })
                .collect();
            for row in rows.iter_mut() {
                let snippet = row["uid"]
                    .as_str()
                    .and_then(|u| by_uid.get(u))
                    .cloned()
                    .unwrap_or_default();
                row["snippet"] = Value::String(snippet);
            }
        }
        let mut hits: Vec<SearchHit> = Vec::new();
        for row in messages {
            hits.push(SearchHit {
                session: serde_json::from_value(row["session"].clone())
                    .map_err(|e| MemoryError::Corrupt(e.to_string()))?,
                session_title: String::new(),
                message: serde_json::from_value(row["uid"].clone()).ok(),
                tool_call: None,
                role: serde_json::from_value(row["role"].clone()).ok(),
                tool: None,
                snippet: snippet(row["snippet"].as_str().unwrap_or("")),
                score: row["score"].as_f64().unwrap_or(0.0),
            });
        }
        for row in calls {
            hits.push(SearchHit {
                session: serde_json::from_value(row["session"].clone())
                    .map_err(|e| MemoryError::Corrupt(e.to_string()))?,
                session_title: String::new(),
                message: serde_json::from_value(row["message"].clone()).ok(),
                tool_call: serde_json::from_value(row["uid"].clone()).ok(),
                role: None,
                tool: row["tool"].as_str().map(str::to_owned),
                snippet: snippet(row["snippet"].as_str().unwrap_or("")),
                score: row["score"].as_f64().unwrap_or(0.0),
            });
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit);
        let ids: Vec<&SessionId> = hits.iter().map(|h| &h.session).collect();
        let titles: HashMap<String, String> = self
            .rows(
                "SELECT uid, title FROM session WHERE uid IN $ids",
                json!({ "ids": ids }),
            )
            .await?
            .into_iter()
            .filter_map(|r| {
                Some((
                    r["uid"].as_str()?.to_owned(),
                    r["title"].as_str()?.to_owned(),
                ))
            })
            .collect();
        for hit in &mut hits {
            hit.session_title = titles
                .get(hit.session.as_str())
                .cloned()
                .unwrap_or_default();
        }
        Ok(hits)
    }

    /// Messages and tool results matching `text` with the match operator `op`, best first.
    async fn ranked(&self, text: &str, op: &str, limit: usize) -> Result<(Vec<Value>, Vec<Value>)> {
        let mut res = self
            .db
            .query(format!(
                "SELECT uid, session, role, search::score(1) AS score \
                 FROM message WHERE content {op} $q ORDER BY score DESC LIMIT $n"
            ))
            .query(format!(
                "SELECT uid, session, message, tool, search::score(1) AS score \
                 FROM tool_call WHERE output {op} $q AND session != NONE ORDER BY score DESC LIMIT $n"
            ))
            .bind(json!({ "q": text, "n": limit }))
            .await?
            .check()?;
        Ok((res.take(0)?, res.take(1)?))
    }

    // ---- long-term memories ----

    pub(crate) async fn add_memory(
        &self,
        text: &str,
        tags: &[String],
        session: Option<&SessionId>,
    ) -> Result<MemoryRecord> {
        let now = Utc::now();
        let memory = MemoryRecord {
            id: MemoryId::new(),
            text: text.trim().to_owned(),
            tags: tags.to_vec(),
            session: session.cloned(),
            created_at: now,
            updated_at: now,
        };
        self.exec(
            "CREATE memory CONTENT $doc",
            json!({ "doc": document(&memory)? }),
        )
        .await?;
        Ok(memory)
    }

    /// Changes a memory's text and tags; `None` when there is no such memory.
    pub(crate) async fn update_memory(
        &self,
        id: &MemoryId,
        text: &str,
        tags: &[String],
    ) -> Result<Option<MemoryRecord>> {
        let now =
            serde_json::to_value(Utc::now()).map_err(|e| MemoryError::Query(e.to_string()))?;
        let rows = self
            .rows(
                "UPDATE memory SET text = $text, tags = $tags, updated_at = $at, embedding = NONE WHERE uid = $uid RETURN AFTER",
                json!({ "uid": id, "text": text.trim(), "tags": tags, "at": now }),
            )
            .await?;
        Ok(decode(strip_ids(rows))?.into_iter().next())
    }

    /// Deletes a memory; `false` when there was none.
    pub(crate) async fn delete_memory(&self, id: &MemoryId) -> Result<bool> {
        let rows = self
            .rows(
                "DELETE memory WHERE uid = $uid RETURN BEFORE",
                json!({ "uid": id }),
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// Every memory, newest first.
    pub(crate) async fn memories(&self) -> Result<Vec<MemoryRecord>> {
        let rows = self
            .rows(
                "SELECT * OMIT id, embedding FROM memory ORDER BY uid DESC",
                json!({}),
            )
            .await?;
        decode(rows)
    }

    /// Memories relevant to `query`, best first: the nearest by meaning when `vector` (the query's
    /// embedding) is given and memories have vectors, then those sharing words with it.
    pub(crate) async fn recall(
        &self,
        query: &str,
        limit: usize,
        vector: Option<&[f32]>,
    ) -> Result<Vec<MemoryRecord>> {
        let mut found: Vec<MemoryRecord> = Vec::new();
        if let Some(vector) = vector
            && self.vector_dimension().await? == Some(vector.len())
        {
            let rows = self
                .rows(
                    &format!(
                        "SELECT *, vector::distance::knn() AS distance OMIT id, embedding FROM memory WHERE embedding <|{limit},40|> $v ORDER BY distance"
                    ),
                    json!({ "v": vector }),
                )
                .await?;
            // Only what is close enough to be about the same thing.
            let close = |rows: Vec<Value>| -> Vec<Value> {
                rows.into_iter()
                    .filter(|r| {
                        r["distance"]
                            .as_f64()
                            .is_some_and(|d| d <= MAX_COSINE_DISTANCE)
                    })
                    .collect()
            };
            let mut near = close(rows);
            if near.is_empty() {
                // The HNSW index is approximate and takes new vectors in the background: a vector
                // stored a moment ago can be missing from it. An exact pass over the vectors
                // (a person keeps hundreds of memories, not millions) makes sure.
                let exact = self
                    .rows(
                        "SELECT *, 1 - vector::similarity::cosine(embedding, $v) AS distance OMIT id, embedding FROM memory WHERE embedding != NONE ORDER BY distance LIMIT $n",
                        json!({ "v": vector, "n": limit }),
                    )
                    .await?;
                near = close(exact);
            }
            found = decode(near)?;
        }
        let words = any_word(query);
        if !words.is_empty() {
            let rows = self
                .rows(
                    "SELECT *, search::score(1) AS score OMIT id, embedding FROM memory WHERE text @1,OR@ $q ORDER BY score DESC LIMIT $n",
                    json!({ "q": words.join(" "), "n": limit }),
                )
                .await?;
            for memory in decode::<MemoryRecord>(rows)? {
                if !found.iter().any(|m| m.id == memory.id) {
                    found.push(memory);
                }
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// Stores a memory's embedding; the vector index is made with the first vector's dimension.
    pub(crate) async fn set_embedding(&self, id: &MemoryId, vector: &[f32]) -> Result<()> {
        match self.vector_dimension().await? {
            Some(dim) if dim != vector.len() => {
                return Err(MemoryError::Query(format!(
                    "the embeddings have {} dimensions but the memory index has {dim}; delete the index or use the same model",
                    vector.len()
                )));
            }
            Some(_) => {}
            None => {
                self.exec(
                    &format!(
                        "DEFINE INDEX IF NOT EXISTS memory_vector ON memory FIELDS embedding HNSW DIMENSION {} DIST COSINE TYPE F32; UPSERT meta:vectors SET dimension = {};",
                        vector.len(),
                        vector.len()
                    ),
                    json!({}),
                )
                .await?;
            }
        }
        self.exec(
            "UPDATE memory SET embedding = $v WHERE uid = $uid",
            json!({ "uid": id, "v": vector }),
        )
        .await
    }

    async fn vector_dimension(&self) -> Result<Option<usize>> {
        let rows = self
            .rows("SELECT VALUE dimension FROM meta:vectors", json!({}))
            .await?;
        Ok(rows
            .first()
            .and_then(Value::as_u64)
            .and_then(|d| usize::try_from(d).ok()))
    }
}

/// Rows returned by `RETURN AFTER` carry the record id; the API's id is `uid`.
fn strip_ids(rows: Vec<Value>) -> Vec<Value> {
    rows.into_iter()
        .map(|mut r| {
            if let Some(o) = r.as_object_mut() {
                o.remove("id");
            }
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        MessageId, MessageRecord, MessageStatus, Role, ToolCallId, ToolCallRecord, ToolStatus,
    };

    async fn store() -> Store {
        Store::open("mem://").await.unwrap()
    }

    async fn say(store: &Store, session: &SessionId, role: Role, text: &str) -> MessageId {
        let id = MessageId::new();
        store
            .insert_message(
                session,
                &MessageRecord {
                    id: id.clone(),
                    role,
                    content: text.into(),
                    tool_calls: vec![],
                    images: vec![],
                    thinking: String::new(),
                    status: MessageStatus::Complete,
                    created_at: Utc::now(),
                },
            )
            .await
            .unwrap();
        id
    }

    #[test]
    fn snippets_are_cut_around_the_first_match() {
        let long = format!(
            "{} the «needle» here {}",
            "a ".repeat(100),
            "b ".repeat(100)
        );
        let s = snippet(&long);
        assert!(
            s.starts_with('…') && s.ends_with('…') && s.contains("«needle»"),
            "{s}"
        );
        assert!(s.chars().count() < 260, "{s}");
        assert_eq!(snippet("short «hit»\nline"), "short «hit» line");
    }

    #[tokio::test]
    async fn history_search_ranks_highlights_and_names_sessions() {
        let store = store().await;
        let trip = SessionId::new();
        let code = SessionId::new();
        store.create_session(&trip, "Trip to Lisbon").await.unwrap();
        store
            .create_session(&code, "Fixing the build")
            .await
            .unwrap();
        say(
            &store,
            &trip,
            Role::User,
            "Find me a hotel in Lisbon near the river",
        )
        .await;
        let answer = say(
            &store,
            &trip,
            Role::Assistant,
            "Here are three hotels by the Tagus river in Lisbon.",
        )
        .await;
        say(
            &store,
            &trip,
            Role::User,
            "Lisbon trams are yellow, I heard",
        )
        .await;
        say(
            &store,
            &code,
            Role::User,
            "The build fails with a linker error",
        )
        .await;
        for filler in [
            "What time is it in Tokyo?",
            "Summarise this article about bees",
            "Write a haiku about autumn",
            "Convert 30 euros to dollars",
            "Explain how a compiler works",
            "List three kinds of bread",
        ] {
            say(&store, &code, Role::User, filler).await;
        }
        store
            .save_tool_call(
                Some(&code),
                &ToolCallRecord {
                    id: ToolCallId::new(),
                    message: Some(answer.clone()),
                    tool: "shell".into(),
                    arguments: "{}".into(),
                    status: ToolStatus::Succeeded,
                    output: "error: linking with `cc` failed: exit status: 1".into(),
                    log: String::new(),
                },
            )
            .await
            .unwrap();

        let hits = store.search("hotels Lisbon", 10).await.unwrap();
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert!(
            hits.iter()
                .all(|h| h.session == trip && h.session_title == "Trip to Lisbon")
        );
        // Both words rank above one word; BM25 scores are positive once words are rare enough.
        assert!(
            hits[0].score >= hits[1].score && hits[1].score > hits[2].score,
            "{hits:?}"
        );
        assert!(hits[2].snippet.contains("trams"), "{hits:?}");
        assert!(
            hits[..2]
                .iter()
                .any(|h| h.message.as_ref() == Some(&answer))
        );
        assert!(hits[0].snippet.contains("«Lisbon»"), "{:?}", hits[0]);
        // Stemming: "failing" finds "fails" in a message and "failed" in a tool result.
        let hits = store.search("failing", 10).await.unwrap();
        assert!(
            hits.iter()
                .any(|h| h.tool.as_deref() == Some("shell") && h.snippet.contains("«failed»")),
            "{hits:?}"
        );
        assert!(
            hits.iter()
                .any(|h| h.role == Some(Role::User) && h.snippet.contains("«fails»")),
            "{hits:?}"
        );
        assert!(store.search("submarine", 10).await.unwrap().is_empty());
        assert!(store.search("  ", 10).await.unwrap().is_empty());
        // Deleting a session removes it from the results.
        store.delete_session(&trip).await.unwrap();
        assert!(store.search("Lisbon", 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn memories_are_kept_recalled_edited_and_forgotten() {
        let store = store().await;
        let session = SessionId::new();
        let cat = store
            .add_memory(
                "The person's cat is called Miso.",
                &["pets".into()],
                Some(&session),
            )
            .await
            .unwrap();
        store
            .add_memory("They prefer answers in British English.", &[], None)
            .await
            .unwrap();
        store
            .add_memory(
                "Their main project is written in Rust.",
                &["work".into()],
                None,
            )
            .await
            .unwrap();
        let all = store.memories().await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].session.as_ref(), Some(&session));

        let found = store
            .recall("what is my cat's name?", 5, None)
            .await
            .unwrap();
        assert_eq!(
            found.first().map(|m| m.id.clone()),
            Some(cat.id.clone()),
            "{found:?}"
        );
        let found = store
            .recall("which language is the project in", 5, None)
            .await
            .unwrap();
        assert!(found[0].text.contains("Rust"), "{found:?}");
        assert!(
            store
                .recall("quantum chromodynamics", 5, None)
                .await
                .unwrap()
                .is_empty()
        );

        let edited = store
            .update_memory(
                &cat.id,
                "The person's cat is called Mochi.",
                &["pets".into()],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(edited.text, "The person's cat is called Mochi.");
        assert!(edited.updated_at >= edited.created_at);
        assert!(store.recall("Mochi", 5, None).await.unwrap()[0].id == cat.id);
        assert!(store.recall("Miso", 5, None).await.unwrap().is_empty());
        assert!(store.delete_memory(&cat.id).await.unwrap());
        assert!(!store.delete_memory(&cat.id).await.unwrap());
        assert!(
            store
                .update_memory(&cat.id, "x", &[])
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.memories().await.unwrap().len(), 2);
    }
}
