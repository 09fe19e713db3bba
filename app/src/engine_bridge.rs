//! The only place the GUI touches the engine: a subscription that starts the engine, hands the app
//! its `Handle` first (the handshake), then forwards events in batches — all that arrived since the
//! last frame in one message — so streaming stays smooth.

use aetheria_engine::api::Envelope;
use aetheria_engine::config::Config;
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
        let (handle, events) = match Engine::start(config).await {
            Ok(started) => started,
            Err(e) => {
                let _ = tx.send(BridgeEvent::Failed(e.to_string())).await;
                return;
            }
        };
        let ready = BridgeEvent::Ready {
            handle,
            provider,
            workspace,
        };
        if tx.send(ready).await.is_err() {
            return;
        }
        let mut batches = events.ready_chunks(512);
        while let Some(batch) = batches.next().await {
            if tx.send(BridgeEvent::Events(batch)).await.is_err() {
                return;
            }
        }
        let _ = tx.send(BridgeEvent::Stopped).await;
    });
    rx
}
