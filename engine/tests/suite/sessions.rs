//! Session commands: create, list, rename, delete, and the errors of each.

use aetheria_engine::api::{Command, ErrorKind, Event, SessionId};
use aetheria_engine::testkit::Reply;

use super::common::Harness;

#[tokio::test]
async fn create_list_rename_delete() {
    let mut h = Harness::start(vec![]).await;
    let a = h.new_session().await;
    let b = h.new_session().await;

    h.handle.submit(Command::ListSessions).unwrap();
    let events = h.until(|e| matches!(e, Event::SessionList { .. })).await;
    let Some(Event::SessionList { sessions }) = events.last() else {
        unreachable!()
    };
    let ids: Vec<_> = sessions.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, vec![b.clone(), a.clone()], "newest first");
    assert!(sessions.iter().all(|s| s.title == "New chat"));

    h.handle
        .submit(Command::RenameSession {
            session: a.clone(),
            title: "  Taxes 2026 ".into(),
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SessionUpdated { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::SessionUpdated { session }) if session.title == "Taxes 2026")
    );

    h.handle
        .submit(Command::RenameSession {
            session: a.clone(),
            title: "   ".into(),
        })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.kind == ErrorKind::Invalid)
    );

    h.handle
        .submit(Command::DeleteSession { session: a.clone() })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SessionDeleted { .. })).await;
    assert!(matches!(events.last(), Some(Event::SessionDeleted { session }) if *session == a));

    h.handle
        .submit(Command::LoadSession { session: a.clone() })
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.kind == ErrorKind::Missing)
    );
}

#[tokio::test]
async fn messages_to_missing_or_busy_sessions_are_refused() {
    let slow = Reply::text(&["a", "b", "c"]).with_delay(std::time::Duration::from_millis(200));
    let mut h = Harness::start(vec![slow]).await;
    h.send(&SessionId::new(), "hello?");
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.kind == ErrorKind::Missing)
    );

    let s = h.new_session().await;
    h.send(&s, "first");
    h.until(|e| matches!(e, Event::TurnStarted { .. })).await;
    h.send(&s, "second, too early");
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.kind == ErrorKind::Conflict)
    );
    let events = h.until(super::common::turn_ended).await;
    assert!(matches!(events.last(), Some(Event::TurnFinished { .. })));

    h.send(&s, "  ");
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.kind == ErrorKind::Invalid)
    );
}

#[tokio::test]
async fn attachments_are_added_and_bad_ones_fail_clearly() {
    let mut h = Harness::start(vec![Reply::text(&["seen"])]).await;
    let file = h.workspace.join("notes.txt");
    std::fs::write(&file, "attached words").unwrap();
    let s = h.new_session().await;
    h.handle
        .submit(Command::SendMessage {
            session: s.clone(),
            text: "see file".into(),
            attachments: vec![file],
        })
        .unwrap();
    let events = h.until(super::common::turn_ended).await;
    assert!(matches!(events.last(), Some(Event::TurnFinished { .. })));
    let user = h.server.requests()[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        user.contains("attached words") && user.contains("notes.txt"),
        "{user}"
    );

    h.handle
        .submit(Command::SendMessage {
            session: s,
            text: "and this".into(),
            attachments: vec![h.workspace.join("missing.bin")],
        })
        .unwrap();
    let events = h.until(super::common::turn_ended).await;
    assert!(
        matches!(events.last(), Some(Event::TurnFailed { error, .. }) if error.message.contains("cannot attach"))
    );
}
