//! The command palette: Ctrl+Shift+P lists every action with its shortcut; typed words narrow it;
//! Enter runs the chosen one and closes it; Esc closes it without running anything.

use aetheria_app::app::{Action, Message, palette};
use aetheria_app::theme::Mode;
use aetheria_engine::config::Config;
use iced::keyboard::{Key, key::Named};
use iced::widget;
use iced_test::simulator;

use super::gui::shows;

#[tokio::test]
async fn the_palette_finds_an_action_by_its_words_and_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path().join("config"), dir.path().join("data"));
    let (mut app, _events) = super::gui::window_on(config).await;
    let _ = app.update(Message::Do(Action::OpenPalette));
    assert!(shows(&app, "COMMANDS"));
    for (name, keys) in [
        ("New chat", "Ctrl+N"),
        ("Settings", "Ctrl+,"),
        ("Switch light / God Mode", "Ctrl+Shift+D"),
        ("Export this conversation as HTML", ""),
    ] {
        assert!(shows(&app, name), "{name}");
        if !keys.is_empty() {
            assert!(shows(&app, keys), "{keys}");
        }
    }
    // Esc closes it, running nothing.
    let _ = app.update(Message::Do(Action::Escape));
    assert!(!shows(&app, "COMMANDS"));

    let _ = app.update(Message::Do(Action::OpenPalette));
    let before = app.palette();
    let mut ui = simulator(app.view());
    ui.click(widget::Id::new(palette::INPUT)).unwrap();
    let _ = ui.typewrite("god mode");
    let _ = ui.tap_key(Key::Named(Named::Enter));
    for message in ui.into_messages() {
        let _ = app.update(message);
    }
    assert!(!shows(&app, "COMMANDS"), "it closes once it ran the action");
    assert_ne!(app.palette(), before, "the theme switched");
    assert_eq!(
        app.palette(),
        aetheria_app::theme::Palette::of(Mode::GodMode)
    );
}
