//! The store against a real SurrealDB: sessions, messages and tool calls round trip, history
//! search, a store on disk reopened, and a newer schema refused.

use super::*;
use crate::api::{
    MessageId, MessageRecord, MessageStatus, Role, ToolCallId, ToolCallRecord, ToolCallRequest,
    ToolStatus,
};

/// A new folder for a store on disk, and the store's URL in it.
pub(super) fn on_disk() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("surrealkv://{}", dir.path().join("db").display());
    (dir, url)
}

pub(super) fn message(role: Role, text: &str) -> MessageRecord {
    MessageRecord::new(role, text)
}

#[tokio::test]
async fn sessions_messages_and_calls_round_trip() {
    let store = Store::open("mem://").await.unwrap();
    let s = SessionId::new();
    store.create_session(&s, "New chat").await.unwrap();
    let m1 = message(Role::User, "hello");
    let mut m2 = message(Role::Assistant, "");
    m2.status = MessageStatus::Streaming;
    store.insert_message(&s, &m1).await.unwrap();
    store.insert_message(&s, &m2).await.unwrap();
    let call = ToolCallRequest {
        id: ToolCallId::new(),
        wire_id: None,
        name: "fs_list".into(),
        arguments: "{}".into(),
    };
    store
        .update_message(
            &m2.id,
            "hi there",
            std::slice::from_ref(&call),
            MessageStatus::Complete,
            None,
        )
        .await
        .unwrap();
    let record = ToolCallRecord {
        images: Vec::new(),
        id: call.id.clone(),
        message: Some(m2.id.clone()),
        tool: "fs_list".into(),
        kind: None,
        arguments: "{}".into(),
        status: ToolStatus::Running,
        output: String::new(),
        log: String::new(),
    };
    store.save_tool_call(Some(&s), &record).await.unwrap();
    let done = ToolCallRecord {
        status: ToolStatus::Succeeded,
        output: "a.txt".into(),
        ..record
    };
    store.save_tool_call(Some(&s), &done).await.unwrap();

    let messages = store.messages(&s).await.unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0], m1);
    assert_eq!(messages[1].content, "hi there");
    assert_eq!(messages[1].tool_calls, vec![call]);
    // Both in one query, as a turn and a loaded session read them.
    assert_eq!(
        store.conversation(&s).await.unwrap(),
        (messages, vec![done])
    );

    let renamed = store.touch_session(&s, Some("Greeting")).await.unwrap();
    assert_eq!(renamed.unwrap().title, "Greeting");
    assert!(store.delete_session(&s).await.unwrap());
    assert!(store.messages(&s).await.unwrap().is_empty());
    assert!(store.conversation(&s).await.unwrap().1.is_empty());
    assert!(!store.delete_session(&s).await.unwrap());
}

/// A user message is stored and its session touched in one write (with the row of the answer
/// to come when given), on disk too; a session that does not exist gives no summary and the
/// message is still kept.
#[tokio::test]
async fn a_user_message_is_stored_with_its_session_touched() {
    let (_dir, url) = on_disk();
    let store = Store::open(&url).await.unwrap();
    let s = SessionId::new();
    let created = store.create_session(&s, "New chat").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let m = message(Role::User, "hello");
    let summary = store.add_user_message(&s, &m, None).await.unwrap().unwrap();
    assert_eq!(summary.id, s);
    assert_eq!(summary.title, "New chat");
    assert!(summary.updated_at > created.updated_at, "{summary:?}");
    assert_eq!(store.session(&s).await.unwrap().unwrap(), summary);
    assert_eq!(store.messages(&s).await.unwrap(), vec![m.clone()]);
    assert_eq!(store.list_sessions().await.unwrap()[0].id, s);

    // With the row of the answer to come, in the same write.
    let again = message(Role::User, "and again");
    let mut answer = message(Role::Assistant, "");
    answer.status = MessageStatus::Streaming;
    let later = store
        .add_user_message(&s, &again, Some(&answer))
        .await
        .unwrap()
        .unwrap();
    assert!(later.updated_at > summary.updated_at, "{later:?}");
    assert_eq!(
        store.messages(&s).await.unwrap(),
        vec![m, again, answer.clone()]
    );
    store.delete_message(&answer.id).await.unwrap();
    assert_eq!(store.messages(&s).await.unwrap().len(), 2);

    let gone = SessionId::new();
    let lost = message(Role::User, "to nobody");
    assert_eq!(
        store.add_user_message(&gone, &lost, None).await.unwrap(),
        None
    );
    assert_eq!(store.messages(&gone).await.unwrap(), vec![lost]);
}

/// A streaming answer is written without being indexed; the history search finds it once
/// it is final, or, when a crash left it streaming, once the store is opened again.
#[tokio::test]
async fn history_search_gets_an_answer_once_it_is_final_or_recovered() {
    let (dir, url) = on_disk();
    let store = Store::open(&url).await.unwrap();
    let s = SessionId::new();
    store.create_session(&s, "New chat").await.unwrap();
    let finished = message(Role::Assistant, "");
    let left = message(Role::Assistant, "");
    for m in [&finished, &left] {
        store.insert_message(&s, m).await.unwrap();
    }
    let found = async |store: &Store, word: &str| -> Vec<Option<MessageId>> {
        let hits = store.search(word, 10).await.unwrap();
        hits.into_iter().map(|h| h.message).collect()
    };
    store
        .update_message(
            &finished.id,
            "partial zebra",
            &[],
            MessageStatus::Streaming,
            None,
        )
        .await
        .unwrap();
    store
        .update_message(
            &left.id,
            "partial okapi",
            &[],
            MessageStatus::Streaming,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store.messages(&s).await.unwrap()[0].content,
        "partial zebra"
    );
    assert!(found(&store, "zebra").await.is_empty());
    store
        .update_message(
            &finished.id,
            "whole zebra",
            &[],
            MessageStatus::Complete,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        found(&store, "zebra").await,
        vec![Some(finished.id.clone())]
    );
    assert!(found(&store, "okapi").await.is_empty());

    // The app is killed while `left` streams; its next start recovers it.
    drop(store);
    wait_closed(Some(dir.path().join("db").join("LOCK"))).await;
    let store = Store::open(&url).await.unwrap();
    store.recover_interrupted().await.unwrap();
    let messages = store.messages(&s).await.unwrap();
    let recovered = messages.iter().find(|m| m.id == left.id).unwrap();
    assert_eq!(recovered.status, MessageStatus::Cancelled);
    assert_eq!(recovered.content, "partial okapi");
    assert_eq!(found(&store, "okapi").await, vec![Some(left.id.clone())]);
    assert_eq!(
        found(&store, "zebra").await,
        vec![Some(finished.id.clone())]
    );
}

/// A session this process made or found is known to exist without a query; a deleted one
/// is not, and one made by an earlier run is found in the store.
#[tokio::test]
async fn sessions_are_known_to_exist_until_deleted() {
    let (dir, url) = on_disk();
    let store = Store::open(&url).await.unwrap();
    let (kept, gone) = (SessionId::new(), SessionId::new());
    store.create_session(&kept, "Kept").await.unwrap();
    store.create_session(&gone, "Gone").await.unwrap();
    assert!(store.session_exists(&kept).await.unwrap());
    assert!(store.session_exists(&gone).await.unwrap());
    assert!(!store.session_exists(&SessionId::new()).await.unwrap());
    assert!(store.delete_session(&gone).await.unwrap());
    assert!(!store.session_exists(&gone).await.unwrap());

    drop(store);
    wait_closed(Some(dir.path().join("db").join("LOCK"))).await;
    let store = Store::open(&url).await.unwrap();
    assert!(store.session_exists(&kept).await.unwrap());
    assert!(!store.session_exists(&gone).await.unwrap());
}

#[tokio::test]
async fn sessions_list_newest_first_and_policies_persist() {
    let store = Store::open("mem://").await.unwrap();
    let a = SessionId::new();
    let b = SessionId::new();
    store.create_session(&a, "a").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.create_session(&b, "b").await.unwrap();
    let ids: Vec<_> = store
        .list_sessions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![b.clone(), a.clone()]);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.touch_session(&a, None).await.unwrap();
    let first = store.list_sessions().await.unwrap()[0].id.clone();
    assert_eq!(first, a);

    store.set_policy("fs_write", Policy::Allow).await.unwrap();
    store.set_policy("fs_write", Policy::Deny).await.unwrap();
    let policies = store.policies().await.unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies.get("fs_write"), Some(&Policy::Deny));
}

#[tokio::test]
async fn on_disk_store_survives_reopen_and_refuses_newer_schema() {
    let (dir, url) = on_disk();
    let s = SessionId::new();
    {
        let store = Store::open(&url).await.unwrap();
        store.create_session(&s, "kept").await.unwrap();
        store
            .insert_message(&s, &message(Role::User, "remember me"))
            .await
            .unwrap();
    }
    {
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.session(&s).await.unwrap().unwrap().title, "kept");
        assert_eq!(store.messages(&s).await.unwrap()[0].content, "remember me");
        assert_eq!(store.search("remember", 5).await.unwrap().len(), 1);
    }
    // The search index is derived: gone (or left dirty by a crash), it is built again.
    std::fs::remove_dir_all(dir.path().join("db-search")).unwrap();
    {
        let store = Store::open(&url).await.unwrap();
        let hits = store.search("remember", 5).await.unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].session_title, "kept");
        store
            .force_schema_version(SCHEMA_VERSION + 1)
            .await
            .unwrap();
    }
    let err = Store::open(&url).await.unwrap_err();
    assert!(matches!(err, MemoryError::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("update Aetheria"));
}

/// A database written before attached files were kept apart (schema 6) has them moved out of
/// the messages' text when it is opened: the text is what the person wrote, the files are
/// attachments, the history search still finds their words, and a text that only looks like an
/// attachment stays as it was.
#[tokio::test]
async fn attached_files_written_inline_move_out_of_the_text() {
    let (dir, url) = on_disk();
    let s = SessionId::new();
    let old = "see these\n\n<attachment name=\"a.txt\">\nthe okapi lives here\n</attachment>\n\n<attachment name=\"b.md\">\n# b\n\nmore\n</attachment>";
    let typed = "a note about \n\n<attachment name=\"x\"> written by hand";
    let (first, second) = (message(Role::User, old), message(Role::User, typed));
    {
        let store = Store::open(&url).await.unwrap();
        store.create_session(&s, "old").await.unwrap();
        store.insert_message(&s, &first).await.unwrap();
        store.insert_message(&s, &second).await.unwrap();
        store.force_schema_version(6).await.unwrap();
    }
    // The index is built again from the moved rows.
    std::fs::remove_dir_all(dir.path().join("db-search")).unwrap();
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    let messages = store.messages(&s).await.unwrap();
    assert_eq!(messages[0].content, "see these");
    assert_eq!(
        messages[0].attachments,
        vec![
            crate::api::Attachment {
                name: "a.txt".into(),
                text: "the okapi lives here".into()
            },
            crate::api::Attachment {
                name: "b.md".into(),
                text: "# b\n\nmore".into()
            },
        ]
    );
    assert_eq!(messages[1].content, typed);
    assert!(messages[1].attachments.is_empty());
    let hits = store.search("okapi", 5).await.unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    // Again: nothing changes.
    store.move_attachments().await.unwrap();
    assert_eq!(store.messages(&s).await.unwrap(), messages);
}
