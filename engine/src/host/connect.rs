//! A client of another process's engine: connects to its endpoint, says hello, and then turns the
//! connection into the same `Handle` and `Events` an engine in this process gives, so a front end
//! cannot tell the two apart — except that when the host goes away, `Event::HostLost` says so.

use std::path::Path;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::Opened;
use crate::api::endpoint::{self, ClientFrame, HostFrame, HostInfo, MAX_HOST_FRAME};
use crate::api::{Command, Envelope, Event, PROTOCOL_VERSION, Submission};
use crate::engine::{Events, Handle};

/// How long a host has to answer a client's hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No process hosts the data folder (nothing listens on its endpoint).
    #[error("no Aetheria process hosts this data folder: {0}")]
    NoHost(String),
    /// A host answered but refused this client (another protocol version, another user).
    #[error("the Aetheria process hosting this data folder refused the connection: {0}")]
    Refused(String),
    /// The host broke the handshake.
    #[error("the Aetheria process hosting this data folder did not answer as expected: {0}")]
    Broken(String),
}

/// A connected client.
#[derive(Debug)]
pub struct Client {
    handle: Handle,
    events: Events,
    host: HostInfo,
}

impl Client {
    /// The handle, the events and who hosts.
    pub fn into_opened(self) -> Opened {
        Opened {
            handle: self.handle,
            events: self.events,
            host: self.host,
            hosting: false,
            connected: None,
        }
    }
}

/// Connects to the endpoint at `path` as a client of kind `kind`.
pub async fn connect(path: &Path, kind: &str) -> Result<Client, ConnectError> {
    #[cfg(unix)]
    {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| ConnectError::NoHost(format!("{}: {e}", path.display())))?;
        handshake(stream, kind).await
    }
    #[cfg(windows)]
    {
        let pipe = super::pipe::connect(&path.to_string_lossy()).await?;
        handshake(pipe, kind).await
    }
}

/// Says hello on `stream` and, once welcomed, runs the connection.
pub(crate) async fn handshake<S>(stream: S, kind: &str) -> Result<Client, ConnectError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_HOST_FRAME)
        .new_codec();
    let mut framed = Framed::new(stream, codec);
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        client: kind.to_owned(),
        pid: std::process::id(),
    };
    let bytes = endpoint::encode_client(&hello).map_err(|e| ConnectError::Broken(e.to_string()))?;
    framed
        .send(bytes::Bytes::from(bytes))
        .await
        .map_err(|e| ConnectError::NoHost(e.to_string()))?;
    let first = tokio::time::timeout(HELLO_TIMEOUT, framed.next())
        .await
        .map_err(|_| {
            ConnectError::Broken(format!("no answer to hello within {HELLO_TIMEOUT:?}"))
        })?;
    let frame = match first {
        Some(Ok(bytes)) => serde_json::from_slice::<HostFrame>(&bytes)
            .map_err(|e| ConnectError::Broken(format!("its first frame: {e}")))?,
        Some(Err(e)) => return Err(ConnectError::Broken(e.to_string())),
        // A host that is shutting down closes new connections: there is none to talk to.
        None => return Err(ConnectError::NoHost("it closed the connection".into())),
    };
    let (client, host) = match frame {
        HostFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            client,
            host,
        } => (client, host),
        HostFrame::Welcome { protocol, .. } => {
            return Err(ConnectError::Refused(format!(
                "it speaks protocol {protocol}, this program {PROTOCOL_VERSION}"
            )));
        }
        HostFrame::Refused { reason } => return Err(ConnectError::Refused(reason)),
        other => return Err(ConnectError::Broken(format!("it began with {other:?}"))),
    };
    let (sink, stream) = framed.split();
    let (submit_tx, submit_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let (leaving_tx, leaving_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(write(sink, submit_rx, leaving_tx));
    tokio::spawn(read(stream, event_tx, leaving_rx, host.clone()));
    Ok(Client {
        handle: Handle::new(submit_tx, client),
        events: Events::new(event_rx),
        host,
    })
}

/// Sends this client's submissions until its handles are dropped or it shuts down (which, for a
/// client, only leaves: the engine goes on for the others).
async fn write<S>(
    mut sink: S,
    mut submissions: mpsc::UnboundedReceiver<Submission>,
    leaving: tokio::sync::watch::Sender<bool>,
) where
    S: futures::Sink<bytes::Bytes, Error = std::io::Error> + Unpin,
{
    while let Some(submission) = submissions.recv().await {
        let shutdown = matches!(submission.command, Command::Shutdown);
        if shutdown {
            let _ = leaving.send(true);
        }
        let bytes = match endpoint::encode_client(&ClientFrame::Submit(submission)) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!("a command could not be written for the host: {e}");
                continue;
            }
        };
        if sink.send(bytes::Bytes::from(bytes)).await.is_err() || shutdown {
            break;
        }
    }
    let _ = sink.close().await;
}

/// Hands the host's events on until the connection ends; then, unless this client left, says
/// that the host is gone.
async fn read<S>(
    mut stream: S,
    events: mpsc::UnboundedSender<Envelope>,
    leaving: tokio::sync::watch::Receiver<bool>,
    host: HostInfo,
) where
    S: futures::Stream<Item = std::io::Result<bytes::BytesMut>> + Unpin,
{
    let why = loop {
        match stream.next().await {
            Some(Ok(bytes)) => match serde_json::from_slice::<HostFrame>(&bytes) {
                Ok(HostFrame::Event(envelope)) => {
                    if events.send(envelope).is_err() {
                        return;
                    }
                }
                Ok(HostFrame::Error { message }) => {
                    tracing::warn!("the host could not take a frame of this client: {message}");
                }
                Ok(other) => tracing::warn!("unexpected frame from the host: {other:?}"),
                Err(e) => tracing::warn!("a frame from the host is not understood: {e}"),
            },
            Some(Err(e)) => break e.to_string(),
            None => break "it closed the connection".to_owned(),
        }
    };
    if *leaving.borrow() {
        return;
    }
    let reason = format!(
        "the Aetheria process hosting this data folder ({}, pid {}) went away ({why}); start Aetheria again to go on — what a turn had streamed is kept",
        host.kind, host.pid
    );
    let _ = events.send(Envelope {
        submission: None,
        event: Event::HostLost { reason },
    });
}
