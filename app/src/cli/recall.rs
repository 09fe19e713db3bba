//! `aetheria search` (the history's full-text search) and `aetheria memory` (the long-term
//! memories), over the engine API.

use std::process::ExitCode;

use aetheria_engine::api::{Command, Event, MemoryCommand, MemoryId, SessionCommand};

use super::CliError;
use super::ask::shutdown;
use super::manage::{request, start};
use crate::visible::for_terminal;

pub(super) async fn search(
    words: &[String],
    limit: usize,
    json: bool,
) -> Result<ExitCode, CliError> {
    let query = words.join(" ");
    if query.trim().is_empty() {
        return Err(CliError::new("give some words to search for"));
    }
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Session(SessionCommand::Search {
            query,
            limit: Some(limit),
        }),
        |e| matches!(e, Event::SearchResults { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::SearchResults { hits, .. } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(ExitCode::SUCCESS);
    }
    if hits.is_empty() {
        println!("nothing found");
    }
    for hit in hits {
        let who = match (&hit.role, &hit.tool) {
            (Some(role), _) => format!("{role:?}").to_lowercase(),
            (None, Some(tool)) => format!("tool {tool}"),
            _ => "?".into(),
        };
        // Only the bold marks this program adds are escape sequences; the text's own are shown.
        println!(
            "{}  {} ({who})\n    {}",
            hit.session,
            for_terminal(&hit.session_title),
            for_terminal(&hit.snippet)
                .replace('«', "\x1b[1m")
                .replace('»', "\x1b[0m")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn list(json: bool) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Memory(MemoryCommand::List),
        |e| matches!(e, Event::Memories { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    let Event::Memories { memories } = event? else {
        return Err(CliError::new("unexpected answer"));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&memories)?);
        return Ok(ExitCode::SUCCESS);
    }
    if memories.is_empty() {
        println!("no memories yet");
    }
    for m in memories {
        let tags = if m.tags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.tags.join(", "))
        };
        println!("{}  {}{}", m.id, for_terminal(&m.text), for_terminal(&tags));
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn edit(id: &str, text: &[String]) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Memory(MemoryCommand::Update {
            id: MemoryId::from(id),
            text: text.join(" "),
            tags: vec![],
        }),
        |e| matches!(e, Event::MemoryUpdated { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    event?;
    println!("changed memory {id}");
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn rm(id: &str) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let event = request(
        &handle,
        &mut events,
        Command::Memory(MemoryCommand::Delete {
            id: MemoryId::from(id),
        }),
        |e| matches!(e, Event::MemoryDeleted { .. }),
    )
    .await;
    shutdown(&handle, events).await;
    event?;
    println!("forgot memory {id}");
    Ok(ExitCode::SUCCESS)
}
