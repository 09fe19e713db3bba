//! Finding things again in the window: the sidebar's search box also searches every message
//! (hits open their session), and the settings list the long-term memories to edit or delete.

use aetheria_app::app::memories::MemoryMsg;
use aetheria_app::app::settings::Msg;
use aetheria_app::app::{Action, App, Message, SEARCH};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::Engine;
use aetheria_engine::api::Event;
use aetheria_engine::config::Config;
use aetheria_engine::testkit::{Reply, ScriptedServer};
use iced::widget;
use iced_test::simulator;

use super::gui::{click, loopback, pump, pump_until_shown, shows, type_and_send};

#[tokio::test]
async fn the_search_box_finds_messages_and_settings_edit_memories() {
    let remember = serde_json::json!({"text": "The person keeps bees on the roof."}).to_string();
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(&[("r1", "remember", &remember)], 4),
        Reply::text(&["Lisbon has seven hills and a lot of trams."]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    config
        .tools
        .policy
        .insert("remember".into(), aetheria_engine::api::Policy::Allow);
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle,
        provider: Some("loopback · test-model".into()),
        workspace: vec![],
    }));
    type_and_send(&mut app, "Tell me about Lisbon");
    let memory = super::gui::pump_for(&mut app, &mut events, |e| match e {
        Event::MemoryUpdated { memory } => Some(memory.id.clone()),
        _ => None,
    })
    .await;
    pump_until_shown(
        &mut app,
        &mut events,
        "Lisbon has seven hills and a lot of trams.",
    )
    .await;
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionUpdated { .. })
    })
    .await;
    let _ = app.update(Message::Do(Action::NewChat));

    // Typing searches titles and every message.
    let mut ui = simulator(app.view());
    ui.click(widget::Id::new(SEARCH)).unwrap();
    let _ = ui.typewrite("trams");
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
    pump_until_shown(&mut app, &mut events, "IN MESSAGES").await;
    assert!(shows(&app, "Lisbon has seven hills and a lot of «trams»."));
    click(&mut app, "Lisbon has seven hills and a lot of «trams».");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SessionLoaded { .. })
    })
    .await;
    assert!(shows(&app, "Tell me about Lisbon"));
    // The hit is marked where it is in the conversation (scrolled into view).
    assert!(shows(&app, "FOUND"));
    let _ = app.update(Message::Do(Action::NewChat));
    assert!(!shows(&app, "FOUND"));

    // The settings list what `remember` kept; edit it in place, then delete it.
    let _ = app.update(Message::Do(Action::OpenSettings));
    let _ = app.update(Message::Settings(aetheria_app::app::settings::Msg::Page(
        aetheria_app::app::settings::Page::Memory,
    )));
    pump_until_shown(&mut app, &mut events, "The person keeps bees on the roof.").await;
    // The section sits below the fold of the settings panel: its buttons' messages are sent as
    // a click would send them; the text is typed into the real input.
    let _ = app.update(Message::Settings(Msg::Memory(MemoryMsg::Edit(
        memory.clone(),
    ))));
    let _ = app.update(Message::Settings(Msg::Memory(MemoryMsg::Text(
        "The person keeps bees on the roof (two hives).".into(),
    ))));
    let _ = app.update(Message::Settings(Msg::Memory(MemoryMsg::Save)));
    pump_until_shown(
        &mut app,
        &mut events,
        "The person keeps bees on the roof (two hives).",
    )
    .await;
    let _ = app.update(Message::Settings(Msg::Memory(MemoryMsg::Delete(memory))));
    pump_until_shown(
        &mut app,
        &mut events,
        "Nothing yet. Ask Aetheria to remember something, and it shows up here.",
    )
    .await;
}

/// The Jobs tab lists background jobs as the engine runs them; Cancel stops a running one.
#[tokio::test]
async fn the_jobs_tab_follows_jobs_and_cancels_one() {
    use aetheria_engine::jobs::{JobKind, JobSpec};
    let server = ScriptedServer::start(vec![]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let engine = handle.clone();
    let mut app = App::new();
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle,
        provider: Some("loopback · test-model".into()),
        workspace: vec![],
    }));
    click(&mut app, "JOBS");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::JobList { .. })
    })
    .await;
    assert!(shows(
        &app,
        "No background jobs: type a message, press Background."
    ));

    let quick = JobSpec::new(JobKind::Wait {
        millis: 200,
        fail_first: 0,
    });
    engine
        .submit(aetheria_engine::api::Command::Jobs(
            aetheria_engine::api::JobsCommand::Submit { job: quick },
        ))
        .unwrap();
    pump_until_shown(&mut app, &mut events, "waited 200 ms").await;
    assert!(shows(&app, "DONE"));

    let long = JobSpec::new(JobKind::Wait {
        millis: 60_000,
        fail_first: 0,
    });
    engine
        .submit(aetheria_engine::api::Command::Jobs(
            aetheria_engine::api::JobsCommand::Submit { job: long },
        ))
        .unwrap();
    pump_until_shown(&mut app, &mut events, "RUNNING").await;
    click(&mut app, "Cancel");
    pump_until_shown(&mut app, &mut events, "CANCELLED").await;
}
