//! Memory on a SurrealDB server: a real server (the `surreal` binary's own code, built here as the
//! `surreal_server` example) shared by two engines as two machines would share it — what one
//! writes, the other lists, loads and finds — with the password from the real OS keychain; a
//! wrong or missing password is refused with a clear message.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use aetheria_engine::api::{Command, ErrorKind, Event, Role, SessionCommand};
use aetheria_engine::config::Config;
use aetheria_engine::secrets::Secrets;
use aetheria_engine::testkit::Reply;
use aetheria_engine::{Engine, EngineError};

use super::common::{Harness, config_for, skip};

/// A SurrealDB server on a free loopback port, in memory, with one root user.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn example(name: &str) -> PathBuf {
    // target/debug/deps/suite-… → target/debug/examples/NAME
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

fn server(password: &str) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = example("surreal_server");
    let child = Process::new(&bin)
        .args(["start", "--bind", &format!("127.0.0.1:{port}")])
        .args([
            "--user", "root", "--pass", password, "--log", "warn", "memory",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (built by `cargo test`)", bin.display()));
    let server = Server {
        child,
        url: format!("ws://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the SurrealDB server did not listen within 10 s");
}

async fn keep(account: &str, password: &str) {
    let (a, p) = (account.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || Secrets::new().set(&a, &p))
        .await
        .unwrap()
        .expect("the OS keychain must work for this test (AETHERIA_SKIP=keychain to skip)");
}

fn on_server(config: &mut Config, url: &str, account: &str) {
    config.memory.url = Some(url.to_owned());
    config.memory.user = Some("root".into());
    config.memory.key_ref = Some(account.to_owned());
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// A server with a fresh root password, kept in the keychain under a fresh account.
async fn keyed_server() -> (Server, String, String) {
    let password = unique("pw");
    let account = unique("aetheria-test-surreal");
    keep(&account, &password).await;
    (server(&password), password, account)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_engines_share_their_memory_on_a_surrealdb_server() {
    if skip("keychain") {
        return;
    }
    let (server, _, account) = keyed_server().await;

    // "Machine A" talks; its turn is written to the server.
    let (url, acct) = (server.url.clone(), account.clone());
    let mut a = Harness::start_with(
        vec![Reply::text(&["Sea otters hold hands while they sleep."])],
        move |c| on_server(c, &url, &acct),
    )
    .await;
    let session = a.new_session().await;
    let events = a.turn(&session, "Tell me something about otters").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );

    // "Machine B", with its own data folder, sees it: listed, loaded and found by search.
    let (url, acct) = (server.url.clone(), account.clone());
    let mut b = Harness::start_with(vec![], move |c| on_server(c, &url, &acct)).await;
    b.handle
        .submit(Command::Session(SessionCommand::List))
        .unwrap();
    let Some(Event::SessionList { sessions }) = b
        .until(|e| matches!(e, Event::SessionList { .. }))
        .await
        .pop()
    else {
        unreachable!()
    };
    assert!(sessions.iter().any(|s| s.id == session), "{sessions:?}");
    b.handle
        .submit(Command::Session(SessionCommand::Load {
            session: session.clone(),
        }))
        .unwrap();
    let Some(Event::SessionLoaded { messages, .. }) = b
        .until(|e| matches!(e, Event::SessionLoaded { .. }))
        .await
        .pop()
    else {
        unreachable!()
    };
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[1].role, Role::Assistant);
    assert_eq!(
        messages[1].content,
        "Sea otters hold hands while they sleep."
    );
    b.handle
        .submit(Command::Session(SessionCommand::Search {
            query: "otter sleeping".into(),
            limit: None,
        }))
        .unwrap();
    let Some(Event::SearchResults { hits, .. }) = b
        .until(|e| matches!(e, Event::SearchResults { .. }))
        .await
        .pop()
    else {
        unreachable!()
    };
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|h| h.session == session), "{hits:?}");
    assert!(
        hits.iter().any(|h| h.snippet.contains("«otters»")),
        "{hits:?}"
    );
    // Nothing of it is on B's own disk.
    assert!(!b.data.path().join("db").exists());
    // B deletes the session; A, which knew it, asks the server before its next turn.
    b.handle
        .submit(Command::Session(SessionCommand::Delete {
            session: session.clone(),
        }))
        .unwrap();
    b.until(|e| matches!(e, Event::SessionDeleted { .. })).await;
    a.send(&session, "and sea lions?");
    let events = a
        .until(|e| matches!(e, Event::CommandFailed { .. } | Event::TurnStarted { .. }))
        .await;
    let Some(Event::CommandFailed { error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(error.kind, ErrorKind::Missing, "{}", error.message);
    drop(a);
    drop(b);

    // A wrong password, and none at all, are refused, naming the fix.
    let dir = tempfile::tempdir().unwrap();
    let wrong = unique("aetheria-test-surreal-wrong");
    keep(&wrong, "not-the-password").await;
    let mut config = config_for(&dir, dir.path(), "http://127.0.0.1:9/v1");
    on_server(&mut config, &server.url, &wrong);
    let err = Engine::start(config.clone()).await.unwrap_err();
    assert!(matches!(err, EngineError::Memory(_)), "{err:?}");
    assert!(err.to_string().contains(&server.url), "{err}");
    config.memory.key_ref = Some(unique("aetheria-test-surreal-none"));
    let err = Engine::start(config).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("aetheria auth set aetheria-test-surreal-none"),
        "{err}"
    );
    for acct in [account, wrong] {
        let _ = tokio::task::spawn_blocking(move || Secrets::new().delete(&acct)).await;
    }
}

/// Whoever can write to a shared database cannot make this machine read its files: a stored
/// message that names a host file as its image (here a real PNG outside the attachments folder)
/// gets a note in the history, and the file never goes to the model. On the old code the file
/// was read and sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_image_path_in_a_shared_database_reads_no_host_file() {
    if skip("keychain") {
        return;
    }
    let (server, password, account) = keyed_server().await;
    let (url, acct) = (server.url.clone(), account.clone());
    let mut a = Harness::start_with(
        vec![Reply::text(&["Hello."]), Reply::text(&["Still here."])],
        move |c| on_server(c, &url, &acct),
    )
    .await;
    let session = a.new_session().await;
    a.turn(&session, "hi").await;
    // The host file an attacker wants: a PNG (so it would pass as an image) outside the folder.
    let secret = a.data.path().join("secret-screenshot.png");
    let png = b"\x89PNG\r\n\x1a\nTOP-SECRET-PIXELS";
    std::fs::write(&secret, png).unwrap();
    let db = surrealdb::engine::any::connect(server.url.as_str())
        .await
        .unwrap();
    db.signin(surrealdb::opt::auth::Root {
        username: "root".into(),
        password: password.clone(),
    })
    .await
    .unwrap();
    db.use_ns("aetheria").use_db("main").await.unwrap();
    db.query("UPDATE message SET images = [$path] WHERE session = $sid AND role = 'user'")
        .bind(("path", secret.display().to_string()))
        .bind(("sid", session.to_string()))
        .await
        .unwrap()
        .check()
        .unwrap();
    let events = a.turn(&session, "and now?").await;
    assert!(
        matches!(events.last(), Some(Event::TurnFinished { .. })),
        "{events:?}"
    );
    let sent = serde_json::to_string(&a.server.requests()[1]).unwrap();
    let leaked = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, png);
    assert!(!sent.contains(&leaked), "the host file went to the model");
    assert!(sent.contains("no longer available"), "{sent}");
    let _ = tokio::task::spawn_blocking(move || Secrets::new().delete(&account)).await;
}
