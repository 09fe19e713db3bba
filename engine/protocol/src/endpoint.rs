//! What travels on the local endpoint of the process that hosts a data folder's engine: a client
//! says hello with its protocol version, the host welcomes it (or refuses, saying why), then
//! submissions go one way and envelopes the other. A frame is a 4-byte big-endian length and that
//! many bytes of JSON (measured against a compact binary form in the engine's `endpoint` bench:
//! JSON's cost is lost in the turn's own), and frames are bounded both ways.

use std::cell::Cell;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Envelope, Submission};

/// The largest frame a host reads from a client (a message with its attachments' paths, a
/// settings form); a larger one ends that connection with an error.
pub const MAX_CLIENT_FRAME: usize = 16 << 20;
/// The largest frame a client reads from its host (a session's whole history).
pub const MAX_HOST_FRAME: usize = 256 << 20;
/// A client numbers its submissions `(client << CLIENT_SHIFT) | n`, with the number its host gave
/// it, so submissions of different clients never share an id and one client cannot answer for
/// another; the hosting process's own front end is client 0.
pub const CLIENT_SHIFT: u32 = 32;

/// The client a submission id belongs to.
#[must_use]
pub fn client_of(id: crate::SubmissionId) -> u64 {
    id.0 >> CLIENT_SHIFT
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first frame: who connects, speaking which version.
    Hello {
        /// The client's `PROTOCOL_VERSION`.
        protocol: u32,
        /// What the client is (`window`, `ask`, `serve`…), shown by `aetheria doctor`.
        client: String,
        /// Its process id.
        pid: u32,
    },
    /// A command, numbered in the client's own range.
    Submit(Submission),
}

/// What a host sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "frame", rename_all = "snake_case")]
pub enum HostFrame {
    /// The answer to a good `Hello`.
    Welcome {
        /// The host's `PROTOCOL_VERSION`.
        protocol: u32,
        /// The client's number: its submission ids are `(client << CLIENT_SHIFT) | n`, n ≥ 1.
        client: u64,
        /// Who hosts.
        host: HostInfo,
    },
    /// The connection is not taken; the host closes it after this frame.
    Refused {
        /// Why, in a sentence.
        reason: String,
    },
    /// An event of the engine, for every client (each recognises its own submissions by number).
    Event(Envelope),
    /// A frame from this client that the host could not take (it says why); the connection stays
    /// open unless the frame could not even be delimited.
    Error {
        /// Why.
        message: String,
    },
}

/// The process hosting a data folder's engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Its process id.
    pub pid: u32,
    /// What it is (`window`, `serve`, `ask`…).
    pub kind: String,
    /// The data folder it hosts.
    pub data_dir: PathBuf,
    /// Since when.
    pub since: DateTime<Utc>,
    /// How many clients are connected to it (this one included; not its own front end).
    pub clients: usize,
}

thread_local! {
    static EXPOSE: Cell<bool> = const { Cell::new(false) };
}

/// Whether a `Secret` being serialised goes in clear (only within `encode_client`).
pub(crate) fn exposing_secrets() -> bool {
    EXPOSE.with(Cell::get)
}

/// A client's frame as JSON. A key the person stores (`SettingsCommand::StoreKey`) goes in clear
/// here, and only here: the endpoint is private to the user, and the key's way ends in the
/// keychain of the same user.
pub fn encode_client(frame: &ClientFrame) -> serde_json::Result<Vec<u8>> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPOSE.with(|e| e.set(false));
        }
    }
    EXPOSE.with(|e| e.set(true));
    let _reset = Reset;
    serde_json::to_vec(frame)
}

/// A host's frame as JSON.
pub fn encode_host(frame: &HostFrame) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Command, Secret, SettingsCommand, SubmissionId};

    #[test]
    fn a_stored_key_crosses_the_endpoint_and_nowhere_else() {
        let frame = ClientFrame::Submit(Submission {
            id: SubmissionId((3 << CLIENT_SHIFT) | 1),
            command: Command::Settings(SettingsCommand::StoreKey {
                provider: "openai".into(),
                key: Secret::new("sk-on-its-way"),
            }),
        });
        let wire = encode_client(&frame).unwrap();
        let back: ClientFrame = serde_json::from_slice(&wire).unwrap();
        assert_eq!(back, frame);
        assert!(String::from_utf8(wire).unwrap().contains("sk-on-its-way"));
        // Outside `encode_client`, redacted as before.
        assert!(!serde_json::to_string(&frame).unwrap().contains("sk-on"));
        assert!(!format!("{frame:?}").contains("sk-on"));
        let ClientFrame::Submit(submission) = back else {
            panic!("not a submission");
        };
        assert_eq!(client_of(submission.id), 3);
    }

    #[test]
    fn frames_are_tagged_json() {
        let hello = ClientFrame::Hello {
            protocol: crate::PROTOCOL_VERSION,
            client: "ask".into(),
            pid: 42,
        };
        assert_eq!(
            serde_json::to_value(&hello).unwrap(),
            serde_json::json!({"frame": "hello", "protocol": crate::PROTOCOL_VERSION, "client": "ask", "pid": 42})
        );
        let event = HostFrame::Event(Envelope {
            submission: Some(SubmissionId(7)),
            event: crate::Event::Lagged { missed: 3 },
        });
        let wire = encode_host(&event).unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&wire).unwrap(),
            serde_json::json!({"frame": "event", "submission": 7, "event": {"type": "lagged", "missed": 3}})
        );
        assert_eq!(serde_json::from_slice::<HostFrame>(&wire).unwrap(), event);
    }
}
