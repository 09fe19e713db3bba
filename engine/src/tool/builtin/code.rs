//! The code tools: `run_code` (Python, Bash or Node) and `shell` run inside the session's sandbox,
//! never on the host; `sandbox_network` lets a session's sandbox reach the network once the person
//! approves. Output streams live to the front ends; the model gets the head and tail of long output.

use std::sync::Arc;

use aetheria_sandbox::{ExecOutcome, ExecRequest};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::api::Effect;
use crate::sandboxes::{Sandboxes, key_of};
use crate::tool::{Tool, ToolCx, ToolError, ToolOutput};

/// Bytes of stdout, and of stderr, the model sees (head and tail).
const STDOUT_FOR_MODEL: usize = 16 * 1024;
const STDERR_FOR_MODEL: usize = 8 * 1024;

/// A language `run_code` runs.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Language {
    /// Python 3 (with numpy, requests and yaml).
    Python,
    /// Bash.
    Bash,
    /// Node.js.
    Node,
}

impl Language {
    fn file_and_program(self) -> (&'static str, &'static str) {
        match self {
            Language::Python => ("main.py", "python3"),
            Language::Bash => ("main.sh", "bash"),
            Language::Node => ("main.js", "node"),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Bash => "bash",
            Language::Node => "node",
        }
    }

    /// The language of a name (`python`, `bash`, `node`).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        [Language::Python, Language::Bash, Language::Node]
            .into_iter()
            .find(|l| l.name() == name)
    }

    /// The sandbox request that runs `code`: the source goes in on stdin to a tiny launcher that
    /// saves it to /tmp and runs it, so the program keeps argv and line numbers that name a real
    /// file.
    pub(crate) fn request(self, code: &str, timeout: std::time::Duration) -> ExecRequest {
        let (file, program) = self.file_and_program();
        let launcher = format!(
            "f=$(mktemp -d /tmp/run.XXXXXX)/{file}; cat > \"$f\"; exec {program} \"$f\" </dev/null"
        );
        ExecRequest::new(["sh", "-c", &launcher])
            .stdin(code.as_bytes().to_vec())
            .timeout(timeout)
    }
}

/// Arguments of `run_code`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunCodeArgs {
    /// `python`, `bash` or `node`.
    pub language: Language,
    /// The program's source. It runs in /workspace (the person's workspace folder); /tmp is
    /// scratch space; there is no network unless the person allowed it.
    pub code: String,
    /// Seconds before it is killed (default from settings, usually 60).
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// Runs a program in the sandbox.
pub(crate) struct RunCode(pub Arc<Sandboxes>);

impl Tool for RunCode {
    type Args = RunCodeArgs;
    const NAME: &'static str = "run_code";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Code;

    fn description(&self) -> &'static str {
        "Run a Python, Bash or Node program in an isolated sandbox (not on the person's computer). The workspace folder is at /workspace; files written there appear in it, except that .git, .envrc, .vscode, .idea, .devcontainer, .husky and package-manager settings are read-only (new ones are renamed after the run). Returns the exit status with stdout and stderr (long output is cut in the middle) and the workspace files created, changed and deleted."
    }

    fn effect(&self) -> Effect {
        Effect::Mutating
    }

    async fn call(&self, args: RunCodeArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        if args.code.trim().is_empty() {
            return Err(ToolError::RespondToModel("the code is empty".into()));
        }
        let request = args
            .language
            .request(&args.code, self.0.timeout(args.timeout_s));
        run(&self.0, request, &cx, args.language.name()).await
    }

    async fn preview(&self, args: &RunCodeArgs, cx: &ToolCx) -> Option<String> {
        Some(format!(
            "{} program, run in the sandbox{}:\n\n{}",
            args.language.name(),
            network_note(&self.0, cx),
            args.code
        ))
    }
}

/// Arguments of `shell`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShellArgs {
    /// A Bash command line, run in /workspace inside the sandbox.
    pub command: String,
    /// Seconds before it is killed (default from settings, usually 60).
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// Runs a shell command in the sandbox.
pub(crate) struct Shell(pub Arc<Sandboxes>);

impl Tool for Shell {
    type Args = ShellArgs;
    const NAME: &'static str = "shell";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Code;

    fn description(&self) -> &'static str {
        "Run a Bash command line in an isolated sandbox (not on the person's computer), in /workspace (the workspace folder; .git and other places the host runs by itself are read-only). Debian tools, git, curl, python3 and node are there. Returns the exit status with stdout and stderr and the workspace files created, changed and deleted."
    }

    fn effect(&self) -> Effect {
        Effect::Mutating
    }

    async fn call(&self, args: ShellArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        if args.command.trim().is_empty() {
            return Err(ToolError::RespondToModel("the command is empty".into()));
        }
        let request =
            ExecRequest::new(["bash", "-c", &args.command]).timeout(self.0.timeout(args.timeout_s));
        run(&self.0, request, &cx, "shell").await
    }

    async fn preview(&self, args: &ShellArgs, cx: &ToolCx) -> Option<String> {
        Some(format!(
            "shell command, run in the sandbox{}:\n\n$ {}",
            network_note(&self.0, cx),
            args.command
        ))
    }
}

/// Arguments of `sandbox_network`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkArgs {
    /// `true` to let this conversation's sandbox reach the internet, `false` to cut it off again.
    pub enabled: bool,
}

/// Switches a session's sandbox network (asks the person first, by its effect).
pub(crate) struct SandboxNetwork(pub Arc<Sandboxes>);

impl Tool for SandboxNetwork {
    type Args = NetworkArgs;
    const NAME: &'static str = "sandbox_network";
    const KIND: crate::api::ToolKind = crate::api::ToolKind::Sandbox;

    fn description(&self) -> &'static str {
        if cfg!(unix) {
            "Ask the person to let this conversation's sandbox reach the internet (for example to pip install or download data), or cut it off again. The sandbox restarts; files in /workspace stay, /tmp is emptied. Online, every connection goes through Aetheria's proxy (HTTP_PROXY and HTTPS_PROXY are set, which pip, curl, git over https and npm follow): public internet addresses only, plus the places the person listed in web.private_hosts; never this machine's services or the local network. Programs that ignore those variables (raw sockets, ssh) get no network."
        } else {
            "Ask the person to let this conversation's sandbox reach the internet (for example to pip install or download data), or cut it off again. The sandbox restarts; files in /workspace stay, /tmp is emptied. Online, the sandbox is on Docker's network, which also reaches this machine's services and the local network."
        }
    }

    fn effect(&self) -> Effect {
        Effect::External
    }

    async fn call(&self, args: NetworkArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let key = key_of(cx.session.as_ref());
        self.0.set_network(&key, args.enabled).await;
        Ok(ToolOutput(if args.enabled {
            if cfg!(unix) {
                "the sandbox of this conversation can now reach the internet through Aetheria's proxy (HTTP_PROXY and HTTPS_PROXY are set)".into()
            } else {
                "the sandbox of this conversation can now reach the network".into()
            }
        } else {
            "the sandbox of this conversation has no network again".into()
        }))
    }

    async fn preview(&self, args: &NetworkArgs, _cx: &ToolCx) -> Option<String> {
        Some(if args.enabled {
            "Let code in this conversation's sandbox reach the internet.".into()
        } else {
            "Cut this conversation's sandbox off the network.".into()
        })
    }
}

fn network_note(sandboxes: &Sandboxes, cx: &ToolCx) -> &'static str {
    if sandboxes.network(&key_of(cx.session.as_ref())) {
        " with network access"
    } else {
        " without network"
    }
}

/// Runs a request in the session's sandbox, streaming its output live, and words the result.
async fn run(
    sandboxes: &Sandboxes,
    request: ExecRequest,
    cx: &ToolCx,
    what: &str,
) -> Result<ToolOutput, ToolError> {
    let key = key_of(cx.session.as_ref());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<aetheria_sandbox::Chunk>(64);
    let live = cx.live.clone();
    let forward = tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            live.push(&String::from_utf8_lossy(&chunk.data));
        }
    });
    let result = sandboxes.exec(&key, request, Some(tx)).await;
    let _ = forward.await;
    match result {
        Ok(ran) => Ok(ToolOutput(ran.describe(what))),
        // The model cannot fix a missing sandbox; it should tell the person what to do.
        Err(e) => Err(ToolError::RespondToModel(format!(
            "the sandbox is not available, so nothing ran: {e}. Tell the person; do not run code another way"
        ))),
    }
}

/// What the model (or a code job's result) says about a finished run.
pub(crate) fn describe(
    outcome: &ExecOutcome,
    what: &str,
    backend: aetheria_sandbox::Backend,
) -> String {
    let mut out = format!(
        "{what} in the {backend} sandbox: {} after {:.1} s",
        outcome.status_line(),
        outcome.duration.as_secs_f64()
    );
    if outcome.stdout.is_empty() && outcome.stderr.is_empty() {
        out.push_str("\n(no output)");
    }
    if !outcome.stdout.is_empty() {
        out.push_str("\nstdout:\n");
        out.push_str(&outcome.stdout.text_within(STDOUT_FOR_MODEL));
    }
    if !outcome.stderr.is_empty() {
        out.push_str("\nstderr:\n");
        out.push_str(&outcome.stderr.text_within(STDERR_FOR_MODEL));
    }
    out
}
