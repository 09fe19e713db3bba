//! Signing in to the services the tools work with — GitHub (device flow or a personal token),
//! Google Drive (OAuth in the browser), Vercel (a token) — for every front end alike: the token goes
//! to the keychain, the service's settings are saved with its tools on, and signing out forgets the
//! token and turns the tools off while keeping the rest of its settings.

use std::time::Duration;

use crate::api::{Account, AccountService, ErrorInfo, ErrorKind, Event, Secret, SignInStep};
use crate::config::Config;
use crate::outbox::Outbox;
use crate::services::Services;
use crate::tool::builtin::sign_in::SignInError;

/// How long Google's consent page may stay open before the sign-in gives up.
const BROWSER_WAIT: Duration = Duration::from_secs(300);

/// Sign-ins waiting for the person, by service.
pub(crate) type SignIns = crate::stoppable::Stoppable<AccountService>;

/// The keychain account of a service's token, as configured (or by default).
fn token_account(config: &Config, service: AccountService) -> String {
    match service {
        AccountService::Github => config.github.clone().unwrap_or_default().token_ref,
        AccountService::Drive => config.drive.clone().unwrap_or_default().token_ref,
        AccountService::Vercel => config.vercel.clone().unwrap_or_default().token_ref,
    }
}

/// Whether the service's tools are on, and the client id its browser sign-in uses.
fn configured(config: &Config, service: AccountService) -> (bool, Option<String>) {
    match service {
        AccountService::Github => config
            .github
            .as_ref()
            .map_or((false, None), |c| (c.enabled, c.client_id.clone())),
        AccountService::Drive => config
            .drive
            .as_ref()
            .map_or((false, None), |c| (c.enabled, c.client_id.clone())),
        AccountService::Vercel => config
            .vercel
            .as_ref()
            .map_or((false, None), |c| (c.enabled, None)),
    }
}

/// Where every service stands.
pub(crate) async fn status(services: &Services) -> Event {
    let config = services.config();
    let mut accounts = Vec::new();
    for service in AccountService::ALL {
        let (tools_on, client_id) = configured(&config, service);
        let (signed_in, problem) = match services
            .secrets
            .load(&token_account(&config, service))
            .await
        {
            Ok(token) => (token.is_some(), None),
            Err(e) => (false, Some(e.to_string())),
        };
        accounts.push(Account {
            service,
            signed_in,
            tools_on,
            client_id,
            signing_in: services.sign_ins.is_running(&service),
            problem,
        });
    }
    Event::Accounts { accounts }
}

fn failed(services: &Services, e: &SignInError) -> ErrorInfo {
    services.error(e.kind(), e.to_string())
}

fn stopped(service: AccountService) -> ErrorInfo {
    ErrorInfo::new(
        ErrorKind::Cancelled,
        format!("the sign-in to {} was stopped", service.label()),
    )
}

/// A client id given with the command, checked; else the configured one.
fn client_id(
    given: Option<String>,
    configured: Option<String>,
) -> Result<Option<String>, ErrorInfo> {
    let Some(id) = given
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
    else {
        return Ok(configured);
    };
    if id.len() > 200 || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ErrorInfo::new(
            ErrorKind::Invalid,
            "a client id is up to 200 visible ASCII characters (letters, digits, dots, dashes)",
        ));
    }
    Ok(Some(id))
}

/// Signs in through the browser, telling `out` what the person has to do; then saves the
/// service's settings with its tools on. A later sign-in of the same service stops this one.
pub(crate) async fn sign_in(
    services: &Services,
    out: &Outbox,
    service: AccountService,
    given_client_id: Option<String>,
) -> Result<(), ErrorInfo> {
    let running = services.sign_ins.replace(&service);
    let stop = running.stop.clone();
    let config = services.config();
    match service {
        AccountService::Github => {
            let mut github = config.github.clone().unwrap_or_default();
            github.client_id = client_id(given_client_id, github.client_id)?;
            let code = tokio::select! {
                code = crate::github::device::start(&github) => code.map_err(|e| failed(services, &e))?,
                () = stop.cancelled() => return Err(stopped(service)),
            };
            out.emit(Event::SignInStarted {
                service,
                step: SignInStep::EnterCode {
                    user_code: code.user_code.clone(),
                    verification_uri: code.verification_uri.clone(),
                    expires_in: code.expires_in,
                },
            });
            tokio::select! {
                done = crate::github::device::finish(&github, &code, &services.secrets) => {
                    done.map_err(|e| failed(services, &e))?;
                }
                () = stop.cancelled() => return Err(stopped(service)),
            }
            github.enabled = true;
            save(services, move |c| c.github = Some(github)).await?;
        }
        AccountService::Drive => {
            let mut drive = config.drive.clone().unwrap_or_default();
            drive.client_id = client_id(given_client_id, drive.client_id)?;
            let pending = crate::drive::start(&drive)
                .await
                .map_err(|e| failed(services, &e))?;
            out.emit(Event::SignInStarted {
                service,
                step: SignInStep::OpenBrowser {
                    url: pending.auth_url.clone(),
                },
            });
            tokio::select! {
                done = pending.finish(&services.secrets, BROWSER_WAIT) => {
                    done.map_err(|e| failed(services, &e))?;
                }
                () = stop.cancelled() => return Err(stopped(service)),
            }
            drive.enabled = true;
            save(services, move |c| c.drive = Some(drive)).await?;
        }
        AccountService::Vercel => {
            return Err(ErrorInfo::new(
                ErrorKind::Invalid,
                "Vercel signs in with a token: make one at vercel.com/account/tokens and paste it",
            ));
        }
    }
    drop(running);
    out.emit(status(services).await);
    Ok(())
}

/// Keeps a token the person made and turns the service's tools on.
pub(crate) async fn set_token(
    services: &Services,
    service: AccountService,
    token: &Secret,
) -> Result<(), ErrorInfo> {
    let token = token.expose().trim();
    if !service.takes_token() {
        return Err(ErrorInfo::new(
            ErrorKind::Invalid,
            "Google Drive signs in through the browser only",
        ));
    }
    if token.is_empty() || token.len() > 4096 || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ErrorInfo::new(
            ErrorKind::Invalid,
            "a token is one line of visible ASCII characters (up to 4096); nothing was stored",
        ));
    }
    let config = services.config();
    services
        .secrets
        .save(&token_account(&config, service), token.to_owned())
        .await
        .map_err(|e| services.error(ErrorKind::Auth, e.to_string()))?;
    match service {
        AccountService::Github => {
            let mut github = config.github.unwrap_or_default();
            github.enabled = true;
            save(services, move |c| c.github = Some(github)).await
        }
        AccountService::Vercel => {
            let mut vercel = config.vercel.unwrap_or_default();
            vercel.enabled = true;
            save(services, move |c| c.vercel = Some(vercel)).await
        }
        AccountService::Drive => Ok(()),
    }
}

/// Forgets the service's token and turns its tools off; its other settings stay.
pub(crate) async fn sign_out(
    services: &Services,
    service: AccountService,
) -> Result<(), ErrorInfo> {
    services.sign_ins.stop(&service);
    let account = token_account(&services.config(), service);
    let secrets = services.secrets.clone();
    tokio::task::spawn_blocking(move || secrets.delete(&account))
        .await
        .map_err(|e| ErrorInfo::new(ErrorKind::Internal, e.to_string()))?
        .map_err(|e| services.error(ErrorKind::Auth, e.to_string()))?;
    save(services, move |c| {
        let on = match service {
            AccountService::Github => c.github.as_mut().map(|g| &mut g.enabled),
            AccountService::Drive => c.drive.as_mut().map(|d| &mut d.enabled),
            AccountService::Vercel => c.vercel.as_mut().map(|v| &mut v.enabled),
        };
        if let Some(on) = on {
            *on = false;
        }
    })
    .await
}

async fn save(
    services: &Services,
    change: impl FnOnce(&mut Config) + Send,
) -> Result<(), ErrorInfo> {
    services
        .change_config(change)
        .await
        .map_err(|e| ErrorInfo::new(ErrorKind::Storage, e.to_string()))
}
