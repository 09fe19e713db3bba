//! Signing in through the engine's Accounts commands, as the window and the CLI do: GitHub's
//! device flow and Google's browser sign-in against loopback servers speaking their documented
//! wire, Vercel's token, sign-out that turns the tools off and keeps the settings — and a hostile
//! sign-in server, a waiting sign-in stopped, forged and malformed tokens refused.

use aetheria_engine::api::{
    Account, AccountService, AccountsCommand, Command, ErrorKind, Event, Secret, SignInStep,
    SubmissionId, ToolStatus, ToolsCommand,
};
use aetheria_engine::config::{GithubConfig, VercelConfig};
use aetheria_engine::secrets::Secrets;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::common::Harness;

fn submit(h: &Harness, command: AccountsCommand) -> SubmissionId {
    h.handle.submit(Command::Accounts(command)).unwrap()
}

/// Submits `command` and returns the events answering it.
async fn ask(h: &mut Harness, command: AccountsCommand) -> Vec<Event> {
    let id = submit(h, command);
    answered(h, id).await
}

/// The events answering `id`, up to its `Accounts` or failure.
async fn answered(h: &mut Harness, id: SubmissionId) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let envelope = h.next_envelope().await;
        if envelope.submission != Some(id) {
            continue;
        }
        let done = matches!(
            envelope.event,
            Event::Accounts { .. } | Event::CommandFailed { .. }
        );
        seen.push(envelope.event);
        if done {
            return seen;
        }
    }
}

fn account(events: &[Event], service: AccountService) -> Account {
    let Some(Event::Accounts { accounts }) = events.last() else {
        panic!("no accounts in {events:?}")
    };
    assert_eq!(
        accounts.iter().map(|a| a.service).collect::<Vec<_>>(),
        AccountService::ALL
    );
    accounts
        .iter()
        .find(|a| a.service == service)
        .cloned()
        .unwrap()
}

fn failure(events: &[Event]) -> (ErrorKind, String) {
    let Some(Event::CommandFailed { error, .. }) = events.last() else {
        panic!("no failure in {events:?}")
    };
    (error.kind, error.message.clone())
}

async fn tool_names(h: &mut Harness) -> Vec<String> {
    h.handle.submit(Command::Tools(ToolsCommand::List)).unwrap();
    let events = h.until(|e| matches!(e, Event::ToolList { .. })).await;
    let Some(Event::ToolList { tools }) = events.last() else {
        unreachable!()
    };
    tools.iter().map(|t| t.name.clone()).collect()
}

fn stored(account: &str) -> Option<String> {
    let account = account.to_owned();
    std::thread::spawn(move || Secrets::new().get(&account).unwrap())
        .join()
        .unwrap()
}

#[tokio::test]
async fn github_and_vercel_sign_in_and_out_through_the_engine() {
    if super::common::skip("keychain") {
        return;
    }
    let (base, seen) = super::github::server().await;
    let pid = std::process::id();
    let (github_account, vercel_account) = (
        format!("aetheria-test-accounts-github-{pid}"),
        format!("aetheria-test-accounts-vercel-{pid}"),
    );
    let (b, g, v) = (base.clone(), github_account.clone(), vercel_account.clone());
    // Signed out before: the settings are there (GitHub Enterprise-like URLs), the tools off.
    let mut h = Harness::start_with(vec![], move |config| {
        config.github = Some(GithubConfig {
            api_url: b.clone(),
            oauth_url: b,
            client_id: None,
            token_ref: g,
            enabled: false,
        });
        config.vercel = Some(VercelConfig {
            token_ref: v,
            enabled: false,
            ..VercelConfig::default()
        });
    })
    .await;
    let config_file = h.data.path().join("config").join("config.toml");

    let status = ask(&mut h, AccountsCommand::Status).await;
    let github = account(&status, AccountService::Github);
    assert!(!github.signed_in && !github.tools_on && github.client_id.is_none());
    assert!(github.problem.is_none(), "{github:?}");
    assert!(
        !tool_names(&mut h)
            .await
            .iter()
            .any(|t| t.starts_with("github_"))
    );

    // Without an OAuth app the sign-in says what to set.
    let no_app = AccountsCommand::SignIn {
        service: AccountService::Github,
        client_id: None,
    };
    let (kind, message) = failure(&ask(&mut h, no_app).await);
    assert_eq!(kind, ErrorKind::Config);
    assert!(message.contains("client id"), "{message}");

    // The device flow: the code to enter comes first, then the signed-in status.
    let sign_in = AccountsCommand::SignIn {
        service: AccountService::Github,
        client_id: Some("Iv1.loopback".into()),
    };
    let events = ask(&mut h, sign_in).await;
    assert_eq!(
        events.first(),
        Some(&Event::SignInStarted {
            service: AccountService::Github,
            step: SignInStep::EnterCode {
                user_code: "WDJB-MJHT".into(),
                verification_uri: "https://github.com/login/device".into(),
                expires_in: 900,
            },
        })
    );
    let github = account(&events, AccountService::Github);
    assert!(github.signed_in && github.tools_on && !github.signing_in);
    assert_eq!(github.client_id.as_deref(), Some("Iv1.loopback"));
    assert_eq!(seen.lock().unwrap().polls, 2);
    assert_eq!(
        stored(&github_account).as_deref(),
        Some(super::github::TOKEN)
    );
    let saved = std::fs::read_to_string(&config_file).unwrap();
    let github_section = saved.split("[vercel]").next().unwrap();
    assert!(
        github_section.contains("Iv1.loopback") && !github_section.contains("enabled"),
        "{saved}"
    );
    // The tools are on at once and use the token.
    assert!(tool_names(&mut h).await.iter().any(|t| t == "github_repos"));
    let repos = h.direct("github_repos", json!({})).await;
    assert_eq!(repos.status, ToolStatus::Succeeded, "{}", repos.output);

    // Sign-out forgets the token, turns the tools off and keeps the settings.
    let out = AccountsCommand::SignOut {
        service: AccountService::Github,
    };
    let github = account(&ask(&mut h, out).await, AccountService::Github);
    assert!(!github.signed_in && !github.tools_on);
    assert_eq!(stored(&github_account), None);
    assert!(
        !tool_names(&mut h)
            .await
            .iter()
            .any(|t| t.starts_with("github_"))
    );
    let saved = std::fs::read_to_string(&config_file).unwrap();
    assert!(
        saved.contains("enabled = false")
            && saved.contains(&base)
            && saved.contains("Iv1.loopback"),
        "{saved}"
    );

    // Vercel takes a token; malformed ones are refused and store nothing.
    for bad in ["   ", "vcp_two\nlines", &"x".repeat(5000)] {
        let set = AccountsCommand::SetToken {
            service: AccountService::Vercel,
            token: Secret::new(bad),
        };
        let (kind, _) = failure(&ask(&mut h, set).await);
        assert_eq!(kind, ErrorKind::Invalid);
    }
    assert_eq!(stored(&vercel_account), None);
    let set = AccountsCommand::SetToken {
        service: AccountService::Vercel,
        token: Secret::new(" vcp_LoopbackToken123 "),
    };
    let vercel = account(&ask(&mut h, set).await, AccountService::Vercel);
    assert!(vercel.signed_in && vercel.tools_on);
    assert_eq!(
        stored(&vercel_account).as_deref(),
        Some("vcp_LoopbackToken123")
    );
    assert!(
        tool_names(&mut h)
            .await
            .iter()
            .any(|t| t.starts_with("vercel_"))
    );
    // Vercel has no browser sign-in; Drive takes no pasted token.
    let browser = AccountsCommand::SignIn {
        service: AccountService::Vercel,
        client_id: None,
    };
    assert_eq!(failure(&ask(&mut h, browser).await).0, ErrorKind::Invalid);
    let pasted = AccountsCommand::SetToken {
        service: AccountService::Drive,
        token: Secret::new("ya29.forged"),
    };
    assert_eq!(failure(&ask(&mut h, pasted).await).0, ErrorKind::Invalid);
    let out = AccountsCommand::SignOut {
        service: AccountService::Vercel,
    };
    let vercel = account(&ask(&mut h, out).await, AccountService::Vercel);
    assert!(!vercel.signed_in && !vercel.tools_on);
    assert_eq!(stored(&vercel_account), None);
}

#[tokio::test]
async fn drive_signs_in_in_the_browser_through_the_engine() {
    if super::common::skip("keychain") {
        return;
    }
    let base = super::drive::serve().await;
    let mut drive = super::drive::loopback_config(&base, "accounts-drive");
    let token_account = drive.token_ref.clone();
    // The client id comes with the sign-in, as a person types it in the window.
    drive.client_id = None;
    let mut h = Harness::start_with(vec![], move |config| config.drive = Some(drive)).await;
    let id = submit(
        &h,
        AccountsCommand::SignIn {
            service: AccountService::Drive,
            client_id: Some("loop.apps.googleusercontent.com".into()),
        },
    );
    let url = loop {
        let envelope = h.next_envelope().await;
        if let (Some(s), Event::SignInStarted { step, .. }) = (envelope.submission, envelope.event)
            && s == id
        {
            let SignInStep::OpenBrowser { url } = step else {
                panic!("{step:?}")
            };
            break url;
        }
    };
    // The test is the browser: the consent page sends it back to the engine's loopback.
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    let drive = account(&answered(&mut h, id).await, AccountService::Drive);
    assert!(drive.signed_in && drive.tools_on);
    assert!(stored(&token_account).is_some());
    assert!(
        tool_names(&mut h)
            .await
            .iter()
            .any(|t| t.starts_with("drive_"))
    );
    let out = AccountsCommand::SignOut {
        service: AccountService::Drive,
    };
    let drive = account(&ask(&mut h, out).await, AccountService::Drive);
    assert!(!drive.signed_in && !drive.tools_on);
    assert_eq!(stored(&token_account), None);
}

/// A device-flow server that lies: `client_id` in the form picks how.
async fn hostile_github(body: String) -> Response {
    let answer = |uri: &str, code: &str| {
        (
            StatusCode::OK,
            axum::Json(
                json!({"device_code": "dc", "user_code": code, "verification_uri": uri,
                              "expires_in": 900, "interval": 1}),
            ),
        )
            .into_response()
    };
    if body.contains("grant_type=") {
        // Nobody ever enters the code.
        return axum::Json(json!({"error": "authorization_pending"})).into_response();
    }
    if body.contains("client_id=uri") {
        answer("javascript:alert(document.cookie)", "WDJB-MJHT")
    } else if body.contains("client_id=file") {
        answer("file:///etc/passwd", "WDJB-MJHT")
    } else if body.contains("client_id=escape") {
        answer(
            "https://github.com/login/device",
            "\u{1b}]8;;https://evil.example\u{7}CODE",
        )
    } else if body.contains("client_id=long") {
        answer("https://github.com/login/device", &"A".repeat(500))
    } else {
        answer("https://github.com/login/device", "WAIT-1234")
    }
}

#[tokio::test]
async fn a_hostile_sign_in_server_is_refused_and_a_waiting_sign_in_stops() {
    let app = Router::new().fallback(axum::routing::post(hostile_github));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let pid = std::process::id();
    let mut h = Harness::start_with(vec![], move |config| {
        config.github = Some(GithubConfig {
            api_url: base.clone(),
            oauth_url: base,
            client_id: None,
            token_ref: format!("aetheria-test-accounts-hostile-{pid}"),
            enabled: false,
        });
    })
    .await;
    let sign_in = |client_id: &str| AccountsCommand::SignIn {
        service: AccountService::Github,
        client_id: Some(client_id.into()),
    };
    // What the window would open or show is checked before anyone sees it.
    for lie in ["uri", "file", "escape", "long"] {
        let events = ask(&mut h, sign_in(lie)).await;
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::SignInStarted { .. })),
            "{lie}: {events:?}"
        );
        let (kind, message) = failure(&events);
        assert_eq!(kind, ErrorKind::Unavailable, "{lie}: {message}");
        assert!(
            message.contains("GitHub answered something unexpected"),
            "{message}"
        );
    }
    // A forged client id (a header or a newline smuggled in) is refused before any request.
    let (kind, _) = failure(&ask(&mut h, sign_in("Iv1\r\nX-Evil: 1")).await);
    assert_eq!(kind, ErrorKind::Invalid);

    // Nobody enters the code: a second sign-in replaces the first, and Cancel stops it.
    let first = submit(&h, sign_in("wait"));
    let started = |e: &Event| matches!(e, Event::SignInStarted { .. });
    let mut first_events = Vec::new();
    while !first_events.iter().any(started) {
        let envelope = h.next_envelope().await;
        if envelope.submission == Some(first) {
            first_events.push(envelope.event);
        }
    }
    let second = submit(&h, sign_in("wait"));
    // The first ends cancelled; the second shows its code (in either order).
    let (mut first_failed, mut second_started) = (None, false);
    while first_failed.is_none() || !second_started {
        let envelope = h.next_envelope().await;
        match (envelope.submission, envelope.event) {
            (Some(s), Event::CommandFailed { error, .. }) if s == first => {
                first_failed = Some(error.kind);
            }
            (Some(s), event) if s == second && started(&event) => second_started = true,
            _ => {}
        }
    }
    assert_eq!(first_failed, Some(ErrorKind::Cancelled));
    let cancel = || AccountsCommand::CancelSignIn {
        service: AccountService::Github,
    };
    // The cancel's status and the second sign-in's end come in either order.
    let cancelling = submit(&h, cancel());
    let (mut status, mut second_failed) = (None, None);
    while status.is_none() || second_failed.is_none() {
        let envelope = h.next_envelope().await;
        match (envelope.submission, envelope.event) {
            (Some(s), Event::Accounts { accounts }) if s == cancelling => status = Some(accounts),
            (Some(s), Event::CommandFailed { error, .. }) if s == second => {
                second_failed = Some(error.kind);
            }
            (Some(s), event) if s == cancelling => panic!("{event:?}"),
            _ => {}
        }
    }
    assert_eq!(second_failed, Some(ErrorKind::Cancelled));
    let status = [Event::Accounts {
        accounts: status.unwrap(),
    }];
    assert!(!account(&status, AccountService::Github).signed_in);
    // Nothing waits now.
    let (kind, _) = failure(&ask(&mut h, cancel()).await);
    assert_eq!(kind, ErrorKind::Missing);
    let github = account(
        &ask(&mut h, AccountsCommand::Status).await,
        AccountService::Github,
    );
    assert!(!github.signing_in && !github.tools_on && github.client_id.is_none());
}
