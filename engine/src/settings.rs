//! Settings the person edits while the app runs: read them, save them (validated, written to
//! `config.toml`, applied at once), store a provider's key in the keychain, test a provider, and
//! find model servers already running on this machine.

use std::time::Duration;

use crate::api::{ErrorInfo, ErrorKind, Event, Secret, Settings};
use crate::config::{ProviderConfig, Wire};
use crate::services::Services;
use crate::tool::workspace::Workspace;

/// Usual local ports of model servers that speak the OpenAI wire.
const LOCAL_SERVERS: [(&str, u16); 3] = [("ollama", 11434), ("lmstudio", 1234), ("llamacpp", 8080)];

/// The editable part of the configuration.
pub(crate) fn current(services: &Services) -> Settings {
    let config = services.config();
    Settings {
        default_provider: config.default_provider,
        providers: config.providers,
        workspace_roots: config.workspace_roots,
        max_steps: config.max_steps,
        tool_policies: config.tools.policy,
        mcp_servers: config.mcp,
        voice: config.voice,
        jobs_allow: config.jobs.allow,
    }
}

/// Validates, saves and applies new settings; on any error nothing changes.
pub(crate) async fn save(services: &Services, settings: Settings) -> Result<Settings, ErrorInfo> {
    let invalid = |message: String| ErrorInfo::new(ErrorKind::Invalid, message);
    let _writing = services.config_writes().await;
    let mut config = services.config();
    config.default_provider = settings.default_provider;
    config.providers = settings.providers;
    config.workspace_roots = settings.workspace_roots;
    config.max_steps = settings.max_steps;
    config.tools.policy = settings.tool_policies;
    config.mcp = settings.mcp_servers;
    config.voice = settings.voice;
    config.jobs.allow = settings.jobs_allow;
    config.validate().map_err(|e| invalid(e.to_string()))?;
    for root in &config.workspace_roots {
        if !root.is_dir() {
            return Err(invalid(format!("{} is not a folder", root.display())));
        }
    }
    let roots = config.workspace_roots.clone();
    let workspace = tokio::task::spawn_blocking(move || Workspace::open(&roots))
        .await
        .map_err(|e| ErrorInfo::new(ErrorKind::Internal, e.to_string()))?
        .map_err(|e| invalid(e.to_string()))?;
    let to_save = config.clone();
    tokio::task::spawn_blocking(move || to_save.save())
        .await
        .map_err(|e| ErrorInfo::new(ErrorKind::Internal, e.to_string()))?
        .map_err(|e| ErrorInfo::new(ErrorKind::Storage, e.to_string()))?;
    services.apply(config, workspace).await;
    Ok(current(services))
}

/// Stores a key in the keychain under the provider's account.
pub(crate) async fn store_key(
    services: &Services,
    provider: &str,
    key: Secret,
) -> Result<(), ErrorInfo> {
    let account = services.config().key_account_of(provider);
    let secrets = services.secrets.clone();
    tokio::task::spawn_blocking(move || secrets.set(&account, key.expose()))
        .await
        .map_err(|e| ErrorInfo::new(ErrorKind::Internal, e.to_string()))?
        .map_err(|e| services.error(ErrorKind::Auth, e.to_string()))?;
    // The next turn reads the new key (the embeddings endpoint's too, whichever account it uses).
    services.forget_client().await;
    services.embeddings.forget_key();
    Ok(())
}

/// Asks the provider for its model list with its key.
pub(crate) async fn test(services: &Services, provider: ProviderConfig) -> Event {
    let check =
        crate::doctor::check_provider(&provider, &services.secrets, &services.config()).await;
    let mut detail = check.detail;
    if let Some(fix) = check.fix {
        detail.push_str(". ");
        detail.push_str(&fix);
    }
    Event::ProviderTested {
        provider: provider.name,
        ok: check.status == crate::doctor::Status::Ok,
        detail: services.redact(&detail),
    }
}

/// The models a provider offers, with capabilities.
pub(crate) async fn models(
    services: &Services,
    provider: ProviderConfig,
) -> Result<Event, ErrorInfo> {
    if provider.wire == Wire::Local {
        let dir = crate::offline::models_dir(&services.config().data_dir);
        let installed = tokio::task::spawn_blocking(move || crate::offline::store::list(&dir))
            .await
            .map_err(|e| ErrorInfo::new(ErrorKind::Internal, e.to_string()))?
            .map_err(|e| ErrorInfo::new(e.kind(), e.to_string()))?;
        let models = installed
            .into_iter()
            .map(|m| crate::api::ModelInfo {
                display_name: if m.display_name.is_empty() {
                    m.name.clone()
                } else {
                    m.display_name
                },
                id: m.name,
                context_window: m.context_length,
                // The tool-call grammar makes every local model call tools.
                tools: true,
                vision: false,
            })
            .collect();
        return Ok(Event::ModelList {
            provider: provider.name,
            models,
        });
    }
    let key = crate::provider::lookup_key(&provider, &services.secrets, Duration::from_secs(10))
        .await
        .ok()
        .flatten();
    let models = crate::provider::catalog::list(&provider, key.as_deref())
        .await
        .map_err(|e| services.error(e.to_info().kind, e.to_string()))?;
    Ok(Event::ModelList {
        provider: provider.name,
        models,
    })
}

/// Probes the usual local ports; each server that lists models becomes a provider suggestion.
pub(crate) async fn detect() -> Event {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(1500))
        .build();
    let Ok(client) = client else {
        return Event::LocalServers { found: Vec::new() };
    };
    let probes = LOCAL_SERVERS.iter().map(|(name, port)| {
        let client = client.clone();
        async move {
            let base_url = format!("http://127.0.0.1:{port}/v1");
            let response = client.get(format!("{base_url}/models")).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let text = crate::body::text_within(response, crate::body::MAX_API, name)
                .await
                .ok()?;
            let body: serde_json::Value = serde_json::from_str(&text).ok()?;
            let model = body
                .pointer("/data/0/id")
                .and_then(serde_json::Value::as_str)?
                .to_owned();
            Some(ProviderConfig {
                name: (*name).to_owned(),
                wire: Wire::Openai,
                base_url,
                model,
                key_env: None,
                key_ref: None,
                context_window: None,
                vision: None,
            })
        }
    });
    let found = futures::future::join_all(probes)
        .await
        .into_iter()
        .flatten()
        .collect();
    Event::LocalServers { found }
}
