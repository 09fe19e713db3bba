//! The sandbox's integration tests against a real Docker engine and real bubblewrap: what every
//! backend must do, Docker's hardening and image import, and the attack suite on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
