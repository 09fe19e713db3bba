//! The Neo-Brutalist look: flat saturated colours on off-white (light) or black with neon accents
//! ("God Mode" dark), thick black borders, hard offset shadows without blur, square corners. Every
//! colour the app draws comes from `Palette`; widgets take their style from the modules here.

mod button;
mod container;
mod font;
mod input;
mod palette;

use iced::{Border, Shadow, Vector};

pub use self::button::{ButtonKind, action, button};
pub use self::container::{badge, block, flat};
pub use self::font::{BODY, BOLD, FONTS, HEADING, MONO};
pub use self::input::{editor, field, input, pick_list};
pub use self::palette::{Mode, Palette};

/// Thickness of every border.
pub const BORDER: f32 = 3.0;
/// Offset of the hard shadow.
pub const SHADOW: f32 = 4.0;

pub(crate) fn border(p: &Palette) -> Border {
    Border {
        color: p.ink,
        width: BORDER,
        radius: 0.0.into(),
    }
}

pub(crate) fn hard_shadow(p: &Palette, offset: f32) -> Shadow {
    Shadow {
        color: p.shadow,
        offset: Vector::new(offset, offset),
        blur_radius: 0.0,
    }
}
