//! Model providers in the window, driven through iced_test's simulator against a real engine and
//! loopback providers: the welcome adds a provider with its key and chats with it; the composer's
//! model picker switches the provider that answers.

use aetheria_app::app::settings::providers::ProviderMsg;
use aetheria_app::app::{App, Message};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::Engine;
use aetheria_engine::api::Event;
use aetheria_engine::config::Config;
use aetheria_engine::secrets::Secrets;
use aetheria_engine::testkit::{Reply, ScriptedServer};

use super::gui::{click, loopback, pump, shows, type_and_send, welcome_on};

#[tokio::test]
async fn onboarding_adds_a_provider_with_its_key_and_chats() {
    use aetheria_app::app::settings;
    let server = ScriptedServer::start(vec![Reply::text(&["Connected."])])
        .await
        .unwrap();
    // A model server on LM Studio's usual port, which the welcome screen should find.
    let _lmstudio = ScriptedServer::start_on("127.0.0.1:1234", vec![])
        .await
        .expect("port 1234 must be free for this test");
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path().join("config"), dir.path().join("data"));
    let (mut app, mut events) = welcome_on(config).await;
    // With no provider the welcome opens by itself and looks for local servers.
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::LocalServers { .. })
    })
    .await;
    assert!(shows(&app, "WELCOME TO AETHERIA"));
    assert!(
        shows(
            &app,
            "Found lmstudio at http://127.0.0.1:1234/v1 (test-model)"
        ),
        "the local server is offered"
    );

    click(&mut app, "custom");
    // The provider's form sits below the models hub on the welcome, where the simulator cannot
    // scroll: what a person types and presses there goes as the form's messages.
    let form = |app: &mut App, msg: ProviderMsg| {
        let _ = app.update(Message::Settings(settings::Msg::Provider(msg)));
    };
    form(&mut app, ProviderMsg::Url(server.base_url()));
    form(&mut app, ProviderMsg::Model("test-model".into()));
    let keychain = !aetheria_engine::testkit::skip("keychain");
    let key = format!("sk-onboarding-{}", std::process::id());
    if keychain {
        form(&mut app, ProviderMsg::Key(key.clone()));
        assert!(!shows(&app, &key), "the key field does not show the key");
        form(&mut app, ProviderMsg::SaveKey);
        pump(&mut app, &mut events, |e| {
            matches!(e, Event::KeyStored { .. } | Event::CommandFailed { .. })
        })
        .await;
        assert!(shows(&app, "The key for custom is in the OS keychain."));
    }
    form(&mut app, ProviderMsg::Test);
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ProviderTested { .. })
    })
    .await;
    assert!(shows(&app, "Test connection"));
    // The provider's models, with what they can do; picking one fills the model field.
    form(&mut app, ProviderMsg::Model("other".into()));
    form(&mut app, ProviderMsg::ListModels);
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ModelList { .. })
    })
    .await;
    assert!(shows(&app, "test-model · 32k · tools"));
    form(&mut app, ProviderMsg::Model("test-model".into()));
    assert!(
        shows(
            &app,
            "No offline model installed. Download a small one below, or add a GGUF model from a file or a URL: it answers with no network."
        ),
        "the welcome offers an offline model"
    );
    super::gui::save_welcome(&mut app, &mut events).await;
    assert!(shows(&app, "custom · test-model"));

    type_and_send(&mut app, "hello?");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(shows(&app, "Connected."));
    let config = std::fs::read_to_string(dir.path().join("config/config.toml")).unwrap();
    assert!(
        config.contains("name = \"custom\"") && config.contains("test-model"),
        "{config}"
    );
    assert!(!config.contains(&key), "the key is not in the config");
    if keychain {
        assert_eq!(
            server.authorizations()[0].as_deref(),
            Some(format!("Bearer {key}").as_str())
        );
        let _ = Secrets::new().delete("custom");
    }
}

#[tokio::test]
async fn the_model_picker_switches_the_provider() {
    let first = ScriptedServer::start(vec![]).await.unwrap();
    let second = ScriptedServer::start(vec![Reply::text(&["second here"])])
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    for (name, server) in [("second", &second), ("first", &first)] {
        config.use_provider(loopback(name, server));
    }
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle,
        provider: Some("first · test-model".into()),
        workspace: vec![],
    }));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Settings { .. })
    })
    .await;

    // iced's pick_list draws its text itself, so selectors cannot find it: pick as it would.
    let _ = app.update(Message::Composer(
        aetheria_app::app::composer::Msg::PickModel(aetheria_app::app::ModelChoice {
            provider: "second".into(),
            label: "second · test-model".into(),
        }),
    ));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SettingsSaved { .. })
    })
    .await;
    type_and_send(&mut app, "who answers?");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(shows(&app, "second here"));
    assert_eq!(second.requests().len(), 1);
    assert!(first.requests().is_empty());
}
