//! The engine's integration tests: full turns through the public API against a loopback server
//! that speaks OpenAI's streaming wire, with a real SurrealDB (in memory and on disk).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
