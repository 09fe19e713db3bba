//! Host side of the job runner that lives inside every sandbox (`runner.py`, started as
//! `python3 -c`). Requests go in as JSON lines; output, exit status and files come back as framed
//! bytes. The same client drives the Docker and the bubblewrap backends.

use std::any::Any;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};

use crate::output::Captured;
use crate::tunnel::{FromProxy, Tunnel, Upstream};
use crate::{Chunk, ExecOutcome, ExecRequest, SandboxError, Sink, StreamKind};

/// The runner's source, passed to `python3 -c` when a sandbox starts.
pub(crate) const SCRIPT: &str = include_str!("runner.py");

/// How long the host waits past a job's deadline before it gives up on the runner.
const GRACE: Duration = Duration::from_secs(5);
/// How long a fresh runner may take to say it is ready.
const READY: Duration = Duration::from_secs(30);
/// Largest file moved in or out in one piece.
pub(crate) const MAX_FILE: usize = 16 << 20;
/// Largest frame the runner may send (output frames are at most 64 KiB).
const MAX_FRAME: usize = MAX_FILE + 1024;

pub(crate) type Input = Pin<Box<dyn AsyncWrite + Send>>;
pub(crate) type Output = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

enum Frame {
    /// The runner started; how code is kept off it (`"separate uid"`, or with one uid whether
    /// its signals are scoped and the filter is on).
    Ready(Option<String>),
    Out(StreamKind, Bytes),
    Exit(Value),
    File(Bytes),
    Ack,
    Error(String),
    /// Code opened a connection to the proxy port (tunnelled sandboxes only).
    Open(u32),
    /// Bytes code sent on a connection.
    Data(u32, Bytes),
    /// Code closed its side of a connection.
    End(u32),
}

impl Frame {
    fn is_tunnel(&self) -> bool {
        matches!(self, Frame::Open(_) | Frame::Data(..) | Frame::End(_))
    }
}

/// What the exec loop heard next.
enum Heard {
    Runner(Result<Result<Frame, SandboxError>, tokio::time::error::Elapsed>),
    Proxy(FromProxy),
}

/// A connection to one running runner.
pub(crate) struct Runner {
    input: Input,
    output: Output,
    buf: BytesMut,
    /// A job was started and its exit frame has not been read (the caller gave up on it).
    dirty: bool,
    /// The runner did not stop a job in time; the sandbox must be stopped and started again.
    pub(crate) broken: bool,
    /// Keeps the sandbox process alive while the runner is in use (bubblewrap's child).
    _guard: Option<Box<dyn Any + Send>>,
    /// The proxy reached through the runner's pipes, when the sandbox has no other way out.
    tunnel: Option<Tunnel>,
}

impl Runner {
    /// Waits for the runner's ready frame.
    pub(crate) async fn start(
        input: Input,
        output: Output,
        guard: Option<Box<dyn Any + Send>>,
    ) -> Result<Self, SandboxError> {
        let mut runner = Runner {
            input,
            output,
            buf: BytesMut::new(),
            dirty: false,
            broken: false,
            _guard: guard,
            tunnel: None,
        };
        match timeout(READY, runner.next_frame()).await {
            Ok(Ok(Frame::Ready(confinement))) => {
                // An old kernel leaves code able to signal its runner (SECURITY.md says so).
                if let Some(report) = confinement.filter(|r| r.contains("not scoped")) {
                    tracing::warn!("the sandbox's code can signal its runner: {report}");
                }
                Ok(runner)
            }
            Ok(Ok(_)) => Err(SandboxError::Runner("unexpected first frame".into())),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SandboxError::Runner(
                "the runner did not start within 30 s".into(),
            )),
        }
    }

    /// Relays the connections code opens to the proxy port to the proxy at `upstream` (the
    /// runner was started with `AETHERIA_EGRESS_TUNNEL=1`).
    pub(crate) fn tunnel_to(&mut self, upstream: Upstream) {
        self.tunnel = Some(Tunnel::new(upstream));
    }

    /// The next frame that answers a request (a late frame of a closed connection is skipped).
    async fn next_answer(&mut self) -> Result<Frame, SandboxError> {
        loop {
            let frame = self.next_frame().await?;
            if !frame.is_tunnel() {
                return Ok(frame);
            }
        }
    }

    async fn next_frame(&mut self) -> Result<Frame, SandboxError> {
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if len > MAX_FRAME {
                    return Err(SandboxError::Runner(format!(
                        "oversized frame ({len} bytes)"
                    )));
                }
                if self.buf.len() >= 5 + len {
                    let kind = self.buf[0];
                    self.buf.advance(5);
                    let payload = self.buf.split_to(len).freeze();
                    return decode(kind, payload);
                }
            }
            match self.output.next().await {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                Some(Err(e)) => return Err(SandboxError::Runner(e.to_string())),
                None => return Err(SandboxError::Runner("the runner exited".into())),
            }
        }
    }

    async fn send(&mut self, request: &Value) -> Result<(), SandboxError> {
        let mut line = serde_json::to_vec(request)
            .map_err(|e| SandboxError::Runner(format!("encoding a request: {e}")))?;
        line.push(b'\n');
        let write = async {
            self.input.write_all(&line).await?;
            self.input.flush().await
        };
        timeout(GRACE, write)
            .await
            .map_err(|_| SandboxError::Runner("the runner stopped reading".into()))?
            .map_err(|e| SandboxError::Runner(e.to_string()))
    }

    /// Finishes a job an earlier caller abandoned: kill it and drain its frames.
    async fn settle(&mut self) -> Result<(), SandboxError> {
        if !self.dirty {
            return Ok(());
        }
        self.send(&json!({"op": "kill"})).await?;
        let deadline = Instant::now() + GRACE;
        loop {
            match timeout_at(deadline, self.next_answer()).await {
                Ok(Ok(Frame::Exit(_))) => break,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(SandboxError::Runner("an abandoned job did not stop".into()));
                }
            }
        }
        self.dirty = false;
        Ok(())
    }

    /// Runs one job. Output goes to `sink` (up to `stream_bytes`) and into bounded captures.
    pub(crate) async fn exec(
        &mut self,
        request: ExecRequest,
        stream_bytes: usize,
        sink: Option<Sink>,
    ) -> Result<ExecOutcome, SandboxError> {
        self.settle().await?;
        let started = Instant::now();
        let b64 = base64::engine::general_purpose::STANDARD;
        self.send(&json!({
            "op": "exec",
            "argv": request.argv,
            "cwd": request.cwd,
            "stdin": b64.encode(&request.stdin),
            "timeout": request.timeout.as_secs_f64(),
        }))
        .await?;
        self.dirty = true;
        // The tunnel is lent to the job, and its connections end with it.
        let mut tunnel = self.tunnel.take();
        let outcome = self
            .job(&request, started, stream_bytes, sink, tunnel.as_mut())
            .await;
        if let Some(tunnel) = tunnel.as_mut() {
            tunnel.close_all();
        }
        self.tunnel = tunnel;
        outcome
    }

    /// Reads a started job's frames to its exit, relaying its connections through `tunnel`.
    async fn job(
        &mut self,
        request: &ExecRequest,
        started: Instant,
        stream_bytes: usize,
        sink: Option<Sink>,
        mut tunnel: Option<&mut Tunnel>,
    ) -> Result<ExecOutcome, SandboxError> {
        let mut stdout = Captured::default();
        let mut stderr = Captured::default();
        let mut streamed = 0usize;
        let mut deadline = started + request.timeout + GRACE;
        let mut kill_sent = false;
        let exit = loop {
            let heard = match tunnel.as_deref_mut() {
                Some(tunnel) => tokio::select! {
                    frame = timeout_at(deadline, self.next_frame()) => Heard::Runner(frame),
                    event = tunnel.next() => Heard::Proxy(event),
                },
                None => Heard::Runner(timeout_at(deadline, self.next_frame()).await),
            };
            let next = match heard {
                Heard::Runner(next) => next,
                Heard::Proxy(event) => {
                    if let Some(tunnel) = tunnel.as_deref_mut() {
                        self.relay_back(tunnel, event).await?;
                    }
                    continue;
                }
            };
            match next {
                Ok(Ok(Frame::Open(id))) => {
                    let opened = tunnel.as_deref_mut().is_some_and(|t| t.open(id));
                    if !opened {
                        self.send(&json!({"op": "net_end", "id": id})).await?;
                    }
                }
                Ok(Ok(Frame::Data(id, data))) => {
                    if let Some(tunnel) = tunnel.as_deref_mut() {
                        self.relay_out(tunnel, id, data, deadline).await?;
                    }
                }
                Ok(Ok(Frame::End(id))) => {
                    if let Some(tunnel) = tunnel.as_deref_mut() {
                        tunnel.end(id);
                    }
                }
                Ok(Ok(Frame::Out(stream, data))) => {
                    match stream {
                        StreamKind::Stdout => stdout.push(&data),
                        StreamKind::Stderr => stderr.push(&data),
                    }
                    if let Some(sink) = &sink
                        && streamed < stream_bytes
                    {
                        let keep = data.len().min(stream_bytes - streamed);
                        streamed += keep;
                        // A closed receiver only means nobody watches live output any more.
                        let _ = sink
                            .send(Chunk {
                                stream,
                                data: data.slice(..keep),
                            })
                            .await;
                    }
                }
                Ok(Ok(Frame::Exit(exit))) => break exit,
                Ok(Ok(Frame::Error(message))) => {
                    self.dirty = false;
                    return Err(SandboxError::Runner(message));
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) if !kill_sent => {
                    // The runner's own deadline should have fired; insist once, then give up.
                    self.send(&json!({"op": "kill"})).await?;
                    kill_sent = true;
                    deadline = Instant::now() + GRACE;
                }
                Err(_) => {
                    // The runner is starved or stuck: the caller stops the whole sandbox, and
                    // the result says the deadline passed.
                    self.broken = true;
                    return Ok(ExecOutcome {
                        exit_code: None,
                        signal: Some(9),
                        timed_out: true,
                        oom_killed: false,
                        sandbox_restarted: true,
                        stdout,
                        stderr,
                        duration: started.elapsed(),
                    });
                }
            }
        };
        self.dirty = false;
        let int = |key: &str| exit.get(key).and_then(Value::as_i64).map(|v| v as i32);
        let flag = |key: &str| exit.get(key).and_then(Value::as_bool).unwrap_or(false);
        if let Some(spawn) = exit.get("spawn_error").and_then(Value::as_str) {
            stderr.push(format!("cannot start {:?}: {spawn}", request.argv).as_bytes());
        }
        Ok(ExecOutcome {
            exit_code: int("code"),
            signal: int("signal"),
            timed_out: flag("timed_out") || kill_sent,
            oom_killed: flag("oom"),
            sandbox_restarted: false,
            stdout,
            stderr,
            duration: started.elapsed(),
        })
    }

    /// What the proxy side of a connection did, passed on to the runner.
    async fn relay_back(
        &mut self,
        tunnel: &mut Tunnel,
        event: FromProxy,
    ) -> Result<(), SandboxError> {
        match event {
            FromProxy::Data(id, data) => {
                let b64 = base64::engine::general_purpose::STANDARD;
                self.send(&json!({"op": "net", "id": id, "data": b64.encode(&data)}))
                    .await
            }
            FromProxy::End(id) => {
                tunnel.proxy_ended(id);
                self.send(&json!({"op": "net_end", "id": id})).await
            }
        }
    }

    /// Bytes code sent on `id`, to the proxy. While the proxy is behind, what it sends back
    /// still goes on to the runner (so neither side waits for the other); a connection whose
    /// bytes the proxy has not taken by the job's deadline is dropped.
    async fn relay_out(
        &mut self,
        tunnel: &mut Tunnel,
        id: u32,
        data: Bytes,
        deadline: Instant,
    ) -> Result<(), SandboxError> {
        let Some(sender) = tunnel.sender(id) else {
            // Gone already: its bytes have nowhere to go.
            return Ok(());
        };
        loop {
            let event = tokio::select! {
                permit = sender.reserve() => {
                    if let Ok(permit) = permit {
                        permit.send(data);
                    }
                    return Ok(());
                }
                event = tunnel.next() => event,
                () = tokio::time::sleep_until(deadline) => {
                    tunnel.drop_connection(id);
                    return self.send(&json!({"op": "net_end", "id": id})).await;
                }
            };
            self.relay_back(tunnel, event).await?;
        }
    }

    /// Writes a file inside the sandbox.
    pub(crate) async fn put(&mut self, path: &str, data: &[u8]) -> Result<(), SandboxError> {
        if data.len() > MAX_FILE {
            return Err(SandboxError::File(format!(
                "{path}: {} bytes is more than the {} MiB a file may have",
                data.len(),
                MAX_FILE >> 20
            )));
        }
        self.settle().await?;
        let b64 = base64::engine::general_purpose::STANDARD;
        self.send(&json!({"op": "put", "path": path, "data": b64.encode(data)}))
            .await?;
        match timeout(GRACE * 2, self.next_answer()).await {
            Ok(Ok(Frame::Ack)) => Ok(()),
            Ok(Ok(Frame::Error(message))) => Err(SandboxError::File(format!("{path}: {message}"))),
            Ok(Ok(_)) => Err(SandboxError::Runner("unexpected answer to put".into())),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SandboxError::Runner("no answer to put".into())),
        }
    }

    /// Reads a file from inside the sandbox.
    pub(crate) async fn get(&mut self, path: &str) -> Result<Vec<u8>, SandboxError> {
        self.settle().await?;
        self.send(&json!({"op": "get", "path": path, "max": MAX_FILE}))
            .await?;
        match timeout(GRACE * 2, self.next_answer()).await {
            Ok(Ok(Frame::File(data))) if data.len() > MAX_FILE => Err(SandboxError::File(format!(
                "{path} is larger than {} MiB",
                MAX_FILE >> 20
            ))),
            Ok(Ok(Frame::File(data))) => Ok(data.to_vec()),
            Ok(Ok(Frame::Error(message))) => Err(SandboxError::File(format!("{path}: {message}"))),
            Ok(Ok(_)) => Err(SandboxError::Runner("unexpected answer to get".into())),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(SandboxError::Runner("no answer to get".into())),
        }
    }
}

fn decode(kind: u8, payload: Bytes) -> Result<Frame, SandboxError> {
    let parse = |payload: &Bytes| -> Result<Value, SandboxError> {
        serde_json::from_slice(payload)
            .map_err(|e| SandboxError::Runner(format!("malformed frame: {e}")))
    };
    Ok(match kind {
        b'R' => Frame::Ready(
            parse(&payload)
                .ok()
                .and_then(|ready| ready.get("code")?.as_str().map(str::to_owned)),
        ),
        b'O' => Frame::Out(StreamKind::Stdout, payload),
        b'E' => Frame::Out(StreamKind::Stderr, payload),
        b'X' => Frame::Exit(parse(&payload)?),
        b'F' => Frame::File(payload),
        b'A' => Frame::Ack,
        b'C' | b'T' | b'Z' => {
            if payload.len() < 4 {
                return Err(SandboxError::Runner(
                    "a connection frame without its id".into(),
                ));
            }
            let id = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
            match kind {
                b'C' => Frame::Open(id),
                b'T' => Frame::Data(id, payload.slice(4..)),
                _ => Frame::End(id),
            }
        }
        b'!' => Frame::Error(
            parse(&payload)?
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("unknown runner error")
                .to_string(),
        ),
        other => {
            return Err(SandboxError::Runner(format!(
                "unknown frame kind {other:#x}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn connection_frames_carry_their_id_and_a_short_one_is_refused() {
        let id = 0x0102_0304u32.to_be_bytes();
        assert!(matches!(
            decode(b'C', Bytes::copy_from_slice(&id)),
            Ok(Frame::Open(0x0102_0304))
        ));
        let mut data = id.to_vec();
        data.extend_from_slice(b"bytes");
        match decode(b'T', Bytes::from(data)) {
            Ok(Frame::Data(0x0102_0304, bytes)) => assert_eq!(&bytes[..], b"bytes"),
            _ => panic!("not a data frame"),
        }
        assert!(matches!(
            decode(b'Z', Bytes::copy_from_slice(&id)),
            Ok(Frame::End(_))
        ));
        for kind in [b'C', b'T', b'Z'] {
            assert!(decode(kind, Bytes::from_static(b"\x00\x01")).is_err());
        }
        assert!(decode(b'?', Bytes::new()).is_err());
    }
}
