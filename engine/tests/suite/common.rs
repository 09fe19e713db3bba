//! A harness: an engine on a temporary data folder and workspace, talking to a scripted server.

use std::path::PathBuf;
use std::time::Duration;

use aetheria_engine::api::{
    Command, Decision, Envelope, ErrorInfo, Event, JobId, JobsCommand, Secret, SessionCommand,
    SessionId, SettingsCommand, SubmissionId, ToolCallId, ToolsCommand, TurnCommand,
};
use aetheria_engine::config::{Config, ProviderConfig, Wire};
use aetheria_engine::jobs::JobRecord;
use aetheria_engine::testkit::{Reply, ScriptedServer};
use aetheria_engine::{Engine, Events, Handle};

pub struct Harness {
    pub handle: Handle,
    pub events: Events,
    pub server: ScriptedServer,
    pub workspace: PathBuf,
    pub data: tempfile::TempDir,
    /// How long `next` waits for an event before failing the test (10 s unless a test needs a
    /// slow part, such as starting a browser on a busy machine, to end by its own limit).
    pub silence: Duration,
}

pub fn provider(base_url: &str) -> ProviderConfig {
    ProviderConfig {
        name: "loopback".into(),
        wire: Wire::Openai,
        base_url: base_url.into(),
        model: "test-model".into(),
        key_env: Some("AETHERIA_TEST_NO_SUCH_KEY".into()),
        key_ref: Some("aetheria-test-no-such-account".into()),
        context_window: None,
        vision: None,
    }
}

impl Harness {
    pub async fn start(replies: Vec<Reply>) -> Self {
        Self::start_with(replies, |_| {}).await
    }

    pub async fn start_with(replies: Vec<Reply>, setup: impl FnOnce(&mut Config)) -> Self {
        let server = ScriptedServer::start(replies).await.unwrap();
        let data = tempfile::tempdir().unwrap();
        let workspace = data.path().join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        let mut config = config_for(&data, &workspace, &server.base_url());
        setup(&mut config);
        let (handle, events) = Engine::start(config).await.unwrap();
        Self {
            handle,
            events,
            server,
            workspace,
            data,
            silence: Duration::from_secs(60),
        }
    }

    /// The next event, failing the test after `silence`.
    pub async fn next(&mut self) -> Event {
        self.next_envelope().await.event
    }

    /// The next event with the submission that caused it, failing the test after `silence`.
    pub async fn next_envelope(&mut self) -> Envelope {
        let silence = self.silence;
        tokio::time::timeout(silence, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no event within {silence:?}"))
            .expect("the event stream ended")
    }

    /// Stores `key` for `provider` through the engine (`StoreKey`, as Settings does): the events
    /// up to and including its answer, `KeyStored` or `CommandFailed`.
    pub async fn store_key(&mut self, provider: &str, key: &str) -> Vec<Event> {
        self.handle
            .submit(Command::Settings(SettingsCommand::StoreKey {
                provider: provider.into(),
                key: Secret::new(key),
            }))
            .unwrap();
        self.until(|e| matches!(e, Event::KeyStored { .. } | Event::CommandFailed { .. }))
            .await
    }

    /// Events up to and including the first that matches.
    pub async fn until(&mut self, mut done: impl FnMut(&Event) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        loop {
            let event = self.next().await;
            let stop = done(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }

    /// The stored messages of a session, as `SessionCommand::Load` gives them.
    pub async fn messages(
        &mut self,
        session: &SessionId,
    ) -> Vec<aetheria_engine::api::MessageRecord> {
        self.handle
            .submit(Command::Session(SessionCommand::Load {
                session: session.clone(),
            }))
            .unwrap();
        match self
            .until(|e| matches!(e, Event::SessionLoaded { .. }))
            .await
            .pop()
        {
            Some(Event::SessionLoaded { messages, .. }) => messages,
            other => unreachable!("{other:?}"),
        }
    }

    pub async fn new_session(&mut self) -> SessionId {
        let session = SessionId::new();
        self.handle
            .submit(Command::Session(SessionCommand::Create {
                session: session.clone(),
                title: None,
            }))
            .unwrap();
        let events = self
            .until(|e| matches!(e, Event::SessionCreated { .. }))
            .await;
        assert!(
            matches!(events.last(), Some(Event::SessionCreated { session: s }) if s.id == session)
        );
        session
    }

    pub fn send(&self, session: &SessionId, text: &str) {
        self.handle
            .submit(Command::Turn(TurnCommand::Send {
                session: session.clone(),
                text: text.into(),
                attachments: vec![],
                create: false,
                allow: vec![],
            }))
            .unwrap();
    }

    /// Sends a message and collects events until the turn ends.
    pub async fn turn(&mut self, session: &SessionId, text: &str) -> Vec<Event> {
        self.send(session, text);
        self.until(turn_ended).await
    }

    /// Answers a tool call waiting for approval (once, nothing remembered); the submission's number.
    pub fn answer(&self, call: &ToolCallId, decision: Decision) -> SubmissionId {
        self.handle
            .submit(Command::Turn(TurnCommand::Approve {
                call: call.clone(),
                decision,
                remember: false,
                scope: None,
            }))
            .unwrap()
    }

    /// Submits a command that must fail, and returns the failure that answers that submission.
    pub async fn refused(&mut self, command: Command) -> ErrorInfo {
        let submitted = self.handle.submit(command).unwrap();
        let events = self
            .until(|e| matches!(e, Event::CommandFailed { submission, .. } if *submission == submitted))
            .await;
        match events.last() {
            Some(Event::CommandFailed { error, .. }) => error.clone(),
            other => unreachable!("{other:?}"),
        }
    }
}

/// `remember` allowed without asking, and memories embedded by the endpoint at `base_url` with
/// the model `model`, its key from the keychain account `key_ref` when given.
pub fn remembering_with_embeddings(
    config: &mut Config,
    base_url: String,
    model: &str,
    key_ref: Option<String>,
) {
    config
        .tools
        .policy
        .insert("remember".into(), aetheria_engine::api::Policy::Allow);
    config.memory.embeddings = Some(aetheria_engine::config::EmbeddingsConfig {
        base_url,
        model: model.into(),
        key_ref,
        key_env: None,
    });
}

pub fn config_for(data: &tempfile::TempDir, workspace: &std::path::Path, base_url: &str) -> Config {
    let mut config = Config::new(data.path().join("config"), data.path().join("data"));
    config.use_provider(provider(base_url));
    config.workspace_roots = vec![workspace.to_path_buf()];
    config
}

pub fn turn_ended(e: &Event) -> bool {
    matches!(
        e,
        Event::TurnFinished { .. } | Event::TurnFailed { .. } | Event::TurnCancelled { .. }
    )
}

/// The text of all deltas, in order.
pub fn streamed_text(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TextDelta { delta, .. } => Some(delta.as_str()),
            _ => None,
        })
        .collect()
}

/// The messages of a request body the server received.
pub fn roles(body: &serde_json::Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_owned())
        .collect()
}

pub use aetheria_engine::testkit::skip;

/// How a direct tool call ended.
pub struct Direct {
    pub status: aetheria_engine::api::ToolStatus,
    pub output: String,
    /// Whether it waited for approval (which was given).
    pub asked: bool,
}

impl Harness {
    /// A background job as it is now.
    pub async fn job(&mut self, id: &JobId) -> JobRecord {
        self.handle
            .submit(Command::Jobs(JobsCommand::Get { id: id.clone() }))
            .unwrap();
        match self
            .until(|e| matches!(e, Event::JobUpdated { job } if &job.spec.id == id))
            .await
            .pop()
        {
            Some(Event::JobUpdated { job }) => job,
            other => unreachable!("{other:?}"),
        }
    }

    /// Asks for a job every 100 ms (at most 60 s) until `done` holds for it.
    pub async fn job_until(&mut self, id: &JobId, done: impl Fn(&JobRecord) -> bool) -> JobRecord {
        for _ in 0..600 {
            let job = self.job(id).await;
            if done(&job) {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("job {id}: {:?}", self.job(id).await);
    }

    /// Runs one tool directly (`CallTool`), allowing it once if it asks.
    pub async fn direct(&mut self, tool: &str, arguments: serde_json::Value) -> Direct {
        use aetheria_engine::api::{Decision, ToolCallId};
        let call = ToolCallId::new();
        self.handle
            .submit(Command::Tools(ToolsCommand::Call {
                call: call.clone(),
                tool: tool.into(),
                arguments,
            }))
            .unwrap();
        let mut asked = false;
        loop {
            match self.next().await {
                Event::ApprovalRequested { call: c, .. } if c == call => {
                    asked = true;
                    self.handle
                        .submit(Command::Turn(TurnCommand::Approve {
                            call: call.clone(),
                            decision: Decision::Allow,
                            remember: false,
                            scope: None,
                        }))
                        .unwrap();
                }
                Event::ToolCallFinished {
                    call: c,
                    status,
                    output,
                    ..
                } if c == call => {
                    return Direct {
                        status,
                        output,
                        asked,
                    };
                }
                _ => {}
            }
        }
    }
}
