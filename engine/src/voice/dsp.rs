//! The signal path between a sound source and whisper: mix to mono, resample to 16 kHz (rubato's
//! windowed-sinc resampler, so 44.1/48 kHz microphones are low-passed, not decimated), measure the
//! level for the meter, and trim leading and trailing silence with a simple energy VAD.

use rubato::audioadapter_buffers::direct::InterleavedSlice;

use super::VoiceError;
use rubato::{
    Async, FixedAsync, Indexing, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

/// The rate whisper takes.
pub(crate) const RATE: u32 = 16_000;

/// Input frames per resampler call.
const CHUNK: usize = 1024;

/// Mixes interleaved frames of `channels` into one channel (their mean).
pub(crate) fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    #[allow(clippy::cast_precision_loss)]
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

/// Streams mono audio at any rate to 16 kHz.
pub(crate) struct To16k {
    resampler: Option<Async<f32>>,
    pending: Vec<f32>,
    /// Output frames still to drop: the resampler's delay.
    delay: usize,
    /// Input frames seen, for the exact output length at the end.
    input_frames: u64,
    output_frames: u64,
    ratio: f64,
    scratch: Vec<f32>,
}

impl To16k {
    /// A resampler from `rate` (passes through when it is already 16 kHz).
    pub(crate) fn new(rate: u32) -> Result<Self, VoiceError> {
        let ratio = f64::from(RATE) / f64::from(rate.max(1));
        let resampler = if rate == RATE {
            None
        } else {
            let parameters = SincInterpolationParameters {
                sinc_len: 256,
                f_cutoff: None,
                oversampling_factor: 256,
                interpolation: SincInterpolationType::Cubic,
                window: WindowFunction::BlackmanHarris2,
            };
            Some(
                Async::<f32>::new_sinc(ratio, 1.0, &parameters, CHUNK, 1, FixedAsync::Input)
                    .map_err(|e| {
                        VoiceError::internal(format!("cannot resample {rate} Hz to {RATE} Hz: {e}"))
                    })?,
            )
        };
        let delay = resampler.as_ref().map_or(0, Resampler::output_delay);
        let scratch = vec![0.0; resampler.as_ref().map_or(0, Resampler::output_frames_max)];
        Ok(Self {
            resampler,
            pending: Vec::new(),
            delay,
            input_frames: 0,
            output_frames: 0,
            ratio,
            scratch,
        })
    }

    /// Feeds mono samples; resampled ones are appended to `out`.
    pub(crate) fn push(&mut self, mono: &[f32], out: &mut Vec<f32>) -> Result<(), VoiceError> {
        self.input_frames += mono.len() as u64;
        if self.resampler.is_none() {
            out.extend_from_slice(mono);
            self.output_frames += mono.len() as u64;
            return Ok(());
        }
        self.pending.extend_from_slice(mono);
        while self.pending.len() >= CHUNK {
            self.process(CHUNK, out)?;
            self.pending.drain(..CHUNK);
        }
        Ok(())
    }

    /// Flushes what is buffered; afterwards `out` holds the whole input, resampled.
    pub(crate) fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), VoiceError> {
        if self.resampler.is_none() {
            return Ok(());
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let wanted = (self.input_frames as f64 * self.ratio).round() as u64;
        let partial = self.pending.len();
        self.pending.resize(CHUNK, 0.0);
        self.process(partial, out)?;
        self.pending.clear();
        // Silence pushes the delayed tail out.
        let mut guard = 0;
        while self.output_frames < wanted && guard < 64 {
            self.pending.resize(CHUNK, 0.0);
            self.process(0, out)?;
            self.pending.clear();
            guard += 1;
        }
        if self.output_frames > wanted {
            #[allow(clippy::cast_possible_truncation)]
            let extra = (self.output_frames - wanted) as usize;
            out.truncate(out.len().saturating_sub(extra));
            self.output_frames = wanted;
        }
        Ok(())
    }

    fn process(&mut self, valid: usize, out: &mut Vec<f32>) -> Result<(), VoiceError> {
        let Some(resampler) = self.resampler.as_mut() else {
            return Ok(());
        };
        let input = InterleavedSlice::new(&self.pending[..CHUNK], 1, CHUNK)
            .map_err(|e| VoiceError::internal(format!("resampler input: {e}")))?;
        let capacity = self.scratch.len();
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, 1, capacity)
            .map_err(|e| VoiceError::internal(format!("resampler output: {e}")))?;
        let indexing = Indexing {
            partial_len: (valid < CHUNK).then_some(valid),
            ..Indexing::default()
        };
        let (_, written) = resampler
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| VoiceError::internal(format!("resampling failed: {e}")))?;
        let produced = self.scratch.get(..written).unwrap_or_default();
        let skip = self.delay.min(produced.len());
        self.delay -= skip;
        let kept = produced.get(skip..).unwrap_or_default();
        out.extend_from_slice(kept);
        self.output_frames += kept.len() as u64;
        Ok(())
    }
}

/// Root mean square of samples.
pub(crate) fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = samples.len() as f32;
    (samples.iter().map(|s| s * s).sum::<f32>() / n).sqrt()
}

/// A level for a meter: -60 dBFS and below is 0, full scale is 1.
pub(crate) fn meter(rms: f32) -> f32 {
    if rms <= 0.0 {
        return 0.0;
    }
    ((20.0 * rms.log10() + 60.0) / 60.0).clamp(0.0, 1.0)
}

/// VAD frame: 30 ms at 16 kHz.
const FRAME: usize = 480;
/// Speech kept before the first and after the last loud frame, so soft consonants survive.
const PAD_BEFORE: usize = 200 * 16;
const PAD_AFTER: usize = 300 * 16;
/// The quietest level counted as speech, whatever the noise floor (about -46 dBFS).
const MIN_SPEECH_RMS: f32 = 0.005;

/// The part of 16 kHz `samples` that holds speech: from the first frame clearly louder than the
/// noise floor to the last, padded a little. Empty when no frame is (nothing was said).
pub(crate) fn trim_silence(samples: &[f32]) -> &[f32] {
    let energies: Vec<f32> = samples.chunks(FRAME).map(rms).collect();
    if energies.is_empty() {
        return &[];
    }
    let mut sorted = energies.clone();
    sorted.sort_by(f32::total_cmp);
    // The noise floor: the 10th-percentile frame (recordings start and end with room noise).
    let floor = sorted.get(sorted.len() / 10).copied().unwrap_or(0.0);
    let threshold = (floor * 4.0).max(MIN_SPEECH_RMS);
    let loud = |e: &&f32| **e > threshold;
    let Some(first) = energies.iter().position(|e| loud(&e)) else {
        return &[];
    };
    let last = energies.iter().rposition(|e| loud(&e)).unwrap_or(first);
    let start = (first * FRAME).saturating_sub(PAD_BEFORE);
    let end = ((last + 1) * FRAME + PAD_AFTER).min(samples.len());
    samples.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, hz: f32, seconds: f32, amplitude: f32) -> Vec<f32> {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let n = (rate as f32 * seconds) as usize;
        #[allow(clippy::cast_precision_loss)]
        (0..n)
            .map(|i| amplitude * (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn stereo_is_mixed_to_the_mean() {
        let mut out = Vec::new();
        downmix(&[1.0, 0.0, 0.5, 0.5, -1.0, 1.0], 2, &mut out);
        assert_eq!(out, vec![0.5, 0.5, 0.0]);
    }

    #[test]
    fn resampling_keeps_length_and_pitch() -> Result<(), VoiceError> {
        for rate in [8_000, 16_000, 22_050, 44_100, 48_000] {
            let input = tone(rate, 440.0, 1.0, 0.5);
            let mut resampler = To16k::new(rate)?;
            let mut out = Vec::new();
            // Odd-sized pieces, as a sound card delivers them.
            for piece in input.chunks(777) {
                resampler.push(piece, &mut out)?;
            }
            resampler.finish(&mut out)?;
            assert_eq!(out.len(), 16_000, "{rate} Hz");
            // A 440 Hz tone crosses zero 880 times a second, whatever the rate was.
            let crossings = out
                .windows(2)
                .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
                .count();
            assert!((870..=890).contains(&crossings), "{rate} Hz: {crossings}");
            // Amplitude is kept away from the edges (0.5 peak → 0.354 rms).
            let level = rms(&out[1000..15_000]);
            assert!((0.33..0.37).contains(&level), "{rate} Hz: rms {level}");
        }
        Ok(())
    }

    #[test]
    fn frequencies_above_the_new_nyquist_are_filtered_out() -> Result<(), VoiceError> {
        // 12 kHz at 48 kHz would fold back to 4 kHz if the resampler only dropped samples.
        let input = tone(48_000, 12_000.0, 1.0, 0.5);
        let mut resampler = To16k::new(48_000)?;
        let mut out = Vec::new();
        resampler.push(&input, &mut out)?;
        resampler.finish(&mut out)?;
        assert!(rms(&out[1000..15_000]) < 0.01);
        Ok(())
    }

    #[test]
    fn silence_is_trimmed_around_speech() {
        let mut samples = vec![0.0005; 16_000];
        samples.extend(tone(16_000, 300.0, 1.0, 0.3));
        samples.extend(vec![0.0005; 32_000]);
        let speech = trim_silence(&samples);
        // One second of sound plus at most the padding (and a frame of rounding).
        assert!(speech.len() >= 16_000, "{}", speech.len());
        assert!(
            speech.len() <= 16_000 + PAD_BEFORE + PAD_AFTER + 2 * FRAME,
            "{}",
            speech.len()
        );
        assert!(trim_silence(&vec![0.001; 48_000]).is_empty());
        assert!(trim_silence(&[]).is_empty());
    }

    #[test]
    fn the_meter_spans_sixty_decibels() {
        assert!(meter(0.0).abs() < f32::EPSILON);
        assert!(meter(0.001).abs() < 1e-3);
        assert!((meter(1.0) - 1.0).abs() < 1e-6);
        assert!((meter(0.031_62) - 0.5).abs() < 0.01);
    }
}
