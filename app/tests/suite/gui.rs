//! The window, driven like a person would through iced_test's simulator, against a real engine and
//! a loopback provider: type a prompt, send it, watch the reply stream in, stop a turn, approve a
//! tool call.

use std::time::Duration;

use aetheria_app::app::{Action, App, COMPOSER, Message, Window};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::api::Event;
use aetheria_engine::config::{Config, ProviderConfig, Wire};
use aetheria_engine::testkit::{Reply, ScriptedServer, text_chunk};
use aetheria_engine::{Engine, Events};
use iced::keyboard::{Key, key::Named};
use iced::widget;
use iced_test::simulator;

/// A provider on a loopback server, with no key anywhere.
pub(super) fn loopback(name: &str, server: &ScriptedServer) -> ProviderConfig {
    ProviderConfig {
        name: name.into(),
        wire: Wire::Openai,
        base_url: server.base_url(),
        model: "test-model".into(),
        key_env: Some("AETHERIA_TEST_NO_KEY".into()),
        key_ref: Some("aetheria-test-absent".into()),
        context_window: None,
        vision: None,
    }
}

/// Hands the app its engine, as the bridge does when the engine has started.
fn ready(app: &mut App, handle: aetheria_engine::Handle, provider: Option<&str>) {
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle,
        provider: provider.map(str::to_owned),
        workspace: vec![],
    }));
}

/// A window on a new engine of `config`, handed it as the bridge does (its provider "loopback").
pub(super) async fn window_on(config: Config) -> (App, Events) {
    let (handle, events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    ready(&mut app, handle, Some("loopback"));
    (app, events)
}

/// A window on a new engine of `config` with no provider, as on a fresh install: the welcome.
pub(super) async fn welcome_on(config: Config) -> (App, Events) {
    let (handle, events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    ready(&mut app, handle, None);
    (app, events)
}

/// Feeds engine events to the app until one matches (inclusive).
pub(super) async fn pump(app: &mut App, events: &mut Events, until: impl Fn(&Event) -> bool) {
    pump_for(app, events, |e| until(e).then_some(())).await;
}

/// Feeds engine events to the app until `pick` finds what it wants in one (inclusive): that.
pub(super) async fn pump_for<T>(
    app: &mut App,
    events: &mut Events,
    pick: impl Fn(&Event) -> Option<T>,
) -> T {
    pump_within(app, events, Duration::from_secs(60), pick).await
}

/// As `pump_for`, waiting at most `wait` for each event.
pub(super) async fn pump_within<T>(
    app: &mut App,
    events: &mut Events,
    wait: Duration,
    pick: impl Fn(&Event) -> Option<T>,
) -> T {
    loop {
        let event = tokio::time::timeout(wait, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no engine event within {} s", wait.as_secs()))
            .expect("engine stopped");
        let found = pick(&event.event);
        let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![event])));
        if let Some(found) = found {
            return found;
        }
    }
}

/// Feeds engine events until the window shows `caption`.
pub(super) async fn pump_until_shown(app: &mut App, events: &mut Events, caption: &str) {
    while !shows(app, caption) {
        pump(app, events, |_| true).await;
    }
}

/// Types into the composer and presses Enter, as a person would.
pub(super) fn type_and_send(app: &mut App, prompt: &str) {
    let mut ui = simulator(app.view());
    ui.click(widget::Id::new(COMPOSER)).expect("composer");
    let _ = ui.typewrite(prompt);
    let _ = ui.tap_key(Key::Named(Named::Enter));
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
}

pub(super) fn click(app: &mut App, caption: &str) {
    let mut ui = simulator(app.view());
    ui.click(caption)
        .unwrap_or_else(|e| panic!("cannot click {caption:?}: {e:?}"));
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
}

/// Runs what an update asked for (a task's messages go back to the app), as iced's runtime would.
pub(super) async fn run_task(
    app: &mut aetheria_app::app::App,
    task: iced::Task<aetheria_app::app::Message>,
) {
    use futures::StreamExt;
    let Some(mut stream) = iced_runtime::task::into_stream(task) else {
        return;
    };
    while let Some(action) = stream.next().await {
        if let iced_runtime::Action::Output(message) = action {
            let next = app.update(message);
            Box::pin(run_task(app, next)).await;
        }
    }
}

/// Saves what the first-run welcome was given (its Save) and waits until it is: the welcome
/// closes.
pub(super) async fn save_welcome(app: &mut App, events: &mut Events) {
    click(app, "Save");
    pump(app, events, |e| matches!(e, Event::SettingsSaved { .. })).await;
    assert!(
        !shows(app, "WELCOME TO AETHERIA"),
        "saving closes the welcome"
    );
}

pub(super) fn shows(app: &App, caption: &str) -> bool {
    simulator(app.view()).find(caption).is_ok()
}

#[tokio::test]
async fn type_send_stream_stop_and_approve() {
    let slow: Vec<String> = (0..100).map(|i| text_chunk(&format!("w{i} "))).collect();
    let write = serde_json::json!({ "path": "note.md", "content": "# from the GUI" }).to_string();
    let overwrite = serde_json::json!({ "path": "note.md", "content": "clobbered" }).to_string();
    let server = ScriptedServer::start(vec![
        Reply::text(&["Hello", " from", " the engine"]),
        Reply::stream(slow).with_delay(Duration::from_millis(40)),
        Reply::tool_calls(&[("call_gui", "fs_write", &write)], 5),
        Reply::text(&["Saved."]),
        Reply::tool_calls(&[("call_gui_2", "fs_write", &overwrite)], 5),
        Reply::text(&["Left it alone."]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    config.workspace_roots = vec![workspace.clone()];
    let (handle, mut events) = Engine::start(config).await.unwrap();

    let mut app = App::new();
    assert!(shows(&app, "Starting Aetheria…"));
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle,
        provider: Some("loopback · test-model".into()),
        workspace: vec![workspace.clone()],
    }));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionList { .. })
    })
    .await;
    assert!(shows(&app, "What should we do?"));

    // Type, press Enter, see the reply stream in.
    type_and_send(&mut app, "Say hello");
    assert!(shows(&app, "Say hello"), "the sent message is shown");
    assert!(shows(&app, "Stop"), "Stop is offered while the turn runs");
    pump(
        &mut app,
        &mut events,
        // Deltas that arrive together come as one event: wait for the one that ends the text.
        |e| matches!(e, Event::TextDelta { delta, .. } if delta.ends_with("the engine")),
    )
    .await;
    assert!(
        shows(&app, "Hello from the engine"),
        "the streamed reply is shown"
    );
    assert!(shows(&app, "▍"), "with a cursor while it streams");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::SessionUpdated { session } if session.title == "Say hello"),
    )
    .await;
    assert!(shows(&app, "Send"), "Send is back after the turn");

    // Stop a slow answer.
    type_and_send(&mut app, "Count slowly");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TextDelta { .. })
    })
    .await;
    click(&mut app, "Stop");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnCancelled { .. })
    })
    .await;
    assert!(shows(&app, "[stopped]"));

    // Approve a write.
    type_and_send(&mut app, "Save a note");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ApprovalRequested { .. })
    })
    .await;
    assert!(shows(&app, "APPROVE THIS ACTION?"));
    assert!(
        shows(&app, "+# from the GUI"),
        "the prompt shows a diff of the write"
    );
    // An Enter meant for the message being typed, pressed as the prompt appears, answers nothing.
    let enter = |at| Message::Approval(aetheria_app::app::approvals::Msg::Enter(at));
    let _ = app.update(enter(std::time::Instant::now()));
    assert!(shows(&app, "APPROVE THIS ACTION?"));
    assert!(!workspace.join("note.md").exists());
    // Once the prompt has been there a moment, Enter allows once (the press carries its time).
    let _ = app.update(enter(std::time::Instant::now() + Duration::from_secs(2)));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(!shows(&app, "APPROVE THIS ACTION?"));
    assert!(
        shows(&app, "DONE"),
        "the tool card shows the call succeeded"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.join("note.md")).unwrap(),
        "# from the GUI"
    );

    // Tool cards are compact until clicked.
    // In the order the model wrote them.
    let pretty_args = "{\n  \"path\": \"note.md\",\n  \"content\": \"# from the GUI\"\n}";
    assert!(!shows(&app, pretty_args));
    click(&mut app, "TOOL · fs_write");
    assert!(
        shows(&app, pretty_args),
        "the card unfolds to its full arguments"
    );
    click(&mut app, "TOOL · fs_write");
    assert!(!shows(&app, pretty_args), "and folds back");

    // The Activity tab lists the call; the Files tab shows the new file.
    assert!(shows(&app, "fs_write"));
    click(&mut app, "FILES");
    pump_until_shown(&mut app, &mut events, "note.md").await;

    // Deny an overwrite: the file keeps its content and the card says so.
    type_and_send(&mut app, "Overwrite the note");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ApprovalRequested { .. })
    })
    .await;
    assert!(
        shows(&app, "-# from the GUI"),
        "the diff shows the line to go"
    );
    click(&mut app, "Deny");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(shows(&app, "DENIED"));
    assert_eq!(
        std::fs::read_to_string(workspace.join("note.md")).unwrap(),
        "# from the GUI"
    );
}

#[tokio::test]
async fn search_rename_delete_and_copy_code() {
    let server = ScriptedServer::start(vec![Reply::text(&[
        "Here:\n\n```rust\nfn answer() -> u8 {\n    42\n}\n```\n",
    ])])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    let (handle, mut events) = Engine::start(config).await.unwrap();
    for title in ["Taxes 2026", "Groceries", "Tax receipts"] {
        handle
            .submit(aetheria_engine::api::Command::Session(
                aetheria_engine::api::SessionCommand::Create {
                    session: aetheria_engine::api::SessionId::new(),
                    title: Some(title.into()),
                },
            ))
            .unwrap();
    }
    let mut app = App::new();
    ready(&mut app, handle, Some("loopback · test-model"));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionList { .. })
    })
    .await;
    // The three sessions were created before the app asked for the list.
    assert!(shows(&app, "Groceries"));

    // Search filters as you type.
    let mut ui = simulator(app.view());
    ui.click(widget::Id::new(aetheria_app::app::SEARCH))
        .unwrap();
    let _ = ui.typewrite("TAX");
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
    assert!(shows(&app, "Taxes 2026"));
    assert!(shows(&app, "Tax receipts"));
    assert!(!shows(&app, "Groceries"));

    // Open one, rename it.
    click(&mut app, "Taxes 2026");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionLoaded { .. })
    })
    .await;
    click(&mut app, "Rename");
    let mut ui = simulator(app.view());
    ui.click(widget::Id::new(aetheria_app::app::RENAME))
        .unwrap();
    // The click put the cursor somewhere in the old title: go to its end first.
    let _ = ui.tap_key(Key::Named(Named::End));
    let _ = ui.typewrite(" final");
    let _ = ui.tap_key(Key::Named(Named::Enter));
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionUpdated { .. })
    })
    .await;
    assert!(shows(&app, "Taxes 2026 final"), "renamed in the sidebar");

    // Arrow keys move through the sessions the sidebar shows (still filtered by "TAX"); the
    // renamed session is the newest now, so the other one is below it.
    let _ = app.update(Message::Sidebar(aetheria_app::app::sidebar::Msg::Move(-1)));
    let _ = app.update(Message::Sidebar(aetheria_app::app::sidebar::Msg::Move(1)));
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::SessionLoaded { session, .. } if session.title == "Tax receipts"),
    )
    .await;
    let _ = app.update(Message::Sidebar(aetheria_app::app::sidebar::Msg::Move(-1)));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionLoaded { session, .. } if session.title == "Taxes 2026 final")
    })
    .await;

    // A code block in an answer has a Copy button that copies its code.
    type_and_send(&mut app, "show code");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(shows(&app, "RUST"));
    let mut ui = simulator(app.view());
    ui.click("Copy").unwrap();
    let copied: Vec<Message> = ui.into_messages().collect();
    assert!(
        copied
            .iter()
            .any(|m| matches!(m, Message::Conversation(aetheria_app::app::conversation::Msg::Copy(code)) if code == "fn answer() -> u8 {\n    42\n}")),
        "{copied:?}"
    );

    // Delete asks first; "Keep it" keeps it, "Delete for good" deletes it.
    click(&mut app, "Delete");
    assert!(shows(&app, "DELETE THIS SESSION?"));
    click(&mut app, "Keep it");
    assert!(!shows(&app, "DELETE THIS SESSION?"));
    click(&mut app, "Delete");
    click(&mut app, "Delete for good");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionDeleted { .. })
    })
    .await;
    assert!(!shows(&app, "Taxes 2026 final"));
    assert!(shows(&app, "Tax receipts"));
}

#[tokio::test]
async fn attachments_show_as_chips_and_go_with_the_message() {
    let server = ScriptedServer::start(vec![Reply::text(&["Read it."])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "attached words").unwrap();
    let other = dir.path().join("other.txt");
    std::fs::write(&other, "not sent").unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    ready(&mut app, handle, Some("loopback · test-model"));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionList { .. })
    })
    .await;

    // Dropping files onto the window attaches them (the drop arrives as this message).
    let _ = app.update(Message::Composer(
        aetheria_app::app::composer::Msg::Attached(vec![file.clone(), other.clone()]),
    ));
    assert!(shows(&app, "notes.txt") && shows(&app, "other.txt"));
    let mut ui = simulator(app.view());
    let _ = ui.click("×").unwrap(); // the first chip's remove button
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
    assert!(!shows(&app, "notes.txt"), "the first chip was removed");
    let _ = app.update(Message::Composer(aetheria_app::app::composer::Msg::Detach(
        0,
    )));
    let _ = app.update(Message::Composer(
        aetheria_app::app::composer::Msg::Attached(vec![file, dir.path().to_path_buf()]),
    ));
    assert!(shows(&app, "notes.txt"));
    assert!(
        !shows(&app, "other.txt"),
        "folders are refused with a notice"
    );

    type_and_send(&mut app, "summarise this");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(shows(&app, "summarise this\n[attached: notes.txt]"));
    let sent = server.requests()[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sent.contains("attached words"), "{sent}");
    assert!(!sent.contains("not sent"), "{sent}");
}

/// Replaces a text field's content the way a person does: click, go to the end, erase, type.
pub(super) fn retype(app: &mut App, id: &'static str, old_len: usize, new: &str) {
    let mut ui = simulator(app.view());
    ui.click(widget::Id::new(id)).unwrap();
    let _ = ui.tap_key(Key::Named(Named::End));
    for _ in 0..old_len {
        let _ = ui.tap_key(Key::Named(Named::Backspace));
    }
    let _ = ui.typewrite(new);
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
}

#[tokio::test]
async fn the_last_session_theme_and_size_come_back_on_start() {
    use aetheria_app::app::window_state::WindowState;
    let server = ScriptedServer::start(vec![Reply::text(&["Remembered answer."])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let state_dir = dir.path().join("state");

    // First run: chat, switch to God Mode, resize.
    let mut app = App::with_state(WindowState::default(), Some(state_dir.clone()));
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle: handle.clone(),
        provider: Some("loopback · test-model".into()),
        workspace: vec![],
    }));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionList { .. })
    })
    .await;
    type_and_send(&mut app, "remember this");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    let _ = app.update(Message::Do(Action::ToggleTheme));
    let _ = app.update(Message::Window(Window::Resized(iced::Size::new(
        1000.0, 700.0,
    ))));
    let saved = WindowState::load(&state_dir);
    assert!(saved.dark);
    assert_eq!((saved.width, saved.height), (1000.0, 700.0));
    assert!(saved.last_session.is_some());

    // Next start: the session is open again.
    let mut app = App::with_state(saved, Some(state_dir));
    assert_eq!(
        app.theme(),
        aetheria_app::theme::Palette::of(aetheria_app::theme::Mode::GodMode)
            .theme(aetheria_app::theme::Mode::GodMode)
    );
    ready(&mut app, handle, Some("loopback · test-model"));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionLoaded { .. })
    })
    .await;
    assert!(shows(&app, "remember this"));
    assert!(shows(&app, "Remembered answer."));

    // Closing the window stops the engine; its database is closed and free for the next start.
    let _ = app.update(Message::Window(Window::CloseRequested));
    tokio::time::timeout(Duration::from_secs(60), async {
        while events.recv().await.is_some() {}
    })
    .await
    .expect("the engine stops when the window closes");
    let again = Config::new(dir.path().join("config"), dir.path().join("data"));
    // A database still held would refuse to open (or hang): the budget only bounds that hang.
    let reopened = tokio::time::timeout(Duration::from_secs(60), Engine::start(again)).await;
    assert!(
        matches!(reopened, Ok(Ok(_))),
        "the database opens again once the window has closed"
    );
}

/// The main screen, drawn headless with the bundled fonts, matches the committed hashes in both
/// themes (tests/snapshots/*.sha256; delete one to record it again after a deliberate change).
#[tokio::test]
async fn main_screen_snapshots_in_both_themes() {
    use aetheria_engine::api::{MessageRecord, Role, SessionId, SessionSummary};
    use chrono::TimeZone;
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path().join("config"), dir.path().join("data"));
    let (handle, _events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    ready(&mut app, handle, Some("demo - scripted"));
    let at = chrono::Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
    let session = SessionSummary {
        id: SessionId::from("snapshot-session"),
        title: "Summarise the notes".into(),
        created_at: at,
        updated_at: at,
    };
    let message = |role, content: &str| MessageRecord {
        created_at: at,
        ..MessageRecord::new(role, content)
    };
    app.engine_event(Event::SessionList {
        sessions: vec![session.clone()],
    });
    let _ = app.update(Message::Do(Action::OpenSession(session.id.clone())));
    app.engine_event(Event::SessionLoaded {
        session,
        messages: vec![
            message(Role::User, "Summarise the notes, please."),
            message(
                Role::Assistant,
                "## Summary\n\nThe notes list **three** things:\n\n- buy milk\n- call Ada\n- ship `v0.1`\n\n```rust\nfn main() {\n    println!(\"done\");\n}\n```\n",
            ),
        ],
        tool_calls: vec![],
    });
    let settings = iced::Settings {
        fonts: aetheria_app::theme::FONTS
            .iter()
            .map(|f| std::borrow::Cow::Borrowed(*f))
            .collect(),
        default_font: aetheria_app::theme::BODY,
        ..iced::Settings::default()
    };
    let snapshots = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");
    for (name, toggle) in [("main-light", false), ("main-dark", true)] {
        if toggle {
            let _ = app.update(Message::Do(Action::ToggleTheme));
        }
        let mut ui = iced_test::Simulator::with_settings(settings.clone(), app.view());
        let snapshot = ui.snapshot(&app.theme()).unwrap();
        assert!(
            snapshot
                .matches_hash(format!("{snapshots}/{name}"))
                .unwrap(),
            "{name} differs from tests/snapshots/{name}.sha256"
        );
    }
}

#[tokio::test]
async fn a_rate_limit_shows_the_retry_and_the_answer_still_arrives() {
    let server = ScriptedServer::start(vec![
        Reply::Error {
            status: 429,
            body: r#"{"error":{"message":"Rate limit reached"}}"#.into(),
            retry_after: Some(1),
        },
        Reply::text(&["Worth the wait."]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    ready(&mut app, handle, Some("loopback · test-model"));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionList { .. })
    })
    .await;
    type_and_send(&mut app, "hello?");
    let mut reason = String::new();
    while reason.is_empty() {
        let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .unwrap()
            .unwrap();
        if let Event::ProviderRetrying { reason: r, .. } = &event.event {
            reason.clone_from(r);
        }
        let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![event])));
    }
    assert!(
        shows(
            &app,
            &format!("{reason} — retrying in 1 s (attempt 1 of 3)")
        ),
        "the person sees the retry"
    );
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(shows(&app, "Worth the wait."));
}
