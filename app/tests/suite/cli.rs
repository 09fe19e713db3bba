//! The command-line contract, run as real processes against a loopback provider.

use aetheria_engine::testkit::{Reply, ScriptedServer, skip};

use super::common::{Env, json_lines, stderr, stdout};

#[tokio::test]
async fn ask_streams_the_answer_and_the_session_can_be_continued() {
    let server = ScriptedServer::start(vec![
        Reply::text(&["Hello", " from", " loopback"]),
        Reply::text(&["Again"]),
    ])
    .await
    .unwrap();
    let env = Env::new(&server.base_url());
    let out = env.run(&["ask", "Say", "hello"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Hello from loopback");
    let err = stderr(&out);
    let session = err
        .lines()
        .find_map(|l| l.strip_prefix("session: "))
        .unwrap_or_else(|| panic!("no session id on stderr: {err}"))
        .to_owned();
    let body = &server.requests()[0];
    assert_eq!(body["messages"][1]["content"], "Say hello");

    let out = env.run(&["ask", "--session", &session, "once more"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "Again");
    let roles: Vec<_> = server.requests()[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);

    let out = env.run(&["sessions", "list", "--json"]).await;
    let sessions: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(sessions[0]["id"], session.as_str());
    assert_eq!(sessions[0]["title"], "Say hello");

    let out = env.run(&["sessions", "show", &session]).await;
    let shown = stdout(&out);
    assert!(
        shown.contains("# Say hello")
            && shown.contains("Hello from loopback")
            && shown.contains("Again"),
        "{shown}"
    );

    let out = env.run(&["sessions", "rm", &session]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["sessions", "show", &session]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no session"), "{}", stderr(&out));
}

#[tokio::test]
async fn ask_json_prints_one_envelope_per_line() {
    let server = ScriptedServer::start(vec![Reply::text(&["a", "b"])])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    let out = env.run(&["ask", "--json", "hi"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let envelopes = json_lines(&out);
    // Every line answers the one submission `ask` made, and carries its number.
    let submission = &envelopes[0]["submission"];
    assert!(submission.as_u64().is_some(), "{:?}", envelopes[0]);
    assert!(envelopes.iter().all(|e| &e["submission"] == submission));
    let events: Vec<&serde_json::Value> = envelopes.iter().map(|e| &e["event"]).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"session_created"));
    assert!(types.contains(&"turn_started"));
    // Deltas that arrive together may come as one event: the text is what counts.
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "text_delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "ab");
    assert_eq!(types.last(), Some(&"turn_finished"));
}

#[tokio::test]
async fn ask_overrides_the_endpoint_and_takes_the_key_from_the_environment() {
    let server = ScriptedServer::start(vec![Reply::text(&["custom ok"])])
        .await
        .unwrap();
    let env = Env::new("http://127.0.0.1:9/v1");
    let out = env
        .command(&[
            "ask",
            "--wire",
            "openai",
            "--base-url",
            &server.base_url(),
            "--model",
            "other-model",
            "hi",
        ])
        .env("AETHERIA_API_KEY", "sk-env-0123456789")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "custom ok");
    assert_eq!(server.requests()[0]["model"], "other-model");
    assert_eq!(
        server.authorizations()[0].as_deref(),
        Some("Bearer sk-env-0123456789")
    );
    // The config file was not touched.
    let config = std::fs::read_to_string(env.dir.path().join("config/config.toml")).unwrap();
    assert!(!config.contains("other-model"));

    let out = env
        .run(&[
            "ask",
            "--wire",
            "smoke-signals",
            "--base-url",
            "http://x",
            "--model",
            "m",
            "hi",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown wire"), "{}", stderr(&out));
    let out = env.run(&["ask", "--workspace", "/no/such/dir", "hi"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--workspace"), "{}", stderr(&out));
}

#[tokio::test]
async fn ask_reports_provider_errors_and_exits_non_zero() {
    let server = ScriptedServer::start(vec![Reply::error(401, "Incorrect API key provided")])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    let out = env.run(&["ask", "hi"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: provider \"loopback\" answered 401"),
        "{err}"
    );
    assert!(err.contains("aetheria auth set loopback"), "{err}");
}

#[tokio::test]
async fn without_a_terminal_ask_tools_are_denied_unless_allowed() {
    let args = serde_json::json!({ "path": "made.txt", "content": "by the agent" }).to_string();
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(&[("call_1", "fs_write", &args)], 6),
        Reply::text(&["I could not write it."]),
        Reply::tool_calls(&[("call_2", "fs_write", &args)], 6),
        Reply::text(&["Written."]),
    ])
    .await
    .unwrap();
    let env = Env::new(&server.base_url());
    let out = env.run(&["ask", "write made.txt"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Pass --allow fs_write to allow it"),
        "{}",
        stderr(&out)
    );
    assert!(!env.workspace.join("made.txt").exists());

    let out = env
        .run(&["ask", "--allow", "fs_read,fs_write", "write made.txt"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(env.workspace.join("made.txt")).unwrap(),
        "by the agent"
    );
    assert_eq!(stdout(&out).trim(), "Written.");
}

/// An answer, a file's text and a tool's output can carry terminal escape sequences (clear the
/// screen, move the cursor, recolour): `aetheria ask` prints none of them, it shows them.
#[tokio::test]
async fn escape_sequences_from_the_model_and_tools_never_reach_the_terminal() {
    let read = serde_json::json!({ "path": "trap.txt" }).to_string();
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(&[("call_1", "fs_read", &read)], 6),
        Reply::text(&["Done.\u{1b}[2J\u{1b}[1;1HAll files were \u{9b}31mdeleted\r"]),
    ])
    .await
    .unwrap();
    let env = Env::new(&server.base_url());
    std::fs::write(
        env.workspace.join("trap.txt"),
        "harmless\u{1b}]0;pwned\u{7}\u{1b}[8m hidden \u{202e}txt.exe",
    )
    .unwrap();
    let out = env
        .run(&["ask", "--allow", "fs_read", "read trap.txt"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{name} holds a control character: {text:?}"
        );
    }
    assert!(
        stdout(&out).contains("Done.<U+001B>[2J"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("<U+009B>31mdeleted<U+000D>"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("harmless<U+001B>]0;pwned<U+0007>"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("<U+202E>txt.exe"), "{}", stderr(&out));
}

#[tokio::test]
async fn tools_list_and_call_apply_policies() {
    let env = Env::new("http://127.0.0.1:9/v1");
    let out = env.run(&["tools", "list", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let tools: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let summary: Vec<(String, String, String)> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().into(),
                t["effect"].as_str().unwrap().into(),
                t["policy"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("browser_back".into(), "read_only".into(), "allow".into()),
            ("browser_click".into(), "external".into(), "ask".into()),
            ("browser_download".into(), "mutating".into(), "ask".into()),
            ("browser_forward".into(), "read_only".into(), "allow".into()),
            ("browser_open".into(), "external".into(), "ask".into()),
            (
                "browser_screenshot".into(),
                "read_only".into(),
                "allow".into()
            ),
            ("browser_scroll".into(), "read_only".into(), "allow".into()),
            ("browser_select".into(), "external".into(), "ask".into()),
            (
                "browser_snapshot".into(),
                "read_only".into(),
                "allow".into()
            ),
            ("browser_tabs".into(), "read_only".into(), "allow".into()),
            ("browser_type".into(), "external".into(), "ask".into()),
            ("browser_wait".into(), "read_only".into(), "allow".into()),
            ("forget".into(), "mutating".into(), "ask".into()),
            ("fs_delete".into(), "destructive".into(), "ask".into()),
            ("fs_edit".into(), "mutating".into(), "ask".into()),
            ("fs_glob".into(), "read_only".into(), "allow".into()),
            ("fs_list".into(), "read_only".into(), "allow".into()),
            ("fs_move".into(), "mutating".into(), "ask".into()),
            ("fs_read".into(), "read_only".into(), "allow".into()),
            ("fs_search".into(), "read_only".into(), "allow".into()),
            ("fs_write".into(), "mutating".into(), "ask".into()),
            ("recall".into(), "read_only".into(), "allow".into()),
            ("remember".into(), "mutating".into(), "ask".into()),
            ("run_code".into(), "mutating".into(), "ask".into()),
            ("sandbox_network".into(), "external".into(), "ask".into()),
            ("shell".into(), "mutating".into(), "ask".into()),
            ("web_fetch".into(), "external".into(), "ask".into()),
            ("web_search".into(), "read_only".into(), "allow".into()),
        ]
    );

    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("x.txt"), "from elsewhere").unwrap();
    let dir = other.path().to_str().unwrap();
    let out = env
        .run(&[
            "tools",
            "call",
            "fs_read",
            "--args",
            r#"{"path":"x.txt"}"#,
            "--workspace",
            dir,
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "from elsewhere");

    let write = r#"{"path":"y.txt","content":"yes"}"#;
    let out = env
        .run(&[
            "tools",
            "call",
            "fs_write",
            "--args",
            write,
            "--workspace",
            dir,
        ])
        .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(!other.path().join("y.txt").exists());
    let out = env
        .run(&[
            "tools",
            "call",
            "fs_write",
            "--args",
            write,
            "--workspace",
            dir,
            "--allow",
            "all",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(other.path().join("y.txt")).unwrap(),
        "yes"
    );

    let out = env
        .run(&[
            "tools",
            "call",
            "fs_read",
            "--args",
            r#"{"path":"../x.txt"}"#,
            "--workspace",
            dir,
        ])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let out = env
        .run(&["tools", "call", "fs_read", "--args", "{oops"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--args is not valid JSON"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn doctor_checks_everything_with_fixes() {
    let server = ScriptedServer::start(vec![]).await.unwrap();
    let env = Env::new(&server.base_url());
    let redis = std::env::var("AETHERIA_TEST_REDIS_URL").ok();
    if let Some(url) = &redis {
        let config = std::fs::read_to_string(env.dir.path().join("config/config.toml")).unwrap();
        env.write_config(&format!("redis_url = \"{url}\"\n{config}"));
    } else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must set AETHERIA_TEST_REDIS_URL"
        );
    }
    let out = env.run(&["doctor"]).await;
    let text = stdout(&out);
    for name in [
        "config",
        "database",
        "keychain",
        "provider loopback",
        "docker",
        "redis",
    ] {
        assert!(
            text.contains(&format!("] {name}")),
            "no {name} line:\n{text}"
        );
    }
    assert!(text.contains("[ok  ] provider loopback"), "{text}");
    if redis.is_some() {
        assert!(text.contains("answers PONG"), "{text}");
    }

    env.write_config("this is = not toml [");
    let out = env.run(&["doctor"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("[FAIL] config"), "{}", stdout(&out));
}

#[tokio::test]
async fn version_and_help_name_the_contract() {
    let env = Env::new("http://127.0.0.1:9/v1");
    let out = env.run(&["--version"]).await;
    assert_eq!(
        stdout(&out).trim(),
        format!("aetheria {}", env!("CARGO_PKG_VERSION"))
    );
    let out = env.run(&["--help"]).await;
    let help = stdout(&out);
    for command in ["ask", "sessions", "auth", "tools", "doctor"] {
        assert!(help.contains(command), "{help}");
    }
}

/// On a terminal, `ask` asks before a tool whose policy is `ask` runs, showing the diff; the answer
/// typed decides. `script` (util-linux) gives the process a real pseudo-terminal.
#[tokio::test]
async fn on_a_terminal_ask_asks_and_the_typed_answer_decides() {
    let args = serde_json::json!({ "path": "t.txt", "content": "typed yes" }).to_string();
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(&[("call_y", "fs_write", &args)], 6),
        Reply::text(&["done"]),
        Reply::tool_calls(&[("call_n", "fs_write", &args)], 6),
        Reply::text(&["skipped"]),
    ])
    .await
    .unwrap();
    let env = Env::new(&server.base_url());
    let binary = env!("CARGO_BIN_EXE_aetheria");
    let run = |answer: &'static str| {
        let command = format!("{binary} ask write");
        let mut script = env.command_of("script", &["-q", "-e", "-c", &command, "/dev/null"]);
        script.stdin(std::process::Stdio::piped());
        async move {
            let mut child = script
                .spawn()
                .expect("script (util-linux) must be installed");
            {
                use tokio::io::AsyncWriteExt;
                let mut stdin = child.stdin.take().unwrap();
                stdin.write_all(answer.as_bytes()).await.unwrap();
            }
            child.wait_with_output().await.unwrap()
        }
    };
    let out = run("y\n").await;
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("Allow fs_write"), "{screen}");
    assert!(screen.contains("+typed yes"), "the diff is shown: {screen}");
    assert_eq!(
        std::fs::read_to_string(env.workspace.join("t.txt")).unwrap(),
        "typed yes"
    );

    std::fs::remove_file(env.workspace.join("t.txt")).unwrap();
    let out = run("n\n").await;
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(screen.contains("skipped"), "{screen}");
    assert!(
        !env.workspace.join("t.txt").exists(),
        "a typed no writes nothing"
    );
}

/// `aetheria mcp add|list|rm` and `aetheria tools list` with a real MCP server (the official
/// Python SDK's, from the engine's test fixtures).
#[tokio::test]
async fn mcp_servers_are_added_listed_and_removed() {
    let Some(python) = std::env::var_os("AETHERIA_TEST_MCP_PYTHON") else {
        assert!(
            skip("mcp"),
            "AETHERIA_TEST_MCP_PYTHON is not set: run installer/dev.sh test (AETHERIA_SKIP=mcp to skip)"
        );
        return;
    };
    let python = python.to_string_lossy().into_owned();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../engine/tests/fixtures/mcp/notes_server.py"
    );
    let server = ScriptedServer::start(vec![]).await.unwrap();
    let env = Env::new(&server.base_url());
    let out = env
        .run(&["mcp", "add", "notes", "--", &python, script, "stdio"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("notes__TOOL"), "{}", stdout(&out));
    let out = env.run(&["mcp", "add", "notes", "--url", "http://x"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("exists"), "{}", stderr(&out));
    let out = env
        .run(&["mcp", "add", "bad name", "--url", "http://x"])
        .await;
    assert!(stderr(&out).contains("must be letters"), "{}", stderr(&out));
    // `a__b`'s tool `c` and `a`'s tool `b__c` would have one name: `__` is refused in names.
    let out = env.run(&["mcp", "add", "a__b", "--url", "http://x"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("without \"__\""), "{}", stderr(&out));

    let out = env.run(&["mcp", "list"]).await;
    let listed = stdout(&out);
    // The server's eighth tool has a name no model can call (a space, an escape): left out.
    assert!(listed.contains("running, 7 tools"), "{listed}");
    assert!(listed.contains("notes__shout"), "{listed}");
    assert!(!listed.contains("clear"), "{listed}");
    let out = env.run(&["tools", "list", "--json"]).await;
    let tools: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let add = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "notes__add")
        .unwrap_or_else(|| panic!("{tools}"));
    assert_eq!(
        (add["effect"].as_str(), add["policy"].as_str()),
        (Some("external"), Some("ask"))
    );

    let out = env.run(&["mcp", "rm", "notes"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["mcp", "list", "--json"]).await;
    assert_eq!(stdout(&out).trim(), "[]");
    let out = env.run(&["mcp", "rm", "notes"]).await;
    assert!(
        stderr(&out).contains("no MCP server named"),
        "{}",
        stderr(&out)
    );
}

/// `aetheria search` finds what an earlier `ask` said; `aetheria memory` lists, edits and deletes
/// what the `remember` tool kept.
#[tokio::test]
async fn search_and_memory_commands() {
    let remember =
        serde_json::json!({"text": "The person's favourite editor is Helix."}).to_string();
    let server = ScriptedServer::start(vec![
        Reply::tool_calls(&[("r1", "remember", &remember)], 4),
        Reply::text(&["Helix is a modal editor written in Rust."]),
    ])
    .await
    .unwrap();
    let env = Env::new(&server.base_url());
    let out = env
        .run(&[
            "ask",
            "--allow",
            "remember",
            "I use the Helix editor, remember it",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));

    let out = env.run(&["search", "modal", "editor", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let hits: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let hits = hits.as_array().unwrap();
    assert!(!hits.is_empty());
    assert_eq!(
        hits[0]["session_title"],
        "I use the Helix editor, remember it"
    );
    assert!(
        hits.iter()
            .any(|h| h["snippet"].as_str().unwrap().contains("«modal»")),
        "{hits:?}"
    );
    let out = env.run(&["search", "zeppelin"]).await;
    assert_eq!(stdout(&out).trim(), "nothing found");

    let out = env.run(&["memory", "list", "--json"]).await;
    let memories: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        memories[0]["text"],
        "The person's favourite editor is Helix."
    );
    let id = memories[0]["id"].as_str().unwrap().to_owned();
    let out = env
        .run(&["memory", "edit", &id, "They", "switched", "to", "Zed."])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["memory", "list"]).await;
    assert_eq!(stdout(&out).trim(), format!("{id}  They switched to Zed."));
    let out = env.run(&["memory", "rm", &id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["memory", "rm", &id]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no memory"), "{}", stderr(&out));
    let out = env.run(&["memory", "list"]).await;
    assert_eq!(stdout(&out).trim(), "no memories yet");
}

/// `aetheria jobs schedule|schedules|unschedule` and `jobs submit|show|cancel` over the embedded
/// queue (no worker runs in these short commands, so jobs stay queued).
#[tokio::test]
async fn jobs_and_schedules_from_the_command_line() {
    let env = Env::new("http://127.0.0.1:9");
    let out = env
        .run(&["jobs", "schedule", "bad cron", "--text", "x"])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is not a cron expression"),
        "{}",
        stderr(&out)
    );
    let out = env
        .run(&[
            "jobs",
            "schedule",
            "0 9 * * 1-5",
            "--tz",
            "Mars/Olympus",
            "--text",
            "x",
        ])
        .await;
    assert!(
        stderr(&out).contains("\"Mars/Olympus\" is not a time zone"),
        "{}",
        stderr(&out)
    );
    let out = env
        .run(&[
            "jobs",
            "schedule",
            "0 9 * * 1-5",
            "--tz",
            "Asia/Tokyo",
            "--text",
            "Summarise my inbox",
            "--allow",
            "web_fetch",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    // Said in its zone: 09:00 in Tokyo, JST.
    assert!(
        stdout(&out).contains("0 9 * * 1-5, Asia/Tokyo; next 09:00 JST on"),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["jobs", "schedules", "--json"]).await;
    let schedules: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(schedules[0]["cron"], "0 9 * * 1-5");
    assert_eq!(schedules[0]["timezone"], "Asia/Tokyo");
    let out = env.run(&["jobs", "schedules"]).await;
    assert!(
        stdout(&out).contains("0 9 * * 1-5      Asia/Tokyo  next 09:00 JST on"),
        "{}",
        stdout(&out)
    );
    assert_eq!(schedules[0]["allow"][0], "web_fetch");
    let id = schedules[0]["id"].as_str().unwrap().to_owned();
    let out = env.run(&["jobs", "pause", &id]).await;
    assert_eq!(stdout(&out).trim(), format!("paused schedule {id}"));
    let out = env.run(&["jobs", "schedules"]).await;
    assert!(
        stdout(&out).contains("Asia/Tokyo  paused"),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["jobs", "resume", &id]).await;
    assert!(
        stdout(&out).starts_with(&format!("resumed schedule {id}: next 09:00 JST on")),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["jobs", "pause", "no-such-schedule"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no schedule no-such-schedule"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["jobs", "unschedule", &id]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env.run(&["jobs", "schedules"]).await;
    assert_eq!(stdout(&out).trim(), "no schedules");

    let out = env.run(&["jobs", "submit", "research", "--json"]).await;
    assert!(stderr(&out).contains("needs --text"), "{}", stderr(&out));
    let out = env
        .run(&[
            "jobs",
            "submit",
            "research",
            "--text",
            "Best Rust web framework?",
            "--json",
        ])
        .await;
    let job: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (job["spec"]["kind"].as_str(), job["state"].as_str()),
        (Some("research"), Some("queued"))
    );
    let id = job["spec"]["id"].as_str().unwrap().to_owned();
    let out = env.run(&["jobs", "cancel", &id]).await;
    assert!(stdout(&out).contains("cancelled"), "{}", stdout(&out));
    let out = env.run(&["jobs", "show", &id, "--json"]).await;
    let job: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(job["state"], "cancelled");
    let out = env.run(&["jobs", "cancel", &id]).await;
    assert_eq!(out.status.code(), Some(2));

    // A code run: the program read from a file here, queued to run once in a sandbox.
    let out = env.run(&["jobs", "submit", "code", "--json"]).await;
    assert!(
        stderr(&out).contains("needs --file or --text"),
        "{}",
        stderr(&out)
    );
    let out = env
        .run(&[
            "jobs",
            "submit",
            "code",
            "--language",
            "cobol",
            "--text",
            "x",
        ])
        .await;
    assert!(
        stderr(&out).contains("python, bash or node"),
        "{}",
        stderr(&out)
    );
    let script = env.dir.path().join("count.py");
    std::fs::write(&script, "for i in range(3):\n    print(i)\n").unwrap();
    let out = env
        .run(&[
            "jobs",
            "submit",
            "code",
            "--file",
            script.to_str().unwrap(),
            "--timeout-s",
            "600",
            "--json",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let job: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(job["spec"]["kind"], "code");
    assert_eq!(job["spec"]["language"], "python");
    assert_eq!(job["spec"]["code"], "for i in range(3):\n    print(i)\n");
    assert_eq!(job["spec"]["timeout_s"], 600);
    assert_eq!(job["spec"]["max_attempts"], 1);
    let id = job["spec"]["id"].as_str().unwrap().to_owned();
    let out = env.run(&["jobs", "list"]).await;
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.contains(&id) && l.contains("code")),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["jobs", "cancel", &id]).await;
    assert!(stdout(&out).contains("cancelled"), "{}", stdout(&out));
}
