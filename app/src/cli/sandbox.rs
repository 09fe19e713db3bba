//! `aetheria sandbox`: build the code sandbox's image with no registry, see which backend runs
//! code, and list or remove sandboxes (including ones a crashed app left behind).

use std::io::Write;
use std::process::ExitCode;

use aetheria_engine::api::{Command, Event, SandboxCommand};

use super::CliError;
use super::ask::shutdown;
use super::manage::{request, start};

pub(super) async fn status(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Sandbox(SandboxCommand::Status),
        |e| matches!(e, Event::SandboxStatus { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::SandboxStatus { status } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        println!(
            "backend: {}\nimage:   {} ({})\n{}",
            status.backend.as_deref().unwrap_or("none"),
            status.image,
            if status.ready { "ready" } else { "missing" },
            status.detail
        );
    }
    Ok(if status.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) async fn build_image() -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let id = handle.submit(Command::Sandbox(SandboxCommand::BuildImage))?;
    let mut last_import = None;
    let result = loop {
        match super::manage::answer(&mut events, id).await {
            Some(Event::SandboxImageProgress { message, fraction }) => {
                // Import progress arrives per MiB: show it on one line on a terminal.
                if let Some(f) = fraction.filter(|f| *f < 1.0) {
                    let percent = (f * 100.0) as u32;
                    if last_import != Some(percent) {
                        eprint!("\r{message} ({percent}%)");
                        let _ = std::io::stderr().flush();
                        last_import = Some(percent);
                    }
                } else {
                    if last_import.take().is_some() {
                        eprintln!();
                    }
                    eprintln!("{message}");
                }
            }
            Some(Event::SandboxStatus { status }) => break Ok(status),
            Some(Event::CommandFailed { error, .. }) => break Err(CliError::new(error.message)),
            Some(_) => {}
            None => break Err(CliError::new("the engine stopped unexpectedly")),
        }
    };
    shutdown(&handle, events).await;
    let status = result?;
    println!("{}", status.detail);
    Ok(if status.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) async fn ps(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Sandbox(SandboxCommand::List),
        |e| matches!(e, Event::SandboxList { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::SandboxList { sandboxes } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&sandboxes)?);
    } else if sandboxes.is_empty() {
        println!("no sandboxes");
    } else {
        for s in sandboxes {
            let id: String = s.id.chars().take(12).collect();
            println!("{id}  {:<10}  {:<24}  {}", s.backend, s.status, s.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn rm(ids: Vec<String>, all: bool) -> Result<ExitCode, CliError> {
    if ids.is_empty() && !all {
        return Err(CliError::new(
            "name the sandboxes to remove (ids from `aetheria sandbox ps`), or pass --all",
        ));
    }
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Sandbox(SandboxCommand::Remove { ids }),
        |e| matches!(e, Event::SandboxesRemoved { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::SandboxesRemoved { ids } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    println!(
        "removed {} sandbox{}",
        ids.len(),
        if ids.len() == 1 { "" } else { "es" }
    );
    Ok(ExitCode::SUCCESS)
}
