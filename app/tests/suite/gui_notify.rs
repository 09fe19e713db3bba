//! A background job that ends tells the desktop: a real notification server (dunst, on the test
//! display and D-Bus session that `installer/dev.sh test` provides) receives it.

use std::process::Command as Process;
use std::time::Duration;

use aetheria_app::app::{App, Message};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::Engine;
use aetheria_engine::api::{Command, Event, JobsCommand};
use aetheria_engine::config::Config;
use aetheria_engine::jobs::{JobKind, JobSpec, JobState};
use aetheria_engine::testkit::skip;

use super::gui::pump;

/// dunst, killed when dropped.
struct Dunst(std::process::Child);

impl Drop for Dunst {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dunstctl(args: &[&str]) -> Option<String> {
    let out = Process::new("dunstctl").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_shows_a_desktop_notification() {
    if skip("notifications") {
        return;
    }
    assert!(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && std::env::var_os("DISPLAY").is_some(),
        "needs a D-Bus session and a display: run installer/dev.sh test"
    );
    let _dunst = Dunst(
        Process::new("dunst")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dunst is missing: installer/dev.sh deps test installs it"),
    );
    let mut ready = false;
    for _ in 0..50 {
        if dunstctl(&["count", "displayed"]).is_some() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "dunst did not take the notification service");

    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path().join("config"), dir.path().join("data"));
    let (handle, mut events) = Engine::start(config).await.unwrap();
    let engine = handle.clone();
    let mut app = App::new();
    let _ = app.update(Message::Bridge(BridgeEvent::Ready {
        handle,
        provider: None,
        workspace: vec![],
    }));
    // An odd length makes this job's notification easy to tell from any other test's.
    let job = JobSpec::new(JobKind::Wait {
        millis: 1237,
        fail_first: 0,
    });
    engine
        .submit(Command::Jobs(JobsCommand::Submit { job }))
        .unwrap();
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::JobUpdated { job } if job.state == JobState::Done),
    )
    .await;

    let mut seen = String::new();
    for _ in 0..50 {
        let _ = dunstctl(&["close-all"]);
        seen = dunstctl(&["history"]).unwrap_or_default();
        if seen.contains("Wait 1237 ms") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.contains("Wait 1237 ms"), "{seen}");
    assert!(seen.contains("Aetheria: job finished"), "{seen}");
    assert!(seen.contains("\"Aetheria\""), "the app name: {seen}");
}
