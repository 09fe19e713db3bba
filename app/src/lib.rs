//! Aetheria's front ends: the iced window and the command line, both driving the engine through its
//! one typed API.

pub mod app;
pub mod cli;
pub mod clipboard;
pub mod console;
pub mod engine_bridge;
pub mod export;
pub mod markdown;
pub mod service;
pub mod theme;
pub mod visible;
