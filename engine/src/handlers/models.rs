//! Models: what a provider offers, model servers on this machine, and the installed local models.

use crate::api::{ErrorInfo, Event, ModelsCommand};
use crate::offline::store;

use super::Cx;

pub(super) async fn handle(cx: Cx, command: ModelsCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    let dir = crate::offline::models_dir(&services.config().data_dir);
    let failed = |e: crate::offline::LocalError| ErrorInfo::new(e.kind(), e.to_string());
    match command {
        ModelsCommand::List { provider } => {
            out.emit(crate::settings::models(services, provider).await?);
        }
        ModelsCommand::DetectLocalServers => out.emit(crate::settings::detect().await),
        ModelsCommand::ListLocal => {
            let models = store::list(&dir).map_err(failed)?;
            out.emit(Event::LocalModels { models });
        }
        ModelsCommand::AddLocal {
            source,
            name,
            sha256,
        } => {
            let events = out.clone();
            let from = source.clone();
            let mut progress = move |done, total| {
                events.emit(Event::LocalModelProgress {
                    source: from.clone(),
                    done,
                    total,
                });
            };
            let model = store::add(
                &dir,
                &source,
                name.as_deref(),
                sha256.as_deref(),
                &mut progress,
            )
            .await
            .map_err(failed)?;
            // The offline default may be this model now.
            services.forget_client().await;
            out.emit(Event::LocalModelAdded { model });
        }
        ModelsCommand::RemoveLocal { name } => {
            store::remove(&dir, &name).map_err(failed)?;
            services.forget_client().await;
            out.emit(Event::LocalModelRemoved { name });
        }
    }
    Ok(())
}
