//! Dictation in the window with the real engine and the real tiny.en model: the push-to-talk key
//! held over the composer records (a WAV played at speaking pace stands in for the microphone),
//! the meter shows, and the words land in the composer — or are sent at once when auto-send is
//! on. Without a microphone the mic button is off and says why.

use std::time::Duration;

use aetheria_app::app::voice::Msg;
use aetheria_app::app::{App, COMPOSER, Message};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::api::{Event, VoiceEvent};
use aetheria_engine::config::Config;
use aetheria_engine::testkit::voice::{model, speech, words};
use aetheria_engine::testkit::{Reply, ScriptedServer};
use aetheria_engine::{Engine, Events};
use iced::keyboard::{self, Key, Modifiers, key::Named};
use iced::widget;
use iced_test::simulator;

use super::gui::{loopback, pump, shows};

const SPOKEN: &str = "Open the Read Me file and summarize it.";

async fn window(
    setup: impl FnOnce(&mut Config),
) -> (App, Events, ScriptedServer, tempfile::TempDir) {
    let server = ScriptedServer::start(vec![Reply::text(&["On it."])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    config.voice.model = model::path().display().to_string();
    config.voice.threads = Some(1);
    config.voice.cues = false;
    setup(&mut config);
    config.save().unwrap();
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle,
        provider: Some("loopback · test-model".into()),
        workspace: vec![],
    }));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Voice(VoiceEvent::Status(_)))
    })
    .await;
    (app, events, server, dir)
}

/// Ctrl+Space going down or up, as winit reports it.
fn ctrl_space(down: bool) -> keyboard::Event {
    let space = Key::Named(Named::Space);
    if down {
        keyboard::Event::KeyPressed {
            key: space.clone(),
            modified_key: space,
            physical_key: keyboard::key::Physical::Unidentified(
                keyboard::key::NativeCode::Unidentified,
            ),
            location: keyboard::Location::Standard,
            modifiers: Modifiers::CTRL,
            text: Some(" ".into()),
            repeat: false,
        }
    } else {
        keyboard::Event::KeyReleased {
            key: space.clone(),
            modified_key: space,
            physical_key: keyboard::key::Physical::Unidentified(
                keyboard::key::NativeCode::Unidentified,
            ),
            location: keyboard::Location::Standard,
            modifiers: Modifiers::empty(),
        }
    }
}

/// The window's key events for the push-to-talk key, as the window subscription maps them.
fn key(app: &mut App, down: bool) {
    let event = ctrl_space(down);
    let held = app
        .dictation
        .hotkey
        .react(&event)
        .expect("the default key is Ctrl+Space");
    let _ = app.update(Message::Voice(Msg::Hold(held)));
}

/// Feeds engine events for a while (the recording runs in real time); the loudest level shown.
async fn pump_for(app: &mut App, events: &mut Events, time: Duration) -> f32 {
    let end = tokio::time::Instant::now() + time;
    let mut loudest = 0.0f32;
    while let Ok(Some(event)) = tokio::time::timeout_at(end, events.recv()).await {
        let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![event])));
        loudest = loudest.max(app.dictation.level);
    }
    loudest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_the_key_puts_the_words_in_the_composer() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech(dir.path(), "spoken", SPOKEN, 48_000, 1);
    let input = format!("wav:{}", wav.display());
    let (mut app, mut events, server, _data) = window(|c| c.voice.input_device = Some(input)).await;
    assert_eq!(app.dictation.unavailable(), None);

    // Something typed first; Ctrl+Space in the composer types no space: it belongs to dictation.
    let mut ui = simulator(app.view());
    ui.click(widget::Id::new(COMPOSER)).unwrap();
    let _ = ui.typewrite("Please:");
    let _ = ui.simulate([
        iced::Event::Keyboard(keyboard::Event::ModifiersChanged(Modifiers::CTRL)),
        iced::Event::Keyboard(ctrl_space(true)),
    ]);
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
    assert_eq!(app.composer_text(), "Please:");

    key(&mut app, true);
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Voice(VoiceEvent::Started { .. }))
    })
    .await;
    assert!(shows(&app, "Listening — speak now"));
    assert!(shows(&app, "● Stop"));
    let loudest = pump_for(&mut app, &mut events, Duration::from_millis(3200)).await;
    assert!(loudest > 0.5, "the meter never moved: {loudest}");
    key(&mut app, false);
    assert!(shows(&app, "Transcribing on this computer…"));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Voice(VoiceEvent::Transcribed(_)))
    })
    .await;
    let text = app.composer_text();
    assert!(text.starts_with("Please: "), "{text:?}");
    assert_eq!(
        words(text.trim_start_matches("Please:")),
        words(SPOKEN),
        "{text:?}"
    );
    assert!(!shows(&app, "Listening — speak now"));
    // Not sent: the person reads it over first.
    assert!(server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_send_sends_what_was_said() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech(dir.path(), "spoken", SPOKEN, 16_000, 1);
    let input = format!("wav:{}", wav.display());
    let (mut app, mut events, server, _data) = window(|c| {
        c.voice.input_device = Some(input);
        c.voice.auto_send = true;
    })
    .await;
    let _ = app.update(Message::Voice(Msg::Toggle));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Voice(VoiceEvent::Started { .. }))
    })
    .await;
    let _ = pump_for(&mut app, &mut events, Duration::from_millis(3000)).await;
    // The mic button stops it too.
    let _ = app.update(Message::Voice(Msg::Toggle));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    let sent = server.requests();
    let said = sent[0]["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(words(&said), words(SPOKEN), "{said}");
    assert_eq!(app.composer_text(), "");
    assert!(shows(&app, "On it."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_microphone_the_mic_button_says_why() {
    let (mut app, mut events, _server, _data) =
        window(|c| c.voice.input_device = Some("Desk Microphone".into())).await;
    let why = app
        .dictation
        .unavailable()
        .expect("no such microphone here");
    assert!(
        why.contains("Desk Microphone") && why.contains("not connected"),
        "{why}"
    );
    // The button is off: clicking it does nothing.
    let mut ui = simulator(app.view());
    ui.click("Mic").unwrap();
    assert!(ui.into_messages().next().is_none());
    // The key says why instead of recording.
    key(&mut app, true);
    assert!(shows(&app, &why), "{why}");
    key(&mut app, false);
    let _ = pump_for(&mut app, &mut events, Duration::from_millis(300)).await;
    assert!(!app.dictation.recording && !app.dictation.transcribing);
}
