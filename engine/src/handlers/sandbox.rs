//! The sandbox: its status, building its image with no registry, listing and removing sandboxes.

use aetheria_sandbox::image::Progress;

use crate::api::{ErrorInfo, ErrorKind, Event, SandboxCommand};

use super::Cx;

pub(super) async fn handle(cx: Cx, command: SandboxCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    let sandboxes = &services.sandboxes;
    let unavailable =
        |e: aetheria_sandbox::SandboxError| ErrorInfo::new(ErrorKind::Unavailable, e.to_string());
    match command {
        SandboxCommand::Status => out.emit(Event::SandboxStatus {
            status: sandboxes.status().await,
        }),
        SandboxCommand::BuildImage => {
            let events = out.clone();
            let mut progress = move |p: Progress| {
                if let Some((message, fraction)) = shown(p) {
                    events.emit(Event::SandboxImageProgress { message, fraction });
                }
            };
            sandboxes
                .build_image(&mut progress)
                .await
                .map_err(unavailable)?;
            out.emit(Event::SandboxStatus {
                status: sandboxes.status().await,
            });
        }
        SandboxCommand::List => {
            let sandboxes = sandboxes.list().await.map_err(unavailable)?;
            out.emit(Event::SandboxList { sandboxes });
        }
        SandboxCommand::Remove { ids } => {
            let ids = sandboxes
                .remove(&ids)
                .await
                .map_err(|e| ErrorInfo::new(ErrorKind::NotFound, e.to_string()))?;
            out.emit(Event::SandboxesRemoved { ids });
        }
    }
    Ok(())
}

/// A step of the image build as the person reads it, with how far the import is.
fn shown(progress: Progress) -> Option<(String, Option<f32>)> {
    Some(match progress {
        Progress::Step { message } => (message, None),
        Progress::Import { sent, total } => (
            format!(
                "importing the root filesystem: {} of {} MiB",
                sent >> 20,
                total >> 20
            ),
            Some(if total == 0 {
                1.0
            } else {
                sent as f32 / total as f32
            }),
        ),
        Progress::Done { image } => (format!("ready: {image}"), Some(1.0)),
        _ => return None,
    })
}
