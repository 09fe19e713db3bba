//! Sound out: short cues made from sine tones (no sound files to ship), and answers read aloud by
//! `espeak-ng` — a small offline synthesiser in every Linux distribution and on Homebrew, chosen
//! over neural voices (piper) that need the ONNX runtime and a voice download. Each playback runs
//! on its own thread that opens the output device, because a cpal stream may not move between
//! threads.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rodio::source::SineWave;
use rodio::{DeviceSinkBuilder, Player, Source};

use super::VoiceError;
use super::capture::chain;
use crate::api::Cue;

/// Why sound cannot play here, if it cannot.
pub(crate) fn probe() -> Option<String> {
    DeviceSinkBuilder::from_default_device()
        .err()
        .map(|e| format!("no sound output ({})", chain(&e)))
}

/// Plays `source` to its end on the default output, or until `stop` is set. Blocks.
fn play<S>(source: S, stop: &AtomicBool) -> Result<(), VoiceError>
where
    S: Source + Send + 'static,
{
    let mut sink = DeviceSinkBuilder::open_default_sink()
        .map_err(|e| VoiceError::unavailable(format!("no sound output ({})", chain(&e))))?;
    sink.log_on_drop(false);
    let player = Player::connect_new(sink.mixer());
    player.append(source);
    while !player.empty() {
        if stop.load(Ordering::Relaxed) {
            player.stop();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn tone(hz: f32, ms: u64) -> impl Source + Send + 'static {
    SineWave::new(hz)
        .take_duration(Duration::from_millis(ms))
        .fade_in(Duration::from_millis(8))
        .amplify(0.18)
}

/// Plays a cue to its end (about a fifth of a second). Blocks.
pub(crate) fn cue(cue: Cue) -> Result<(), VoiceError> {
    let never = AtomicBool::new(false);
    match cue {
        Cue::RecordStart => play(tone(660.0, 70).mix(tone(990.0, 70).delay_ms(70)), &never),
        Cue::RecordStop => play(tone(990.0, 70).mix(tone(660.0, 70).delay_ms(70)), &never),
        Cue::JobFinished => play(tone(784.0, 90).mix(tone(1046.5, 140).delay_ms(110)), &never),
    }
}

trait DelayMs: Source + Sized {
    fn delay_ms(self, ms: u64) -> rodio::source::Delay<Self> {
        self.delay(Duration::from_millis(ms))
    }
}

impl<S: Source> DelayMs for S {}

/// The synthesiser, when installed.
pub(crate) fn synthesiser() -> Option<&'static str> {
    ["espeak-ng", "espeak"].into_iter().find(|program| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Speech for `text` as a WAV file's bytes. Blocks.
pub(crate) fn synthesise(text: &str) -> Result<Vec<u8>, VoiceError> {
    let program = synthesiser().ok_or_else(|| {
        VoiceError::unavailable(
            "reading aloud needs espeak-ng: install it (`apt install espeak-ng`, `brew install espeak-ng`)",
        )
    })?;
    let mut child = Command::new(program)
        .args(["--stdout", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| VoiceError::unavailable(format!("cannot start {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| VoiceError::unavailable(format!("cannot talk to {program}: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| VoiceError::unavailable(format!("{program} failed: {e}")))?;
    if !output.status.success() || output.stdout.len() < 44 {
        return Err(VoiceError::unavailable(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

/// Reads `text` aloud until it ends or `stop` is set. Blocks.
pub(crate) fn speak(text: &str, stop: &Arc<AtomicBool>) -> Result<(), VoiceError> {
    let spoken = plain_text(text);
    if spoken.trim().is_empty() {
        return Ok(());
    }
    let wav = synthesise(&spoken)?;
    let decoder = rodio::Decoder::try_from(std::io::Cursor::new(wav)).map_err(|e| {
        VoiceError::unavailable(format!(
            "the synthesiser's sound is unreadable: {}",
            chain(&e)
        ))
    })?;
    play(decoder, stop)
}

/// Markdown as it should be heard: code blocks and link targets left out, marks removed.
pub(crate) fn plain_text(markdown: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            if !in_code {
                out.push_str("(code omitted)\n");
            }
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        out.push_str(&strip_marks(trimmed));
        out.push('\n');
    }
    out
}

fn strip_marks(line: &str) -> String {
    let line = line.trim_start_matches(['#', '>', ' ']);
    let line = line
        .strip_prefix("- ")
        .or_else(|| line.strip_prefix("* "))
        .unwrap_or(line);
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    // [text](target) → text
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find("](").and_then(|mid| {
            after[mid + 2..]
                .find(')')
                .map(|close| (mid, mid + 2 + close))
        }) {
            Some((mid, close)) => {
                out.push_str(&after[..mid]);
                rest = &after[close + 1..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace(['*', '`', '_', '|'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_read_without_its_marks() {
        let spoken = plain_text(
            "# Title\n\nSee **this** [page](https://x.example/a_b) and `code`.\n\n```rust\nfn main() {}\n```\n- item one\n> quoted",
        );
        assert_eq!(
            spoken,
            "Title\n\nSee this page and code.\n\n(code omitted)\nitem one\nquoted\n"
        );
    }
}
