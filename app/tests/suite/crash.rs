//! A `kill -9` of `aetheria ask` mid-stream loses at most the last fraction of a second: the user
//! message and the partial answer are in the database when the next process opens it.

use std::time::Duration;

use aetheria_engine::testkit::{Reply, ScriptedServer, text_chunk};

use super::common::{Env, session_after_deltas, stderr, stdout};

#[tokio::test]
async fn sigkill_mid_stream_keeps_the_user_message_and_the_partial_answer() {
    let chunks: Vec<String> = (0..200).map(|i| text_chunk(&format!("word{i} "))).collect();
    let server = ScriptedServer::start(vec![
        Reply::stream(chunks).with_delay(Duration::from_millis(20)),
    ])
    .await
    .unwrap();
    let env = Env::new(&server.base_url());
    let mut child = env
        .command(&["ask", "--json", "count slowly"])
        .spawn()
        .unwrap();
    let session = session_after_deltas(&mut child, 30).await;
    // Let the batched writer pass at least one flush interval, then kill without warning.
    tokio::time::sleep(Duration::from_millis(400)).await;
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert!(!status.success());

    let out = env.run(&["sessions", "show", &session, "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let loaded: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let messages = loaded["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["content"], "count slowly");
    assert_eq!(messages[1]["role"], "assistant");
    let partial = messages[1]["content"].as_str().unwrap();
    assert!(partial.starts_with("word0 word1 "), "{partial:?}");
    let words = partial.split_whitespace().count();
    assert!(words >= 30, "only {words} words survived: {partial:?}");
    assert!(words < 200, "the answer cannot be complete");
    // Joined from the parts its checkpoints stored: in order, nothing twice, nothing missing.
    let expected: Vec<String> = (0..words).map(|i| format!("word{i}")).collect();
    assert_eq!(partial.split_whitespace().collect::<Vec<_>>(), expected);
    // The interrupted message is marked, not left streaming.
    assert_eq!(messages[1]["status"], "cancelled");
}
