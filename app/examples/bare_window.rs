//! The baseline of the whole-app budgets (`app/benches/whole_app`): a bare iced window built with the
//! app's iced (same features, renderer and fonts), the app's default size and colours, and one line
//! of text in its middle, as the app's first frame. `cargo run -p aetheria --example bare_window`.

#![allow(clippy::expect_used)]

use aetheria_app::theme::{self, Mode, Palette};
use iced::widget::{center, container, text};
use iced::{Element, Fill};

fn main() {
    let mut app = iced::application(|| (), |(): &mut (), (): ()| {}, view)
        .title("bare")
        .theme(|_: &()| Palette::of(Mode::Light).theme(Mode::Light))
        .window(iced::window::Settings {
            size: iced::Size::new(1180.0, 760.0),
            ..iced::window::Settings::default()
        })
        .default_font(theme::BODY);
    for font in theme::FONTS {
        app = app.font(font);
    }
    app.run().expect("the bare window runs");
}

fn view(_: &()) -> Element<'_, ()> {
    let p = Palette::of(Mode::Light);
    container(center(
        text("Starting Aetheria…").font(theme::BOLD).size(20),
    ))
    .width(Fill)
    .height(Fill)
    .style(move |_| theme::flat(&p, p.paper))
    .into()
}
