//! The only place the GUI touches the engine: a subscription that joins the data folder's engine
//! (starting `aetheria serve` to host it when no process does), hands the app its `Handle` first
//! (the handshake), then forwards events in batches — all that arrived since the last frame in one
//! message — so streaming stays smooth; when the host goes away it joins the next one.

use aetheria_engine::api::{Envelope, Event};
use aetheria_engine::config::Config;
use aetheria_engine::host::WhenNoHost;
use aetheria_engine::{Engine, Handle};
use futures::{SinkExt, Stream, StreamExt};
use iced::Subscription;
use iced::futures::channel::mpsc;

/// What the bridge tells the app.
#[derive(Debug, Clone)]
pub enum BridgeEvent {
    /// The engine runs; submit commands through this handle.
    Ready {
        /// The handle.
        handle: Handle,
        /// The provider and model that answer, if one is configured.
        provider: Option<String>,
        /// The workspace folders the file tools may use.
        workspace: Vec<std::path::PathBuf>,
    },
    /// Events that arrived since the last batch, in order.
    Events(Vec<Envelope>),
    /// The engine could not start; the text says why and what to do.
    Failed(String),
    /// The process hosting the engine went away (the text says so); `Ready` follows with a
    /// handle to the engine of whichever process hosts the data folder now.
    Reconnecting(String),
    /// The engine has stopped (after `Command::Shutdown`) and its database is closed.
    Stopped,
}

/// The subscription that runs the engine for the app's lifetime.
pub fn subscription() -> Subscription<BridgeEvent> {
    Subscription::run(connect)
}

fn connect() -> impl Stream<Item = BridgeEvent> {
    let (mut tx, rx) = mpsc::channel(64);
    // Spawned so the engine is not held back by the subscription's backpressure.
    tokio::spawn(async move {
        loop {
            let config = match Config::load() {
                Ok(config) => config,
                Err(e) => {
                    let _ = tx.send(BridgeEvent::Failed(e.to_string())).await;
                    return;
                }
            };
            let provider = config
                .effective_provider()
                .map(|p| format!("{} · {}", p.name, p.model));
            let workspace = config.workspace_roots.clone();
            // The data folder's engine: that of the process hosting it already, else of an
            // `aetheria serve` started now, which outlives the window while work is due.
            let opened = match Engine::open_with(config, "window", host_command()).await {
                Ok(opened) => opened,
                Err(e) => {
                    let _ = tx.send(BridgeEvent::Failed(e.to_string())).await;
                    return;
                }
            };
            let handle = opened.handle.clone();
            let ready = BridgeEvent::Ready {
                handle: opened.handle,
                provider,
                workspace,
            };
            if tx.send(ready).await.is_err() {
                return;
            }
            match forward(&mut tx, &handle, opened.events).await {
                Ended::Closed => return,
                Ended::Stopped => {
                    let _ = tx.send(BridgeEvent::Stopped).await;
                    return;
                }
                // The process that hosted the engine went away: this window carries on with the
                // engine of whichever process hosts the folder now (itself, most likely).
                Ended::HostLost(reason) => {
                    tracing::warn!("{reason}; reconnecting");
                    if tx.send(BridgeEvent::Reconnecting(reason)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// This program's `serve`, to host the data folder when no process does (the window itself hosts
/// it when this program's path cannot be found).
fn host_command() -> WhenNoHost {
    match std::env::current_exe() {
        Ok(exe) => {
            let mut command = std::process::Command::new(exe);
            command.args([
                "serve",
                "--idle-exit",
                &aetheria_engine::host::WINDOW_HOST_IDLE_EXIT.to_string(),
            ]);
            WhenNoHost::Start(command)
        }
        Err(e) => {
            tracing::warn!("this program's path: {e}; the window hosts its engine itself");
            WhenNoHost::HostHere
        }
    }
}

enum Ended {
    /// The window is gone.
    Closed,
    /// The engine stopped (after `Shutdown`).
    Stopped,
    /// The hosting process went away.
    HostLost(String),
}

/// Whether the window applies `envelope`: what the engine says on its own, the answers to the
/// window's own submissions, and what other front ends' submissions changed for everyone.
pub fn for_window(handle: &aetheria_engine::Handle, envelope: &Envelope) -> bool {
    envelope.submission.is_none()
        || handle.owns(envelope.submission)
        || envelope.event.concerns_everyone()
}

/// Forwards events in batches until they end. Other front ends' answers to their own questions
/// (a list, a failure) are left out: the window applies only what changed for everyone.
async fn forward(
    tx: &mut mpsc::Sender<BridgeEvent>,
    handle: &aetheria_engine::Handle,
    events: aetheria_engine::Events,
) -> Ended {
    let mut batches = events.ready_chunks(512);
    while let Some(batch) = batches.next().await {
        let mut lost = None;
        let batch: Vec<Envelope> = batch
            .into_iter()
            .filter(|e| {
                if let Event::HostLost { reason } = &e.event {
                    lost = Some(reason.clone());
                    return false;
                }
                for_window(handle, e)
            })
            .collect();
        if !batch.is_empty() && tx.send(BridgeEvent::Events(batch)).await.is_err() {
            return Ended::Closed;
        }
        if let Some(reason) = lost {
            return Ended::HostLost(reason);
        }
    }
    Ended::Stopped
}
