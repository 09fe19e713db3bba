//! Buttons that sink into their shadow when pressed.

use iced::widget::button as btn;
use iced::{Background, Border, Color, Shadow, Theme};

use super::palette::{Palette, rgb};
use super::{SHADOW, border, hard_shadow};

/// The kinds of buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonKind {
    /// The main action (accent fill).
    Primary,
    /// Other actions (surface fill).
    Secondary,
    /// Destructive or stopping actions.
    Danger,
    /// Approving actions.
    Ok,
    /// Borderless, for rows of a tree.
    Ghost,
    /// A list entry; `selected` shows it as chosen.
    Item {
        /// Whether it is the chosen entry.
        selected: bool,
    },
}

/// A button with a bold caption at the size of the settings pages' actions.
pub fn action<'a, M: 'a>(p: Palette, kind: ButtonKind, caption: &'a str) -> btn::Button<'a, M> {
    btn::Button::new(iced::widget::text(caption).font(super::BOLD).size(13))
        .padding([6, 12])
        .style(button(p, kind))
}

/// A button style: pressed buttons sink into their shadow.
pub fn button(p: Palette, kind: ButtonKind) -> impl Fn(&Theme, btn::Status) -> btn::Style {
    move |_theme, status| {
        if kind == ButtonKind::Ghost {
            let fill = match status {
                btn::Status::Hovered | btn::Status::Pressed => Color { a: 0.5, ..p.accent },
                _ => Color::TRANSPARENT,
            };
            return btn::Style {
                background: Some(Background::Color(fill)),
                text_color: p.ink,
                border: Border::default(),
                shadow: Shadow::default(),
                snap: true,
            };
        }
        let fill = match kind {
            ButtonKind::Ghost => Color::TRANSPARENT,
            ButtonKind::Primary => p.accent,
            ButtonKind::Secondary => p.surface,
            ButtonKind::Danger => p.danger,
            ButtonKind::Ok => p.ok,
            ButtonKind::Item { selected: true } => p.accent,
            ButtonKind::Item { selected: false } => p.surface,
        };
        let (offset, fill) = match status {
            btn::Status::Active => (SHADOW, fill),
            btn::Status::Hovered => (SHADOW + 2.0, fill),
            btn::Status::Pressed => (0.0, fill),
            btn::Status::Disabled => (0.0, Color { a: 0.45, ..fill }),
        };
        let text_color = match (kind, status) {
            (_, btn::Status::Disabled) => p.muted,
            (
                ButtonKind::Secondary | ButtonKind::Ghost | ButtonKind::Item { selected: false },
                _,
            ) => p.ink,
            _ => rgb(0x111111),
        };
        // A disabled button is see-through: no shadow may show under it.
        let shadow = if status == btn::Status::Disabled {
            Shadow::default()
        } else {
            hard_shadow(&p, offset)
        };
        btn::Style {
            background: Some(Background::Color(fill)),
            text_color,
            border: border(&p),
            shadow,
            snap: true,
        }
    }
}
