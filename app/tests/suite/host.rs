//! One engine per data folder across processes: commands work beside a running host (the window
//! or `aetheria serve`), a turn started by `aetheria ask` streams in the window too, a host killed
//! mid-turn leaves the client a sentence and the next host the partial answer, a schedule fires
//! once with two hosts racing for the folder, and another user is refused.

use std::time::Duration;

use aetheria_app::app::{Action, App, Message};
use aetheria_app::engine_bridge::{BridgeEvent, for_window};
use aetheria_engine::Engine;
use aetheria_engine::api::Event;
use aetheria_engine::config::Config;
use aetheria_engine::testkit::{Reply, ScriptedServer, finish_chunk, text_chunk};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::common::{Env, session_after_deltas, stderr, stdout};
use super::gui::{loopback, shows};

fn slow_answer(words: usize, pause_ms: u64) -> Reply {
    let mut chunks: Vec<String> = (0..words)
        .map(|i| text_chunk(&format!("word{i} ")))
        .collect();
    chunks.push(finish_chunk("stop"));
    Reply::stream(chunks).with_delay(Duration::from_millis(pause_ms))
}

#[tokio::test]
async fn commands_work_beside_a_headless_host() {
    let server = ScriptedServer::start(vec![Reply::text(&["Hello ", "from serve."])])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    let serving = env.serve(&[]).await;

    let out = env.run(&["ask", "hi there"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Hello from serve.");
    let out = env.run(&["sessions", "list"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("hi there"), "{}", stdout(&out));
    let out = env.run(&["doctor"]).await;
    let pid = serving.child.id().unwrap();
    assert!(
        stdout(&out).contains(&format!("serve (pid {pid}) hosts")),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("open in the host"),
        "{}",
        stdout(&out)
    );
    // A second host for the same folder is not started.
    let out = env.run(&["serve"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is hosted already, by serve"),
        "{}",
        stderr(&out)
    );
    // A worker for this machine's queue finds the host running it.
    let out = env.run(&["worker"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("runs its queued jobs; nothing to do"),
        "{}",
        stderr(&out)
    );
    // Flags that would set up an engine of the command's own are refused beside a host, saying so.
    let out = env.run(&["ask", "--model", "other", "hi"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--model set up an engine"),
        "{}",
        stderr(&out)
    );

    let said = serving.stop().await;
    assert!(said.contains("serve: stopping (asked to stop)"), "{said}");
    // The folder is free again: a command hosts it by itself.
    let out = env.run(&["sessions", "list"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

#[tokio::test]
async fn a_turn_asked_in_the_terminal_streams_in_the_window() {
    let server = ScriptedServer::start(vec![slow_answer(120, 25)])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    let mut config = Config::new(env.dir.path().join("config"), env.dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    config.workspace_roots = vec![env.workspace.clone()];
    let opened = Engine::open(config, "window").await.unwrap();
    assert!(opened.hosting);
    let handle = opened.handle.clone();
    let mut events = opened.events;
    let mut app = App::new();
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle: opened.handle,
        provider: Some("loopback · test-model".into()),
        workspace: vec![],
    }));

    let mut ask = env.command(&["ask", "count for me"]).spawn().unwrap();
    // What the window is handed, as the bridge hands it: the session appears in the sidebar,
    // the person opens it, and the rest of the answer streams into the conversation.
    let (mut opened_session, mut created, mut deltas) = (false, None, 0);
    loop {
        let Ok(envelope) = tokio::time::timeout(Duration::from_secs(60), events.recv()).await
        else {
            ask.start_kill().unwrap();
            let out = ask.wait_with_output().await.unwrap();
            panic!("no event within 60 s; ask said: {}", stderr(&out));
        };
        let envelope = envelope.expect("the engine stopped");
        if !for_window(&handle, &envelope) {
            continue;
        }
        let finished = matches!(
            envelope.event,
            Event::TurnFinished { .. } | Event::TurnFailed { .. } | Event::TurnCancelled { .. }
        );
        if let Event::SessionCreated { session } = &envelope.event {
            created = Some(session.clone());
        }
        if matches!(envelope.event, Event::TextDelta { .. }) {
            deltas += 1;
        }
        let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![envelope])));
        if let Some(session) = &created {
            // In the sidebar at once.
            assert!(
                shows(&app, &session.title),
                "{} is not in the sidebar",
                session.title
            );
            // The person opens it once the answer is well under way (a click in the sidebar
            // sends this message): what streamed before comes with the session, the rest after.
            if deltas == 3 && !opened_session {
                let _ = app.update(Message::Do(Action::OpenSession(session.id.clone())));
                opened_session = true;
            }
        }
        if finished {
            break;
        }
    }
    assert!(opened_session, "the session never showed in the sidebar");
    // The window loaded what was stored when it opened the session, then followed the stream:
    // the answer is whole, in one entry.
    assert!(shows(&app, "count for me"));
    let whole: String = (0..120).map(|i| format!("word{i} ")).collect();
    assert!(
        shows(&app, whole.trim_end()),
        "the whole answer is in the window"
    );
    let out = ask.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), whole.trim_end());
}

#[tokio::test]
async fn a_host_killed_mid_turn_leaves_a_sentence_and_the_partial_answer() {
    let server = ScriptedServer::start(vec![slow_answer(300, 20)])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    let mut serving = env.serve(&[]).await;
    let mut ask = env
        .command(&["ask", "--json", "count slowly"])
        .spawn()
        .unwrap();
    let session = session_after_deltas(&mut ask, 20).await;
    // Past a checkpoint of the stored answer, then without warning.
    tokio::time::sleep(Duration::from_millis(400)).await;
    serving.child.start_kill().unwrap();
    serving.child.wait().await.unwrap();
    let out = ask.wait_with_output().await.unwrap();
    assert!(!out.status.success(), "the client cannot finish the turn");
    let said = stderr(&out);
    assert!(said.contains("(serve, pid"), "{said}");
    assert!(said.contains("went away"), "{said}");

    // The next process hosts the folder, recovers it, and finds the partial answer.
    let out = env.run(&["sessions", "show", &session, "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let loaded: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let messages = loaded["messages"].as_array().unwrap();
    assert_eq!(messages[0]["content"], "count slowly");
    let partial = messages[1]["content"].as_str().unwrap();
    assert!(partial.starts_with("word0 word1 "), "{partial:?}");
    let words = partial.split_whitespace().count();
    assert!((20..300).contains(&words), "{words} words: {partial:?}");
}

#[tokio::test]
async fn a_schedule_fires_once_with_two_hosts_racing_for_the_folder() {
    let server = ScriptedServer::start(vec![Reply::text(&["The brief."])])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    // Due once, some seconds from now (UTC, with seconds), after both hosts have started.
    let at = chrono::Utc::now() + chrono::Duration::seconds(25);
    let cron = at.format("%-S %-M %-H * * *").to_string();
    let out = env
        .run(&[
            "jobs",
            "schedule",
            &cron,
            "--tz",
            "UTC",
            "--text",
            "Morning brief",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));

    let mut first = env.command(&["serve"]).spawn().unwrap();
    let mut second = env.command(&["serve"]).spawn().unwrap();
    // One of them hosts; the other finds it hosting and ends.
    let second_ended = tokio::select! {
        status = second.wait() => status.unwrap().success(),
        status = first.wait() => !status.unwrap().success(),
    };
    let (host, other) = if second_ended {
        (first, second)
    } else {
        (second, first)
    };
    let other = other.wait_with_output().await.unwrap();
    assert!(other.status.success(), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("is hosted already"),
        "{}",
        stderr(&other)
    );

    fired(&server).await;
    // Past the occurrence: still one run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.requests().len(), 1);
    let out = env.run(&["jobs", "list", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let jobs: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");
    let pid = host.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let out = host.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Another user cannot reach the endpoint: its folder is the user's alone; and when the folders
/// around it are opened up by mistake, the host still refuses the stranger by its credentials.
#[cfg(unix)]
#[tokio::test]
async fn another_user_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    if !rustix_is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: this test needs to switch to another uid"
        );
        eprintln!("SKIPPED: another_user_is_refused needs root to run a client as another uid");
        return;
    }
    let server = ScriptedServer::start(vec![]).await.unwrap();
    let env = Env::new(&server.base_url());
    let run = env.dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut serve = env.command(&["serve"]);
    serve.env("XDG_RUNTIME_DIR", &run);
    let mut child = serve.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap_or_default();
    assert!(first.starts_with("serve: hosting"), "{first}");
    let socket = first
        .split(" on ")
        .nth(1)
        .and_then(|rest| rest.split(" (pid").next())
        .unwrap()
        .to_owned();
    assert!(socket.starts_with(&run.display().to_string()), "{socket}");

    // A client as uid 65534: says hello and prints what it is told.
    let stranger = |socket: String| async move {
        let script = r#"
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect failed:", e.strerror); sys.exit(0)
hello = json.dumps({"frame": "hello", "protocol": 1, "client": "stranger", "pid": 1}).encode()
try:
    s.sendall(struct.pack(">I", len(hello)) + hello)
except BrokenPipeError:
    pass  # refused before the hello was read: the answer is waiting all the same
head = s.recv(4)
print(s.recv(struct.unpack(">I", head)[0]).decode() if len(head) == 4 else "closed")
"#;
        let out = tokio::process::Command::new("python3")
            .args(["-c", script, &socket])
            .uid(65534)
            .gid(65534)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = stranger(socket.clone()).await;
    assert!(said.contains("connect failed: Permission denied"), "{said}");
    // Opened up by mistake: the credentials still decide.
    for dir in [env.dir.path(), run.as_path(), &run.join("aetheria")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let said = stranger(socket.clone()).await;
    assert!(said.contains(r#""frame":"refused""#), "{said}");
    assert!(said.contains("uid 65534"), "{said}");
    // And the person's own commands still work.
    let out = env
        .command(&["sessions", "list"])
        .env("XDG_RUNTIME_DIR", &run)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

#[cfg(unix)]
fn rustix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A window that finds no host starts `aetheria serve`, which outlives it: a schedule the window
/// added fires with no window open, and the host ends by itself once nothing is due.
#[tokio::test]
async fn the_host_a_window_starts_outlives_it_while_work_is_due() {
    use aetheria_engine::api::{Command, JobsCommand};
    use aetheria_engine::host::WhenNoHost;
    let server = ScriptedServer::start(vec![Reply::text(&["The brief."])])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    let config = Config::new(env.dir.path().join("config"), env.dir.path().join("data"));
    // What the window starts (its own program), with this environment's folders.
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_aetheria"));
    serve
        .args(["serve", "--idle-exit", "2"])
        .env("AETHERIA_CONFIG_DIR", env.dir.path().join("config"))
        .env("AETHERIA_DATA_DIR", env.dir.path().join("data"));
    let opened = Engine::open_with(config, "window", WhenNoHost::Start(serve))
        .await
        .unwrap();
    assert!(!opened.hosting, "the started serve hosts");
    assert_eq!(opened.host.kind, "serve");
    let pid = opened.host.pid;
    assert_ne!(pid, std::process::id());
    let (handle, mut events) = (opened.handle, opened.events);
    let at = chrono::Utc::now() + chrono::Duration::seconds(8);
    let added = handle
        .submit(Command::Jobs(JobsCommand::AddSchedule {
            cron: at.format("%-S %-M %-H * * *").to_string(),
            timezone: None,
            text: "Morning brief".into(),
            allow: vec![],
        }))
        .unwrap();
    loop {
        let envelope = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .unwrap()
            .unwrap();
        if envelope.submission == Some(added) {
            assert!(
                matches!(envelope.event, Event::ScheduleAdded { .. }),
                "{envelope:?}"
            );
            break;
        }
    }
    // The window closes.
    handle.submit(Command::Shutdown).unwrap();
    while events.recv().await.is_some() {}

    fired(&server).await;
    let alive = |pid: u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive(pid), "the host stays while a schedule exists");
    let out = env.run(&["jobs", "schedules", "--json"]).await;
    let schedules: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let id = schedules[0]["id"].as_str().unwrap().to_owned();
    let out = env.run(&["jobs", "unschedule", &id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    // Nothing connected, queued, running or scheduled: it ends by itself.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while alive(pid) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle host did not end"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = std::fs::read_to_string(env.dir.path().join("data/serve.log")).unwrap();
    assert!(log.contains("serve: stopping (idle)"), "{log}");
    assert_eq!(server.requests().len(), 1);
}

/// Waits (two minutes at most) until the scheduled prompt has asked the provider.
async fn fired(server: &ScriptedServer) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while server.requests().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the schedule never fired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
