//! `aetheria voice` as a person or a script runs it: transcribing espeak-ng speech with the real
//! tiny.en model, listing models, explaining what is missing, and playing sound through ALSA's
//! null device (these machines have no sound card).

use aetheria_engine::testkit::voice::{model, speech, words};

use super::common::{Env, stderr, stdout};

/// A home whose ALSA default is the null device behind a `file` tap: playback runs to its end
/// silently and what was played lands in `played.wav` (16 kHz mono), to be checked.
fn null_sound_home(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let home = env.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let played = home.join("played.wav");
    std::fs::write(
        home.join(".asoundrc"),
        format!(
            "pcm.!default {{ type plug slave {{ pcm \"tap\" format S16_LE rate 16000 channels 1 }} }}\n\
             pcm.tap {{ type file slave.pcm \"null\" file \"{}\" format \"wav\" }}\n",
            played.display()
        ),
    )
    .unwrap();
    (home, played)
}

/// Seconds of audible sound (not silence) in a 16-bit mono 16 kHz WAV file. The null device takes
/// sound faster than real time, so the silence the mixer plays around it is not counted.
fn seconds(wav: &std::path::Path) -> f64 {
    let bytes = std::fs::read(wav).unwrap_or_default();
    let audible = bytes
        .get(44..)
        .unwrap_or_default()
        .chunks_exact(2)
        .filter(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs() > 300)
        .count();
    audible as f64 / 16_000.0
}

#[tokio::test]
async fn transcribe_prints_the_words_or_json() {
    let env = Env::new("http://127.0.0.1:9/v1");
    let wav = speech(
        env.dir.path(),
        "readme",
        "Open the Read Me file and summarize it.",
        22_050,
        1,
    );
    let model = model::path().display().to_string();
    let wav_arg = wav.display().to_string();

    let out = env
        .run(&["voice", "transcribe", &wav_arg, "--model", &model])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        words(&stdout(&out)),
        words("Open the Read Me file and summarize it.")
    );

    let out = env
        .run(&["voice", "transcribe", &wav_arg, "--model", &model, "--json"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["language"], "en");
    assert!(json["audio_ms"].as_u64().unwrap() > 1500, "{json}");
    assert!(json["real_time_factor"].as_f64().unwrap() > 0.0, "{json}");

    // The default model is not installed in this fresh data folder: the error says what to do.
    let out = env.run(&["voice", "transcribe", &wav_arg]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("aetheria voice models add tiny.en"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn models_and_status_say_what_there_is() {
    let env = Env::new("http://127.0.0.1:9/v1");
    let out = env.run(&["voice", "models", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["selected"], "tiny.en");
    let names: Vec<&str> = json["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(
        names.contains(&"tiny.en") && names.contains(&"base.en"),
        "{names:?}"
    );

    let model = model::path().display().to_string();
    let out = env
        .run(&[
            "voice",
            "models",
            "add",
            "tiny.en",
            "--from",
            &model,
            "--checksum",
            model::SHA256,
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["voice", "models"]).await;
    let listed = stdout(&out);
    let tiny = listed
        .lines()
        .find(|l| l.contains("tiny.en"))
        .unwrap_or_default();
    assert!(
        tiny.starts_with('*') && tiny.contains("installed"),
        "{listed}"
    );

    // No sound card here: status explains the microphone and says the model is ready.
    let mut command = env.command(&["voice", "status", "--json"]);
    command.env("HOME", env.dir.path());
    let out = command.output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let status: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["model"]["name"], "tiny.en");
    assert!(
        status["unavailable"]
            .as_str()
            .unwrap_or_default()
            .contains("microphone"),
        "{status}"
    );

    let out = env.run(&["voice", "models", "rm", "tiny.en"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["voice", "models", "rm", "tiny.en"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no speech model named"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn cues_and_speech_play_through_the_null_device() {
    let env = Env::new("http://127.0.0.1:9/v1");
    let (home, played) = null_sound_home(&env);
    for cue in ["record-start", "record-stop", "job-finished"] {
        let _ = std::fs::remove_file(&played);
        let mut command = env.command(&["voice", "cue", cue]);
        command.env("HOME", &home);
        let out = command.output().await.unwrap();
        assert!(out.status.success(), "{cue}: {}", stderr(&out));
        // Two short tones: about a seventh to a quarter of a second of sound reached the device.
        let length = seconds(&played);
        assert!((0.1..0.4).contains(&length), "{cue}: {length} s");
    }

    // Reading aloud plays the whole synthesised sentence: what reached the device is heard again.
    let _ = std::fs::remove_file(&played);
    let sentence = "Open the Read Me file and summarize it.";
    let mut command = env.command(&["voice", "say", sentence]);
    command.env("HOME", &home);
    let out = command.output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(seconds(&played) > 1.0, "{} s", seconds(&played));
    let model = model::path().display().to_string();
    let played_arg = played.display().to_string();
    let out = env
        .run(&["voice", "transcribe", &played_arg, "--model", &model])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(words(&stdout(&out)), words(sentence));

    // Without any sound output the failure is a sentence, not a crash.
    let bare = env.dir.path().join("bare-home");
    std::fs::create_dir_all(&bare).unwrap();
    let mut command = env.command(&["voice", "cue", "job-finished"]);
    command.env("HOME", &bare);
    let out = command.output().await.unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no sound output"), "{}", stderr(&out));
}
