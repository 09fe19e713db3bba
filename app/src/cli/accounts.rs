//! `aetheria auth github|drive|vercel|signout|accounts`: signing in to the services the tools use,
//! through the engine's Accounts commands — the same path the window's Accounts section takes, so
//! an engine hosted by the window sees the new token at once.

use std::process::ExitCode;

use aetheria_engine::api::{
    Account, AccountService, AccountsCommand, Command, Event, Secret, SignInStep,
};

use super::CliError;
use super::ask::shutdown;
use super::manage::{answer, request, start};
use crate::visible::for_terminal;

/// Signs in through the browser: prints the code or page (and opens the browser), then waits.
pub(super) async fn sign_in(
    service: AccountService,
    client_id: Option<String>,
) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let id = handle.submit(Command::Accounts(AccountsCommand::SignIn {
        service,
        client_id,
    }))?;
    let outcome = loop {
        match answer(&mut events, id).await {
            Some(Event::SignInStarted { step, .. }) => show(&step),
            Some(Event::Accounts { accounts }) => break Ok(accounts),
            Some(Event::CommandFailed { error, .. }) => break Err(CliError::new(error.message)),
            Some(_) => {}
            None => break Err(CliError::new("the engine stopped unexpectedly")),
        }
    };
    shutdown(&handle, events).await;
    print_accounts(&outcome?);
    println!(
        "signed in to {}; the token is in the OS keychain and its tools are on",
        service.label()
    );
    Ok(ExitCode::SUCCESS)
}

fn show(step: &SignInStep) {
    let url = match step {
        SignInStep::EnterCode {
            user_code,
            verification_uri,
            expires_in,
        } => {
            println!(
                "Open {} and enter the code {} (it expires in {} minutes)…",
                for_terminal(verification_uri),
                for_terminal(user_code),
                expires_in.div_ceil(60)
            );
            verification_uri
        }
        SignInStep::OpenBrowser { url } => {
            println!("Sign in in your browser: {}", for_terminal(url));
            url
        }
    };
    if let Err(e) = open::that_detached(url) {
        println!("(the browser did not open by itself: {e}; open the address above)");
    }
}

/// Keeps a token read from stdin (never echoed) for GitHub or Vercel.
pub(super) async fn set_token(service: AccountService) -> Result<ExitCode, CliError> {
    let token = super::manage::read_secret(&format!("token for {} (not shown)", service.label()))?;
    account_command(Command::Accounts(AccountsCommand::SetToken {
        service,
        token: Secret::new(token),
    }))
    .await
}

/// Forgets a service's token and turns its tools off.
pub(super) async fn sign_out(service: AccountService) -> Result<ExitCode, CliError> {
    account_command(Command::Accounts(AccountsCommand::SignOut { service })).await
}

/// Where each service stands.
pub(super) async fn status() -> Result<ExitCode, CliError> {
    account_command(Command::Accounts(AccountsCommand::Status)).await
}

async fn account_command(command: Command) -> Result<ExitCode, CliError> {
    let (handle, mut events) = start().await?;
    let answer = request(&handle, &mut events, command, |e| {
        matches!(e, Event::Accounts { .. })
    })
    .await;
    shutdown(&handle, events).await;
    if let Event::Accounts { accounts } = answer? {
        print_accounts(&accounts);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_accounts(accounts: &[Account]) {
    for a in accounts {
        let state = match (&a.problem, a.signed_in) {
            (Some(problem), _) => for_terminal(problem),
            (None, true) => "signed in".into(),
            (None, false) => "signed out".into(),
        };
        println!(
            "{:<13} {:<11} tools {}",
            a.service.label(),
            state,
            if a.tools_on { "on" } else { "off" }
        );
    }
}
