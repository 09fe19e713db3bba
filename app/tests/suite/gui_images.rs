//! Images in the conversation: a picture the person attaches shows as a thumbnail in their message
//! (from the file they picked, then from the engine's kept copy when the session is opened again),
//! opens over the window and closes with Esc; a stored message naming a file outside the kept
//! images, or a kept file that is no image, shows none and crashes nothing.

use aetheria_app::app::{Action, App, Message};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::api::{Envelope, Event, MessageRecord, Role, SessionId, SessionSummary};
use aetheria_engine::config::Config;
use aetheria_engine::testkit::{Reply, ScriptedServer};

use super::gui::{click, pump, shows, type_and_send};

/// A real 2×2 PNG, red.
pub(super) fn png() -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::RgbaImage::from_pixel(2, 2, image::Rgba([255, 0, 0, 255]))
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    bytes.into_inner()
}

/// A window whose model takes images and answers "A red dot.", right after the person sent
/// `prompt` with a picture (`dot.png`) attached.
pub(super) struct Pictured {
    pub app: App,
    pub events: aetheria_engine::Events,
    /// The engine's data folder.
    pub data: std::path::PathBuf,
    pub dir: tempfile::TempDir,
    /// Bound for as long as the test runs (the engine's model and folders go with them).
    pub server: ScriptedServer,
}

/// A window whose model takes images and answers `answer`, its data folder known to it.
async fn seeing(answer: &str) -> Pictured {
    let server = ScriptedServer::start(vec![Reply::text(&[answer])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = Config::new(dir.path().join("config"), data.clone());
    let mut provider = super::gui::loopback("loopback", &server);
    provider.vision = Some(true);
    config.use_provider(provider);
    let (mut app, events) = super::gui::window_on(config).await;
    app.use_data_dir(data.clone());
    Pictured {
        app,
        events,
        data,
        dir,
        server,
    }
}

pub(super) async fn sent_with_a_picture(prompt: &str) -> Pictured {
    let mut pictured = seeing("A red dot.").await;
    let picture = pictured.dir.path().join("dot.png");
    std::fs::write(&picture, png()).unwrap();
    let _ = pictured.app.update(Message::Composer(
        aetheria_app::app::composer::Msg::Attached(vec![picture]),
    ));
    type_and_send(&mut pictured.app, prompt);
    pictured
}

#[tokio::test]
async fn an_attached_image_shows_in_the_message_and_opens_over_the_window() {
    let Pictured {
        mut app,
        mut events,
        data,
        dir: _dir,
        server: _server,
    } = sent_with_a_picture("What is this?").await;
    // At once, from the file picked: a thumbnail, not a line saying an image is attached.
    assert!(shows(&app, "image 1"));
    assert!(!shows(&app, "[attached: dot.png]"));
    let session = pump_to_end(&mut app, &mut events).await;

    click(&mut app, "image 1");
    assert!(shows(&app, "Close image"));
    assert!(shows(&app, "dot.png"), "the picked file's name under it");
    let _ = app.update(Message::Do(Action::Escape));
    assert!(!shows(&app, "Close image"));

    // Opened again, the message's image is the engine's kept copy.
    let _ = app.update(Message::Do(Action::NewChat));
    assert!(!shows(&app, "image 1"));
    let _ = app.update(Message::Do(Action::OpenSession(session)));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionLoaded { .. })
    })
    .await;
    assert!(shows(&app, "image 1"));
    click(&mut app, "image 1");
    let kept = std::fs::read_dir(data.join("attachments"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    assert!(
        shows(&app, &kept.to_string_lossy()),
        "the kept copy is what opens"
    );
    click(&mut app, "Close image");
    assert!(!shows(&app, "Close image"));
}

/// Feeds the app events until the turn ends; the session it ran in.
async fn pump_to_end(app: &mut App, events: &mut aetheria_engine::Events) -> SessionId {
    super::gui::pump_for(app, events, |e| match e {
        Event::TurnFinished { session, .. } => Some(session.clone()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_stored_message_naming_a_host_file_shows_no_image() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("attachments")).unwrap();
    let secret = dir.path().join("secret.png");
    std::fs::write(&secret, png()).unwrap();
    // And a kept file that only starts like a PNG: said, never handed to the renderer.
    let corrupt = format!("{}.png", SessionId::new());
    std::fs::write(
        data.join("attachments").join(&corrupt),
        b"\x89PNG\r\n\x1a\ngarbage",
    )
    .unwrap();
    let config = Config::new(dir.path().join("config"), data.clone());
    let (mut app, _events) = super::gui::window_on(config).await;
    app.use_data_dir(data);
    let session = SessionId::new();
    let _ = app.update(Message::Do(Action::OpenSession(session.clone())));
    // What a shared database could hand the window: a message whose image is a host file.
    let forged = MessageRecord {
        images: vec![secret.clone(), "../../secret.png".into(), corrupt.into()],
        ..MessageRecord::new(Role::User, "look")
    };
    let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![Envelope {
        submission: None,
        event: Event::SessionLoaded {
            session: SessionSummary {
                id: session,
                title: "forged".into(),
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            },
            messages: vec![forged],
            tool_calls: Vec::new(),
        },
    }])));
    assert!(shows(
        &app,
        "look\n[attached: an image]\n[attached: an image]\n[attached: an image]"
    ));
    assert!(!shows(&app, "image 1"));
}

/// A picture an MCP tool draws shows on its card in the chat (the real notes server's PNG, kept by
/// the engine), opens over the window, and is there again when the conversation is reopened.
#[tokio::test]
async fn a_tool_s_picture_shows_on_its_card() {
    use aetheria_engine::api::Policy;

    let Some((python, script)) = super::gui_mcp::notes_server() else {
        return;
    };
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(&[("p1", "notes__picture", "{\"kind\": \"plain\"}")], 9),
        Reply::text(&["Here is an orange square."]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = Config::new(dir.path().join("config"), data.clone());
    config.use_provider(super::gui::loopback("loopback", &server));
    config.mcp.insert(
        "notes".into(),
        aetheria_engine::config::McpServerConfig {
            command: Some(python.to_string_lossy().into_owned()),
            args: vec![script.into(), "stdio".into()],
            env: Default::default(),
            url: None,
            token_ref: None,
            enabled: true,
        },
    );
    config
        .tools
        .policy
        .insert("notes__picture".into(), Policy::Allow);
    let (mut app, mut events) = super::gui::window_on(config).await;
    app.use_data_dir(data.clone());
    type_and_send(&mut app, "Draw me something");
    let session = pump_to_end(&mut app, &mut events).await;
    assert!(shows(&app, "TOOL · notes__picture"));
    assert!(shows(&app, "image 1"), "the tool's picture is on its card");
    click(&mut app, "image 1");
    let kept = std::fs::read_dir(data.join("attachments"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    assert!(shows(&app, &kept.to_string_lossy()), "the kept copy opens");
    let _ = app.update(Message::Do(Action::Escape));

    let _ = app.update(Message::Do(Action::NewChat));
    assert!(!shows(&app, "image 1"));
    let _ = app.update(Message::Do(Action::OpenSession(session)));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionLoaded { .. })
    })
    .await;
    assert!(shows(&app, "image 1"));
}

/// Ctrl+V in the composer with the real X clipboard (Xvfb): an image copied anywhere is attached
/// (saved as a PNG) and sent to the model; copied files are attached; text is typed in.
#[tokio::test]
async fn the_clipboard_s_image_files_and_text_are_pasted() {
    if std::env::var_os("DISPLAY").is_none() {
        assert!(
            aetheria_engine::testkit::skip("display"),
            "DISPLAY is not set: run installer/dev.sh test, which starts Xvfb (AETHERIA_SKIP=display to skip)"
        );
        return;
    }
    let Pictured {
        mut app,
        mut events,
        data,
        dir,
        server,
    } = seeing("A green square.").await;
    // Another program copies an image (it owns the clipboard while it lives).
    let mut other = arboard::Clipboard::new().expect("the X clipboard");
    other
        .set_image(arboard::ImageData {
            width: 2,
            height: 2,
            bytes: [0u8, 200, 0, 255].repeat(4).into(),
        })
        .unwrap();
    let task = app.update(Message::Composer(aetheria_app::app::composer::Msg::Paste));
    super::gui::run_task(&mut app, task).await;
    let pasted: Vec<_> = std::fs::read_dir(data.join("pasted"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(pasted.len(), 1, "{pasted:?}");
    let name = pasted[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("pasted-") && name.ends_with(".png"),
        "{name}"
    );
    assert!(shows(&app, &name), "its chip is in the composer");
    type_and_send(&mut app, "What colour?");
    pump_to_end(&mut app, &mut events).await;
    // The model got the image, as the PNG of those pixels.
    let request = &server.requests()[0];
    assert!(
        request.to_string().contains("data:image/png;base64,"),
        "{request}"
    );
    assert!(shows(&app, "image 1"));

    // Copied files are attached as they are.
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "milk, eggs").unwrap();
    other.set().file_list(&[&notes]).unwrap();
    let task = app.update(Message::Composer(aetheria_app::app::composer::Msg::Paste));
    super::gui::run_task(&mut app, task).await;
    assert!(shows(&app, "notes.txt"));

    // Text is typed in.
    other.set_text("pasted words").unwrap();
    let task = app.update(Message::Composer(aetheria_app::app::composer::Msg::Paste));
    super::gui::run_task(&mut app, task).await;
    assert!(
        app.composer_text().contains("pasted words"),
        "{}",
        app.composer_text()
    );
}
