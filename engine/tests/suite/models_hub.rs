//! The models hub's engine side, against a real loopback mirror serving the real SmolLM2 file: a
//! catalogue model is downloaded and checked against the catalogue's pinned sha256, chosen as the
//! offline default and removed; a download is stopped half-way and leaves nothing; a mirror that
//! swaps the file, a download larger than the disk and a name not in the catalogue are refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aetheria_engine::api::{Command, ErrorKind, Event, ModelsCommand, SubmissionId};
use aetheria_engine::config::Config;
use aetheria_engine::{Engine, Events, Handle};

use aetheria_engine::testkit::mirror::Mirror;
use aetheria_engine::testkit::test_model::{FILE, SHA256, path as model_file};

/// The catalogue's name for the test model (the same file, pinned by the same sum).
const CATALOGUED: &str = "smollm2-135m-instruct";

/// A loopback mirror answering as `mode` says.
async fn mirror(mode: Mirror) -> String {
    aetheria_engine::testkit::mirror::start(mode).await.unwrap()
}

struct Hub {
    handle: Handle,
    events: Events,
    data: tempfile::TempDir,
}

impl Hub {
    async fn start(mirror: &str) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config::new(data.path().join("config"), data.path().join("data"));
        config.local.mirror = Some(mirror.to_owned());
        let (handle, events) = Engine::start(config).await.unwrap();
        Self {
            handle,
            events,
            data,
        }
    }

    fn models_dir(&self) -> PathBuf {
        self.data.path().join("data").join("models")
    }

    fn submit(&self, command: ModelsCommand) -> SubmissionId {
        self.handle.submit(Command::Models(command)).unwrap()
    }

    /// The events answering `id` until `done` says stop.
    async fn until(
        &mut self,
        id: SubmissionId,
        mut done: impl FnMut(&Event) -> bool,
    ) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let envelope = tokio::time::timeout(Duration::from_secs(180), self.events.recv())
                .await
                .expect("no event within 180 s")
                .expect("the event stream ended");
            if envelope.submission != Some(id) {
                continue;
            }
            let stop = done(&envelope.event);
            seen.push(envelope.event);
            if stop {
                return seen;
            }
        }
    }

    async fn answer(&mut self, command: ModelsCommand) -> Event {
        let id = self.submit(command);
        let mut events = self.until(id, |_| true).await;
        events.pop().unwrap()
    }

    /// Installs and returns the last event (`LocalModelAdded` or `CommandFailed`).
    async fn install(&mut self, command: ModelsCommand) -> Vec<Event> {
        let id = self.submit(command);
        self.until(id, |e| {
            matches!(
                e,
                Event::LocalModelAdded { .. } | Event::CommandFailed { .. }
            )
        })
        .await
    }
}

/// The files in `dir` (none when it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn failure(events: &[Event]) -> (ErrorKind, String) {
    match events.last() {
        Some(Event::CommandFailed { error, .. }) => (error.kind, error.message.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_catalogue_model_is_downloaded_checked_chosen_and_removed() {
    let base = mirror(Mirror::Real).await;
    let mut hub = Hub::start(&base).await;

    let Event::ModelCatalog { models } = hub.answer(ModelsCommand::Catalog).await else {
        panic!("no catalogue");
    };
    assert!(models.len() >= 3, "{models:?}");
    let entry = models.iter().find(|m| m.name == CATALOGUED).unwrap();
    assert_eq!(entry.sha256, SHA256, "the catalogue pins the real file");
    assert_eq!(entry.url, format!("{base}/{FILE}"), "served by the mirror");
    assert_eq!(
        entry.size_bytes,
        std::fs::metadata(model_file()).unwrap().len()
    );
    assert!(!entry.installed);

    let events = hub
        .install(ModelsCommand::InstallCatalog {
            name: CATALOGUED.into(),
        })
        .await;
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::LocalModelProgress { name, done, .. } if name == CATALOGUED && *done > 0
        )),
        "progress names the install: {events:?}"
    );
    let Some(Event::LocalModelAdded { model }) = events.last() else {
        panic!("not installed: {events:?}");
    };
    assert_eq!(model.name, CATALOGUED);
    assert_eq!(model.sha256, SHA256);
    let Event::ModelCatalog { models } = hub.answer(ModelsCommand::Catalog).await else {
        panic!("no catalogue");
    };
    assert!(models.iter().any(|m| m.name == CATALOGUED && m.installed));

    // A second model (the same file from disk): the first by name answers until one is chosen.
    let events = hub
        .install(ModelsCommand::AddLocal {
            source: model_file().display().to_string(),
            name: Some("another".into()),
            sha256: None,
        })
        .await;
    assert!(
        matches!(events.last(), Some(Event::LocalModelAdded { .. })),
        "{events:?}"
    );
    let Event::LocalModels { default, .. } = hub.answer(ModelsCommand::ListLocal).await else {
        panic!("no list");
    };
    assert_eq!(default.as_deref(), Some("another"));
    let Event::LocalModels { default, .. } = hub
        .answer(ModelsCommand::SetDefault {
            name: Some(CATALOGUED.into()),
        })
        .await
    else {
        panic!("no list");
    };
    assert_eq!(default.as_deref(), Some(CATALOGUED));
    let saved =
        std::fs::read_to_string(hub.data.path().join("config").join("config.toml")).unwrap();
    assert!(
        saved.contains(&format!("default_model = \"{CATALOGUED}\"")),
        "the choice is saved: {saved}"
    );
    // Only an installed model can be chosen.
    let refused = hub
        .answer(ModelsCommand::SetDefault {
            name: Some("../not-installed".into()),
        })
        .await;
    assert!(
        matches!(&refused, Event::CommandFailed { error, .. } if error.kind == ErrorKind::Missing),
        "{refused:?}"
    );

    // Removing the chosen model hands the offline default back to the first installed.
    let removed = hub
        .answer(ModelsCommand::RemoveLocal {
            name: CATALOGUED.into(),
        })
        .await;
    assert!(
        matches!(removed, Event::LocalModelRemoved { .. }),
        "{removed:?}"
    );
    let Event::LocalModels { models, default } = hub.answer(ModelsCommand::ListLocal).await else {
        panic!("no list");
    };
    assert_eq!(models.len(), 1);
    assert_eq!(default.as_deref(), Some("another"));
}

#[tokio::test]
async fn a_stopped_download_keeps_nothing() {
    let base = mirror(Mirror::Stalls).await;
    let mut hub = Hub::start(&base).await;
    let install = hub.submit(ModelsCommand::InstallCatalog {
        name: CATALOGUED.into(),
    });
    hub.until(
        install,
        |e| matches!(e, Event::LocalModelProgress { done, .. } if *done > 0),
    )
    .await;
    assert!(
        files_in(&hub.models_dir())
            .iter()
            .any(|f| f.ends_with(".partial")),
        "the download is under way"
    );
    let stopped = hub
        .answer(ModelsCommand::CancelAdd {
            name: CATALOGUED.into(),
        })
        .await;
    assert!(
        matches!(stopped, Event::LocalModelCancelled { .. }),
        "{stopped:?}"
    );
    let events = hub
        .until(install, |e| matches!(e, Event::CommandFailed { .. }))
        .await;
    let (kind, message) = failure(&events);
    assert_eq!(kind, ErrorKind::Cancelled, "{message}");
    assert!(message.contains("nothing was kept"), "{message}");
    assert_eq!(files_in(&hub.models_dir()), Vec::<String>::new());
    // Nothing runs now: a second stop is refused, and the catalogue says not installed.
    let again = hub
        .answer(ModelsCommand::CancelAdd {
            name: CATALOGUED.into(),
        })
        .await;
    assert!(
        matches!(&again, Event::CommandFailed { error, .. } if error.kind == ErrorKind::Missing),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_swapped_file_an_oversized_one_and_forged_names_are_refused() {
    // A mirror that serves other bytes under the catalogue's file name: the pinned sum refuses it.
    let mut hub = Hub::start(&mirror(Mirror::Swapped).await).await;
    let events = hub
        .install(ModelsCommand::InstallCatalog {
            name: CATALOGUED.into(),
        })
        .await;
    let (kind, message) = failure(&events);
    assert_eq!(kind, ErrorKind::Invalid, "{message}");
    assert!(message.contains("checksum mismatch"), "{message}");
    assert_eq!(files_in(&hub.models_dir()), Vec::<String>::new());

    // A download declaring more than the disk holds is refused before a byte is written.
    let mut hub = Hub::start(&mirror(Mirror::Huge).await).await;
    let events = hub
        .install(ModelsCommand::InstallCatalog {
            name: CATALOGUED.into(),
        })
        .await;
    let (kind, message) = failure(&events);
    assert_eq!(kind, ErrorKind::Conflict, "{message}");
    assert!(message.contains("not enough disk space"), "{message}");
    assert_eq!(files_in(&hub.models_dir()), Vec::<String>::new());

    // Names that are not in the catalogue, or try to leave the models folder.
    for forged in [
        "../../etc/passwd",
        "smollm2-135m-instruct/../x",
        "",
        "SMOLLM2-135M-INSTRUCT",
    ] {
        let refused = hub
            .answer(ModelsCommand::InstallCatalog {
                name: forged.into(),
            })
            .await;
        assert!(
            matches!(&refused, Event::CommandFailed { error, .. } if error.kind == ErrorKind::Missing),
            "{forged:?}: {refused:?}"
        );
    }
    let refused = hub
        .answer(ModelsCommand::AddLocal {
            source: model_file().display().to_string(),
            name: Some("../escape".into()),
            sha256: None,
        })
        .await;
    assert!(
        matches!(&refused, Event::CommandFailed { error, .. } if error.kind == ErrorKind::Invalid),
        "{refused:?}"
    );
    assert!(!hub.data.path().join("data").join("escape.gguf").exists());
    assert_eq!(files_in(&hub.models_dir()), Vec::<String>::new());
}
