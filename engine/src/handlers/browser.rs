//! Watching the agent's browser and taking it over (the work is in the browser tools' module).

use crate::api::{BrowserCommand, ErrorInfo, Event};

use super::Cx;

pub(super) async fn handle(cx: Cx, command: BrowserCommand) -> Result<(), ErrorInfo> {
    let browsers = &cx.services.connectors.browsers;
    let (session, view) = match command {
        BrowserCommand::Watch { session, on } => {
            let view = browsers.watch(session.clone(), on).await;
            (session, view)
        }
        BrowserCommand::TakeOver { session } => {
            let view = browsers.take_over(session.clone()).await?;
            (session, view)
        }
        BrowserCommand::HandBack { session } => {
            let view = browsers.hand_back(session.clone()).await;
            (session, view)
        }
        BrowserCommand::Input { session, input } => {
            let view = browsers.input(session.clone(), input).await?;
            (session, view)
        }
    };
    cx.out.emit(Event::BrowserState { session, view });
    Ok(())
}
