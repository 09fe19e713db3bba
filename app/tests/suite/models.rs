//! `aetheria models` and the offline default through the real binary: the real SmolLM2 GGUF is
//! downloaded from a loopback HTTP server, checked, installed, and answers `ask` with no provider.

use super::common::{Env, stderr, stdout};

use aetheria_engine::testkit::mirror::Mirror;
use aetheria_engine::testkit::test_model::{
    FILE as MODEL_FILE, SHA256 as MODEL_SHA256, path as model_file,
};

/// A loopback mirror serving the real model under its file name (`testkit::mirror`).
pub(super) async fn serve_model() -> String {
    serve(false).await
}

/// As `serve_model`; with `stall`, the model's first 8 MiB come and then nothing more.
async fn serve(stall: bool) -> String {
    let mode = if stall { Mirror::Stalls } else { Mirror::Real };
    aetheria_engine::testkit::mirror::start(mode).await.unwrap()
}

#[tokio::test]
async fn models_are_downloaded_checked_and_answer_offline() {
    let base = serve_model().await;
    let env = Env::new("http://127.0.0.1:9/v1");
    // No provider at all: only a workspace and one generation thread.
    env.write_config(&format!(
        "workspace_roots = [{:?}]\n\n[local]\nthreads = 1\nmax_tokens = 64\n",
        env.workspace
    ));

    let out = env.run(&["ask", "hello"]).await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("aetheria models add"),
        "the error does not say how to get a model: {}",
        stderr(&out)
    );

    let missing = format!("{base}/nothing.gguf");
    let out = env.run(&["models", "add", &missing]).await;
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));

    let url = format!("{base}/{MODEL_FILE}");
    let out = env
        .run(&[
            "models",
            "add",
            &url,
            "--name",
            "smol",
            "--sha256",
            MODEL_SHA256,
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("installed smol"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("fetching:"),
        "no progress: {}",
        stderr(&out)
    );

    let out = env.run(&["models", "list", "--json"]).await;
    let models: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(models[0]["name"], "smol");
    assert_eq!(models[0]["source"], url.as_str());
    assert_eq!(models[0]["sha256"], MODEL_SHA256);

    let out = env
        .run(&[
            "ask",
            "What is the capital of France? Answer in one sentence.",
        ])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Paris"), "{}", stdout(&out));

    let out = env.run(&["doctor"]).await;
    assert!(
        stdout(&out).contains("[ok  ] provider local"),
        "{}",
        stdout(&out)
    );

    let out = env.run(&["models", "rm", "smol"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = env.run(&["models", "list"]).await;
    assert!(stdout(&out).contains("no local models"), "{}", stdout(&out));
}

#[tokio::test]
async fn the_welcome_adds_an_offline_model_with_progress_and_uses_it() {
    use super::gui::{click, pump, retype, shows};
    use aetheria_app::app::models_hub::SOURCE;
    use aetheria_engine::api::Event;

    let base = serve_model().await;
    let dir = tempfile::tempdir().unwrap();
    let config =
        aetheria_engine::config::Config::new(dir.path().join("config"), dir.path().join("data"));
    let (mut app, mut events) = super::gui::welcome_on(config).await;
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::LocalModels { .. })
    })
    .await;
    assert!(shows(&app, "WELCOME TO AETHERIA"));
    assert!(shows(
        &app,
        "No offline model installed. Download a small one below, or add a GGUF model from a file or a URL: it answers with no network."
    ));

    // A file that is not a model: refused beside the field (not atop the screen), nothing kept.
    let bogus = dir.path().join("bogus.gguf");
    std::fs::write(&bogus, b"not a model at all").unwrap();
    let bogus = bogus.display().to_string();
    retype(&mut app, SOURCE, 0, &bogus);
    click(&mut app, "Add model");
    let said = std::cell::RefCell::new(String::new());
    pump(&mut app, &mut events, |e| match e {
        Event::CommandFailed { error, .. } => {
            said.replace(error.message.clone());
            true
        }
        Event::LocalModelAdded { .. } => panic!("a bogus file was installed"),
        _ => false,
    })
    .await;
    let said = said.into_inner();
    assert!(shows(&app, &said), "the refusal is not shown: {said}");
    assert!(
        shows(
            &app,
            "No offline model installed. Download a small one below, or add a GGUF model from a file or a URL: it answers with no network."
        ),
        "nothing was installed"
    );

    // The real model from a URL: its progress, then it is listed and can be used.
    let url = format!("{base}/{MODEL_FILE}");
    retype(&mut app, SOURCE, bogus.chars().count(), &url);
    click(&mut app, "Add model");
    let (done, total) = super::gui::pump_for(&mut app, &mut events, |e| match e {
        Event::LocalModelProgress {
            done,
            total: Some(total),
            ..
        } if *done > 0 => Some((*done, *total)),
        Event::LocalModelAdded { .. } => panic!("no progress came before the model"),
        _ => None,
    })
    .await;
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20));
    assert!(
        shows(
            &app,
            &format!("Adding {url}: {} of {}", mib(done), mib(total))
        ),
        "the progress is shown"
    );
    let model = super::gui::pump_for(&mut app, &mut events, |e| match e {
        Event::LocalModelAdded { model } => Some(model.clone()),
        _ => None,
    })
    .await;
    assert_eq!(model.sha256, MODEL_SHA256);
    let row = format!(
        "Offline model {} ({}, {} MiB, runs on this computer)",
        model.name,
        model.quantization,
        model.size_bytes >> 20
    );
    assert!(shows(&app, &row), "the installed model is listed");
    click(&mut app, "Use this model");
    super::gui::save_welcome(&mut app, &mut events).await;
    assert!(shows(&app, &format!("local · {}", model.name)));
}

/// The window's models hub: the catalogue downloads from a loopback mirror (the real file, pinned
/// by the catalogue's sum) with progress and Cancel, the model becomes the one that answers
/// offline, and Remove asks once more before it removes.
#[tokio::test]
async fn the_hub_downloads_from_the_catalogue_stops_chooses_and_removes() {
    use super::gui::{click, pump, pump_until_shown, retype, shows};
    use aetheria_engine::api::{ErrorKind, Event};

    let start = |mirror: String| async move {
        let dir = tempfile::tempdir().unwrap();
        let mut config = aetheria_engine::config::Config::new(
            dir.path().join("config"),
            dir.path().join("data"),
        );
        config.local.mirror = Some(mirror);
        let (mut app, mut events) = super::gui::welcome_on(config).await;
        pump(&mut app, &mut events, |e| {
            matches!(e, Event::ModelCatalog { .. })
        })
        .await;
        (app, events, dir)
    };

    // A download that stalls half-way: Cancel stops it, and the hub says why it ended.
    let (mut app, mut events, dir) = start(serve(true).await).await;
    assert!(shows(
        &app,
        "MODELS ON THIS COMPUTER — ANSWER WITH NO NETWORK"
    ));
    assert!(shows(&app, "SmolLM2 135M Instruct"));
    assert!(shows(&app, "SmolLM2 · Q4_1 · 93.8 MiB · Apache-2.0"));
    assert!(shows(&app, "Llama 3.2 1B Instruct"));
    click(&mut app, "Download");
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::LocalModelProgress { done, .. } if *done > 0),
    )
    .await;
    assert!(shows(&app, "Cancel"));
    click(&mut app, "Cancel");
    let kind = std::cell::Cell::new(None);
    pump(&mut app, &mut events, |e| match e {
        Event::CommandFailed { error, .. } => {
            kind.set(Some(error.kind));
            true
        }
        _ => false,
    })
    .await;
    assert_eq!(kind.get(), Some(ErrorKind::Cancelled));
    assert!(shows(
        &app,
        "the install of \"smollm2-135m-instruct\" was stopped; nothing was kept"
    ));
    assert!(!shows(&app, "Cancel"), "nothing is under way");
    let models = dir.path().join("data").join("models");
    assert_eq!(
        std::fs::read_dir(&models).unwrap().count(),
        0,
        "nothing kept"
    );
    drop((app, events));

    // The real download: it is installed, answers offline, then is removed on the second press.
    let (mut app, mut events, _dir) = start(serve_model().await).await;
    click(&mut app, "Download");
    let model = super::gui::pump_for(&mut app, &mut events, |e| match e {
        Event::LocalModelAdded { model } => Some(model.clone()),
        _ => None,
    })
    .await;
    assert_eq!(model.converted_from.as_deref(), Some("Q4_1"));
    assert!(shows(&app, "Installed"));
    assert!(
        shows(&app, "ANSWERS OFFLINE"),
        "the only model answers offline"
    );
    let row = "Offline model smollm2-135m-instruct (Q8_0, 138 MiB, runs on this computer)";
    assert!(shows(&app, row), "the installed model is listed");
    let details = format!(
        "{} · llama (converted from Q4_1) · {}-token window",
        model.display_name, model.context_length
    );
    assert!(shows(&app, &details), "{details}");

    // A second model, from a file: the engine says which one answers offline now (the first by
    // name), and Make default moves it back.
    let file = model_file().display().to_string();
    retype(&mut app, aetheria_app::app::models_hub::SOURCE, 0, &file);
    click(&mut app, "Add model");
    let listed = |e: &Event| match e {
        Event::LocalModels { models, default } if models.len() == 2 => Some(default.clone()),
        _ => None,
    };
    let default = super::gui::pump_for(&mut app, &mut events, listed).await;
    assert_eq!(default.as_deref(), Some("SmolLM2-135M-Instruct.Q4_1"));
    click(&mut app, "Make default");
    let default = super::gui::pump_for(&mut app, &mut events, listed).await;
    assert_eq!(default.as_deref(), Some("smollm2-135m-instruct"));
    assert!(
        shows(&app, "Make default"),
        "the other one can be chosen now"
    );
    // Remove asks once more; the first row is the file's model.
    click(&mut app, "Remove");
    assert!(shows(&app, "Really remove?"), "one press only asks");
    click(&mut app, "Really remove?");
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::LocalModels { models, .. } if models.len() == 1),
    )
    .await;
    assert!(shows(&app, "ANSWERS OFFLINE"));
    assert!(!shows(&app, "Make default"));
    click(&mut app, "Remove");
    assert!(shows(&app, row), "one press only asks");
    click(&mut app, "Really remove?");
    pump_until_shown(
        &mut app,
        &mut events,
        "No offline model installed. Download a small one below, or add a GGUF model from a file or a URL: it answers with no network.",
    )
    .await;
    assert!(!shows(&app, "Installed"));
}
