//! Secrets live only in the OS keychain (keyring): API keys and tokens are read from it when needed,
//! never written to the database, config files or logs; text that leaves the engine is redacted.

use std::sync::{Arc, LazyLock, RwLock};

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

    /// [`Secrets::get`] on a blocking thread, for async code (the Secret Service is a D-Bus call).
    pub async fn load(&self, account: &str) -> Result<Option<String>, SecretsError> {
        let (secrets, account) = (self.clone(), account.to_owned());
        off_thread(move || secrets.get(&account)).await
    }

    /// [`Secrets::set`] on a blocking thread, for async code.
    pub async fn save(&self, account: &str, secret: String) -> Result<(), SecretsError> {
        let (secrets, account) = (self.clone(), account.to_owned());
        off_thread(move || secrets.set(&account, &secret)).await
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

/// Runs a keychain call on a blocking thread; a call whose thread stopped is a keychain failure.
async fn off_thread<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, SecretsError> + Send + 'static,
) -> Result<T, SecretsError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| SecretsError::Failed(format!("the keychain call stopped: {e}")))?
}

/// Shapes of well-known keys and tokens, redacted even when the keychain never handed them out
/// (a key pasted into a file, printed by a program, or echoed by a server).
static PATTERNS: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(concat!(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        r"|\b(?:sk|rk|pk)-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{20,}",
        r"|\bgh[pousr]_[A-Za-z0-9]{30,}",
        r"|\bgithub_pat_[A-Za-z0-9_]{30,}",
        r"|\bglpat-[A-Za-z0-9_\-]{20,}",
        r"|\bxox[abposr]-[A-Za-z0-9\-]{10,}",
        r"|\bAKIA[0-9A-Z]{16}\b",
        r"|\bAIza[0-9A-Za-z_\-]{35}",
        r"|\bya29\.[0-9A-Za-z_\-]{20,}",
        r"|\b1//0[0-9A-Za-z_\-]{30,}",
        r"|\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",
        r"|(?i:\bbearer\s+)[A-Za-z0-9._~+/\-]{20,}=*",
        // Stripe keys and webhook secrets, npm and Hugging Face tokens, Slack webhooks.
        r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
        r"|\bwhsec_[A-Za-z0-9]{20,}",
        r"|\bnpm_[A-Za-z0-9]{36}\b",
        r"|\bhf_[A-Za-z0-9]{30,}",
        r"|https://hooks\.slack\.com/services/[A-Za-z0-9/_\-]{20,}",
        // An AWS secret access key where it is named (it has no shape of its own).
        r#"|(?i:aws_?secret_?access_?key|secretaccesskey)["']?\s*[=:]\s*["']?[A-Za-z0-9/+=]{40}"#,
    ))
    .ok()
});

/// The password of a URL (`scheme://user:password@host`): the password goes, the rest stays.
static URL_PASSWORD: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]*:)[^/\s@]+@").ok());

/// A URL as it may be printed or logged: without a user name or password, and otherwise as it
/// was written (a text the URL parser refuses loses what looks like a URL password).
#[must_use]
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_password(None);
            let _ = parsed.set_username("");
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        Err(_) => match URL_PASSWORD.as_ref() {
            Some(pattern) => pattern.replace_all(url, "${1}[REDACTED]@").into_owned(),
            None => url.to_owned(),
        },
    }
}

/// Replaces secrets in text with `[REDACTED]`: every value learned from the keychain (or
/// configured), and anything shaped like a well-known key or token.
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
        let mut out = text.to_owned();
        if let Ok(list) = self.secrets.read() {
            for secret in list.iter() {
                if out.contains(secret.as_str()) {
                    out = out.replace(secret.as_str(), "[REDACTED]");
                }
            }
        }
        if let Some(urls) = URL_PASSWORD.as_ref()
            && urls.is_match(&out)
        {
            out = urls.replace_all(&out, "${1}[REDACTED]@").into_owned();
        }
        match PATTERNS.as_ref() {
            Some(patterns) if patterns.is_match(&out) => {
                patterns.replace_all(&out, "[REDACTED]").into_owned()
            }
            _ => out,
        }
    }

    /// Whether the text holds a secret.
    #[must_use]
    pub fn finds(&self, text: &str) -> bool {
        self.redact(text) != text
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

    #[test]
    fn redacts_well_known_token_shapes() {
        let r = Redactor::default();
        let planted = [
            "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
            "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
            "xoxb-123456789012-abcdefghijkl",
            "AKIAIOSFODNN7EXAMPLE",
            "AIzaSyA0123456789abcdefghijklmnopqrstuv",
            "ya29.a0AfH6SMBx0123456789abcdefghij",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "rk_test_51H0abcdefghijklmnop",
            "whsec_0123456789abcdefghijklmnop",
            "npm_0123456789abcdefghijklmnopqrstuvwxyz",
            "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
            "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ];
        for secret in planted {
            let text = format!("token={secret} end");
            assert_eq!(r.redact(&text), "token=[REDACTED] end", "{secret}");
            assert!(r.finds(&text));
        }
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----";
        assert_eq!(r.redact(&format!("key:\n{pem}\n")), "key:\n[REDACTED]\n");
        assert_eq!(
            r.redact("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345"),
            "Authorization: [REDACTED]"
        );
        assert_eq!(
            shown_url("redis://worker:s3cret@queue.lan:6380/2"),
            "redis://queue.lan:6380/2"
        );
        assert_eq!(shown_url("ws://127.0.0.1:8000"), "ws://127.0.0.1:8000");
        // A URL keeps all but its password.
        assert_eq!(
            r.redact("cloning https://bob:hunter2-secret@git.example.com/x.git"),
            "cloning https://bob:[REDACTED]@git.example.com/x.git"
        );
        assert_eq!(
            r.redact("redis://:s3cret@10.0.0.5:6379/0 is down"),
            "redis://:[REDACTED]@10.0.0.5:6379/0 is down"
        );
        // Ordinary text is left alone.
        for plain in [
            "risk-management-plan-for-2026-and-beyond",
            "task-1234",
            "the sky is blue",
            "https://example.com/a:b@c",
            "user@example.com",
        ] {
            assert_eq!(r.redact(plain), plain);
            assert!(!r.finds(plain));
        }
    }
}
