//! Aetheria's engine started at login by the system's own service manager (a systemd user unit on
//! Linux, a launchd agent on macOS, a script in the Startup folder on Windows), so scheduled
//! prompts and queued jobs run whether or not a window was opened. Shared by `aetheria service …`
//! and the window's Settings → Background. Where the service manager does not answer (no user
//! session of systemd, as in a container), the file is still written and the caller says how to
//! start it. Each system's file is made by a plain function, built and tested on every system.

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
    /// A program started now and left running, where no service manager command starts the
    /// service (Windows).
    pub start_now: Option<Vec<String>>,
}

/// The environment a service of this data folder needs: where its settings and data are, when not
/// in the default places.
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

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// The systemd user unit, under `config` (the user's `XDG_CONFIG_HOME`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn systemd(exe: &Path, folders: &[(&str, String)], config: &Path) -> Service {
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
    for (name, value) in folders {
        text.push_str(&format!(
            "Environment={}\n",
            quote(&format!("{name}={value}"))
        ));
    }
    text.push_str("Restart=on-failure\n\n[Install]\nWantedBy=default.target\n");
    Service {
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
        start_now: None,
    }
}

/// The launchd agent, under `home`.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
fn launchd(exe: &Path, folders: &[(&str, String)], home: &Path) -> Service {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut env = String::new();
    for (name, value) in folders {
        env.push_str(&format!(
            "    <key>{name}</key><string>{}</string>\n",
            escape(value)
        ));
    }
    let path = home.join("Library/LaunchAgents/com.aetheria.serve.plist");
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n  <key>Label</key><string>com.aetheria.serve</string>\n  <key>ProgramArguments</key>\n  <array><string>{}</string><string>serve</string></array>\n  <key>EnvironmentVariables</key>\n  <dict>\n{env}  </dict>\n  <key>RunAtLoad</key><true/>\n  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>\n</dict>\n</plist>\n",
        escape(&exe.display().to_string())
    );
    let plist = path.display().to_string();
    Service {
        path,
        text,
        enable: vec![strings(&["launchctl", "load", "-w", plist.as_str()])],
        disable: vec![strings(&["launchctl", "unload", "-w", plist.as_str()])],
        start_now: None,
    }
}

/// The login item on Windows: a script in the user's Startup folder (under `roaming`, the
/// roaming AppData folder), which Windows runs at every login and lists among the startup apps.
/// It sets the folders and starts `serve` in a console of its own, which `serve` lets go of (no
/// window stays); Windows has no command that starts it now, so `install` starts `serve` itself.
#[cfg_attr(not(windows), allow(dead_code))]
fn startup_script(exe: &Path, folders: &[(&str, String)], roaming: &Path) -> Service {
    // A batch file's quoting: inside `set "…"` and a quoted word every character is itself but
    // `%`, which is doubled (Windows paths cannot hold `"`).
    let quote = |s: &str| s.replace('%', "%%");
    let mut text = String::from(
        "@echo off\r\nrem Aetheria's engine: scheduled prompts and background jobs (aetheria service install)\r\n",
    );
    for (name, value) in folders {
        text.push_str(&format!("set \"{name}={}\"\r\n", quote(value)));
    }
    text.push_str(&format!(
        "start \"\" /min \"{}\" serve\r\n",
        quote(&exe.display().to_string())
    ));
    Service {
        path: [
            "Microsoft",
            "Windows",
            "Start Menu",
            "Programs",
            "Startup",
            "Aetheria engine.cmd",
        ]
        .iter()
        .fold(roaming.to_path_buf(), |path, part| path.join(part)),
        text,
        enable: Vec::new(),
        disable: Vec::new(),
        start_now: Some(vec![exe.display().to_string(), "serve".into()]),
    }
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
fn home() -> Result<PathBuf, ServiceError> {
    directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .ok_or_else(|| ServiceError("no home folder is known for this user".into()))
}

#[cfg(target_os = "linux")]
fn service(exe: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Service, ServiceError> {
    let config = match env("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => home()?.join(".config"),
    };
    Ok(systemd(exe, &folders(env), &config))
}

#[cfg(target_os = "macos")]
fn service(exe: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Service, ServiceError> {
    Ok(launchd(exe, &folders(env), &home()?))
}

#[cfg(windows)]
fn service(exe: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> Result<Service, ServiceError> {
    let roaming = match env("APPDATA").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => directories::BaseDirs::new()
            .map(|b| b.config_dir().to_path_buf())
            .ok_or_else(|| ServiceError("no AppData folder is known for this user".into()))?,
    };
    Ok(startup_script(exe, &folders(env), &roaming))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn service(_exe: &Path, _env: &dyn Fn(&str) -> Option<OsString>) -> Result<Service, ServiceError> {
    Err(ServiceError(
        "a login item is not made on this system yet: the engine the window starts keeps running after it closes while schedules or jobs are due, and `aetheria serve` runs it by hand"
            .into(),
    ))
}

/// Starts `command` and leaves it running, with no console window and nothing of this process's
/// (so a window's switch or a command's exit does not end it).
fn start_detached(command: &[String]) -> Option<String> {
    let (program, args) = command.split_first()?;
    let mut child = std::process::Command::new(program);
    child
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut child, 0);
    #[cfg(windows)]
    {
        /// `CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW`.
        const DETACHED: u32 = 0x0000_0200 | 0x0800_0000;
        std::os::windows::process::CommandExt::creation_flags(&mut child, DETACHED);
    }
    match child.spawn() {
        Ok(mut child) => {
            // Reaped when it ends, whenever that is.
            std::thread::spawn(move || child.wait());
            None
        }
        Err(e) => Some(format!("`{}` could not start: {e}", command.join(" "))),
    }
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
        let failed =
            run_all(&self.enable).or_else(|| self.start_now.as_deref().and_then(start_detached));
        Ok(match failed {
            None => Installed::Running,
            Some(why) => {
                let how: Vec<String> = self
                    .enable
                    .iter()
                    .chain(self.start_now.as_slice())
                    .map(|c| c.join(" "))
                    .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn folders() -> Vec<(&'static str, String)> {
        vec![("AETHERIA_DATA_DIR", "/data/100% mine \"&<x>".to_owned())]
    }

    #[test]
    fn the_systemd_unit_quotes_what_systemd_would_expand() {
        let unit = systemd(
            Path::new("/opt/a b/aetheria"),
            &folders(),
            Path::new("/home/u/.config"),
        );
        assert_eq!(
            unit.path,
            Path::new("/home/u/.config/systemd/user/aetheria.service")
        );
        assert!(
            unit.text
                .contains("ExecStart=\"/opt/a b/aetheria\" serve\n")
        );
        assert!(
            unit.text
                .contains("Environment=\"AETHERIA_DATA_DIR=/data/100%% mine \\\"&<x>\"\n"),
            "{}",
            unit.text
        );
        assert_eq!(unit.start_now, None);
    }

    #[test]
    fn the_launchd_agent_escapes_what_a_plist_would_read_as_markup() {
        let agent = launchd(
            Path::new("/Apps/A&B/aetheria"),
            &folders(),
            Path::new("/Users/u"),
        );
        assert_eq!(
            agent.path,
            Path::new("/Users/u/Library/LaunchAgents/com.aetheria.serve.plist")
        );
        assert!(agent.text.contains(
            "<array><string>/Apps/A&amp;B/aetheria</string><string>serve</string></array>"
        ));
        assert!(agent.text.contains(
            "<key>AETHERIA_DATA_DIR</key><string>/data/100% mine \"&amp;&lt;x&gt;</string>"
        ));
        assert_eq!(
            agent.enable,
            vec![strings(&[
                "launchctl",
                "load",
                "-w",
                "/Users/u/Library/LaunchAgents/com.aetheria.serve.plist"
            ])]
        );
    }

    #[test]
    fn the_windows_startup_script_sets_the_folders_and_starts_serve() {
        let exe = Path::new(r"C:\Program Files\100%\aetheria.exe");
        let folders = vec![("AETHERIA_DATA_DIR", r"D:\data & 50%".to_owned())];
        let script = startup_script(exe, &folders, Path::new("/roaming"));
        assert!(
            script
                .path
                .ends_with("Microsoft/Windows/Start Menu/Programs/Startup/Aetheria engine.cmd")
        );
        assert_eq!(
            script.text.split("\r\n").skip(2).collect::<Vec<_>>(),
            [
                "set \"AETHERIA_DATA_DIR=D:\\data & 50%%\"",
                "start \"\" /min \"C:\\Program Files\\100%%\\aetheria.exe\" serve",
                "",
            ]
        );
        assert!(script.text.starts_with("@echo off\r\n"));
        assert!(script.enable.is_empty() && script.disable.is_empty());
        assert_eq!(
            script.start_now,
            Some(vec![exe.display().to_string(), "serve".to_owned()])
        );
    }
}
