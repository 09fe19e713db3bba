//! Boots Aetheria: the window when run without arguments, otherwise a command-line command.

use std::process::ExitCode;

use aetheria_app::cli::{Cli, Run};
use clap::Parser;

fn main() -> ExitCode {
    init_logging();
    match Cli::parse().into_run() {
        Run::Window => match aetheria_app::app::App::run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: the window could not open: {e}");
                ExitCode::FAILURE
            }
        },
        Run::Command(cli) => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(cli.execute()) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Logs go to stderr, filtered by `AETHERIA_LOG` (default: warnings). Secrets never reach them.
fn init_logging() {
    // surrealkv's tree warns from its Drop that it cannot close again after SurrealDB's shutdown
    // has already flushed and closed it (the engine waits for that close): not worth a warning.
    let filter = tracing_subscriber::EnvFilter::try_from_env("AETHERIA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,surrealkv::lsm=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
