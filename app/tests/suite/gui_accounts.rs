//! Settings → Accounts in the window, against a loopback GitHub speaking the device flow's
//! documented wire and the real keychain: the code shown large and the page opened, a waiting
//! sign-in cancelled, signed in with the tools on, signed out; a Vercel token kept; a sign-in that
//! cannot start says why beside its service, not over the whole screen.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aetheria_app::app::settings::{self, accounts};
use aetheria_app::app::{Action, Message};
use aetheria_engine::api::{AccountService, Event};
use aetheria_engine::config::{Config, GithubConfig, VercelConfig};
use axum::Router;
use axum::extract::State;
use serde_json::json;

use super::gui::{pump, shows};

/// GitHub's device flow: a code at once; the token only once the test lets the person "enter"
/// it.
async fn github(
    State(entered): State<Arc<AtomicBool>>,
    body: String,
) -> axum::Json<serde_json::Value> {
    if body.contains("grant_type=") {
        return axum::Json(if entered.load(Ordering::SeqCst) {
            json!({"access_token": "gho_WindowLoopbackToken", "token_type": "bearer", "scope": "repo"})
        } else {
            json!({"error": "authorization_pending"})
        });
    }
    assert!(body.contains("client_id=Iv1.window"), "{body}");
    axum::Json(json!({"device_code": "dc-window", "user_code": "WDJB-MJHT",
        "verification_uri": "https://github.com/login/device", "expires_in": 900, "interval": 1}))
}

fn signed(event: &Event, service: AccountService, signed_in: bool) -> bool {
    matches!(event, Event::Accounts { accounts }
        if accounts.iter().any(|a| a.service == service && a.signed_in == signed_in))
}

fn accounts_msg(msg: accounts::AccountsMsg) -> Message {
    Message::Settings(settings::Msg::Accounts(msg))
}

#[tokio::test]
async fn sign_in_to_github_and_vercel_from_the_window() {
    if aetheria_engine::testkit::skip("keychain") {
        return;
    }
    let entered = Arc::new(AtomicBool::new(false));
    let app = Router::new()
        .fallback(axum::routing::post(github))
        .with_state(entered.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let pid = std::process::id();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("config"), dir.path().join("data"));
    config.github = Some(GithubConfig {
        api_url: base.clone(),
        oauth_url: base,
        client_id: None,
        token_ref: format!("aetheria-window-test-github-{pid}"),
        enabled: false,
    });
    config.vercel = Some(VercelConfig {
        token_ref: format!("aetheria-window-test-vercel-{pid}"),
        enabled: false,
        ..VercelConfig::default()
    });
    // Google Drive has no client id: its sign-in cannot start.
    let (mut app, mut events) = super::gui::window_on(config).await;
    app.record_browser();
    let _ = app.update(Message::Do(Action::OpenSettings));
    let _ = app.update(Message::Settings(aetheria_app::app::settings::Msg::Page(
        aetheria_app::app::settings::Page::Accounts,
    )));
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::Accounts { .. })
    })
    .await;
    assert!(shows(&app, "ACCOUNTS — WHAT THE TOOLS MAY USE FOR YOU"));
    assert!(shows(&app, "GitHub") && shows(&app, "Google Drive") && shows(&app, "Vercel"));
    assert!(!shows(&app, "SIGNED IN"));

    super::gui::click(&mut app, "Sign in with Google");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::CommandFailed { .. })
    })
    .await;
    assert!(shows(
        &app,
        "Google Drive needs an OAuth client id (a \"Desktop app\" client from Google Cloud console) as drive.client_id"
    ));

    // GitHub: the client id typed, the code shown and the page opened.
    super::gui::retype(
        &mut app,
        accounts::client_id_field(AccountService::Github),
        0,
        "Iv1.window",
    );
    super::gui::click(&mut app, "Sign in with GitHub");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SignInStarted { .. })
    })
    .await;
    assert!(shows(&app, "WDJB-MJHT"));
    assert!(shows(
        &app,
        "Enter this code at https://github.com/login/device (within 15 minutes):"
    ));
    assert_eq!(app.opened_pages(), ["https://github.com/login/device"]);
    // Cancelled while it waits: the form is back, nothing is signed in.
    super::gui::click(&mut app, "Cancel");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::CommandFailed { .. })
    })
    .await;
    assert!(!shows(&app, "WDJB-MJHT"));
    assert!(shows(&app, "Sign in with GitHub"));
    assert!(!shows(&app, "the sign-in to GitHub was stopped"));

    // Again, and this time the person enters the code.
    super::gui::click(&mut app, "Sign in with GitHub");
    pump(&mut app, &mut events, |e| {
        matches!(e, Event::SignInStarted { .. })
    })
    .await;
    entered.store(true, Ordering::SeqCst);
    pump(&mut app, &mut events, |e| {
        signed(e, AccountService::Github, true)
    })
    .await;
    assert!(shows(&app, "SIGNED IN"));
    assert!(shows(&app, "its tools are on"));
    assert!(!shows(&app, "WDJB-MJHT"));
    assert_eq!(app.opened_pages().len(), 2);

    // Vercel's token, pasted and kept (never shown).
    super::gui::retype(
        &mut app,
        accounts::token_field(AccountService::Vercel),
        0,
        "vcp_window_token",
    );
    super::gui::click(&mut app, "Keep token");
    pump(&mut app, &mut events, |e| {
        signed(e, AccountService::Vercel, true)
    })
    .await;
    assert!(!shows(&app, "vcp_window_token"));

    // Signing out of both.
    for service in [AccountService::Github, AccountService::Vercel] {
        let _ = app.update(accounts_msg(accounts::AccountsMsg::SignOut(service)));
        pump(&mut app, &mut events, |e| signed(e, service, false)).await;
    }
    assert!(!shows(&app, "SIGNED IN"));
    assert!(shows(&app, "Sign in with GitHub"));
}
