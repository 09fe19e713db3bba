//! Settings → MCP servers in the window, with a real MCP server (the official Python SDK's, from
//! the engine's test fixtures): added from its command line with no terminal, saved, started,
//! its tools listed; a bad entry refused with a reason; turned off and removed.

use aetheria_app::app::settings::mcp::McpMsg;
use aetheria_app::app::settings::{self, mcp_add, mcp_try};
use aetheria_app::app::{Action, Message};
use aetheria_app::engine_bridge::BridgeEvent;
use aetheria_engine::api::{Event, McpState};
use aetheria_engine::config::Config;

use super::gui::{click, pump, retype, shows};

/// The Python with the MCP SDK and the notes server's script; `None` when a skip was asked for
/// (`AETHERIA_SKIP=mcp`), and a failure when the Python is simply missing.
pub(super) fn notes_server() -> Option<(std::ffi::OsString, &'static str)> {
    let Some(python) = std::env::var_os("AETHERIA_TEST_MCP_PYTHON") else {
        assert!(
            aetheria_engine::testkit::skip("mcp"),
            "AETHERIA_TEST_MCP_PYTHON is not set: run installer/dev.sh test (AETHERIA_SKIP=mcp to skip)"
        );
        return None;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../engine/tests/fixtures/mcp/notes_server.py"
    );
    Some((python, script))
}

#[tokio::test]
async fn settings_add_an_mcp_server_from_its_command_line_and_list_its_tools() {
    let Some((python, script)) = notes_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path().join("config"), dir.path().join("data"));
    let (mut app, mut events) = super::gui::window_on(config).await;
    let _ = app.update(Message::Do(Action::OpenSettings));
    let _ = app.update(Message::Settings(aetheria_app::app::settings::Msg::Page(
        aetheria_app::app::settings::Page::Mcp,
    )));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::McpServers { .. })
    })
    .await;
    assert!(shows(
        &app,
        "None yet. Add one below: the command line that starts it, or its URL."
    ));

    // A name that would break tool names is refused, and what was typed stays.
    retype(&mut app, mcp_add::NAME, 0, "my__notes");
    let line = format!("{} \"{script}\" stdio", python.to_string_lossy());
    retype(&mut app, mcp_add::TARGET, 0, &line);
    click(&mut app, "Add server");
    assert!(shows(
        &app,
        "the MCP server name \"my__notes\" must be letters, digits, '-' or '_', without \"__\" (it prefixes its tools' names, joined by \"__\")"
    ));
    retype(&mut app, mcp_add::NAME, "my__notes".len(), "notes");
    retype(&mut app, mcp_add::ENV, 0, "NOTES_GREETING=\"hello there\"");
    click(&mut app, "Add server");
    assert!(shows(
        &app,
        "Added notes: it starts when you Save; its tools are named notes__TOOL and ask before they run."
    ));
    click(&mut app, "Save");
    let mut saved = None;
    while saved.is_none() {
        let envelope = events.recv().await.unwrap();
        if let Event::SettingsSaved { settings } = &envelope.event {
            saved = Some(settings.clone());
        }
        let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![envelope])));
    }
    let server = &saved.unwrap().mcp_servers["notes"];
    assert_eq!(server.args, [script, "stdio"]);
    assert_eq!(server.env["NOTES_GREETING"], "hello there");

    // Opened again, the server runs and its tools are listed.
    let _ = app.update(Message::Do(Action::OpenSettings));
    let _ = app.update(Message::Settings(aetheria_app::app::settings::Msg::Page(
        aetheria_app::app::settings::Page::Mcp,
    )));
    let mut listed = None;
    while listed.is_none() {
        let envelope = events.recv().await.unwrap();
        if let Event::McpServers { servers } = &envelope.event {
            listed = Some(servers.clone());
        }
        let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![envelope])));
    }
    let notes = listed
        .unwrap()
        .into_iter()
        .find(|s| s.name == "notes")
        .unwrap();
    assert_eq!(notes.state, McpState::Running, "{:?}", notes.error);
    assert!(shows(&app, "RUNNING · 7 TOOLS"));
    assert!(shows(&app, &notes.tools.join("  ")));
    assert!(notes.tools.iter().any(|t| t == "notes__shout"));
    // What it said last on stderr is shown under it, escape sequences made visible text.
    let shown = shown_stderr(&app).expect("its stderr is shown");
    assert!(shown.starts_with("started again 0×"), "{shown}");
    assert!(
        shown.ends_with(notes.stderr.last().unwrap().as_str()),
        "{shown}"
    );
    assert!(
        !shown.contains('\u{1b}'),
        "a raw escape reached the window: {shown}"
    );
    assert!(
        notes
            .stderr
            .iter()
            .any(|l| l.contains("clear\\u{1b}[2J screen")),
        "the escape is kept as visible text: {:?}",
        notes.stderr
    );
    let first_pid = started_pid(&notes.stderr).expect("the start is on stderr");

    // Restart acts at once: a new process, counted, its tools listed again.
    let _ = app.update(Message::Settings(settings::Msg::Mcp(McpMsg::Restart(
        "notes".into(),
    ))));
    let mut restarted = None;
    while restarted.is_none() {
        let envelope = events.recv().await.unwrap();
        if let Event::McpServers { servers } = &envelope.event {
            restarted = servers.iter().find(|s| s.name == "notes").cloned();
        }
        let _ = app.update(Message::Bridge(BridgeEvent::Events(vec![envelope])));
    }
    let restarted = restarted.unwrap();
    assert_eq!(restarted.state, McpState::Running, "{:?}", restarted.error);
    assert_eq!(restarted.restarts, 1);
    assert!(shows(&app, "RUNNING · 7 TOOLS"));
    assert!(shown_stderr(&app).unwrap().starts_with("started again 1×"));
    let second_pid = started_pid(&restarted.stderr).expect("the start is on stderr");
    assert_ne!(first_pid, second_pid, "a new process started");
    // A tool tried from the window: bad arguments are refused here; the call asks first, then
    // its answer is shown.
    click(&mut app, "Try a tool");
    assert!(shows(&app, "TRY A TOOL OF notes"));
    let tried = |msg| Message::Settings(settings::Msg::Mcp(McpMsg::Try(msg)));
    // (A pick list opens a menu the simulator does not draw: the choice is sent.)
    let _ = app.update(tried(mcp_try::TryMsg::Tool("notes__shout".into())));
    retype(&mut app, mcp_try::ARGS, 2, "[1]");
    click(&mut app, "Call");
    assert!(shows(
        &app,
        "The arguments are a JSON object: {\"key\": …}."
    ));
    retype(
        &mut app,
        mcp_try::ARGS,
        3,
        "{\"text\": \"hello from the window\"}",
    );
    click(&mut app, "Call");
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::ApprovalRequested { tool, .. } if tool == "notes__shout"),
    )
    .await;
    assert!(shows(&app, "Calling… (it asks for your approval first)"));
    let _ = app.update(Message::Approval(
        aetheria_app::app::approvals::Msg::Answer {
            decision: aetheria_engine::api::Decision::Allow,
            remember: false,
            scope: None,
        },
    ));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ToolCallFinished { .. })
    })
    .await;
    assert!(shows(&app, "It answered:"));
    assert!(shows(&app, "HELLO FROM THE WINDOW"));
    click(&mut app, "Close");
    assert!(!shows(&app, "TRY A TOOL OF notes"));

    // A server that does not exist cannot be restarted; the settings say so.
    let _ = app.update(Message::Settings(settings::Msg::Mcp(McpMsg::Restart(
        "nope".into(),
    ))));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::CommandFailed { .. })
    })
    .await;
    assert!(shows(&app, "no MCP server named \"nope\""));

    // Edited in place: the form holds it as it would be typed, its name stays; saved, it
    // starts again with the change.
    let _ = app.update(Message::Settings(settings::Msg::Mcp(McpMsg::Edit(
        "notes".into(),
    ))));
    assert!(shows(&app, "Keep changes"));
    assert!(shows(&app, "'NOTES_GREETING=hello there'"));
    let edit = |msg| Message::Settings(settings::Msg::Mcp(McpMsg::Add(msg)));
    let _ = app.update(edit(mcp_add::AddMsg::Env(
        "NOTES_GREETING=\"hi again\"".into(),
    )));
    let _ = app.update(edit(mcp_add::AddMsg::Add));
    assert!(shows(&app, "Changed notes: it starts again when you Save."));
    click(&mut app, "Save");
    let saved = super::gui::pump_for(&mut app, &mut events, |e| match e {
        Event::SettingsSaved { settings } => Some(settings.clone()),
        _ => None,
    })
    .await;
    let server = &saved.mcp_servers["notes"];
    assert_eq!(server.env["NOTES_GREETING"], "hi again");
    assert_eq!(server.args, [script, "stdio"], "the rest is as it was");
    let _ = app.update(Message::Do(Action::OpenSettings));
    let _ = app.update(Message::Settings(aetheria_app::app::settings::Msg::Page(
        aetheria_app::app::settings::Page::Mcp,
    )));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::McpServers { .. })
    })
    .await;

    // Turned off and removed, saved: gone from the settings.
    let _ = app.update(Message::Settings(settings::Msg::Mcp(McpMsg::Enabled(
        "notes".into(),
        false,
    ))));
    assert!(shows(&app, "OFF"));
    let _ = app.update(Message::Settings(settings::Msg::Mcp(McpMsg::Remove(
        "notes".into(),
    ))));
    click(&mut app, "Save");
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::SettingsSaved { settings } if settings.mcp_servers.is_empty()),
    )
    .await;
}

/// The stderr lines the window shows under the server (after "started again N×").
fn shown_stderr(app: &aetheria_app::app::App) -> Option<String> {
    use iced_test::selector::Candidate;
    let mut ui = iced_test::simulator(app.view());
    ui.find(|candidate: Candidate<'_>| match candidate {
        Candidate::Text { content, .. } if content.starts_with("started again ") => {
            Some(content.to_owned())
        }
        _ => None,
    })
    .ok()
}

/// The pid of the last start the notes server reported on stderr.
fn started_pid(stderr: &[String]) -> Option<String> {
    stderr
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("notes server starting (pid "))
        .map(|pid| pid.trim_end_matches(')').to_owned())
}
