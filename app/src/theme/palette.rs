//! Every colour the app draws, for light and "God Mode" dark.

use iced::{Color, Theme};

/// Light or dark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Off-white paper with saturated blocks.
    #[default]
    Light,
    /// Black with neon accents.
    GodMode,
}

/// Every colour of the app.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Palette {
    /// The window background.
    pub paper: Color,
    /// Panels and cards.
    pub surface: Color,
    /// Text and borders.
    pub ink: Color,
    /// Secondary text.
    pub muted: Color,
    /// Primary actions and the person's messages.
    pub accent: Color,
    /// The assistant's messages.
    pub assistant: Color,
    /// Tool cards.
    pub tool: Color,
    /// Success.
    pub ok: Color,
    /// Danger and errors.
    pub danger: Color,
    /// The hard shadow.
    pub shadow: Color,
    /// Links.
    pub link: Color,
    /// The background of code.
    pub code_background: Color,
    /// The text of code.
    pub code_text: Color,
}

/// The one place colours are made from numbers.
#[allow(clippy::disallowed_methods)]
pub(crate) const fn rgb(hex: u32) -> Color {
    Color::from_rgb8(
        (hex >> 16) as u8,
        (hex >> 8 & 0xff) as u8,
        (hex & 0xff) as u8,
    )
}

impl Palette {
    /// The palette of a mode.
    #[must_use]
    pub const fn of(mode: Mode) -> Self {
        match mode {
            Mode::Light => Self {
                paper: rgb(0xFFF8E7),
                surface: rgb(0xFFFFFF),
                ink: rgb(0x111111),
                muted: rgb(0x5A5A5A),
                accent: rgb(0xFFD23F),
                assistant: rgb(0xC6F0FF),
                tool: rgb(0xE9D7FF),
                ok: rgb(0x7CE577),
                danger: rgb(0xFF5C5C),
                shadow: rgb(0x111111),
                link: rgb(0x1F3FFF),
                code_background: rgb(0x111111),
                code_text: rgb(0xF4F4F4),
            },
            Mode::GodMode => Self {
                paper: rgb(0x0A0A0A),
                surface: rgb(0x161616),
                ink: rgb(0xF4F4F4),
                muted: rgb(0xA0A0A0),
                accent: rgb(0xFF2BD6),
                assistant: rgb(0x10242B),
                tool: rgb(0x1E1530),
                ok: rgb(0x39FF14),
                danger: rgb(0xFF3B3B),
                shadow: rgb(0x39FF14),
                link: rgb(0x4DD9FF),
                code_background: rgb(0x000000),
                code_text: rgb(0xC8FFC0),
            },
        }
    }

    /// The iced theme built on this palette (text colour, selection, defaults of unstyled widgets).
    #[must_use]
    pub fn theme(&self, mode: Mode) -> Theme {
        let name = match mode {
            Mode::Light => "Aetheria",
            Mode::GodMode => "Aetheria God Mode",
        };
        Theme::custom(
            name,
            iced::theme::Palette {
                background: self.paper,
                text: self.ink,
                primary: self.accent,
                success: self.ok,
                warning: self.accent,
                danger: self.danger,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palettes_are_high_contrast() {
        for mode in [Mode::Light, Mode::GodMode] {
            let p = Palette::of(mode);
            let luma = |c: Color| 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
            assert!((luma(p.paper) - luma(p.ink)).abs() > 0.7, "{mode:?}");
        }
    }
}
