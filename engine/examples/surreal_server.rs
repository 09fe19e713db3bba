//! A real SurrealDB server — the `surreal` binary's own code, from crates.io's `surrealdb-server`
//! (no SurrealDB release can be downloaded here) — for the tests of memory kept on a server:
//! `surreal_server start --bind 127.0.0.1:PORT --user root --pass PASS memory`.

fn main() -> std::process::ExitCode {
    surrealdb_server::init(surrealdb_server::core::CommunityComposer())
}
