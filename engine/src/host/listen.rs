//! The hosting side of the endpoint: a Unix socket only this user can open, each peer's uid
//! checked again (a named pipe only this user can open, on Windows), a hello with the protocol
//! version, then every event of the engine to every
//! client through a bounded queue of its own (one that falls behind is told how much it missed,
//! and never holds the others back), and each client's submissions, in its own number range, to
//! the engine. A bad frame gets an error frame and never takes the host down.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
#[cfg(unix)]
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc};
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

use crate::api::endpoint::{
    self, CLIENT_SHIFT, ClientFrame, HostFrame, HostInfo, MAX_CLIENT_FRAME, client_of,
};
use crate::api::{Command, Envelope, ErrorInfo, ErrorKind, Event, PROTOCOL_VERSION};
use crate::engine::{Events, Handle};
use crate::error::{EngineError, Result};

/// Events queued for one client before it counts as lagging.
const CLIENT_QUEUE: usize = 8192;
/// How long a new connection has to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// What every client task shares.
struct Shared {
    handle: Handle,
    info: HostInfo,
    clients: Arc<AtomicUsize>,
    next_client: AtomicU64,
    events: broadcast::Sender<Bytes>,
}

/// Listens on `endpoint` while the engine runs (holding `lock`), and returns the events of this
/// process's own front end.
pub(super) fn serve(
    endpoint: &Path,
    lock: std::fs::File,
    handle: Handle,
    mut engine_events: Events,
    info: HostInfo,
) -> Result<(Events, Arc<AtomicUsize>)> {
    let listener = Listener::bind(endpoint)?;
    let (broadcast_tx, _) = broadcast::channel(CLIENT_QUEUE);
    let shared = Arc::new(Shared {
        handle,
        info,
        clients: Arc::new(AtomicUsize::new(0)),
        next_client: AtomicU64::new(1),
        events: broadcast_tx,
    });
    let stopped = CancellationToken::new();
    let (local_tx, local_rx) = mpsc::unbounded_channel();
    let fan_out = shared.clone();
    let stop = stopped.clone();
    tokio::spawn(async move {
        while let Some(envelope) = engine_events.recv().await {
            if fan_out.events.receiver_count() > 0 {
                match endpoint::encode_host(&HostFrame::Event(envelope.clone())) {
                    Ok(bytes) => {
                        let _ = fan_out.events.send(bytes.into());
                    }
                    Err(e) => tracing::warn!("an event could not be written for clients: {e}"),
                }
            }
            // This process's front end may have gone (a window closed) while others still read.
            let _ = local_tx.send(envelope);
        }
        stop.cancel();
    });
    let connected = shared.clients.clone();
    tokio::spawn(accept(listener, shared, stopped, lock));
    Ok((Events::new(local_rx), connected))
}

/// The Unix socket of the endpoint.
#[cfg(unix)]
struct Listener {
    socket: UnixListener,
    path: std::path::PathBuf,
}

#[cfg(unix)]
impl Listener {
    /// Binds the endpoint, replacing a socket left by a host that died (this process holds the
    /// lock, so nothing else listens there), readable and writable by this user only.
    fn bind(endpoint: &Path) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let fail = |e: std::io::Error| {
            EngineError::Host(format!("listening on {}: {e}", endpoint.display()))
        };
        match std::fs::remove_file(endpoint) {
            Ok(()) => {
                tracing::info!(endpoint = %endpoint.display(), "removed the endpoint of a host that ended");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(e)),
        }
        let socket = UnixListener::bind(endpoint).map_err(fail)?;
        std::fs::set_permissions(endpoint, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
        Ok(Self {
            socket,
            path: endpoint.to_path_buf(),
        })
    }

    /// The next connection, and whether its peer is this user.
    async fn accept(&mut self) -> std::io::Result<(UnixStream, std::result::Result<(), String>)> {
        let (stream, _) = self.socket.accept().await?;
        let peer = same_user(&stream);
        Ok((stream, peer))
    }

    /// Stops listening and removes the socket.
    fn close(self) {
        drop(self.socket);
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(endpoint = %self.path.display(), "removing the endpoint: {e}");
        }
    }
}

/// The named pipe of the endpoint.
#[cfg(windows)]
struct Listener(super::pipe::Listener);

#[cfg(windows)]
impl Listener {
    fn bind(endpoint: &Path) -> Result<Self> {
        super::pipe::Listener::bind(&endpoint.to_string_lossy())
            .map(Self)
            .map_err(|e| EngineError::Host(format!("listening on {}: {e}", endpoint.display())))
    }

    /// The next connection (only this user can open the pipe).
    async fn accept(
        &mut self,
    ) -> std::io::Result<(
        tokio::net::windows::named_pipe::NamedPipeServer,
        std::result::Result<(), String>,
    )> {
        Ok((self.0.accept().await?, Ok(())))
    }

    /// Stops listening (a pipe goes with its last handle).
    fn close(self) {}
}

/// Takes connections until the engine stops; then closes the endpoint and lets the lock go, in
/// that order (the next host binds its own endpoint only once it holds the lock).
async fn accept(
    mut listener: Listener,
    shared: Arc<Shared>,
    stopped: CancellationToken,
    lock: std::fs::File,
) {
    loop {
        tokio::select! {
            () = stopped.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(client(stream, peer, shared.clone(), stopped.clone()));
                }
                Err(e) => {
                    tracing::warn!("accepting a client: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    listener.close();
    drop(lock);
}

/// Whether the peer of `stream` runs as this user.
#[cfg(unix)]
fn same_user(stream: &UnixStream) -> std::result::Result<(), String> {
    let cred = stream
        .peer_cred()
        .map_err(|e| format!("its credentials cannot be read: {e}"))?;
    let own = super::user_id();
    if cred.uid() == own {
        Ok(())
    } else {
        Err(format!(
            "only the user who runs it (uid {own}) may connect; this connection is uid {}",
            cred.uid()
        ))
    }
}

async fn send<S>(framed: &mut Framed<S, LengthDelimitedCodec>, frame: &HostFrame) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match endpoint::encode_host(frame) {
        Ok(bytes) => framed.send(Bytes::from(bytes)).await.is_ok(),
        Err(_) => false,
    }
}

/// One client, from hello to goodbye.
async fn client<S>(
    stream: S,
    peer: std::result::Result<(), String>,
    shared: Arc<Shared>,
    stopped: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_CLIENT_FRAME)
        .new_codec();
    let mut framed = Framed::new(stream, codec);
    if let Err(reason) = peer {
        tracing::warn!("refused a connection: {reason}");
        send(&mut framed, &HostFrame::Refused { reason }).await;
        return;
    }
    let kind = match hello(&mut framed).await {
        Ok(kind) => kind,
        Err(reason) => {
            tracing::info!("refused a connection: {reason}");
            send(&mut framed, &HostFrame::Refused { reason }).await;
            return;
        }
    };
    let number = shared.next_client.fetch_add(1, Ordering::Relaxed);
    let count = shared.clients.fetch_add(1, Ordering::Relaxed) + 1;
    let mut host = shared.info.clone();
    host.clients = count;
    // Subscribed before the welcome: nothing after it is missed.
    let events = shared.events.subscribe();
    let welcome = HostFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        client: number,
        host,
    };
    tracing::info!(client = number, kind = %kind, "a client connected");
    if send(&mut framed, &welcome).await {
        let (sink, stream) = framed.split();
        let (private_tx, private_rx) = mpsc::channel(64);
        let reading = async {
            read(stream, number, &shared.handle, private_tx).await;
            // The writer ends the connection once it has sent the reader's last words.
            std::future::pending::<()>().await;
        };
        tokio::select! {
            () = write(sink, events, private_rx) => {}
            () = reading => {}
            () = stopped.cancelled() => {}
        }
    }
    shared.clients.fetch_sub(1, Ordering::Relaxed);
    tracing::info!(client = number, "a client left");
}

/// Reads the hello: the client's kind, or why it is refused.
async fn hello<S>(
    framed: &mut Framed<S, LengthDelimitedCodec>,
) -> std::result::Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let first = tokio::time::timeout(HELLO_TIMEOUT, framed.next())
        .await
        .map_err(|_| format!("no hello within {HELLO_TIMEOUT:?}"))?;
    let bytes = match first {
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => return Err(format!("its first frame is unreadable: {e}")),
        None => return Err("it left before saying hello".into()),
    };
    match serde_json::from_slice::<ClientFrame>(&bytes) {
        Ok(ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            client,
            ..
        }) => Ok(client
            .chars()
            .filter(|c| !c.is_control())
            .take(40)
            .collect()),
        Ok(ClientFrame::Hello { protocol, .. }) => Err(format!(
            "it speaks protocol {protocol} and this host {PROTOCOL_VERSION}: use the same version of Aetheria"
        )),
        Ok(ClientFrame::Submit(_)) => Err("it did not begin with hello".into()),
        Err(e) => Err(format!("its hello is not understood: {e}")),
    }
}

/// Writes the engine's events and this client's own answers until the connection, the engine or
/// the reader ends. A client too slow for its queue loses the oldest events and is told how many.
async fn write<S>(
    mut sink: S,
    mut events: broadcast::Receiver<Bytes>,
    mut private: mpsc::Receiver<HostFrame>,
) where
    S: futures::Sink<Bytes, Error = std::io::Error> + Unpin,
{
    loop {
        let bytes = tokio::select! {
            biased;
            frame = private.recv() => match frame.map(|f| endpoint::encode_host(&f)) {
                Some(Ok(bytes)) => Bytes::from(bytes),
                Some(Err(_)) => continue,
                // The reader has ended (the client left, or sent what cannot be followed), and
                // what it had to say is sent.
                None => break,
            },
            received = events.recv() => match received {
                Ok(bytes) => bytes,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let lagged = HostFrame::Event(Envelope {
                        submission: None,
                        event: Event::Lagged { missed },
                    });
                    match endpoint::encode_host(&lagged) {
                        Ok(bytes) => Bytes::from(bytes),
                        Err(_) => continue,
                    }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
        };
        if sink.send(bytes).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

/// Takes this client's submissions until it leaves (or sends a frame that cannot be delimited).
async fn read<S>(mut stream: S, number: u64, handle: &Handle, private: mpsc::Sender<HostFrame>)
where
    S: futures::Stream<Item = std::io::Result<bytes::BytesMut>> + Unpin,
{
    let error = |message: String| HostFrame::Error { message };
    while let Some(frame) = stream.next().await {
        let bytes = match frame {
            Ok(bytes) => bytes,
            Err(e) => {
                // Too long, or the connection broke: the stream cannot be followed further.
                // The writer sends it, then ends the connection (this sender is dropped).
                let _ = private
                    .send(error(format!("{e}; the connection is closed")))
                    .await;
                return;
            }
        };
        let submission = match serde_json::from_slice::<ClientFrame>(&bytes) {
            Ok(ClientFrame::Submit(submission)) => submission,
            Ok(ClientFrame::Hello { .. }) => {
                let _ = private.send(error("hello was already said".into())).await;
                continue;
            }
            Err(e) => {
                let _ = private
                    .send(error(format!(
                        "not a frame of protocol {PROTOCOL_VERSION}: {e}"
                    )))
                    .await;
                continue;
            }
        };
        if client_of(submission.id) != number || submission.id.0 & ((1 << CLIENT_SHIFT) - 1) == 0 {
            let message = format!(
                "submission {} is not numbered in this client's range ({number} << {CLIENT_SHIFT}); it was not carried out",
                submission.id.0
            );
            let failed = HostFrame::Event(Envelope {
                submission: Some(submission.id),
                event: Event::CommandFailed {
                    submission: submission.id,
                    error: ErrorInfo::new(ErrorKind::Invalid, message),
                },
            });
            let _ = private.send(failed).await;
            continue;
        }
        if matches!(submission.command, Command::Shutdown) {
            // A client's shutdown only ends its own connection: the engine serves the others.
            return;
        }
        if handle.submit_as(submission).is_err() {
            return;
        }
    }
}
