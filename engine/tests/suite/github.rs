//! The GitHub tools against a loopback server that answers as GitHub's REST API documents it:
//! bearer auth and 401 "Bad credentials", `Link` pagination, base64 contents, 404/422 error bodies,
//! rate-limit headers, a tarball behind a redirect, and the OAuth device flow. The token lives in
//! the real keychain.

use std::sync::{Arc, Mutex};

use aetheria_engine::api::{Command, Event, Policy, ToolStatus, ToolsCommand};
use aetheria_engine::config::GithubConfig;
use aetheria_engine::secrets::Secrets;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use super::common::Harness;

pub(super) const TOKEN: &str = "ghp_LoopbackTestToken0123456789abcdefABCD";

#[derive(Default)]
pub(super) struct Seen {
    writes: Vec<(String, String, Value)>,
    pub(super) polls: usize,
}

pub(super) type Shared = Arc<Mutex<Seen>>;

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, message: &str, docs: &str) -> Response {
    json_response(
        status,
        json!({"message": message, "documentation_url": docs, "status": status.as_u16().to_string()}),
    )
}

fn tarball() -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut add = |path: &str, body: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, body).unwrap();
    };
    add("octo-hello-1a2b3c/README.md", b"# Hello\n");
    add("octo-hello-1a2b3c/src/main.rs", b"fn main() {}\n");
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    link.set_cksum();
    builder
        .append_link(&mut link, "octo-hello-1a2b3c/escape", "/etc/passwd")
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

async fn github(
    State(seen): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    // The OAuth device flow (github.com, form posts, JSON answers when asked).
    if path == "/login/device/code" {
        assert!(body.contains("client_id=Iv1.loopback"), "{body}");
        return json_response(
            StatusCode::OK,
            json!({"device_code": "3584d83530557fdd1f46af8289938c8ef79f9dc5", "user_code": "WDJB-MJHT",
                   "verification_uri": "https://github.com/login/device", "expires_in": 900, "interval": 1}),
        );
    }
    if path == "/login/oauth/access_token" {
        assert!(
            body.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"),
            "{body}"
        );
        let mut seen = seen.lock().unwrap();
        seen.polls += 1;
        return if seen.polls == 1 {
            json_response(
                StatusCode::OK,
                json!({"error": "authorization_pending",
                "error_description": "The authorization request is still pending.", "error_uri": "https://docs.github.com"}),
            )
        } else {
            json_response(
                StatusCode::OK,
                json!({"access_token": TOKEN, "token_type": "bearer", "scope": "repo"}),
            )
        };
    }
    if path.starts_with("/codeload/") {
        return ([(header::CONTENT_TYPE, "application/x-gzip")], tarball()).into_response();
    }
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "Bad credentials",
            "https://docs.github.com/rest",
        );
    }
    assert_eq!(headers.get("x-github-api-version").unwrap(), "2022-11-28");
    match (method.as_str(), path.as_str()) {
        ("GET", "/user/repos") => {
            let page: usize = query
                .split('&')
                .find_map(|p| p.strip_prefix("page="))
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            let repos: Vec<Value> = (0..2)
                .map(|i| {
                    let n = (page - 1) * 2 + i + 1;
                    json!({"id": n, "full_name": format!("octo/repo-{n}"), "private": n == 2,
                           "description": format!("Repository {n}"), "html_url": format!("https://github.com/octo/repo-{n}")})
                })
                .collect();
            let mut response = json_response(StatusCode::OK, Value::Array(repos));
            let link = |p: usize, rel: &str| {
                format!(
                    "<http://{host}/user/repos?per_page=100&sort=updated&page={p}>; rel=\"{rel}\""
                )
            };
            let mut links = vec![];
            if page < 3 {
                links.push(link(page + 1, "next"));
            }
            links.push(link(3, "last"));
            response
                .headers_mut()
                .insert("link", links.join(", ").parse().unwrap());
            response
        }
        ("GET", "/repos/octo/hello/contents/README.md") => json_response(
            StatusCode::OK,
            json!({"type": "file", "encoding": "base64", "size": 20, "name": "README.md", "path": "README.md",
                   "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
                   "content": "IyBIZWxsbwoKQSB0ZXN0IHJl\ncG9zaXRvcnkuCg==\n"}),
        ),
        ("GET", "/repos/octo/hello/contents/docs/new.md") => error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "https://docs.github.com/rest/repos/contents#get-repository-content",
        ),
        ("GET", "/repos/octo/hello/contents/README%20old.md") if query == "ref=v1" => {
            json_response(
                StatusCode::OK,
                json!({"type": "file", "encoding": "base64", "size": 4, "name": "README old.md", "path": "README old.md",
                   "sha": "aaaa", "content": base64::engine::general_purpose::STANDARD.encode("old\n")}),
            )
        }
        ("GET", "/repos/octo/hello/contents") => json_response(
            StatusCode::OK,
            json!([{"type": "dir", "name": "src", "path": "src", "size": 0},
                   {"type": "file", "name": "README.md", "path": "README.md", "size": 20}]),
        ),
        ("GET", "/search/code") => {
            assert!(query.contains("q=select+repo%3Aocto%2Fhello"), "{query}");
            json_response(
                StatusCode::OK,
                json!({"total_count": 1, "incomplete_results": false, "items": [
                {"name": "main.rs", "path": "src/main.rs", "sha": "abc", "html_url": "https://github.com/octo/hello/blob/main/src/main.rs",
                 "repository": {"full_name": "octo/hello"}}]}),
            )
        }
        ("GET", "/repos/octo/hello/issues") => json_response(
            StatusCode::OK,
            json!([
            {"number": 7, "title": "Crash on start", "state": "open", "user": {"login": "mona"}, "comments": 2, "html_url": "https://github.com/octo/hello/issues/7"},
            {"number": 8, "title": "Fix crash", "state": "open", "user": {"login": "hubot"}, "comments": 0,
             "pull_request": {"url": "https://api.github.com/repos/octo/hello/pulls/8"}}]),
        ),
        ("GET", "/repos/octo/hello/pulls") => json_response(
            StatusCode::OK,
            json!([
            {"number": 8, "title": "Fix crash", "state": "open", "draft": true, "user": {"login": "hubot"},
             "head": {"ref": "fix-crash"}, "base": {"ref": "main"}, "html_url": "https://github.com/octo/hello/pull/8"}]),
        ),
        ("GET", "/repos/octo/limited/issues") => {
            let mut response = error(
                StatusCode::FORBIDDEN,
                "API rate limit exceeded for user ID 1.",
                "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
            );
            let reset = chrono::Utc::now().timestamp() + 120;
            response
                .headers_mut()
                .insert("x-ratelimit-remaining", "0".parse().unwrap());
            response
                .headers_mut()
                .insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
            response
        }
        ("GET", "/repos/octo/hello/tarball") => (
            StatusCode::FOUND,
            [(
                header::LOCATION,
                format!("http://{host}/codeload/octo/hello/legacy.tar.gz/main"),
            )],
        )
            .into_response(),
        ("POST", "/repos/octo/hello/issues") => {
            let body: Value = serde_json::from_str(&body).unwrap();
            if body["title"].as_str().unwrap_or("").is_empty() {
                return json_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"message": "Validation Failed",
                    "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}],
                    "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue", "status": "422"}),
                );
            }
            seen.lock()
                .unwrap()
                .writes
                .push(("POST".into(), path.clone(), body));
            json_response(
                StatusCode::CREATED,
                json!({"number": 42, "html_url": "https://github.com/octo/hello/issues/42"}),
            )
        }
        ("POST", "/repos/octo/hello/issues/42/comments") => {
            seen.lock().unwrap().writes.push((
                "POST".into(),
                path.clone(),
                serde_json::from_str(&body).unwrap(),
            ));
            json_response(
                StatusCode::CREATED,
                json!({"id": 1, "html_url": "https://github.com/octo/hello/issues/42#issuecomment-1"}),
            )
        }
        ("POST", "/repos/octo/hello/pulls") => {
            seen.lock().unwrap().writes.push((
                "POST".into(),
                path.clone(),
                serde_json::from_str(&body).unwrap(),
            ));
            json_response(
                StatusCode::CREATED,
                json!({"number": 43, "html_url": "https://github.com/octo/hello/pull/43"}),
            )
        }
        ("PUT", p) if p.starts_with("/repos/octo/hello/contents/") => {
            seen.lock().unwrap().writes.push((
                "PUT".into(),
                path.clone(),
                serde_json::from_str(&body).unwrap(),
            ));
            json_response(
                StatusCode::CREATED,
                json!({"content": {"path": "docs/new.md"}, "commit": {"sha": "7638417db6d59f3c431d3e1f261cc637155684cd"}}),
            )
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "https://docs.github.com/rest",
        ),
    }
}

pub(super) async fn server() -> (String, Shared) {
    let seen = Shared::default();
    let app = Router::new().fallback(github).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

fn store(account: &str, token: Option<&str>) {
    let (account, token) = (account.to_owned(), token.map(str::to_owned));
    std::thread::spawn(move || match token {
        Some(t) => Secrets::new()
            .set(&account, &t)
            .expect("the OS keychain must work for this test"),
        None => {
            Secrets::new()
                .delete(&account)
                .expect("the OS keychain must work for this test");
        }
    })
    .join()
    .unwrap();
}

async fn direct(h: &mut Harness, tool: &str, arguments: Value) -> (ToolStatus, String) {
    let d = h.direct(tool, arguments).await;
    (d.status, d.output)
}

#[tokio::test]
async fn the_github_tools_speak_the_rest_api() {
    if super::common::skip("keychain") {
        return;
    }
    let (base, seen) = server().await;
    let account = format!("aetheria-test-github-{}", std::process::id());
    let acct = account.clone();
    let b = base.clone();
    let mut h = Harness::start_with(vec![], move |config| {
        config.github = Some(GithubConfig {
            api_url: b.clone(),
            oauth_url: b,
            client_id: Some("Iv1.loopback".into()),
            token_ref: acct,
            enabled: true,
        });
        // Reads run freely; external writes would ask (answered in `direct`).
        config
            .tools
            .policy
            .insert("github_clone".into(), Policy::Ask);
    })
    .await;

    // No token yet: a clear error. A wrong one: GitHub's 401 explained.
    store(&account, None);
    let (_, out) = direct(&mut h, "github_repos", json!({})).await;
    assert!(out.contains("no GitHub token"), "{out}");
    store(&account, Some("ghp_WrongToken0000000000000000000000000000"));
    let (status, out) = direct(&mut h, "github_repos", json!({})).await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(out.contains("refused the token (Bad credentials)"), "{out}");
    store(&account, Some(TOKEN));

    // Pagination follows Link: rel="next" (3 pages of 2).
    let (_, out) = direct(&mut h, "github_repos", json!({})).await;
    assert_eq!(out.lines().count(), 6, "{out}");
    assert!(
        out.starts_with("octo/repo-1 — Repository 1\nocto/repo-2 (private)"),
        "{out}"
    );
    let (_, out) = direct(&mut h, "github_repos", json!({"limit": 3})).await;
    assert!(out.ends_with("[more not shown; raise limit]"), "{out}");

    let (_, out) = direct(
        &mut h,
        "github_read",
        json!({"repo": "octo/hello", "path": "README.md"}),
    )
    .await;
    assert_eq!(out, "# Hello\n\nA test repository.\n");
    let (_, out) = direct(
        &mut h,
        "github_read",
        json!({"repo": "octo/hello", "path": "README old.md", "ref": "v1"}),
    )
    .await;
    assert_eq!(out, "old\n");
    let (_, out) = direct(&mut h, "github_read", json!({"repo": "octo/hello"})).await;
    assert_eq!(out, "src/\nREADME.md (20 B)");
    let (status, out) = direct(
        &mut h,
        "github_read",
        json!({"repo": "octo/hello", "path": "docs/new.md"}),
    )
    .await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(out.contains("found nothing there (Not Found)"), "{out}");
    let (_, out) = direct(&mut h, "github_read", json!({"repo": "../etc"})).await;
    assert!(out.contains("not a repository"), "{out}");

    let (_, out) = direct(
        &mut h,
        "github_search_code",
        json!({"query": "select repo:octo/hello"}),
    )
    .await;
    assert!(
        out.starts_with(
            "octo/hello: src/main.rs https://github.com/octo/hello/blob/main/src/main.rs"
        ),
        "{out}"
    );
    let (_, out) = direct(&mut h, "github_issues", json!({"repo": "octo/hello"})).await;
    assert_eq!(out, "#7 [open] Crash on start (by mona, 2 comments)");
    let (_, out) = direct(&mut h, "github_pulls", json!({"repo": "octo/hello"})).await;
    assert_eq!(
        out,
        "#8 [open, draft] Fix crash (fix-crash → main, by hubot)"
    );
    let (_, out) = direct(&mut h, "github_issues", json!({"repo": "octo/limited"})).await;
    assert!(
        out.contains("rate limit is used up") && out.contains("resets in 1"),
        "{out}"
    );

    // Writes ask first (External), then reach GitHub with the documented bodies.
    let (status, out) = direct(
        &mut h,
        "github_create_issue",
        json!({"repo": "octo/hello", "title": ""}),
    )
    .await;
    assert_eq!(status, ToolStatus::Failed);
    assert_eq!(
        out,
        "error: GitHub did not accept the request (Validation Failed: title: missing_field)"
    );
    let (_, out) = direct(
        &mut h,
        "github_create_issue",
        json!({"repo": "octo/hello", "title": "Docs", "body": "Please"}),
    )
    .await;
    assert_eq!(
        out,
        "opened issue #42 https://github.com/octo/hello/issues/42"
    );
    let (_, out) = direct(
        &mut h,
        "github_comment",
        json!({"repo": "octo/hello", "number": 42, "body": "On it"}),
    )
    .await;
    assert!(out.starts_with("commented: "), "{out}");
    let (_, out) = direct(
        &mut h,
        "github_create_pull",
        json!({"repo": "octo/hello", "title": "Docs", "head": "docs", "base": "main"}),
    )
    .await;
    assert_eq!(
        out,
        "opened pull request #43 https://github.com/octo/hello/pull/43"
    );
    let (_, out) = direct(&mut h, "github_write_file", json!({"repo": "octo/hello", "path": "docs/new.md", "content": "# New\n", "message": "Add docs", "branch": "docs"})).await;
    assert_eq!(
        out,
        "created docs/new.md in commit 7638417db6d59f3c431d3e1f261cc637155684cd"
    );
    let writes = seen.lock().unwrap().writes.clone();
    assert_eq!(writes.len(), 4);
    assert_eq!(writes[0].2, json!({"title": "Docs", "body": "Please"}));
    assert_eq!(writes[2].2["head"], "docs");
    assert_eq!(
        writes[3].2,
        json!({"message": "Add docs", "content": "IyBOZXcK", "branch": "docs"})
    );

    // A clone unpacks the tarball (after the redirect) into the workspace, without its link.
    let (status, out) = direct(&mut h, "github_clone", json!({"repo": "octo/hello"})).await;
    assert_eq!(status, ToolStatus::Succeeded, "{out}");
    assert_eq!(
        out,
        "downloaded 2 files into hello (1 links or special entries skipped)"
    );
    assert_eq!(
        std::fs::read_to_string(h.workspace.join("hello/src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
    assert!(!h.workspace.join("hello/escape").exists());
    let (_, out) = direct(&mut h, "github_clone", json!({"repo": "octo/hello"})).await;
    assert!(out.contains("already exists"), "{out}");
    store(&account, None);
}

#[tokio::test]
async fn github_tools_are_offered_only_when_configured() {
    let mut h = Harness::start(vec![]).await;
    h.handle.submit(Command::Tools(ToolsCommand::List)).unwrap();
    let events = h.until(|e| matches!(e, Event::ToolList { .. })).await;
    let Some(Event::ToolList { tools }) = events.last() else {
        unreachable!()
    };
    assert!(!tools.iter().any(|t| t.name.starts_with("github_")));
    assert!(tools.iter().any(|t| t.name == "fs_read"));
    let (status, out) = direct(&mut h, "github_repos", json!({})).await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(out.contains("GitHub is not set up"), "{out}");
}
