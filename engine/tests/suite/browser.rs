//! The browser tools with a real Chromium against pages served on loopback, driven by a scripted
//! model through the real agent loop: a search → results → detail → order flow checked on the
//! server, a page built by scripts, a login whose password typing is asked every time, a form
//! that posts to another site (asked), a download into the workspace, a redirect to an unlisted
//! private address refused, and hostile page text.

mod site;

use std::time::{Duration, Instant};

use aetheria_engine::api::{
    BrowserCommand, BrowserInput, BrowserKey, Command, Decision, ErrorKind, Event, ToolCallId,
    ToolStatus, ToolsCommand, TurnCommand,
};
use aetheria_engine::testkit::Reply;

use self::site::{Seen, internal, site};
use super::common::{Harness, turn_ended};

async fn harness(port: u16, replies: Vec<Reply>) -> Harness {
    let mut h = Harness::start_with(replies, move |config| {
        config.web.timeout_secs = 20;
        // The site is on loopback, off the internet: the person lists it (by both names).
        config.web.private_hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}")];
        // A model that sees images gets the browser's screenshots.
        for provider in &mut config.providers {
            provider.vision = Some(true);
        }
    })
    .await;
    // Starting Chromium on a busy machine can take a while.
    h.silence = Duration::from_secs(120);
    h
}

/// One model step per call (`c1`, `c2`, … in order), then a closing text.
fn steps(calls: &[(&str, serde_json::Value)]) -> Vec<Reply> {
    let mut replies: Vec<Reply> = calls
        .iter()
        .enumerate()
        .map(|(i, (tool, args))| {
            let id = format!("c{}", i + 1);
            Reply::tool_calls(&[(id.as_str(), *tool, args.to_string().as_str())], 7)
        })
        .collect();
    replies.push(Reply::text(&["Done."]));
    replies
}

/// Waits for the next approval request and answers it; returns (tool, preview, suggested
/// scope). The events up to it are added to `log`.
async fn approve(
    h: &mut Harness,
    log: &mut Vec<Event>,
    decision: Decision,
    remember_site: bool,
) -> (String, Option<String>, Option<String>) {
    let events = h
        .until(|e| matches!(e, Event::ApprovalRequested { .. }))
        .await;
    log.extend(events.iter().cloned());
    let Some(Event::ApprovalRequested {
        call,
        tool,
        preview,
        scope,
        ..
    }) = events.last().cloned()
    else {
        unreachable!()
    };
    let scope = scope.map(|s| s.value);
    h.handle
        .submit(Command::Turn(TurnCommand::Approve {
            call,
            decision,
            remember: remember_site,
            scope: scope.clone().filter(|_| remember_site),
        }))
        .unwrap();
    (tool, preview, scope)
}

/// Every finished call's (status, output), in order.
fn finished(events: &[Event]) -> Vec<(ToolStatus, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ToolCallFinished { status, output, .. } => Some((*status, output.clone())),
            _ => None,
        })
        .collect()
}

/// Search → results → detail → an order form filled in and posted (checked on the server); one
/// "always allow the browser on this site" covers every later action there; a form on that
/// site that posts to another site is asked again, and denied it sends nothing.
#[tokio::test]
async fn the_agent_shops_through_a_multi_page_flow() {
    let seen = Seen::default();
    let (leak, _) = internal().await;
    let (base, port) = site(seen.clone(), leak).await;
    let calls = [
        (
            "browser_open",
            serde_json::json!({ "url": format!("{base}/") }),
        ),
        (
            "browser_type",
            serde_json::json!({ "selector": "input[name=q]", "text": "widget", "submit": true }),
        ),
        ("browser_click", serde_json::json!({ "name": "Widget One" })),
        (
            "browser_type",
            serde_json::json!({ "name": "Quantity", "text": "3" }),
        ),
        (
            "browser_select",
            serde_json::json!({ "name": "Color", "option": "Blue" }),
        ),
        (
            "browser_click",
            serde_json::json!({ "name": "Place order" }),
        ),
        (
            "browser_open",
            serde_json::json!({ "url": format!("{base}/cross") }),
        ),
        ("browser_click", serde_json::json!({ "name": "Send" })),
        ("browser_screenshot", serde_json::json!({})),
    ];
    let mut h = harness(port, steps(&calls)).await;
    let session = h.new_session().await;
    h.send(&session, "order three blue widgets");
    let mut log = Vec::new();
    let (tool, _, scope) = approve(&mut h, &mut log, Decision::Allow, true).await;
    assert_eq!(tool, "browser_open");
    assert_eq!(scope.as_deref(), Some(base.as_str()));
    // Every action on the granted site runs; the form that posts elsewhere is asked.
    let (tool, _, scope) = approve(&mut h, &mut log, Decision::Deny, false).await;
    assert_eq!(tool, "browser_click");
    assert_eq!(scope, Some(format!("http://localhost:{port}")));
    log.extend(h.until(turn_ended).await);
    let results = finished(&log);
    assert_eq!(results.len(), 9, "{results:#?}");
    for (i, (status, output)) in results.iter().enumerate() {
        let expected = if i == 7 {
            ToolStatus::Denied
        } else {
            ToolStatus::Succeeded
        };
        assert_eq!(*status, expected, "{output}");
    }
    assert!(results[0].1.contains("# Shop"), "{}", results[0].1);
    assert!(
        results[1].1.contains("Results for widget"),
        "{}",
        results[1].1
    );
    assert!(
        results[1].1.contains("link \"Widget Two\""),
        "{}",
        results[1].1
    );
    assert!(!results[1].1.contains("Gadget"), "{}", results[1].1);
    assert!(results[2].1.contains("# Widget One"), "{}", results[2].1);
    assert!(results[4].1.contains("Chose \"Blue\""), "{}", results[4].1);
    assert!(
        results[5].1.contains("Order placed for 3 Blue"),
        "{}",
        results[5].1
    );
    assert_eq!(
        *seen.orders.lock().unwrap(),
        vec![("3".to_owned(), "Blue".to_owned())],
        "only the approved order reached the server"
    );
    // The model read the pages it acted on, and saw the screenshot (a PNG after its result).
    let requests = h.server.requests();
    let asked = serde_json::to_string(&requests).unwrap();
    assert!(
        asked.contains("Order placed for 3 Blue"),
        "the model never saw the order page"
    );
    let last = requests.last().unwrap().to_string();
    assert!(
        last.contains("the image browser_screenshot produced"),
        "{last:.400}"
    );
    assert!(
        last.contains("data:image/png;base64,iVBORw0KGgo"),
        "no PNG reached the model"
    );
    let earlier = requests[requests.len() - 2].to_string();
    assert!(
        !earlier.contains("data:image/png"),
        "an image before any screenshot"
    );
    // The card keeps it too.
    let kept = log.iter().find_map(|e| match e {
        Event::ToolCallFinished { images, .. } if !images.is_empty() => Some(images.len()),
        _ => None,
    });
    assert_eq!(kept, Some(1));
}

/// A sign-in: the user name is typed under the site's grant, the password is asked although the
/// site is granted (and the answer offers nothing to remember), and the session cookie carries
/// the agent into the account page. A redirect to an unlisted private address is refused.
#[tokio::test]
async fn a_login_asks_for_the_password_and_a_private_redirect_is_refused() {
    let seen = Seen::default();
    let (leak, hits) = internal().await;
    let (base, port) = site(seen.clone(), leak).await;
    let calls = [
        (
            "browser_open",
            serde_json::json!({ "url": format!("{base}/login") }),
        ),
        (
            "browser_type",
            serde_json::json!({ "name": "User", "text": "alice" }),
        ),
        (
            "browser_type",
            serde_json::json!({ "name": "Password", "text": "correct horse" }),
        ),
        (
            "browser_type",
            serde_json::json!({ "selector": "input[type=password]", "text": "guess" }),
        ),
        ("browser_click", serde_json::json!({ "name": "Sign in" })),
        (
            "browser_open",
            serde_json::json!({ "url": format!("{base}/leak") }),
        ),
    ];
    let mut h = harness(port, steps(&calls)).await;
    let session = h.new_session().await;
    h.send(&session, "sign in as alice");
    let mut log = Vec::new();
    let (tool, _, _) = approve(&mut h, &mut log, Decision::Allow, true).await;
    assert_eq!(tool, "browser_open");
    let (tool, preview, scope) = approve(&mut h, &mut log, Decision::Allow, true).await;
    assert_eq!(tool, "browser_type");
    let preview = preview.unwrap_or_default();
    assert!(preview.contains("password field on"), "{preview}");
    assert_eq!(scope, None, "a password is never allowed for good");
    // Answered "remember", and still asked the next time (by selector this time): denied.
    let (tool, preview, _) = approve(&mut h, &mut log, Decision::Deny, true).await;
    assert_eq!(tool, "browser_type");
    assert!(preview.unwrap_or_default().contains("password field on"));
    log.extend(h.until(turn_ended).await);
    let results = finished(&log);
    assert_eq!(results.len(), 6, "{results:#?}");
    for (i, (status, output)) in results.iter().enumerate() {
        let expected = match i {
            3 => ToolStatus::Denied,
            5 => ToolStatus::Failed,
            _ => ToolStatus::Succeeded,
        };
        assert_eq!(*status, expected, "{output}");
    }
    assert!(results[4].1.contains("Welcome, alice"), "{}", results[4].1);
    assert_eq!(*seen.logins.lock().unwrap(), vec!["alice".to_owned()]);
    // The password is not in the page the model reads back.
    assert!(!results[2].1.contains("correct horse"), "{}", results[2].1);
    let leak = &results[5].1;
    assert!(leak.contains("kept from"), "{leak}");
    assert!(leak.contains("not a public internet address"), "{leak}");
    assert!(!leak.contains("internal-secret-8812"), "{leak}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// Direct calls: a page built by scripts (waited for, then clicked), a reference from a
/// snapshot, a download saved in the workspace (asked, as a change to the workspace), hostile
/// page text, bad targets, and the figures: a click to its next snapshot, and a screenshot.
#[tokio::test]
async fn scripts_downloads_refs_and_hostile_pages() {
    let seen = Seen::default();
    let (leak, _) = internal().await;
    let (base, port) = site(seen, leak).await;
    let mut h = harness(port, vec![]).await;

    let opened = h
        .direct(
            "browser_open",
            serde_json::json!({ "url": format!("{base}/app") }),
        )
        .await;
    assert_eq!(opened.status, ToolStatus::Succeeded, "{}", opened.output);
    assert!(opened.asked, "opening a site nobody allowed asks");
    let waited = h
        .direct("browser_wait", serde_json::json!({ "text": "Press me" }))
        .await;
    assert!(waited.output.contains("It is there"), "{}", waited.output);
    let reference = waited
        .output
        .lines()
        .find(|l| l.contains("button \"Press me\""))
        .and_then(|l| l.split('[').nth(1))
        .and_then(|r| r.split(']').next())
        .unwrap_or_else(|| panic!("{}", waited.output))
        .to_owned();
    let clicked = h
        .direct("browser_click", serde_json::json!({ "ref": reference }))
        .await;
    assert!(
        clicked.output.contains("button \"Clicked!\""),
        "{}",
        clicked.output
    );

    // Nothing of this process's environment (keys, tokens, paths of tools) reaches Chromium:
    // it started with HOME and PATH only (the same check fails with `env_clear` taken out).
    #[cfg(target_os = "linux")]
    {
        let me = std::process::id().to_string();
        let chromium = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
            .find(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                let parent = stat
                    .rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().nth(1));
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                parent == Some(me.as_str())
                    && String::from_utf8_lossy(&cmdline).contains("--remote-debugging-port=0")
            })
            .expect("the browser is a child of this process");
        let environ = std::fs::read(format!("/proc/{chromium}/environ")).unwrap();
        let names: Vec<String> = environ
            .split(|b| *b == 0)
            .filter_map(|v| v.split(|b| *b == b'=').next())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        let leaked: Vec<String> = std::env::vars()
            .map(|(name, _)| name)
            // What it was given, and what the shell of its launcher script sets itself.
            .filter(|name| {
                !matches!(
                    name.as_str(),
                    "HOME" | "PATH" | "PWD" | "OLDPWD" | "SHLVL" | "_"
                ) && names.contains(name)
            })
            .collect();
        assert!(leaked.is_empty(), "leaked into Chromium: {leaked:?}");
        assert!(names.iter().any(|n| n == "PATH"), "{names:?}");
    }

    // Bad targets get clear errors.
    for (args, says) in [
        (
            serde_json::json!({ "ref": "e999" }),
            "no \"e999\" in the last snapshot",
        ),
        (
            serde_json::json!({ "selector": "#nothing" }),
            "no element matches",
        ),
        (
            serde_json::json!({ "name": "No such button" }),
            "no element one can act on",
        ),
        (
            serde_json::json!({}),
            "exactly one of ref, selector or name",
        ),
        (
            serde_json::json!({ "ref": "e1", "selector": "button" }),
            "exactly one of ref, selector or name",
        ),
    ] {
        let d = h.direct("browser_click", args).await;
        assert_eq!(d.status, ToolStatus::Failed, "{}", d.output);
        assert!(d.output.contains(says), "{}", d.output);
    }

    // A download lands in the workspace, asked first.
    h.direct(
        "browser_open",
        serde_json::json!({ "url": format!("{base}/files") }),
    )
    .await;
    let got = h
        .direct(
            "browser_download",
            serde_json::json!({ "name": "Get report", "save_as": "reports/r.csv" }),
        )
        .await;
    assert_eq!(got.status, ToolStatus::Succeeded, "{}", got.output);
    assert!(got.asked);
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("reports/r.csv")).unwrap(),
        "month,total\njan,42\n"
    );
    let outside = h
        .direct(
            "browser_download",
            serde_json::json!({ "name": "Get report", "save_as": "../escape.csv" }),
        )
        .await;
    assert_eq!(outside.status, ToolStatus::Failed, "{}", outside.output);
    assert!(!h.data.path().join("escape.csv").exists());

    // Hostile text: no terminal escapes reach the model, long names are cut.
    let hostile = h
        .direct(
            "browser_open",
            serde_json::json!({ "url": format!("{base}/hostile") }),
        )
        .await;
    assert_eq!(hostile.status, ToolStatus::Succeeded, "{}", hostile.output);
    assert!(!hostile.output.contains('\u{1b}') && !hostile.output.contains('\u{7}'));
    assert!(
        hostile.output.contains("Page: Evil ]0;pwned"),
        "{}",
        hostile.output
    );
    assert!(
        !hostile.output.contains(&"A".repeat(300)),
        "{}",
        hostile.output
    );

    // The figures (printed for the notes, never asserted on time).
    h.direct(
        "browser_open",
        serde_json::json!({ "url": format!("{base}/a") }),
    )
    .await;
    let mut clicks = Vec::new();
    for i in 0..9 {
        let to = if i % 2 == 0 { "to b" } else { "to a" };
        let start = Instant::now();
        let d = h
            .direct("browser_click", serde_json::json!({ "name": to }))
            .await;
        clicks.push(start.elapsed());
        assert_eq!(d.status, ToolStatus::Succeeded, "{}", d.output);
    }
    clicks.sort();
    let start = Instant::now();
    let shot = h.direct("browser_screenshot", serde_json::json!({})).await;
    let shot_time = start.elapsed();
    assert_eq!(shot.status, ToolStatus::Succeeded, "{}", shot.output);
    assert!(shot.output.contains("it is attached"), "{}", shot.output);
    eprintln!(
        "browser figures: click → next snapshot median {:?} (of 9, asked each time: direct calls); screenshot → kept image {shot_time:?}",
        clicks[4]
    );
}

/// Watching and taking over: frames (real JPEGs) arrive while watched; the person's input is
/// refused until they take the browser over; then the agent's call waits, the person clicks the
/// field, types and presses Enter, hands back, and the call reads the page they left, told so.
#[tokio::test]
async fn the_person_watches_takes_over_and_hands_back() {
    use base64::Engine as _;
    let seen = Seen::default();
    let (leak, _) = internal().await;
    let (base, port) = site(seen, leak).await;
    let mut h = harness(port, vec![]).await;
    let opened = h
        .direct(
            "browser_open",
            serde_json::json!({ "url": format!("{base}/takeover") }),
        )
        .await;
    assert_eq!(opened.status, ToolStatus::Succeeded, "{}", opened.output);
    let browser = |c: BrowserCommand| Command::Browser(c);

    h.handle
        .submit(browser(BrowserCommand::Watch {
            session: None,
            on: true,
        }))
        .unwrap();
    // The answer (the browser's state) and a first frame, in either order.
    let mut events = Vec::new();
    let (mut stated, mut framed) = (false, false);
    while !(stated && framed) {
        let event = h.next().await;
        stated |= matches!(event, Event::BrowserState { .. });
        framed |= matches!(event, Event::BrowserFrame { .. });
        events.push(event);
    }
    let state = events.iter().find_map(|e| match e {
        Event::BrowserState { view, .. } => Some(view.clone()),
        _ => None,
    });
    let state = state.expect("watching answers with the browser's state");
    assert!(
        state.running && state.url.ends_with("/takeover"),
        "{state:?}"
    );
    let jpeg = events.iter().find_map(|e| match e {
        Event::BrowserFrame { jpeg, .. } => Some(jpeg.clone()),
        _ => None,
    });
    let Some(jpeg) = jpeg else { unreachable!() };
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(jpeg)
        .unwrap();
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF], "a frame is a JPEG");

    let refused = h
        .refused(browser(BrowserCommand::Input {
            session: None,
            input: BrowserInput::Text { text: "x".into() },
        }))
        .await;
    assert_eq!(refused.kind, ErrorKind::Conflict, "{refused:?}");

    h.handle
        .submit(browser(BrowserCommand::TakeOver { session: None }))
        .unwrap();
    h.until(|e| matches!(e, Event::BrowserState { view, .. } if view.taken_over))
        .await;
    // The agent reads the page meanwhile: its call waits for the person.
    let call = ToolCallId::new();
    h.handle
        .submit(Command::Tools(ToolsCommand::Call {
            call: call.clone(),
            tool: "browser_snapshot".into(),
            arguments: serde_json::json!({}),
        }))
        .unwrap();
    for input in [
        BrowserInput::Click { x: 100.0, y: 50.0 },
        BrowserInput::Text {
            text: "alice".into(),
        },
        BrowserInput::Key {
            key: BrowserKey::Enter,
        },
    ] {
        h.handle
            .submit(browser(BrowserCommand::Input {
                session: None,
                input,
            }))
            .unwrap();
    }
    h.handle
        .submit(browser(BrowserCommand::HandBack { session: None }))
        .unwrap();
    let events = h
        .until(|e| matches!(e, Event::ToolCallFinished { call: c, .. } if *c == call))
        .await;
    let handed_back = events
        .iter()
        .position(|e| matches!(e, Event::BrowserState { view, .. } if !view.taken_over && view.last_action.contains("handed")))
        .expect("the hand-back's state");
    let finished = events.len() - 1;
    assert!(
        handed_back < finished,
        "the agent's call ended before the hand-back"
    );
    let typed = events
        .iter()
        .filter(|e| matches!(e, Event::BrowserState { view, .. } if view.last_action.starts_with("The person")))
        .count();
    assert!(typed >= 4, "each input answered with the state: {typed}");
    let Some(Event::ToolCallFinished { status, output, .. }) = events.last() else {
        unreachable!()
    };
    assert_eq!(*status, ToolStatus::Succeeded, "{output}");
    assert!(
        output.starts_with("The person took the browser over"),
        "{output}"
    );
    assert!(output.contains("# Hello alice"), "{output}");
}
