//! The whole first run in the window, with no terminal: a fresh install's welcome downloads a
//! small model from the catalogue (a loopback mirror stands in for the publisher), the person
//! adds a real MCP server and saves, chats offline with the downloaded model, which calls the MCP
//! tool once allowed, and schedules a prompt in the Jobs tab.

use aetheria_app::app::Message;
use aetheria_app::app::schedules::{CRON, PROMPT};
use aetheria_app::app::settings::mcp::McpMsg;
use aetheria_app::app::settings::{self, mcp_add::AddMsg};
use aetheria_engine::api::{Event, ToolStatus};
use aetheria_engine::config::Config;

use super::gui::{click, pump, pump_for, pump_within, retype, shows, type_and_send};

/// How long a small model on one slow CPU thread may take between two events: reading its
/// prompt (tool schemas included) can take minutes in a debug build before the first.
const SLOW: std::time::Duration = std::time::Duration::from_secs(600);

#[tokio::test]
async fn from_a_fresh_install_to_an_offline_chat_an_mcp_tool_and_a_schedule() {
    let Some((python, script)) = super::gui_mcp::notes_server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Nothing configured but where the catalogue downloads from, and (for this CPU) a short
    // answer on one thread.
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.local.mirror = Some(super::models::serve_model().await);
    config.local.threads = Some(1);
    config.local.max_tokens = 160;
    let (mut app, mut events) = super::gui::welcome_on(config).await;
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::ModelCatalog { .. })
    })
    .await;
    assert!(shows(&app, "WELCOME TO AETHERIA"));

    // 1. The first offline path the welcome offers: a catalogue model, downloaded and checked.
    click(&mut app, "Download");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::LocalModelAdded { .. })
    })
    .await;
    assert!(shows(&app, "ANSWERS OFFLINE"));
    click(&mut app, "Use this model");

    // 2. A real MCP server, from its command line. Its form is below the fold of the welcome,
    // which the simulator cannot scroll to: what typing there sends is sent as messages.
    let line = format!("{} \"{script}\" stdio", python.to_string_lossy());
    for msg in [
        AddMsg::Name("notes".into()),
        AddMsg::Target(line),
        AddMsg::Add,
    ] {
        let _ = app.update(Message::Settings(settings::Msg::Mcp(McpMsg::Add(msg))));
    }
    assert!(shows(
        &app,
        "Added notes: it starts when you Save; its tools are named notes__TOOL and ask before they run."
    ));
    super::gui::save_welcome(&mut app, &mut events).await;
    assert!(shows(&app, "local · smollm2-135m-instruct"));

    // 3. An offline chat: the downloaded model calls the MCP tool, which asks first.
    type_and_send(
        &mut app,
        "Use the notes__shout tool to shout the text hello.",
    );
    pump_within(&mut app, &mut events, SLOW, |e| {
        matches!(e, Event::ApprovalRequested { tool, .. } if tool == "notes__shout").then_some(())
    })
    .await;
    click(&mut app, "Allow once");
    let (status, output) = pump_within(&mut app, &mut events, SLOW, |e| match e {
        Event::ToolCallFinished { status, output, .. } => Some((*status, output.clone())),
        Event::TurnFinished { .. } | Event::TurnFailed { .. } => {
            panic!("the turn ended before the tool ran: {e:?}")
        }
        _ => None,
    })
    .await;
    assert_eq!(status, ToolStatus::Succeeded, "{output}");
    assert!(output.contains("HELLO"), "{output}");
    pump_within(&mut app, &mut events, SLOW, |e| {
        matches!(e, Event::TurnFinished { .. }).then_some(())
    })
    .await;
    assert!(
        shows(&app, "notes__shout"),
        "the call is on the conversation"
    );

    // 4. A prompt scheduled in the Jobs tab.
    click(&mut app, "JOBS");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Schedules { .. })
    })
    .await;
    retype(&mut app, CRON, 0, "0 9 * * 1-5");
    retype(&mut app, PROMPT, 0, "Summarise my notes");
    click(&mut app, "Schedule it");
    let schedule = pump_for(&mut app, &mut events, |e| match e {
        Event::ScheduleAdded { schedule } => Some(schedule.clone()),
        _ => None,
    })
    .await;
    assert_eq!(schedule.cron, "0 9 * * 1-5");
    assert_eq!(schedule.text, "Summarise my notes");
}
