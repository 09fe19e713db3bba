//! Persistence on disk: a reopened engine finds sessions, messages and tool calls; a newer or
//! damaged database is refused with a clear message and left untouched.

use aetheria_engine::api::{
    Command, Event, MessageStatus, Role, SessionCommand, ToolStatus, TurnCommand,
};
use aetheria_engine::testkit::Reply;
use aetheria_engine::{Engine, EngineError};

use super::common::{Harness, config_for};

#[tokio::test]
async fn a_reopened_engine_finds_everything() {
    let mut h = Harness::start(vec![
        Reply::tool_calls(&[("call_l", "fs_list", "{}")], 2),
        Reply::text(&["Your workspace holds one file."]),
        Reply::text(&["Still here."]),
    ])
    .await;
    std::fs::write(h.workspace.join("only.txt"), "1").unwrap();
    let session = h.new_session().await;
    let events = h.turn(&session, "What is in my workspace?").await;
    assert!(matches!(events.last(), Some(Event::TurnFinished { .. })));
    h.handle.submit(Command::Shutdown).unwrap();
    while h.events.recv().await.is_some() {}

    let config = config_for(&h.data, &h.workspace, &h.server.base_url());
    let (handle, mut events) = Engine::start(config).await.unwrap();
    handle
        .submit(Command::Session(SessionCommand::List))
        .unwrap();
    let Some(Event::SessionList { sessions }) = events.recv().await.map(|e| e.event) else {
        panic!()
    };
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].title, "What is in my workspace?");
    handle
        .submit(Command::Session(SessionCommand::Load {
            session: session.clone(),
        }))
        .unwrap();
    let Some(Event::SessionLoaded {
        messages,
        tool_calls,
        ..
    }) = events.recv().await.map(|e| e.event)
    else {
        panic!()
    };
    let shape: Vec<_> = messages.iter().map(|m| (m.role, m.status)).collect();
    assert_eq!(
        shape,
        vec![
            (Role::User, MessageStatus::Complete),
            (Role::Assistant, MessageStatus::Complete),
            (Role::Assistant, MessageStatus::Complete),
        ]
    );
    assert_eq!(messages[1].tool_calls[0].name, "fs_list");
    assert_eq!(messages[2].content, "Your workspace holds one file.");
    assert_eq!(tool_calls.len(), 1);
    assert_eq!(tool_calls[0].status, ToolStatus::Succeeded);
    assert_eq!(tool_calls[0].output, "only.txt (1 B)");

    // The next turn sends the whole history, tool result included.
    handle
        .submit(Command::Turn(TurnCommand::Send {
            session,
            text: "And now?".into(),
            attachments: vec![],
            create: false,
            allow: vec![],
        }))
        .unwrap();
    loop {
        match events.recv().await.map(|e| e.event) {
            Some(Event::TurnFinished { .. }) => break,
            Some(Event::TurnFailed { error, .. }) => panic!("{error:?}"),
            Some(_) => {}
            None => panic!("engine stopped"),
        }
    }
    let last = h.server.requests().pop().unwrap();
    assert_eq!(
        super::common::roles(&last),
        vec!["system", "user", "assistant", "tool", "assistant", "user"]
    );
}

#[tokio::test]
async fn a_damaged_database_is_refused_clearly() {
    let data = tempfile::tempdir().unwrap();
    let workspace = data.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    let config = config_for(&data, &workspace, "http://127.0.0.1:9/v1");
    // Something that is not a database where the database folder should be.
    std::fs::create_dir_all(data.path().join("data")).unwrap();
    std::fs::write(data.path().join("data/db"), b"not a database").unwrap();
    let err = Engine::start(config).await.unwrap_err();
    assert!(matches!(err, EngineError::Memory(_)), "{err}");
    assert!(
        err.to_string().contains("cannot open the database"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(data.path().join("data/db")).unwrap(),
        b"not a database"
    );
}
