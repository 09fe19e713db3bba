//! The conversation header's Export: the open session written to a Markdown file or one
//! self-contained HTML file, where the person chooses (as `aetheria sessions export` writes it).
//! It asks the engine for the stored session under its own submission and answers only that.

use std::path::{Path, PathBuf};

use aetheria_engine::Handle;
use aetheria_engine::api::{Command, Envelope, Event, SessionCommand, SessionId, SubmissionId};
use iced::widget::{button, row, text};
use iced::{Element, Task};

use crate::export::{self, Format};
use crate::theme::{self, BOLD, ButtonKind, Palette};

/// What Export does.
#[derive(Debug, Clone)]
pub enum ExportMsg {
    /// Ask where to write the open session as `Format`.
    Choose(Format),
    /// The file the person chose (none: the dialog was closed).
    Chosen(Format, Option<PathBuf>),
    /// The file was written, or why not.
    Written(Result<PathBuf, String>),
}

/// An export under way: the session asked for, and where it goes.
#[derive(Debug, Clone)]
struct Pending {
    submission: SubmissionId,
    path: PathBuf,
    format: Format,
}

/// Export's state.
#[derive(Debug, Clone, Default)]
pub struct Export {
    pending: Option<Pending>,
    /// The last export: worked, and what to say.
    pub said: Option<(bool, String)>,
}

impl Export {
    /// Acts on `msg` for the open `session`, titled `title`.
    pub fn update(
        &mut self,
        msg: ExportMsg,
        engine: Option<&Handle>,
        session: Option<&SessionId>,
        title: &str,
    ) -> Task<ExportMsg> {
        match msg {
            ExportMsg::Choose(format) => {
                let name = format!("{}.{}", file_name(title), format.extension());
                Task::perform(
                    async move {
                        rfd::AsyncFileDialog::new()
                            .set_title("Export the conversation")
                            .set_file_name(name)
                            .add_filter(format.extension(), &[format.extension()])
                            .save_file()
                            .await
                            .map(|f| f.path().to_path_buf())
                    },
                    move |path| ExportMsg::Chosen(format, path),
                )
            }
            ExportMsg::Chosen(_, None) => Task::none(),
            ExportMsg::Chosen(format, Some(path)) => {
                let (Some(engine), Some(session)) = (engine, session) else {
                    self.said = Some((false, "Open a conversation to export it.".into()));
                    return Task::none();
                };
                let command = Command::Session(SessionCommand::Load {
                    session: session.clone(),
                });
                match engine.submit(command) {
                    Ok(submission) => {
                        self.said = None;
                        self.pending = Some(Pending {
                            submission,
                            path,
                            format,
                        });
                    }
                    Err(e) => self.said = Some((false, format!("Not exported: {e}"))),
                }
                Task::none()
            }
            ExportMsg::Written(Ok(path)) => {
                self.said = Some((true, format!("Exported to {}", path.display())));
                Task::none()
            }
            ExportMsg::Written(Err(why)) => {
                self.said = Some((false, format!("Not exported: {why}")));
                Task::none()
            }
        }
    }

    /// Takes the engine's answer to Export's own request (the stored session, or why not) and
    /// writes the file off the window's thread, its images read from `data_dir`; `None` for every
    /// other envelope.
    pub fn on_engine(
        &mut self,
        envelope: &Envelope,
        data_dir: Option<&Path>,
    ) -> Option<Task<ExportMsg>> {
        let pending = self.pending.as_ref()?;
        if envelope.submission != Some(pending.submission) {
            return None;
        }
        let pending = self.pending.take()?;
        match &envelope.event {
            Event::SessionLoaded {
                session,
                messages,
                tool_calls,
            } => {
                let (session, messages, tool_calls) =
                    (session.clone(), messages.clone(), tool_calls.clone());
                let data_dir = data_dir.map(Path::to_path_buf).unwrap_or_default();
                Some(Task::perform(
                    async move {
                        tokio::task::spawn_blocking(move || {
                            let session = export::Session {
                                summary: &session,
                                messages: &messages,
                                tool_calls: &tool_calls,
                                data_dir: &data_dir,
                            };
                            write(&session, pending.format, &pending.path)
                        })
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()))
                    },
                    ExportMsg::Written,
                ))
            }
            Event::CommandFailed { error, .. } => {
                self.said = Some((false, format!("Not exported: {}", error.message)));
                Some(Task::none())
            }
            _ => {
                self.pending = Some(pending);
                None
            }
        }
    }

    /// The header's buttons, and what the last export said.
    pub fn view(&self, p: Palette) -> Element<'_, ExportMsg> {
        let busy = self.pending.is_some();
        let item = |caption: &'static str, format: Format| {
            let b = button(text(caption).font(BOLD).size(13))
                .padding([6, 12])
                .style(theme::button(p, ButtonKind::Secondary));
            if busy {
                b
            } else {
                b.on_press(ExportMsg::Choose(format))
            }
        };
        row![
            item("Export .md", Format::Md),
            item("Export .html", Format::Html)
        ]
        .spacing(8)
        .into()
    }
}

/// Writes the file the person chose (replacing it: the dialog asked), a Markdown file's images
/// in a folder beside it.
fn write(session: &export::Session<'_>, format: Format, path: &Path) -> Result<PathBuf, String> {
    let text = export::render(session, format, Some(path)).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// A title as a file name: characters no file system takes become `-`.
fn file_name(title: &str) -> String {
    let name: String = title
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '-',
            c if c.is_control() => '-',
            c => c,
        })
        .collect();
    let name = name.trim().trim_matches('.');
    if name.is_empty() {
        "conversation".into()
    } else {
        name.chars().take(80).collect()
    }
}
