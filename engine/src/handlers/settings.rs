//! The editable settings and the keychain (the work is in `crate::settings`).

use crate::api::{ErrorInfo, Event, SettingsCommand};

use super::Cx;

pub(super) async fn handle(cx: Cx, command: SettingsCommand) -> Result<(), ErrorInfo> {
    let Cx { services, out } = &cx;
    match command {
        SettingsCommand::Get => out.emit(Event::Settings {
            settings: crate::settings::current(services),
        }),
        SettingsCommand::Save { settings } => {
            let settings = crate::settings::save(services, settings).await?;
            out.emit(Event::SettingsSaved { settings });
        }
        SettingsCommand::StoreKey { provider, key } => {
            crate::settings::store_key(services, &provider, key).await?;
            out.emit(Event::KeyStored { provider });
        }
        SettingsCommand::TestProvider { provider } => {
            out.emit(crate::settings::test(services, provider).await);
        }
    }
    Ok(())
}
