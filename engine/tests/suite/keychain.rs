//! Keys from the real OS keychain (Secret Service; `.ci/run` starts gnome-keyring): used as the
//! bearer token, and redacted from every error the engine reports.

use aetheria_engine::api::{ErrorKind, Event};
use aetheria_engine::secrets::Secrets;
use aetheria_engine::testkit::Reply;

use super::common::Harness;

#[tokio::test]
async fn a_key_from_the_keychain_is_sent_and_never_shown() {
    if super::common::skip("keychain") {
        return;
    }
    let account = format!("aetheria-test-{}", uuid_like());
    let key = format!("sk-test-{}", uuid_like());
    let secrets = Secrets::new();
    let (a, k) = (account.clone(), key.clone());
    tokio::task::spawn_blocking(move || Secrets::new().set(&a, &k))
        .await
        .unwrap()
        .expect("the OS keychain must work for this test (AETHERIA_SKIP=keychain to skip)");

    let leak = format!("Incorrect API key provided: {key}. You can find your API key at …");
    let acct = account.clone();
    let mut h = Harness::start_with(
        vec![Reply::text(&["ok"]), Reply::error(401, &leak)],
        move |c| {
            c.providers[0].key_ref = Some(acct);
        },
    )
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "hi").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(
        h.server.authorizations()[0].as_deref(),
        Some(format!("Bearer {key}").as_str())
    );

    let events = h.turn(&session, "again").await;
    let Some(Event::TurnFailed { error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(
        !error.message.contains(&key),
        "key leaked: {}",
        error.message
    );
    assert!(error.message.contains("[REDACTED]"), "{}", error.message);
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&key));

    // The key is nowhere in the database files either.
    let mut leaked = false;
    for entry in walk(h.data.path()) {
        if let Ok(bytes) = std::fs::read(&entry) {
            leaked |= bytes.windows(key.len()).any(|w| w == key.as_bytes());
        }
    }
    assert!(!leaked, "the key was written to disk under the data folder");

    let a = account.clone();
    assert!(
        tokio::task::spawn_blocking(move || secrets.delete(&a))
            .await
            .unwrap()
            .unwrap()
    );
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn a_key_stored_after_a_refusal_is_used_on_the_next_turn() {
    if super::common::skip("keychain") {
        return;
    }
    let account = format!("aetheria-test-later-{}", uuid_like());
    let key = format!("sk-later-{}", uuid_like());
    let acct = account.clone();
    let mut h = Harness::start_with(
        vec![
            Reply::error(401, "No API key provided"),
            Reply::text(&["now it works"]),
        ],
        move |c| c.providers[0].key_ref = Some(acct),
    )
    .await;
    let session = h.new_session().await;
    let events = h.turn(&session, "hi").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFailed { error, .. }) if error.kind == ErrorKind::Auth)
    );
    assert_eq!(h.server.authorizations()[0], None);

    let (a, k) = (account.clone(), key.clone());
    tokio::task::spawn_blocking(move || Secrets::new().set(&a, &k))
        .await
        .unwrap()
        .unwrap();
    let events = h.turn(&session, "again").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(
        h.server.authorizations()[1].as_deref(),
        Some(format!("Bearer {key}").as_str())
    );
    let a = account.clone();
    tokio::task::spawn_blocking(move || Secrets::new().delete(&a))
        .await
        .unwrap()
        .unwrap();
}
