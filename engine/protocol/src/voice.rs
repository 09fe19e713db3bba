//! API types of voice: dictation (microphone → whisper → text for the composer), the speech-model
//! manager, sound cues and reading answers aloud. Grouped under `Command::Voice` and `Event::Voice`
//! so the voice surface reads as one unit.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[voice]` section of `config.toml`, edited in Settings → Voice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceConfig {
    /// The speech model: an installed model's name (`tiny.en`, `base.en`, …).
    pub model: String,
    /// The spoken language: `auto`, or a code such as `en`, `de`, `fr` (`.en` models are English).
    pub language: String,
    /// The microphone, by name; the system default when absent. `wav:PATH` plays a WAV file as if
    /// it were spoken into a microphone (for trying dictation on a machine without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_device: Option<String>,
    /// Send the transcript at once instead of leaving it in the composer to edit.
    pub auto_send: bool,
    /// Short sounds when recording starts and stops and when a background job ends.
    pub cues: bool,
    /// Read each answer aloud (with `espeak-ng`, when installed).
    pub read_aloud: bool,
    /// The push-to-talk key, held while speaking: modifiers and a key, e.g. `Ctrl+Space`, `F8`.
    pub push_to_talk: String,
    /// CPU threads for transcription (default: up to 4 of this machine's cores).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Faster dictation: whisper's encoder sized to the utterance instead of its 30 s window —
    /// about 5× faster on a short sentence, but sometimes less accurate.
    pub fast: bool,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            model: "tiny.en".into(),
            language: "auto".into(),
            input_device: None,
            auto_send: false,
            cues: true,
            read_aloud: false,
            push_to_talk: "Ctrl+Space".into(),
            threads: None,
            fast: false,
        }
    }
}

impl VoiceConfig {
    /// Whether nothing differs from the defaults (then it is not written to the file).
    #[must_use]
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }

    /// The threads transcription uses.
    #[must_use]
    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)))
            .max(1)
    }
}

/// A short sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cue {
    /// Recording started (a rising blip).
    RecordStart,
    /// Recording stopped (a falling blip).
    RecordStop,
    /// A background job ended (two notes).
    JobFinished,
}

/// What voice can do on this machine now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceStatus {
    /// The microphones found (names to put in `input_device`).
    pub devices: Vec<String>,
    /// Why dictation cannot start, in a sentence for the mic button; none when it can.
    pub unavailable: Option<String>,
    /// The speech model in use, when installed.
    pub model: Option<VoiceModel>,
    /// Whether a recording runs.
    pub recording: bool,
    /// Whether answers can be read aloud (a speech synthesiser is installed).
    pub speech: bool,
    /// Why sound cannot play, when it cannot (no output device).
    pub sound_unavailable: Option<String>,
}

/// A speech model: installed, or in the catalog of official whisper.cpp models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceModel {
    /// Its name (`tiny.en`).
    pub name: String,
    /// Size on disk (installed) or to download (catalog), bytes.
    pub bytes: u64,
    /// English only (`.en` models).
    pub english_only: bool,
    /// Where it is installed; none when it is only in the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Where it downloads from (catalog models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What a transcription produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The words (empty when nothing was said).
    pub text: String,
    /// The language spoken (detected or fixed).
    pub language: String,
    /// Length of the recording, ms.
    pub audio_ms: u64,
    /// Length of the speech after trimming silence, ms.
    pub speech_ms: u64,
    /// Time from the end of the recording to the text, ms.
    pub latency_ms: u64,
    /// Transcription time / speech time.
    pub real_time_factor: f64,
    /// Send it at once (the person turned auto-send on).
    pub auto_send: bool,
}

/// What a front end asks of voice. Failures are answered by `Event::CommandFailed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum VoiceCommand {
    /// What voice can do here. Answered by `Status`.
    Status,
    /// Start recording from the configured microphone. Answered by `Started`, then `Level`* while
    /// it records.
    Start,
    /// Stop recording and transcribe. Answered by `Stopped`, then `Transcribed`.
    Stop,
    /// Stop recording and drop it. Answered by `Stopped`.
    Cancel,
    /// Transcribe a WAV file through the same pipeline as the microphone (any rate and channel
    /// count; not paced). Answered by `Transcribed`.
    Transcribe {
        /// The file.
        path: PathBuf,
    },
    /// The installed models and the catalog. Answered by `Models`.
    Models,
    /// Install a model: from the catalog by name, or from a URL or file. Answered by `Progress`*,
    /// then `Models` (nothing is kept when the checksum does not match).
    InstallModel {
        /// The name to install it as (a catalog name when `source` is absent).
        name: String,
        /// A URL or file path; absent: the catalog's download.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        /// Expected digest (`sha256:HEX`, `sha1:HEX` or bare hex); the catalog's when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checksum: Option<String>,
    },
    /// Remove an installed model. Answered by `Models`.
    RemoveModel {
        /// Its name.
        name: String,
    },
    /// Play a cue. Answered by `Played` when it ends.
    PlayCue {
        /// Which.
        cue: Cue,
    },
    /// Read text aloud (markdown is read as plain text). Answered by `Spoken` when done (reading
    /// something new stops what was being read).
    Speak {
        /// What to say.
        text: String,
    },
    /// Stop reading aloud. Answered by `Spoken`.
    StopSpeaking,
}

/// What voice reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "voice", rename_all = "snake_case")]
pub enum VoiceEvent {
    /// What voice can do here.
    Status(VoiceStatus),
    /// Recording started.
    Started {
        /// The microphone.
        device: String,
    },
    /// The input level while recording, 0 (silence) to 1 (loud), about 20 times a second.
    Level {
        /// The level.
        level: f32,
    },
    /// Recording stopped (by `Stop`, `Cancel`, or because the device failed: then `error`).
    Stopped {
        /// Why it stopped by itself, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Text for the composer.
    Transcribed(Transcript),
    /// The models.
    Models {
        /// Installed and catalog models.
        models: Vec<VoiceModel>,
        /// The one in use (by name).
        selected: String,
    },
    /// A model install progresses.
    Progress {
        /// Which model.
        name: String,
        /// Bytes so far.
        done: u64,
        /// All bytes, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
    },
    /// A cue ended.
    Played {
        /// Which.
        cue: Cue,
        /// Why it could not play, when it could not (no sound output).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Reading aloud ended (finished or stopped).
    Spoken {
        /// Why it could not be read, when it could not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}
