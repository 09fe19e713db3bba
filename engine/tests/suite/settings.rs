//! Settings while the engine runs: read, save (validated, written, applied at once), keys to the
//! keychain, provider tests and detection of local model servers.

use aetheria_engine::api::{Command, ErrorKind, Event, ModelsCommand, SettingsCommand};
use aetheria_engine::config::{Config, ProviderConfig, Wire};
use aetheria_engine::secrets::Secrets;
use aetheria_engine::testkit::{Reply, ScriptedServer};

use super::common::{Harness, provider};

async fn settings(h: &mut Harness) -> aetheria_engine::api::Settings {
    h.handle
        .submit(Command::Settings(SettingsCommand::Get))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::Settings { .. })).await;
    let Some(Event::Settings { settings }) = events.last() else {
        unreachable!()
    };
    settings.clone()
}

#[tokio::test]
async fn saved_settings_apply_at_once_and_bad_ones_change_nothing() {
    let mut h = Harness::start(vec![Reply::text(&["from the first"])]).await;
    let second = ScriptedServer::start(vec![Reply::text(&["from the second"])])
        .await
        .unwrap();
    let mut s = settings(&mut h).await;
    assert_eq!(s.providers[0].name, "loopback");

    // A bad URL is refused and nothing changes.
    let mut bad = s.clone();
    bad.providers[0].base_url = "not a url".into();
    h.handle
        .submit(Command::Settings(SettingsCommand::Save { settings: bad }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. })
        if error.kind == ErrorKind::Invalid && error.message.contains("not a URL"))
    );
    let session = h.new_session().await;
    let events = h.turn(&session, "hi").await;
    assert!(matches!(events.last(), Some(Event::TurnFinished { .. })));

    // A new default provider and a second folder take effect for the next turn.
    let mut next = provider(&second.base_url());
    next.name = "second".into();
    s.providers.push(next);
    s.default_provider = Some("second".into());
    let extra = h.data.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    s.workspace_roots.push(extra);
    h.handle
        .submit(Command::Settings(SettingsCommand::Save {
            settings: s.clone(),
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::SettingsSaved { .. })).await;
    assert!(matches!(events.last(), Some(Event::SettingsSaved { settings }) if *settings == s));
    let events = h.turn(&session, "again").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(second.requests().len(), 1);

    // It is in config.toml, which a restart reads.
    let saved =
        Config::load_from(h.data.path().join("config"), h.data.path().join("data")).unwrap();
    assert_eq!(saved.default_provider.as_deref(), Some("second"));
    assert_eq!(saved.workspace_roots.len(), 2);

    // A folder that does not exist is refused.
    let mut missing = s;
    missing.workspace_roots.push(h.data.path().join("nope"));
    h.handle
        .submit(Command::Settings(SettingsCommand::Save {
            settings: missing,
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::CommandFailed { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.message.contains("is not a folder"))
    );
}

#[tokio::test]
async fn provider_tests_say_whether_it_answers() {
    let mut h = Harness::start(vec![]).await;
    let ok = provider(&h.server.base_url());
    h.handle
        .submit(Command::Settings(SettingsCommand::TestProvider {
            provider: ok,
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::ProviderTested { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::ProviderTested { ok: true, detail, .. }) if detail.contains("answers")),
        "{events:?}"
    );
    let down = ProviderConfig {
        base_url: "http://127.0.0.1:9/v1".into(),
        ..provider("http://127.0.0.1:9/v1")
    };
    h.handle
        .submit(Command::Settings(SettingsCommand::TestProvider {
            provider: down,
        }))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::ProviderTested { .. })).await;
    assert!(
        matches!(events.last(), Some(Event::ProviderTested { ok: false, detail, .. }) if detail.contains("cannot reach")),
        "{events:?}"
    );
}

#[tokio::test]
async fn local_servers_on_their_usual_ports_are_found() {
    // Ollama's port, served by the loopback server (it speaks the same wire).
    let ollama = ScriptedServer::start_on("127.0.0.1:11434", vec![])
        .await
        .expect("port 11434 must be free for this test");
    let mut h = Harness::start(vec![]).await;
    h.handle
        .submit(Command::Models(ModelsCommand::DetectLocalServers))
        .unwrap();
    let events = h.until(|e| matches!(e, Event::LocalServers { .. })).await;
    let Some(Event::LocalServers { found }) = events.last() else {
        unreachable!()
    };
    assert!(
        found.contains(&ProviderConfig {
            name: "ollama".into(),
            wire: Wire::Openai,
            base_url: "http://127.0.0.1:11434/v1".into(),
            model: "test-model".into(),
            key_env: None,
            key_ref: None,
            context_window: None,
            vision: None,
        }),
        "{found:?}"
    );
    drop(ollama);
}

#[tokio::test]
async fn keys_go_to_the_keychain_and_are_used_next_turn() {
    if super::common::skip("keychain") {
        return;
    }
    let account = format!("aetheria-settings-{}", std::process::id());
    let acct = account.clone();
    let mut h = Harness::start_with(vec![Reply::text(&["ok"])], move |c| {
        c.providers[0].key_ref = Some(acct);
    })
    .await;
    let key = format!("sk-settings-{}", std::process::id());
    let events = h.store_key("loopback", &key).await;
    assert!(
        matches!(events.last(), Some(Event::KeyStored { provider }) if provider == "loopback"),
        "{events:?}"
    );
    let session = h.new_session().await;
    h.turn(&session, "hi").await;
    assert_eq!(
        h.server.authorizations()[0].as_deref(),
        Some(format!("Bearer {key}").as_str())
    );
    let config =
        std::fs::read_to_string(h.data.path().join("config/config.toml")).unwrap_or_default();
    assert!(!config.contains(&key));
    let a = account.clone();
    assert!(
        tokio::task::spawn_blocking(move || Secrets::new().delete(&a))
            .await
            .unwrap()
            .unwrap()
    );
}

async fn list_models(h: &mut Harness, provider: ProviderConfig) -> Event {
    h.handle
        .submit(Command::Models(ModelsCommand::List { provider }))
        .unwrap();
    h.until(|e| matches!(e, Event::ModelList { .. } | Event::CommandFailed { .. }))
        .await
        .pop()
        .unwrap()
}

#[tokio::test]
async fn models_are_listed_per_wire_following_pages_with_capabilities() {
    let mut h = Harness::start(vec![]).await;
    let base = h.server.base_url();
    // OpenAI-compatible: `data[].id`, capabilities from the family table.
    let Event::ModelList {
        provider: name,
        models,
    } = list_models(&mut h, provider(&base)).await
    else {
        panic!("no list")
    };
    assert_eq!(name, "loopback");
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].id, "test-model");
    assert_eq!(models[0].context_window, 32_768);

    // Anthropic: two pages joined (`has_more`, `after_id`), the key in x-api-key.
    // Any key will do; the loopback server tells the wires apart by their key headers. Cargo sets
    // CARGO_PKG_NAME for every test run.
    let mut anthropic = provider(&base);
    anthropic.wire = Wire::Anthropic;
    anthropic.key_env = Some("CARGO_PKG_NAME".into());
    let event = list_models(&mut h, anthropic).await;
    let Event::ModelList { models, .. } = event else {
        panic!("{event:?}")
    };
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["claude-haiku-4-5", "claude-sonnet-4-5"]);
    assert!(
        models
            .iter()
            .all(|m| m.vision && m.tools && m.context_window == 200_000)
    );
    assert_eq!(models[1].display_name, "Claude Sonnet 4.5");

    // Gemini: pages by `nextPageToken`; embedding models are left out; the window is the API's.
    let mut gemini = provider(&base);
    gemini.wire = Wire::Gemini;
    gemini.key_env = Some("CARGO_PKG_NAME".into());
    let event = list_models(&mut h, gemini).await;
    let Event::ModelList { models, .. } = event else {
        panic!("{event:?}")
    };
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0].id, "gemini-2.5-flash");
    assert_eq!(models[0].context_window, 1_048_576);

    // A server that is not there: a clear error.
    let event = list_models(&mut h, provider("http://127.0.0.1:9/v1")).await;
    let Event::CommandFailed { error, .. } = event else {
        panic!("{event:?}")
    };
    assert_eq!(error.kind, ErrorKind::Unavailable);
    assert!(error.message.contains("cannot reach"), "{}", error.message);
}
