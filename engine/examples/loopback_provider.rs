//! A loopback model server for trying the app offline: it speaks OpenAI's streaming wire and plays a
//! short scripted conversation (a file listing, a markdown answer after some reasoning, a file write
//! that needs approval, a Python run in the sandbox); with `browse URL` after the address, a page
//! opened and a link clicked in the agent's browser instead.
//!
//! ```sh
//! cargo run -p aetheria-engine --features testkit --example loopback_provider -- 127.0.0.1:8089
//! aetheria ask --base-url http://127.0.0.1:8089/v1 --model demo "What is in my workspace?"
//! ```
//!
//! Stopped with Ctrl-C (SIGINT), it prints the `Authorization` header of every request it served,
//! so a package test can check the key the app sent came from where it should.

use std::time::Duration;

use aetheria_engine::testkit::{Reply, ScriptedServer, finish_chunk, text_chunk, usage_chunk};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let answer = "## Your workspace\n\nI looked around. Here is what I found:\n\n- **notes/** — your notes\n- `README.md` — the project overview\n\n```rust\nfn main() {\n    println!(\"hello\");\n}\n```\n\nShall I write a summary to `summary.md`?";
    let pieces: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let write = r##"{"path": "summary.md", "content": "# Summary\n\nNotes and a README."}"##;
    let code = r#"{"language": "python", "code": "import time\nfor n in range(1, 8):\n    print(f'{n:>2} squared is {n*n:>3}', flush=True)\n    time.sleep(0.1)\nopen('/workspace/squares.txt', 'w').write('done')"}"#;
    // The answer comes after some reasoning, as DeepSeek or llama.cpp stream it.
    let reasoning = serde_json::json!({"choices": [{"index": 0, "delta": {"reasoning_content":
        "The listing shows a notes folder and a README. Describe both, show the entry point, and offer a summary file."}}]});
    let mut answer_events = vec![reasoning.to_string()];
    answer_events.extend(pieces.iter().map(|p| text_chunk(p)));
    answer_events.extend([finish_chunk("stop"), usage_chunk(12, 40), "[DONE]".into()]);
    let mut replies = Vec::new();
    // `loopback_provider ADDR browse URL`: the agent opens URL in its browser and answers.
    if let (Some("browse"), Some(url)) =
        (std::env::args().nth(2).as_deref(), std::env::args().nth(3))
    {
        let open = serde_json::json!({ "url": url }).to_string();
        let pick = serde_json::json!({ "name": "Pro" }).to_string();
        for _ in 0..20 {
            replies.push(Reply::tool_calls(
                &[("call_open", "browser_open", &open)],
                8,
            ));
            replies.push(Reply::tool_calls(
                &[("call_pick", "browser_click", &pick)],
                8,
            ));
            replies.push(Reply::text(&[
                "The **Pro** plan costs $12 a month; ",
                "its page is open in the browser.",
            ]));
        }
    }
    for _ in 0..20 {
        replies.push(Reply::tool_calls(&[("call_list", "fs_list", "{}")], 8));
        replies.push(Reply::stream(answer_events.clone()).with_delay(Duration::from_millis(30)));
        replies.push(Reply::tool_calls(&[("call_write", "fs_write", write)], 8));
        replies.push(Reply::text(&["Saved ", "`summary.md`."]));
        replies.push(Reply::tool_calls(&[("call_code", "run_code", code)], 8));
        replies.push(Reply::text(&["The squares are in `squares.txt`."]));
    }
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8089".into());
    let server = ScriptedServer::start_on(&addr, replies).await?;
    println!("{}", server.base_url());
    tokio::signal::ctrl_c().await?;
    for authorization in server.authorizations() {
        println!(
            "authorization: {}",
            authorization.as_deref().unwrap_or("(none)")
        );
    }
    Ok(())
}
