//! Whole-app budgets, measured from outside as a person feels them, against a bare iced window
//! (`app/examples/bare_window.rs`: the app's iced, renderer, fonts, size and colours) in the same
//! run, on a private Xvfb: exec → first non-blank frame (fresh, and with many sessions and a
//! long conversation open), idle CPU and wakeups, resident memory, a long markdown answer streamed
//! from a loopback model server (last text on screen / the stream's duration, the intervals between
//! visible changes), and exit (SIGTERM and the close button → gone, the store closed cleanly).
//! The window's figures include the `aetheria serve` it starts to host its engine (and the window's
//! idle CPU is also shown alone).
//!
//! `installer/budgets.sh` builds and runs it (optimised); `--quick` is the short CI mode and
//! `--check` fails when a gated figure is over its budget plus the noise allowance (README,
//! "Performance"); the figures known over budget are shown, not gated.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    missing_docs
)]

#[path = "../shared/answer.rs"]
mod answer;
mod procs;
mod provider;
mod report;
mod screen;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aetheria_engine::api::{Command as EngineCommand, Event, SessionId, TurnCommand};
use aetheria_engine::config::{Config, ProviderConfig, Wire};
use aetheria_engine::{Engine, Events, Handle};

use provider::{Pace, Provider};
use report::Report;
use screen::{Region, Screen, Xvfb};

/// How much is measured.
struct Plan {
    runs: usize,
    idle: Duration,
    sessions: usize,
    messages: usize,
    turns: usize,
    stream_bytes: usize,
}

/// The middle of the window, where both the app's first frame and the bare window write.
const MIDDLE: Region = Region {
    x: 440,
    y: 350,
    w: 300,
    h: 60,
};
/// A band of the conversation just above the composer, where streamed text arrives.
const CONVERSATION: Region = Region {
    x: 300,
    y: 470,
    w: 540,
    h: 40,
};
/// The whole window, for "nothing changes".
const WINDOW: Region = Region {
    x: 0,
    y: 0,
    w: 1180,
    h: 760,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let check = args.iter().any(|a| a == "--check");
    let plan = if quick {
        Plan {
            runs: 3,
            idle: Duration::from_secs(5),
            sessions: 100,
            messages: 200,
            turns: 20,
            stream_bytes: 100_000,
        }
    } else {
        Plan {
            runs: 5,
            idle: Duration::from_secs(20),
            sessions: 1_000,
            messages: 1_000,
            turns: 100,
            stream_bytes: 100_000,
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let xvfb = Xvfb::start();
    let screen = Screen::open(&xvfb.display);
    let provider = runtime.block_on(Provider::start(Pace::AtOnce(answer::markdown(600))));
    let bench = Bench {
        app: PathBuf::from(env!("CARGO_BIN_EXE_aetheria")),
        display: xvfb.display.clone(),
        screen,
        provider,
        runtime,
        plan,
        shots: std::cell::Cell::new(0),
    };
    let mut report = Report::default();
    report.debug = cfg!(debug_assertions);
    bench.bare(&mut report);
    bench.welcome(&mut report);
    bench.long_conversation(&mut report);
    bench.streaming(&mut report);
    print!("{}", report.table());
    if check && !report.within_budgets() {
        println!("over budget (see the table)");
        std::process::exit(1);
    }
}

struct Bench {
    app: PathBuf,
    display: String,
    screen: Screen,
    provider: Provider,
    runtime: tokio::runtime::Runtime,
    plan: Plan,
    /// Screenshots taken so far (`shoot`).
    shots: std::cell::Cell<usize>,
}

/// A data folder and its config, removed when dropped.
struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new(provider: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["config", "data"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let folder = Self { dir };
        if let Some(base_url) = provider {
            let mut config = folder.config();
            config.use_provider(ProviderConfig {
                name: "bench".into(),
                wire: Wire::Openai,
                base_url: base_url.into(),
                model: "bench-model".into(),
                key_env: Some("AETHERIA_BENCH_KEY".into()),
                key_ref: None,
                context_window: None,
                vision: None,
            });
            config.save().unwrap();
        }
        folder
    }

    fn config(&self) -> Config {
        let (config, data) = (self.dir.path().join("config"), self.data());
        Config::load_from(config.clone(), data.clone())
            .unwrap_or_else(|_| Config::new(config, data))
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The window opens `session` at start, as it reopens the last one.
    fn open_at_start(&self, session: &SessionId) {
        let state = serde_json::json!({
            "width": 1180.0, "height": 760.0, "last_session": session,
            "dark": false, "font_size": 16.0
        });
        std::fs::write(self.data().join("window.json"), state.to_string()).unwrap();
    }

    fn env(&self, command: &mut Command) {
        command
            .env("AETHERIA_CONFIG_DIR", self.dir.path().join("config"))
            .env("AETHERIA_DATA_DIR", self.data())
            .env("AETHERIA_BENCH_KEY", "bench")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("RUST_LOG");
    }
}

/// A running window.
struct Window {
    child: Child,
    /// Exec → first non-blank frame.
    first_frame: Duration,
}

impl Bench {
    /// Starts `command` and waits for its first non-blank frame.
    fn launch(&self, mut command: Command) -> Window {
        let start = Instant::now();
        while self.screen.nonblank(MIDDLE) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the last window stays on screen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        command
            .env("DISPLAY", &self.display)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let exec = Instant::now();
        let mut child = command.spawn().expect("start the window");
        loop {
            if self.screen.nonblank(MIDDLE) {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the window exited before its first frame: {status}");
            }
            assert!(
                exec.elapsed() < Duration::from_secs(120),
                "no first frame in 120 s"
            );
            std::thread::sleep(Duration::from_millis(3));
        }
        Window {
            first_frame: exec.elapsed(),
            child,
        }
    }

    fn app(&self, folder: &Folder) -> Command {
        let mut command = Command::new(&self.app);
        folder.env(&mut command);
        command
    }

    /// The example built beside this harness (`target/PROFILE/examples/bare_window`).
    fn bare_window(&self) -> Command {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let bare = profile_dir.join("examples").join("bare_window");
        assert!(
            bare.exists(),
            "{} is missing: build it with `cargo build -p aetheria --example bare_window` (installer/budgets.sh does)",
            bare.display()
        );
        Command::new(bare)
    }

    /// Waits until the window has done what it does at start (its engine's answers drawn): the
    /// screen unchanged and less than 2 ms of CPU for 1 s (at most 60 s).
    fn settle(&self, pids: &dyn Fn() -> Vec<u32>) {
        let start = Instant::now();
        let mut last = screen::digest(&self.screen.grab(WINDOW));
        while start.elapsed() < Duration::from_secs(60) {
            let used = procs::over(&pids(), Duration::from_secs(1));
            let now = screen::digest(&self.screen.grab(WINDOW));
            if now == last && used.cpu < Duration::from_millis(2) {
                return;
            }
            last = now;
        }
        println!("  (did not settle in 60 s)");
    }

    /// Idle CPU and wakeups of all of `pids` and of the first (the window) alone, and whether the
    /// screen changed, over the plan's idle span.
    fn idle(&self, pids: &[u32]) -> (procs::Usage, procs::Usage, bool) {
        let before = screen::digest(&self.screen.grab(WINDOW));
        let mut each = procs::each_over(pids, self.plan.idle);
        let after = screen::digest(&self.screen.grab(WINDOW));
        let all = procs::Usage {
            cpu: each.iter().map(|u| u.cpu).sum(),
            wakeups: each.iter().map(|u| u.wakeups).sum(),
        };
        (all, each.swap_remove(0), before != after)
    }

    /// Idle figures scaled to 20 s (the budget's span; the quick mode measures less).
    fn per_20s(&self, used: &procs::Usage) -> (Duration, u64) {
        let scale = 20.0 / self.plan.idle.as_secs_f64();
        (
            used.cpu.mul_f64(scale),
            (used.wakeups as f64 * scale) as u64,
        )
    }

    /// Once the window has settled: its first frame, idle CPU and wakeups (with its engine, and
    /// alone), whether the screen changed, and memory.
    fn at_rest(&self, window: &Window, data: &Path, figures: &mut Runs) {
        let pid = window.child.id();
        let pids = || all_of(pid, data);
        self.settle(&pids);
        let (idle, window_idle, changed) = self.idle(&pids());
        figures.start.push(window.first_frame);
        let (cpu, wakeups) = self.per_20s(&idle);
        figures.idle_cpu.push(cpu);
        figures.wakeups.push(wakeups);
        figures.window_idle_cpu.push(self.per_20s(&window_idle).0);
        figures.changed |= changed;
        figures
            .rss
            .push(pids().iter().map(|p| procs::rss(*p)).sum());
        figures.window_rss.push(procs::rss(pid));
        self.shoot(figures.window_rss.len());
    }

    /// With `AETHERIA_BUDGETS_SHOTS=DIR`, keeps what the screen shows at rest (ImageMagick's
    /// `import`), to look at what was measured: `DIR/rest-N.png`.
    fn shoot(&self, n: usize) {
        let Some(dir) = std::env::var_os("AETHERIA_BUDGETS_SHOTS") else {
            return;
        };
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let shot = dir.join(format!("rest-{}-{n}.png", self.shots.get()));
        self.shots.set(self.shots.get() + 1);
        let made = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(&shot)
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "import (ImageMagick) could not take {}",
            shot.display()
        );
    }

    fn bare(&self, report: &mut Report) {
        println!("bare iced window…");
        let mut figures = Runs::default();
        for _ in 0..self.plan.runs {
            let mut window = self.launch(self.bare_window());
            let pid = window.child.id();
            self.settle(&|| vec![pid]);
            let (idle, _, _) = self.idle(&[pid]);
            figures.start.push(window.first_frame);
            let (cpu, wakeups) = self.per_20s(&idle);
            figures.idle_cpu.push(cpu);
            figures.wakeups.push(wakeups);
            figures.rss.push(procs::rss(pid));
            procs::signal(pid, "TERM");
            figures
                .exit
                .push(procs::wait_gone(&mut window.child, Duration::from_secs(10)).unwrap());
        }
        report.baseline(&figures);
    }

    fn welcome(&self, report: &mut Report) {
        println!("Aetheria, first run (the welcome)…");
        let mut figures = Runs::default();
        for _ in 0..self.plan.runs {
            let folder = Folder::new(None);
            let mut window = self.launch(self.app(&folder));
            let pid = window.child.id();
            let data = folder.data();
            self.at_rest(&window, &data, &mut figures);
            // The close button.
            let host = procs::host_of(&data);
            let win = self.screen.window_of(pid).expect("the window's X window");
            self.screen.close(win);
            figures.exit.push(
                procs::wait_gone(&mut window.child, Duration::from_secs(30)).expect("closed"),
            );
            if let Some(host) = host {
                figures.host_exit.push(self.stop_host(host, &folder));
            }
        }
        report.add("first run (welcome)", &figures);
    }

    /// Stops the `aetheria serve` of `folder` with SIGTERM; how long it took, after checking its
    /// store opens again (closed cleanly).
    fn stop_host(&self, host: u32, folder: &Folder) -> Duration {
        procs::signal(host, "TERM");
        let took = procs::wait_pid_gone(host, Duration::from_secs(30)).expect("serve ends");
        self.runtime.block_on(async {
            let opened = Engine::open(folder.config(), "bench")
                .await
                .expect("the store reopens");
            assert_eq!(
                opened.host.pid,
                std::process::id(),
                "the folder is free once serve ended"
            );
            shutdown(opened.handle, opened.events).await;
        });
        took
    }

    fn long_conversation(&self, report: &mut Report) {
        let plan = &self.plan;
        println!(
            "Aetheria with {} sessions and a {}-message conversation open…",
            plan.sessions, plan.messages
        );
        let folder = Folder::new(Some(&self.provider.base_url));
        let long = self
            .runtime
            .block_on(seed(&folder, plan.sessions, plan.messages));
        folder.open_at_start(&long);
        let mut figures = Runs::default();
        for run in 0..plan.runs {
            let mut window = self.launch(self.app(&folder));
            let pid = window.child.id();
            let data = folder.data();
            let pids = || all_of(pid, &data);
            self.at_rest(&window, &data, &mut figures);
            if run + 1 == plan.runs {
                // Turns in the open conversation, sent by another client of the same engine.
                let before = procs::rss(pid);
                let text = self.runtime.block_on(async {
                    let opened = Engine::open(folder.config(), "bench").await.unwrap();
                    let (handle, mut events) = (opened.handle, opened.events);
                    let mut text = 0;
                    for i in 0..plan.turns {
                        let message = format!("Turn {i}: tell me more.");
                        text += message.len() + 600;
                        turn(&handle, &mut events, &long, message).await;
                    }
                    text
                });
                self.settle(&pids);
                figures.growth = Some((procs::rss(pid).saturating_sub(before), text));
            }
            let host = procs::host_of(&data);
            procs::signal(pid, "TERM");
            figures
                .exit
                .push(procs::wait_gone(&mut window.child, Duration::from_secs(30)).expect("ended"));
            if let Some(host) = host {
                figures.host_exit.push(self.stop_host(host, &folder));
            }
        }
        report.add("a long conversation open", &figures);
    }

    fn streaming(&self, report: &mut Report) {
        let bytes = self.plan.stream_bytes;
        println!("a {} KB markdown answer at 2,000 chunks/s…", bytes / 1000);
        let folder = Folder::new(Some(&self.provider.base_url));
        let session = self.runtime.block_on(seed(&folder, 0, 2));
        folder.open_at_start(&session);
        let mut window = self.launch(self.app(&folder));
        let pid = window.child.id();
        let data = folder.data();
        let pids = || all_of(pid, &data);
        self.settle(&pids);
        let text = answer::markdown(bytes);
        // 2,000 chunks a second of `bytes / 25,000` bytes: 12.5 s for 100 KB, as measured before.
        let chunk = (bytes / 25_000).max(1);
        self.provider.pace(Pace::Paced {
            text,
            bytes: chunk,
            per_sec: 2_000,
        });
        let cpu_before: u64 = pids().iter().map(|p| procs::cpu_ns(*p)).sum();
        let (handle, events) = self.runtime.block_on(async {
            let opened = Engine::open(folder.config(), "bench").await.unwrap();
            (opened.handle, opened.events)
        });
        handle
            .submit(EngineCommand::Turn(TurnCommand::Send {
                session,
                text: "Write it all down.".into(),
                attachments: vec![],
                create: false,
                allow: vec![],
            }))
            .unwrap();
        // Every visible change of the conversation until it has been still for 3 s after the
        // stream ended (at most 20× the stream's length).
        let mut changes = Vec::new();
        let mut last = screen::digest(&self.screen.grab(CONVERSATION));
        let watch = Instant::now();
        let limit = Duration::from_secs_f64(bytes as f64 / chunk as f64 / 2_000.0 * 20.0 + 10.0);
        loop {
            let now = screen::digest(&self.screen.grab(CONVERSATION));
            let at = Instant::now();
            if now != last {
                changes.push(at);
                last = now;
            }
            if let Some((_, end)) = self.provider.sent() {
                let still_since = changes.last().copied().unwrap_or(end).max(end);
                if at.duration_since(still_since) > Duration::from_secs(3) {
                    break;
                }
            }
            if watch.elapsed() > limit {
                println!("  (still changing after {limit:?})");
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let cpu: u64 = pids().iter().map(|p| procs::cpu_ns(*p)).sum::<u64>() - cpu_before;
        let (first, end) = self.provider.sent().expect("the answer streamed");
        let shown = changes.last().copied().unwrap_or(end);
        let intervals: Vec<Duration> = changes
            .windows(2)
            .filter(|w| w[0] >= first && w[1] <= end)
            .map(|w| w[1] - w[0])
            .collect();
        self.settle(&pids);
        let (idle, _, changed) = self.idle(&pids());
        report.streaming(report::Streaming {
            duration: end - first,
            shown: shown.saturating_duration_since(first),
            cpu: Duration::from_nanos(cpu),
            intervals,
            idle_after: idle,
            changed_after: changed,
            idle_span: self.plan.idle,
        });
        self.runtime.block_on(async move {
            drop(events);
            drop(handle);
        });
        let host = procs::host_of(&data);
        procs::signal(pid, "TERM");
        procs::wait_gone(&mut window.child, Duration::from_secs(30)).expect("ended");
        if let Some(host) = host {
            self.stop_host(host, &folder);
        }
    }
}

/// The window and the `aetheria serve` hosting its data folder.
fn all_of(window: u32, data: &Path) -> Vec<u32> {
    let mut pids = vec![window];
    pids.extend(procs::host_of(data));
    pids
}

/// What one configuration measured, run after run.
#[derive(Default)]
pub struct Runs {
    pub start: Vec<Duration>,
    pub idle_cpu: Vec<Duration>,
    /// The window's part of it.
    pub window_idle_cpu: Vec<Duration>,
    pub wakeups: Vec<u64>,
    pub rss: Vec<u64>,
    pub window_rss: Vec<u64>,
    pub exit: Vec<Duration>,
    pub host_exit: Vec<Duration>,
    /// The screen changed while idle (a redraw that showed something).
    pub changed: bool,
    /// Resident memory grown over the turns, and the text they stored.
    pub growth: Option<(u64, usize)>,
}

/// Seeds `sessions` one-turn sessions and one of `messages` messages (the one returned), through
/// an engine hosted here, then stops it.
async fn seed(folder: &Folder, sessions: usize, messages: usize) -> SessionId {
    let opened = Engine::open(folder.config(), "bench").await.unwrap();
    let (handle, mut events) = (opened.handle, opened.events);
    // Many sessions at once (each runs its own turn), twenty at a time.
    let mut left = sessions;
    while left > 0 {
        let batch = left.min(20);
        let mut waiting = std::collections::HashSet::new();
        for _ in 0..batch {
            let session = SessionId::new();
            send(
                &handle,
                &session,
                "Summarise the notes, please.".into(),
                true,
            );
            waiting.insert(session);
        }
        while !waiting.is_empty() {
            if let Some(Event::TurnFinished { session, .. }) = events.recv().await.map(|e| e.event)
            {
                waiting.remove(&session);
            }
        }
        left -= batch;
    }
    let long = SessionId::new();
    send(&handle, &long, "Let us begin.".into(), true);
    finished(&mut events, &long).await;
    for i in 1..messages / 2 {
        turn(&handle, &mut events, &long, format!("And then, step {i}?")).await;
    }
    shutdown(handle, events).await;
    long
}

fn send(handle: &Handle, session: &SessionId, text: String, create: bool) {
    handle
        .submit(EngineCommand::Turn(TurnCommand::Send {
            session: session.clone(),
            text,
            attachments: vec![],
            create,
            allow: vec![],
        }))
        .unwrap();
}

async fn turn(handle: &Handle, events: &mut Events, session: &SessionId, text: String) {
    send(handle, session, text, false);
    finished(events, session).await;
}

async fn finished(events: &mut Events, session: &SessionId) {
    while let Some(envelope) = events.recv().await {
        match envelope.event {
            Event::TurnFinished { session: s, .. } if &s == session => return,
            Event::TurnFailed { session: s, error } if &s == session => {
                panic!("a seeding turn failed: {}", error.message)
            }
            _ => {}
        }
    }
}

async fn shutdown(handle: Handle, mut events: Events) {
    handle.submit(EngineCommand::Shutdown).unwrap();
    while events.recv().await.is_some() {}
}
