//! Signing in to GitHub, Google Drive and Vercel (the work is in `crate::accounts`).

use crate::api::{AccountsCommand, ErrorInfo, ErrorKind};

use super::Cx;

pub(super) async fn handle(cx: Cx, command: AccountsCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    match command {
        AccountsCommand::Status => {}
        AccountsCommand::SignIn { service, client_id } => {
            return crate::accounts::sign_in(services, out, service, client_id).await;
        }
        AccountsCommand::SetToken { service, token } => {
            crate::accounts::set_token(services, service, &token).await?;
        }
        AccountsCommand::SignOut { service } => {
            crate::accounts::sign_out(services, service).await?;
        }
        AccountsCommand::CancelSignIn { service } => {
            if !services.sign_ins.stop(&service) {
                return Err(ErrorInfo::new(
                    ErrorKind::Missing,
                    format!("no sign-in to {} is waiting", service.label()),
                ));
            }
        }
    }
    out.emit(crate::accounts::status(services).await);
    Ok(())
}
