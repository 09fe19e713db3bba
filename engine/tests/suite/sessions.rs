//! Session commands: create, list, rename, delete, and the errors of each.

use aetheria_engine::api::{Command, ErrorKind, Event, SessionCommand, SessionId, TurnCommand};
use aetheria_engine::testkit::Reply;

use super::common::Harness;

#[tokio::test]
async fn create_list_rename_delete() {
    let mut h = Harness::start(vec![]).await;
    let a = h.new_session().await;
    let b = h.new_session().await;

    h.handle
        .submit(Command::Session(SessionCommand::List))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SessionList { .. })).await;
    let Some(Event::SessionList { sessions }) = events.last() else {
        unreachable!()
    };
    let ids: Vec<_> = sessions.iter().map(|s| s.id.clone()).collect();
    assert_eq!(ids, vec![b.clone(), a.clone()], "newest first");
    assert!(sessions.iter().all(|s| s.title == "New chat"));

    h.handle
        .submit(Command::Session(SessionCommand::Rename {
            session: a.clone(),
            title: "  Taxes 2026 ".into(),
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SessionUpdated { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::SessionUpdated { session }) if session.title == "Taxes 2026")
    );

    h.handle
        .submit(Command::Session(SessionCommand::Rename {
            session: a.clone(),
            title: "   ".into(),
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.kind == ErrorKind::Invalid)
    );

    h.handle
        .submit(Command::Session(SessionCommand::Delete {
            session: a.clone(),
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SessionDeleted { .. })).await;
    assert!(matches!(events.last(), Some(Event::SessionDeleted { session }) if *session == a));

    h.handle
        .submit(Command::Session(SessionCommand::Load {
            session: a.clone(),
        }))
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
        .submit(Command::Turn(TurnCommand::Send {
            session: s.clone(),
            text: "see file".into(),
            attachments: vec![file],
            create: false,
            allow: vec![],
        }))
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
        .submit(Command::Turn(TurnCommand::Send {
            session: s,
            text: "and this".into(),
            attachments: vec![h.workspace.join("missing.bin")],
            create: false,
            allow: vec![],
        }))
        .unwrap();
    let events = h.until(super::common::turn_ended).await;
    assert!(
        matches!(events.last(), Some(Event::TurnFailed { error, .. }) if error.message.contains("cannot attach"))
    );
}

/// The smallest valid PNG (1×1, one transparent pixel).
const PNG: [u8; 67] = [
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

#[tokio::test]
async fn images_go_to_models_that_take_them_and_stay_in_the_history() {
    let mut h = Harness::start_with(
        vec![Reply::text(&["a dot"]), Reply::text(&["still a dot"])],
        |config| config.providers[0].vision = Some(true),
    )
    .await;
    let image = h.workspace.join("dot.png");
    std::fs::write(&image, PNG).unwrap();
    let s = h.new_session().await;
    h.handle
        .submit(Command::Turn(TurnCommand::Send {
            session: s.clone(),
            text: "what is this?".into(),
            attachments: vec![image.clone()],
            create: false,
            allow: vec![],
        }))
        .unwrap();
    let events = h.until(super::common::turn_ended).await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    // The image is a part of the user message, as a data URL (OpenAI's format).
    let expected = format!(
        "data:image/png;base64,{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PNG)
    );
    let user = &h.server.requests()[0]["messages"][1];
    assert_eq!(user["content"][0]["text"], "what is this?", "{user}");
    assert_eq!(user["content"][1]["image_url"]["url"], expected.as_str());

    // The person's file may go away: the kept copy goes with the history next turn.
    std::fs::remove_file(&image).unwrap();
    h.turn(&s, "and now?").await;
    let first = &h.server.requests()[1]["messages"][1];
    assert_eq!(first["content"][1]["image_url"]["url"], expected.as_str());
}

#[tokio::test]
async fn images_are_refused_clearly_by_models_without_vision() {
    let mut h = Harness::start_with(vec![Reply::text(&["never"])], |config| {
        config.providers[0].model = "deepseek-chat".into();
    })
    .await;
    let image = h.workspace.join("dot.png");
    std::fs::write(&image, PNG).unwrap();
    let binary = h.workspace.join("blob.bin");
    std::fs::write(&binary, [0u8, 159, 146, 150, 0, 1]).unwrap();
    let s = h.new_session().await;
    for (file, says) in [
        (image, "does not take images"),
        (binary, "neither text nor a PNG"),
    ] {
        h.handle
            .submit(Command::Turn(TurnCommand::Send {
                session: s.clone(),
                text: "look".into(),
                attachments: vec![file],
                create: false,
                allow: vec![],
            }))
            .unwrap();
        let events = h.until(super::common::turn_ended).await;
        let Some(Event::TurnFailed { error, .. }) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(error.kind, ErrorKind::Invalid);
        assert!(error.message.contains(says), "{}", error.message);
    }
    assert!(h.server.requests().is_empty(), "nothing was sent");
}

/// A first message can create its session: one command, `SessionCreated` first, then the turn;
/// without `create` a missing session is refused, and a forged id that exists is not created
/// twice.
#[tokio::test]
async fn a_message_creates_its_session_when_asked() {
    let mut h = Harness::start(vec![Reply::text(&["Hi there."])]).await;
    let session = SessionId::new();
    let refused = h
        .refused(Command::Turn(TurnCommand::Send {
            session: session.clone(),
            text: "hello".into(),
            attachments: vec![],
            create: false,
            allow: vec![],
        }))
        .await;
    assert_eq!(refused.kind, ErrorKind::Missing);
    h.handle
        .submit(Command::Turn(TurnCommand::Send {
            session: session.clone(),
            text: "hello".into(),
            attachments: vec![],
            create: true,
            allow: vec![],
        }))
        .unwrap();
    let events = h.until(super::common::turn_ended).await;
    assert!(
        matches!(&events[0], Event::SessionCreated { session: s } if s.id == session),
        "{events:?}"
    );
    assert!(matches!(events.last(), Some(Event::TurnFinished { .. })));
    // Sent again with `create`, the session is used, not made again.
    h.server.push(Reply::text(&["Again."]));
    h.handle
        .submit(Command::Turn(TurnCommand::Send {
            session: session.clone(),
            text: "and again".into(),
            attachments: vec![],
            create: true,
            allow: vec![],
        }))
        .unwrap();
    let again = h.until(super::common::turn_ended).await;
    assert!(
        !again
            .iter()
            .any(|e| matches!(e, Event::SessionCreated { .. })),
        "{again:?}"
    );
    let messages = h.messages(&session).await;
    assert_eq!(messages.len(), 4, "{messages:?}");
}
