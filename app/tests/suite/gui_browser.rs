//! The Browser tab against a real engine, a real Chromium and a page on loopback: the agent opens
//! the page, the tab shows its live frame and address; the person takes over, clicks the field in
//! the frame, types, presses Enter and hands back; the agent's next look at the page is told the
//! person used it and sees what they did.

use aetheria_app::app::browser::{FRAME_WIDTH, Msg as BrowserMsg};
use aetheria_app::app::{Message, panel};
use aetheria_engine::api::{BrowserKey, Event, Policy, ToolStatus};
use aetheria_engine::config::Config;
use aetheria_engine::testkit::{Reply, ScriptedServer};
use axum::Router;
use axum::response::Html;
use axum::routing::get;

use super::gui::{click, pump, pump_for, shows, type_and_send};

/// A page whose one field fills its top left (so a click on the frame finds it), and where
/// submitting it leads.
async fn site() -> (String, u16) {
    let app = Router::new()
        .route(
            "/form",
            get(|| async {
                Html(
                    r#"<!doctype html><title>Guest book</title><form action="/hello">
                    <input name="q" aria-label="Your name"
                    style="position:absolute;left:0;top:0;width:700px;height:300px;font-size:48px">
                    </form>"#,
                )
            }),
        )
        .route(
            "/hello",
            get(|uri: axum::http::Uri| async move {
                let name = uri.query().and_then(|q| q.strip_prefix("q=")).unwrap_or("");
                Html(format!(
                    "<!doctype html><title>Hello</title><h1>Signed by {name}</h1>"
                ))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}"), port)
}

fn tab(msg: BrowserMsg) -> Message {
    Message::Panel(panel::Msg::Browser(msg))
}

#[tokio::test]
async fn the_browser_tab_shows_the_page_and_the_person_takes_over() {
    let (base, port) = site().await;
    let open = serde_json::json!({ "url": format!("{base}/form") }).to_string();
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(&[("c1", "browser_open", &open)], 5),
        Reply::text(&["The guest book is open."]),
        Reply::tool_calls(&[("c2", "browser_snapshot", "{}")], 5),
        Reply::text(&["You signed it."]),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.use_provider(super::gui::loopback("loopback", &server));
    config.web.private_hosts = vec![format!("127.0.0.1:{port}")];
    config
        .tools
        .policy
        .insert("browser_open".into(), Policy::Allow);
    let (mut app, mut events) = super::gui::window_on(config).await;

    // Before any page: the tab says where a browser would come from.
    click(&mut app, "BROWSER");
    assert!(shows(&app, "Open a conversation to see its browser."));
    type_and_send(&mut app, "open the guest book");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
    // The conversation is open: the tab watches its browser and shows the page.
    let _ = app.update(Message::Panel(panel::Msg::Show(panel::Tab::Browser)));
    // Its state and a first frame arrive, in either order.
    let address = format!("{base}/form");
    while !shows(&app, &address) || shows(&app, "waiting for the page…") {
        pump(&mut app, &mut events, |_| true).await;
    }
    assert!(shows(&app, "Guest book"), "the title");
    assert!(!shows(&app, "waiting for the page…"), "a frame is drawn");
    assert!(shows(&app, "TAKE OVER"));

    click(&mut app, "TAKE OVER");
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::BrowserState { view, .. } if view.taken_over),
    )
    .await;
    assert!(shows(&app, "HAND BACK"));
    assert!(shows(
        &app,
        "You have the browser: click in the page, type below. The agent waits."
    ));
    // A click on the field in the frame (its on-screen pixels scale to the page's).
    let _ = app.update(tab(BrowserMsg::Moved(iced::Point::new(
        FRAME_WIDTH / 8.0,
        30.0,
    ))));
    let _ = app.update(tab(BrowserMsg::Pressed));
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::BrowserState { view, .. } if view.last_action.contains("clicked")),
    )
    .await;
    let _ = app.update(tab(BrowserMsg::Typing("Ada".into())));
    let _ = app.update(tab(BrowserMsg::SendText));
    let _ = app.update(tab(BrowserMsg::Key(BrowserKey::Enter)));
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::BrowserState { view, .. } if view.last_action.contains("Enter")),
    )
    .await;
    click(&mut app, "HAND BACK");
    pump(
        &mut app,
        &mut events,
        |e| matches!(e, Event::BrowserState { view, .. } if !view.taken_over),
    )
    .await;
    assert!(shows(&app, "TAKE OVER"));

    // The agent looks again: told the person used the browser, it sees what they did.
    type_and_send(&mut app, "did it work?");
    let output = pump_for(&mut app, &mut events, |e| match e {
        Event::ToolCallFinished { status, output, .. } => Some((*status, output.clone())),
        _ => None,
    })
    .await;
    assert_eq!(output.0, ToolStatus::Succeeded, "{}", output.1);
    assert!(
        output.1.starts_with("The person took the browser over"),
        "{}",
        output.1
    );
    assert!(output.1.contains("# Signed by Ada"), "{}", output.1);
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::TurnFinished { .. })
    })
    .await;
}
