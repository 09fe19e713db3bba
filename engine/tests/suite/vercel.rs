//! The Vercel tools against a loopback server that answers as Vercel's REST API documents it:
//! bearer auth with `teamId`, `{"error": {"code", "message"}}` bodies, pagination objects, rate-limit
//! headers, build events, env vars (whose values must never come out) and an inline-files deploy.

use std::sync::{Arc, Mutex};

use aetheria_engine::api::ToolStatus;
use aetheria_engine::config::VercelConfig;
use aetheria_engine::secrets::Secrets;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::common::Harness;

const TOKEN: &str = "vcp_LoopbackTestToken0123456789";
const SECRET_VALUE: &str = "postgres://admin:hunter2-very-secret@db.internal/prod";

type Deploys = Arc<Mutex<Vec<Value>>>;

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn vercel(
    State(deploys): State<Deploys>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        return reply(
            StatusCode::FORBIDDEN,
            json!({"error": {"code": "forbidden", "message": "Not authorized", "invalidToken": true}}),
        );
    }
    let query = uri.query().unwrap_or("");
    assert!(query.contains("teamId=team_loop"), "{query}");
    match (method.as_str(), uri.path()) {
        ("GET", "/v9/projects") if query.contains("until=1762000000000") => reply(
            StatusCode::OK,
            json!({
                "projects": [{"id": "prj_3", "name": "blog", "framework": "astro", "updatedAt": 1_761_000_000_000_i64}],
                "pagination": {"count": 1, "next": null, "prev": 1_762_000_000_000_i64}
            }),
        ),
        ("GET", "/v9/projects") => reply(
            StatusCode::OK,
            json!({
                "projects": [
                    {"id": "prj_1", "name": "site", "framework": "nextjs", "updatedAt": 1_764_000_000_000_i64},
                    {"id": "prj_2", "name": "docs", "framework": null, "updatedAt": 1_763_000_000_000_i64}
                ],
                "pagination": {"count": 2, "next": 1_762_000_000_000_i64, "prev": null}
            }),
        ),
        ("GET", "/v6/deployments") => {
            assert!(query.contains("projectId=site"), "{query}");
            reply(
                StatusCode::OK,
                json!({"deployments": [
                {"uid": "dpl_9", "name": "site", "url": "site-abc.vercel.app", "state": "ERROR", "target": "production", "created": 1_764_000_000_000_i64},
                {"uid": "dpl_8", "name": "site", "url": "site-def.vercel.app", "state": "READY", "target": null, "created": 1_763_900_000_000_i64}
            ], "pagination": {"count": 2, "next": null, "prev": null}}),
            )
        }
        ("GET", "/v3/deployments/dpl_9/events") => reply(
            StatusCode::OK,
            json!([
                {"type": "command", "created": 1, "payload": {"text": "Running \"npm run build\"", "deploymentId": "dpl_9"}},
                {"type": "stdout", "created": 2, "payload": {"text": "> next build", "deploymentId": "dpl_9"}},
                {"type": "stderr", "created": 3, "payload": {"text": "Error: Cannot find module 'react'", "deploymentId": "dpl_9"}}
            ]),
        ),
        ("GET", "/v3/deployments/dpl_missing/events") => reply(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "The deployment was not found"}}),
        ),
        ("GET", "/v10/projects/site/env") => reply(
            StatusCode::OK,
            json!({"envs": [
                {"id": "env_1", "key": "DATABASE_URL", "value": SECRET_VALUE, "type": "plain", "target": ["production", "preview"]},
                {"id": "env_2", "key": "API_KEY", "value": "eyJ2IjoiZW5jcnlwdGVkIn0", "type": "encrypted", "target": ["production"]}
            ]}),
        ),
        ("GET", "/v9/projects/site/domains") => reply(
            StatusCode::OK,
            json!({"domains": [
            {"name": "example.com", "verified": true, "redirect": null},
            {"name": "www.example.com", "verified": false, "redirect": "example.com"}
        ], "pagination": {"count": 2, "next": null, "prev": null}}),
        ),
        ("GET", "/v9/projects/busy/domains") => {
            let mut response = reply(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": {"code": "rate_limited", "message": "Rate limit exceeded"}}),
            );
            let reset = chrono::Utc::now().timestamp() + 30;
            response
                .headers_mut()
                .insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
            response
        }
        ("POST", "/v13/deployments") => {
            let body: Value = serde_json::from_str(&body).unwrap();
            deploys.lock().unwrap().push(body);
            reply(
                StatusCode::OK,
                json!({"id": "dpl_10", "url": "site-new.vercel.app", "readyState": "QUEUED"}),
            )
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "Not found"}}),
        ),
    }
}

async fn direct(h: &mut Harness, tool: &str, arguments: Value) -> (ToolStatus, String, bool) {
    let d = h.direct(tool, arguments).await;
    (d.status, d.output, d.asked)
}

#[tokio::test]
async fn the_vercel_tools_speak_the_rest_api() {
    if super::common::skip("keychain") {
        return;
    }
    let deploys = Deploys::default();
    let app = Router::new().fallback(vercel).with_state(deploys.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let account = format!("aetheria-test-vercel-{}", std::process::id());
    let acct = account.clone();
    std::thread::spawn(move || Secrets::new().set(&acct, TOKEN).unwrap())
        .join()
        .unwrap();
    let acct = account.clone();
    let mut h = Harness::start_with(vec![], move |config| {
        config.vercel = Some(VercelConfig {
            api_url: base,
            team_id: Some("team_loop".into()),
            token_ref: acct,
            enabled: true,
        });
    })
    .await;

    let (_, out, asked) = direct(&mut h, "vercel_projects", json!({})).await;
    assert!(!asked);
    assert_eq!(
        out,
        "site (prj_1, nextjs) updated 2025-11-24 16:00\ndocs (prj_2, no framework) updated 2025-11-13 02:13\nblog (prj_3, astro) updated 2025-10-20 22:40"
    );
    let (_, out, _) = direct(&mut h, "vercel_projects", json!({"limit": 2})).await;
    assert!(
        out.ends_with("docs (prj_2, no framework) updated 2025-11-13 02:13\n[more projects not shown; raise limit]"),
        "{out}"
    );
    let (_, out, _) = direct(&mut h, "vercel_deployments", json!({"project": "site"})).await;
    assert!(
        out.starts_with("dpl_9 site [ERROR, production] https://site-abc.vercel.app"),
        "{out}"
    );
    let (_, out, _) = direct(
        &mut h,
        "vercel_deployment_events",
        json!({"deployment": "dpl_9"}),
    )
    .await;
    assert_eq!(
        out,
        "Running \"npm run build\"\n> next build\n! Error: Cannot find module 'react'"
    );
    let (status, out, _) = direct(
        &mut h,
        "vercel_deployment_events",
        json!({"deployment": "dpl_missing"}),
    )
    .await;
    assert_eq!(status, ToolStatus::Failed);
    assert!(
        out.contains("found nothing there (The deployment was not found)"),
        "{out}"
    );
    let (_, out, _) = direct(
        &mut h,
        "vercel_deployment_events",
        json!({"deployment": "../v9/projects"}),
    )
    .await;
    assert!(out.contains("not a deployment id"), "{out}");

    // Env values never come out, not even encrypted ones.
    let (_, out, _) = direct(&mut h, "vercel_env", json!({"project": "site"})).await;
    assert_eq!(
        out,
        "DATABASE_URL = [REDACTED] (plain; production, preview)\nAPI_KEY = [REDACTED] (encrypted; production)"
    );
    assert!(!out.contains("hunter2") && !out.contains("eyJ2"));
    let (_, out, _) = direct(&mut h, "vercel_domains", json!({"project": "site"})).await;
    assert_eq!(
        out,
        "example.com (verified)\nwww.example.com → example.com (not verified)"
    );
    let (_, out, _) = direct(&mut h, "vercel_domains", json!({"project": "busy"})).await;
    assert!(
        out.contains("rate limit was reached (Rate limit exceeded); try again in"),
        "{out}"
    );

    // A deploy asks first, then sends the folder's files inline (not what .gitignore ignores).
    let site = h.workspace.join("site");
    std::fs::create_dir_all(site.join("public")).unwrap();
    std::fs::create_dir_all(site.join("node_modules/x")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>Hi</h1>").unwrap();
    std::fs::write(site.join("public/app.js"), "console.log(1)").unwrap();
    std::fs::write(site.join("node_modules/x/big.js"), "ignored").unwrap();
    std::fs::write(site.join(".gitignore"), "*.log\n").unwrap();
    std::fs::write(site.join("debug.log"), "ignored").unwrap();
    let (status, out, asked) = direct(
        &mut h,
        "vercel_deploy",
        json!({"path": "site", "project": "site", "production": true}),
    )
    .await;
    assert!(asked, "a deploy must ask");
    assert_eq!(status, ToolStatus::Succeeded, "{out}");
    assert_eq!(
        out,
        "deployment dpl_10 started with 3 files: https://site-new.vercel.app (QUEUED)"
    );
    let sent = deploys.lock().unwrap()[0].clone();
    assert_eq!(
        (sent["name"].as_str(), sent["target"].as_str()),
        (Some("site"), Some("production"))
    );
    let mut names: Vec<&str> = sent["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, [".gitignore", "index.html", "public/app.js"]);
    let index = sent["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == "index.html")
        .unwrap();
    assert_eq!(
        (index["data"].as_str(), index["encoding"].as_str()),
        (Some("PGgxPkhpPC9oMT4="), Some("base64"))
    );

    // A wrong token: Vercel's 403 explained.
    let acct = account.clone();
    std::thread::spawn(move || Secrets::new().set(&acct, "vcp_wrong").unwrap())
        .join()
        .unwrap();
    let (_, out, _) = direct(&mut h, "vercel_projects", json!({})).await;
    assert!(out.contains("refused the token (Not authorized)"), "{out}");
    std::thread::spawn(move || Secrets::new().delete(&account).unwrap())
        .join()
        .unwrap();
}
