//! A conversation written out to keep or share: Markdown, or one self-contained HTML file (its
//! images inlined, no script, nothing fetched from elsewhere). Shared by `aetheria sessions
//! export` and the window. What the model and tools wrote is hostile input here: their markdown
//! is rendered with raw HTML and unsafe links dropped, code is fenced so it cannot close its fence,
//! and an image is read only from where the app keeps attached images.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use aetheria_engine::api::conversation::{AnswerState, Conversation, Entry, ToolEntry};
use aetheria_engine::api::{MessageRecord, Role, SessionSummary, ToolCallRecord, ToolStatus};
use base64::Engine as _;

/// What a conversation can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Markdown, images beside it in a folder (or named by their stored path on the terminal).
    Md,
    /// One HTML file, images inlined.
    Html,
}

impl Format {
    /// The file name's ending.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Md => "md",
            Self::Html => "html",
        }
    }
}

/// A stored session, as export reads it.
pub struct Session<'a> {
    pub summary: &'a SessionSummary,
    pub messages: &'a [MessageRecord],
    pub tool_calls: &'a [ToolCallRecord],
    /// The data folder, where attached images are kept.
    pub data_dir: &'a Path,
}

/// An image to show after a message: its bytes and media type, or why it cannot be shown.
type Image = Result<(Vec<u8>, &'static str), String>;

/// One block of the export, in order.
enum Block<'a> {
    Heading(&'static str),
    /// Markdown written by the person or the model.
    Markdown(&'a str),
    /// A quiet line (attachments, how an answer ended, a compaction).
    Note(String),
    Thinking(&'a str),
    Tool(&'a ToolEntry),
    Image(Image),
}

fn blocks<'a>(
    conversation: &'a Conversation,
    images: &'a [Vec<PathBuf>],
    data_dir: &Path,
) -> Vec<Block<'a>> {
    let mut out = Vec::new();
    let mut users = images.iter();
    for entry in conversation.entries() {
        match entry {
            Entry::User {
                text, attachments, ..
            } => {
                out.push(Block::Heading("You"));
                out.push(Block::Markdown(text));
                let files: Vec<&str> = attachments
                    .iter()
                    .map(String::as_str)
                    .filter(|name| *name != "an image")
                    .collect();
                if !files.is_empty() {
                    out.push(Block::Note(format!("Attached: {}", files.join(", "))));
                }
                for recorded in users.next().into_iter().flatten() {
                    out.push(Block::Image(
                        aetheria_engine::images::read(data_dir, recorded)
                            .map_err(|e| e.to_string()),
                    ));
                }
            }
            Entry::Thinking { text, .. } => out.push(Block::Thinking(text)),
            Entry::Answer { text, state, .. } => {
                out.push(Block::Heading("Aetheria"));
                out.push(Block::Markdown(text));
                match state {
                    AnswerState::Stopped => out.push(Block::Note("Stopped here.".into())),
                    AnswerState::Incomplete => {
                        out.push(Block::Note("The answer broke off here.".into()));
                    }
                    AnswerState::Streaming | AnswerState::Complete => {}
                }
            }
            Entry::Tool(tool) => {
                out.push(Block::Tool(tool));
                // What it drew, by the same rule as the person's images.
                for recorded in &tool.images {
                    out.push(Block::Image(
                        aetheria_engine::images::read(data_dir, recorded)
                            .map_err(|e| e.to_string()),
                    ));
                }
            }
            Entry::Compacted { detail } => {
                out.push(Block::Note(format!("Older turns were compacted: {detail}")));
            }
            Entry::Failed { message } => out.push(Block::Note(format!("Failed: {message}"))),
            Entry::Stopped => out.push(Block::Note("Stopped.".into())),
        }
    }
    out
}

fn status(status: ToolStatus) -> &'static str {
    match status {
        ToolStatus::AwaitingApproval => "waiting for approval",
        ToolStatus::Running => "running",
        ToolStatus::Succeeded => "done",
        ToolStatus::Failed => "failed",
        ToolStatus::Denied => "denied",
        ToolStatus::Cancelled => "cancelled",
    }
}

/// A fenced code block whose fence no line of `text` can close: one backtick more than the
/// longest run in it.
fn fenced(text: &str, language: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!(
        "{fence}{language}\n{}\n{fence}\n",
        text.trim_end_matches('\n')
    )
}

/// A name of the person's or the model's made safe to stand in a heading's text.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The session as Markdown. Images go to `images` (a folder beside the file, named relative to
/// it as `link`) when given; otherwise they are named by where the app keeps them.
pub fn markdown(session: &Session<'_>, images: Option<(&Path, &str)>) -> std::io::Result<String> {
    let (conversation, paths) = read(session);
    let mut md = format!(
        "# {}\n\n_Exported from Aetheria · session {} · {}_\n\n",
        one_line(&session.summary.title),
        session.summary.id,
        session.summary.updated_at.format("%Y-%m-%d %H:%M UTC")
    );
    let mut count = 0;
    for block in blocks(&conversation, &paths, session.data_dir) {
        match block {
            Block::Heading(who) => {
                let _ = write!(md, "## {who}\n\n");
            }
            Block::Markdown(text) => {
                let _ = write!(md, "{}\n\n", text.trim_end());
            }
            Block::Note(note) => {
                let _ = write!(md, "_{}_\n\n", one_line(&note).replace('_', "\\_"));
            }
            Block::Thinking(text) => {
                md.push_str("> **Thinking**\n>\n");
                for line in text.trim_end().lines() {
                    let _ = writeln!(md, "> {line}");
                }
                md.push('\n');
            }
            Block::Tool(tool) => {
                let _ = write!(
                    md,
                    "**Tool** `{}` — {}\n\n{}\n",
                    tool.tool.replace('`', "'"),
                    status(tool.status),
                    fenced(&tool.arguments, "json")
                );
                if !tool.output.is_empty() {
                    let _ = writeln!(md, "{}", fenced(&tool.output, ""));
                }
            }
            Block::Image(Err(why)) => {
                let _ = write!(
                    md,
                    "_An image that cannot be shown: {}_\n\n",
                    one_line(&why)
                );
            }
            Block::Image(Ok((bytes, media_type))) => {
                count += 1;
                let ext = media_type.trim_start_matches("image/");
                match images {
                    Some((folder, link)) => {
                        std::fs::create_dir_all(folder)?;
                        let name = format!("image-{count}.{ext}");
                        std::fs::write(folder.join(&name), bytes)?;
                        let _ = write!(md, "![image {count}](<{link}/{name}>)\n\n");
                    }
                    None => {
                        let _ = write!(
                            md,
                            "_[image {count}: {media_type}, {} bytes]_\n\n",
                            bytes.len()
                        );
                    }
                }
            }
        }
    }
    Ok(md)
}

/// The session as `format`, to be written to `file` (a Markdown file's images go beside it) or,
/// without one, shown.
pub fn render(
    session: &Session<'_>,
    format: Format,
    file: Option<&Path>,
) -> std::io::Result<String> {
    match (format, file) {
        (Format::Html, _) => Ok(html(session)),
        (Format::Md, Some(file)) => {
            let (folder, link) = images_beside(file);
            markdown(session, Some((&folder, &link)))
        }
        (Format::Md, None) => markdown(session, None),
    }
}

/// Where a Markdown file's images go: a folder beside `file` named after it, and that folder as
/// the file links to it.
pub fn images_beside(file: &Path) -> (PathBuf, String) {
    let stem = file
        .file_stem()
        .map_or_else(|| "export".into(), |s| s.to_string_lossy());
    let name = format!("{stem}-images");
    // The link stands in `<…>`, where only these would end or break it.
    let link = name
        .replace('%', "%25")
        .replace('<', "%3C")
        .replace('>', "%3E")
        .replace('\n', "%0A");
    (file.with_file_name(&name), link)
}

/// Characters that mean something in HTML, escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown as HTML, with raw HTML and links to scripts dropped (comrak's safe rendering), and
/// images turned into links to them: an image from elsewhere would be fetched when the page
/// opens (the images the person attached are inlined apart).
fn rendered(text: &str) -> String {
    let mut options = comrak::Options::default();
    options.extension.strikethrough = true;
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.render.r#unsafe = false;
    let arena = comrak::Arena::new();
    let root = comrak::parse_document(&arena, text, &options);
    for node in root.descendants() {
        let mut data = node.data.borrow_mut();
        if let comrak::nodes::NodeValue::Image(link) = &data.value {
            data.value = comrak::nodes::NodeValue::Link(link.clone());
        }
    }
    let mut out = String::new();
    match comrak::format_html(root, &options, &mut out) {
        Ok(()) => out,
        Err(_) => format!("<pre>{}</pre>", escape(text)),
    }
}

/// The page's look: the window's, black lines on paper, no outside fonts.
const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;background:#fffdf5;color:#111}h1{border-bottom:4px solid #111}h2{font-size:1rem;text-transform:uppercase;letter-spacing:.05em;margin-top:2rem}pre{background:#fff;border:2px solid #111;box-shadow:4px 4px 0 #111;padding:.75rem;overflow:auto;white-space:pre-wrap}code{font-family:ui-monospace,monospace}.note{color:#555;font-style:italic}details{border:2px solid #111;padding:.5rem;margin:1rem 0}.tool{border:2px solid #111;box-shadow:4px 4px 0 #111;padding:.5rem 1rem;margin:1rem 0}img{max-width:100%;border:2px solid #111}";

/// The session as one HTML file: nothing runs in it and nothing is fetched (its policy allows
/// only its own style and inlined images).
pub fn html(session: &Session<'_>) -> String {
    let (conversation, paths) = read(session);
    let title = escape(&one_line(&session.summary.title));
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n<p class=\"note\">Exported from Aetheria · session {} · {}</p>\n",
        escape(&session.summary.id.to_string()),
        session.summary.updated_at.format("%Y-%m-%d %H:%M UTC")
    );
    for block in blocks(&conversation, &paths, session.data_dir) {
        match block {
            Block::Heading(who) => {
                let _ = writeln!(page, "<h2>{who}</h2>");
            }
            Block::Markdown(text) => page.push_str(&rendered(text)),
            Block::Note(note) => {
                let _ = writeln!(page, "<p class=\"note\">{}</p>", escape(&note));
            }
            Block::Thinking(text) => {
                let _ = writeln!(
                    page,
                    "<details><summary>Thinking</summary>{}</details>",
                    rendered(text)
                );
            }
            Block::Tool(tool) => {
                let _ = write!(
                    page,
                    "<div class=\"tool\"><p><strong>Tool</strong> <code>{}</code> — {}</p><pre><code>{}</code></pre>",
                    escape(&tool.tool),
                    status(tool.status),
                    escape(&tool.arguments)
                );
                if !tool.output.is_empty() {
                    let _ = write!(page, "<pre><code>{}</code></pre>", escape(&tool.output));
                }
                page.push_str("</div>\n");
            }
            Block::Image(Err(why)) => {
                let _ = writeln!(
                    page,
                    "<p class=\"note\">An image that cannot be shown: {}</p>",
                    escape(&why)
                );
            }
            Block::Image(Ok((bytes, media_type))) => {
                let _ = writeln!(
                    page,
                    "<p><img alt=\"an image\" src=\"data:{media_type};base64,{}\"></p>",
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                );
            }
        }
    }
    page.push_str("</body>\n</html>\n");
    page
}

/// The conversation of a stored session, and the images of each of its user messages in order.
fn read(session: &Session<'_>) -> (Conversation, Vec<Vec<PathBuf>>) {
    let conversation = Conversation::from_history(
        session.summary.id.clone(),
        session.messages,
        session.tool_calls,
    );
    let images = session
        .messages
        .iter()
        .filter(|m| m.role == Role::User)
        .map(|m| m.images.clone())
        .collect();
    (conversation, images)
}
