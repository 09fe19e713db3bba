//! The test site the browser tests drive: a shop (search, results, a detail page with an order
//! form), a page built by scripts, a login, a file to download, a form posting to another site,
//! a redirect to an unlisted private place, hostile page text, and a field to take over.

use std::sync::{Arc, Mutex};

use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};

/// What the site's server saw: orders placed and sign-ins.
#[derive(Default, Clone)]
pub(super) struct Seen {
    pub orders: Arc<Mutex<Vec<(String, String)>>>,
    pub logins: Arc<Mutex<Vec<String>>>,
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    ))
}

#[derive(serde::Deserialize)]
struct Search {
    q: String,
}

#[derive(serde::Deserialize)]
struct Order {
    qty: String,
    color: String,
}

#[derive(serde::Deserialize)]
struct Login {
    user: String,
    pass: String,
}

/// Serves the test site; `internal` is an unlisted private place `/leak` redirects to. Returns
/// the base URL (on 127.0.0.1) and the port.
pub(super) async fn site(seen: Seen, internal: String) -> (String, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                page(
                    "Shop",
                    r#"<h1>Shop</h1><form action="/results" method="get">
                       <label>Search <input name="q"></label><button>Go</button></form>"#,
                )
            }),
        )
        .route(
            "/results",
            get(|Query(s): Query<Search>| async move {
                let items: String = ["Widget One", "Widget Two", "Gadget"]
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.to_lowercase().contains(&s.q.to_lowercase()))
                    .map(|(i, n)| format!(r#"<li><a href="/item/{}">{n}</a></li>"#, i + 1))
                    .collect();
                page("Results", &format!("<h1>Results for {}</h1><ul>{items}</ul>", s.q))
            }),
        )
        .route(
            "/item/1",
            get(|| async {
                page(
                    "Widget One",
                    r#"<h1>Widget One</h1><p>A fine widget.</p>
                       <form action="/order" method="post">
                       <label>Quantity <input name="qty"></label>
                       <label>Color <select name="color"><option>Red</option><option>Blue</option></select></label>
                       <button>Place order</button></form>"#,
                )
            }),
        )
        .route(
            "/order",
            post(|State(seen): State<Seen>, Form(o): Form<Order>| async move {
                let text = format!("Order placed for {} {}", o.qty, o.color);
                seen.orders.lock().unwrap().push((o.qty, o.color));
                page("Thanks", &format!("<h1>{text}</h1>"))
            }),
        )
        .route(
            "/app",
            get(|| async {
                page(
                    "App",
                    r#"<div id="app">Loading…</div><script>
                       setTimeout(() => {
                         document.getElementById('app').innerHTML =
                           '<button onclick="this.textContent=\'Clicked!\'">Press me</button>';
                       }, 400);</script>"#,
                )
            }),
        )
        .route(
            "/login",
            get(|| async {
                page(
                    "Sign in",
                    r#"<form action="/session" method="post">
                       <label>User <input name="user"></label>
                       <label>Password <input type="password" name="pass"></label>
                       <button>Sign in</button></form>"#,
                )
            }),
        )
        .route(
            "/session",
            post(|State(seen): State<Seen>, Form(l): Form<Login>| async move {
                if l.user == "alice" && l.pass == "correct horse" {
                    seen.logins.lock().unwrap().push(l.user);
                    ([(header::SET_COOKIE, "sid=ok; Path=/")], Redirect::to("/account"))
                        .into_response()
                } else {
                    page("Wrong", "<p>Wrong password</p>").into_response()
                }
            }),
        )
        .route(
            "/account",
            get(|headers: HeaderMap| async move {
                let signed_in = headers
                    .get(header::COOKIE)
                    .and_then(|c| c.to_str().ok())
                    .is_some_and(|c| c.contains("sid=ok"));
                if signed_in {
                    page("Account", "<h1>Welcome, alice</h1>")
                } else {
                    page("Account", "<p>Please sign in</p>")
                }
            }),
        )
        .route(
            "/files",
            get(|| async {
                page("Files", r#"<a href="/report.csv">Get report</a>"#)
            }),
        )
        .route(
            "/report.csv",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/csv"),
                        (header::CONTENT_DISPOSITION, "attachment; filename=\"report.csv\""),
                    ],
                    "month,total\njan,42\n",
                )
                    .into_response()
            }),
        )
        .route("/leak", get(move || async move { Redirect::to(&internal) }))
        .route(
            "/hostile",
            get(|| async {
                Html(format!(
                    "<!doctype html><title>Evil\u{1b}]0;pwned\u{7}</title><body><a href=\"/\">\u{1b}[2J{}</a></body>",
                    "A".repeat(5000)
                ))
            }),
        )
        .route(
            "/cross",
            get(move || async move {
                page(
                    "Cross",
                    &format!(
                        r#"<form action="http://localhost:{port}/order" method="post">
                           <input type="hidden" name="qty" value="99">
                           <input type="hidden" name="color" value="Stolen">
                           <button>Send</button></form>"#
                    ),
                )
            }),
        )
        .route(
            "/takeover",
            get(|| async {
                page(
                    "Take over",
                    r#"<form action="/welcome" method="get"><input name="q" aria-label="Your name"
                       style="position:absolute;left:0;top:0;width:600px;height:200px;font-size:40px">
                       </form>"#,
                )
            }),
        )
        .route(
            "/welcome",
            get(|Query(s): Query<Search>| async move { page("Welcome", &format!("<h1>Hello {}</h1>", s.q)) }),
        )
        .route("/a", get(|| async { page("A", r#"<a href="/b">to b</a>"#) }))
        .route("/b", get(|| async { page("B", r#"<a href="/a">to a</a>"#) }))
        .with_state(seen);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}"), port)
}

/// A place on this machine nobody listed; counts what reaches it.
pub(super) async fn internal() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new().fallback(move || {
        let hits = counted.clone();
        async move {
            hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            "internal-secret-8812"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/admin"), hits)
}
