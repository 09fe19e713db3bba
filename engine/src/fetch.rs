//! Bringing a large file (a model) into the data folder: copy a local file or download a URL to a
//! partial file, reporting progress and hashing on the way, so the model managers (local LLMs,
//! speech models) check what they got without reading it twice.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// Bytes between two progress reports.
const PROGRESS_STEP: u64 = 4 << 20;

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The download failed.
    #[error("{0}")]
    Download(String),
    /// The disk has less room than the file needs.
    #[error(
        "not enough disk space in {dir}: the file needs {needed} MiB and {available} MiB are free; nothing was kept",
        needed = needed >> 20, available = available >> 20
    )]
    NoRoom {
        /// The folder it was going to.
        dir: PathBuf,
        /// Bytes it needs.
        needed: u64,
        /// Bytes free there.
        available: u64,
    },
    /// It was stopped.
    #[error("stopped; nothing was kept")]
    Cancelled,
}

/// Room kept free beyond what a file needs, so a download never fills the disk to the brim.
const HEADROOM: u64 = 64 << 20;

/// Refuses to write `size` bytes to the file `to` unless its disk has room for them and some to
/// spare (`HEADROOM`).
pub(crate) fn ensure_room(to: &Path, size: u64) -> Result<(), FetchError> {
    let dir = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let available = fs4::available_space(dir).map_err(|e| io(dir, e))?;
    room(dir, size.saturating_add(HEADROOM), available)
}

fn room(dir: &Path, needed: u64, available: u64) -> Result<(), FetchError> {
    if needed > available {
        return Err(FetchError::NoRoom {
            dir: dir.to_path_buf(),
            needed,
            available,
        });
    }
    Ok(())
}

/// The digests of fetched bytes, hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digests {
    pub sha256: String,
    pub sha1: String,
}

impl Digests {
    /// Whether `expected` (`sha256:HEX`, `sha1:HEX`, or bare hex of either length) matches.
    pub(crate) fn matches(&self, expected: &str) -> bool {
        let expected = expected.trim().to_ascii_lowercase();
        match expected.split_once(':') {
            Some(("sha256", hex)) => hex == self.sha256,
            Some(("sha1", hex)) => hex == self.sha1,
            Some(_) => false,
            None => expected == self.sha256 || expected == self.sha1,
        }
    }
}

struct Hasher(Sha256, Sha1);

impl Hasher {
    fn new() -> Self {
        Self(Sha256::new(), Sha1::new())
    }

    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
        self.1.update(bytes);
    }

    fn finish(self) -> Digests {
        Digests {
            sha256: hex(&self.0.finalize()),
            sha1: hex(&self.1.finalize()),
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> FetchError {
    FetchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A name that cannot name a model file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{name:?} cannot be a {what} name: use letters, digits, '.', '-' and '_'")]
pub(crate) struct BadName {
    name: String,
    what: &'static str,
}

/// Whether `name` can name a model file: letters, digits, `.`, `-` and `_`, not hidden, at most
/// 100 characters. The error names `what` it was meant to be ("model", "speech model").
pub(crate) fn check_model_name(name: &str, what: &'static str) -> Result<(), BadName> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(BadName {
            name: name.to_owned(),
            what,
        })
    }
}

/// Whether `source` is fetched over HTTP (else it is a local path).
pub(crate) fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// Fetches `source` (a URL or a file path) into `to`; `progress(done, total)` as bytes arrive.
/// Refused before a byte is written when the disk lacks room for the size the source declares;
/// stops with `Cancelled` soon after `stop` is cancelled. The caller removes `to` on failure.
pub(crate) async fn fetch(
    source: &str,
    to: &Path,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    stop: &CancellationToken,
) -> Result<Digests, FetchError> {
    if is_url(source) {
        download(source, to, progress, stop).await
    } else {
        copy(Path::new(source), to, progress, stop)
    }
}

/// Copies a local file, hashing it on the way.
fn copy(
    from: &Path,
    to: &Path,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    stop: &CancellationToken,
) -> Result<Digests, FetchError> {
    let mut input = std::fs::File::open(from).map_err(|e| io(from, e))?;
    let total = input.metadata().ok().map(|m| m.len());
    if let Some(total) = total {
        ensure_room(to, total)?;
    }
    let mut output = std::fs::File::create(to).map_err(|e| io(to, e))?;
    let mut hasher = Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let (mut done, mut reported) = (0u64, 0u64);
    progress(0, total);
    loop {
        if stop.is_cancelled() {
            return Err(FetchError::Cancelled);
        }
        let n = input.read(&mut buffer).map_err(|e| io(from, e))?;
        if n == 0 {
            break;
        }
        let chunk = buffer.get(..n).unwrap_or_default();
        hasher.update(chunk);
        output.write_all(chunk).map_err(|e| io(to, e))?;
        done += n as u64;
        if done - reported >= PROGRESS_STEP {
            progress(done, total);
            reported = done;
        }
    }
    progress(done, total);
    Ok(hasher.finish())
}

/// Downloads a URL, hashing it on the way.
async fn download(
    url: &str,
    to: &Path,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    stop: &CancellationToken,
) -> Result<Digests, FetchError> {
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .read_timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("aetheria/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| FetchError::Download(e.to_string()))?;
    let shown = crate::secrets::shown_url(url);
    let response = tokio::select! {
        response = client.get(url).send() => response,
        () = stop.cancelled() => return Err(FetchError::Cancelled),
    }
    .map_err(|e| FetchError::Download(format!("cannot download {shown}: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Download(format!(
            "downloading {shown} failed: HTTP {status}"
        )));
    }
    let total = response.content_length();
    if let Some(total) = total {
        ensure_room(to, total)?;
    }
    let mut output = tokio::fs::File::create(to).await.map_err(|e| io(to, e))?;
    let mut hasher = Hasher::new();
    let (mut done, mut reported) = (0u64, 0u64);
    progress(0, total);
    let mut body = response.bytes_stream();
    loop {
        let chunk = tokio::select! {
            chunk = body.next() => chunk,
            () = stop.cancelled() => return Err(FetchError::Cancelled),
        };
        let Some(chunk) = chunk else { break };
        let chunk = chunk.map_err(|e| {
            FetchError::Download(format!(
                "the download of {shown} broke off after {done} bytes: {e}"
            ))
        })?;
        hasher.update(&chunk);
        tokio::io::AsyncWriteExt::write_all(&mut output, &chunk)
            .await
            .map_err(|e| io(to, e))?;
        done += chunk.len() as u64;
        if done - reported >= PROGRESS_STEP {
            progress(done, total);
            reported = done;
        }
    }
    tokio::io::AsyncWriteExt::flush(&mut output)
        .await
        .map_err(|e| io(to, e))?;
    if let Some(total) = total
        && done != total
    {
        return Err(FetchError::Download(format!(
            "the download of {shown} ended after {done} of {total} bytes"
        )));
    }
    progress(done, total);
    Ok(hasher.finish())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_by_kind_or_bare_hex() {
        let d = Digests {
            sha256: "ab".repeat(32),
            sha1: "cd".repeat(20),
        };
        assert!(d.matches(&"AB".repeat(32)));
        assert!(d.matches(&format!("sha1:{}", "cd".repeat(20))));
        assert!(d.matches(&format!("sha256:{}", "ab".repeat(32))));
        assert!(!d.matches(&format!("sha1:{}", "ab".repeat(32))));
        assert!(!d.matches(&format!("md5:{}", "cd".repeat(20))));
        assert!(!d.matches("00"));
    }

    #[tokio::test]
    async fn a_copy_is_hashed_with_both_digests() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let from = dir.path().join("a");
        std::fs::write(&from, b"abc")?;
        let mut calls = 0;
        let digests = fetch(
            &from.display().to_string(),
            &dir.path().join("b"),
            &mut |_, _| calls += 1,
            &CancellationToken::new(),
        )
        .await?;
        // The well-known digests of "abc".
        assert_eq!(
            digests.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(digests.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(std::fs::read(dir.path().join("b"))?, b"abc");
        assert!(calls >= 2);
        Ok(())
    }

    #[test]
    fn a_file_larger_than_the_free_space_is_refused_with_both_figures() {
        let e = room(Path::new("/m"), 3 << 20, 2 << 20).expect_err("no room");
        assert!(matches!(e, FetchError::NoRoom { .. }));
        let shown = e.to_string();
        assert!(shown.contains("needs 3 MiB and 2 MiB are free"), "{shown}");
        room(Path::new("/m"), 2 << 20, 2 << 20).expect("exactly enough");
    }

    #[tokio::test]
    async fn a_stopped_copy_keeps_going_no_further() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let from = dir.path().join("a");
        std::fs::write(&from, b"abc")?;
        let stop = CancellationToken::new();
        stop.cancel();
        let e = fetch(
            &from.display().to_string(),
            &dir.path().join("b"),
            &mut |_, _| {},
            &stop,
        )
        .await
        .expect_err("stopped");
        assert!(matches!(e, FetchError::Cancelled), "{e}");
        Ok(())
    }
}
