//! Google Drive against loopback servers that answer as Google documents it: an OAuth 2.0
//! authorization server for installed apps (PKCE S256, loopback redirect, refresh tokens) and the
//! Drive v3 REST API (`nextPageToken`, export to markdown/CSV, `alt=media`, multipart upload,
//! `{"error": {"code", "message", "errors": [{"reason"}]}}` bodies). Tokens live in the keychain.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aetheria_engine::api::ToolStatus;
use aetheria_engine::config::DriveConfig;
use aetheria_engine::secrets::Secrets;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest;

use super::common::Harness;

#[derive(Default)]
struct Google {
    challenge: Option<String>,
    /// The access token the API accepts now.
    access: String,
    refreshes: usize,
    uploads: Vec<String>,
    folders: Vec<Value>,
}

type Shared = Arc<Mutex<Google>>;

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

fn google_error(status: StatusCode, reason: &str, message: &str) -> Response {
    reply(
        status,
        json!({"error": {"code": status.as_u16(), "message": message,
        "errors": [{"domain": "global", "reason": reason, "message": message}]}}),
    )
}

fn params(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn file(id: &str, name: &str, mime: &str) -> Value {
    json!({"id": id, "name": name, "mimeType": mime, "modifiedTime": "2026-11-20T10:00:00.000Z"})
}

async fn google(
    State(g): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let query = params(uri.query().unwrap_or(""));
    let path = uri.path().to_owned();
    // The authorization endpoint: checks the request, then "the person agrees" and is sent back.
    if path == "/o/oauth2/v2/auth" {
        assert_eq!(
            get(&query, "client_id"),
            Some("loop.apps.googleusercontent.com")
        );
        assert_eq!(get(&query, "response_type"), Some("code"));
        assert_eq!(get(&query, "code_challenge_method"), Some("S256"));
        assert_eq!(get(&query, "access_type"), Some("offline"));
        let redirect = get(&query, "redirect_uri").unwrap();
        assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
        g.lock().unwrap().challenge = get(&query, "code_challenge").map(str::to_owned);
        let state = get(&query, "state").unwrap();
        return (
            StatusCode::FOUND,
            [(
                header::LOCATION,
                format!("{redirect}/?state={state}&code=4/0AVG7fiQ&scope=drive"),
            )],
        )
            .into_response();
    }
    if path == "/token" {
        let form = params(std::str::from_utf8(&body).unwrap());
        let mut g = g.lock().unwrap();
        return match get(&form, "grant_type") {
            Some("authorization_code") => {
                let verifier = get(&form, "code_verifier").unwrap();
                let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if Some(challenge) != g.challenge || get(&form, "code") != Some("4/0AVG7fiQ") {
                    return reply(
                        StatusCode::BAD_REQUEST,
                        json!({"error": "invalid_grant", "error_description": "Bad Request"}),
                    );
                }
                g.access = "ya29.first-access-token-000000".into();
                // Expires within a minute: the first call refreshes it.
                reply(
                    StatusCode::OK,
                    json!({"access_token": g.access, "expires_in": 30, "refresh_token": "1//0refresh-token-abcdefghijklmnopqrstuvwxyz", "scope": "https://www.googleapis.com/auth/drive", "token_type": "Bearer"}),
                )
            }
            Some("refresh_token") => {
                assert_eq!(
                    get(&form, "refresh_token"),
                    Some("1//0refresh-token-abcdefghijklmnopqrstuvwxyz")
                );
                g.refreshes += 1;
                g.access = format!("ya29.refreshed-{}-0000000000", g.refreshes);
                reply(
                    StatusCode::OK,
                    json!({"access_token": g.access, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/drive", "token_type": "Bearer"}),
                )
            }
            _ => reply(
                StatusCode::BAD_REQUEST,
                json!({"error": "unsupported_grant_type"}),
            ),
        };
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if auth != format!("Bearer {}", g.lock().unwrap().access) {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "authError",
            "Request had invalid authentication credentials.",
        );
    }
    match (method.as_str(), path.as_str()) {
        ("GET", "/drive/v3/files") => {
            let q = get(&query, "q").unwrap_or("");
            if q.starts_with("'root' in parents") {
                return match get(&query, "pageToken") {
                    None => reply(
                        StatusCode::OK,
                        json!({"nextPageToken": "page2", "files": [
                        file("f1", "Projects", "application/vnd.google-apps.folder"),
                        file("d1", "Plan", "application/vnd.google-apps.document")]}),
                    ),
                    Some("page2") => reply(
                        StatusCode::OK,
                        json!({"files": [
                        file("s1", "Budget", "application/vnd.google-apps.spreadsheet"),
                        {"id": "t1", "name": "notes.txt", "mimeType": "text/plain", "size": "12", "modifiedTime": "2026-11-21T09:30:00.000Z"}]}),
                    ),
                    Some(other) => panic!("unknown page {other}"),
                };
            }
            assert_eq!(
                q,
                "(name contains 'O\\'Brien' or fullText contains 'O\\'Brien') and trashed = false"
            );
            reply(
                StatusCode::OK,
                json!({"files": [file("d1", "Plan", "application/vnd.google-apps.document")]}),
            )
        }
        ("GET", "/drive/v3/files/d1") => reply(
            StatusCode::OK,
            file("d1", "Plan", "application/vnd.google-apps.document"),
        ),
        ("GET", "/drive/v3/files/s1") => reply(
            StatusCode::OK,
            file("s1", "Budget", "application/vnd.google-apps.spreadsheet"),
        ),
        ("GET", "/drive/v3/files/f1") => reply(
            StatusCode::OK,
            file("f1", "Projects", "application/vnd.google-apps.folder"),
        ),
        // A file whose metadata says 12 bytes and whose content never ends.
        ("GET", "/drive/v3/files/big") if get(&query, "alt") == Some("media") => {
            let chunk = axum::body::Bytes::from(vec![b'a'; 64 * 1024]);
            let endless =
                futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            axum::body::Body::from_stream(endless).into_response()
        }
        ("GET", "/drive/v3/files/big") => reply(
            StatusCode::OK,
            json!({"id": "big", "name": "big.txt", "mimeType": "text/plain", "size": "12"}),
        ),
        ("GET", "/drive/v3/files/t1") if get(&query, "alt") == Some("media") => {
            "hello, Drive".into_response()
        }
        ("GET", "/drive/v3/files/t1") => reply(
            StatusCode::OK,
            json!({"id": "t1", "name": "notes.txt", "mimeType": "text/plain", "size": "12"}),
        ),
        ("GET", "/drive/v3/files/d1/export") => {
            assert_eq!(get(&query, "mimeType"), Some("text/markdown"));
            "# Plan\n\n- ship the tool belt\n".into_response()
        }
        ("GET", "/drive/v3/files/s1/export") => {
            assert_eq!(get(&query, "mimeType"), Some("text/csv"));
            "item,cost\nserver,40\n".into_response()
        }
        ("GET", "/drive/v3/files/gone") => {
            google_error(StatusCode::NOT_FOUND, "notFound", "File not found: gone.")
        }
        ("POST", "/upload/drive/v3/files") => {
            assert_eq!(get(&query, "uploadType"), Some("multipart"));
            let kind = headers
                .get(header::CONTENT_TYPE)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            assert!(kind.starts_with("multipart/related; boundary="), "{kind}");
            g.lock()
                .unwrap()
                .uploads
                .push(String::from_utf8_lossy(&body).into_owned());
            reply(
                StatusCode::OK,
                json!({"id": "u1", "name": "report.md", "mimeType": "text/markdown", "size": "9", "modifiedTime": "2026-11-28T08:00:00.000Z"}),
            )
        }
        ("POST", "/drive/v3/files") => {
            let meta: Value = serde_json::from_slice(&body).unwrap();
            g.lock().unwrap().folders.push(meta);
            reply(
                StatusCode::OK,
                file("f2", "Reports", "application/vnd.google-apps.folder"),
            )
        }
        _ => google_error(StatusCode::NOT_FOUND, "notFound", "Not Found"),
    }
}

async fn direct(h: &mut Harness, tool: &str, arguments: Value) -> (ToolStatus, String) {
    let d = h.direct(tool, arguments).await;
    (d.status, d.output)
}

/// The loopback Google: its address and what it saw.
pub(super) async fn serve() -> String {
    let app = Router::new().fallback(google).with_state(Shared::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Drive's settings with every endpoint at the loopback server at `base`.
pub(super) fn loopback_config(base: &str, token: &str) -> DriveConfig {
    DriveConfig {
        client_id: Some("loop.apps.googleusercontent.com".into()),
        client_secret_ref: None,
        auth_url: format!("{base}/o/oauth2/v2/auth"),
        token_url: format!("{base}/token"),
        api_url: format!("{base}/drive/v3"),
        upload_url: format!("{base}/upload/drive/v3"),
        token_ref: format!("aetheria-test-{token}-{}", std::process::id()),
        enabled: true,
    }
}

#[tokio::test]
async fn sign_in_with_pkce_then_list_read_upload_and_refresh() {
    if super::common::skip("keychain") {
        return;
    }
    let g = Shared::default();
    let app = Router::new().fallback(google).with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = loopback_config(&base, "drive");

    // The sign-in: the test plays the browser, following Google's redirect to the loopback.
    let pending = aetheria_engine::drive::start(&config).await.unwrap();
    let url = pending.auth_url.clone();
    let finished = tokio::spawn(async move {
        pending
            .finish(&Secrets::new(), Duration::from_secs(20))
            .await
    });
    // Another page posting a code with the wrong state is turned away and changes nothing.
    let redirect = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let forged = reqwest::get(format!("{redirect}/?state=forged&code=attacker"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("signed in to Google Drive")
    );
    finished.await.unwrap().unwrap();

    let c = config.clone();
    let mut h = Harness::start_with(vec![], move |cfg| cfg.drive = Some(c)).await;
    // The stored token expires within a minute: the first call refreshes it, then pages.
    let (status, out) = direct(&mut h, "drive_list", json!({})).await;
    assert_eq!(status, ToolStatus::Succeeded, "{out}");
    assert_eq!(g.lock().unwrap().refreshes, 1);
    assert_eq!(
        out,
        "Projects [f1] (folder, modified 2026-11-20T10:00:00.000Z)\nPlan [d1] (Google Doc, modified 2026-11-20T10:00:00.000Z)\nBudget [s1] (Google Sheet, modified 2026-11-20T10:00:00.000Z)\nnotes.txt [t1] (text/plain, 12 B, modified 2026-11-21T09:30:00.000Z)"
    );
    let (_, out) = direct(&mut h, "drive_search", json!({"text": "O'Brien"})).await;
    assert!(out.starts_with("Plan [d1]"), "{out}");
    let (_, out) = direct(&mut h, "drive_read", json!({"file_id": "d1"})).await;
    assert_eq!(out, "# Plan\n\n# Plan\n\n- ship the tool belt\n");
    let (_, out) = direct(&mut h, "drive_read", json!({"file_id": "s1"})).await;
    assert_eq!(out, "# Budget\n\nitem,cost\nserver,40\n");
    let (_, out) = direct(&mut h, "drive_read", json!({"file_id": "t1"})).await;
    assert_eq!(out, "# notes.txt\n\nhello, Drive");
    let (status, out) = direct(&mut h, "drive_read", json!({"file_id": "f1"})).await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(out.contains("is a folder"), "{out}");
    // The download stops at the limit, whatever the metadata said.
    let (status, out) = direct(&mut h, "drive_read", json!({"file_id": "big"})).await;
    assert_eq!(status, ToolStatus::Failed, "{out}");
    assert!(
        out.contains("big.txt (text/plain) is larger than 10 MiB"),
        "{out}"
    );
    let (_, out) = direct(&mut h, "drive_read", json!({"file_id": "gone"})).await;
    assert!(
        out.contains("found nothing there (File not found: gone.)"),
        "{out}"
    );
    let (_, out) = direct(&mut h, "drive_read", json!({"file_id": "../x"})).await;
    assert!(out.contains("not a Drive file id"), "{out}");

    // Google revokes the access token: one 401, one refresh, the call still succeeds.
    g.lock().unwrap().access = "ya29.revoked-elsewhere".into();
    let (status, out) = direct(&mut h, "drive_read", json!({"file_id": "t1"})).await;
    assert_eq!(
        (status, out.as_str()),
        (ToolStatus::Succeeded, "# notes.txt\n\nhello, Drive")
    );
    assert_eq!(g.lock().unwrap().refreshes, 2);

    // Writes ask first.
    std::fs::write(h.workspace.join("report.md"), "# Report\n").unwrap();
    let (_, out) = direct(
        &mut h,
        "drive_upload",
        json!({"path": "report.md", "folder": "f1"}),
    )
    .await;
    assert!(out.starts_with("uploaded report.md [u1]"), "{out}");
    let upload = g.lock().unwrap().uploads[0].clone();
    assert!(
        upload.contains(r#"{"name":"report.md","parents":["f1"]}"#)
            && upload.contains("\r\n\r\n# Report\n\r\n--"),
        "{upload}"
    );
    let (_, out) = direct(&mut h, "drive_create_folder", json!({"name": "Reports"})).await;
    assert!(out.starts_with("created Reports [f2] (folder"), "{out}");
    assert_eq!(
        g.lock().unwrap().folders[0],
        json!({"name": "Reports", "mimeType": "application/vnd.google-apps.folder"})
    );
    let (_, out) = direct(&mut h, "drive_upload", json!({"path": "../outside.txt"})).await;
    assert!(out.contains("without `..`"), "{out}");

    // No token (signed out): a clear error.
    let account = config.token_ref.clone();
    std::thread::spawn(move || Secrets::new().delete(&account).unwrap())
        .join()
        .unwrap();
    let (_, out) = direct(&mut h, "drive_list", json!({})).await;
    assert!(out.contains("not signed in to Google Drive"), "{out}");
}

/// The person says no in the browser: the sign-in ends at once with an error that says so (of the
/// kind front ends treat as a sign-in problem); a request that is not the redirect does not end
/// it.
#[tokio::test]
async fn a_declined_sign_in_ends_with_an_error_that_says_so() {
    let base = "http://127.0.0.1:9";
    let config = loopback_config(base, "drive-declined");
    let pending = aetheria_engine::drive::start(&config).await.unwrap();
    let redirect = url::Url::parse(&pending.auth_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let finished = tokio::spawn(async move {
        pending
            .finish(&Secrets::new(), Duration::from_secs(60))
            .await
    });
    let stray = reqwest::get(format!("{redirect}/favicon.ico"))
        .await
        .unwrap();
    assert_eq!(stray.status(), 404);
    let declined = reqwest::get(format!("{redirect}/?error=access_denied"))
        .await
        .unwrap();
    assert_eq!(declined.status(), 400);
    let err = finished.await.unwrap().unwrap_err();
    assert!(
        matches!(err, aetheria_engine::SignInError::Declined(_)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("declined (access_denied)"),
        "{err}"
    );
    assert_eq!(err.kind(), aetheria_engine::api::ErrorKind::Auth);
}
