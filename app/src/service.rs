//! Aetheria's engine started at login by the system's own service manager (a systemd user unit on
//! Linux, a launchd agent on macOS), so scheduled prompts and queued jobs run whether or not a
//! window was opened. Shared by `aetheria service …` and the window's Settings → Background. Where
//! the service manager does not answer (no user session of systemd, as in a container), the file
//! is still written and the caller says how to start it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Why the service could not be set up, in a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ServiceError(pub String);

/// What installing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// Written, and the service manager starts it now and at every login.
    Running,
    /// Written, but the service manager did not take it: why, and the commands that would.
    Written { why: String, how: String },
}

/// The service's file: where it goes and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Where the file goes.
    pub path: PathBuf,
    /// What it says.
    pub text: String,
    /// The service manager's commands that start it now and at every login.
    pub enable: Vec<Vec<String>>,
    /// Those that stop it and forget it.
    pub disable: Vec<Vec<String>>,
}

/// The environment a service of this data folder needs: where its settings and data are, when not
/// in the default places.
#[cfg(any(target_os = "linux", target_os = "macos"))]
fn folders(env: &dyn Fn(&str) -> Option<OsString>) -> Vec<(&'static str, String)> {
    ["AETHERIA_CONFIG_DIR", "AETHERIA_DATA_DIR"]
        .into_iter()
        .filter_map(|name| {
            let value = env(name)?;
            let path = std::path::absolute(PathBuf::from(value)).ok()?;
            Some((name, path.display().to_string()))
        })
        .collect()
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[cfg(target_os = "linux")]
fn service(exe: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Service, ServiceError> {
    let config = match env("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => directories::BaseDirs::new()
            .map(|b| b.home_dir().join(".config"))
            .ok_or_else(|| ServiceError("no home folder is known for this user".into()))?,
    };
    // systemd's quoting: a word in double quotes, with `\` and `"` escaped, and `%` doubled.
    let quote = |s: &str| {
        format!(
            "\"{}\"",
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%")
        )
    };
    let mut text = String::from(
        "[Unit]\nDescription=Aetheria's engine: scheduled prompts and background jobs\n\n[Service]\n",
    );
    text.push_str(&format!(
        "ExecStart={} serve\n",
        quote(&exe.display().to_string())
    ));
    for (name, value) in folders(env) {
        text.push_str(&format!(
            "Environment={}\n",
            quote(&format!("{name}={value}"))
        ));
    }
    text.push_str("Restart=on-failure\n\n[Install]\nWantedBy=default.target\n");
    Ok(Service {
        path: config.join("systemd/user/aetheria.service"),
        text,
        enable: vec![
            strings(&["systemctl", "--user", "daemon-reload"]),
            strings(&["systemctl", "--user", "enable", "--now", "aetheria.service"]),
        ],
        disable: vec![
            strings(&[
                "systemctl",
                "--user",
                "disable",
                "--now",
                "aetheria.service",
            ]),
            strings(&["systemctl", "--user", "daemon-reload"]),
        ],
    })
}

#[cfg(target_os = "macos")]
fn service(exe: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Service, ServiceError> {
    let home = directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .ok_or_else(|| ServiceError("no home folder is known for this user".into()))?;
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut env = String::new();
    for (name, value) in folders(env) {
        env.push_str(&format!(
            "    <key>{name}</key><string>{}</string>\n",
            escape(&value)
        ));
    }
    let path = home.join("Library/LaunchAgents/com.aetheria.serve.plist");
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>com.aetheria.serve</string>\n  <key>ProgramArguments</key>\n  <array><string>{}</string><string>serve</string></array>\n  <key>EnvironmentVariables</key>\n  <dict>\n{env}  </dict>\n  <key>RunAtLoad</key><true/>\n  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>\n</dict>\n</plist>\n",
        escape(&exe.display().to_string())
    );
    let plist = path.display().to_string();
    Ok(Service {
        path,
        text,
        enable: vec![strings(&["launchctl", "load", "-w", plist.as_str()])],
        disable: vec![strings(&["launchctl", "unload", "-w", plist.as_str()])],
    })
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn service(_exe: &Path, _env: &dyn Fn(&str) -> Option<OsString>) -> Result<Service, ServiceError> {
    Err(ServiceError(
        "a login item is not made on this system yet: the engine the window starts keeps running after it closes while schedules or jobs are due, and `aetheria serve` runs it by hand"
            .into(),
    ))
}

/// Runs the service manager's commands; the first failure, if any.
fn run_all(commands: &[Vec<String>]) -> Option<String> {
    for command in commands {
        let Some((program, args)) = command.split_first() else {
            continue;
        };
        match std::process::Command::new(program).args(args).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                return Some(format!(
                    "`{}` failed: {}",
                    command.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Err(e) => return Some(format!("`{}` could not run: {e}", command.join(" "))),
        }
    }
    None
}

impl Service {
    /// The service that runs `exe serve` for this user, with the folders `env` names (the
    /// process's environment: `Service::for_program(exe, &|n| std::env::var_os(n))`).
    pub fn for_program(
        exe: &Path,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ServiceError> {
        service(exe, env)
    }

    /// The service of this very program and environment.
    pub fn of_this_program() -> Result<Self, ServiceError> {
        let exe = std::env::current_exe()
            .map_err(|e| ServiceError(format!("this program's path: {e}")))?;
        Self::for_program(&exe, &|name| std::env::var_os(name))
    }

    /// Whether its file is in place.
    pub fn installed(&self) -> bool {
        self.path.exists()
    }

    /// Writes the file and asks the service manager to start it now and at every login.
    pub fn install(&self) -> Result<Installed, ServiceError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ServiceError(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(&self.path, &self.text)
            .map_err(|e| ServiceError(format!("{}: {e}", self.path.display())))?;
        Ok(match run_all(&self.enable) {
            None => Installed::Running,
            Some(why) => {
                let how: Vec<String> = self.enable.iter().map(|c| c.join(" ")).collect();
                Installed::Written {
                    why,
                    how: how.join(" && "),
                }
            }
        })
    }

    /// Stops the service and removes its file; what the service manager said, when it failed.
    /// Nothing to do (`Ok(None)`) when no file is there.
    pub fn uninstall(&self) -> Result<Option<String>, ServiceError> {
        if !self.installed() {
            return Ok(None);
        }
        let stopped = run_all(&self.disable);
        std::fs::remove_file(&self.path)
            .map_err(|e| ServiceError(format!("{}: {e}", self.path.display())))?;
        Ok(stopped)
    }
}
