//! Seeing the agent's browser and taking it over: a watched browser's page is sent to front ends
//! as screencast frames over the DevTools protocol (at most ten a second, JPEG), with its address
//! and the last action; the person can take the browser over — the agent's browser calls wait —
//! click, type and scroll in the page (forwarded as real input events), and hand it back, and
//! the agent's next call is told the person used it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::input::{
    DispatchKeyEventParams, DispatchKeyEventType, DispatchMouseEventParams, DispatchMouseEventType,
    InsertTextParams,
};
use chromiumoxide::cdp::browser_protocol::page::{
    EventScreencastFrame, ScreencastFrameAckParams, StartScreencastFormat, StartScreencastParams,
    StopScreencastParams,
};
use chromiumoxide::layout::Point;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::chrome::{Browsers, Instance, VIEWPORT};
use crate::api::{BrowserInput, BrowserView, ErrorInfo, ErrorKind, Event, SessionId};
use crate::tool::ToolError;

/// The shortest time between two frames sent.
const FRAME_GAP: Duration = Duration::from_millis(100);

impl Browsers {
    /// Starts or stops sending a conversation's frames; says where its browser stands.
    pub(crate) async fn watch(&self, session: Option<SessionId>, on: bool) -> BrowserView {
        if let Ok(mut watched) = self.watched.lock() {
            if on {
                watched.insert(session.clone());
            } else {
                watched.remove(&session);
            }
        }
        let instance = self.running(session.as_ref()).await;
        if let Some(instance) = &instance {
            if on {
                self.follow(instance).await;
            } else {
                instance.stop_screencast().await;
            }
        }
        view(instance.as_deref()).await
    }

    /// The person takes the browser over.
    pub(crate) async fn take_over(
        &self,
        session: Option<SessionId>,
    ) -> Result<BrowserView, ErrorInfo> {
        let instance = self.running(session.as_ref()).await.ok_or_else(|| {
            ErrorInfo::new(ErrorKind::Missing, "no browser runs for this conversation")
        })?;
        instance.taken_over.store(true, Ordering::SeqCst);
        instance.set_action("The person took over");
        Ok(view(Some(&instance)).await)
    }

    /// The person hands the browser back to the agent.
    pub(crate) async fn hand_back(&self, session: Option<SessionId>) -> BrowserView {
        let instance = self.running(session.as_ref()).await;
        if let Some(instance) = &instance
            && instance.taken_over.swap(false, Ordering::SeqCst)
        {
            instance.person_used.store(true, Ordering::SeqCst);
            instance.set_action("The person handed the browser back");
            instance.handed_back.notify_waiters();
        }
        view(instance.as_deref()).await
    }

    /// Forwards the person's input to the page they took over.
    pub(crate) async fn input(
        self: &Arc<Self>,
        session: Option<SessionId>,
        input: BrowserInput,
    ) -> Result<BrowserView, ErrorInfo> {
        let instance = self.running(session.as_ref()).await.ok_or_else(|| {
            ErrorInfo::new(ErrorKind::Missing, "no browser runs for this conversation")
        })?;
        if !instance.taken_over.load(Ordering::SeqCst) {
            return Err(ErrorInfo::new(
                ErrorKind::Conflict,
                "take the browser over before acting in it",
            ));
        }
        let did = {
            let state = instance.state.lock().await;
            let page = state
                .page()
                .map_err(|e| ErrorInfo::new(ErrorKind::Missing, e.to_string()))?;
            forward(page, &input)
                .await
                .map_err(|e| ErrorInfo::new(ErrorKind::Invalid, e.to_string()))?
        };
        instance.set_action(&did);
        self.refresh(&instance).await;
        // A click or Enter may load another page: front ends hear where it went once it has.
        let (browsers, settled) = (self.clone(), instance.clone());
        tokio::spawn(async move {
            let page = settled.state.lock().await.page().ok().cloned();
            if let Some(page) = page {
                super::page::settle(&page).await;
                browsers.announce(&settled).await;
            }
        });
        Ok(view(Some(&instance)).await)
    }

    /// After something happened in a browser: its frames follow its current tab (when watched)
    /// and front ends hear where it stands.
    pub(super) async fn announce(&self, instance: &Arc<Instance>) {
        self.refresh(instance).await;
        let view = view(Some(instance)).await;
        if let Some(events) = self.events.get() {
            events.emit(Event::BrowserState {
                session: instance.key.clone(),
                view,
            });
        }
    }

    /// Frames follow the current tab, when a front end watches.
    async fn refresh(&self, instance: &Arc<Instance>) {
        let watched = self.watched.lock().is_ok_and(|w| w.contains(&instance.key));
        if watched {
            self.follow(instance).await;
        }
    }

    /// Sends the current tab's frames (restarted when the tab changed).
    async fn follow(&self, instance: &Arc<Instance>) {
        let Some(events) = self.events.get().cloned() else {
            return;
        };
        let page = {
            let state = instance.state.lock().await;
            match state.page() {
                Ok(page) => page.clone(),
                Err(_) => return,
            }
        };
        {
            let current = instance.screencast.lock().ok();
            if current
                .as_ref()
                .and_then(|c| c.as_ref())
                .is_some_and(|(target, _)| target == page.target_id())
            {
                return;
            }
        }
        instance.stop_screencast().await;
        // The screencast sends frames as the page changes; a page at rest may send none for a
        // while, so the first frame is a screenshot.
        let first = page
            .screenshot(
                chromiumoxide::page::ScreenshotParams::builder()
                    .format(
                        chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat::Jpeg,
                    )
                    .quality(60)
                    .build(),
            )
            .await;
        if let Ok(jpeg) = first {
            use base64::Engine as _;
            events.emit(Event::BrowserFrame {
                session: instance.key.clone(),
                jpeg: base64::engine::general_purpose::STANDARD.encode(jpeg),
            });
        }
        let Ok(mut frames) = page.event_listener::<EventScreencastFrame>().await else {
            return;
        };
        let start = StartScreencastParams::builder()
            .format(StartScreencastFormat::Jpeg)
            .quality(60)
            .max_width(i64::from(VIEWPORT.0))
            .max_height(i64::from(VIEWPORT.1))
            .build();
        if let Err(e) = page.execute(start).await {
            tracing::debug!(%e, "the screencast did not start");
            return;
        }
        let key = instance.key.clone();
        let tab = page.clone();
        let task = tokio::spawn(async move {
            let mut last: Option<Instant> = None;
            while let Some(frame) = frames.next().await {
                // Chromium sends the next frame once this one is acknowledged: waiting here
                // holds the pace without dropping the last frame.
                if let Some(last) = last {
                    tokio::time::sleep(FRAME_GAP.saturating_sub(last.elapsed())).await;
                }
                last = Some(Instant::now());
                events.emit(Event::BrowserFrame {
                    session: key.clone(),
                    jpeg: AsRef::<str>::as_ref(&frame.data).to_owned(),
                });
                let _ = tab
                    .execute(ScreencastFrameAckParams::new(frame.session_id))
                    .await;
            }
        })
        .abort_handle();
        if let Ok(mut current) = instance.screencast.lock() {
            *current = Some((page.target_id().clone(), task));
        }
    }
}

impl Instance {
    /// Waits while the person has the browser (the agent's call pauses); a stopped turn stops
    /// waiting.
    pub(super) async fn wait_for_person(
        &self,
        cancel: &CancellationToken,
    ) -> Result<(), ToolError> {
        loop {
            let handed_back = self.handed_back.notified();
            if !self.taken_over.load(Ordering::SeqCst) {
                return Ok(());
            }
            tokio::select! {
                () = handed_back => {}
                () = cancel.cancelled() => {
                    return Err(ToolError::RespondToModel(
                        "the turn was stopped while the person had the browser".into(),
                    ));
                }
            }
        }
    }

    /// Notes what was done last.
    pub(super) fn set_action(&self, action: &str) {
        if let Ok(mut last) = self.last_action.lock() {
            *last = super::page::clean(action);
        }
    }

    async fn stop_screencast(&self) {
        let current = self.screencast.lock().ok().and_then(|mut c| c.take());
        if let Some((target, task)) = current {
            task.abort();
            let state = self.state.lock().await;
            if let Some(page) = state.tabs.iter().find(|p| p.target_id() == &target) {
                let _ = page.execute(StopScreencastParams::default()).await;
            }
        }
    }
}

/// Where a browser stands (none: no browser runs).
async fn view(instance: Option<&Instance>) -> BrowserView {
    let Some(instance) = instance else {
        return BrowserView::default();
    };
    let (url, title) = {
        let state = instance.state.lock().await;
        match state.page() {
            Ok(page) => (
                page.url().await.ok().flatten().unwrap_or_default(),
                page.get_title().await.ok().flatten().unwrap_or_default(),
            ),
            Err(_) => (String::new(), String::new()),
        }
    };
    BrowserView {
        running: true,
        url: super::page::clean(&url),
        title: super::page::clean(&title),
        last_action: instance
            .last_action
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default(),
        taken_over: instance.taken_over.load(Ordering::SeqCst),
    }
}

/// Sends one input of the person to the page; what it was, in words.
async fn forward(page: &Page, input: &BrowserInput) -> Result<String, ToolError> {
    let failed = |e: chromiumoxide::error::CdpError| super::page::failed("the input failed", &e);
    match input {
        BrowserInput::Click { x, y } => {
            let (x, y) = (
                x.clamp(0.0, f64::from(VIEWPORT.0)),
                y.clamp(0.0, f64::from(VIEWPORT.1)),
            );
            page.click(Point { x, y }).await.map_err(failed)?;
            Ok(format!("The person clicked at {x:.0}, {y:.0}"))
        }
        BrowserInput::Text { text } => {
            if text.chars().count() > 10_000 {
                return Err(ToolError::RespondToModel(
                    "at most 10000 characters at once".into(),
                ));
            }
            page.execute(InsertTextParams::new(text.as_str()))
                .await
                .map_err(failed)?;
            Ok("The person typed".to_owned())
        }
        BrowserInput::Key { key } => {
            let (name, code) = key.dom();
            for kind in [DispatchKeyEventType::KeyDown, DispatchKeyEventType::KeyUp] {
                let mut event = DispatchKeyEventParams::builder()
                    .r#type(kind.clone())
                    .key(name)
                    .code(name)
                    .windows_virtual_key_code(code)
                    .native_virtual_key_code(code);
                if kind == DispatchKeyEventType::KeyDown && name == "Enter" {
                    event = event.text("\r");
                }
                let event = event
                    .build()
                    .map_err(|e| super::page::failed("the key failed", &e))?;
                page.execute(event).await.map_err(failed)?;
            }
            Ok(format!("The person pressed {name}"))
        }
        BrowserInput::Scroll { dy } => {
            let dy = dy.clamp(-10_000.0, 10_000.0);
            let wheel = DispatchMouseEventParams::builder()
                .r#type(DispatchMouseEventType::MouseWheel)
                .x(f64::from(VIEWPORT.0) / 2.0)
                .y(f64::from(VIEWPORT.1) / 2.0)
                .delta_x(0.0)
                .delta_y(dy)
                .build()
                .map_err(|e| super::page::failed("the scroll failed", &e))?;
            page.execute(wheel).await.map_err(failed)?;
            Ok("The person scrolled".to_owned())
        }
    }
}
