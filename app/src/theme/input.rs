//! Text areas, single-line inputs and the model picker.

use iced::widget::{pick_list as picker, text_editor, text_input};
use iced::{Background, Border, Color, Theme};

use super::palette::Palette;
use super::{BORDER, border};

/// The frame of a field: one pixel heavier while it has the focus.
fn field_border(p: &Palette, focused: bool) -> Border {
    let frame = border(p);
    if focused {
        Border {
            width: BORDER + 1.0,
            ..frame
        }
    } else {
        frame
    }
}

/// The composer's text area.
pub fn editor(p: Palette) -> impl Fn(&Theme, text_editor::Status) -> text_editor::Style {
    move |_theme, status| {
        let focused = matches!(status, text_editor::Status::Focused { .. });
        text_editor::Style {
            background: Background::Color(p.surface),
            border: field_border(&p, focused),
            placeholder: p.muted,
            value: p.ink,
            selection: Color { a: 0.5, ..p.accent },
        }
    }
}

/// The model picker.
pub fn pick_list(p: Palette) -> impl Fn(&Theme, picker::Status) -> picker::Style {
    move |_theme, status| picker::Style {
        text_color: p.ink,
        placeholder_color: p.muted,
        handle_color: p.ink,
        background: Background::Color(match status {
            picker::Status::Hovered | picker::Status::Opened { .. } => p.accent,
            picker::Status::Active => p.surface,
        }),
        border: border(&p),
    }
}

/// A single-line field at the size of the settings pages' forms, found by `id`.
pub fn field<'a, M: Clone + 'a>(
    p: Palette,
    id: &'static str,
    hint: &str,
    value: &str,
) -> text_input::TextInput<'a, M> {
    text_input(hint, value)
        .id(id)
        .size(13)
        .padding(6)
        .style(input(p))
}

/// Single-line inputs (search, rename).
pub fn input(p: Palette) -> impl Fn(&Theme, text_input::Status) -> text_input::Style {
    move |_theme, status| {
        let focused = matches!(status, text_input::Status::Focused { .. });
        text_input::Style {
            background: Background::Color(p.surface),
            border: field_border(&p, focused),
            icon: p.muted,
            placeholder: p.muted,
            value: p.ink,
            selection: Color { a: 0.5, ..p.accent },
        }
    }
}
