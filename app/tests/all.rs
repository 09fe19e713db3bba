//! The app's integration tests: the CLI contract run as a real process against a loopback provider,
//! crash safety under SIGKILL, and the window driven through iced_test's simulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
