//! Secrets live only in the OS keychain (keyring): API keys and tokens are read from it when needed,
//! never written to the database, config files or logs; text that leaves the engine is redacted.

use std::sync::{Arc, RwLock};

/// The keychain service all of Aetheria's entries use.
pub const SERVICE: &str = "aetheria";

/// Why the keychain could not be used.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// No keychain answers (e.g. no Secret Service on the session bus).
    #[error(
        "the OS keychain is not available ({0}); on Linux start a Secret Service such as gnome-keyring, or set the key in the provider's environment variable"
    )]
    Unavailable(String),
    /// The keychain answered with an error.
    #[error("the OS keychain failed: {0}")]
    Failed(String),
}

fn map_err(e: keyring::Error) -> SecretsError {
    match e {
        keyring::Error::NoDefaultStore | keyring::Error::NoStorageAccess(_) => {
            SecretsError::Unavailable(e.to_string())
        }
        keyring::Error::PlatformFailure(_) => SecretsError::Unavailable(e.to_string()),
        other => SecretsError::Failed(other.to_string()),
    }
}

/// The keychain, plus a redactor that learns every secret it hands out.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    redactor: Redactor,
}

impl Secrets {
    /// A keychain accessor.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The redactor that knows every secret read so far.
    #[must_use]
    pub fn redactor(&self) -> Redactor {
        self.redactor.clone()
    }

    /// Whether the keychain answers. Blocking: call from a blocking context.
    pub fn status() -> Result<(), SecretsError> {
        match keyring::Entry::store_status() {
            Ok(()) => Ok(()),
            Err(e) => Err(SecretsError::Unavailable(e.to_string())),
        }
    }

    /// Reads a secret; `None` when there is no entry. Blocking.
    pub fn get(&self, account: &str) -> Result<Option<String>, SecretsError> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(map_err)?;
        match entry.get_password() {
            Ok(secret) => {
                self.redactor.learn(&secret);
                Ok(Some(secret))
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    /// Stores a secret, replacing any earlier one. Blocking.
    pub fn set(&self, account: &str, secret: &str) -> Result<(), SecretsError> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(map_err)?;
        self.redactor.learn(secret);
        entry.set_password(secret).map_err(map_err)
    }

    /// Deletes a secret; `false` when there was none. Blocking.
    pub fn delete(&self, account: &str) -> Result<bool, SecretsError> {
        let entry = keyring::Entry::new(SERVICE, account).map_err(map_err)?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_err(e)),
        }
    }
}

/// Replaces known secret values in text with `[REDACTED]`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    /// Remembers a secret to hide (values shorter than 8 characters are too common to replace).
    pub fn learn(&self, secret: &str) {
        let secret = secret.trim();
        if secret.len() < 8 {
            return;
        }
        if let Ok(mut list) = self.secrets.write()
            && !list.iter().any(|s| s == secret)
        {
            list.push(secret.to_owned());
        }
    }

    /// The text with every known secret replaced.
    #[must_use]
    pub fn redact(&self, text: &str) -> String {
        let Ok(list) = self.secrets.read() else {
            return text.to_owned();
        };
        let mut out = text.to_owned();
        for secret in list.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[REDACTED]");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_learned_secrets_only() {
        let r = Redactor::default();
        r.learn("sk-test-1234567890");
        r.learn("short");
        assert_eq!(
            r.redact("Incorrect API key provided: sk-test-1234567890 (short)"),
            "Incorrect API key provided: [REDACTED] (short)"
        );
    }
}
