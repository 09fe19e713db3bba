//! Finding things again: BM25 full-text search with highlighted snippets over every message and
//! tool result (the tantivy index of `fulltext`), and long-term memories (short facts with tags
//! and their source session) found by meaning (the exact scan of `vectors`) or by their words
//! (SurrealDB's `FULLTEXT ANALYZER … BM25`: memories are few and short).

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Value, json};

use super::count::MemoryCount;
use super::fulltext::Kind;
use super::{MemoryError, Result, Store, decode, document};
use crate::api::{MemoryId, MemoryRecord, SearchHit, SessionId};

/// Largest cosine distance a vector match may have to count as relevant.
const MAX_COSINE_DISTANCE: f64 = 0.6;
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
        if self.shared_index_is_stale() {
            self.rebuild_search_index().await?;
        }
        let index = self.history.clone();
        let query = query.to_owned();
        let found = tokio::task::spawn_blocking(move || index.search(&query, limit))
            .await
            .map_err(|e| MemoryError::Query(e.to_string()))??;
        fn id<T: serde::de::DeserializeOwned>(s: &str) -> serde_json::Result<T> {
            serde_json::from_value(Value::String(s.to_owned()))
        }
        let mut hits = Vec::with_capacity(found.len());
        for f in found {
            let session =
                id(&f.session).map_err(|e| MemoryError::Corrupt(format!("search index: {e}")))?;
            let (message, tool_call, role, tool) = match f.kind {
                Kind::Message => (id(&f.uid).ok(), None, id(&f.label).ok(), None),
                Kind::ToolCall => (
                    f.parent.as_deref().and_then(|p| id(p).ok()),
                    id(&f.uid).ok(),
                    None,
                    Some(f.label),
                ),
            };
            hits.push(SearchHit {
                session,
                session_title: String::new(),
                message,
                tool_call,
                role,
                tool,
                snippet: f.snippet,
                score: f64::from(f.score),
            });
        }
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
        let doc = document(&memory)?;
        let writing = self.memory_counter.as_deref().map(MemoryCount::writing);
        self.exec("CREATE memory CONTENT $doc", json!({ "doc": doc }))
            .await?;
        if let Some(writing) = writing {
            writing.changed(1);
        }
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
        self.vectors.remove(id.as_str());
        Ok(decode(strip_ids(rows))?.into_iter().next())
    }

    /// Deletes a memory; `false` when there was none.
    pub(crate) async fn delete_memory(&self, id: &MemoryId) -> Result<bool> {
        let writing = self.memory_counter.as_deref().map(MemoryCount::writing);
        let rows = self
            .rows(
                "DELETE memory WHERE uid = $uid RETURN BEFORE",
                json!({ "uid": id }),
            )
            .await?;
        if let Some(writing) = writing {
            writing.changed(-i64::from(!rows.is_empty()));
        }
        self.vectors.remove(id.as_str());
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

    /// Memories relevant to `query`, best first: the nearest by meaning when `embed` gives the
    /// query's embedding and memories have vectors of its length, then those sharing words with
    /// it. `embed` is called only when there are memories: an embeddings endpoint is not asked at
    /// every turn of a person who keeps none. The vectors' length is read only once there is a
    /// vector (without an endpoint, a turn makes no query for it).
    pub(crate) async fn recall(
        &self,
        query: &str,
        limit: usize,
        embed: impl AsyncFnOnce() -> Option<Vec<f32>>,
    ) -> Result<Vec<MemoryRecord>> {
        if self.memory_count().await? == Some(0) {
            return Ok(Vec::new());
        }
        let mut found: Vec<MemoryRecord> = Vec::new();
        if let Some(vector) = embed().await
            && self.vector_dimension().await? == Some(vector.len())
        {
            self.load_vectors().await?;
            let vectors = self.vectors.clone();
            let near = tokio::task::spawn_blocking(move || vectors.nearest(&vector, limit))
                .await
                .map_err(|e| MemoryError::Query(e.to_string()))?
                .unwrap_or_default();
            // Only what is close enough to be about the same thing.
            let near: Vec<(String, f32)> = near
                .into_iter()
                .filter(|(_, d)| f64::from(*d) <= MAX_COSINE_DISTANCE)
                .collect();
            if !near.is_empty() {
                let ids: Vec<&str> = near.iter().map(|(id, _)| id.as_str()).collect();
                let rows = self
                    .rows(
                        "SELECT * OMIT id, embedding FROM memory WHERE uid IN $ids",
                        json!({ "ids": ids }),
                    )
                    .await?;
                let mut records: Vec<MemoryRecord> = decode(rows)?;
                let rank = |m: &MemoryRecord| ids.iter().position(|id| *id == m.id.as_str());
                records.sort_by_key(|m| rank(m).unwrap_or(usize::MAX));
                found = records;
            }
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
                    "UPSERT meta:vectors SET dimension = $n",
                    json!({ "n": vector.len() }),
                )
                .await?;
            }
        }
        self.exec(
            "UPDATE memory SET embedding = $v WHERE uid = $uid",
            json!({ "uid": id, "v": vector }),
        )
        .await?;
        self.vectors.put(id.as_str(), vector);
        Ok(())
    }

    /// Reads every stored vector into memory: once, and again after SHARED_INDEX_AGE when other
    /// machines write to the same server.
    pub(crate) async fn load_vectors(&self) -> Result<()> {
        let fresh = || {
            self.vectors.loaded_at().is_some_and(|at| {
                self.shared_since.is_none() || at.elapsed() < super::SHARED_INDEX_AGE
            })
        };
        if fresh() {
            return Ok(());
        }
        let _loading = self.vectors.loading.lock().await;
        if fresh() {
            return Ok(());
        }
        let Some(dim) = self.vector_dimension().await? else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let rows = self
            .rows(
                "SELECT uid, embedding FROM memory WHERE embedding != NONE",
                json!({}),
            )
            .await?;
        let vectors = self.vectors.clone();
        let n = rows.len();
        tokio::task::spawn_blocking(move || {
            vectors.load(
                dim,
                rows.into_iter().filter_map(|mut r| {
                    let id = r["uid"].as_str()?.to_owned();
                    let v: Vec<f32> = serde_json::from_value(r["embedding"].take()).ok()?;
                    Some((id, v))
                }),
            );
        })
        .await
        .map_err(|e| MemoryError::Query(e.to_string()))?;
        tracing::info!(
            vectors = n,
            ms = started.elapsed().as_millis(),
            "memory vectors loaded"
        );
        Ok(())
    }

    /// How many memories there are, for a store only this process writes (`None` for a server):
    /// read once, then kept by the writes.
    async fn memory_count(&self) -> Result<Option<u64>> {
        let Some(count) = &self.memory_counter else {
            return Ok(None);
        };
        let (known, writes) = count.known();
        if known.is_some() {
            return Ok(known);
        }
        let rows = self
            .rows("SELECT count() AS n FROM memory GROUP ALL", json!({}))
            .await?;
        let n = rows.first().and_then(|r| r["n"].as_u64()).unwrap_or(0);
        count.read(writes, n);
        Ok(Some(n))
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
    use crate::api::{MessageId, MessageRecord, Role, ToolCallId, ToolCallRecord, ToolStatus};

    async fn store() -> Store {
        Store::open("mem://").await.unwrap()
    }

    /// Recall by words alone (no embeddings endpoint), at most 5.
    async fn words(store: &Store, query: &str) -> Vec<MemoryRecord> {
        store.recall(query, 5, async || None).await.unwrap()
    }

    /// A store with no memories answers a recall without searching; the count follows adds and
    /// deletes, and read again from the database it is the same.
    #[tokio::test]
    async fn the_number_of_memories_follows_the_writes() {
        let store = store().await;
        let read_again = |store: &Store| drop(store.memory_counter.as_ref().unwrap().writing());
        assert!(words(&store, "cat").await.is_empty());
        assert_eq!(store.memory_count().await.unwrap(), Some(0));
        let cat = store
            .add_memory("The cat is called Tom", &[], None)
            .await
            .unwrap();
        assert_eq!(store.memory_count().await.unwrap(), Some(1));
        let found = words(&store, "what is my cat called").await;
        assert_eq!(found[0].id, cat.id);
        for i in 0..3 {
            store
                .add_memory(&format!("fact {i}"), &[], None)
                .await
                .unwrap();
        }
        assert_eq!(store.memory_count().await.unwrap(), Some(4));
        read_again(&store);
        assert_eq!(store.memory_counter.as_ref().unwrap().known().0, None);
        assert_eq!(store.memory_count().await.unwrap(), Some(4));
        assert!(store.delete_memory(&cat.id).await.unwrap());
        assert!(!store.delete_memory(&cat.id).await.unwrap());
        assert_eq!(store.memory_count().await.unwrap(), Some(3));
        read_again(&store);
        assert_eq!(store.memory_count().await.unwrap(), Some(3));
        assert!(words(&store, "cat").await.is_empty());
    }

    async fn say(store: &Store, session: &SessionId, role: Role, text: &str) -> MessageId {
        let id = MessageId::new();
        store
            .insert_message(
                session,
                &MessageRecord {
                    id: id.clone(),
                    ..crate::store::tests::message(role, text)
                },
            )
            .await
            .unwrap();
        id
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
                    images: Vec::new(),
                    id: ToolCallId::new(),
                    message: Some(answer.clone()),
                    tool: "shell".into(),
                    kind: None,
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

        let found = words(&store, "what is my cat's name?").await;
        assert_eq!(
            found.first().map(|m| m.id.clone()),
            Some(cat.id.clone()),
            "{found:?}"
        );
        let found = words(&store, "which language is the project in").await;
        assert!(found[0].text.contains("Rust"), "{found:?}");
        assert!(words(&store, "quantum chromodynamics").await.is_empty());

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
        assert!(words(&store, "Mochi").await[0].id == cat.id);
        assert!(words(&store, "Miso").await.is_empty());
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
