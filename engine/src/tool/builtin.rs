//! The tools Aetheria ships with.

pub(crate) mod code;
pub(crate) mod drive;
pub(crate) mod fs;
pub(crate) mod github;
pub(crate) mod memory;
pub(crate) mod vercel;
pub(crate) mod web;

use crate::secrets::Secrets;
use crate::tool::ToolError;

/// A service's token from the keychain; `missing` says how to get one.
pub(crate) async fn keychain_token(
    secrets: &Secrets,
    account: &str,
    missing: &str,
) -> Result<String, ToolError> {
    let secrets = secrets.clone();
    let acct = account.to_owned();
    tokio::task::spawn_blocking(move || secrets.get(&acct))
        .await
        .map_err(|e| ToolError::RespondToModel(format!("reading the keychain failed: {e}")))?
        .map_err(|e| ToolError::RespondToModel(e.to_string()))?
        .ok_or_else(|| ToolError::RespondToModel(missing.to_owned()))
}
