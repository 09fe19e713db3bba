//! Every command and event goes to JSON and back unchanged, and the wire form of each is the one
//! written here: a front end in another language can rely on it. A variant added to the protocol
//! fails to compile here until it is listed, and fails the test until it has a sample.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use aetheria_protocol::{
    AccountsCommand, BrowserCommand, Command, Envelope, Event, Submission, SubmissionId,
    VoiceCommand, VoiceEvent,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// An exhaustive match naming each variant, and the list of all names.
macro_rules! variants {
    ($name:ident, $all:ident, $t:ident: $($v:ident),* $(,)?) => {
        fn $name(value: &$t) -> &'static str {
            match value {
                $($t::$v { .. } => stringify!($v),)*
            }
        }
        const $all: &[&str] = &[$(stringify!($v)),*];
    };
}

variants!(command_name, COMMANDS, Command:
    Session, Turn, Tools, Jobs, Memory, Settings, Models, Sandbox, Voice, Accounts, Browser,
    Shutdown);
variants!(browser_command_name, BROWSER_COMMANDS, BrowserCommand:
    Watch, TakeOver, HandBack, Input);
variants!(accounts_command_name, ACCOUNTS_COMMANDS, AccountsCommand:
    Status, SignIn, SetToken, SignOut, CancelSignIn);
variants!(voice_command_name, VOICE_COMMANDS, VoiceCommand:
    Status, Start, Stop, Cancel, Transcribe, Models, InstallModel, RemoveModel, PlayCue, Speak,
    StopSpeaking);
variants!(event_name, EVENTS, Event:
    SessionCreated, SessionList, SessionLoaded, SessionUpdated, SessionDeleted, TurnStarted,
    TextDelta, ThinkingDelta, ToolCallStarted, ApprovalRequested, ToolOutputDelta,
    ToolCallFinished, ToolPolicyChanged, SearchResults, JobUpdated, ScheduleAdded, Schedules,
    ScheduleChanged, ScheduleRemoved, JobList, Memories, MemoryUpdated, MemoryDeleted, McpServers, Settings,
    SettingsSaved, KeyStored, ProviderTested, ModelList, LocalServers, FileList, ToolList,
    SandboxStatus, SandboxImageProgress, SandboxList, SandboxesRemoved, LocalModels,
    LocalModelProgress, LocalModelAdded, LocalModelRemoved, ModelCatalog, LocalModelCancelled,
    ProviderRetrying, ContextCompacted,
    TurnFinished, TurnFailed, TurnCancelled, Voice, Lagged, HostLost, Accounts, SignInStarted,
    BrowserState, BrowserFrame, CommandFailed);
variants!(voice_event_name, VOICE_EVENTS, VoiceEvent:
    Status, Started, Level, Stopped, Transcribed, Models, Progress, Played, Spoken);

/// Parses `wire` as a `T`, and checks it prints back to the same JSON and parses to an equal value.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(wire: &Value) -> T {
    let value: T = serde_json::from_value(wire.clone())
        .unwrap_or_else(|e| panic!("{wire} does not parse: {e}"));
    let back = serde_json::to_value(&value).unwrap();
    assert_eq!(&back, wire, "printed differently");
    let again: T = serde_json::from_value(back).unwrap();
    assert_eq!(again, value);
    value
}

fn time() -> Value {
    json!("2026-12-06T04:00:00Z")
}

fn session() -> Value {
    json!({"id": "s1", "title": "Notes", "created_at": time(), "updated_at": time()})
}

fn provider() -> Value {
    json!({"name": "openai", "wire": "openai", "base_url": "https://api.openai.com/v1",
           "model": "gpt-4o", "context_window": 128000,
           "vision": true})
}

fn settings() -> Value {
    json!({"default_provider": "openai", "providers": [provider()], "workspace_roots": ["/home/p/notes"],
           "max_steps": 25, "tool_policies": {"shell": "ask"},
           "mcp_servers": {"files": {"command": "mcp-files", "args": ["--root", "/tmp"]}},
           "voice": {"model": "base.en", "language": "auto", "fast": false, "cues": true,
                     "read_aloud": false, "push_to_talk": "Ctrl+Space", "auto_send": false},
           "jobs_allow": ["web_fetch"]})
}

fn job_spec() -> Value {
    json!({"id": "j1", "kind": "prompt", "text": "Summarise the news", "allow": [],
           "max_attempts": 3})
}

fn job() -> Value {
    json!({"spec": job_spec(), "state": "running", "attempts": 1, "progress": "searching",
           "result": "", "error": ""})
}

fn schedule() -> Value {
    json!({"id": "sc1", "cron": "0 9 * * *", "text": "Morning brief", "allow": [],
           "created_ms": 1_700_000_000_000_i64})
}

fn memory() -> Value {
    json!({"id": "m1", "text": "Prefers metric units", "tags": ["units"], "session": "s1",
           "created_at": time(),
           "updated_at": time()})
}

fn local_model() -> Value {
    json!({"name": "tiny", "path": "/data/models/tiny.gguf", "display_name": "Tiny",
           "architecture": "llama", "quantization": "Q4_K_M", "size_bytes": 1024,
           "context_length": 2048, "source": "https://example.com/tiny.gguf", "sha256": "ab",
           "added_at": time()})
}

fn voice_model() -> Value {
    json!({"name": "base.en", "bytes": 147951465, "english_only": true,
           "path": "/data/voice/ggml-base.en.bin"})
}

fn error() -> Value {
    json!({"kind": "invalid", "message": "the message is empty"})
}

fn commands() -> Vec<Value> {
    vec![
        json!({"type": "session", "op": "create", "session": "s1", "title": null}),
        json!({"type": "session", "op": "list"}),
        json!({"type": "session", "op": "load", "session": "s1"}),
        json!({"type": "session", "op": "rename", "session": "s1", "title": "Plans"}),
        json!({"type": "session", "op": "delete", "session": "s1"}),
        json!({"type": "session", "op": "search", "query": "budget", "limit": 5}),
        json!({"type": "turn", "op": "send", "session": "s1", "text": "hi",
               "attachments": ["/home/p/a.png"], "create": true}),
        json!({"type": "turn", "op": "cancel", "session": "s1"}),
        json!({"type": "turn", "op": "approve", "call": "c1", "decision": "allow",
               "remember": true, "scope": "notes"}),
        json!({"type": "tools", "op": "list"}),
        json!({"type": "tools", "op": "set_policy", "tool": "shell", "policy": "deny"}),
        json!({"type": "tools", "op": "list_mcp_servers"}),
        json!({"type": "tools", "op": "call", "call": "c2", "tool": "fs_read",
               "arguments": {"path": "a.txt"}}),
        json!({"type": "tools", "op": "list_files", "path": "notes"}),
        json!({"type": "jobs", "op": "submit", "job": job_spec()}),
        json!({"type": "jobs", "op": "list", "limit": null}),
        json!({"type": "jobs", "op": "get", "id": "j1"}),
        json!({"type": "jobs", "op": "cancel", "id": "j1"}),
        json!({"type": "jobs", "op": "add_schedule", "cron": "0 9 * * *",
               "timezone": "Europe/Paris", "text": "brief", "allow": ["web_search"]}),
        json!({"type": "jobs", "op": "list_schedules"}),
        json!({"type": "jobs", "op": "pause_schedule", "id": "sc1", "paused": true}),
        json!({"type": "jobs", "op": "remove_schedule", "id": "sc1"}),
        json!({"type": "memory", "op": "list"}),
        json!({"type": "memory", "op": "update", "id": "m1", "text": "x", "tags": []}),
        json!({"type": "memory", "op": "delete", "id": "m1"}),
        json!({"type": "settings", "op": "get"}),
        json!({"type": "settings", "op": "save", "settings": settings()}),
        json!({"type": "settings", "op": "test_provider", "provider": provider()}),
        json!({"type": "models", "op": "list", "provider": provider()}),
        json!({"type": "models", "op": "detect_local_servers"}),
        json!({"type": "models", "op": "list_local"}),
        json!({"type": "models", "op": "add_local", "source": "https://example.com/m.gguf",
               "name": "m", "sha256": null}),
        json!({"type": "models", "op": "remove_local", "name": "m"}),
        json!({"type": "tools", "op": "restart_mcp_server", "name": "notes"}),
        json!({"type": "models", "op": "catalog"}),
        json!({"type": "models", "op": "install_catalog", "name": "smollm2-135m-instruct"}),
        json!({"type": "models", "op": "cancel_add", "name": "m"}),
        json!({"type": "models", "op": "set_default", "name": "m"}),
        json!({"type": "models", "op": "set_default", "name": null}),
        json!({"type": "sandbox", "op": "status"}),
        json!({"type": "sandbox", "op": "build_image"}),
        json!({"type": "sandbox", "op": "list"}),
        json!({"type": "sandbox", "op": "remove", "ids": ["abc"]}),
        json!({"type": "voice", "op": "status"}),
        json!({"type": "voice", "op": "start"}),
        json!({"type": "voice", "op": "stop"}),
        json!({"type": "voice", "op": "cancel"}),
        json!({"type": "voice", "op": "transcribe", "path": "/tmp/a.wav"}),
        json!({"type": "voice", "op": "models"}),
        json!({"type": "voice", "op": "install_model", "name": "base.en"}),
        json!({"type": "voice", "op": "remove_model", "name": "base.en"}),
        json!({"type": "voice", "op": "play_cue", "cue": "record_start"}),
        json!({"type": "voice", "op": "speak", "text": "hello"}),
        json!({"type": "voice", "op": "stop_speaking"}),
        json!({"type": "accounts", "op": "status"}),
        json!({"type": "accounts", "op": "sign_in", "service": "github", "client_id": "Iv1.abc"}),
        json!({"type": "accounts", "op": "sign_in", "service": "drive"}),
        json!({"type": "accounts", "op": "sign_out", "service": "vercel"}),
        json!({"type": "accounts", "op": "cancel_sign_in", "service": "drive"}),
        json!({"type": "browser", "op": "watch", "session": "s1", "on": true}),
        json!({"type": "browser", "op": "watch", "on": false}),
        json!({"type": "browser", "op": "take_over", "session": "s1"}),
        json!({"type": "browser", "op": "hand_back", "session": "s1"}),
        json!({"type": "browser", "op": "input", "session": "s1",
               "input": {"kind": "click", "x": 12.5, "y": 300.0}}),
        json!({"type": "browser", "op": "input", "session": "s1",
               "input": {"kind": "text", "text": "hello"}}),
        json!({"type": "browser", "op": "input", "session": "s1",
               "input": {"kind": "key", "key": "arrow_down"}}),
        json!({"type": "browser", "op": "input", "input": {"kind": "scroll", "dy": -400.0}}),
        json!({"type": "shutdown"}),
    ]
}

fn events() -> Vec<Value> {
    let message = json!({"id": "m1", "role": "assistant", "content": "Done.",
        "tool_calls": [{"id": "c1", "wire_id": "call_1", "name": "fs_read", "arguments": "{}"}],
        "status": "complete", "created_at": time()});
    let call = json!({"id": "c1", "message": "m1", "tool": "fs_read", "kind": "files",
        "arguments": "{}", "status": "succeeded", "output": "text"});
    vec![
        json!({"type": "session_created", "session": session()}),
        json!({"type": "session_list", "sessions": [session()]}),
        json!({"type": "session_loaded", "session": session(), "messages": [message],
               "tool_calls": [call]}),
        json!({"type": "session_updated", "session": session()}),
        json!({"type": "session_deleted", "session": "s1"}),
        json!({"type": "turn_started", "session": "s1", "user_message": "m0"}),
        json!({"type": "turn_started", "session": "s1", "user_message": "m0", "text": "hi"}),
        json!({"type": "text_delta", "session": "s1", "message": "m1", "delta": "Hel"}),
        json!({"type": "thinking_delta", "session": "s1", "message": "m1", "delta": "hmm"}),
        json!({"type": "tool_call_started", "session": "s1", "call": "c1", "tool": "fs_read",
               "kind": "files", "arguments": "{}"}),
        json!({"type": "approval_requested", "session": null, "call": "c1", "tool": "fs_write",
               "effect": "mutating", "arguments": "{}", "preview": "+hi",
               "scope": {"kind": "path", "value": "notes"}}),
        json!({"type": "tool_output_delta", "call": "c1", "delta": "line\n"}),
        json!({"type": "tool_call_finished", "session": "s1", "call": "c1",
               "status": "denied", "output": "the person denied this call"}),
        json!({"type": "tool_policy_changed", "tool": "shell", "policy": "allow"}),
        json!({"type": "search_results", "query": "milk", "hits": [
            {"session": "s1", "session_title": "Notes", "message": "m1", "role": "user",
             "tool_call": null, "tool": null, "snippet": "buy milk", "score": 1.5}]}),
        json!({"type": "job_updated", "job": job()}),
        json!({"type": "schedule_added", "schedule": schedule()}),
        json!({"type": "schedules", "schedules": [schedule()]}),
        json!({"type": "schedule_changed", "schedule": {"id": "sc1", "cron": "0 9 * * *",
               "timezone": "Europe/Paris", "text": "Morning brief", "allow": [],
               "created_ms": 1_700_000_000_000_i64, "paused": true,
               "resumed_ms": 1_700_000_500_000_i64}}),
        json!({"type": "schedule_removed", "id": "sc1"}),
        json!({"type": "job_list", "jobs": [job()]}),
        json!({"type": "memories", "memories": [memory()]}),
        json!({"type": "memory_updated", "memory": memory()}),
        json!({"type": "memory_deleted", "id": "m1"}),
        json!({"type": "mcp_servers", "servers": [{"name": "files", "target": "mcp-files --root /tmp",
               "enabled": true, "state": "failed", "tools": ["read"],
               "error": "exited with status 1", "restarts": 2, "stderr": ["boom"]}]}),
        json!({"type": "settings", "settings": settings()}),
        json!({"type": "settings_saved", "settings": settings()}),
        json!({"type": "key_stored", "provider": "openai"}),
        json!({"type": "provider_tested", "provider": "openai", "ok": false,
               "detail": "401: the key was refused"}),
        json!({"type": "model_list", "provider": "openai", "models": [{"id": "gpt-4o",
               "display_name": "GPT-4o", "context_window": 128000, "tools": true,
               "vision": true}]}),
        json!({"type": "local_servers", "found": [provider()]}),
        json!({"type": "file_list", "path": "", "entries": [{"name": "notes", "kind": "dir",
               "size": 0}, {"name": "a.txt", "kind": "file", "size": 12}]}),
        json!({"type": "tool_list", "tools": [{"name": "shell", "kind": "sandbox",
               "description": "Run a command", "effect": "destructive", "policy": "ask",
               "schema": {"type": "object"}}]}),
        json!({"type": "sandbox_status", "status": {"backend": "docker", "ready": true,
               "image": "aetheria-sandbox:1", "rootfs_cached": true, "detail": "ready"}}),
        json!({"type": "sandbox_image_progress", "message": "importing", "fraction": 0.5}),
        json!({"type": "sandbox_list", "sandboxes": [{"id": "abc", "name": "aetheria-s1",
               "running": true, "status": "Up 2 minutes", "backend": "docker"}]}),
        json!({"type": "sandboxes_removed", "ids": ["abc"]}),
        json!({"type": "local_models", "models": [local_model()]}),
        json!({"type": "local_models", "models": [local_model()], "default": "tiny"}),
        json!({"type": "local_model_progress", "source": "https://example.com/m.gguf",
               "name": "m", "done": 10, "total": 100}),
        json!({"type": "model_catalog", "models": [{"name": "smollm2-135m-instruct",
               "display_name": "SmolLM2 135M Instruct", "family": "SmolLM2",
               "quantization": "Q4_1", "size_bytes": 98362432, "licence": "Apache-2.0",
               "sha256": "b179", "url": "https://example.com/m.gguf", "installed": false}]}),
        json!({"type": "local_model_cancelled", "name": "m"}),
        json!({"type": "local_model_added", "model": local_model()}),
        json!({"type": "local_model_removed", "name": "tiny"}),
        json!({"type": "provider_retrying", "session": "s1", "attempt": 1, "wait_secs": 2,
               "reason": "429"}),
        json!({"type": "context_compacted", "session": "s1", "detail": "3 turns summarised"}),
        json!({"type": "turn_finished", "session": "s1", "message": "m1",
               "usage": {"input_tokens": 12, "output_tokens": 4, "cached_input_tokens": 8},
               "finish_reason": "length"}),
        json!({"type": "turn_failed", "session": "s1", "error": error()}),
        json!({"type": "turn_cancelled", "session": "s1"}),
        json!({"type": "voice", "voice": "status", "devices": ["default"], "unavailable": null,
               "model": voice_model(), "recording": false, "speech": true,
               "sound_unavailable": null}),
        json!({"type": "voice", "voice": "started", "device": "default"}),
        json!({"type": "voice", "voice": "level", "level": 0.25}),
        json!({"type": "voice", "voice": "stopped", "error": "the microphone went away"}),
        json!({"type": "voice", "voice": "transcribed", "text": "hello", "language": "en",
               "audio_ms": 2000, "speech_ms": 1500, "latency_ms": 420,
               "real_time_factor": 0.25, "auto_send": false}),
        json!({"type": "voice", "voice": "models", "models": [voice_model()],
               "selected": "base.en"}),
        json!({"type": "voice", "voice": "progress", "name": "base.en", "done": 1}),
        json!({"type": "voice", "voice": "played", "cue": "record_stop"}),
        json!({"type": "voice", "voice": "spoken"}),
        json!({"type": "accounts", "accounts": [
            {"service": "github", "signed_in": true, "tools_on": true, "client_id": "Iv1.abc",
             "signing_in": false},
            {"service": "drive", "signed_in": false, "tools_on": false, "signing_in": true},
            {"service": "vercel", "signed_in": false, "tools_on": false, "signing_in": false,
             "problem": "the keychain is locked"}]}),
        json!({"type": "browser_state", "session": "s1", "view": {
            "running": true, "url": "https://example.com/", "title": "Example",
            "last_action": "Clicked \"More\"", "taken_over": false}}),
        json!({"type": "browser_state", "view": {"running": false, "taken_over": false}}),
        json!({"type": "browser_frame", "session": "s1", "jpeg": "/9j/4AAQSkZJRg=="}),
        json!({"type": "sign_in_started", "service": "github",
               "step": {"kind": "enter_code", "user_code": "WDJB-MJHT",
                        "verification_uri": "https://github.com/login/device", "expires_in": 900}}),
        json!({"type": "sign_in_started", "service": "drive",
               "step": {"kind": "open_browser", "url": "https://accounts.google.com/o/oauth2/v2/auth?client_id=x"}}),
        json!({"type": "lagged", "missed": 120}),
        json!({"type": "host_lost", "reason": "the host stopped"}),
        json!({"type": "command_failed", "submission": 7, "error": error()}),
    ]
}

#[test]
fn every_command_goes_to_json_and_back() {
    let mut seen = BTreeSet::new();
    let mut voice = BTreeSet::new();
    let mut accounts = BTreeSet::from(["SetToken"]);
    let mut browser = BTreeSet::new();
    for wire in commands() {
        let command: Command = round_trip(&wire);
        if let Command::Voice(v) = &command {
            voice.insert(voice_command_name(v));
        }
        if let Command::Accounts(a) = &command {
            accounts.insert(accounts_command_name(a));
        }
        if let Command::Browser(b) = &command {
            browser.insert(browser_command_name(b));
        }
        seen.insert(command_name(&command));
        // As it travels: with its submission number.
        let submission = json!({"id": 3, "command": wire});
        let back: Submission = serde_json::from_value(submission.clone()).unwrap();
        assert_eq!(back.id, SubmissionId(3));
        assert_eq!(serde_json::to_value(&back).unwrap(), submission);
    }
    assert_eq!(
        seen,
        COMMANDS.iter().copied().collect(),
        "a command without a sample"
    );
    assert_eq!(
        voice,
        VOICE_COMMANDS.iter().copied().collect(),
        "a voice command without a sample"
    );
    // `SetToken` carries a secret, which never prints: its sample is below.
    assert_eq!(
        accounts,
        ACCOUNTS_COMMANDS.iter().copied().collect(),
        "an accounts command without a sample"
    );
    assert_eq!(
        browser,
        BROWSER_COMMANDS.iter().copied().collect(),
        "a browser command without a sample"
    );
}

#[test]
fn every_event_goes_to_json_and_back() {
    let mut seen = BTreeSet::new();
    let mut voice = BTreeSet::new();
    for wire in events() {
        let event: Event = round_trip(&wire);
        if let Event::Voice(v) = &event {
            voice.insert(voice_event_name(v));
        }
        seen.insert(event_name(&event));
        // As it travels: with the submission that caused it, or none.
        let stamped = json!({"submission": 4, "event": wire});
        let envelope: Envelope = round_trip(&stamped);
        assert_eq!(envelope.submission, Some(SubmissionId(4)));
        let unstamped: Envelope = round_trip(&json!({"event": wire}));
        assert_eq!(unstamped.submission, None);
    }
    assert_eq!(
        seen,
        EVENTS.iter().copied().collect(),
        "an event without a sample"
    );
    assert_eq!(
        voice,
        VOICE_EVENTS.iter().copied().collect(),
        "a voice event without a sample"
    );
}

/// A key never travels back out: it parses in, but prints as nothing a log could leak.
#[test]
fn a_stored_key_parses_but_never_prints() {
    let wire = json!({"type": "settings", "op": "store_key", "provider": "openai",
                      "key": "sk-live-123"});
    let command: Command = serde_json::from_value(wire).unwrap();
    let printed = serde_json::to_string(&command).unwrap();
    assert!(!printed.contains("sk-live"), "{printed}");
    assert!(!format!("{command:?}").contains("sk-live"));
    assert_eq!(command_name(&command), "Settings");
    let wire = json!({"type": "accounts", "op": "set_token", "service": "vercel",
                      "token": "vcp_live_456"});
    let command: Command = serde_json::from_value(wire).unwrap();
    let printed = serde_json::to_string(&command).unwrap();
    assert!(!printed.contains("vcp_live"), "{printed}");
    assert!(!format!("{command:?}").contains("vcp_live"));
    assert_eq!(command_name(&command), "Accounts");
}

/// Hostile or mistaken input is refused with a reason, not taken for something else.
#[test]
fn unknown_and_malformed_commands_are_refused() {
    for wire in [
        json!({"type": "session", "op": "drop_all"}),
        json!({"type": "sessions", "op": "list"}),
        json!({"type": "turn", "op": "send", "session": "s1"}),
        json!({"type": "tools", "op": "set_policy", "tool": "shell", "policy": "sometimes"}),
        json!({"op": "list"}),
        json!({"type": "accounts", "op": "sign_in", "service": "gitlab"}),
        json!({"type": "accounts", "op": "set_token", "service": "vercel"}),
        json!("shutdown"),
    ] {
        assert!(
            serde_json::from_value::<Command>(wire.clone()).is_err(),
            "{wire} was taken"
        );
    }
}
