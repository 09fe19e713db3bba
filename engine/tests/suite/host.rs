//! One engine per data folder: the first `Engine::open` hosts it, later ones connect as clients
//! through the private endpoint and see everything live; clients cannot forge each other's
//! submissions, and nothing a connection sends — random bytes, cut or oversized frames, another
//! protocol version — takes the host down.

use std::time::Duration;

use aetheria_engine::api::endpoint::{self, CLIENT_SHIFT, ClientFrame, HostFrame, client_of};
use aetheria_engine::api::{
    Command, Decision, Envelope, Event, PROTOCOL_VERSION, Policy, SessionCommand, SessionId,
    Submission, SubmissionId, TurnCommand,
};
use aetheria_engine::host::{Opened, endpoint_path};
use aetheria_engine::testkit::{Reply, ScriptedServer, xorshift};
use aetheria_engine::{Engine, Events};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::common::{config_for, turn_ended};

const WAIT: Duration = Duration::from_secs(60);

async fn next(events: &mut Events) -> Envelope {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no event within a minute")
        .expect("the events ended")
}

/// Envelopes up to and including the first that matches.
async fn until(events: &mut Events, done: impl Fn(&Envelope) -> bool) -> Vec<Envelope> {
    let mut seen = Vec::new();
    loop {
        let envelope = next(events).await;
        let stop = done(&envelope);
        seen.push(envelope);
        if stop {
            return seen;
        }
    }
}

fn send(session: &SessionId, text: &str) -> Command {
    Command::Turn(TurnCommand::Send {
        session: session.clone(),
        text: text.into(),
        attachments: vec![],
        create: true,
        allow: vec![],
    })
}

struct Folder {
    server: ScriptedServer,
    data: tempfile::TempDir,
}

impl Folder {
    async fn new(replies: Vec<Reply>) -> Self {
        let server = ScriptedServer::start(replies).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data.path().join("workspace")).unwrap();
        Self { server, data }
    }

    fn config(&self) -> aetheria_engine::config::Config {
        let mut config = config_for(
            &self.data,
            &self.data.path().join("workspace"),
            &self.server.base_url(),
        );
        config.tools.policy.insert("fs_write".into(), Policy::Ask);
        config
    }

    async fn open(&self, kind: &str) -> Opened {
        Engine::open(self.config(), kind).await.unwrap()
    }
}

#[tokio::test]
async fn a_second_process_is_a_client_and_both_see_each_others_turns() {
    let folder = Folder::new(vec![Reply::text(&["Hello ", "from ", "the host."])]).await;
    let mut window = folder.open("window").await;
    assert!(window.hosting);
    assert_eq!(window.host.kind, "window");
    let mut ask = folder.open("ask").await;
    assert!(!ask.hosting, "the folder is hosted already");
    assert_eq!(ask.host.pid, std::process::id());
    assert_eq!(ask.host.kind, "window");
    assert_eq!(ask.host.clients, 1, "one client: this one");

    let session = SessionId::new();
    let id = ask.handle.submit(send(&session, "hi")).unwrap();
    assert_eq!(client_of(id), 1, "the client numbers in its own range");
    let by_ask = until(&mut ask.events, |e| turn_ended(&e.event)).await;
    let in_window = until(&mut window.events, |e| turn_ended(&e.event)).await;
    for seen in [&by_ask, &in_window] {
        let text: String = seen
            .iter()
            .filter(|e| e.submission == Some(id))
            .filter_map(|e| match &e.event {
                Event::TextDelta { delta, .. } => Some(delta.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Hello from the host.");
        assert!(
            matches!(
                seen.last().map(|e| &e.event),
                Some(Event::TurnFinished { .. })
            ),
            "{seen:?}"
        );
    }
    // The window lists the session the client made, from the one store.
    let listed = sessions(&mut window).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, session);

    // The client leaves with `Shutdown`; the engine goes on for the window.
    ask.handle.submit(Command::Shutdown).unwrap();
    while let Some(envelope) = ask.events.recv().await {
        assert!(
            !matches!(envelope.event, Event::HostLost { .. }),
            "a client that leaves is not told the host went away"
        );
    }
    sessions(&mut window).await;

    // When the host stops, a client still connected is told so in a sentence.
    let mut late = folder.open("ask").await;
    window.handle.submit(Command::Shutdown).unwrap();
    while window.events.recv().await.is_some() {}
    let last = until(&mut late.events, |e| {
        matches!(e.event, Event::HostLost { .. })
    })
    .await;
    let Some(Event::HostLost { reason }) = last.last().map(|e| e.event.clone()) else {
        unreachable!()
    };
    assert!(reason.contains("went away"), "{reason}");
    assert!(late.events.recv().await.is_none());
    // The folder is free: the next process hosts it.
    let next = folder.open("serve").await;
    assert!(next.hosting);
}

#[tokio::test]
async fn two_clients_approve_different_calls() {
    let folder = Folder::new(vec![
        Reply::tool_calls(
            &[(
                "call_a",
                "fs_write",
                r#"{"path":"a.txt","content":"from a"}"#,
            )],
            1,
        ),
        Reply::tool_calls(
            &[(
                "call_b",
                "fs_write",
                r#"{"path":"b.txt","content":"from b"}"#,
            )],
            1,
        ),
        Reply::text(&["Wrote it."]),
        Reply::text(&["Wrote it."]),
    ])
    .await;
    let mut first = folder.open("window").await;
    let mut second = folder.open("ask").await;
    let a = SessionId::new();
    let first_id = first.handle.submit(send(&a, "write a")).unwrap();
    let asked_a = until(&mut first.events, |e| {
        matches!(e.event, Event::ApprovalRequested { .. }) && e.submission == Some(first_id)
    })
    .await;
    let b = SessionId::new();
    let second_id = second.handle.submit(send(&b, "write b")).unwrap();
    let asked_b = until(&mut second.events, |e| {
        matches!(e.event, Event::ApprovalRequested { .. }) && e.submission == Some(second_id)
    })
    .await;
    let call_of = |seen: &[Envelope]| match seen.last().map(|e| &e.event) {
        Some(Event::ApprovalRequested { call, .. }) => call.clone(),
        other => unreachable!("{other:?}"),
    };
    let (call_a, call_b) = (call_of(&asked_a), call_of(&asked_b));
    assert_ne!(call_a, call_b);
    for (opened, call) in [(&first, &call_a), (&second, &call_b)] {
        opened
            .handle
            .submit(Command::Turn(TurnCommand::Approve {
                call: call.clone(),
                decision: Decision::Allow,
                remember: false,
                scope: None,
            }))
            .unwrap();
    }
    for (opened, id) in [(&mut first, first_id), (&mut second, second_id)] {
        let seen = until(&mut opened.events, |e| {
            turn_ended(&e.event) && e.submission == Some(id)
        })
        .await;
        assert!(
            matches!(
                seen.last().map(|e| &e.event),
                Some(Event::TurnFinished { .. })
            ),
            "{seen:?}"
        );
    }
    let workspace = folder.data.path().join("workspace");
    assert_eq!(
        std::fs::read_to_string(workspace.join("a.txt")).unwrap(),
        "from a"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.join("b.txt")).unwrap(),
        "from b"
    );
}

/// A raw connection to the endpoint, hello said.
async fn raw(path: &std::path::Path) -> (Framed<UnixStream, LengthDelimitedCodec>, u64) {
    let stream = UnixStream::connect(path).await.unwrap();
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(endpoint::MAX_HOST_FRAME)
        .new_codec();
    let mut framed = Framed::new(stream, codec);
    hello(&mut framed, PROTOCOL_VERSION, "test").await;
    match read(&mut framed).await {
        HostFrame::Welcome { client, .. } => (framed, client),
        other => panic!("{other:?}"),
    }
}

async fn read(framed: &mut Framed<UnixStream, LengthDelimitedCodec>) -> HostFrame {
    let bytes = tokio::time::timeout(WAIT, framed.next())
        .await
        .expect("no frame within a minute")
        .expect("the connection ended")
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The next frame that is not an event of the engine.
async fn read_own(framed: &mut Framed<UnixStream, LengthDelimitedCodec>) -> HostFrame {
    loop {
        match read(framed).await {
            HostFrame::Event(Envelope {
                submission: None, ..
            }) => {}
            frame => return frame,
        }
    }
}

#[tokio::test]
async fn forged_ids_and_hostile_frames_never_take_the_host_down() {
    let folder = Folder::new(vec![]).await;
    let mut host = folder.open("window").await;
    let path = endpoint_path(&folder.config().data_dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the socket is the user's alone");
        let dir = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir & 0o077, 0, "its folder too");
    }

    // A submission numbered in another client's range (or the host's) is refused, not run.
    let (mut framed, number) = raw(&path).await;
    for forged in [
        1,
        ((number + 1) << CLIENT_SHIFT) | 1,
        number << CLIENT_SHIFT,
    ] {
        let frame = ClientFrame::Submit(Submission {
            id: SubmissionId(forged),
            command: Command::Session(SessionCommand::Delete {
                session: SessionId::from("x"),
            }),
        });
        framed
            .send(Bytes::from(endpoint::encode_client(&frame).unwrap()))
            .await
            .unwrap();
        match read_own(&mut framed).await {
            HostFrame::Event(Envelope {
                event: Event::CommandFailed { submission, error },
                ..
            }) => {
                assert_eq!(submission, SubmissionId(forged));
                assert!(error.message.contains("range"), "{}", error.message);
            }
            other => panic!("{other:?}"),
        }
    }
    // Garbage inside a well-delimited frame: an error frame, and the connection goes on.
    let mut next = xorshift(7);
    for case in 0..50 {
        let len = (next() % 300) as usize;
        let mut junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if case % 5 == 0 {
            junk = br#"{"frame":"submit","id":5,"command":{"type":"turn","op":"send""#.to_vec();
        }
        framed.send(Bytes::from(junk)).await.unwrap();
        assert!(
            matches!(read_own(&mut framed).await, HostFrame::Error { .. }),
            "case {case}"
        );
    }
    // A second hello is an error too.
    hello(&mut framed, PROTOCOL_VERSION, "again").await;
    assert!(matches!(
        read_own(&mut framed).await,
        HostFrame::Error { .. }
    ));
    // A frame that says it is larger than any frame: an error, and that connection is closed.
    let mut stream = framed.into_inner();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    stream.write_all(b"{}").await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the host closes the connection")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&rest).contains("frame size too big"),
        "{}",
        String::from_utf8_lossy(&rest)
    );

    // Another protocol version is refused with both versions named.
    let stream = UnixStream::connect(&path).await.unwrap();
    let mut framed = Framed::new(stream, LengthDelimitedCodec::new());
    hello(&mut framed, PROTOCOL_VERSION + 1, "future").await;
    match read(&mut framed).await {
        HostFrame::Refused { reason } => {
            assert!(
                reason.contains(&format!("{}", PROTOCOL_VERSION + 1)),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Random bytes from the first byte, cut frames, silence: the host goes on.
    for seed in 1..20 {
        let mut next = xorshift(seed);
        let mut stream = UnixStream::connect(&path).await.unwrap();
        let len = (next() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        stream.write_all(&bytes).await.unwrap();
        drop(stream);
    }
    let mut cut = UnixStream::connect(&path).await.unwrap();
    cut.write_all(&100u32.to_be_bytes()).await.unwrap();
    cut.write_all(b"{\"frame\":").await.unwrap();
    drop(cut);

    // The host still answers its own front end and a new client.
    sessions(&mut host).await;
    let mut client = folder.open("ask").await;
    assert!(!client.hosting);
    sessions(&mut client).await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_told_it_lagged_and_holds_no_one_back() {
    let folder = Folder::new(vec![]).await;
    let mut host = folder.open("window").await;
    let path = endpoint_path(&folder.config().data_dir).unwrap();
    // A client that says hello and then reads nothing while the engine says a great deal (each
    // tool list is kilobytes: the socket's buffer fills, then the client's queue).
    let (mut sleeper, _) = raw(&path).await;
    for _ in 0..10_000 {
        host.handle
            .submit(Command::Tools(aetheria_engine::api::ToolsCommand::List))
            .unwrap();
    }
    let marker = host
        .handle
        .submit(Command::Session(SessionCommand::List))
        .unwrap();
    // The host's own front end got every event, in time.
    let seen = until(&mut host.events, |e| e.submission == Some(marker)).await;
    let lists = seen
        .iter()
        .filter(|e| matches!(e.event, Event::ToolList { .. }))
        .count();
    assert_eq!(lists, 10_000);
    // Reading now, the sleeper finds that it missed events, and then the engine's later ones.
    let mut lagged = 0;
    loop {
        match read(&mut sleeper).await {
            HostFrame::Event(Envelope {
                event: Event::Lagged { missed },
                ..
            }) => lagged += missed,
            HostFrame::Event(Envelope { submission, .. }) if submission == Some(marker) => break,
            _ => {}
        }
    }
    assert!(
        lagged > 0,
        "a client thousands of events behind is told it lagged"
    );
}

/// Asks for the session list through `opened` and waits for it: the engine answers that client.
async fn sessions(opened: &mut Opened) -> Vec<aetheria_engine::api::SessionSummary> {
    let id = opened
        .handle
        .submit(Command::Session(SessionCommand::List))
        .unwrap();
    let seen = until(&mut opened.events, |e| e.submission == Some(id)).await;
    match seen.last().map(|e| &e.event) {
        Some(Event::SessionList { sessions }) => sessions.clone(),
        other => panic!("{other:?}"),
    }
}

/// Says hello on a raw connection.
async fn hello(framed: &mut Framed<UnixStream, LengthDelimitedCodec>, protocol: u32, client: &str) {
    let hello = ClientFrame::Hello {
        protocol,
        client: client.into(),
        pid: 1,
    };
    framed
        .send(Bytes::from(endpoint::encode_client(&hello).unwrap()))
        .await
        .unwrap();
}
