//! A conversation exported to Markdown and HTML: hostile text stays text, images come only from
//! where the app keeps them, the CLI never overwrites a file, and the window's Export writes what
//! the CLI writes, a real attached image inlined.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aetheria_app::app::Message;
use aetheria_app::app::export::ExportMsg;
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_app::export::{self, Format};
use aetheria_engine::api::{
    Attachment, Event, MessageRecord, Role, SessionId, SessionSummary, ToolCallId, ToolCallRecord,
    ToolStatus,
};
use aetheria_engine::testkit::{Reply, ScriptedServer};

use super::common::{Env, stderr, stdout};
use super::gui_images::png;

/// A real 3×1 PNG, blue: what a tool drew.
fn drawn() -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::RgbaImage::from_pixel(3, 1, image::Rgba([0, 0, 255, 255]))
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    bytes.into_inner()
}

/// A host file a forged tool record names.
fn secret_for_tool(data: &tempfile::TempDir) -> PathBuf {
    let secret = data.path().join("tool-secret.png");
    std::fs::write(&secret, b"\x89PNG\r\n\x1a\nTOOL-SECRET-BYTES").unwrap();
    secret
}

fn message(role: Role, content: &str, images: Vec<PathBuf>) -> MessageRecord {
    MessageRecord {
        images,
        ..MessageRecord::new(role, content)
    }
}

/// A stored session written by an attacker: markup, script links and fence breakers in what the
/// model and tools said, images that name host files or are not images.
struct Hostile {
    data: tempfile::TempDir,
    summary: SessionSummary,
    messages: Vec<MessageRecord>,
    calls: Vec<ToolCallRecord>,
}

impl Hostile {
    fn new() -> Self {
        let data = tempfile::tempdir().unwrap();
        let kept = data.path().join("attachments");
        std::fs::create_dir_all(&kept).unwrap();
        let kept_name = format!("{}.png", aetheria_engine::api::SessionId::new());
        std::fs::write(kept.join(&kept_name), png()).unwrap();
        let fake = format!("{}.png", aetheria_engine::api::SessionId::new());
        std::fs::write(kept.join(&fake), b"#!/bin/sh\necho not an image\n").unwrap();
        // What a tool drew (kept by the engine), and a tool record forged to name a host file.
        let drawn_name = format!("{}.png", aetheria_engine::api::SessionId::new());
        std::fs::write(kept.join(&drawn_name), drawn()).unwrap();
        let secret = data.path().join("secret.png");
        std::fs::write(&secret, b"\x89PNG\r\n\x1a\nTOP-SECRET-BYTES").unwrap();

        let mut user = message(
            Role::User,
            "Look <img src=x onerror=alert(1)>",
            vec![PathBuf::from(&kept_name), secret, PathBuf::from(&fake)],
        );
        user.attachments.push(Attachment {
            name: "notes.txt".into(),
            text: "the file's text".into(),
        });
        let mut answer = message(
            Role::Assistant,
            "<script>alert('x')</script>\n\n[click](javascript:alert(1)) and ![t](http://tracker.example/p.png)",
            vec![],
        );
        answer.thinking = "I think </details><script>bad()</script>".into();
        let call = ToolCallRecord {
            images: vec![PathBuf::from(&drawn_name), secret_for_tool(&data)],
            id: ToolCallId::new(),
            message: Some(answer.id.clone()),
            tool: "shell".into(),
            kind: None,
            arguments: r#"{"cmd":"echo </pre><script>x()</script>"}"#.into(),
            status: ToolStatus::Succeeded,
            output: "before\n```\n# escaped the fence\n````\nafter".into(),
            log: String::new(),
        };
        Self {
            summary: SessionSummary {
                id: SessionId::new(),
                title: "Evil\n# title <b>".into(),
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            },
            messages: vec![user, answer],
            calls: vec![call],
            data,
        }
    }

    fn session(&self) -> export::Session<'_> {
        export::Session {
            summary: &self.summary,
            messages: &self.messages,
            tool_calls: &self.calls,
            data_dir: self.data.path(),
        }
    }
}

#[test]
fn html_export_keeps_hostile_text_as_text_and_inlines_only_kept_images() {
    use base64::Engine as _;
    let hostile = Hostile::new();
    let html = export::html(&hostile.session());
    // Nothing runs, nothing is fetched: no script element, no script link, a policy that allows
    // only inline style and inlined images.
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    // An image from elsewhere is a link to it, never fetched.
    assert!(!html.contains("src=\"http://tracker.example"), "{html}");
    assert!(
        html.contains("<a href=\"http://tracker.example/p.png\">t</a>"),
        "{html}"
    );
    assert!(
        html.contains("content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\"")
    );
    assert!(
        html.contains("<title>Evil # title &lt;b&gt;</title>"),
        "{html}"
    );
    // The image kept by the app is inlined; a record naming another file, or a kept file that is
    // no image, is said and not read.
    let inlined = format!(
        "src=\"data:image/png;base64,{}\"",
        base64::engine::general_purpose::STANDARD.encode(png())
    );
    assert_eq!(html.matches(&inlined).count(), 1, "{html}");
    // And what the tool drew, after its card; its forged second picture is said, not read.
    let drawn_inlined = format!(
        "src=\"data:image/png;base64,{}\"",
        base64::engine::general_purpose::STANDARD.encode(drawn())
    );
    assert_eq!(html.matches(&drawn_inlined).count(), 1, "{html}");
    assert!(html.find(&drawn_inlined) > html.find("<div class=\"tool\">"));
    assert_eq!(html.matches("data:image").count(), 2, "{html}");
    assert!(!html.contains("TOP-SECRET") && !html.contains("TOOL-SECRET"));
    assert_eq!(
        html.matches("An image that cannot be shown: the message names no image this app kept")
            .count(),
        2
    );
    assert!(
        html.contains("An image that cannot be shown: the message names no image this app kept")
    );
    assert!(html.contains("An image that cannot be shown: not a PNG, JPEG, GIF or WebP image"));
    assert!(html.contains("Attached: notes.txt"));
    // The tool's arguments and output are escaped text.
    assert!(
        html.contains("echo &lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("# escaped the fence"));
}

#[test]
fn markdown_export_fences_tool_output_it_cannot_close_and_copies_images_beside() {
    let hostile = Hostile::new();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("my chat.md");
    let md = export::render(&hostile.session(), Format::Md, Some(&file)).unwrap();
    // The output's own fences stay inside its block: parsed back, the block holds all of it.
    let arena = comrak::Arena::new();
    let root = comrak::parse_document(&arena, &md, &comrak::Options::default());
    let blocks: Vec<String> = root
        .descendants()
        .filter_map(|n| match &n.data.borrow().value {
            comrak::nodes::NodeValue::CodeBlock(block) => Some(block.literal.clone()),
            _ => None,
        })
        .collect();
    assert!(
        blocks.contains(&"before\n```\n# escaped the fence\n````\nafter\n".to_owned()),
        "{blocks:?}\n{md}"
    );
    // The title stays one heading line.
    assert!(md.starts_with("# Evil # title <b>\n"), "{md}");
    // The kept image is copied beside the file and linked; the others are said.
    let folder = out.path().join("my chat-images");
    assert_eq!(std::fs::read(folder.join("image-1.png")).unwrap(), png());
    // What the tool drew is copied too.
    assert_eq!(std::fs::read(folder.join("image-2.png")).unwrap(), drawn());
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 2);
    assert!(
        md.contains("![image 1](<my chat-images/image-1.png>)"),
        "{md}"
    );
    assert!(md.contains("the message names no image this app kept"));
    assert!(!md.contains("TOP-SECRET") && !md.contains("TOOL-SECRET"));
}

#[tokio::test]
async fn sessions_export_writes_a_new_file_and_never_overwrites_one() {
    let server = ScriptedServer::start(vec![Reply::text(&["The **answer**."])])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    let out = env.run(&["ask", "the question"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let list = env.run(&["sessions", "list", "--json"]).await;
    let sessions: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    let id = sessions[0]["id"].as_str().unwrap().to_owned();

    // To the terminal.
    let md = env.run(&["sessions", "export", &id]).await;
    assert!(md.status.success(), "{}", stderr(&md));
    let md = stdout(&md);
    assert!(
        md.contains("## You\n\nthe question\n\n## Aetheria\n\nThe **answer**.\n"),
        "{md}"
    );

    // To a file: written once, refused after.
    let file = env.dir.path().join("chat.html");
    let path = file.to_str().unwrap();
    let html = env
        .run(&["sessions", "export", &id, "--format", "html", "--out", path])
        .await;
    assert!(html.status.success(), "{}", stderr(&html));
    assert_eq!(stdout(&html).trim(), format!("wrote {path}"));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.contains("<p>The <strong>answer</strong>.</p>"),
        "{written}"
    );
    let again = env
        .run(&["sessions", "export", &id, "--format", "md", "--out", path])
        .await;
    assert!(!again.status.success());
    assert!(stderr(&again).contains(path), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);

    // An unknown session: an error, and no file left behind.
    let missing = env.dir.path().join("missing.md");
    let unknown = env
        .run(&[
            "sessions",
            "export",
            "no-such-session",
            "--out",
            missing.to_str().unwrap(),
        ])
        .await;
    assert!(!unknown.status.success());
    assert!(!missing.exists());
}

#[tokio::test]
async fn the_window_exports_the_open_conversation_with_its_image() {
    let super::gui_images::Pictured {
        mut app,
        mut events,
        data,
        dir,
        server: _server,
    } = super::gui_images::sent_with_a_picture("What is this?").await;
    super::gui::pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;

    let file = dir.path().join("out.html");
    let task = app.update(Message::Header(aetheria_app::app::header::Msg::Export(
        ExportMsg::Chosen(Format::Html, Some(file.clone())),
    )));
    super::gui::run_task(&mut app, task).await;
    // The engine's answer to Export's own request writes the file off the window's thread.
    while !super::gui::shows(&app, &format!("Exported to {}", file.display())) {
        let envelope = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("no engine event within 60 s")
            .expect("engine stopped");
        let task = app.update(Message::Bridge(BridgeEvent::Events(vec![envelope])));
        super::gui::run_task(&mut app, task).await;
    }
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(
        html.contains("What is this?") && html.contains("A red dot."),
        "{html}"
    );
    assert_eq!(
        html.matches("src=\"data:image/png;base64,").count(),
        1,
        "{html}"
    );
    // The conversation on screen is the same one (the answer to Export did not reload it).
    assert!(super::gui::shows(&app, "A red dot."));
    assert_kept_in(&data);
}

/// The image the window inlined is the copy kept in the data folder.
fn assert_kept_in(data: &Path) {
    let kept: Vec<_> = std::fs::read_dir(data.join("attachments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(&kept[0]).unwrap(), png());
}

/// `aetheria ask --attach`: a text file goes with the message (the model reads it; the stored
/// message names it, so an export lists it), a relative path is the shell's, and a missing file
/// is refused with its name.
#[tokio::test]
async fn ask_attaches_files_and_an_export_names_them() {
    let server = ScriptedServer::start(vec![Reply::text(&["Read it."])])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    std::fs::write(env.workspace.join("notes.txt"), "the quarterly figures").unwrap();
    let out = env
        .command(&["ask", "--attach", "notes.txt", "What is in it?"])
        .current_dir(&env.workspace)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let request = server.requests().pop().unwrap().to_string();
    assert!(request.contains("the quarterly figures"), "{request}");
    let list = env.run(&["sessions", "list", "--json"]).await;
    let sessions: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    let id = sessions[0]["id"].as_str().unwrap().to_owned();
    let md = stdout(&env.run(&["sessions", "export", &id]).await);
    assert!(md.contains("_Attached: notes.txt_"), "{md}");

    let out = env
        .command(&["ask", "--attach", "missing.txt", "and this?"])
        .current_dir(&env.workspace)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("missing.txt"), "{}", stderr(&out));
}
