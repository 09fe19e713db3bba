//! `aetheria models`: the model manager of the built-in offline runtime, over the engine API.

use std::process::ExitCode;

use aetheria_engine::api::{Command, Event, LocalModelInfo, ModelsCommand};

use super::CliError;
use super::ask::shutdown;
use super::manage::{Progress, request, start};

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

fn describe(m: &LocalModelInfo) -> String {
    let converted = m
        .converted_from
        .as_ref()
        .map(|from| format!(" (from {from})"))
        .unwrap_or_default();
    format!(
        "{:<32} {:<6}{converted}  {:>10}  ctx {}  {}",
        m.name,
        m.quantization,
        mib(m.size_bytes),
        m.context_length,
        m.display_name
    )
}

async fn local_models() -> Result<(Vec<LocalModelInfo>, Option<String>), CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Models(ModelsCommand::ListLocal),
        |e| matches!(e, Event::LocalModels { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::LocalModels { models, default } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    Ok((models, default))
}

pub(super) async fn list(json: bool) -> Result<ExitCode, CliError> {
    let (models, default) = local_models().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&models)?);
    } else if models.is_empty() {
        println!(
            "no local models; `aetheria models catalog` lists small ones to install, or install one with `aetheria models add FILE-OR-URL`"
        );
    } else {
        for m in &models {
            let mark = if default.as_ref() == Some(&m.name) {
                "* "
            } else {
                "  "
            };
            println!("{mark}{}", describe(m));
        }
        println!("(* answers when no provider is configured)");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn catalog(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Models(ModelsCommand::Catalog),
        |e| matches!(e, Event::ModelCatalog { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::ModelCatalog { models } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&models)?);
        return Ok(ExitCode::SUCCESS);
    }
    for m in &models {
        let installed = if m.installed { "  (installed)" } else { "" };
        println!(
            "{:<24} {:<24} {:<7} {:>10}  {}{installed}\n    sha256 {}\n    {}",
            m.name,
            m.display_name,
            m.quantization,
            mib(m.size_bytes),
            m.licence,
            m.sha256,
            m.url
        );
    }
    println!("install one with `aetheria models install NAME`");
    Ok(ExitCode::SUCCESS)
}

/// Runs an install (`AddLocal` or `InstallCatalog`) with a progress bar.
pub(super) async fn add(command: ModelsCommand, json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let id = handle.submit(Command::Models(command))?;
    let mut progress = Progress::default();
    let result = loop {
        match super::manage::answer(&mut events, id).await {
            Some(Event::LocalModelProgress { done, total, .. }) => progress.show(done, total),
            Some(Event::LocalModelAdded { model }) => break Ok(model),
            Some(Event::CommandFailed { error, .. }) => break Err(CliError::new(error.message)),
            Some(_) => {}
            None => break Err(CliError::new("the engine stopped unexpectedly")),
        }
    };
    progress.finish();
    shutdown(&handle, events).await;
    let model = result?;
    if json {
        println!("{}", serde_json::to_string_pretty(&model)?);
    } else {
        println!("installed {}", describe(&model));
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn default(name: Option<String>) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Models(ModelsCommand::SetDefault { name }),
        |e| matches!(e, Event::LocalModels { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    match event? {
        Event::LocalModels {
            default: Some(name),
            ..
        } => println!("{name} answers when no provider is configured"),
        _ => println!("no local model is installed"),
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn rm(name: String) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Models(ModelsCommand::RemoveLocal { name }),
        |e| matches!(e, Event::LocalModelRemoved { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::LocalModelRemoved { name } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    println!("removed {name}");
    Ok(ExitCode::SUCCESS)
}
