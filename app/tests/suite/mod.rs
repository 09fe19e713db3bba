mod cli;
mod common;
mod crash;
mod gui;
mod layering;
mod models;
mod sandbox;
