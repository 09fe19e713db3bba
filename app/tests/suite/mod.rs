mod cli;
mod common;
mod crash;
mod gui;
mod gui_recall;
mod layering;
mod models;
mod sandbox;
