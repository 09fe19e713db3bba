//! The editable settings and the keychain (the work is in `crate::settings`).

use crate::api::{ErrorInfo, Event, SettingsCommand};

use super::Cx;

pub(super) async fn handle(cx: Cx, command: SettingsCommand) -> Result<(), ErrorInfo> {
    let Cx { shared, out } = &cx;
    match command {
        SettingsCommand::Get => out.emit(Event::Settings {
            settings: crate::settings::current(shared),
        }),
        SettingsCommand::Save { settings } => {
            let settings = crate::settings::save(shared, settings).await?;
            out.emit(Event::SettingsSaved { settings });
        }
        SettingsCommand::StoreKey { provider, key } => {
            crate::settings::store_key(shared, &provider, key).await?;
            out.emit(Event::KeyStored { provider });
        }
        SettingsCommand::TestProvider { provider } => {
            out.emit(crate::settings::test(shared, provider).await);
        }
    }
    Ok(())
}
