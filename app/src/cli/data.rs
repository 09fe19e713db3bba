//! `aetheria data`: where Aetheria keeps the person's config, history and models, and removing
//! them on request — uninstalling the app never does (packages leave the data folders alone).

use std::io::Write;
use std::process::ExitCode;

use aetheria_engine::config::Config;

use super::CliError;

/// `aetheria data path`.
pub(super) fn path() -> Result<ExitCode, CliError> {
    let (config, data) = Config::directories()?;
    println!("config: {}", config.display());
    println!("data:   {}", data.display());
    Ok(ExitCode::SUCCESS)
}

/// `aetheria data remove --yes`: deletes both folders (keys stay in the OS keychain until
/// `aetheria auth rm`).
pub(super) fn remove(yes: bool) -> Result<ExitCode, CliError> {
    let (config, data) = Config::directories()?;
    if !yes {
        return Err(CliError::new(format!(
            "this deletes {} and {} (settings, every conversation, memories, models); add --yes to do it",
            config.display(),
            data.display()
        )));
    }
    for dir in [&config, &data] {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => println!("removed {}", dir.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CliError::new(format!(
                    "cannot remove {}: {e}",
                    dir.display()
                )));
            }
        }
    }
    let _ = std::io::stdout().flush();
    println!("API keys stay in the OS keychain; `aetheria auth rm NAME` removes one");
    Ok(ExitCode::SUCCESS)
}
