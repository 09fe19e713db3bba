//! The sandbox from the person's side: the window's Sandbox tab with live output of a real Docker
//! run approved from its card in the chat, and the `aetheria sandbox` commands, also through a
//! remote-style `DOCKER_HOST`.

use std::time::Duration;

use aetheria_app::app::{App, Message};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::Engine;
use aetheria_engine::api::Event;
use aetheria_engine::config::Config;
use aetheria_engine::testkit::{Reply, ScriptedServer, skip};

use super::common::{Env, stderr, stdout};
use super::gui::{click, loopback, pump, pump_until_shown, shows, type_and_send};

/// Lets the sandbox's unprivileged user write the workspace, as a person's own folder.
fn hand_over(parent: &std::path::Path, workspace: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if std::fs::metadata("/proc/self").unwrap().uid() == 0 {
            std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::chown(workspace, Some(1000), Some(1000)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn code_output_streams_into_the_sandbox_tab_after_approval_in_the_chat() {
    if skip("docker") {
        return;
    }
    let code = "import time\nprint('tick 1', flush=True)\ntime.sleep(1.5)\nprint('tick 2')";
    let args = serde_json::json!({"language": "python", "code": code}).to_string();
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(&[("call_code", "run_code", &args)], 5),
        Reply::text(&["Ran it."]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    hand_over(dir.path(), &workspace);
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(loopback("loopback", &server));
    config.workspace_roots = vec![workspace.clone()];
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let mut app = App::new();
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle: handle.clone(),
        provider: Some("loopback · test-model".into()),
        workspace: vec![workspace.clone()],
    }));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SandboxStatus { .. })
    })
    .await;
    click(&mut app, "SANDBOX");
    assert!(shows(&app, "DOCKER"), "the tab names the backend");
    assert!(shows(&app, "READY"));
    assert!(shows(
        &app,
        "Code the agent runs in this session appears here, live."
    ));

    type_and_send(&mut app, "run some python");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ApprovalRequested { .. })
    })
    .await;
    assert!(shows(&app, "APPROVE THIS ACTION?"));
    // The person moves the decision into the chat and answers from the tool card.
    click(&mut app, "Review in chat");
    assert!(!shows(&app, "APPROVE THIS ACTION?"));
    assert!(shows(&app, "1 action waits for your approval in the chat"));
    click(&mut app, "Allow once");
    // Live output shows while the code runs (it sleeps 1.5 s after its first line).
    pump_until_shown(&mut app, &mut events, "tick 1\n").await;
    assert!(shows(&app, "RUNNING"));
    assert!(shows(&app, "python program"));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    assert!(
        shows(&app, "tick 1\ntick 2\n"),
        "the whole output stays in the tab"
    );
    assert!(shows(&app, "DONE"));
    assert!(!shows(&app, "1 action waits for your approval in the chat"));

    // Were the image missing, the tab offers to build it and shows the build's progress.
    let missing = aetheria_engine::api::SandboxStatus {
        backend: Some("docker".into()),
        ready: false,
        image: "aetheria-sandbox:missing".into(),
        rootfs_cached: false,
        detail: "Docker answers but the image is missing".into(),
    };
    let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![
        aetheria_engine::api::Envelope {
            submission: None,
            event: Event::SandboxStatus { status: missing },
        },
    ])));
    assert!(shows(&app, "NOT READY"));
    click(&mut app, "BUILD IMAGE");
    assert!(shows(&app, "starting the image build…"));
    assert!(!shows(&app, "BUILD IMAGE"), "one build at a time");
    let done = format!("ready: {}", aetheria_sandbox::image::image_ref());
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SandboxImageProgress { message, .. } if message.starts_with("ready:"))
    })
    .await;
    assert!(shows(&app, &done), "the build's progress is shown");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SandboxStatus { .. })
    })
    .await;
    assert!(shows(&app, "READY") && !shows(&app, "NOT READY"));

    handle
        .submit(aetheria_engine::api::Command::Shutdown)
        .unwrap();
    while tokio::time::timeout(Duration::from_secs(90), events.recv())
        .await
        .unwrap()
        .is_some()
    {}
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_runs_code_and_manages_sandboxes() {
    if skip("docker") {
        return;
    }
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(
            &[(
                "c1",
                "shell",
                &serde_json::json!({"command": "echo from-the-sandbox; id -u"}).to_string(),
            )],
            5,
        ),
        Reply::text(&["Done."]),
    ])
    .await
    .unwrap();
    let env = Env::new(&server.base_url());
    hand_over(env.dir.path(), &env.workspace);

    let status = env.run(&["sandbox", "status", "--json"]).await;
    assert!(status.status.success(), "{}", stderr(&status));
    let json: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(json["backend"], "docker");
    assert_eq!(json["ready"], true);

    let ask = env
        .run(&["ask", "--allow", "shell", "--json", "run it"])
        .await;
    assert!(ask.status.success(), "{}", stderr(&ask));
    let out = stdout(&ask);
    assert!(out.contains("from-the-sandbox"), "{out}");
    assert!(out.contains(r#""type":"tool_output_delta""#), "{out}");
    assert!(
        !out.contains("stdout:\\nfrom-the-sandbox\\n0\\n"),
        "code ran as root: {out}"
    );

    // `ask` removed its sandbox on exit; another app's container (this test's, alive: no sweep
    // takes it) is listed and removed by its id.
    let docker = aetheria_sandbox::connect_docker().await.unwrap();
    let other = aetheria_sandbox::Pool::new(aetheria_sandbox::DockerHost::connect().await.unwrap());
    let id = aetheria_sandbox::Sandbox::create(&other, &aetheria_sandbox::Spec::new("left-behind"))
        .await
        .unwrap();
    let ps = env.run(&["sandbox", "ps"]).await;
    assert!(ps.status.success(), "{}", stderr(&ps));
    assert!(stdout(&ps).contains("left-behind"), "{}", stdout(&ps));
    assert!(stdout(&ps).contains(&id.0[..12]), "{}", stdout(&ps));
    let rm = env.run(&["sandbox", "rm", &id.0[..12]]).await;
    assert!(rm.status.success(), "{}", stderr(&rm));
    assert_eq!(stdout(&rm).trim(), "removed 1 sandbox");
    assert!(docker.inspect_container(&id.0, None).await.is_err());
    let missing = env.run(&["sandbox", "rm", "nosuchsandbox"]).await;
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("nosuchsandbox"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_host_points_the_sandbox_at_another_engine() {
    if skip("docker") {
        return;
    }
    // A TCP endpoint in front of the local engine stands in for a remote Docker host.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut unix = tokio::net::UnixStream::connect("/var/run/docker.sock")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
            });
        }
    });
    let env = Env::new("http://127.0.0.1:9/v1");
    let status = env
        .command(&["sandbox", "status"])
        .env("DOCKER_HOST", format!("tcp://{addr}"))
        .output()
        .await
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    assert!(
        stdout(&status).contains("backend: docker"),
        "{}",
        stdout(&status)
    );
    assert!(
        seen.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "DOCKER_HOST was not used"
    );
    let wrong = env
        .command(&["sandbox", "status"])
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .env("PATH", "/nonexistent")
        .output()
        .await
        .unwrap();
    assert!(!wrong.status.success());
    assert!(
        stdout(&wrong).contains("backend: none"),
        "{}",
        stdout(&wrong)
    );
}
