//! Boots Aetheria: the window when run without arguments, otherwise a command-line command.

use std::process::ExitCode;

use aetheria_app::cli::{Cli, Run};
use clap::Parser;

fn main() -> ExitCode {
    // While this is the only thread: the built-in model's kernels size their pool from it.
    let threads = aetheria_engine::config::Config::load().map_or_else(
        |_| aetheria_engine::config::LocalConfig::default().threads(),
        |config| config.local.threads(),
    );
    aetheria_engine::size_model_threads(threads);
    init_logging();
    match Cli::parse().into_run() {
        Run::Window => {
            let detached = aetheria_app::console::let_go_of_own_console();
            match aetheria_app::app::App::run() {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let message = format!("The window could not open: {e}");
                    eprintln!("error: {message}");
                    if detached {
                        // No console shows stderr: the person sees why in a dialog instead.
                        rfd::MessageDialog::new()
                            .set_level(rfd::MessageLevel::Error)
                            .set_title("Aetheria")
                            .set_description(message)
                            .show();
                    }
                    ExitCode::FAILURE
                }
            }
        }
        Run::Command(cli) => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            // On a thread with the stack a Linux main thread has (8 MiB): Windows gives its main
            // thread 1 MiB, too little for a debug build's command futures (`doctor` overflowed
            // it under Wine once it also asked who hosts the data folder).
            let command = std::thread::Builder::new()
                .name("aetheria-command".into())
                .stack_size(COMMAND_STACK)
                .spawn(move || runtime.block_on(cli.execute()));
            let done = match command {
                Ok(thread) => thread.join(),
                Err(e) => {
                    eprintln!("error: cannot start the command's thread: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match done {
                Ok(Ok(code)) => code,
                Ok(Err(e)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
                Err(_) => ExitCode::FAILURE,
            }
        }
    }
}

/// The stack of the thread a command runs on.
const COMMAND_STACK: usize = 8 << 20;

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
