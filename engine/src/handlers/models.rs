//! Models: what a provider offers, model servers on this machine, and the installed local models.

use std::path::Path;

use crate::api::{ErrorInfo, ErrorKind, Event, ModelsCommand};
use crate::offline::{LocalError, catalog, store};
use crate::services::Services;

use super::Cx;

pub(super) async fn handle(cx: Cx, command: ModelsCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    let dir = crate::offline::models_dir(&services.config().data_dir);
    let failed = |e: LocalError| ErrorInfo::new(e.kind(), e.to_string());
    match command {
        ModelsCommand::List { provider } => {
            out.emit(crate::settings::models(services, provider).await?);
        }
        ModelsCommand::DetectLocalServers => out.emit(crate::settings::detect().await),
        ModelsCommand::ListLocal => out.emit(local_models(services, &dir)?),
        ModelsCommand::AddLocal {
            source,
            name,
            sha256,
        } => {
            let name = name.unwrap_or_else(|| store::default_name(&source));
            install(&cx, &dir, &source, &name, sha256.as_deref()).await?;
        }
        ModelsCommand::InstallCatalog { name } => {
            let mirror = services.config().local.mirror;
            let model = catalog::find(&dir, mirror.as_deref(), &name).ok_or_else(|| {
                ErrorInfo::new(
                    ErrorKind::Missing,
                    format!("the catalogue has no model named {name:?}"),
                )
            })?;
            install(&cx, &dir, &model.url, &model.name, Some(&model.sha256)).await?;
        }
        ModelsCommand::CancelAdd { name } => {
            if !services.installs.stop(&name) {
                return Err(ErrorInfo::new(
                    ErrorKind::Missing,
                    format!("no install of {name:?} is under way"),
                ));
            }
            out.emit(Event::LocalModelCancelled { name });
        }
        ModelsCommand::Catalog => out.emit(Event::ModelCatalog {
            models: catalog::list(&dir, services.config().local.mirror.as_deref()),
        }),
        ModelsCommand::SetDefault { name } => {
            if let Some(name) = &name {
                let installed = store::list(&dir).map_err(failed)?;
                if !installed.iter().any(|m| &m.name == name) {
                    return Err(failed(LocalError::NotFound(name.clone())));
                }
            }
            // The next offline turn loads the chosen model.
            services
                .set_default_local_model(name)
                .await
                .map_err(|e| ErrorInfo::new(ErrorKind::Storage, e.to_string()))?;
            out.emit(local_models(services, &dir)?);
        }
        ModelsCommand::RemoveLocal { name } => {
            store::remove(&dir, &name).map_err(failed)?;
            services.forget_client().await;
            out.emit(Event::LocalModelRemoved { name });
            // Which model answers offline may have changed.
            out.emit(local_models(services, &dir)?);
        }
    }
    Ok(())
}

/// The installed models and which one answers offline.
fn local_models(services: &Services, dir: &Path) -> Result<Event, ErrorInfo> {
    let models = store::list(dir).map_err(|e| ErrorInfo::new(e.kind(), e.to_string()))?;
    let default =
        crate::offline::default_model(&services.config(), &models).map(|m| m.name.clone());
    Ok(Event::LocalModels { models, default })
}

/// Installs `source` as `name`, reporting progress, stoppable by `CancelAdd`.
async fn install(
    cx: &Cx,
    dir: &Path,
    source: &str,
    name: &str,
    sha256: Option<&str>,
) -> Result<(), ErrorInfo> {
    let Cx { services, out } = cx;
    let failed = |e: LocalError| ErrorInfo::new(e.kind(), e.to_string());
    let key = name.to_owned();
    let running = services.installs.begin(&key).ok_or_else(|| {
        failed(LocalError::Name(format!(
            "{name:?} is already being installed; wait for it or stop it"
        )))
    })?;
    let events = out.clone();
    let (from, installing) = (source.to_owned(), name.to_owned());
    let mut progress = move |done, total| {
        events.emit(Event::LocalModelProgress {
            source: from.clone(),
            name: installing.clone(),
            done,
            total,
        });
    };
    let model = store::add(dir, source, name, sha256, &mut progress, &running.stop)
        .await
        .map_err(failed)?;
    drop(running);
    // The offline default may be this model now.
    services.forget_client().await;
    out.emit(Event::LocalModelAdded { model });
    out.emit(local_models(services, dir)?);
    Ok(())
}
