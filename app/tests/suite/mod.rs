mod cli;
mod common;
mod crash;
mod export;
mod gui;
mod gui_images;
mod gui_mcp;
mod gui_notify;
mod gui_recall;
mod gui_voice;
mod host;
mod jobs;
mod layering;
mod models;
mod sandbox;
#[cfg(target_os = "linux")]
mod service;
mod voice;
