//! The Neo-Brutalist look: flat saturated colours on off-white (light) or black with neon accents
//! ("God Mode" dark), thick black borders, hard offset shadows without blur, square corners. Every
//! colour the app draws comes from `Palette`; widgets take their style from the functions here.

use iced::font::{Family, Weight};
use iced::widget::{button as btn, container, pick_list as picker, text_editor, text_input};
use iced::{Background, Border, Color, Font, Shadow, Theme, Vector};

/// The bundled fonts (Inter and JetBrains Mono, SIL OFL 1.1), loaded when the window opens.
pub const FONTS: [&[u8]; 4] = [
    include_bytes!("../../assets/fonts/Inter-Regular.otf"),
    include_bytes!("../../assets/fonts/Inter-Bold.otf"),
    include_bytes!("../../assets/fonts/InterDisplay-Black.otf"),
    include_bytes!("../../assets/fonts/JetBrainsMono-Regular.ttf"),
];

/// Body text.
pub const BODY: Font = Font::with_name("Inter");
/// Labels and buttons.
pub const BOLD: Font = Font {
    weight: Weight::Bold,
    ..BODY
};
/// Headings: a heavy grotesque.
pub const HEADING: Font = Font {
    family: Family::Name("Inter Display"),
    weight: Weight::Black,
    ..Font::DEFAULT
};
/// Code, arguments and tool output.
pub const MONO: Font = Font::with_name("JetBrains Mono");

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

const fn rgb(hex: u32) -> Color {
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

/// Thickness of every border.
pub const BORDER: f32 = 3.0;
/// Offset of the hard shadow.
pub const SHADOW: f32 = 4.0;

fn border(p: &Palette) -> Border {
    Border {
        color: p.ink,
        width: BORDER,
        radius: 0.0.into(),
    }
}

fn hard_shadow(p: &Palette, offset: f32) -> Shadow {
    Shadow {
        color: p.shadow,
        offset: Vector::new(offset, offset),
        blur_radius: 0.0,
    }
}

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
        btn::Style {
            background: Some(Background::Color(fill)),
            text_color,
            border: border(&p),
            shadow: hard_shadow(&p, offset),
            snap: true,
        }
    }
}

/// The composer's text area.
pub fn editor(p: Palette) -> impl Fn(&Theme, text_editor::Status) -> text_editor::Style {
    move |_theme, status| {
        let width = match status {
            text_editor::Status::Focused { .. } => BORDER + 1.0,
            _ => BORDER,
        };
        text_editor::Style {
            background: Background::Color(p.surface),
            border: Border {
                color: p.ink,
                width,
                radius: 0.0.into(),
            },
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
        border: Border {
            color: p.ink,
            width: BORDER,
            radius: 0.0.into(),
        },
    }
}

/// Single-line inputs (search, rename).
pub fn input(p: Palette) -> impl Fn(&Theme, text_input::Status) -> text_input::Style {
    move |_theme, status| {
        let width = match status {
            text_input::Status::Focused { .. } => BORDER + 1.0,
            _ => BORDER,
        };
        text_input::Style {
            background: Background::Color(p.surface),
            border: Border {
                color: p.ink,
                width,
                radius: 0.0.into(),
            },
            icon: p.muted,
            placeholder: p.muted,
            value: p.ink,
            selection: Color { a: 0.5, ..p.accent },
        }
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
