//! The history's full-text index: tantivy (BM25, highlighted snippets) beside the SurrealDB store,
//! because SurrealDB 3's own BM25 index took ~1 s to rank a common word over 100,000 messages and
//! slowed every message write. The store stays the truth: this index is rebuilt from it when it is
//! missing, from another format, or was left with uncommitted writes (a crash or a kill).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value as _,
};
use tantivy::snippet::{Snippet, SnippetGenerator};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::{MemoryError, Result};

/// Bump when the schema or the analyzer changes: an index of another format is rebuilt.
const FORMAT: &str = "aetheria-history-1";
/// The analyzer: words split on anything not a letter or digit, lower-cased, accents folded,
/// English stems (so "failing" finds "fails" and "failed").
const ANALYZER: &str = "aetheria_words";
/// Indexing memory before tantivy writes a segment (its minimum is 15 MB).
const WRITER_HEAP: usize = 20_000_000;
/// Writes are made durable this long after the first uncommitted one (a search commits at once).
const COMMIT_AFTER: Duration = Duration::from_secs(2);
/// Length of a snippet's fragment, in bytes.
const SNIPPET_BYTES: usize = 200;
/// At most this many words of a query are looked up.
const MAX_QUERY_WORDS: usize = 12;

/// What an indexed text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A message's content.
    Message,
    /// A tool call's output.
    ToolCall,
}

impl Kind {
    fn tag(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::ToolCall => "tool_call",
        }
    }
}

/// One text to index.
#[derive(Debug)]
pub(crate) struct Entry<'a> {
    pub kind: Kind,
    pub uid: &'a str,
    pub session: &'a str,
    /// The message a tool call belongs to.
    pub parent: Option<&'a str>,
    /// The message's role, or the tool's name.
    pub label: &'a str,
    pub text: &'a str,
}

/// A match, best first.
#[derive(Debug)]
pub(crate) struct Found {
    pub kind: Kind,
    pub uid: String,
    pub session: String,
    pub parent: Option<String>,
    pub label: String,
    /// The text around the best match, matched words between « and ».
    pub snippet: String,
    pub score: f32,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    uid: Field,
    session: Field,
    kind: Field,
    parent: Field,
    label: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
        .set_stored();
    let fields = Fields {
        uid: b.add_text_field("uid", STRING | STORED),
        session: b.add_text_field("session", STRING | STORED),
        kind: b.add_text_field("kind", STORED),
        parent: b.add_text_field("parent", STORED),
        label: b.add_text_field("label", STORED),
        text: b.add_text_field("text", text),
    };
    (b.build(), fields)
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

fn index_err(e: impl std::fmt::Display) -> MemoryError {
    MemoryError::Query(format!("search index: {e}"))
}

/// Runs `make` on a thread of the lowest priority, so the threads it starts inherit it (on Linux):
/// tantivy's indexing, segment and merge threads then only use CPU nothing else wants, and
/// indexing a long answer never takes a core from a turn, a stream or the window (in the
/// stream_overhead bench a turn after a 100 KB answer took 1.3-1.5 ms less). Elsewhere a new
/// thread does not inherit it, and `make` runs as it would.
fn background<T: Send>(make: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("aetheria-index".into())
            .spawn_scoped(scope, || {
                #[cfg(target_os = "linux")]
                if let Err(e) = thread_priority::set_current_thread_priority(
                    thread_priority::ThreadPriority::Min,
                ) {
                    tracing::debug!("the search index keeps the normal priority: {e:?}");
                }
                make()
            })
            .map_err(index_err)?;
        Ok(thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// The writer and whether it holds writes not yet committed; one lock, so a commit never loses
/// track of a write made while it ran.
struct Writer {
    writer: IndexWriter,
    dirty: bool,
}

/// The index; shared by every clone of the store.
pub(crate) struct HistoryIndex {
    reader: IndexReader,
    writer: Mutex<Writer>,
    fields: Fields,
    /// On disk: a marker that exists while writes are uncommitted (found at open → rebuild).
    dirty_marker: Option<PathBuf>,
}

impl std::fmt::Debug for HistoryIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HistoryIndex")
    }
}

impl HistoryIndex {
    /// Opens the index kept in `dir` (in memory when `None`); the flag says it must be rebuilt
    /// from the store (new, of another format, or left dirty).
    pub(crate) fn open(dir: Option<&Path>) -> Result<(Arc<Self>, bool)> {
        let (schema, fields) = schema();
        let (index, rebuild, dirty_marker) = match dir {
            None => (Index::create_in_ram(schema), true, None),
            Some(dir) => {
                let marker = dir.join("DIRTY");
                let usable = std::fs::read_to_string(dir.join("FORMAT"))
                    .is_ok_and(|f| f.trim() == FORMAT)
                    && !marker.exists();
                let existing = if usable {
                    Index::open_in_dir(dir)
                        .ok()
                        .filter(|i| i.schema() == schema)
                } else {
                    None
                };
                match existing {
                    Some(index) => (index, false, Some(marker)),
                    None => {
                        if dir.exists() {
                            std::fs::remove_dir_all(dir).map_err(index_err)?;
                        }
                        std::fs::create_dir_all(dir).map_err(index_err)?;
                        // Marked dirty until the first rebuild has committed.
                        std::fs::write(&marker, b"").map_err(index_err)?;
                        std::fs::write(dir.join("FORMAT"), FORMAT).map_err(index_err)?;
                        let index = Index::create_in_dir(dir, schema).map_err(index_err)?;
                        (index, true, Some(marker))
                    }
                }
            }
        };
        index.tokenizers().register(ANALYZER, analyzer());
        let writer = Self::writer(&index)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(index_err)?;
        let this = Arc::new(Self {
            reader,
            writer: Mutex::new(Writer {
                writer,
                dirty: rebuild,
            }),
            fields,
            dirty_marker,
        });
        Ok((this, rebuild))
    }

    /// The index's writer; a store closed a moment ago may still hold it for a little while.
    fn writer(index: &Index) -> Result<IndexWriter> {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            match background(|| index.writer_with_num_threads(1, WRITER_HEAP))? {
                Ok(w) => return Ok(w),
                Err(tantivy::TantivyError::LockFailure(..))
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(index_err(e)),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Marks the index dirty (on disk too); the first write after a commit schedules the next one.
    fn dirty(self: &Arc<Self>, w: &mut Writer) -> Result<()> {
        if w.dirty {
            return Ok(());
        }
        if let Some(marker) = &self.dirty_marker {
            std::fs::write(marker, b"").map_err(index_err)?;
        }
        w.dirty = true;
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak: Weak<Self> = Arc::downgrade(self);
            rt.spawn(async move {
                tokio::time::sleep(COMMIT_AFTER).await;
                let Some(index) = weak.upgrade() else { return };
                let done = tokio::task::spawn_blocking(move || index.commit()).await;
                if let Ok(Err(e)) = done {
                    tracing::warn!("{e}");
                }
            });
        }
        Ok(())
    }

    /// Adds (or replaces) one text.
    pub(crate) fn put(self: &Arc<Self>, entry: &Entry<'_>) -> Result<()> {
        let f = self.fields;
        let mut doc = TantivyDocument::new();
        doc.add_text(f.uid, entry.uid);
        doc.add_text(f.session, entry.session);
        doc.add_text(f.kind, entry.kind.tag());
        if let Some(parent) = entry.parent {
            doc.add_text(f.parent, parent);
        }
        doc.add_text(f.label, entry.label);
        doc.add_text(f.text, entry.text);
        let mut w = self.lock();
        self.dirty(&mut w)?;
        w.writer
            .delete_term(Term::from_field_text(f.uid, entry.uid));
        w.writer.add_document(doc).map_err(index_err)?;
        Ok(())
    }

    /// Forgets everything of a session.
    pub(crate) fn remove_session(self: &Arc<Self>, session: &str) -> Result<()> {
        let mut w = self.lock();
        self.dirty(&mut w)?;
        w.writer
            .delete_term(Term::from_field_text(self.fields.session, session));
        Ok(())
    }

    /// Replaces the whole index with `entries` and commits.
    pub(crate) fn rebuild<'a>(
        self: &Arc<Self>,
        entries: impl Iterator<Item = Entry<'a>>,
    ) -> Result<usize> {
        {
            let mut w = self.lock();
            self.dirty(&mut w)?;
            w.writer.delete_all_documents().map_err(index_err)?;
        }
        let mut n = 0;
        for entry in entries {
            self.put(&entry)?;
            n += 1;
        }
        self.commit()?;
        Ok(n)
    }

    /// Makes the writes so far durable and visible to searches.
    pub(crate) fn commit(&self) -> Result<()> {
        let mut w = self.lock();
        if !w.dirty {
            return Ok(());
        }
        // tantivy starts its indexing threads again at each commit, from the committing thread.
        let writer = &mut w.writer;
        background(|| writer.commit())?.map_err(index_err)?;
        self.reader.reload().map_err(index_err)?;
        if let Some(marker) = &self.dirty_marker {
            match std::fs::remove_file(marker) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(index_err(e)),
            }
        }
        w.dirty = false;
        Ok(())
    }

    /// The query's words as the index spells them (stemmed, folded), each once.
    fn terms(&self, query: &str) -> Vec<Term> {
        let mut analyzer = analyzer();
        let mut terms: Vec<Term> = Vec::new();
        for word in query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() > 1)
            .take(MAX_QUERY_WORDS)
        {
            let mut stream = analyzer.token_stream(word);
            while let Some(token) = stream.next() {
                let term = Term::from_field_text(self.fields.text, &token.text);
                if !terms.contains(&term) {
                    terms.push(term);
                }
            }
        }
        terms
    }

    /// Texts with any of the query's words, best first (BM25: more and rarer words rank higher).
    pub(crate) fn search(&self, query: &str, limit: usize) -> Result<Vec<Found>> {
        let terms = self.terms(query);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        self.commit()?;
        let query = BooleanQuery::new(
            terms
                .into_iter()
                .map(|t| {
                    let q: Box<dyn Query> =
                        Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs));
                    (Occur::Should, q)
                })
                .collect(),
        );
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(index_err)?;
        let mut snippets =
            SnippetGenerator::create(&searcher, &query, self.fields.text).map_err(index_err)?;
        snippets.set_max_num_chars(SNIPPET_BYTES);
        let f = self.fields;
        let mut found = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(index_err)?;
            let get = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let text = get(f.text).unwrap_or_default();
            let kind = if get(f.kind).as_deref() == Some(Kind::ToolCall.tag()) {
                Kind::ToolCall
            } else {
                Kind::Message
            };
            found.push(Found {
                kind,
                uid: get(f.uid).unwrap_or_default(),
                session: get(f.session).unwrap_or_default(),
                parent: get(f.parent),
                label: get(f.label).unwrap_or_default(),
                snippet: marked(&snippets.snippet(text.trim()), text.trim()),
                score,
            });
        }
        Ok(found)
    }

    /// How many texts the index holds (committed).
    #[cfg(test)]
    pub(crate) fn len(&self) -> Result<u64> {
        self.commit()?;
        Ok(self.reader.searcher().num_docs())
    }
}

impl Drop for HistoryIndex {
    fn drop(&mut self) {
        if let Err(e) = self.commit() {
            tracing::warn!("{e}");
        }
    }
}

/// A snippet as one line: matched words between « and », "…" where the text goes on.
fn marked(snippet: &Snippet, text: &str) -> String {
    let fragment = snippet.fragment();
    let (body, range) = if fragment.is_empty() {
        // No word matched in the text itself (a stemming edge): its start.
        let end = text
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .take_while(|end| *end <= SNIPPET_BYTES)
            .last()
            .unwrap_or(0);
        (text[..end].to_owned(), 0..end)
    } else {
        let mut out = String::with_capacity(fragment.len() + 16);
        let mut at = 0;
        for hit in tantivy::snippet::collapse_overlapped_ranges(snippet.highlighted()) {
            if hit.start < at || hit.end > fragment.len() {
                continue;
            }
            out.push_str(&fragment[at..hit.start]);
            out.push('«');
            out.push_str(&fragment[hit.clone()]);
            out.push('»');
            at = hit.end;
        }
        out.push_str(&fragment[at..]);
        // A fragment runs from its first word to its last: punctuation around it is kept when
        // nothing else is left out.
        let mut range = snippet.fragment_range();
        let wordless = |s: &str| !s.chars().any(char::is_alphanumeric);
        if let (Some(before), Some(after)) = (text.get(..range.start), text.get(range.end..)) {
            if wordless(before) {
                out.insert_str(0, before);
                range.start = 0;
            }
            if wordless(after) {
                out.push_str(after);
                range.end = text.len();
            }
        }
        (out, range)
    };
    let flat: String = body
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let prefix = if range.start > 0 { "…" } else { "" };
    let suffix = if range.end < text.len() { "…" } else { "" };
    format!("{prefix}{}{suffix}", flat.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(uid: &'a str, session: &'a str, text: &'a str) -> Entry<'a> {
        Entry {
            kind: Kind::Message,
            uid,
            session,
            parent: None,
            label: "user",
            text,
        }
    }

    /// The niceness of this process's tantivy indexing threads. A new thread names itself once it
    /// runs, so they are looked for again for up to 5 s until one is found.
    #[cfg(target_os = "linux")]
    fn indexing_threads_niceness() -> Vec<i64> {
        for _ in 0..500 {
            let found = named_indexing_threads_niceness();
            if !found.is_empty() {
                return found;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Vec::new()
    }

    #[cfg(target_os = "linux")]
    fn named_indexing_threads_niceness() -> Vec<i64> {
        let mut found = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let task = task.unwrap().path();
            let (Ok(comm), Ok(stat)) = (
                std::fs::read_to_string(task.join("comm")),
                std::fs::read_to_string(task.join("stat")),
            ) else {
                continue; // the thread ended meanwhile
            };
            if comm.starts_with("thrd-tantivy-in") {
                // The fields after the name: state is field 3, nice field 19.
                let after = &stat[stat.rfind(')').unwrap() + 1..];
                found.push(after.split_whitespace().nth(16).unwrap().parse().unwrap());
            }
        }
        found
    }

    /// Indexing only uses CPU nothing else wants: the indexing threads have the lowest priority
    /// when the index opens and after a commit, which starts them again.
    #[cfg(target_os = "linux")]
    #[test]
    fn indexing_threads_have_the_lowest_priority() {
        let (index, _) = HistoryIndex::open(None).unwrap();
        let niceness = indexing_threads_niceness();
        assert!(!niceness.is_empty(), "no indexing thread was found");
        assert!(
            niceness.iter().all(|&n| n == 19),
            "after open: {niceness:?}"
        );
        index.put(&entry("a", "s", "some words")).unwrap();
        index.commit().unwrap();
        let niceness = indexing_threads_niceness();
        assert!(!niceness.is_empty(), "no indexing thread was found");
        assert!(
            niceness.iter().all(|&n| n == 19),
            "after a commit: {niceness:?}"
        );
        assert_eq!(index.search("words", 5).unwrap().len(), 1);
    }

    #[test]
    fn snippets_mark_words_and_show_where_text_was_cut() {
        let (index, rebuild) = HistoryIndex::open(None).unwrap();
        assert!(rebuild);
        let long = format!(
            "{} the needle\nhere {}",
            "hay ".repeat(100),
            "straw ".repeat(100)
        );
        index.put(&entry("a", "s", &long)).unwrap();
        index.put(&entry("b", "s", "a short needle!")).unwrap();
        let found = index.search("needles", 10).unwrap();
        assert_eq!(found.len(), 2, "{found:?}");
        let long_hit = found.iter().find(|f| f.uid == "a").unwrap();
        assert!(
            long_hit.snippet.starts_with('…')
                && long_hit.snippet.ends_with('…')
                && long_hit.snippet.contains("«needle» here"),
            "{long_hit:?}"
        );
        assert!(long_hit.snippet.len() < SNIPPET_BYTES + 20, "{long_hit:?}");
        let short = found.iter().find(|f| f.uid == "b").unwrap();
        assert_eq!(short.snippet, "a short «needle»!");
    }

    #[test]
    fn replaced_texts_and_removed_sessions_are_not_found() {
        let (index, _) = HistoryIndex::open(None).unwrap();
        index.put(&entry("a", "s1", "draft about otters")).unwrap();
        index.put(&entry("a", "s1", "final about beavers")).unwrap();
        index.put(&entry("b", "s2", "beavers build dams")).unwrap();
        assert!(index.search("otters", 10).unwrap().is_empty());
        assert_eq!(index.search("beaver", 10).unwrap().len(), 2);
        index.remove_session("s1").unwrap();
        let left = index.search("beavers", 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].uid, "b");
        assert_eq!(index.len().unwrap(), 1);
        assert!(index.search("  ", 10).unwrap().is_empty());
        assert!(index.search("+ - : \"", 10).unwrap().is_empty());
    }

    #[test]
    fn an_index_left_dirty_or_of_another_format_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("search");
        {
            let (index, rebuild) = HistoryIndex::open(Some(&path)).unwrap();
            assert!(rebuild, "a new index is built from the store");
            index
                .rebuild([entry("a", "s", "kept words")].into_iter())
                .unwrap();
            // Written, not yet committed: closing commits it.
            index.put(&entry("b", "s", "more words")).unwrap();
            assert!(path.join("DIRTY").exists());
        }
        {
            let (index, rebuild) = HistoryIndex::open(Some(&path)).unwrap();
            assert!(!rebuild, "a cleanly closed index is reused");
            assert_eq!(index.search("words", 5).unwrap().len(), 2);
        }
        // A process killed between a write and its commit leaves the marker behind.
        std::fs::write(path.join("DIRTY"), b"").unwrap();
        let (_, rebuild) = HistoryIndex::open(Some(&path)).unwrap();
        assert!(rebuild, "a dirty index is rebuilt");
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("FORMAT"), "aetheria-history-0").unwrap();
        let (index, rebuild) = HistoryIndex::open(Some(&other)).unwrap();
        assert!(rebuild, "another format is rebuilt");
        assert_eq!(index.len().unwrap(), 0);
    }
}
