//! Recording: one thread per recording pulls samples from a rodio `Source` — the microphone, or a
//! WAV file standing in for one — through the same path (mix to mono, resample to 16 kHz, meter)
//! until told to stop. The sound device is opened on that thread, because a cpal stream may not
//! move between threads.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rodio::Source;
use rodio::microphone::{MicrophoneBuilder, available_inputs};

use super::VoiceError;
use super::dsp::{self, To16k};

/// Where sound comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// A microphone by name; the system default when none.
    Microphone(Option<String>),
    /// A WAV file; `paced` delivers it at the speed it would be spoken, as a microphone does.
    File {
        /// The file.
        path: PathBuf,
        /// Real-time delivery.
        paced: bool,
    },
}

impl Input {
    /// The input a configured device name selects (`wav:PATH` is a file played as a microphone).
    pub(crate) fn from_setting(device: Option<&str>) -> Self {
        match device {
            Some(name) if name.starts_with("wav:") => Self::File {
                path: PathBuf::from(&name["wav:".len()..]),
                paced: true,
            },
            Some(name) => Self::Microphone(Some(name.to_owned())),
            None => Self::Microphone(None),
        }
    }
}

/// A finished recording: mono 16 kHz samples.
#[derive(Debug, Default)]
pub(crate) struct Recording {
    pub samples: Vec<f32>,
    /// Why it ended by itself (the device failed), when it did.
    pub error: Option<String>,
}

/// A recording in progress.
pub(crate) struct Recorder {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<Recording, VoiceError>>,
    /// What records (for the person).
    pub device: String,
}

impl Recorder {
    /// Opens `input` and starts recording; `level` gets the meter level about 20 times a second,
    /// `ended` is told why if the device fails while recording. Blocks until the device is open.
    pub(crate) fn start(
        input: Input,
        level: impl FnMut(f32) + Send + 'static,
        ended: impl FnOnce(String) + Send + 'static,
    ) -> Result<Self, VoiceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel(1);
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("aetheria-record".into())
            .spawn(move || {
                let recording = record(&input, &flag, level, &opened_tx);
                if let Ok(Recording {
                    error: Some(error), ..
                }) = &recording
                {
                    ended(error.clone());
                }
                recording
            })
            .map_err(|e| VoiceError::internal(format!("cannot start recording: {e}")))?;
        match opened_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(device)) => Ok(Self {
                stop,
                thread,
                device,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                Err(VoiceError::unavailable(
                    "the sound device did not open within 10 s",
                ))
            }
        }
    }

    /// Stops and returns what was recorded.
    pub(crate) fn finish(self) -> Result<Recording, VoiceError> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| VoiceError::internal("the recording thread crashed"))?
    }
}

/// Runs a whole recording of `input` (not paced, to its end) on this thread: for files.
pub(crate) fn record_all(input: &Input) -> Result<Recording, VoiceError> {
    let (tx, _rx) = std::sync::mpsc::sync_channel(1);
    record(input, &AtomicBool::new(false), |_| {}, &tx)
}

type Opened = std::sync::mpsc::SyncSender<Result<String, VoiceError>>;

fn record(
    input: &Input,
    stop: &AtomicBool,
    level: impl FnMut(f32),
    opened: &Opened,
) -> Result<Recording, VoiceError> {
    let fail = |e: VoiceError| {
        let _ = opened.send(Err(e.clone()));
        Err(e)
    };
    match input {
        Input::File { path, paced } => {
            let file = match std::fs::File::open(path) {
                Ok(file) => file,
                Err(e) => {
                    return fail(VoiceError::invalid(format!(
                        "cannot open {}: {e}",
                        path.display()
                    )));
                }
            };
            let decoder = match rodio::Decoder::try_from(file) {
                Ok(decoder) => decoder,
                Err(e) => {
                    return fail(VoiceError::invalid(format!(
                        "{} is not a sound file Aetheria can read (WAV): {}",
                        path.display(),
                        chain(&e)
                    )));
                }
            };
            let _ = opened.send(Ok(format!("file {}", path.display())));
            pump(decoder, stop, level, *paced, false)
        }
        Input::Microphone(name) => {
            let (microphone, device) = match open_microphone(name.as_deref()) {
                Ok(opened) => opened,
                Err(e) => return fail(e),
            };
            let _ = opened.send(Ok(device));
            pump(microphone, stop, level, false, true)
        }
    }
}

fn open_microphone(
    name: Option<&str>,
) -> Result<(rodio::microphone::Microphone, String), VoiceError> {
    let builder = MicrophoneBuilder::new();
    let (builder, device) = match name {
        Some(name) => {
            let inputs = available_inputs().map_err(|e| no_microphone(&chain(&e)))?;
            let Some(input) = inputs.into_iter().find(|i| i.to_string() == name) else {
                return Err(VoiceError::unavailable(format!(
                    "the microphone {name:?} is not connected; pick another in Settings → Voice"
                )));
            };
            let builder = builder
                .device(input)
                .map_err(|e| no_microphone(&chain(&e)))?;
            (builder, name.to_owned())
        }
        None => {
            let builder = builder
                .default_device()
                .map_err(|e| no_microphone(&chain(&e)))?;
            (builder, "default microphone".to_owned())
        }
    };
    let builder = builder
        .default_config()
        .map_err(|e| no_microphone(&chain(&e)))?;
    // Whisper wants 16 kHz mono: ask for it, take what the device has otherwise.
    let mono = std::num::NonZero::new(1u16).into_iter();
    let rates = [16_000u32, 48_000, 44_100]
        .into_iter()
        .filter_map(std::num::NonZero::new);
    let builder = builder
        .prefer_channel_counts(mono)
        .prefer_sample_rates(rates);
    let microphone = builder
        .open_stream()
        .map_err(|e| no_microphone(&chain(&e)))?;
    Ok((microphone, device))
}

fn no_microphone(detail: &str) -> VoiceError {
    VoiceError::unavailable(format!("no microphone can record here ({detail})"))
}

/// The error and its causes in one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Pulls the source through the signal path until it ends or `stop` is set.
fn pump<S: Source>(
    mut source: S,
    stop: &AtomicBool,
    mut level: impl FnMut(f32),
    paced: bool,
    live: bool,
) -> Result<Recording, VoiceError> {
    let channels = usize::from(source.channels().get());
    let rate = source.sample_rate().get();
    let mut to16k = To16k::new(rate)?;
    // 10 ms per pull, so stopping is quick; the meter every 50 ms.
    let pull = (rate as usize / 100).max(1) * channels;
    let meter_every = (rate as usize / 20).max(1);
    let (mut frames, mut piece, mut mono, mut metered) = (0u64, Vec::new(), Vec::new(), Vec::new());
    let mut out = Vec::new();
    let started = Instant::now();
    let mut error = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            if live {
                // What the device already delivered belongs to the recording.
                let ready = source.size_hint().0;
                piece.clear();
                piece.extend(source.by_ref().take(ready - ready % channels));
                feed(&piece, channels, &mut mono, &mut to16k, &mut out)?;
            }
            break;
        }
        piece.clear();
        piece.extend(source.by_ref().take(pull));
        if piece.is_empty() {
            if live {
                error = Some("the microphone stopped delivering sound".to_owned());
            }
            break;
        }
        feed(&piece, channels, &mut mono, &mut to16k, &mut out)?;
        metered.extend_from_slice(&mono);
        if metered.len() >= meter_every {
            level(dsp::meter(dsp::rms(&metered)));
            metered.clear();
        }
        frames += (piece.len() / channels) as u64;
        if paced {
            let due = Duration::from_secs_f64(frames as f64 / f64::from(rate));
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    to16k.finish(&mut out)?;
    Ok(Recording {
        samples: out,
        error,
    })
}

fn feed(
    interleaved: &[f32],
    channels: usize,
    mono: &mut Vec<f32>,
    to16k: &mut To16k,
    out: &mut Vec<f32>,
) -> Result<(), VoiceError> {
    mono.clear();
    dsp::downmix(interleaved, channels, mono);
    to16k.push(mono, out)
}

/// The microphones this machine has, by name.
pub(crate) fn microphones() -> Result<Vec<String>, VoiceError> {
    available_inputs()
        .map(|inputs| inputs.iter().map(ToString::to_string).collect())
        .map_err(|e| no_microphone(&chain(&e)))
}

/// Why the configured input cannot record, if it cannot (probes without recording).
pub(crate) fn probe(input: &Input) -> Option<String> {
    match input {
        Input::File { path, .. } => {
            (!path.is_file()).then(|| format!("the input file {} does not exist", path.display()))
        }
        Input::Microphone(name) => {
            let builder = MicrophoneBuilder::new();
            let result = match name {
                Some(name) => match available_inputs() {
                    Ok(inputs) => match inputs.into_iter().find(|i| i.to_string() == *name) {
                        Some(input) => builder.device(input).map(|_| ()).map_err(|e| chain(&e)),
                        None => Err(format!("{name:?} is not connected")),
                    },
                    Err(e) => Err(chain(&e)),
                },
                None => builder
                    .default_device()
                    .and_then(|b| b.default_config().map(|_| ()))
                    .map_err(|e| chain(&e)),
            };
            result.err().map(|e| no_microphone(&e).message)
        }
    }
}
