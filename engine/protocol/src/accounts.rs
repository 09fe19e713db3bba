//! API types of the services Aetheria signs in to for the person (GitHub, Google Drive, Vercel):
//! what a front end asks, and what it shows — whether each is signed in and its tools are on, and
//! the code or page a sign-in waits on.

use serde::{Deserialize, Serialize};

use crate::Secret;

/// A service Aetheria works with on the person's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountService {
    /// GitHub (or GitHub Enterprise): the device flow, or a personal access token.
    Github,
    /// Google Drive: OAuth in the browser with a loopback redirect.
    Drive,
    /// Vercel: a token made on vercel.com.
    Vercel,
}

impl AccountService {
    /// Every service, in the order front ends list them.
    pub const ALL: [Self; 3] = [Self::Github, Self::Drive, Self::Vercel];

    /// The name people know.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Github => "GitHub",
            Self::Drive => "Google Drive",
            Self::Vercel => "Vercel",
        }
    }

    /// Whether it signs in through the browser (else only with a token).
    #[must_use]
    pub fn browser_sign_in(self) -> bool {
        !matches!(self, Self::Vercel)
    }

    /// Whether a token the person pastes signs it in.
    #[must_use]
    pub fn takes_token(self) -> bool {
        !matches!(self, Self::Drive)
    }
}

/// Signing in and out. On the wire: `{"type": "accounts", "op": "sign_in", …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AccountsCommand {
    /// Where each service stands. Answered by `Accounts`.
    Status,
    /// Sign in through the browser: GitHub's device flow (answered first by `SignInStarted` with
    /// the code to enter) or Google's consent page (`SignInStarted` with the page to open). The
    /// token goes to the keychain and the service's tools turn on; answered then by `Accounts`,
    /// or `CommandFailed` (not set up, declined, expired, or stopped by `CancelSignIn`). A new
    /// sign-in of the same service stops the one waiting.
    SignIn {
        /// Which service.
        service: AccountService,
        /// The OAuth app's client id to use and keep (none: the configured one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// Keep a token the person made (a GitHub personal access token, a Vercel token) in the
    /// keychain and turn the service's tools on. Answered by `Accounts`, or `CommandFailed`.
    SetToken {
        /// Which service.
        service: AccountService,
        /// The token.
        token: Secret,
    },
    /// Forget the service's token and turn its tools off (its settings are kept for the next
    /// sign-in). Answered by `Accounts`.
    SignOut {
        /// Which service.
        service: AccountService,
    },
    /// Stop a sign-in that waits for the person. Answered by `Accounts` (the sign-in itself by
    /// `CommandFailed` with kind `cancelled`), or `CommandFailed` when none waits.
    CancelSignIn {
        /// Which service.
        service: AccountService,
    },
}

/// Where one service stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Which service.
    pub service: AccountService,
    /// The keychain holds its token.
    pub signed_in: bool,
    /// Its tools are offered to the model.
    pub tools_on: bool,
    /// The OAuth app's client id browser sign-in uses (none: it must be given first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A sign-in waits for the person.
    #[serde(default)]
    pub signing_in: bool,
    /// Why the status is unsure (the keychain could not be read), when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// What a started sign-in waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignInStep {
    /// Enter `user_code` at `verification_uri` (GitHub's device flow).
    EnterCode {
        /// The code to type.
        user_code: String,
        /// Where to type it.
        verification_uri: String,
        /// Seconds until the code expires.
        expires_in: u64,
    },
    /// Open `url` and consent; the browser comes back to the engine by itself.
    OpenBrowser {
        /// The consent page.
        url: String,
    },
}
