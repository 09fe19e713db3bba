//! `aetheria voice`: transcribe a WAV file, manage speech models, check what voice can do here,
//! and read text aloud — over the same engine API as the window's microphone button.

use std::path::PathBuf;
use std::process::ExitCode;

use aetheria_engine::api::{Command, Cue, Event, VoiceCommand, VoiceEvent, VoiceModel};
use aetheria_engine::config::Config;
use aetheria_engine::{Events, Handle};

use super::CliError;
use super::ask::shutdown;
use super::manage::{Progress, request};

async fn start(
    model: Option<String>,
    language: Option<String>,
) -> Result<(Handle, Events), CliError> {
    let mut config = Config::load()?;
    config.run_jobs = false;
    let own = super::manage::given_flags(&[
        (model.is_some(), "--model"),
        (language.is_some(), "--language"),
    ]);
    if let Some(model) = model {
        config.voice.model = model;
    }
    if let Some(language) = language {
        config.voice.language = language;
    }
    super::manage::open(config, own.as_deref()).await
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / f64::from(1 << 20))
}

/// `aetheria voice transcribe FILE`.
pub(super) async fn transcribe(
    file: PathBuf,
    model: Option<String>,
    language: Option<String>,
    json: bool,
) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start(model, language).await?;
    let event = request(
        &handle,
        &mut events,
        Command::Voice(VoiceCommand::Transcribe {
            path: std::path::absolute(&file).unwrap_or(file),
        }),
        |e| matches!(e, Event::Voice(VoiceEvent::Transcribed(_))),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::Voice(VoiceEvent::Transcribed(transcript)) = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&transcript)?);
    } else if transcript.text.is_empty() {
        eprintln!("no speech was heard");
    } else {
        println!("{}", transcript.text);
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(model: &VoiceModel, selected: &str) -> String {
    let mark = if model.name == selected { "*" } else { " " };
    let state = match (&model.path, &model.url) {
        (Some(path), _) => format!("installed  {}", path.display()),
        (None, Some(_)) => "available  (`aetheria voice models add NAME`)".to_owned(),
        (None, None) => String::new(),
    };
    let language = if model.english_only {
        "English"
    } else {
        "multilingual"
    };
    format!(
        "{mark} {:<14} {:>8}  {language:<12}  {state}",
        model.name,
        mib(model.bytes)
    )
}

/// `aetheria voice models`.
pub(super) async fn models(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start(None, None).await?;
    let event = request(
        &handle,
        &mut events,
        Command::Voice(VoiceCommand::Models),
        |e| matches!(e, Event::Voice(VoiceEvent::Models { .. })),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::Voice(VoiceEvent::Models { models, selected }) = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "models": models, "selected": selected })
            )?
        );
    } else {
        for model in &models {
            println!("{}", describe(model, &selected));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `aetheria voice models add NAME [--from SOURCE] [--checksum SUM]`.
pub(super) async fn add(
    name: String,
    source: Option<String>,
    checksum: Option<String>,
) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start(None, None).await?;
    let id = handle.submit(Command::Voice(VoiceCommand::InstallModel {
        name: name.clone(),
        source: source.as_deref().map(super::manage::from_here),
        checksum,
    }))?;
    let mut progress = Progress::default();
    let result = loop {
        match super::manage::answer(&mut events, id).await {
            Some(Event::Voice(VoiceEvent::Progress { done, total, .. })) => {
                progress.show(done, total);
            }
            Some(Event::Voice(VoiceEvent::Models { .. })) => break Ok(()),
            Some(Event::CommandFailed { error, .. }) => break Err(CliError::new(error.message)),
            Some(_) => {}
            None => break Err(CliError::new("the engine stopped unexpectedly")),
        }
    };
    progress.finish();
    shutdown(&handle, events).await;
    result?;
    println!("installed {name}");
    Ok(ExitCode::SUCCESS)
}

/// `aetheria voice models rm NAME`.
pub(super) async fn rm(name: String) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start(None, None).await?;
    let event = request(
        &handle,
        &mut events,
        Command::Voice(VoiceCommand::RemoveModel { name: name.clone() }),
        |e| matches!(e, Event::Voice(VoiceEvent::Models { .. })),
    )
    .await;
    shutdown(&handle, events).await;
    event?;
    println!("removed {name}");
    Ok(ExitCode::SUCCESS)
}

/// `aetheria voice status`.
pub(super) async fn status(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start(None, None).await?;
    let event = request(
        &handle,
        &mut events,
        Command::Voice(VoiceCommand::Status),
        |e| matches!(e, Event::Voice(VoiceEvent::Status(_))),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::Voice(VoiceEvent::Status(status)) = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    match &status.unavailable {
        None => println!("dictation: ready"),
        Some(why) => println!("dictation: unavailable: {why}"),
    }
    match &status.model {
        Some(model) => println!("speech model: {} ({})", model.name, mib(model.bytes)),
        None => println!("speech model: not installed"),
    }
    if status.devices.is_empty() {
        println!("microphones: none found");
    } else {
        println!("microphones: {}", status.devices.join(", "));
    }
    match &status.sound_unavailable {
        None => println!("sound: ready"),
        Some(why) => println!("sound: {why}"),
    }
    println!(
        "reading aloud: {}",
        if status.speech {
            "ready (espeak-ng)"
        } else {
            "needs espeak-ng"
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `aetheria voice say TEXT`.
pub(super) async fn say(text: String) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start(None, None).await?;
    let event = request(
        &handle,
        &mut events,
        Command::Voice(VoiceCommand::Speak { text }),
        |e| matches!(e, Event::Voice(VoiceEvent::Spoken { .. })),
    )
    .await;
    shutdown(&handle, events).await;
    if let Event::Voice(VoiceEvent::Spoken { error: Some(error) }) = event? {
        return Err(CliError::new(error));
    }
    Ok(ExitCode::SUCCESS)
}

/// `aetheria voice cue NAME`.
pub(super) async fn cue(cue: Cue) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start(None, None).await?;
    let event = request(
        &handle,
        &mut events,
        Command::Voice(VoiceCommand::PlayCue { cue }),
        |e| matches!(e, Event::Voice(VoiceEvent::Played { .. })),
    )
    .await;
    shutdown(&handle, events).await;
    if let Event::Voice(VoiceEvent::Played {
        error: Some(error), ..
    }) = event?
    {
        return Err(CliError::new(error));
    }
    Ok(ExitCode::SUCCESS)
}
