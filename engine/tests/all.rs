//! The engine's integration tests: full turns through the public API against a loopback server
//! that speaks OpenAI's streaming wire, with a real SurrealDB (in memory and on disk).

mod suite;
