//! Input that does not come from a widget: the window's keyboard shortcuts, the termination
//! signals that close it as gracefully as its close button, and the system's file dialog.

use std::path::PathBuf;

use aetheria_engine::api::Decision;

use super::{Action, Message};

/// SIGTERM (logout, `kill`) and SIGHUP close the window like its close button: the engine stops,
/// sandboxes are removed and the database is closed before the process exits.
pub(super) fn termination() -> impl futures::Stream<Item = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let hup = signal(SignalKind::hangup()).ok();
        futures::stream::unfold((term, hup), |(mut term, mut hup)| async move {
            tokio::select! {
                Some(()) = async { term.as_mut()?.recv().await } => Some(((), (term, hup))),
                Some(()) = async { hup.as_mut()?.recv().await } => Some(((), (term, hup))),
                else => None,
            }
        })
    }
    #[cfg(not(unix))]
    futures::stream::pending()
}

/// How long after an approval prompt appears Enter does not answer it: an Enter typed for the
/// message the person was writing must not approve what just popped up.
pub(super) const ENTER_GRACE: std::time::Duration = std::time::Duration::from_millis(1000);

/// Whether an Enter pressed `at` answers the prompt shown `since`.
pub(super) fn enter_answers(since: Option<std::time::Instant>, at: std::time::Instant) -> bool {
    since.is_some_and(|since| at.saturating_duration_since(since) >= ENTER_GRACE)
}

/// The window's shortcuts. While an approval waits, Enter allows once (after `ENTER_GRACE`) and
/// Escape denies; while the command palette is open, the arrows move its choice.
pub(super) fn shortcut(
    key: &iced::keyboard::Key,
    modifiers: iced::keyboard::Modifiers,
    asking: bool,
    palette: bool,
) -> Option<Message> {
    use super::palette::PaletteMsg;
    use iced::keyboard::{Key, key::Named};
    match key.as_ref() {
        Key::Named(Named::ArrowUp) if palette && !asking => {
            Some(Message::Palette(PaletteMsg::Move(-1)))
        }
        Key::Named(Named::ArrowDown) if palette && !asking => {
            Some(Message::Palette(PaletteMsg::Move(1)))
        }
        Key::Named(Named::Enter) if asking => Some(Message::Approval(
            super::approvals::Msg::Enter(std::time::Instant::now()),
        )),
        Key::Named(Named::Escape) if asking => {
            Some(Message::Approval(super::approvals::Msg::Answer {
                decision: Decision::Deny,
                remember: false,
                scope: None,
            }))
        }
        Key::Named(Named::Escape) => Some(Message::Do(Action::Escape)),
        Key::Named(Named::Tab) if !asking && !modifiers.command() && !modifiers.alt() => {
            Some(Message::Do(Action::MoveFocus(!modifiers.shift())))
        }
        Key::Named(Named::ArrowUp) if !asking && modifiers.is_empty() => {
            Some(Message::Sidebar(super::sidebar::Msg::Move(-1)))
        }
        Key::Named(Named::ArrowDown) if !asking && modifiers.is_empty() => {
            Some(Message::Sidebar(super::sidebar::Msg::Move(1)))
        }
        Key::Character(c) if modifiers.command() => match c.to_ascii_lowercase().as_str() {
            "n" if !modifiers.shift() => Some(Message::Do(Action::NewChat)),
            "k" if !modifiers.shift() => Some(Message::Sidebar(super::sidebar::Msg::Focus)),
            "c" if modifiers.shift() => Some(Message::Conversation(
                super::conversation::Msg::CopyLastAnswer,
            )),
            "," => Some(Message::Do(Action::OpenSettings)),
            "d" if modifiers.shift() => Some(Message::Do(Action::ToggleTheme)),
            "p" if modifiers.shift() && !asking => Some(Message::Do(Action::OpenPalette)),
            _ => None,
        },
        _ => None,
    }
}

/// Opens the system file dialog (the XDG portal on Linux); nothing when it is cancelled or missing.
pub(super) async fn pick_files() -> Vec<PathBuf> {
    rfd::AsyncFileDialog::new()
        .set_title("Attach files")
        .pick_files()
        .await
        .unwrap_or_default()
        .iter()
        .map(|f| f.path().to_path_buf())
        .collect()
}

#[cfg(test)]
mod tests {
    use iced::keyboard::{Key, Modifiers, key::Named};

    use super::*;

    #[test]
    fn shortcuts() {
        use super::super::approvals::Msg as Approval;
        use super::super::palette::PaletteMsg;
        use super::super::sidebar::Msg as Sidebar;
        let none = Modifiers::empty();
        let (ctrl, ctrl_shift) = (Modifiers::CTRL, Modifiers::CTRL | Modifiers::SHIFT);
        let key = |k: &str| Key::Character(k.into());
        let named = Key::Named;
        let got = |k: Key, m, asking| shortcut(&k, m, asking, false);
        assert!(matches!(
            got(key("n"), ctrl, false),
            Some(Message::Do(Action::NewChat))
        ));
        assert!(matches!(
            got(key("k"), ctrl, false),
            Some(Message::Sidebar(Sidebar::Focus))
        ));
        assert!(matches!(
            got(key(","), ctrl, false),
            Some(Message::Do(Action::OpenSettings))
        ));
        assert!(matches!(
            got(key("C"), ctrl_shift, false),
            Some(Message::Conversation(
                super::super::conversation::Msg::CopyLastAnswer
            ))
        ));
        assert!(matches!(
            got(key("P"), ctrl_shift, false),
            Some(Message::Do(Action::OpenPalette))
        ));
        assert!(matches!(
            got(named(Named::Escape), none, false),
            Some(Message::Do(Action::Escape))
        ));
        assert!(matches!(
            got(named(Named::Escape), none, true),
            Some(Message::Approval(Approval::Answer {
                decision: Decision::Deny,
                remember: false,
                scope: None
            }))
        ));
        assert!(matches!(
            got(named(Named::Enter), none, true),
            Some(Message::Approval(Approval::Enter(_)))
        ));
        assert!(matches!(
            got(named(Named::ArrowDown), none, false),
            Some(Message::Sidebar(Sidebar::Move(1)))
        ));
        assert!(matches!(
            got(named(Named::ArrowUp), none, false),
            Some(Message::Sidebar(Sidebar::Move(-1)))
        ));
        assert!(matches!(
            got(named(Named::Tab), none, false),
            Some(Message::Do(Action::MoveFocus(true)))
        ));
        assert!(matches!(
            got(named(Named::Tab), Modifiers::SHIFT, false),
            Some(Message::Do(Action::MoveFocus(false)))
        ));
        // While an approval waits, Tab does not move the cursor away from it; Alt+Tab is the
        // system's.
        assert!(got(named(Named::Tab), none, true).is_none());
        assert!(got(named(Named::Tab), Modifiers::ALT, false).is_none());
        assert!(got(named(Named::Enter), none, false).is_none());
        assert!(got(key("n"), none, false).is_none());
        // With the palette open the arrows choose in it, not among the conversations.
        let palette = |k| shortcut(&Key::Named(k), none, false, true);
        assert!(matches!(
            palette(Named::ArrowDown),
            Some(Message::Palette(PaletteMsg::Move(1)))
        ));
        assert!(matches!(
            palette(Named::ArrowUp),
            Some(Message::Palette(PaletteMsg::Move(-1)))
        ));
        assert!(matches!(
            palette(Named::Escape),
            Some(Message::Do(Action::Escape))
        ));
    }

    #[test]
    fn enter_answers_a_prompt_only_after_the_grace() {
        let shown = std::time::Instant::now();
        assert!(!enter_answers(None, shown));
        assert!(!enter_answers(Some(shown), shown));
        assert!(!enter_answers(Some(shown), shown + ENTER_GRACE / 2));
        assert!(enter_answers(Some(shown), shown + ENTER_GRACE));
        // A clock read before the prompt appeared never answers it.
        assert!(!enter_answers(Some(shown + ENTER_GRACE), shown));
    }
}
