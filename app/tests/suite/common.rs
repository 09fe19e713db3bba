//! Runs the real `aetheria` binary with its own config and data folders.

use std::path::PathBuf;
use std::process::{Output, Stdio};

use tokio::process::Command;

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
