//! Voice for real: espeak-ng speech (converted by sox to several rates and channel counts)
//! transcribed by whisper.cpp with the real tiny.en model, through the file command and through the
//! microphone's path (a WAV played at speaking pace as the input device); the model manager against
//! a loopback mirror.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aetheria_engine::api::{
    Command, ErrorKind, Event, Transcript, VoiceCommand, VoiceEvent, VoiceModel,
};
use aetheria_engine::config::Config;
use aetheria_engine::testkit::voice::{FileServer, model, speech, word_accuracy, words};
use aetheria_engine::{Engine, Events, Handle};

struct Voice {
    handle: Handle,
    events: Events,
    dir: tempfile::TempDir,
}

impl Voice {
    async fn start(setup: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
        config.voice.model = model::path().display().to_string();
        config.voice.threads = Some(1);
        config.voice.cues = false;
        setup(&mut config);
        let (handle, events) = Engine::start(config).await.unwrap();
        Self {
            handle,
            events,
            dir,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn send(&self, command: VoiceCommand) {
        self.handle.submit(Command::Voice(command)).unwrap();
    }

    async fn until(&mut self, mut done: impl FnMut(&Event) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let event = tokio::time::timeout(Duration::from_secs(120), self.events.recv())
                .await
                .expect("no event within 120 s")
                .expect("the event stream ended")
                .event;
            let stop = done(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }

    /// The transcript that answers the last command (failing on `CommandFailed`).
    async fn transcript(&mut self) -> Transcript {
        let events = self
            .until(|e| {
                matches!(
                    e,
                    Event::Voice(VoiceEvent::Transcribed(_)) | Event::CommandFailed { .. }
                )
            })
            .await;
        match events.last() {
            Some(Event::Voice(VoiceEvent::Transcribed(t))) => t.clone(),
            other => panic!("no transcript: {other:?}"),
        }
    }

    async fn transcribe(&mut self, path: PathBuf) -> Transcript {
        self.send(VoiceCommand::Transcribe { path });
        self.transcript().await
    }

    async fn failure(&mut self) -> (ErrorKind, String) {
        let events = self
            .until(|e| matches!(e, Event::CommandFailed { .. }))
            .await;
        match events.last() {
            Some(Event::CommandFailed { error, .. }) => (error.kind, error.message.clone()),
            _ => unreachable!(),
        }
    }

    async fn models(&mut self) -> Vec<VoiceModel> {
        let events = self
            .until(|e| {
                matches!(
                    e,
                    Event::Voice(VoiceEvent::Models { .. }) | Event::CommandFailed { .. }
                )
            })
            .await;
        match events.last() {
            Some(Event::Voice(VoiceEvent::Models { models, .. })) => models.clone(),
            other => panic!("no model list: {other:?}"),
        }
    }
}

const SHORT: &str = "Open the Read Me file and summarize it.";
const FOX: &str = "The quick brown fox jumps over the lazy dog.";
const LONG: &str = "This desktop assistant runs on your own computer. \
    It can read your files, search the web, and run code in a sandbox. \
    Your voice is transcribed locally, so nothing you say leaves this machine.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_is_transcribed_at_any_rate_and_channel_count() {
    let mut voice = Voice::start(|_| {}).await;
    let dir = voice.path().to_path_buf();

    let short = voice
        .transcribe(speech(&dir, "short", SHORT, 16_000, 1))
        .await;
    assert_eq!(words(&short.text), words(SHORT), "{short:?}");
    assert_eq!(short.language, "en");
    assert!(
        short.speech_ms > 1500 && short.speech_ms <= short.audio_ms,
        "{short:?}"
    );
    assert!(short.real_time_factor > 0.0);

    // 48 kHz stereo goes through the mix-down and the resampler first.
    let fox = voice.transcribe(speech(&dir, "fox", FOX, 48_000, 2)).await;
    let accuracy = word_accuracy(FOX, &fox.text);
    assert!(accuracy >= 0.85, "{accuracy}: {fox:?}");

    let long = voice
        .transcribe(speech(&dir, "long", LONG, 22_050, 1))
        .await;
    assert!(long.audio_ms >= 10_000, "{long:?}");
    let accuracy = word_accuracy(LONG, &long.text);
    assert!(accuracy >= 0.85, "{accuracy}: {long:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_gives_no_text_and_bad_files_a_clear_error() {
    let mut voice = Voice::start(|_| {}).await;
    let silence = voice.path().join("silence.wav");
    let made = std::process::Command::new("sox")
        .args(["-n", "-r", "16000", "-c", "1", "-b", "16"])
        .arg(&silence)
        .args(["trim", "0", "3"])
        .status()
        .unwrap();
    assert!(made.success());
    let heard = voice.transcribe(silence).await;
    assert_eq!(heard.text, "");
    assert_eq!(heard.speech_ms, 0);
    assert!(heard.audio_ms >= 2900, "{heard:?}");

    let not_sound = voice.path().join("notes.wav");
    std::fs::write(&not_sound, "these are not samples").unwrap();
    voice.send(VoiceCommand::Transcribe { path: not_sound });
    let (_, message) = voice.failure().await;
    assert!(message.contains("not a sound file"), "{message}");

    voice.send(VoiceCommand::Transcribe {
        path: voice.path().join("missing.wav"),
    });
    let (_, message) = voice.failure().await;
    assert!(message.contains("cannot open"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_microphone_path_records_meters_and_transcribes() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech(dir.path(), "spoken", SHORT, 44_100, 2);
    let input = format!("wav:{}", wav.display());
    let mut voice = Voice::start(|c| c.voice.input_device = Some(input)).await;

    voice.send(VoiceCommand::Start);
    let started = voice
        .until(|e| {
            matches!(
                e,
                Event::Voice(VoiceEvent::Started { .. }) | Event::CommandFailed { .. }
            )
        })
        .await;
    assert!(
        matches!(started.last(), Some(Event::Voice(VoiceEvent::Started { device })) if device.contains("spoken.wav")),
        "{started:?}"
    );
    // A second start while one records is refused; the first goes on.
    voice.send(VoiceCommand::Start);
    assert_eq!(voice.failure().await.0, ErrorKind::Conflict);

    // The file is spoken in real time (about 2.5 s); the meter moves meanwhile.
    let began = std::time::Instant::now();
    let mut levels = Vec::new();
    while began.elapsed() < Duration::from_millis(3200) {
        if let Ok(Some(Event::Voice(VoiceEvent::Level { level }))) =
            tokio::time::timeout(Duration::from_millis(100), voice.events.recv())
                .await
                .map(|e| e.map(|e| e.event))
        {
            levels.push(level);
        }
    }
    assert!(levels.len() >= 20, "{} levels", levels.len());
    assert!(levels.iter().any(|l| *l > 0.5), "{levels:?}");
    assert!(levels.iter().all(|l| (0.0..=1.0).contains(l)));

    voice.send(VoiceCommand::Stop);
    let events = voice
        .until(|e| {
            matches!(
                e,
                Event::Voice(VoiceEvent::Transcribed(_)) | Event::CommandFailed { .. }
            )
        })
        .await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Voice(VoiceEvent::Stopped { error: None }))),
        "{events:?}"
    );
    let Some(Event::Voice(VoiceEvent::Transcribed(transcript))) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(words(&transcript.text), words(SHORT), "{transcript:?}");
    assert!(!transcript.auto_send);
    assert!(transcript.audio_ms >= 2000, "{transcript:?}");

    // Cancel drops the recording: no transcript, and nothing runs afterwards.
    voice.send(VoiceCommand::Start);
    voice
        .until(|e| matches!(e, Event::Voice(VoiceEvent::Started { .. })))
        .await;
    voice.send(VoiceCommand::Cancel);
    let events = voice
        .until(|e| matches!(e, Event::Voice(VoiceEvent::Stopped { .. })))
        .await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Voice(VoiceEvent::Transcribed(_))))
    );
    voice.send(VoiceCommand::Stop);
    let (kind, message) = voice.failure().await;
    assert_eq!(kind, ErrorKind::Conflict);
    assert!(message.contains("no recording"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_device_or_model_voice_says_why() {
    let mut voice = Voice::start(|c| {
        c.voice.input_device = Some("USB Microphone That Is Not Here".into());
        c.voice.model = "base.en".into();
    })
    .await;
    voice.send(VoiceCommand::Status);
    let events = voice
        .until(|e| matches!(e, Event::Voice(VoiceEvent::Status(_))))
        .await;
    let Some(Event::Voice(VoiceEvent::Status(status))) = events.last() else {
        unreachable!()
    };
    let why = status.unavailable.clone().unwrap_or_default();
    assert!(
        why.contains("is not connected") || why.contains("no microphone"),
        "{why}"
    );
    assert!(status.model.is_none());
    assert!(!status.recording);

    // Nothing records without a model to hear it.
    voice.send(VoiceCommand::Start);
    let (kind, message) = voice.failure().await;
    assert_eq!(kind, ErrorKind::Missing);
    assert!(
        message.contains("aetheria voice models add base.en"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_install_from_a_mirror_with_checks_and_nothing_half_done() {
    let bytes = std::fs::read(model::path()).unwrap();
    let server = FileServer::start(vec![
        ("ggml-tiny.en.bin".into(), bytes.clone()),
        ("notes.bin".into(), b"not a model at all".to_vec()),
    ])
    .await
    .unwrap();
    // The default model name is tiny.en: installed under that name, dictation uses it.
    let mut voice = Voice::start(|c| c.voice.model = "tiny.en".into()).await;
    let folder = voice.path().join("data/voice-models");

    // A digest that does not match: nothing is installed, no partial file stays.
    voice.send(VoiceCommand::InstallModel {
        name: "tiny.en".into(),
        source: Some(server.url("ggml-tiny.en.bin")),
        checksum: Some(format!("sha256:{}", "0".repeat(64))),
    });
    let (_, message) = voice.failure().await;
    assert!(message.contains("checksum mismatch"), "{message}");
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);

    // Not a model: refused by its magic.
    voice.send(VoiceCommand::InstallModel {
        name: "notes".into(),
        source: Some(server.url("notes.bin")),
        checksum: None,
    });
    let (_, message) = voice.failure().await;
    assert!(message.contains("not a whisper.cpp model"), "{message}");
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);

    // A 404 is a clear error too.
    voice.send(VoiceCommand::InstallModel {
        name: "gone".into(),
        source: Some(server.url("gone.bin")),
        checksum: None,
    });
    let (_, message) = voice.failure().await;
    assert!(message.contains("404"), "{message}");

    voice.send(VoiceCommand::InstallModel {
        name: "tiny.en".into(),
        source: Some(server.url("ggml-tiny.en.bin")),
        checksum: Some(model::SHA256.into()),
    });
    let events = voice
        .until(|e| {
            matches!(
                e,
                Event::Voice(VoiceEvent::Models { .. }) | Event::CommandFailed { .. }
            )
        })
        .await;
    let progress: Vec<(u64, Option<u64>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Voice(VoiceEvent::Progress { done, total, .. }) => Some((*done, *total)),
            _ => None,
        })
        .collect();
    let size = bytes.len() as u64;
    assert_eq!(progress.first(), Some(&(0, Some(size))), "{progress:?}");
    assert_eq!(progress.last(), Some(&(size, Some(size))));
    assert!(progress.len() >= 4, "{progress:?}");
    let Some(Event::Voice(VoiceEvent::Models { models, selected })) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(selected, "tiny.en");
    let tiny = models.iter().find(|m| m.name == "tiny.en").unwrap();
    assert_eq!(tiny.bytes, size);
    assert!(tiny.path.as_ref().is_some_and(|p| p.is_file()));
    // The other catalog models are offered for download.
    assert!(
        models
            .iter()
            .any(|m| m.name == "base.en" && m.path.is_none() && m.url.is_some())
    );

    // The installed model, chosen by name, transcribes.
    let dir = voice.path().to_path_buf();
    let heard = voice
        .transcribe(speech(&dir, "short", SHORT, 16_000, 1))
        .await;
    assert_eq!(words(&heard.text), words(SHORT));

    // Installing over it is refused; removing it twice says it is gone.
    voice.send(VoiceCommand::InstallModel {
        name: "tiny.en".into(),
        source: Some(server.url("ggml-tiny.en.bin")),
        checksum: None,
    });
    let (_, message) = voice.failure().await;
    assert!(message.contains("already installed"), "{message}");
    voice.send(VoiceCommand::RemoveModel {
        name: "tiny.en".into(),
    });
    let models = voice.models().await;
    assert!(
        models
            .iter()
            .any(|m| m.name == "tiny.en" && m.path.is_none())
    );
    voice.send(VoiceCommand::RemoveModel {
        name: "tiny.en".into(),
    });
    let (kind, _) = voice.failure().await;
    assert_eq!(kind, ErrorKind::NotFound);
    // The refused re-install never downloaded.
    assert_eq!(server.requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fast_setting_still_hears_a_plain_sentence() {
    let mut voice = Voice::start(|c| c.voice.fast = true).await;
    let dir = voice.path().to_path_buf();
    let heard = voice
        .transcribe(speech(&dir, "short", SHORT, 16_000, 1))
        .await;
    assert_eq!(words(&heard.text), words(SHORT), "{heard:?}");
    // No repeated sentence: too small an encoder window makes whisper loop.
    let long = voice
        .transcribe(speech(&dir, "long", LONG, 16_000, 1))
        .await;
    let accuracy = word_accuracy(LONG, &long.text);
    assert!(accuracy >= 0.8, "{accuracy}: {long:?}");
}
