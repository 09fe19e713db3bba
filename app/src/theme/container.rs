//! Blocks, badges and flat areas: bordered boxes with hard offset shadows.

use iced::widget::container;
use iced::{Background, Border, Color, Shadow};

use super::palette::{Palette, rgb};
use super::{SHADOW, border, hard_shadow};

/// A bordered block with a hard shadow, in `fill`.
#[must_use]
pub fn block(p: &Palette, fill: Color) -> container::Style {
    container::Style {
        text_color: Some(p.ink),
        background: Some(Background::Color(fill)),
        border: border(p),
        shadow: hard_shadow(p, SHADOW),
        snap: true,
    }
}

/// A small coloured tag; its text is always dark, as on the saturated fills it sits on.
#[must_use]
pub fn badge(p: &Palette, fill: Color) -> container::Style {
    container::Style {
        text_color: Some(rgb(0x111111)),
        ..block(p, fill)
    }
}

/// A flat area without a border (panels, the window).
#[must_use]
pub fn flat(p: &Palette, fill: Color) -> container::Style {
    container::Style {
        text_color: Some(p.ink),
        background: Some(Background::Color(fill)),
        border: Border::default(),
        shadow: Shadow::default(),
        snap: true,
    }
}
