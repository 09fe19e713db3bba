mod code;
mod common;
mod keychain;
mod persistence;
mod sessions;
mod settings;
mod tools;
mod turns;
