mod common;
mod keychain;
mod persistence;
mod sessions;
mod tools;
mod turns;
