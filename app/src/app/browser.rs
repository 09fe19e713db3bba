//! The Browser tab, a component: the open conversation's browser as the agent drives it — its
//! page as live frames, its address and the last action — and **Take over**: the agent's browser
//! calls wait while the person clicks in the frame, types and presses keys (each forwarded to
//! the page), until **Hand back**. The tab watches the conversation's browser only while shown.

use aetheria_engine::api::{
    BROWSER_VIEWPORT, BrowserCommand, BrowserInput, BrowserKey, BrowserView, Command, Event,
    SessionId,
};
use iced::widget::image::Handle;
use iced::widget::{button, column, container, mouse_area, row, text, text_input};
use iced::{Element, Fill, Length, Point, mouse};

use super::Message;
use crate::theme::{self, BOLD, ButtonKind, MONO, Palette};

/// The frame's width on screen (the panel is widened for this tab).
pub const FRAME_WIDTH: f32 = 428.0;
/// Larger frames are refused before decoding.
const MAX_SIDE: u32 = 4096;

/// What the tab does.
#[derive(Debug, Clone)]
pub enum Msg {
    /// Take the browser over.
    TakeOver,
    /// Hand it back to the agent.
    HandBack,
    /// The pointer moved over the frame (in the frame's on-screen pixels).
    Moved(Point),
    /// A click on the frame.
    Pressed,
    /// The wheel over the frame.
    Wheel(mouse::ScrollDelta),
    /// What the person is typing for the page.
    Typing(String),
    /// Send what was typed.
    SendText,
    /// Press a key in the page.
    Key(BrowserKey),
}

/// The tab's state.
#[derive(Debug, Default)]
pub struct BrowserTab {
    /// The conversation watched (set while the tab is shown with a conversation open).
    watching: Option<SessionId>,
    /// Where its browser stands.
    pub view: BrowserView,
    /// Its last frame, decoded.
    frame: Option<Handle>,
    /// Where the pointer is over the frame.
    pointer: Option<Point>,
    /// Text waiting to be sent to the page.
    typing: String,
}

impl BrowserTab {
    /// Watches `want` (none: nothing) — the tab shown with that conversation open — and stops
    /// watching what it watched before.
    pub fn watch(&mut self, want: Option<&SessionId>, submit: &mut dyn FnMut(Command)) {
        if self.watching.as_ref() == want {
            return;
        }
        if let Some(old) = self.watching.take() {
            submit(Command::Browser(BrowserCommand::Watch {
                session: Some(old),
                on: false,
            }));
        }
        *self = Self::default();
        if let Some(session) = want {
            self.watching = Some(session.clone());
            submit(Command::Browser(BrowserCommand::Watch {
                session: Some(session.clone()),
                on: true,
            }));
        }
    }

    /// Takes the events of the watched browser; `true` when it took one.
    pub fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::BrowserState { session, view } => {
                if session.is_some() && *session == self.watching {
                    self.view = view.clone();
                    if !view.running {
                        self.frame = None;
                    }
                }
                true
            }
            Event::BrowserFrame { session, jpeg } => {
                if session.is_some() && *session == self.watching {
                    match decode(jpeg) {
                        Ok(frame) => self.frame = Some(frame),
                        Err(why) => tracing::debug!(%why, "a browser frame was not shown"),
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Handles a message of the tab.
    pub fn update(&mut self, msg: Msg, submit: &mut dyn FnMut(Command)) {
        let session = self.watching.clone();
        let input = |input| {
            Command::Browser(BrowserCommand::Input {
                session: session.clone(),
                input,
            })
        };
        match msg {
            Msg::TakeOver => submit(Command::Browser(BrowserCommand::TakeOver {
                session: session.clone(),
            })),
            Msg::HandBack => submit(Command::Browser(BrowserCommand::HandBack {
                session: session.clone(),
            })),
            Msg::Moved(point) => self.pointer = Some(point),
            Msg::Pressed => {
                if let Some((x, y)) = self.pointer.and_then(page_point) {
                    submit(input(BrowserInput::Click { x, y }));
                }
            }
            Msg::Wheel(delta) => {
                let dy = match delta {
                    mouse::ScrollDelta::Lines { y, .. } => -f64::from(y) * 60.0,
                    mouse::ScrollDelta::Pixels { y, .. } => -f64::from(y) * scale(),
                };
                submit(input(BrowserInput::Scroll { dy }));
            }
            Msg::Typing(typed) => self.typing = typed,
            Msg::SendText => {
                let text = std::mem::take(&mut self.typing);
                if !text.is_empty() {
                    submit(input(BrowserInput::Text { text }));
                }
            }
            Msg::Key(key) => submit(input(BrowserInput::Key { key })),
        }
    }

    /// The tab.
    pub fn view(&self, p: Palette) -> Element<'_, Message> {
        let own = |m| Message::Panel(super::panel::Msg::Browser(m));
        if self.watching.is_none() {
            return hint(p, "Open a conversation to see its browser.");
        }
        if !self.view.running {
            return hint(
                p,
                "No browser runs for this conversation. It starts when the agent opens a page.",
            );
        }
        let taken = self.view.taken_over;
        let height = FRAME_WIDTH * BROWSER_VIEWPORT.1 as f32 / BROWSER_VIEWPORT.0 as f32;
        let frame: Element<'_, Message> = match &self.frame {
            Some(frame) => iced::widget::image(frame.clone())
                .width(Length::Fixed(FRAME_WIDTH))
                .height(Length::Fixed(height))
                .into(),
            None => container(text("waiting for the page…").size(12).color(p.muted))
                .center(Length::Fixed(FRAME_WIDTH))
                .height(Length::Fixed(height))
                .into(),
        };
        // Taken over, the page is framed in the accent: what the person does goes to it.
        let frame = container(frame)
            .style(move |_| {
                let mut style = theme::block(&p, p.surface);
                if taken {
                    style.border.color = p.accent;
                    style.border.width = 4.0;
                }
                style
            })
            .padding(if taken { 4 } else { 0 });
        let frame: Element<'_, Message> = if taken {
            mouse_area(frame)
                .on_move(move |at| own(Msg::Moved(at)))
                .on_press(own(Msg::Pressed))
                .on_scroll(move |delta| own(Msg::Wheel(delta)))
                .interaction(mouse::Interaction::Crosshair)
                .into()
        } else {
            frame.into()
        };
        let (caption, kind, msg) = if taken {
            ("HAND BACK", ButtonKind::Ok, Msg::HandBack)
        } else {
            ("TAKE OVER", ButtonKind::Primary, Msg::TakeOver)
        };
        let mut body = column![
            text(self.view.title.as_str()).font(BOLD).size(14),
            text(self.view.url.as_str())
                .font(MONO)
                .size(11)
                .color(p.muted),
            frame,
            row![
                text(self.view.last_action.as_str())
                    .size(12)
                    .color(p.muted)
                    .width(Fill),
                theme::action(p, kind, caption).on_press(own(msg)),
            ]
            .spacing(8)
            .align_y(iced::Center),
        ]
        .spacing(8);
        if taken {
            let key = |caption: &'static str, key| {
                button(text(caption).font(BOLD).size(12))
                    .padding([4, 8])
                    .style(theme::button(p, ButtonKind::Secondary))
                    .on_press(own(Msg::Key(key)))
            };
            body = body
                .push(
                    text("You have the browser: click in the page, type below. The agent waits.")
                        .size(12),
                )
                .push(
                    text_input("Type into the page, Enter to send", &self.typing)
                        .on_input(move |t| own(Msg::Typing(t)))
                        .on_submit(own(Msg::SendText))
                        .size(13)
                        .padding(6)
                        .style(theme::input(p)),
                )
                .push(
                    row![
                        key("ENTER", BrowserKey::Enter),
                        key("TAB", BrowserKey::Tab),
                        key("⌫", BrowserKey::Backspace),
                        key("ESC", BrowserKey::Escape),
                        key("↑", BrowserKey::ArrowUp),
                        key("↓", BrowserKey::ArrowDown),
                    ]
                    .spacing(4),
                );
        }
        body.into()
    }
}

fn hint(p: Palette, what: &str) -> Element<'_, Message> {
    text(what).size(13).color(p.muted).into()
}

/// Page pixels per on-screen pixel of the frame.
fn scale() -> f64 {
    f64::from(BROWSER_VIEWPORT.0) / f64::from(FRAME_WIDTH)
}

/// Where a point of the frame on screen is in the page; none outside it.
fn page_point(at: Point) -> Option<(f64, f64)> {
    let (x, y) = (f64::from(at.x) * scale(), f64::from(at.y) * scale());
    let inside = (0.0..=f64::from(BROWSER_VIEWPORT.0)).contains(&x)
        && (0.0..=f64::from(BROWSER_VIEWPORT.1)).contains(&y);
    inside.then_some((x, y))
}

/// A frame from the engine, decoded here with bounds (it is never handed to the renderer as
/// bytes it may not read).
fn decode(jpeg: &str) -> Result<Handle, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(jpeg)
        .map_err(|e| e.to_string())?;
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(64 << 20);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| e.to_string())?.into_rgba8();
    Ok(Handle::from_rgba(
        image.width(),
        image.height(),
        image.into_raw(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_points_map_to_the_page_and_bad_frames_are_refused() {
        let (x, y) = page_point(Point::new(FRAME_WIDTH / 2.0, 10.0)).unwrap();
        assert!(
            (x - 640.0).abs() < 0.01 && (y - 29.9).abs() < 0.1,
            "{x} {y}"
        );
        assert_eq!(page_point(Point::new(FRAME_WIDTH + 5.0, 10.0)), None);
        assert!(decode("not base64 !").is_err());
        assert!(decode("aGVsbG8=").is_err(), "bytes that are no JPEG");
    }
}
