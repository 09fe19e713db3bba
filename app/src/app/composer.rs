//! The composer: the message being written and the files going with it — typed, pasted (Ctrl+V
//! attaches copied files and images), picked or dropped — and what can be done with it: send it,
//! stop the answer, send it to the background as a job, choose the model. It owns only what is
//! written; what the window does with it comes back as an `Event`.

use std::path::PathBuf;

use iced::widget::{button, column, container, pick_list, row, text, text_editor};
use iced::{Element, Length, Task, keyboard};

use super::view::{COMPOSER, btn, cut, label};
use super::{Message, ModelChoice, jobs, voice};
use crate::clipboard::Clip;
use crate::theme::{self, BOLD, ButtonKind, Palette};

/// What the composer does.
#[derive(Debug, Clone)]
pub enum Msg {
    /// An edit of the text.
    Edit(text_editor::Action),
    /// Send what it holds.
    Send,
    /// Stop the running answer (Esc in the composer, the Stop button).
    Stop,
    /// Open the file dialog.
    Attach,
    /// Files were picked or dropped onto the window.
    Attached(Vec<PathBuf>),
    /// Remove an attachment chip.
    Detach(usize),
    /// Ctrl+V: copied files or an image are attached, text is typed in.
    Paste,
    /// What the clipboard held.
    Pasted(Clip),
    /// Send the message as a background job instead.
    Background(jobs::Background),
    /// A provider was picked in the model picker.
    PickModel(ModelChoice),
}

/// What the composer asks of the window.
#[derive(Debug)]
pub enum Event {
    /// Send this message with these files.
    Send {
        /// What was written (trimmed).
        text: String,
        /// The files going with it.
        attachments: Vec<PathBuf>,
    },
    /// Stop the running answer.
    Stop,
    /// Queue this text as a job of this kind.
    Background {
        /// The kind of job.
        kind: jobs::Background,
        /// What was written.
        text: String,
    },
    /// Answer with this provider from now on.
    PickModel(ModelChoice),
    /// Something to tell the person (a file that cannot be attached, a clipboard that failed).
    Notice(String),
}

/// What the composer needs to know of the window.
pub struct Look {
    /// An engine is there to send to.
    pub engine: bool,
    /// An answer is running.
    pub running: bool,
    /// An approval prompt has the keys.
    pub asking: bool,
    /// Dictation's key, which the text does not take.
    pub hotkey: voice::Hotkey,
    /// The model picker's entries and the chosen one.
    pub choices: (Vec<ModelChoice>, Option<ModelChoice>),
}

/// The message being written.
#[derive(Debug, Default)]
pub struct Composer {
    content: text_editor::Content,
    attachments: Vec<PathBuf>,
}

impl Composer {
    /// The text as written.
    #[must_use]
    pub fn text(&self) -> String {
        self.content.text()
    }

    /// Handles a message; `engine` and `running` say what the window can do with it now; a
    /// pasted image is kept in `data_dir`'s `pasted` folder (the system's temporary folder's
    /// without one).
    pub fn update(
        &mut self,
        msg: Msg,
        engine: bool,
        running: bool,
        data_dir: Option<&std::path::Path>,
    ) -> (Task<Msg>, Option<Event>) {
        let none = |event| (Task::none(), event);
        match msg {
            Msg::Edit(action) => self.content.perform(action),
            Msg::Send => {
                let text = self.content.text().trim().to_owned();
                if !engine || running || (text.is_empty() && self.attachments.is_empty()) {
                    return none(None);
                }
                self.content = text_editor::Content::new();
                let attachments = std::mem::take(&mut self.attachments);
                return none(Some(Event::Send { text, attachments }));
            }
            Msg::Stop => return none(Some(Event::Stop)),
            Msg::Attach => {
                return (
                    Task::perform(super::input::pick_files(), Msg::Attached),
                    None,
                );
            }
            Msg::Attached(paths) => return none(self.attach(paths)),
            Msg::Detach(index) => {
                if index < self.attachments.len() {
                    self.attachments.remove(index);
                }
            }
            Msg::Paste => {
                // Kept where attached images are looked for; the engine copies them on send.
                let dir = data_dir
                    .map_or_else(std::env::temp_dir, std::path::Path::to_path_buf)
                    .join("pasted");
                let read = async move {
                    tokio::task::spawn_blocking(move || crate::clipboard::read(&dir))
                        .await
                        .unwrap_or_else(|e| Clip::Failed(e.to_string()))
                };
                return (Task::perform(read, Msg::Pasted), None);
            }
            Msg::Pasted(clip) => {
                let paths = match clip {
                    Clip::Files(paths) => paths,
                    Clip::Image(path) => vec![path],
                    Clip::Text(text) => {
                        self.paste(text);
                        return none(None);
                    }
                    Clip::Empty => return none(None),
                    Clip::Failed(why) => return none(Some(Event::Notice(why))),
                };
                // The chips appear above the editor, which then takes the typing again.
                let notice = self.attach(paths);
                return (iced::widget::operation::focus(COMPOSER), notice);
            }
            Msg::Background(kind) => {
                let text = self.content.text().trim().to_owned();
                if text.is_empty() || !engine {
                    return none(None);
                }
                self.content = text_editor::Content::new();
                return none(Some(Event::Background { kind, text }));
            }
            Msg::PickModel(choice) => return none(Some(Event::PickModel(choice))),
        }
        none(None)
    }

    /// Adds files (once each); a path that is no file is said.
    fn attach(&mut self, paths: Vec<PathBuf>) -> Option<Event> {
        let mut notice = None;
        for path in paths {
            if !path.is_file() {
                notice = Some(Event::Notice(format!(
                    "{} is not a file; only files can be attached",
                    path.display()
                )));
            } else if !self.attachments.contains(&path) {
                self.attachments.push(path);
            }
        }
        notice
    }

    fn paste(&mut self, text: String) {
        let paste = text_editor::Edit::Paste(std::sync::Arc::new(text));
        self.content.perform(text_editor::Action::Edit(paste));
    }

    /// Puts dictated words at the cursor, with a space before them when the text needs one.
    pub fn insert_spaced(&mut self, words: &str) {
        let cursor = self.content.cursor().position;
        let line = self
            .content
            .line(cursor.line)
            .map(|l| l.text.to_string())
            .unwrap_or_default();
        let before = line.chars().take(cursor.column).last();
        match before {
            Some(c) if !c.is_whitespace() => self.paste(format!(" {words}")),
            _ => self.paste(words.to_owned()),
        }
    }

    /// The composer: `banner` (approvals waiting in the chat) above it, `mic` beside Attach,
    /// `bar` (dictation) below it.
    pub fn view<'a>(
        &'a self,
        p: Palette,
        look: Look,
        banner: Option<Element<'a, Message>>,
        mic: Element<'a, Message>,
        bar: Option<Element<'a, Message>>,
    ) -> Element<'a, Message> {
        let own = |msg: Msg| Message::Composer(msg);
        let Look {
            engine,
            running,
            asking,
            hotkey,
            choices: (choices, current),
        } = look;
        let editor = text_editor(&self.content)
            .id(COMPOSER)
            .placeholder("Message Aetheria — Enter sends, Shift+Enter adds a line")
            .on_action(move |a| own(Msg::Edit(a)))
            .height(Length::Fixed(92.0))
            .padding(12)
            .size(16)
            .style(theme::editor(p))
            .key_binding(move |press| binding(press, asking, running, &hotkey));
        // The whole text, read once per redraw (reading it joins the editor's lines).
        let written = self.content.text();
        let has_text = !written.trim().is_empty();
        let ready = engine && (has_text || !self.attachments.is_empty());
        let go = if running {
            btn(p, ButtonKind::Danger, "Stop").on_press(own(Msg::Stop))
        } else {
            btn(p, ButtonKind::Primary, "Send").on_press_maybe(ready.then_some(own(Msg::Send)))
        };
        // Background sends the message as a job instead (research and Python: the palette).
        let later = btn(p, ButtonKind::Secondary, "Background").on_press_maybe(
            (engine && has_text).then_some(own(Msg::Background(jobs::Background::Prompt))),
        );
        let buttons = column![
            row![later, go].spacing(8),
            row![
                mic,
                btn(p, ButtonKind::Secondary, "Attach").on_press(own(Msg::Attach)),
            ]
            .spacing(8),
        ]
        .spacing(10)
        .align_x(iced::Right);
        let mut col = column![].spacing(8);
        if let Some(banner) = banner {
            col = col.push(banner);
        }
        if !self.attachments.is_empty() {
            col = col.push(self.chips(p));
        }
        col = col.push(row![editor, buttons].spacing(12).align_y(iced::Bottom));
        if let Some(bar) = bar {
            col = col.push(bar);
        }
        let mut footer = row![].spacing(12).align_y(iced::Center);
        if choices.len() > 1 {
            footer = footer.push(
                pick_list(choices, current, move |c| own(Msg::PickModel(c)))
                    .text_size(13)
                    .padding([4, 8])
                    .style(theme::pick_list(p)),
            );
        }
        if let Some(hint) = length_hint(&written) {
            footer = footer.push(label(hint).color(p.muted));
        }
        col.push(footer).into()
    }

    /// The files going with the message, each with its ×.
    fn chips(&self, p: Palette) -> Element<'_, Message> {
        let chips = self.attachments.iter().enumerate().map(|(i, path)| {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            container(
                row![
                    text(cut(&name, 32)).font(BOLD).size(12),
                    button(text("×").font(BOLD).size(12))
                        .padding([0, 4])
                        .style(theme::button(p, ButtonKind::Secondary))
                        .on_press(Message::Composer(Msg::Detach(i))),
                ]
                .spacing(6)
                .align_y(iced::Center),
            )
            .padding([3, 8])
            .style(move |_| theme::badge(&p, p.tool))
            .into()
        });
        iced::widget::row(chips).spacing(8).wrap().into()
    }
}

/// The composer's keys: while an approval waits they belong to the prompt, the push-to-talk key
/// to dictation; Esc stops a running answer, Enter sends (Shift+Enter adds a line), Ctrl+V
/// attaches copied files and images (text is typed as always).
fn binding(
    press: text_editor::KeyPress,
    asking: bool,
    running: bool,
    hotkey: &voice::Hotkey,
) -> Option<text_editor::Binding<Message>> {
    use keyboard::key::Named;
    if asking || hotkey.pressed(&press.key, press.modifiers) {
        return None;
    }
    let custom = |msg| Some(text_editor::Binding::Custom(Message::Composer(msg)));
    match press.key.as_ref() {
        keyboard::Key::Named(Named::Escape) if running => custom(Msg::Stop),
        keyboard::Key::Named(Named::Enter)
            if !press.modifiers.shift()
                && matches!(press.status, text_editor::Status::Focused { .. }) =>
        {
            custom(Msg::Send)
        }
        _ => match text_editor::Binding::from_key_press(press) {
            Some(text_editor::Binding::Paste) => custom(Msg::Paste),
            binding => binding,
        },
    }
}

/// For long input: characters and an estimate of tokens (about four characters each).
fn length_hint(text: &str) -> Option<String> {
    let chars = text.trim().chars().count();
    (chars >= 200).then(|| format!("{chars} characters · about {} tokens", chars.div_ceil(4)))
}
