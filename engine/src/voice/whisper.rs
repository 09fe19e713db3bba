//! Speech to text with whisper.cpp (whisper-rs): the model is loaded once and kept, each
//! transcription gets a fresh state on a blocking thread, and whisper's log goes to `tracing`
//! instead of the terminal.

use super::VoiceError;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

use super::dsp::RATE;

/// Whisper refuses less than a second; shorter speech is padded with silence.
const MIN_SAMPLES: usize = RATE as usize * 11 / 10;

/// The encoder's frames for a full 30 s window, and the frames added past a short utterance.
const FULL_AUDIO_CTX: usize = 1500;
const AUDIO_CTX_MARGIN: usize = 64;
const MIN_AUDIO_CTX: usize = 512;

/// A loaded model, shared.
#[derive(Default)]
pub(crate) struct Transcriber {
    loaded: Mutex<Option<(PathBuf, Arc<WhisperContext>)>>,
}

/// What whisper heard.
pub(crate) struct Heard {
    pub text: String,
    pub language: String,
}

impl Transcriber {
    /// The model at `path`, loading it unless it is the one already loaded.
    pub(crate) fn model(&self, path: &Path) -> Result<Arc<WhisperContext>, VoiceError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((current, context)) = loaded.as_ref()
            && current == path
        {
            return Ok(context.clone());
        }
        whisper_rs::install_logging_hooks();
        let text_path = path.to_str().ok_or_else(|| {
            VoiceError::invalid(format!(
                "the speech model path {} is not valid UTF-8",
                path.display()
            ))
        })?;
        let context =
            WhisperContext::new_with_params(text_path, WhisperContextParameters::default())
                .map_err(|e| {
                    VoiceError::invalid(format!(
                        "cannot load the speech model {}: {e}; is it a whisper.cpp ggml model?",
                        path.display()
                    ))
                })?;
        let context = Arc::new(context);
        *loaded = Some((path.to_path_buf(), context.clone()));
        Ok(context)
    }

    /// Transcribes 16 kHz mono speech with the model at `path`. Blocks: call off the async threads.
    /// `short_context` sizes the encoder to the speech instead of whisper's 30 s window (faster,
    /// sometimes less accurate).
    pub(crate) fn transcribe(
        &self,
        path: &Path,
        samples: &[f32],
        language: &str,
        threads: usize,
        short_context: bool,
    ) -> Result<Heard, VoiceError> {
        let context = self.model(path)?;
        let mut state = context
            .create_state()
            .map_err(|e| VoiceError::internal(format!("cannot start the speech model: {e}")))?;
        let english_only = !context.is_multilingual();
        let language = if english_only { "en" } else { language };
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(i32::try_from(threads.max(1)).unwrap_or(1));
        params.set_language(Some(language));
        params.set_translate(false);
        params.set_no_context(true);
        params.set_suppress_blank(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        let mut padded;
        let audio = if samples.len() < MIN_SAMPLES {
            padded = samples.to_vec();
            padded.resize(MIN_SAMPLES, 0.0);
            &padded[..]
        } else {
            samples
        };
        // The encoder works on 30 s windows (1500 frames of 20 ms) whatever the length: a short
        // utterance only needs its own frames and a margin, which makes it several times faster.
        // Too tight a window makes the decoder repeat itself, hence a floor.
        let frames = audio.len().div_ceil(RATE as usize / 50);
        let context = (frames + AUDIO_CTX_MARGIN).max(MIN_AUDIO_CTX);
        if short_context && context < FULL_AUDIO_CTX {
            params.set_audio_ctx(i32::try_from(context).unwrap_or(0));
        }
        state
            .full(params, audio)
            .map_err(|e| VoiceError::internal(format!("transcription failed: {e}")))?;
        let mut text = String::new();
        for segment in state.as_iter() {
            let piece = segment
                .to_str_lossy()
                .map_err(|e| VoiceError::internal(format!("transcription failed: {e}")))?;
            if !is_non_speech(&piece) {
                text.push_str(&piece);
            }
        }
        let language = if language == "auto" {
            whisper_rs::get_lang_str(state.full_lang_id_from_state())
                .unwrap_or("auto")
                .to_owned()
        } else {
            language.to_owned()
        };
        Ok(Heard {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            language,
        })
    }
}

/// Whisper's markers for sound that is not speech: `[BLANK_AUDIO]`, `(wind blowing)`, `[Music]`.
fn is_non_speech(segment: &str) -> bool {
    let t = segment.trim();
    (t.starts_with('[') && t.ends_with(']')) || (t.starts_with('(') && t.ends_with(')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_of_non_speech_are_recognised() {
        assert!(is_non_speech(" [BLANK_AUDIO]"));
        assert!(is_non_speech("(wind blowing) "));
        assert!(!is_non_speech(" Open the file (quickly)."));
        assert!(!is_non_speech(" [1] is a footnote"));
    }
}
