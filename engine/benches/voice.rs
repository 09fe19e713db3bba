//! Dictation latency: from the end of a ~5 s utterance (the push-to-talk key let go) to the text
//! arriving as an event — what the composer waits for — on one thread, through the whole engine
//! path (paced "microphone", resampling, VAD, whisper). The baseline, run in the same process, is
//! whisper alone on the same already-trimmed 16 kHz speech with the model loaded: the ratio says
//! what the pipeline adds. Also the real-time factor (whisper time / speech time).
//!
//! `cargo bench -p aetheria-engine --features testkit --bench voice` (needs espeak-ng, sox and the
//! test model from `installer/dev.sh test`).

use std::time::{Duration, Instant};

use aetheria_engine::Engine;
use aetheria_engine::api::{Command, Event, VoiceCommand, VoiceEvent};
use aetheria_engine::config::Config;
use aetheria_engine::testkit::voice::{model, raw_whisper, speech, word_accuracy};

const UTTERANCE: &str = "Please open the project notes, find the meeting summary from Tuesday, \
    and send it to the whole team.";
const RUNS: usize = 3;

/// Dictates the file through the engine `RUNS` times: the median seconds from letting go of the
/// key to the text event, and the engine's own measure of it.
async fn dictate(
    dir: &std::path::Path,
    wav: &std::path::Path,
    speech_s: f64,
    fast: bool,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let data = dir.join(if fast { "fast" } else { "default" });
    let mut config = Config::new(data.join("config"), data.join("data"));
    config.voice.model = model::path().display().to_string();
    config.voice.threads = Some(1);
    config.voice.cues = false;
    config.voice.fast = fast;
    config.voice.input_device = Some(format!("wav:{}", wav.display()));
    config.run_jobs = false;
    let (handle, mut events) = Engine::start(config).await?;
    let mut latency = Vec::new();
    let mut engine_latency = Vec::new();
    for _ in 0..RUNS {
        handle.submit(Command::Voice(VoiceCommand::Start))?;
        // Speak the whole file at its pace, then let go of the key.
        let began = Instant::now();
        let audio = Duration::from_secs_f64(speech_s + 0.6);
        while began.elapsed() < audio {
            let _ = tokio::time::timeout(Duration::from_millis(50), events.recv()).await;
        }
        let let_go = Instant::now();
        handle.submit(Command::Voice(VoiceCommand::Stop))?;
        let transcript = loop {
            match events.recv().await.map(|e| e.event) {
                Some(Event::Voice(VoiceEvent::Transcribed(t))) => break t,
                Some(Event::CommandFailed { error, .. }) => return Err(error.message.into()),
                Some(_) => {}
                None => return Err("the engine stopped".into()),
            }
        };
        latency.push(let_go.elapsed().as_secs_f64());
        engine_latency.push(transcript.latency_ms as f64 / 1000.0);
        assert!(
            word_accuracy(UTTERANCE, &transcript.text) > 0.8,
            "{}",
            transcript.text
        );
    }
    handle.submit(Command::Shutdown)?;
    while events.recv().await.is_some() {}
    Ok((median(latency), median(engine_latency)))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let wav = speech(dir.path(), "utterance", UTTERANCE, 16_000, 1);
    let model = model::path();

    let (mut whisper, mut stock) = (Vec::new(), Vec::new());
    let mut speech_s = 0.0;
    for _ in 0..RUNS {
        let (text, seconds, took) = raw_whisper(&model, &wav, 1, true)?;
        assert!(word_accuracy(UTTERANCE, &text) > 0.8, "{text}");
        speech_s = seconds;
        whisper.push(took);
        let (text, _, took) = raw_whisper(&model, &wav, 1, false)?;
        assert!(word_accuracy(UTTERANCE, &text) > 0.8, "{text}");
        stock.push(took);
    }
    let (whisper, stock) = (median(whisper), median(stock));

    let accurate = dictate(dir.path(), &wav, speech_s, false).await?;
    let fast = dictate(dir.path(), &wav, speech_s, true).await?;
    println!("utterance: {speech_s:.2} s of speech, 1 thread, median of {RUNS}");
    println!(
        "baseline  whisper alone, 30 s window (default):    {:>6.0} ms   real-time factor {:.3}",
        stock * 1000.0,
        stock / speech_s
    );
    println!(
        "baseline  whisper alone, encoder sized (fast):     {:>6.0} ms   real-time factor {:.3}",
        whisper * 1000.0,
        whisper / speech_s
    );
    for (name, (latency, engine), baseline) in
        [("default", accurate, stock), ("fast   ", fast, whisper)]
    {
        println!(
            "dictation {name}: key let go -> text event {:>6.0} ms   ({:.2}x whisper alone; goal <= 1000 ms; engine's own measure {:.0} ms)",
            latency * 1000.0,
            latency / baseline,
            engine * 1000.0
        );
    }
    Ok(())
}
