//! The settings screen's smaller sections and the widgets they share: workspace folders, appearance, the sandbox, the tools' policies, and the caption, button and panel
//! shapes of every section.

use iced::widget::{button, column, container, row, slider, text};
use iced::{Element, Length};

use super::Msg;
use crate::theme::{self, BOLD, ButtonKind, Mode, Palette};

pub(super) fn appearance<'a>(p: Palette, mode: Mode, font_size: f32) -> Element<'a, Msg> {
    let theme_button = |caption: &'static str, which: Mode| {
        button(text(caption).font(BOLD).size(13))
            .padding([6, 10])
            .style(theme::button(
                p,
                ButtonKind::Item {
                    selected: mode == which,
                },
            ))
            .on_press(Msg::Theme(which))
    };
    column![
        section("APPEARANCE"),
        row![
            theme_button("Light", Mode::Light),
            theme_button("God Mode", Mode::GodMode)
        ]
        .spacing(8),
        row![
            text(format!("Text size {font_size:.0}"))
                .size(13)
                .width(Length::Fixed(110.0)),
            slider(12.0..=22.0, font_size, Msg::FontSize).step(1.0),
        ]
        .spacing(8)
        .align_y(iced::Center),
    ]
    .spacing(8)
    .into()
}

pub(super) fn section<M>(caption: &str) -> Element<'_, M> {
    text(caption).font(BOLD).size(12).into()
}

pub(super) fn panel<'a>(p: Palette, content: Element<'a, Msg>) -> Element<'a, Msg> {
    container(content)
        .padding(24)
        .width(Length::Fixed(720.0))
        .height(Length::Fixed(640.0))
        .style(move |_| theme::block(&p, p.surface))
        .into()
}
