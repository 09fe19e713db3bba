//! The browsers the agent drives: one Chromium per conversation, started on first use with a
//! profile folder of its own, every connection sent through the web guard's proxy (so a page is
//! held to the places `web_fetch` may reach), spoken to over the DevTools protocol, and killed
//! with its conversation or the engine. Nothing of the engine's environment (keys, tokens)
//! reaches it: it starts with an empty environment.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, OnceLock, RwLock};
use std::time::Duration;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::browser::{
    SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use futures::StreamExt;
use tokio::io::AsyncBufReadExt;
use tokio::sync::Mutex;

use super::page::Refs;
use crate::api::SessionId;
use crate::config::WebConfig;
use crate::outbox::Outbox;
use crate::tool::ToolError;
use crate::tool::builtin::web::guard::{Proxy, Reach};

/// How long Chromium may take to start and open its DevTools socket (slow machines, both cores
/// busy with tests).
const START: Duration = Duration::from_secs(60);
/// The window a page is laid out in (and a screenshot's size).
pub(super) const VIEWPORT: (u32, u32) = crate::api::BROWSER_VIEWPORT;

/// The browsers of every conversation (and one for calls outside any).
pub(crate) struct Browsers {
    config: RwLock<WebConfig>,
    /// A Chromium was found (looked for when the settings change): the tools are offered.
    found: AtomicBool,
    /// Where each conversation's profile folder goes.
    data_dir: PathBuf,
    open: Mutex<HashMap<Option<SessionId>, Arc<Instance>>>,
    /// Where frames and states go (the engine's events).
    pub(super) events: OnceLock<Outbox>,
    /// The conversations whose frames a front end watches.
    pub(super) watched: SyncMutex<HashSet<Option<SessionId>>>,
}

/// One running browser.
pub(super) struct Instance {
    /// Its conversation.
    pub key: Option<SessionId>,
    pub browser: chromiumoxide::Browser,
    /// Killed when the instance is dropped.
    child: SyncMutex<Option<tokio::process::Child>>,
    handler: tokio::task::AbortHandle,
    _proxy: Proxy,
    /// The places the proxy kept the page from, since the last call looked.
    pub refused: Arc<SyncMutex<Vec<String>>>,
    /// Where downloads land before a call moves one into the workspace.
    pub downloads: PathBuf,
    /// A temporary profile (when the engine runs as root), removed with the instance.
    _temporary: Option<tempfile::TempDir>,
    /// The tabs and what the model last saw; one call acts at a time.
    pub state: Mutex<State>,
    /// The person has it; the agent's calls wait.
    pub taken_over: AtomicBool,
    /// Wakes the waiting calls when the person hands it back.
    pub handed_back: tokio::sync::Notify,
    /// The person used it since the agent last looked.
    pub person_used: AtomicBool,
    /// What was done last, for front ends.
    pub last_action: SyncMutex<String>,
    /// The tab whose frames are being sent, and the task sending them.
    pub screencast: SyncMutex<
        Option<(
            chromiumoxide::cdp::browser_protocol::target::TargetId,
            tokio::task::AbortHandle,
        )>,
    >,
}

/// The tabs and the last snapshot's element references.
pub(super) struct State {
    pub tabs: Vec<Page>,
    pub current: usize,
    pub refs: Refs,
}

impl State {
    pub fn page(&self) -> Result<&Page, ToolError> {
        self.tabs.get(self.current).ok_or_else(|| {
            ToolError::RespondToModel("the browser has no open tab; use browser_open".into())
        })
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.handler.abort();
        if let Ok(mut screencast) = self.screencast.lock()
            && let Some((_, task)) = screencast.take()
        {
            task.abort();
        }
        if let Ok(mut child) = self.child.lock()
            && let Some(child) = child.as_mut()
        {
            let _ = child.start_kill();
        }
    }
}

impl Browsers {
    pub(crate) fn new(config: WebConfig, data_dir: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            found: AtomicBool::new(found(&config)),
            config: RwLock::new(config),
            data_dir,
            open: Mutex::default(),
            events: OnceLock::new(),
            watched: SyncMutex::default(),
        })
    }

    /// Where frames and states are sent (set once, when the engine starts).
    pub(crate) fn attach(&self, events: Outbox) {
        let _ = self.events.set(events);
    }

    /// New settings apply to browsers started from now on.
    pub(crate) fn configure(&self, config: WebConfig) {
        self.found.store(found(&config), Ordering::Relaxed);
        if let Ok(mut c) = self.config.write() {
            *c = config;
        }
    }

    /// Whether a Chromium is there to drive.
    pub(super) fn available(&self) -> bool {
        self.found.load(Ordering::Relaxed)
    }

    pub(super) fn config(&self) -> WebConfig {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// The conversation's browser, if it runs.
    pub(super) async fn running(&self, session: Option<&SessionId>) -> Option<Arc<Instance>> {
        let open = self.open.lock().await;
        open.get(&session.cloned()).cloned()
    }

    /// The conversation's browser, started when it does not run (or has died).
    pub(super) async fn get(
        &self,
        session: Option<&SessionId>,
    ) -> Result<Arc<Instance>, ToolError> {
        let mut open = self.open.lock().await;
        let key = session.cloned();
        if let Some(instance) = open.get(&key) {
            let alive = instance
                .child
                .lock()
                .ok()
                .and_then(|mut c| c.as_mut().map(|c| matches!(c.try_wait(), Ok(None))))
                .unwrap_or(false);
            if alive {
                return Ok(instance.clone());
            }
            open.remove(&key);
        }
        let instance = Arc::new(self.start(session).await?);
        open.insert(key, instance.clone());
        Ok(instance)
    }

    /// Stops a conversation's browser (its profile stays, with its cookies).
    pub(crate) async fn close(&self, session: Option<&SessionId>) {
        let instance = self.open.lock().await.remove(&session.cloned());
        if let Some(instance) = instance {
            // Asked to close; the process is killed anyway when the instance is dropped.
            let close = chromiumoxide::cdp::browser_protocol::browser::CloseParams::default();
            let closed =
                tokio::time::timeout(Duration::from_secs(2), instance.browser.execute(close))
                    .await
                    .is_ok_and(|r| r.is_ok());
            tracing::debug!(closed, "a conversation's browser stopped");
            if let Some(events) = self.events.get() {
                events.emit(crate::api::Event::BrowserState {
                    session: session.cloned(),
                    view: crate::api::BrowserView::default(),
                });
            }
        }
    }

    /// Stops a conversation's browser and removes its profile (the conversation was deleted).
    pub(crate) async fn forget(&self, session: &SessionId) {
        self.close(Some(session)).await;
        let folder = self.profile_folder(Some(session));
        if folder.exists()
            && let Err(e) = tokio::fs::remove_dir_all(&folder).await
        {
            tracing::warn!(folder = %folder.display(), %e, "a browser profile was not removed");
        }
    }

    /// Stops every browser (the engine stops).
    pub(crate) async fn close_all(&self) {
        let keys: Vec<_> = self.open.lock().await.keys().cloned().collect();
        for key in keys {
            self.close(key.as_ref()).await;
        }
    }

    /// A conversation's profile folder under the data folder.
    fn profile_folder(&self, session: Option<&SessionId>) -> PathBuf {
        let name = session.map_or_else(
            || "direct".to_owned(),
            |s| {
                s.to_string()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                    .collect()
            },
        );
        self.data_dir.join("browser").join(name)
    }

    async fn start(&self, session: Option<&SessionId>) -> Result<Instance, ToolError> {
        let config = self.config();
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            ToolError::RespondToModel(format!("the browser could not start ({what}: {e})"))
        };
        let Some(binary) = super::super::web::chromium(&config) else {
            return Err(ToolError::RespondToModel(
                "no Chromium is installed; the browser tools need chromium (or Chrome)".into(),
            ));
        };
        let refused = Arc::new(SyncMutex::new(Vec::new()));
        let proxy = Proxy::start(Reach::new(&config.private_hosts).watched(refused.clone()))
            .await
            .map_err(|e| failed("its proxy", &e))?;
        // Chromium's own sandbox refuses root; as root it runs as nobody, who cannot enter the
        // data folder: then the profile is a temporary folder.
        let as_root = super::super::web::running_as_root();
        let (profile, temporary) = if as_root {
            let dir = tempfile::tempdir().map_err(|e| failed("a profile folder", &e))?;
            (dir.path().to_owned(), Some(dir))
        } else {
            (self.profile_folder(session), None)
        };
        let downloads = profile.join("Downloads");
        std::fs::create_dir_all(&downloads).map_err(|e| failed("a profile folder", &e))?;
        if as_root {
            super::super::web::hand_to_nobody(&profile)
                .map_err(|e| failed("a profile folder", &e))?;
            super::super::web::hand_to_nobody(&downloads)
                .map_err(|e| failed("a profile folder", &e))?;
        }
        let mut command = tokio::process::Command::new(&binary);
        if !config.browser_visible {
            command.arg("--headless");
        }
        command
            .args([
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--disable-features=Translate,MediaRouter,OptimizationHints",
                "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
                "--proxy-bypass-list=<-loopback>",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--window-size={},{}", VIEWPORT.0, VIEWPORT.1))
            .arg(format!("--proxy-server=http://{}", proxy.addr))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .env_clear()
            .env("HOME", &profile)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(display) = std::env::var_os("DISPLAY").filter(|_| config.browser_visible) {
            command.env("DISPLAY", display);
        }
        #[cfg(unix)]
        if as_root {
            command
                .uid(super::super::web::NOBODY)
                .gid(super::super::web::NOBODY);
        }
        #[cfg(target_os = "linux")]
        dies_with_engine(&mut command);
        let mut child = command
            .spawn()
            .map_err(|e| failed(&binary.display().to_string(), &e))?;
        let stderr = child.stderr.take();
        let address = tokio::time::timeout(START, devtools_address(stderr))
            .await
            .map_err(|_| failed("waiting for its DevTools socket", &"it took too long"))?
            .ok_or_else(|| {
                ToolError::RespondToModel(
                    "the browser could not start: Chromium ended before it listened (it runs only \
                     with its own sandbox, which needs user namespaces or its setuid helper)"
                        .into(),
                )
            })?;
        let handling = chromiumoxide::handler::HandlerConfig {
            // A certificate error stops the page, as in the person's own browser.
            ignore_https_errors: false,
            viewport: Some(chromiumoxide::handler::viewport::Viewport {
                width: VIEWPORT.0,
                height: VIEWPORT.1,
                ..Default::default()
            }),
            request_timeout: Duration::from_secs(config.timeout_secs.max(5) + 10),
            ..Default::default()
        };
        let (browser, mut handler) = chromiumoxide::Browser::connect_with_config(address, handling)
            .await
            .map_err(|e| failed("connecting to it", &e))?;
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    tracing::debug!(%e, "a browser message could not be read");
                }
            }
        })
        .abort_handle();
        browser
            .execute(
                SetDownloadBehaviorParams::builder()
                    .behavior(SetDownloadBehaviorBehavior::AllowAndName)
                    .download_path(downloads.display().to_string())
                    .events_enabled(true)
                    .build()
                    .map_err(|e| failed("its downloads", &e))?,
            )
            .await
            .map_err(|e| failed("its downloads", &e))?;
        let page = browser
            .new_page("about:blank")
            .await
            .map_err(|e| failed("its first tab", &e))?;
        super::page::prepare(&page).await?;
        // The window Chromium opened by itself is not one of the agent's tabs.
        for other in browser.pages().await.unwrap_or_default() {
            if other.target_id() != page.target_id() {
                let _ = other.close().await;
            }
        }
        Ok(Instance {
            key: session.cloned(),
            browser,
            child: SyncMutex::new(Some(child)),
            handler,
            _proxy: proxy,
            refused,
            downloads,
            _temporary: temporary,
            state: Mutex::new(State {
                tabs: vec![page],
                current: 0,
                refs: Refs::default(),
            }),
            taken_over: AtomicBool::new(false),
            handed_back: tokio::sync::Notify::new(),
            person_used: AtomicBool::new(false),
            last_action: SyncMutex::default(),
            screencast: SyncMutex::default(),
        })
    }
}

/// Linux: Chromium is killed when the engine's process ends, however it ends (a crash, a kill, an
/// exit that drops nothing), not only when the engine closes it.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn dies_with_engine(command: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the child between fork and exec, after its user changed (a
    // change of user would clear the setting), and makes one async-signal-safe system call.
    unsafe {
        command.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}

/// Whether the configured (or a found) Chromium binary exists.
fn found(config: &WebConfig) -> bool {
    super::super::web::chromium(config).is_some_and(|path| path.is_file())
}

/// The DevTools address Chromium prints when it listens; the rest of its error output is read
/// and dropped (a full pipe would stall it).
async fn devtools_address(stderr: Option<tokio::process::ChildStderr>) -> Option<String> {
    let mut lines = tokio::io::BufReader::new(stderr?).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(address) = line.strip_prefix("DevTools listening on ") {
            let address = address.trim().to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Some(address);
        }
    }
    None
}
