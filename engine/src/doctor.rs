//! `aetheria doctor`: checks what Aetheria depends on — config, database, keychain, the model
//! provider, Docker and Redis — and says for each how to fix it.

use std::time::Duration;

use fred::prelude::{ClientLike, Config as RedisConfig};
use serde::Serialize;

use crate::config::{Config, ProviderConfig};
use crate::secrets::Secrets;
use crate::store::Store;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Works.
    Ok,
    /// Works in part, or optional and missing.
    Warn,
    /// Broken.
    Fail,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// How it came out.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, when something is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(name: &str, status: Status, detail: impl Into<String>, fix: Option<&str>) -> Self {
        Self {
            name: name.to_owned(),
            status,
            detail: detail.into(),
            fix: fix.map(str::to_owned),
        }
    }
}

/// Runs every check (each with its own time limit).
pub async fn run(config: &Config) -> Vec<Check> {
    let mut checks = vec![Check::new(
        "config",
        Status::Ok,
        format!(
            "{}",
            config.config_dir.join(crate::config::CONFIG_FILE).display()
        ),
        None,
    )];
    checks.extend(host_and_database(config).await);
    checks.push(keychain().await);
    checks.push(provider(config).await);
    checks.push(docker().await);
    checks.push(sandbox(config).await);
    checks.push(redis(config).await);
    checks.push(voice(config));
    checks
}

/// Dictation needs a speech model; reading aloud needs a synthesiser.
fn voice(config: &Config) -> Check {
    let dir = crate::voice::models::dir(&config.data_dir);
    match crate::voice::models::resolve(&dir, &config.voice.model) {
        Ok(path) => {
            let speech = if crate::voice::sound::synthesiser().is_some() {
                "; answers can be read aloud".to_owned()
            } else {
                format!(
                    "; reading answers aloud needs espeak-ng: {}",
                    crate::platform::espeak_fix()
                )
            };
            Check::new(
                "voice",
                Status::Ok,
                format!("speech model {}{speech}", path.display()),
                None,
            )
        }
        Err(e) => Check::new(
            "voice",
            Status::Warn,
            e.message,
            Some(&format!(
                "dictation needs a speech model: `aetheria voice models add {}` (75 MB), or Settings → Voice",
                if config.voice.model.is_empty() {
                    "tiny.en"
                } else {
                    &config.voice.model
                }
            )),
        ),
    }
}

/// Which process hosts the data folder's engine; the database is opened here only when none does
/// (holding the host lock meanwhile, so no process starts hosting halfway through).
async fn host_and_database(config: &Config) -> Vec<Check> {
    let endpoint = match crate::host::endpoint_path(&config.data_dir) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            return vec![
                Check::new("host", Status::Fail, e.to_string(), None),
                database(config).await,
            ];
        }
    };
    match crate::host::connect(&endpoint, "doctor").await {
        Ok(client) => {
            let opened = client.into_opened();
            let host = opened.host.clone();
            if opened.handle.submit(crate::api::Command::Shutdown).is_ok() {
                let mut events = opened.events;
                while events.recv().await.is_some() {}
            }
            let url = crate::secrets::shown_url(&config.memory_url());
            vec![
                Check::new(
                    "host",
                    Status::Ok,
                    format!(
                        "{} (pid {}) hosts {} since {}, on {}; {} other clients connected",
                        host.kind,
                        host.pid,
                        host.data_dir.display(),
                        host.since.format("%Y-%m-%d %H:%M:%S UTC"),
                        endpoint.display(),
                        host.clients.saturating_sub(1)
                    ),
                    None,
                ),
                Check::new(
                    "database",
                    Status::Ok,
                    format!("{url}: open in the host"),
                    None,
                ),
            ]
        }
        Err(crate::host::ConnectError::NoHost(_)) => {
            let lock = crate::host::try_lock(&config.data_dir);
            let host = Check::new(
                "host",
                Status::Ok,
                "no process hosts this data folder; the next window or command will (`aetheria serve` keeps one running)",
                None,
            );
            let database = database(config).await;
            drop(lock);
            vec![host, database]
        }
        Err(e) => vec![Check::new(
            "host",
            Status::Fail,
            e.to_string(),
            Some("close the Aetheria that runs (it may be another version), then try again"),
        )],
    }
}

async fn database(config: &Config) -> Check {
    let url = crate::secrets::shown_url(&config.memory_url());
    match tokio::time::timeout(
        Duration::from_secs(20),
        Store::open_configured(config, &crate::secrets::Secrets::new()),
    )
    .await
    {
        Ok(Ok(store)) => {
            // Closed before the process exits, so the store's background tasks end cleanly.
            let lock_file = store.lock_file();
            drop(store);
            crate::store::wait_closed(lock_file).await;
            match config.memory_warning() {
                Some(warning) => Check::new(
                    "database",
                    Status::Warn,
                    warning,
                    Some("put the server behind TLS (wss://) or reach it over a tunnel"),
                ),
                None => Check::new(
                    "database",
                    Status::Ok,
                    format!("{url} (schema {})", crate::store::SCHEMA_VERSION),
                    None,
                ),
            }
        }
        Ok(Err(e)) => Check::new(
            "database",
            Status::Fail,
            e.to_string(),
            Some("close other Aetheria windows; check the data folder's permissions"),
        ),
        Err(_) => Check::new(
            "database",
            Status::Fail,
            format!("{url} did not open within 20 s"),
            Some("check the memory.url setting"),
        ),
    }
}

async fn keychain() -> Check {
    match tokio::task::spawn_blocking(Secrets::status).await {
        Ok(Ok(())) => Check::new("keychain", Status::Ok, "the OS keychain answers", None),
        Ok(Err(e)) => Check::new(
            "keychain",
            Status::Warn,
            e.to_string(),
            Some(crate::platform::keychain_fix()),
        ),
        Err(e) => Check::new("keychain", Status::Fail, e.to_string(), None),
    }
}

async fn provider(config: &Config) -> Check {
    let Some(p) = config.effective_provider() else {
        return Check::new(
            "provider",
            Status::Fail,
            "no model provider is configured and no local model is installed",
            Some(
                "install a local model with `aetheria models add FILE-OR-URL` (works offline), add a [[providers]] entry to config.toml (see the README), or pass --base-url and --model to `aetheria ask`",
            ),
        );
    };
    check_provider(&p, &Secrets::new(), config).await
}

/// Looks up the provider's key (env var, else keychain) and asks the provider for its models; for
/// the local wire, checks the model file is installed.
pub(crate) async fn check_provider(
    p: &ProviderConfig,
    secrets: &Secrets,
    config: &Config,
) -> Check {
    if p.wire == crate::config::Wire::Local {
        let dir = crate::offline::models_dir(&config.data_dir);
        return match crate::offline::store::resolve(&dir, &p.model) {
            Ok(path) => Check::new(
                &format!("provider {}", p.name),
                Status::Ok,
                format!("local model {} ({}), runs offline", p.model, path.display()),
                None,
            ),
            Err(e) => Check::new(
                &format!("provider {}", p.name),
                Status::Fail,
                e.to_string(),
                Some("install it with `aetheria models add FILE-OR-URL`"),
            ),
        };
    }
    let key = crate::provider::lookup_key(p, secrets, Duration::from_secs(10))
        .await
        .ok()
        .flatten();
    reach(p, key).await
}

/// Asks the provider for its model list (`GET {base_url}/models`).
async fn reach(p: &ProviderConfig, key: Option<String>) -> Check {
    let name = format!("provider {}", p.name);
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Check::new(&name, Status::Fail, e.to_string(), None),
    };
    let url = format!("{}/models", p.base_url.trim_end_matches('/'));
    let request = crate::provider::http::authorize(client.get(&url), p.wire, key.as_deref());
    let key_note = if key.is_some() { "key found" } else { "no key" };
    match request.send().await {
        Ok(r) if r.status().is_success() => Check::new(
            &name,
            Status::Ok,
            format!("{} answers ({key_note}); model {}", p.base_url, p.model),
            None,
        ),
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => Check::new(
            &name,
            Status::Fail,
            format!(
                "{} refused the request ({}; {key_note})",
                p.base_url,
                r.status()
            ),
            Some(&format!(
                "set a key: `aetheria auth set {}` or the {} environment variable",
                p.name,
                p.key_env_var()
            )),
        ),
        Ok(r) => Check::new(
            &name,
            Status::Warn,
            format!(
                "{} answered {} to GET /models ({key_note}); chat may still work",
                p.base_url,
                r.status()
            ),
            None,
        ),
        Err(e) => Check::new(
            &name,
            Status::Fail,
            format!("cannot reach {}: {e}", p.base_url),
            Some("start the local server or check the base_url and your network"),
        ),
    }
}

async fn docker() -> Check {
    match tokio::time::timeout(Duration::from_secs(10), aetheria_sandbox::docker_info()).await {
        Ok(Ok(info)) => Check::new(
            "docker",
            Status::Ok,
            format!("Docker {} (API {})", info.version, info.api_version),
            None,
        ),
        Ok(Err(e)) => Check::new(
            "docker",
            Status::Warn,
            e.to_string(),
            Some(crate::platform::docker_fix()),
        ),
        Err(_) => Check::new(
            "docker",
            Status::Warn,
            "the Docker engine did not answer within 10 s",
            Some("check DOCKER_HOST"),
        ),
    }
}

/// Which sandbox would run code, and whether its image exists.
async fn sandbox(config: &Config) -> Check {
    let sandboxes = crate::sandboxes::Sandboxes::new(config.sandbox.clone());
    match tokio::time::timeout(Duration::from_secs(15), sandboxes.status()).await {
        Ok(status) if status.ready => Check::new(
            "sandbox",
            Status::Ok,
            format!(
                "{} ({}); image {} is ready",
                status.backend.as_deref().unwrap_or("none"),
                status.detail,
                status.image
            ),
            None,
        ),
        Ok(status) => Check::new(
            "sandbox",
            Status::Fail,
            format!(
                "backend: {}; image {} missing: {}",
                status.backend.as_deref().unwrap_or("none"),
                status.image,
                status.detail
            ),
            Some(&crate::platform::sandbox_image_fix()),
        ),
        Err(_) => Check::new(
            "sandbox",
            Status::Fail,
            "the sandbox backend did not answer within 15 s",
            Some("check DOCKER_HOST, or set sandbox.backend = \"bubblewrap\""),
        ),
    }
}

async fn redis(config: &Config) -> Check {
    let Some(url) = &config.redis_url else {
        return Check::new(
            "redis",
            Status::Ok,
            "not configured (optional: background jobs use the embedded queue)",
            None,
        );
    };
    match tokio::time::timeout(Duration::from_secs(5), ping_redis(url)).await {
        Ok(Ok(pong)) => Check::new("redis", Status::Ok, format!("{url} answers {pong}"), None),
        Ok(Err(e)) => Check::new(
            "redis",
            Status::Fail,
            format!("{url}: {e}"),
            Some("start redis-server or fix redis_url"),
        ),
        Err(_) => Check::new(
            "redis",
            Status::Fail,
            format!("{url} did not answer within 5 s"),
            Some("start redis-server or fix redis_url"),
        ),
    }
}

async fn ping_redis(url: &str) -> Result<String, fred::error::Error> {
    let client = fred::clients::Client::new(RedisConfig::from_url(url)?, None, None, None);
    client.init().await?;
    let pong: String = client.ping(None).await?;
    let _ = client.quit().await;
    Ok(pong)
}
