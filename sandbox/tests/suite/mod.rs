mod behaviour;
mod common;
mod docker;
mod security;
