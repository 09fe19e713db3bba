//! Voice: push-to-talk dictation transcribed on this machine (microphone → 16 kHz → silence
//! trimmed → whisper.cpp → text for the composer), the speech-model manager, sound cues and
//! reading answers aloud. The engine owns the devices so every front end dictates the same way;
//! the front end decides when (a held key, a button) and what to do with the text.

pub(crate) mod capture;
pub(crate) mod dsp;
pub(crate) mod models;
pub(crate) mod sound;
pub(crate) mod whisper;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::api::{ErrorInfo, ErrorKind, Event, Transcript, VoiceCommand, VoiceEvent, VoiceStatus};
use crate::config::Config;
use crate::outbox::Outbox;
use crate::services::Services;

use self::capture::{Input, Recorder, Recording};
use self::whisper::Transcriber;

/// What went wrong in voice, with the kind the API reports it as.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct VoiceError {
    pub kind: ErrorKind,
    pub message: String,
}

impl VoiceError {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A device, program or model cannot be used here.
    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    /// What was asked for is wrong (a name, a file, a checksum).
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// Something needed is not there (no speech model installed).
    pub(crate) fn missing(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Missing, message)
    }

    /// Aetheria's own failure (a thread that crashed, a resampler refusing its input).
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl From<VoiceError> for ErrorInfo {
    fn from(e: VoiceError) -> Self {
        ErrorInfo::new(e.kind, e.message)
    }
}

/// The voice devices and model of one engine.
#[derive(Default)]
pub(crate) struct Voice {
    transcriber: Arc<Transcriber>,
    recording: Mutex<Option<Recorder>>,
    speaking: Mutex<Option<Arc<AtomicBool>>>,
}

impl Voice {
    fn take_recording(&self) -> Option<Recorder> {
        self.recording
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Stops a recording and reading aloud (at shutdown).
    pub(crate) async fn shutdown(&self) {
        if let Some(stop) = self
            .speaking
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            stop.store(true, Ordering::Relaxed);
        }
        if let Some(recorder) = self.take_recording() {
            let _ = tokio::task::spawn_blocking(move || recorder.finish()).await;
        }
    }
}

fn failed(kind: ErrorKind, message: impl Into<String>) -> ErrorInfo {
    ErrorInfo::new(kind, message.into())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VoiceError> + Send + 'static,
) -> Result<T, ErrorInfo> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| failed(ErrorKind::Internal, e.to_string()))?
        .map_err(ErrorInfo::from)
}

/// Handles one voice command; answers with events (a failure is redacted by the router: a model
/// URL or path may carry a token).
pub(crate) async fn handle(
    cx: crate::handlers::Cx,
    command: VoiceCommand,
) -> Result<(), ErrorInfo> {
    run(&cx.services, &cx.out, command).await
}

fn emit(out: &Outbox, event: VoiceEvent) {
    out.emit(Event::Voice(event));
}

async fn run(
    services: &Arc<Services>,
    out: &Outbox,
    command: VoiceCommand,
) -> Result<(), ErrorInfo> {
    let config = services.config();
    let models_dir = models::dir(&config.data_dir);
    match command {
        VoiceCommand::Status => {
            let mut status = blocking(move || Ok(status(&config))).await?;
            status.recording = services
                .voice
                .recording
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some();
            emit(out, VoiceEvent::Status(status));
        }
        VoiceCommand::Start => start(services, out, &config).await?,
        VoiceCommand::Stop => {
            let stopped = Instant::now();
            let recording = stop(services, out, &config).await?;
            let transcript = transcribe(services, &config, recording.samples, stopped).await?;
            emit(out, VoiceEvent::Transcribed(transcript));
        }
        VoiceCommand::Cancel => {
            stop(services, out, &config).await?;
        }
        VoiceCommand::Transcribe { path } => {
            let input = Input::File { path, paced: false };
            let recording = blocking(move || capture::record_all(&input)).await?;
            let transcript =
                transcribe(services, &config, recording.samples, Instant::now()).await?;
            emit(out, VoiceEvent::Transcribed(transcript));
        }
        VoiceCommand::Models => emit(out, models_event(&config)),
        VoiceCommand::InstallModel {
            name,
            source,
            checksum,
        } => {
            let events = out.clone();
            let label = name.clone();
            let mut progress = move |done, total| {
                events.emit(Event::Voice(VoiceEvent::Progress {
                    name: label.clone(),
                    done,
                    total,
                }));
            };
            models::install(
                &models_dir,
                &name,
                source.as_deref(),
                checksum.as_deref(),
                &mut progress,
            )
            .await?;
            emit(out, models_event(&config));
        }
        VoiceCommand::RemoveModel { name } => {
            models::remove(&models_dir, &name)?;
            emit(out, models_event(&config));
        }
        VoiceCommand::PlayCue { cue } => {
            let error = blocking(move || sound::cue(cue)).await.err();
            let error = error.map(|e| e.message);
            emit(out, VoiceEvent::Played { cue, error });
        }
        VoiceCommand::Speak { text } => {
            let stop = Arc::new(AtomicBool::new(false));
            let previous = services
                .voice
                .speaking
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .replace(stop.clone());
            if let Some(previous) = previous {
                previous.store(true, Ordering::Relaxed);
            }
            let error = blocking(move || sound::speak(&text, &stop)).await.err();
            let error = error.map(|e| e.message);
            emit(out, VoiceEvent::Spoken { error });
        }
        VoiceCommand::StopSpeaking => {
            if let Some(stop) = services
                .voice
                .speaking
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

fn models_event(config: &Config) -> VoiceEvent {
    VoiceEvent::Models {
        models: models::list(&models::dir(&config.data_dir)),
        selected: config.voice.model.clone(),
    }
}

fn status(config: &Config) -> VoiceStatus {
    let input = Input::from_setting(config.voice.input_device.as_deref());
    let dir = models::dir(&config.data_dir);
    let model = models::resolve(&dir, &config.voice.model);
    let devices = capture::microphones().unwrap_or_default();
    let unavailable =
        capture::probe(&input).or_else(|| model.as_ref().err().map(|e| e.message.clone()));
    let model = model.ok().map(|path| {
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        crate::api::VoiceModel {
            name: config.voice.model.clone(),
            bytes,
            english_only: config.voice.model.contains(".en"),
            path: Some(path),
            url: None,
        }
    });
    VoiceStatus {
        devices,
        unavailable,
        model,
        recording: false,
        speech: sound::synthesiser().is_some(),
        sound_unavailable: sound::probe(),
    }
}

fn model_path(config: &Config) -> Result<PathBuf, ErrorInfo> {
    Ok(models::resolve(
        &models::dir(&config.data_dir),
        &config.voice.model,
    )?)
}

async fn start(services: &Arc<Services>, out: &Outbox, config: &Config) -> Result<(), ErrorInfo> {
    // Without a model the words would be lost: say so before anything records.
    let model = model_path(config)?;
    if services
        .voice
        .recording
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_some()
    {
        return Err(failed(ErrorKind::Conflict, "a recording already runs"));
    }
    let input = Input::from_setting(config.voice.input_device.as_deref());
    let levels = out.clone();
    let ended = out.clone();
    let recorder = blocking(move || {
        Recorder::start(
            input,
            move |level| {
                levels.emit(Event::Voice(VoiceEvent::Level { level }));
            },
            move |error| {
                ended.emit(Event::Voice(VoiceEvent::Stopped { error: Some(error) }));
            },
        )
    })
    .await?;
    let device = recorder.device.clone();
    let refused = {
        let mut slot = services
            .voice
            .recording
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.is_some() {
            Some(recorder)
        } else {
            *slot = Some(recorder);
            None
        }
    };
    if let Some(recorder) = refused {
        let _ = tokio::task::spawn_blocking(move || recorder.finish()).await;
        return Err(failed(ErrorKind::Conflict, "a recording already runs"));
    }
    emit(out, VoiceEvent::Started { device });
    if config.voice.cues {
        tokio::task::spawn_blocking(|| sound::cue(crate::api::Cue::RecordStart));
    }
    // Load the model while the person speaks, so stopping only waits for the transcription.
    let transcriber = services.voice.transcriber.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = transcriber.model(&model) {
            tracing::warn!("{e}");
        }
    });
    Ok(())
}

async fn stop(
    services: &Arc<Services>,
    out: &Outbox,
    config: &Config,
) -> Result<Recording, ErrorInfo> {
    let recorder = services
        .voice
        .take_recording()
        .ok_or_else(|| failed(ErrorKind::Conflict, "no recording runs"))?;
    let recording = blocking(move || recorder.finish()).await?;
    emit(out, VoiceEvent::Stopped { error: None });
    if config.voice.cues {
        tokio::task::spawn_blocking(|| sound::cue(crate::api::Cue::RecordStop));
    }
    Ok(recording)
}

/// Trims silence and transcribes; `since` is when the person stopped speaking.
async fn transcribe(
    services: &Arc<Services>,
    config: &Config,
    samples: Vec<f32>,
    since: Instant,
) -> Result<Transcript, ErrorInfo> {
    let model = model_path(config)?;
    let transcriber = services.voice.transcriber.clone();
    let (language, threads, fast) = (
        config.voice.language.clone(),
        config.voice.threads(),
        config.voice.fast,
    );
    let rate = f64::from(dsp::RATE);
    #[allow(clippy::cast_precision_loss)]
    let seconds = |n: usize| n as f64 / rate;
    let ms = |s: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = (s * 1000.0).round() as u64;
        ms
    };
    let audio_ms = ms(seconds(samples.len()));
    let (heard, speech, took) = blocking(move || {
        let speech = dsp::trim_silence(&samples);
        if speech.is_empty() {
            return Ok((None, 0, 0.0));
        }
        let began = Instant::now();
        let heard = transcriber.transcribe(&model, speech, &language, threads, fast)?;
        Ok((Some(heard), speech.len(), began.elapsed().as_secs_f64()))
    })
    .await?;
    let (text, language) = heard.map_or_else(
        || (String::new(), config.voice.language.clone()),
        |h| (h.text, h.language),
    );
    let speech_s = seconds(speech);
    Ok(Transcript {
        text,
        language,
        audio_ms,
        speech_ms: ms(speech_s),
        latency_ms: u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
        real_time_factor: if speech_s > 0.0 { took / speech_s } else { 0.0 },
        auto_send: config.voice.auto_send,
    })
}
