//! Why signing in to a service (Google Drive's OAuth, GitHub's device flow) failed, sorted by what
//! the person can do about it.

use crate::api::ErrorKind;
use crate::body::TooLarge;
use crate::secrets::SecretsError;

/// A sign-in that did not end signed in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// Aetheria is not set up for it (no client id, a URL that is not one): fix the settings.
    #[error("{0}")]
    Setup(String),
    /// Not signed in, or the kept sign-in expired or is damaged: sign in again.
    #[error("{0}")]
    SignedOut(String),
    /// The person declined, or did not finish in time: start again.
    #[error("{0}")]
    Declined(String),
    /// The service could not be reached, refused, or answered something unexpected.
    #[error("{0}")]
    Service(String),
    /// The keychain did not keep or give the token.
    #[error(transparent)]
    Keychain(#[from] SecretsError),
    /// Something on this machine failed (no randomness, no loopback listener).
    #[error("{0}")]
    Local(String),
}

impl SignInError {
    /// How front ends treat it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Setup(_) => ErrorKind::Config,
            Self::SignedOut(_) | Self::Declined(_) | Self::Keychain(_) => ErrorKind::Auth,
            Self::Service(_) => ErrorKind::Unavailable,
            Self::Local(_) => ErrorKind::Internal,
        }
    }
}

impl From<TooLarge> for SignInError {
    fn from(e: TooLarge) -> Self {
        Self::Service(e.to_string())
    }
}
