//! `aetheria service install|uninstall|status`: `aetheria serve` started at login by the system's
//! own service manager (a systemd user unit on Linux, a launchd agent on macOS), so scheduled
//! prompts and queued jobs run whether or not a window was opened. Where the service manager does
//! not answer (no user session of systemd, as in a container), the file is still written and the
//! command says how to start it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::CliError;

/// The service's file: where it goes and what it says.
struct Unit {
    path: PathBuf,
    text: String,
    /// The service manager's commands that start it now and at every login.
    enable: Vec<Vec<String>>,
    /// Those that stop it and forget it.
    disable: Vec<Vec<String>>,
}

/// The environment a service of this data folder needs: where its settings and data are, when not
/// in the default places.
#[cfg(any(target_os = "linux", target_os = "macos"))]
fn folders() -> Vec<(&'static str, String)> {
    ["AETHERIA_CONFIG_DIR", "AETHERIA_DATA_DIR"]
        .into_iter()
        .filter_map(|name| {
            let value = std::env::var_os(name)?;
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
fn unit(exe: &Path) -> Result<Unit, CliError> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => directories::BaseDirs::new()
            .map(|b| b.home_dir().join(".config"))
            .ok_or_else(|| CliError::new("no home folder is known for this user"))?,
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
    for (name, value) in folders() {
        text.push_str(&format!(
            "Environment={}\n",
            quote(&format!("{name}={value}"))
        ));
    }
    text.push_str("Restart=on-failure\n\n[Install]\nWantedBy=default.target\n");
    Ok(Unit {
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
fn unit(exe: &Path) -> Result<Unit, CliError> {
    let home = directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .ok_or_else(|| CliError::new("no home folder is known for this user"))?;
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut env = String::new();
    for (name, value) in folders() {
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
    Ok(Unit {
        path,
        text,
        enable: vec![strings(&["launchctl", "load", "-w", plist.as_str()])],
        disable: vec![strings(&["launchctl", "unload", "-w", plist.as_str()])],
    })
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn unit(_exe: &Path) -> Result<Unit, CliError> {
    Err(CliError::new(
        "on this system a data folder's engine is not served to other processes yet, so there is no service to install: keep the window open for schedules and jobs",
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

pub(super) fn install() -> Result<ExitCode, CliError> {
    let exe =
        std::env::current_exe().map_err(|e| CliError::new(format!("this program's path: {e}")))?;
    let unit = unit(&exe)?;
    if let Some(dir) = unit.path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::new(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(&unit.path, &unit.text)
        .map_err(|e| CliError::new(format!("{}: {e}", unit.path.display())))?;
    println!("wrote {}", unit.path.display());
    match run_all(&unit.enable) {
        None => {
            println!("the engine now starts at login (`aetheria serve`), and runs now");
            Ok(ExitCode::SUCCESS)
        }
        Some(why) => {
            let how: Vec<String> = unit.enable.iter().map(|c| c.join(" ")).collect();
            Err(CliError::new(format!(
                "the service manager did not take it ({why}); in a session that has one, run: {}",
                how.join(" && ")
            )))
        }
    }
}

pub(super) fn uninstall() -> Result<ExitCode, CliError> {
    let exe =
        std::env::current_exe().map_err(|e| CliError::new(format!("this program's path: {e}")))?;
    let unit = unit(&exe)?;
    if !unit.path.exists() {
        println!(
            "no service is installed ({} is absent)",
            unit.path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let stopped = run_all(&unit.disable);
    std::fs::remove_file(&unit.path)
        .map_err(|e| CliError::new(format!("{}: {e}", unit.path.display())))?;
    println!("removed {}", unit.path.display());
    if let Some(why) = stopped {
        eprintln!("(the service manager said: {why})");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn status() -> Result<ExitCode, CliError> {
    let exe =
        std::env::current_exe().map_err(|e| CliError::new(format!("this program's path: {e}")))?;
    let unit = unit(&exe)?;
    if unit.path.exists() {
        println!("installed: {}", unit.path.display());
    } else {
        println!("not installed ({} is absent)", unit.path.display());
    }
    Ok(ExitCode::SUCCESS)
}
