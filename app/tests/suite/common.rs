//! Runs the real `aetheria` binary with its own config and data folders.

use std::path::PathBuf;
use std::process::{Output, Stdio};

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// A running `aetheria serve`, and the rest of what it writes to stderr.
pub struct Serving {
    pub child: Child,
    pub lines: Lines<BufReader<ChildStderr>>,
}

impl Serving {
    /// Asks it to stop (SIGTERM) and returns the rest of what it said.
    pub async fn stop(mut self) -> String {
        let pid = self.child.id().unwrap();
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let mut said = String::new();
        while let Ok(Some(line)) = self.lines.next_line().await {
            said.push_str(&line);
            said.push('\n');
        }
        let status = self.child.wait().await.unwrap();
        assert!(status.success(), "{status}: {said}");
        said
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub workspace: PathBuf,
}

impl Env {
    /// Folders for config, data and a workspace; a config naming the loopback provider.
    pub fn new(base_url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let env = Self { dir, workspace };
        env.write_config(&format!(
            "workspace_roots = [{:?}]\n\n[[providers]]\nname = \"loopback\"\nwire = \"openai\"\nbase_url = \"{base_url}\"\nmodel = \"test-model\"\nkey_env = \"AETHERIA_TEST_LOOPBACK_KEY\"\nkey_ref = \"aetheria-test-absent\"\n",
            env.workspace
        ));
        env
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.dir.path().join("config/config.toml"), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(env!("CARGO_BIN_EXE_aetheria"), args)
    }

    /// Any program (e.g. `script` around the binary) with this environment's folders.
    pub fn command_of(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("AETHERIA_CONFIG_DIR", self.dir.path().join("config"))
            .env("AETHERIA_DATA_DIR", self.dir.path().join("data"))
            .env_remove("AETHERIA_TEST_LOOPBACK_KEY")
            .env_remove("AETHERIA_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// `aetheria serve` on this environment's folders, once it says it hosts them.
    pub async fn serve(&self, args: &[&str]) -> Serving {
        let mut child = self.command(&[&["serve"], args].concat()).spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let first = tokio::time::timeout(std::time::Duration::from_secs(120), lines.next_line())
            .await
            .expect("serve said nothing within 2 minutes")
            .unwrap()
            .unwrap_or_default();
        assert!(first.starts_with("serve: hosting"), "{first}");
        Serving { child, lines }
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON lines a `--json` command printed.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Reads the envelopes `aetheria ask --json` prints until `deltas` text deltas have come; the id of the
/// session the turn made.
pub async fn session_after_deltas(child: &mut Child, deltas: usize) -> String {
    let mut lines: Lines<BufReader<ChildStdout>> =
        BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut session, mut seen) = (None, 0);
    while let Some(line) = lines.next_line().await.unwrap() {
        let envelope: serde_json::Value = serde_json::from_str(&line).unwrap();
        let event = &envelope["event"];
        match event["type"].as_str() {
            Some("session_created") => {
                session = Some(event["session"]["id"].as_str().unwrap().to_owned());
            }
            Some("text_delta") => seen += 1,
            _ => {}
        }
        if seen == deltas {
            break;
        }
    }
    // The rest of its output is not read: keep the pipe open so it is not cut short.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    session.expect("no session_created event")
}
