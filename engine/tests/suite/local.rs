//! The offline model, for real: SmolLM2-135M-Instruct (GGUF, fetched by installer/test-models.py) installed
//! through the model manager and answering through the agent on one thread, with no network.

use std::path::PathBuf;
use std::time::Duration;

use aetheria_engine::api::{
    Command, ErrorKind, Event, ModelsCommand, Policy, SessionCommand, ToolStatus, ToolsCommand,
    TurnCommand,
};
use aetheria_engine::config::Config;
use aetheria_engine::{Engine, Events, Handle};

use super::common::{streamed_text, turn_ended};

use aetheria_engine::testkit::test_model::{SHA256 as MODEL_SHA256, path as model_file};

struct Offline {
    handle: Handle,
    events: Events,
    workspace: PathBuf,
    _data: tempfile::TempDir,
}

impl Offline {
    /// An engine with no provider at all, one generation thread, and only `tools` offered
    /// (`["*"]`: every tool the engine has).
    async fn start(tools: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let workspace = data.path().join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        let mut config = Config::new(data.path().join("config"), data.path().join("data"));
        config.workspace_roots = vec![workspace.clone()];
        config.local.threads = Some(1);
        config.local.max_tokens = 96;
        // Every tool the engine has, allowed if named, else turned off (so a new built-in tool
        // never changes what this small model is offered).
        let (probe, mut probe_events) = Engine::start(config.clone()).await.unwrap();
        probe.submit(Command::Tools(ToolsCommand::List)).unwrap();
        let all = loop {
            if let Some(Event::ToolList { tools }) = probe_events.recv().await.map(|e| e.event) {
                break tools;
            }
        };
        probe.submit(Command::Shutdown).unwrap();
        while probe_events.recv().await.is_some() {}
        for tool in all {
            let policy = if tools.contains(&"*") || tools.contains(&tool.name.as_str()) {
                Policy::Allow
            } else {
                Policy::Deny
            };
            config.tools.policy.insert(tool.name, policy);
        }
        let (handle, events) = Engine::start(config).await.unwrap();
        Self {
            handle,
            events,
            workspace,
            _data: data,
        }
    }

    async fn until(&mut self, mut done: impl FnMut(&Event) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let event = tokio::time::timeout(Duration::from_secs(180), self.events.recv())
                .await
                .expect("no event within 180 s")
                .expect("the event stream ended")
                .event;
            let stop = done(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }

    /// Asks to install `source`; the events up to `LocalModelAdded` or `CommandFailed`.
    async fn add(&mut self, source: &str, name: Option<&str>, sha256: Option<&str>) -> Vec<Event> {
        self.handle
            .submit(Command::Models(ModelsCommand::AddLocal {
                source: source.to_owned(),
                name: name.map(str::to_owned),
                sha256: sha256.map(str::to_owned),
            }))
            .unwrap();
        self.until(|e| {
            matches!(
                e,
                Event::LocalModelAdded { .. } | Event::CommandFailed { .. }
            )
        })
        .await
    }

    async fn install(&mut self) {
        let source = model_file().display().to_string();
        let events = self.add(&source, Some("smol"), Some(MODEL_SHA256)).await;
        assert!(
            matches!(events.last(), Some(Event::LocalModelAdded { .. })),
            "{events:?}"
        );
    }

    async fn turn(&mut self, session: &aetheria_engine::api::SessionId, text: &str) -> Vec<Event> {
        self.handle
            .submit(Command::Turn(TurnCommand::Send {
                session: session.clone(),
                text: text.into(),
                attachments: vec![],
                create: false,
                allow: vec![],
            }))
            .unwrap();
        self.until(turn_ended).await
    }

    /// Writes `notes.txt` (a meeting's day and room), installs the model and opens a session.
    async fn with_notes(&mut self) -> aetheria_engine::api::SessionId {
        std::fs::write(
            self.workspace.join("notes.txt"),
            "The meeting is on Tuesday at 10:00 in room 4.\n",
        )
        .unwrap();
        self.install().await;
        self.session().await
    }

    async fn session(&mut self) -> aetheria_engine::api::SessionId {
        let session = aetheria_engine::api::SessionId::new();
        self.handle
            .submit(Command::Session(SessionCommand::Create {
                session: session.clone(),
                title: Some("offline".into()),
            }))
            .unwrap();
        self.until(|e| matches!(e, Event::SessionCreated { .. }))
            .await;
        session
    }
}

#[tokio::test]
async fn the_model_manager_installs_checks_lists_and_removes() {
    let mut offline = Offline::start(&[]).await;
    let source = model_file().display().to_string();
    // A wrong checksum keeps nothing.
    let events = offline.add(&source, None, Some(&"00".repeat(32))).await;
    match events.last() {
        Some(Event::CommandFailed { error, .. }) => {
            assert_eq!(error.kind, ErrorKind::Invalid);
            assert!(
                error.message.contains("checksum mismatch"),
                "{}",
                error.message
            );
            assert!(error.message.contains(MODEL_SHA256), "{}", error.message);
        }
        other => panic!("a bad checksum was accepted: {other:?}"),
    }
    let progress = events
        .iter()
        .filter(|e| matches!(e, Event::LocalModelProgress { .. }))
        .count();
    assert!(progress >= 2, "no progress was reported: {events:?}");
    offline
        .handle
        .submit(Command::Models(ModelsCommand::ListLocal))
        .unwrap();
    let listed = offline
        .until(|e| matches!(e, Event::LocalModels { .. }))
        .await;
    assert!(matches!(listed.last(), Some(Event::LocalModels { models, .. }) if models.is_empty()));

    // Installed under its file name, converted to the faster Q8_0 format.
    let events = offline
        .add(&source, None, Some(&MODEL_SHA256.to_uppercase()))
        .await;
    let Some(Event::LocalModelAdded { model }) = events.last() else {
        panic!("not installed: {events:?}");
    };
    assert_eq!(model.name, "SmolLM2-135M-Instruct.Q4_1");
    assert_eq!(model.quantization, "Q8_0");
    assert_eq!(model.converted_from.as_deref(), Some("Q4_1"));
    assert_eq!(model.architecture, "llama");
    assert_eq!(model.sha256, MODEL_SHA256);
    assert_eq!(model.context_length, 4096);
    assert!(model.path.is_file());
    let models_dir = model.path.parent().unwrap().to_path_buf();
    let leftovers: Vec<_> = std::fs::read_dir(&models_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");

    // The same name twice is refused; the installed model stays.
    let events = offline.add(&source, None, None).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.message.contains("already installed")),
        "{events:?}"
    );

    // A file that is not a model is refused with a reason.
    let junk = offline.workspace.join("junk.gguf");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let events = offline.add(&junk.display().to_string(), None, None).await;
    assert!(
        matches!(events.last(), Some(Event::CommandFailed { error, .. }) if error.message.contains("not a GGUF model")),
        "{events:?}"
    );

    offline
        .handle
        .submit(Command::Models(ModelsCommand::ListLocal))
        .unwrap();
    let listed = offline
        .until(|e| matches!(e, Event::LocalModels { .. }))
        .await;
    let Some(Event::LocalModels { models, .. }) = listed.last() else {
        unreachable!()
    };
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["SmolLM2-135M-Instruct.Q4_1"]);

    offline
        .handle
        .submit(Command::Models(ModelsCommand::RemoveLocal {
            name: "SmolLM2-135M-Instruct.Q4_1".into(),
        }))
        .unwrap();
    let events = offline
        .until(|e| {
            matches!(
                e,
                Event::LocalModelRemoved { .. } | Event::CommandFailed { .. }
            )
        })
        .await;
    assert!(
        matches!(events.last(), Some(Event::LocalModelRemoved { .. })),
        "{events:?}"
    );
    assert_eq!(std::fs::read_dir(&models_dir).unwrap().count(), 0);
}

#[tokio::test]
async fn with_no_provider_the_local_model_answers_offline() {
    let mut offline = Offline::start(&[]).await;
    offline.install().await;
    let session = offline.session().await;
    let events = offline
        .turn(
            &session,
            "What is the capital of France? Answer in one sentence.",
        )
        .await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    let text = streamed_text(&events);
    assert!(text.contains("Paris"), "{text:?}");
    let deltas = events
        .iter()
        .filter(|e| matches!(e, Event::TextDelta { .. }))
        .count();
    assert!(deltas >= 3, "the answer was not streamed: {deltas} deltas");
    let usage = |events: &[Event]| match events.last() {
        Some(Event::TurnFinished { usage, .. }) => *usage,
        other => panic!("{other:?}"),
    };
    let first = usage(&events);

    // The next turn builds on the conversation: the first turn's prompt (and the answer) come from
    // the kept cache; only what is new is read.
    let question = "And the capital of Italy? Answer in one sentence.";
    let events = offline.turn(&session, question).await;
    let text = streamed_text(&events);
    assert!(text.contains("Rome"), "{text:?}");
    let next = usage(&events);
    assert!(
        next.cached_input_tokens >= first.input_tokens,
        "the first prompt was read again: {first:?} then {next:?}"
    );
    let read = next.input_tokens - next.cached_input_tokens;
    assert!(
        read <= first.output_tokens + 40,
        "{read} tokens read for a {}-token answer and a short question: {next:?}",
        first.output_tokens
    );
}

#[tokio::test]
async fn the_local_model_calls_a_tool_and_answers_from_its_result() {
    let mut offline = Offline::start(&["fs_read"]).await;
    let session = offline.with_notes().await;
    let events = offline
        .turn(&session, "Use the fs_read tool to read the file notes.txt.")
        .await;
    let started: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| match e {
            Event::ToolCallStarted {
                tool, arguments, ..
            } => Some((tool.as_str(), arguments.as_str())),
            _ => None,
        })
        .collect();
    assert!(!started.is_empty(), "no tool call: {events:?}");
    assert_eq!(started[0].0, "fs_read");
    let arguments: serde_json::Value = serde_json::from_str(started[0].1).unwrap();
    assert_eq!(arguments["path"], "notes.txt", "{arguments}");
    let finished = events.iter().find_map(|e| match e {
        Event::ToolCallFinished { status, output, .. } => Some((status, output)),
        _ => None,
    });
    let (status, output) = finished.expect("the call finished");
    assert_eq!(*status, ToolStatus::Succeeded);
    assert!(output.contains("Tuesday"), "{output}");
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    // After the result, the model answers in text (a repeated call is turned into a text answer).
    let after: Vec<Event> = events
        .iter()
        .skip_while(|e| !matches!(e, Event::ToolCallFinished { .. }))
        .cloned()
        .collect();
    let answer = streamed_text(&after);
    assert!(
        answer.contains("Tuesday"),
        "the answer does not use the result: {answer:?}"
    );
    assert!(started.len() <= 2, "the model looped: {started:?}");
}

/// With every tool on (as a person's default setup has them), the model is shown only the tools
/// that what was said speaks of: a plain question is answered in words with no tool schema read,
/// and a request to read a file is offered, and calls, `fs_read`.
#[tokio::test]
async fn with_every_tool_on_a_question_gets_words_and_a_request_gets_its_tool() {
    let mut offline = Offline::start(&["*"]).await;
    let session = offline.with_notes().await;
    let events = offline
        .turn(
            &session,
            "What is the capital of France? Answer in one sentence.",
        )
        .await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::ToolCallStarted { .. })),
        "{events:?}"
    );
    let text = streamed_text(&events);
    assert!(text.contains("Paris"), "{text:?}");
    let prompt_tokens = events.iter().find_map(|e| match e {
        Event::TurnFinished { usage, .. } => Some(usage.input_tokens),
        _ => None,
    });
    assert!(
        prompt_tokens.is_some_and(|n| n < 200),
        "the prompt carried tool schemas: {prompt_tokens:?} tokens"
    );

    let session = offline.session().await;
    let events = offline
        .turn(
            &session,
            "Read the file notes.txt and tell me when the meeting is.",
        )
        .await;
    let first = events.iter().find_map(|e| match e {
        Event::ToolCallStarted { tool, .. } => Some(tool.as_str()),
        _ => None,
    });
    assert_eq!(first, Some("fs_read"), "{events:?}");
}

/// The configured thread count reaches candle's own kernel pool (named `candle-bp-N`, one worker
/// fewer than the threads: the caller is one), which no rayon pool the runtime builds can limit.
/// The pool is sized once per process, so the check runs in a process of its own (this test's
/// binary again), where nothing has run a model and no other thread reads the environment.
#[cfg(target_os = "linux")]
#[test]
fn the_configured_threads_size_the_models_kernel_pool() {
    const CHILD: &str = "AETHERIA_TEST_KERNEL_POOL";
    const NAME: &str = "suite::local::the_configured_threads_size_the_models_kernel_pool";
    // Not this machine's default (its physical cores), so the setting is what is seen.
    let threads = 5;
    if std::env::var_os(CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env_remove("CANDLE_NUM_THREADS")
            .env_remove("RAYON_NUM_THREADS")
            .output()
            .unwrap();
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{shown}");
        assert!(shown.contains("1 passed"), "the check did not run: {shown}");
        return;
    }
    aetheria_engine::size_model_threads(threads);
    aetheria_engine::testkit::local_bench::run(
        &aetheria_engine::testkit::test_model::path(),
        threads,
        "Say hello.",
        "Again.",
        4,
    )
    .unwrap();
    let workers = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .filter(|name| name.starts_with("candle-bp-"))
        .count();
    assert_eq!(workers, threads - 1);
}
