//! `aetheria service install|uninstall|status`: the terminal's way to the login service of
//! [`crate::service`].

use std::process::ExitCode;

use super::CliError;
use crate::service::{Installed, Service};

pub(super) fn install() -> Result<ExitCode, CliError> {
    let service = Service::of_this_program()?;
    let installed = service.install()?;
    println!("wrote {}", service.path.display());
    match installed {
        Installed::Running => {
            println!("the engine now starts at login (`aetheria serve`), and runs now");
            Ok(ExitCode::SUCCESS)
        }
        Installed::Written { why, how } => Err(CliError::new(format!(
            "the service manager did not take it ({why}); in a session that has one, run: {how}"
        ))),
    }
}

pub(super) fn uninstall() -> Result<ExitCode, CliError> {
    let service = Service::of_this_program()?;
    if !service.installed() {
        println!(
            "no service is installed ({} is absent)",
            service.path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let said = service.uninstall()?;
    println!("removed {}", service.path.display());
    if let Some(why) = said {
        eprintln!("(the service manager said: {why})");
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn status() -> Result<ExitCode, CliError> {
    let service = Service::of_this_program()?;
    if service.installed() {
        println!("installed: {}", service.path.display());
    } else {
        println!("not installed ({} is absent)", service.path.display());
    }
    Ok(ExitCode::SUCCESS)
}
