//! `aetheria service install|uninstall|status` on Linux: the systemd user unit it writes really
//! starts `aetheria serve` on this environment's folders, and systemd is asked to enable it. A
//! systemd user session cannot run here (no systemd in CI's container), so a `systemctl` on PATH
//! that records what it is asked stands in for it; the unit itself is run as systemd would.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::common::{Env, stderr, stdout};

/// A `systemctl` that appends its arguments to `calls` and exits with `code`.
fn fake_systemctl(bin: &Path, calls: &Path, code: i32) {
    std::fs::create_dir_all(bin).unwrap();
    let script = bin.join("systemctl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n[ {code} = 0 ] || echo 'Failed to connect to bus' >&2\nexit {code}\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// systemd's reading of one quoted word of a unit (what `install` wrote).
fn unquote(word: &str) -> String {
    let inner = word.trim().trim_start_matches('"').trim_end_matches('"');
    inner
        .replace("\\\"", "\"")
        .replace("\\\\", "\\")
        .replace("%%", "%")
}

#[tokio::test]
async fn service_install_writes_a_user_unit_that_runs_serve_and_enables_it() {
    let env = Env::new("http://127.0.0.1:9/v1");
    let config_home = env.dir.path().join("xdg-config");
    let bin = env.dir.path().join("bin");
    let calls = env.dir.path().join("calls");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let unit_path = config_home.join("systemd/user/aetheria.service");
    let run = |args: &'static [&'static str]| {
        let mut command = env.command(args);
        command
            .env("XDG_CONFIG_HOME", &config_home)
            .env("PATH", &path);
        command
    };

    // Without a service manager that answers: the unit is written and the command says how.
    fake_systemctl(&bin, &calls, 1);
    let out = run(&["service", "install"]).output().await.unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("in a session that has one, run: systemctl --user daemon-reload && systemctl --user enable --now aetheria.service"),
        "{}",
        stderr(&out)
    );
    assert!(unit_path.exists());

    // With one: enabled and started.
    std::fs::remove_file(&calls).unwrap();
    fake_systemctl(&bin, &calls, 0);
    let out = run(&["service", "install"]).output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "--user daemon-reload\n--user enable --now aetheria.service\n"
    );
    let out = run(&["service", "status"]).output().await.unwrap();
    assert!(stdout(&out).starts_with("installed: "), "{}", stdout(&out));

    // The unit starts `aetheria serve` on this environment's folders, as systemd would run it.
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let (program, rest) = exec.rsplit_once(' ').unwrap();
    assert_eq!(rest, "serve");
    assert_eq!(unquote(program), env!("CARGO_BIN_EXE_aetheria"));
    let mut serve = tokio::process::Command::new(unquote(program));
    serve
        .arg(rest)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", env.dir.path())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for line in unit.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let (name, value) = unquote(line)
            .split_once('=')
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .unwrap();
        serve.env(name, value);
    }
    let mut child = serve.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap_or_default();
    let data = env.dir.path().join("data");
    assert!(
        first.starts_with(&format!("serve: hosting {}", data.display())),
        "{first}"
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // Uninstalled: disabled, and the file is gone.
    std::fs::remove_file(&calls).unwrap();
    let out = run(&["service", "uninstall"]).output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!unit_path.exists());
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "--user disable --now aetheria.service\n--user daemon-reload\n"
    );
    let out = run(&["service", "status"]).output().await.unwrap();
    assert!(
        stdout(&out).starts_with("not installed"),
        "{}",
        stdout(&out)
    );
}

/// Scrolls the settings screen to its end, clicks `caption` and runs what the click started.
async fn click_and_run(app: &mut aetheria_app::app::App, caption: &str) {
    use iced::mouse::{Event::WheelScrolled, ScrollDelta};
    let mut ui = iced_test::simulator(app.view());
    ui.point_at(iced::Point::new(512.0, 384.0));
    let _ = ui.simulate([iced::Event::Mouse(WheelScrolled {
        delta: ScrollDelta::Lines { x: 0.0, y: -1000.0 },
    })]);
    ui.click(caption)
        .unwrap_or_else(|e| panic!("cannot click {caption:?}: {e:?}"));
    for message in ui.into_messages() {
        let task = app.update(message);
        super::gui::run_task(app, task).await;
    }
}

#[tokio::test]
async fn settings_starts_the_engine_at_login_and_stops_it() {
    use aetheria_app::app::{App, Message};
    use aetheria_app::engine_bridge::BridgeEvent;
    use aetheria_app::service::Service;
    use aetheria_engine::api::Event;

    let env = Env::new("http://127.0.0.1:9/v1");
    let config_home = env.dir.path().join("xdg-config");
    let bin = env.dir.path().join("bin");
    let calls = env.dir.path().join("calls");
    let unit_path = config_home.join("systemd/user/aetheria.service");
    let data = env.dir.path().join("data");
    let folders = |name: &str| match name {
        "XDG_CONFIG_HOME" => Some(config_home.clone().into_os_string()),
        "AETHERIA_DATA_DIR" => Some(data.clone().into_os_string()),
        _ => None,
    };
    let mut service =
        Service::for_program(Path::new(env!("CARGO_BIN_EXE_aetheria")), &folders).unwrap();
    // The service manager is a recording one, answering "no session bus" first.
    fake_systemctl(&bin, &calls, 1);
    for command in service.enable.iter_mut().chain(service.disable.iter_mut()) {
        command[0] = bin.join("systemctl").display().to_string();
    }

    let config = aetheria_engine::config::Config::new(env.dir.path().join("config"), data.clone());
    let (handle, mut events) = aetheria_engine::Engine::start(config).await.unwrap();
    let mut app = App::new();
    app.use_login_service(service);
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle,
        provider: None,
        workspace: vec![],
    }));
    // No provider: the welcome (the settings screen) opens by itself.
    super::gui::pump(&mut app, &mut events, |e| {
        matches!(e, Event::Settings { .. })
    })
    .await;
    super::gui::click(&mut app, "General");
    assert!(super::gui::shows(&app, "Does not start at login."));

    // The service manager refuses: the file is written, and the window says what to run.
    click_and_run(&mut app, "Start at login").await;
    assert!(unit_path.exists());
    assert!(
        super::gui::shows(
            &app,
            &format!(
                "Written to {}, but the service manager did not take it (`{} --user daemon-reload` failed: Failed to connect to bus). In a session that has one, run: {} --user daemon-reload && {} --user enable --now aetheria.service",
                unit_path.display(),
                bin.join("systemctl").display(),
                bin.join("systemctl").display(),
                bin.join("systemctl").display(),
            )
        ),
        "the refusal is shown"
    );

    // It takes it: enabled and started; the switch now turns it off.
    std::fs::remove_file(&calls).unwrap();
    fake_systemctl(&bin, &calls, 0);
    click_and_run(&mut app, "Stop starting at login").await;
    assert!(!unit_path.exists());
    assert!(super::gui::shows(
        &app,
        "The engine no longer starts at login."
    ));
    click_and_run(&mut app, "Start at login").await;
    assert!(super::gui::shows(
        &app,
        "The engine now starts at every login, and runs now."
    ));
    assert!(super::gui::shows(&app, &unit_path.display().to_string()));
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "--user disable --now aetheria.service\n--user daemon-reload\n--user daemon-reload\n--user enable --now aetheria.service\n"
    );
    // What the window wrote is what `aetheria service` writes for these folders.
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(
        unit.contains(&format!(
            "Environment=\"AETHERIA_DATA_DIR={}\"",
            data.display()
        )),
        "{unit}"
    );
    let out = env
        .command(&["service", "status"])
        .env("XDG_CONFIG_HOME", &config_home)
        .output()
        .await
        .unwrap();
    assert_eq!(
        stdout(&out).trim(),
        format!("installed: {}", unit_path.display())
    );
}
