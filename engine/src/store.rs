//! The store: the whole database — the embedded SurrealDB (on disk by default, in memory for
//! tests, or a server by URL) that keeps sessions, messages, tool calls, remembered tool policies and long-term memories
//! (searched in `recall`), with a schema version and migrations from the first release. Every
//! message (once final) and tool result is also put in the full-text index of `fulltext`.

use std::collections::HashMap;
use std::sync::Arc;

mod conversation;
mod count;
pub(crate) mod embed;
mod fulltext;
mod recall;
mod recent;
mod vectors;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use surrealdb::Surreal;
use surrealdb::engine::any::Any;

use crate::api::{Policy, SessionId, SessionSummary};

/// The schema this build writes. Bump it with a new step in `MIGRATIONS`.
pub(crate) const SCHEMA_VERSION: i64 = 7;

/// Each step takes the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    r"
    DEFINE TABLE IF NOT EXISTS session SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS session_uid ON session FIELDS uid UNIQUE;
    DEFINE TABLE IF NOT EXISTS message SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS message_uid ON message FIELDS uid UNIQUE;
    DEFINE INDEX IF NOT EXISTS message_session ON message FIELDS session;
    DEFINE TABLE IF NOT EXISTS tool_call SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS tool_call_uid ON tool_call FIELDS uid UNIQUE;
    DEFINE INDEX IF NOT EXISTS tool_call_session ON tool_call FIELDS session;
    DEFINE TABLE IF NOT EXISTS tool_policy SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS tool_policy_tool ON tool_policy FIELDS tool UNIQUE;
    DEFINE TABLE IF NOT EXISTS meta SCHEMALESS;
",
    r"
    DEFINE TABLE IF NOT EXISTS tool_grant SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS tool_grant_key ON tool_grant FIELDS tool, scope.kind, scope.value UNIQUE;
",
    r"
    DEFINE ANALYZER IF NOT EXISTS words TOKENIZERS blank, class FILTERS lowercase, ascii, snowball(english);
    DEFINE INDEX IF NOT EXISTS message_text ON message FIELDS content FULLTEXT ANALYZER words BM25 HIGHLIGHTS;
    DEFINE INDEX IF NOT EXISTS tool_call_text ON tool_call FIELDS output FULLTEXT ANALYZER words BM25 HIGHLIGHTS;
    DEFINE TABLE IF NOT EXISTS memory SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS memory_uid ON memory FIELDS uid UNIQUE;
    DEFINE INDEX IF NOT EXISTS memory_text ON memory FIELDS text FULLTEXT ANALYZER words BM25 HIGHLIGHTS;
    DEFINE TABLE IF NOT EXISTS job SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS job_uid ON job FIELDS uid UNIQUE;
    DEFINE INDEX IF NOT EXISTS job_state ON job FIELDS state;
    DEFINE TABLE IF NOT EXISTS schedule SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS schedule_uid ON schedule FIELDS uid UNIQUE;
",
    // History search moved to the tantivy index (`fulltext`), built from these tables.
    r"
    REMOVE INDEX IF EXISTS message_text ON message;
    REMOVE INDEX IF EXISTS tool_call_text ON tool_call;
",
    // Recall by meaning moved to an exact scan in memory (`vectors`); the vectors stay here.
    r"
    REMOVE INDEX IF EXISTS memory_vector ON memory;
",
    // A streaming answer's checkpoints append its new text here instead of rewriting the whole
    // answer each time (`conversation`); its parts are joined into `message` when it ends.
    r"
    DEFINE TABLE IF NOT EXISTS message_part SCHEMALESS;
    DEFINE INDEX IF NOT EXISTS message_part_message ON message_part FIELDS message;
",
    // A message's attached files are kept apart from its text (`attachments`): the files older
    // messages held inline, in `<attachment>` blocks, are moved out first (`move_attachments`).
    "",
];

/// The schema version whose step moves attached files out of messages' text.
const ATTACHMENTS_APART: usize = 6;

/// Why memory failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// The store could not be opened (locked by another process, corrupt, unreachable).
    #[error(
        "cannot open the database at {url}: {message}. If another Aetheria process is running, close it; if the files are damaged, move the folder aside and start again (nothing is deleted for you)"
    )]
    Open {
        /// Where.
        url: String,
        /// What SurrealDB said.
        message: String,
    },
    /// The database was written by a newer Aetheria.
    #[error(
        "the database uses schema version {found}, newer than this Aetheria understands ({supported}); update Aetheria. Nothing was changed"
    )]
    TooNew {
        /// The version found.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A query failed.
    #[error("database error: {0}")]
    Query(String),
    /// A stored record did not have the expected shape.
    #[error("a stored record is damaged: {0}")]
    Corrupt(String),
}

impl From<surrealdb::Error> for MemoryError {
    fn from(e: surrealdb::Error) -> Self {
        Self::Query(e.to_string())
    }
}

type Result<T, E = MemoryError> = std::result::Result<T, E>;

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    db: Surreal<Any>,
    /// The on-disk store's lock file; free again once the store has closed.
    lock_file: Option<std::path::PathBuf>,
    /// The full-text index of messages and tool results.
    history: Arc<fulltext::HistoryIndex>,
    /// The memories' embeddings, for recall by meaning.
    vectors: Arc<vectors::Vectors>,
    /// For a store on a server (others write to it too): when the index was last built from it.
    shared_since: Option<Arc<std::sync::Mutex<std::time::Instant>>>,
    /// Sessions known to exist, for a store only this process writes (on disk, locked, or in
    /// memory): a turn checks its session without a query. `None` for a server, where other
    /// machines delete sessions too.
    known: Option<Arc<std::sync::Mutex<std::collections::HashSet<SessionId>>>>,
    /// The conversations read or written lately, for a store only this process writes: a turn
    /// reads its history from memory. `None` for a server.
    recent: Option<Arc<recent::Recent>>,
    /// How many memories there are, for a store only this process writes: none → no search.
    memory_counter: Option<Arc<count::MemoryCount>>,
    /// The streaming answers this process stored parts of (`append_message_text`): their final
    /// write also deletes the parts. A crash's leftovers are joined by `recover_interrupted`.
    parted: Arc<std::sync::Mutex<std::collections::HashSet<crate::api::MessageId>>>,
}

/// How old the index of a shared server's history may get before a search builds it again.
const SHARED_INDEX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

fn now_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Rows keep their own id in `uid` (the record id is SurrealDB's); it is `id` again when read.
fn decode<T: DeserializeOwned>(rows: Vec<Value>) -> Result<Vec<T>> {
    rows.into_iter()
        .map(|mut row| {
            if let Some(obj) = row.as_object_mut()
                && let Some(uid) = obj.remove("uid")
            {
                obj.insert("id".into(), uid);
            }
            serde_json::from_value(row).map_err(|e| MemoryError::Corrupt(e.to_string()))
        })
        .collect()
}

/// A record as stored: the value's fields, with its id moved to `uid`.
fn document<T: serde::Serialize>(value: &T) -> Result<Value> {
    let mut doc = serde_json::to_value(value).map_err(|e| MemoryError::Query(e.to_string()))?;
    if let Some(obj) = doc.as_object_mut()
        && let Some(id) = obj.remove("id")
    {
        obj.insert("uid".into(), id);
    }
    Ok(doc)
}

/// Waits (at most 3 s) until a dropped on-disk store has closed: SurrealDB closes it in a background
/// task, and a process that exits first leaves it to be recovered on the next open.
pub(crate) async fn wait_closed(lock_file: Option<std::path::PathBuf>) {
    let Some(lock_file) = lock_file else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&lock_file)
        else {
            return;
        };
        if file.try_lock().is_ok() {
            let _ = file.unlock();
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tracing::warn!("the database did not close within 3 s");
}

/// How an embedded database keeps house. One process opens it, so the cluster chores SurrealDB
/// does for many nodes run seldom: the node's heartbeat every 20 s (a node is taken for dead
/// after 30 s without one), the check for dead nodes each minute, the change-feed clean-up every
/// 5 minutes (its defaults are 3 s, 15 s and 30 s: an idle app woke its database for them all the
/// time). Servers ignore these.
fn local_options() -> surrealdb::opt::Config {
    use std::time::Duration;
    surrealdb::opt::Config::new()
        .node_membership_refresh_interval(Duration::from_secs(20))
        .node_membership_check_interval(Duration::from_secs(60))
        .changefeed_gc_interval(Duration::from_secs(300))
}

impl Store {
    /// Opens the store the configuration names: for a server, signed in as `memory.user` with the
    /// password from the keychain (or `AETHERIA_MEMORY_PASSWORD`).
    pub(crate) async fn open_configured(
        config: &crate::config::Config,
        secrets: &crate::secrets::Secrets,
    ) -> Result<Self> {
        let url = config.memory_url();
        if let Some(warning) = config.memory_warning() {
            tracing::warn!("{warning}");
        }
        let Some(user) = config.memory.user.clone() else {
            return Self::open(&url).await;
        };
        let account = config
            .memory
            .key_ref
            .clone()
            .unwrap_or_else(|| "surrealdb".to_owned());
        let password = match std::env::var("AETHERIA_MEMORY_PASSWORD") {
            Ok(p) if !p.is_empty() => {
                secrets.redactor().learn(&p);
                Some(p)
            }
            _ => {
                // Through the engine's keychain accessor: its redactor learns the password.
                let (acct, secrets) = (account.clone(), secrets.clone());
                tokio::task::spawn_blocking(move || secrets.get(&acct))
                    .await
                    .map_err(|e| MemoryError::Query(e.to_string()))?
                    .map_err(|e| MemoryError::Open {
                        url: crate::secrets::shown_url(&url),
                        message: format!("the keychain did not answer ({e})"),
                    })?
            }
        };
        let Some(password) = password else {
            return Err(MemoryError::Open {
                url: crate::secrets::shown_url(&url),
                message: format!(
                    "memory.user is set but no password is stored: run `aetheria auth set {account}` (or set AETHERIA_MEMORY_PASSWORD)"
                ),
            });
        };
        Self::open_as(&url, Some((user, password))).await
    }

    /// Opens (creating when needed) the store at `url` and brings its schema up to date.
    pub(crate) async fn open(url: &str) -> Result<Self> {
        Self::open_as(url, None).await
    }

    /// `open`, signed in first as a root user of a server.
    async fn open_as(url: &str, auth: Option<(String, String)>) -> Result<Self> {
        if let Some(path) = url.strip_prefix("surrealkv://")
            && let Err(e) = std::fs::create_dir_all(path)
        {
            return Err(MemoryError::Open {
                url: crate::secrets::shown_url(url),
                message: e.to_string(),
            });
        }
        let open_err = |e: surrealdb::Error| MemoryError::Open {
            url: crate::secrets::shown_url(url),
            message: e.to_string(),
        };
        // A store closed a moment ago (same process, or an app that is quitting) releases its lock
        // asynchronously: wait a little for it before reporting the store as busy.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let db = loop {
            match surrealdb::engine::any::connect((url, local_options())).await {
                Ok(db) => break db,
                Err(e)
                    if e.to_string().contains("already locked")
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => return Err(open_err(e)),
            }
        };
        if let Some((username, password)) = auth {
            db.signin(surrealdb::opt::auth::Root { username, password })
                .await
                .map_err(open_err)?;
        }
        db.use_ns("aetheria")
            .use_db("main")
            .await
            .map_err(open_err)?;
        let lock_file = url
            .strip_prefix("surrealkv://")
            .map(|path| std::path::Path::new(path).join("LOCK"));
        // On disk beside an on-disk store; in memory (built at each open) for the others. A
        // server's history is also written by other machines: its index is built again when a
        // search finds it older than SHARED_INDEX_AGE.
        let index_dir = url
            .strip_prefix("surrealkv://")
            .map(|path| std::path::PathBuf::from(format!("{}-search", path.trim_end_matches('/'))));
        let (history, rebuild) = fulltext::HistoryIndex::open(index_dir.as_deref())?;
        let shared = ["ws://", "wss://", "http://", "https://"]
            .iter()
            .any(|p| url.starts_with(p));
        let store = Self {
            db,
            lock_file,
            history,
            vectors: Arc::default(),
            shared_since: shared
                .then(|| Arc::new(std::sync::Mutex::new(std::time::Instant::now()))),
            known: (!shared).then(Arc::default),
            recent: (!shared).then(Arc::default),
            memory_counter: (!shared).then(Arc::default),
            parted: Arc::default(),
        };
        store.migrate().await?;
        if rebuild {
            store.rebuild_search_index().await?;
        }
        Ok(store)
    }

    /// Rebuilds the full-text index from the messages and tool results; how many it now holds.
    pub(crate) async fn rebuild_search_index(&self) -> Result<usize> {
        let started = std::time::Instant::now();
        let mut res = self
            .db
            .query("SELECT uid, session, role, content, attachments FROM message")
            .query(
                "SELECT uid, session, message, tool, output FROM tool_call WHERE session != NONE",
            )
            .await?
            .check()?;
        let messages: Vec<Value> = res.take(0)?;
        let calls: Vec<Value> = res.take(1)?;
        let history = self.history.clone();
        let n = tokio::task::spawn_blocking(move || {
            let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
            let rows: Vec<_> = messages
                .iter()
                .map(|m| {
                    (
                        fulltext::Kind::Message,
                        s(m, "uid"),
                        s(m, "session"),
                        None,
                        s(m, "role"),
                        conversation::searched_text(m),
                    )
                })
                .chain(calls.iter().map(|c| {
                    (
                        fulltext::Kind::ToolCall,
                        s(c, "uid"),
                        s(c, "session"),
                        c["message"].as_str().map(str::to_owned),
                        s(c, "tool"),
                        s(c, "output"),
                    )
                }))
                .collect();
            history.rebuild(
                rows.iter().map(
                    |(kind, uid, session, parent, label, text)| fulltext::Entry {
                        kind: *kind,
                        uid,
                        session,
                        parent: parent.as_deref(),
                        label,
                        text,
                    },
                ),
            )
        })
        .await
        .map_err(|e| MemoryError::Query(e.to_string()))??;
        if let Some(since) = &self.shared_since {
            *since
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = started;
        }
        tracing::info!(
            texts = n,
            ms = started.elapsed().as_millis(),
            "search index rebuilt"
        );
        Ok(n)
    }

    /// Whether the store is on a server and its index was built too long ago.
    fn shared_index_is_stale(&self) -> bool {
        self.shared_since.as_ref().is_some_and(|since| {
            since
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .elapsed()
                > SHARED_INDEX_AGE
        })
    }

    /// Where the on-disk store's lock lives (none for memory or a server).
    pub(crate) fn lock_file(&self) -> Option<std::path::PathBuf> {
        self.lock_file.clone()
    }

    async fn schema_version(&self) -> Result<i64> {
        let mut res = self
            .db
            .query("DEFINE TABLE IF NOT EXISTS meta SCHEMALESS")
            .query("SELECT VALUE version FROM meta:schema")
            .await?
            .check()?;
        let found: Vec<Value> = res.take(1)?;
        match found.first() {
            None | Some(Value::Null) => Ok(0),
            Some(v) => v
                .as_i64()
                .ok_or_else(|| MemoryError::Corrupt(format!("schema version {v}"))),
        }
    }

    async fn migrate(&self) -> Result<()> {
        let found = self.schema_version().await?;
        if found > SCHEMA_VERSION {
            return Err(MemoryError::TooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (from, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let to = from as i64 + 1;
            tracing::info!(from, to, "migrating database schema");
            if from == ATTACHMENTS_APART {
                self.move_attachments().await?;
            }
            self.db
                .query("BEGIN TRANSACTION")
                .query(*step)
                .query("UPSERT meta:schema SET version = $v")
                .query("COMMIT TRANSACTION")
                .bind(json!({ "v": to }))
                .await?
                .check()?;
        }
        Ok(())
    }

    /// Moves the files older user messages held inline (`<attachment name="…">…</attachment>`
    /// blocks after the text, as the engine wrote them before version 7) into `attachments`.
    /// A message is rewritten only when it parses whole, so running it again changes nothing.
    async fn move_attachments(&self) -> Result<()> {
        let rows = self
            .rows(
                "SELECT uid, content FROM message WHERE role = 'user' AND string::contains(content, $open)",
                json!({ "open": conversation::OLD_ATTACHMENT_OPEN }),
            )
            .await?;
        for row in rows {
            let Some((text, files)) =
                conversation::split_old_attachments(row["content"].as_str().unwrap_or_default())
            else {
                continue;
            };
            self.exec(
                "UPDATE message SET content = $text, attachments = $files WHERE uid = $uid",
                json!({ "text": text, "files": files, "uid": row["uid"] }),
            )
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn rows(&self, sql: &str, vars: Value) -> Result<Vec<Value>> {
        let mut res = self.db.query(sql).bind(vars).await?.check()?;
        Ok(res.take(0)?)
    }

    pub(crate) async fn exec(&self, sql: &str, vars: Value) -> Result<()> {
        self.db.query(sql).bind(vars).await?.check()?;
        Ok(())
    }

    // ---- sessions ----

    pub(crate) async fn create_session(
        &self,
        id: &SessionId,
        title: &str,
    ) -> Result<SessionSummary> {
        let now = Utc::now();
        let summary = SessionSummary {
            id: id.clone(),
            title: title.to_owned(),
            created_at: now,
            updated_at: now,
        };
        let mut doc = document(&summary)?;
        doc["updated_ms"] = json!(now_ms(now));
        self.exec("CREATE session CONTENT $doc", json!({ "doc": doc }))
            .await?;
        self.know(id, true);
        if let Some(recent) = &self.recent {
            recent.made(id);
        }
        Ok(summary)
    }

    pub(crate) async fn session(&self, id: &SessionId) -> Result<Option<SessionSummary>> {
        let rows = self
            .rows(
                "SELECT * OMIT id FROM session WHERE uid = $uid",
                json!({ "uid": id }),
            )
            .await?;
        let found: Option<SessionSummary> = decode(rows)?.into_iter().next();
        if found.is_some() {
            self.know(id, true);
        }
        Ok(found)
    }

    /// Whether a session exists. A store only this process writes answers from what it knows
    /// (every message sent asks this before its turn starts); a server is asked each time.
    pub(crate) async fn session_exists(&self, id: &SessionId) -> Result<bool> {
        let known = self
            .known
            .as_ref()
            .and_then(|known| known.lock().ok())
            .is_some_and(|known| known.contains(id));
        Ok(known || self.session(id).await?.is_some())
    }

    /// Forgets the conversations kept in memory and the number of memories, after a write that
    /// went around the store's own methods.
    #[cfg(feature = "testkit")]
    pub(crate) fn forget_kept(&self) {
        if let Some(recent) = &self.recent {
            recent.forget_all();
        }
        if let Some(count) = &self.memory_counter {
            count.forget();
        }
    }

    /// Notes that a session exists, or no longer does.
    fn know(&self, id: &SessionId, exists: bool) {
        let Some(mut known) = self.known.as_ref().and_then(|known| known.lock().ok()) else {
            return;
        };
        if exists {
            known.insert(id.clone());
        } else {
            known.remove(id);
        }
    }

    pub(crate) async fn list_sessions(&self) -> Result<Vec<SessionSummary>> {
        let rows = self
            .rows(
                "SELECT * OMIT id FROM session ORDER BY updated_ms DESC",
                json!({}),
            )
            .await?;
        decode(rows)
    }

    /// Sets the title (when given) and the update time; returns the session as it is now.
    pub(crate) async fn touch_session(
        &self,
        id: &SessionId,
        title: Option<&str>,
    ) -> Result<Option<SessionSummary>> {
        let now = Utc::now();
        let vars = json!({
            "uid": id,
            "at": serde_json::to_value(now).map_err(|e| MemoryError::Query(e.to_string()))?,
            "ms": now_ms(now),
            "title": title,
        });
        let sql = if title.is_some() {
            "UPDATE session SET title = $title, updated_at = $at, updated_ms = $ms WHERE uid = $uid"
        } else {
            "UPDATE session SET updated_at = $at, updated_ms = $ms WHERE uid = $uid"
        };
        self.exec(sql, vars).await?;
        self.session(id).await
    }

    /// Deletes a session and everything in it; `false` when it did not exist.
    pub(crate) async fn delete_session(&self, id: &SessionId) -> Result<bool> {
        if self.session(id).await?.is_none() {
            return Ok(false);
        }
        // Forgotten first: a turn asking meanwhile asks the store.
        self.know(id, false);
        let deleted = async {
            self.db
                .query("BEGIN TRANSACTION")
                .query("DELETE message WHERE session = $uid")
                .query("DELETE message_part WHERE session = $uid")
                .query("DELETE tool_call WHERE session = $uid")
                .query("DELETE session WHERE uid = $uid")
                .query("COMMIT TRANSACTION")
                .bind(json!({ "uid": id }))
                .await?
                .check()?;
            Ok::<(), MemoryError>(())
        }
        .await;
        self.noted(deleted, |recent| recent.forget(id))?;
        // And again: a read meanwhile may have found it before it went.
        self.know(id, false);
        self.history.remove_session(id.as_str())?;
        Ok(true)
    }

    // ---- remembered policies (before approvals.json) ----

    /// Whether other machines write to this store (a server), rather than this machine alone.
    pub(crate) fn is_shared(&self) -> bool {
        self.shared_since.is_some()
    }

    /// Whole-tool approvals as earlier versions kept them, read once to move them to
    /// `approvals.json`.
    pub(crate) async fn policies(&self) -> Result<HashMap<String, Policy>> {
        #[derive(serde::Deserialize)]
        struct Row {
            tool: String,
            policy: Policy,
        }
        let rows = self
            .rows("SELECT tool, policy FROM tool_policy", json!({}))
            .await?;
        Ok(decode::<Row>(rows)?
            .into_iter()
            .map(|r| (r.tool, r.policy))
            .collect())
    }

    /// Where whole-tool approvals were kept before `approvals.json` (the store's own tests write
    /// them).
    #[cfg(test)]
    pub(crate) async fn set_policy(&self, tool: &str, policy: Policy) -> Result<()> {
        self.exec(
            "DELETE tool_policy WHERE tool = $tool; CREATE tool_policy CONTENT { tool: $tool, policy: $policy }",
            json!({ "tool": tool, "policy": policy }),
        )
        .await
    }

    /// Writes the schema version (tests of upgrade and refusal use this).
    #[cfg(test)]
    pub(crate) async fn force_schema_version(&self, version: i64) -> Result<()> {
        self.exec(
            "UPSERT meta:schema SET version = $v",
            json!({ "v": version }),
        )
        .await
    }
}

#[cfg(test)]
mod tests;
