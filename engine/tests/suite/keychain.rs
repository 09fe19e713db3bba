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

/// The embeddings endpoint's key is read from the keychain once and kept (not at every turn), and
/// read again after the endpoint refused it (a key changed meanwhile is then used) or once a key
/// is stored through the engine.
#[tokio::test]
async fn the_embeddings_key_is_kept_until_it_is_refused_or_replaced() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    if super::common::skip("keychain") {
        return;
    }
    let account = format!("aetheria-test-embed-{}", uuid_like());
    let (first, second) = (
        format!("sk-embed-a-{}", uuid_like()),
        format!("sk-embed-b-{}", uuid_like()),
    );
    let set = |key: &str| {
        let (a, k) = (account.clone(), key.to_owned());
        tokio::task::spawn_blocking(move || Secrets::new().set(&a, &k))
    };
    set(&first).await.unwrap().unwrap();

    // A loopback embeddings endpoint (OpenAI's wire format) that keeps each request's
    // Authorization header and refuses every key while `refuse` is set.
    let (seen, refuse) = (
        Arc::new(Mutex::new(Vec::<String>::new())),
        Arc::new(AtomicBool::new(false)),
    );
    let app = {
        let (seen, refuse) = (seen.clone(), refuse.clone());
        axum::Router::new().route(
            "/v1/embeddings",
            axum::routing::post(move |headers: axum::http::HeaderMap| {
                let (seen, refuse) = (seen.clone(), refuse.clone());
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().unwrap().push(auth);
                    if refuse.load(Ordering::SeqCst) {
                        return (
                            axum::http::StatusCode::UNAUTHORIZED,
                            r#"{"error":{"message":"Incorrect API key provided"}}"#.to_owned(),
                        );
                    }
                    let data = serde_json::json!([{"object": "embedding", "index": 0, "embedding": [0.6, 0.8]}]);
                    (
                        axum::http::StatusCode::OK,
                        serde_json::json!({"object": "list", "data": data, "model": "e"}).to_string(),
                    )
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let cat = serde_json::json!({"text": "The person's cat is called Miso."}).to_string();
    let acct = account.clone();
    let mut h = Harness::start_with(
        vec![
            Reply::tool_calls(&[("r1", "remember", &cat)], 5),
            Reply::text(&["Noted."]),
            Reply::text(&["one"]),
            Reply::text(&["two"]),
            Reply::text(&["three"]),
            Reply::text(&["four"]),
        ],
        move |c| super::common::remembering_with_embeddings(c, base, "e", Some(acct)),
    )
    .await;
    let session = h.new_session().await;
    let bearer = |key: &str| format!("Bearer {key}");
    // The memory's vector: the key is read.
    h.turn(&session, "Remember my cat Miso").await;
    assert_eq!(*seen.lock().unwrap(), [bearer(&first)]);

    // The key changes in the keychain, as `aetheria auth set` in another process would do it:
    // the kept key is still sent (the keychain was not asked again).
    set(&second).await.unwrap().unwrap();
    let events = h.turn(&session, "What is my feline called?").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(*seen.lock().unwrap(), [bearer(&first), bearer(&first)]);

    // Refused: the turn still ends (recall by words only), and the key is forgotten.
    refuse.store(true, Ordering::SeqCst);
    let events = h.turn(&session, "And my kitty?").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    refuse.store(false, Ordering::SeqCst);
    let events = h.turn(&session, "My cat?").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [
            bearer(&first),
            bearer(&first),
            bearer(&first),
            bearer(&second)
        ]
    );

    // A key stored through the engine (Settings' `StoreKey`, under the account the embeddings
    // endpoint uses) is the one sent next: the kept key is forgotten at once.
    let third = format!("sk-embed-c-{}", uuid_like());
    let events = h.store_key(&account, &third).await;
    assert!(
        matches!(events.last(), Some(Event::KeyStored { provider }) if *provider == account),
        "{events:?}"
    );
    let events = h.turn(&session, "Is Miso still my cat?").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    assert_eq!(
        seen.lock().unwrap()[4..],
        [bearer(&third)],
        "the key stored through the engine is read at once"
    );

    let a = account.clone();
    assert!(
        tokio::task::spawn_blocking(move || Secrets::new().delete(&a))
            .await
            .unwrap()
            .unwrap()
    );
}
