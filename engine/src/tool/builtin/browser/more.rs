//! The browser tools that move around and look: scroll, back and forward, tabs, screenshots,
//! waiting for the page, and downloading a file into the workspace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chromiumoxide::cdp::browser_protocol::browser::{
    CancelDownloadParams, DownloadProgressState, EventDownloadProgress, EventDownloadWillBegin,
};
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, GetNavigationHistoryParams, NavigateToHistoryEntryParams,
};
use chromiumoxide::page::ScreenshotParams;
use futures::StreamExt;
use schemars::JsonSchema;
use serde::Deserialize;

use super::page::{self, Target};
use super::{Browsers, DEFAULT_CHARS, FAMILY, MAX_DOWNLOAD, MAX_WAIT, bounded, report, running};
use crate::api::{Effect, ToolKind};
use crate::tool::{Scope, Tool, ToolCx, ToolError, ToolOutput, Workspace};

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArgs {}

/// Which way to scroll.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    #[default]
    Down,
    Up,
}

/// Scrolls the page (or brings an element into view).
pub(crate) struct BrowserScroll(pub Arc<Browsers>);

/// Arguments of `browser_scroll`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct ScrollArgs {
    /// Down (default) or up, by most of a screen.
    #[serde(default)]
    pub direction: Direction,
    /// Or scroll until this element is in view.
    #[serde(flatten)]
    pub target: Target,
}

impl Tool for BrowserScroll {
    type Args = ScrollArgs;
    const NAME: &'static str = "browser_scroll";
    const KIND: ToolKind = ToolKind::Web;
    const GRANTS: Option<&'static str> = FAMILY;

    fn description(&self) -> &'static str {
        "Scroll the current page down or up by most of a screen, or until an element (ref, selector or name) is in view."
    }

    fn available(&self) -> bool {
        self.0.available()
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: ScrollArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let instance = running(&self.0, &cx).await?;
        bounded(&self.0, async {
            let mut state = instance.state.lock().await;
            let tab = state.page()?;
            let t = &args.target;
            if t.reference.is_some() || t.selector.is_some() || t.name.is_some() {
                let node = page::resolve(tab, &state.refs, t).await?;
                page::on_node(
                    tab,
                    node,
                    "function() { this.scrollIntoView({block: 'center'}); }",
                    None,
                )
                .await?;
            } else {
                let sign = match args.direction {
                    Direction::Down => "",
                    Direction::Up => "-",
                };
                tab.evaluate(format!(
                    "window.scrollBy(0, {sign}window.innerHeight * 0.8)"
                ))
                .await
                .map_err(|e| page::failed("the page did not scroll", &e))?;
            }
            report(&self.0, &instance, &mut state, "Scrolled.", DEFAULT_CHARS).await
        })
        .await
        .map(ToolOutput)
    }
}

/// Goes back or forward in the current tab's history.
async fn go(browsers: &Arc<Browsers>, cx: &ToolCx, step: i64) -> Result<ToolOutput, ToolError> {
    let instance = running(browsers, cx).await?;
    bounded(browsers, async {
        let mut state = instance.state.lock().await;
        let tab = state.page()?;
        let history = tab
            .execute(GetNavigationHistoryParams::default())
            .await
            .map_err(|e| page::failed("the tab's history could not be read", &e))?
            .result;
        let index = history.current_index + step;
        let Some(entry) = usize::try_from(index)
            .ok()
            .and_then(|i| history.entries.get(i))
        else {
            let way = if step < 0 { "back" } else { "forward" };
            return Err(ToolError::RespondToModel(format!(
                "there is no page to go {way} to"
            )));
        };
        tab.execute(NavigateToHistoryEntryParams::new(entry.id))
            .await
            .map_err(|e| page::failed("the tab could not go there", &e))?;
        page::settle(tab).await;
        let way = if step < 0 {
            "Went back."
        } else {
            "Went forward."
        };
        report(browsers, &instance, &mut state, way, DEFAULT_CHARS).await
    })
    .await
    .map(ToolOutput)
}

/// Goes back.
pub(crate) struct BrowserBack(pub Arc<Browsers>);

impl Tool for BrowserBack {
    type Args = NoArgs;
    const NAME: &'static str = "browser_back";
    const KIND: ToolKind = ToolKind::Web;
    const GRANTS: Option<&'static str> = FAMILY;

    fn description(&self) -> &'static str {
        "Go back to the previous page of the current tab."
    }

    fn available(&self) -> bool {
        self.0.available()
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, _args: NoArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        go(&self.0, &cx, -1).await
    }
}

/// Goes forward.
pub(crate) struct BrowserForward(pub Arc<Browsers>);

impl Tool for BrowserForward {
    type Args = NoArgs;
    const NAME: &'static str = "browser_forward";
    const KIND: ToolKind = ToolKind::Web;
    const GRANTS: Option<&'static str> = FAMILY;

    fn description(&self) -> &'static str {
        "Go forward again in the current tab (after browser_back)."
    }

    fn available(&self) -> bool {
        self.0.available()
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, _args: NoArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        go(&self.0, &cx, 1).await
    }
}

/// What to do with tabs.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TabAction {
    #[default]
    List,
    Switch,
    Close,
}

/// Lists, switches and closes tabs.
pub(crate) struct BrowserTabs(pub Arc<Browsers>);

/// Arguments of `browser_tabs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TabsArgs {
    /// list (default), switch or close.
    #[serde(default)]
    pub action: TabAction,
    /// The tab's number (from the list, starting at 1) to switch to or close.
    #[serde(default)]
    pub index: Option<usize>,
}

impl Tool for BrowserTabs {
    type Args = TabsArgs;
    const NAME: &'static str = "browser_tabs";
    const KIND: ToolKind = ToolKind::Web;
    const GRANTS: Option<&'static str> = FAMILY;

    fn description(&self) -> &'static str {
        "List the browser's tabs, switch to one, or close one (by its number from the list)."
    }

    fn available(&self) -> bool {
        self.0.available()
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: TabsArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let instance = running(&self.0, &cx).await?;
        bounded(&self.0, async {
            let mut state = instance.state.lock().await;
            let count = state.tabs.len();
            let pick = || {
                args.index
                    .filter(|i| (1..=count).contains(i))
                    .map(|i| i - 1)
                    .ok_or_else(|| {
                        ToolError::RespondToModel(format!("name a tab from 1 to {count}"))
                    })
            };
            match args.action {
                TabAction::List => {
                    let mut out = String::new();
                    for (i, tab) in state.tabs.iter().enumerate() {
                        let title = tab.get_title().await.ok().flatten().unwrap_or_default();
                        let url = tab.url().await.ok().flatten().unwrap_or_default();
                        let mark = if i == state.current { " (current)" } else { "" };
                        out.push_str(&format!(
                            "{}. {} — {}{mark}\n",
                            i + 1,
                            page::clean(&title),
                            page::clean(&url)
                        ));
                    }
                    Ok(out)
                }
                TabAction::Switch => {
                    state.current = pick()?;
                    let tab = state.page()?;
                    let _ = tab.bring_to_front().await;
                    report(&self.0, &instance, &mut state, "Switched.", DEFAULT_CHARS).await
                }
                TabAction::Close => {
                    let i = pick()?;
                    let tab = state.tabs.remove(i);
                    let _ = tab.close().await;
                    if state.tabs.is_empty() {
                        return Ok("Closed the last tab; browser_open opens a page again.".into());
                    }
                    state.current = state.current.min(state.tabs.len() - 1);
                    report(&self.0, &instance, &mut state, "Closed it.", DEFAULT_CHARS).await
                }
            }
        })
        .await
        .map(ToolOutput)
    }
}

/// Takes a screenshot of the visible part of the page.
pub(crate) struct BrowserScreenshot(pub Arc<Browsers>);

impl Tool for BrowserScreenshot {
    type Args = NoArgs;
    const NAME: &'static str = "browser_screenshot";
    const KIND: ToolKind = ToolKind::Web;
    const GRANTS: Option<&'static str> = FAMILY;

    fn description(&self) -> &'static str {
        "Take a screenshot of what the browser's current tab shows (1280×800); the image is shown to the person and, for models that see images, to you."
    }

    fn available(&self) -> bool {
        self.0.available()
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, _args: NoArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let instance = running(&self.0, &cx).await?;
        bounded(&self.0, async {
            let state = instance.state.lock().await;
            let tab = state.page()?;
            let png = tab
                .screenshot(
                    ScreenshotParams::builder()
                        .format(CaptureScreenshotFormat::Png)
                        .build(),
                )
                .await
                .map_err(|e| page::failed("the screenshot failed", &e))?;
            // A busy page can make a large PNG: then a JPEG of the same view.
            let image = if png.len() > crate::tool::MAX_CALL_IMAGE_BYTES {
                tab.screenshot(
                    ScreenshotParams::builder()
                        .format(CaptureScreenshotFormat::Jpeg)
                        .quality(70)
                        .build(),
                )
                .await
                .map_err(|e| page::failed("the screenshot failed", &e))?
            } else {
                png
            };
            let bytes = image.len();
            cx.live
                .image(image)
                .map_err(|why| ToolError::RespondToModel(format!("the screenshot was {why}")))?;
            let url = tab.url().await.ok().flatten().unwrap_or_default();
            Ok(format!(
                "Took a screenshot of {} ({bytes} bytes); it is attached.",
                page::clean(&url)
            ))
        })
        .await
        .map(ToolOutput)
    }
}

/// Waits for the page.
pub(crate) struct BrowserWait(pub Arc<Browsers>);

/// Arguments of `browser_wait`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitArgs {
    /// Wait until the page shows this text.
    #[serde(default)]
    pub text: Option<String>,
    /// Or until an element matching this CSS selector is there.
    #[serde(default)]
    pub selector: Option<String>,
    /// Or just wait this many milliseconds (at most 30000).
    #[serde(default)]
    pub ms: Option<u64>,
}

impl Tool for BrowserWait {
    type Args = WaitArgs;
    const NAME: &'static str = "browser_wait";
    const KIND: ToolKind = ToolKind::Web;
    const GRANTS: Option<&'static str> = FAMILY;

    fn description(&self) -> &'static str {
        "Wait until the current page shows a text or has an element (CSS selector), or for some milliseconds; at most 30 seconds. Returns the page."
    }

    fn available(&self) -> bool {
        self.0.available()
    }

    fn effect(&self) -> Effect {
        Effect::ReadOnly
    }

    async fn call(&self, args: WaitArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        let instance = running(&self.0, &cx).await?;
        let limit = args
            .ms
            .map_or(MAX_WAIT, |ms| Duration::from_millis(ms).min(MAX_WAIT));
        let mut state = instance.state.lock().await;
        let start = Instant::now();
        let met = loop {
            let tab = state.page()?;
            let met = match (&args.text, &args.selector) {
                (Some(text), _) => page::shows(tab, text).await,
                (None, Some(selector)) => tab.find_element(selector.as_str()).await.is_ok(),
                (None, None) => false,
            };
            if met || start.elapsed() >= limit || cx.cancel.is_cancelled() {
                break met;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let done = match (&args.text, &args.selector, met) {
            (None, None, _) => format!("Waited {} ms.", limit.as_millis()),
            (_, _, true) => format!("It is there (after {} ms).", start.elapsed().as_millis()),
            (_, _, false) => format!("It did not appear within {} ms.", limit.as_millis()),
        };
        bounded(
            &self.0,
            report(&self.0, &instance, &mut state, &done, DEFAULT_CHARS),
        )
        .await
        .map(ToolOutput)
    }
}

/// Downloads a file into the workspace by clicking what starts it.
pub(crate) struct BrowserDownload(pub Arc<Browsers>);

/// Arguments of `browser_download`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct DownloadArgs {
    #[serde(flatten)]
    pub target: Target,
    /// Where in the workspace to save the file, like "downloads/report.pdf".
    pub save_as: String,
}

impl Tool for BrowserDownload {
    type Args = DownloadArgs;
    const NAME: &'static str = "browser_download";
    const KIND: ToolKind = ToolKind::Web;

    fn description(&self) -> &'static str {
        "Download a file by clicking the link or button that starts it (ref, selector or visible name), and save it in the workspace at save_as. Needs the person's approval."
    }

    fn available(&self) -> bool {
        self.0.available()
    }

    fn effect(&self) -> Effect {
        Effect::Mutating
    }

    fn scope(&self, args: &DownloadArgs, workspace: &Workspace) -> Option<Scope> {
        workspace.scope_of(&args.save_as)
    }

    async fn call(&self, args: DownloadArgs, cx: ToolCx) -> Result<ToolOutput, ToolError> {
        // The place must be in the workspace before anything is fetched.
        let (_, rel) = cx.workspace.resolve(&args.save_as)?;
        if rel.as_os_str().is_empty() {
            return Err(ToolError::RespondToModel(
                "save_as needs a file name".into(),
            ));
        }
        let instance = running(&self.0, &cx).await?;
        let mut begun = instance
            .browser
            .event_listener::<EventDownloadWillBegin>()
            .await
            .map_err(|e| page::failed("downloads cannot be watched", &e))?;
        let mut progress = instance
            .browser
            .event_listener::<EventDownloadProgress>()
            .await
            .map_err(|e| page::failed("downloads cannot be watched", &e))?;
        let (guid, name) = {
            let state = instance.state.lock().await;
            let tab = state.page()?;
            let node = page::resolve(tab, &state.refs, &args.target).await?;
            page::click(tab, node).await?;
            let begun = tokio::time::timeout(Duration::from_secs(20), begun.next())
                .await
                .ok()
                .flatten()
                .ok_or_else(|| {
                    ToolError::RespondToModel(
                        "no download started; the click may have opened a page instead (take a browser_snapshot)".into(),
                    )
                })?;
            (begun.guid.clone(), page::clean(&begun.suggested_filename))
        };
        let limit = Duration::from_secs(self.0.config().timeout_secs.max(5) * 6);
        let finished = tokio::time::timeout(limit, async {
            while let Some(event) = progress.next().await {
                if event.guid != guid {
                    continue;
                }
                if event.received_bytes > MAX_DOWNLOAD as f64 {
                    return Err(format!("it is larger than {} MiB", MAX_DOWNLOAD >> 20));
                }
                match event.state {
                    DownloadProgressState::Completed => return Ok(()),
                    DownloadProgressState::Canceled => return Err("it was cancelled".into()),
                    DownloadProgressState::InProgress => {}
                }
            }
            Err("the browser stopped".into())
        })
        .await
        .unwrap_or_else(|_| Err(format!("it took longer than {} s", limit.as_secs())));
        if let Err(why) = finished {
            let _ = instance
                .browser
                .execute(CancelDownloadParams::new(guid.clone()))
                .await;
            let _ = tokio::fs::remove_file(instance.downloads.join(&guid)).await;
            return Err(ToolError::RespondToModel(format!(
                "the download of {name:?} failed: {why}"
            )));
        }
        let file = instance.downloads.join(&guid);
        let bytes = tokio::fs::read(&file)
            .await
            .map_err(|e| page::failed("the downloaded file could not be read", &e))?;
        let _ = tokio::fs::remove_file(&file).await;
        if bytes.len() as u64 > MAX_DOWNLOAD {
            return Err(ToolError::RespondToModel(format!(
                "the download is larger than {} MiB; it was not kept",
                MAX_DOWNLOAD >> 20
            )));
        }
        let workspace = cx.workspace.clone();
        let save_as = args.save_as.clone();
        let size = bytes.len();
        super::super::fs::blocking(move || super::super::fs::save(&workspace, &save_as, &bytes))
            .await?;
        Ok(ToolOutput(format!(
            "Downloaded {name:?} ({size} bytes) and saved it as {}.",
            args.save_as
        )))
    }
}
