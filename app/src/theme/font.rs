//! The bundled typefaces: Inter for text, Inter Display Black for headings (a heavy grotesque),
//! JetBrains Mono for code. All SIL OFL 1.1, taken from Debian's font packages (see assets/fonts).

use iced::Font;
use iced::font::{Family, Weight};

/// The bundled fonts (Inter and JetBrains Mono, SIL OFL 1.1), loaded when the window opens.
pub const FONTS: [&[u8]; 4] = [
    include_bytes!("../../../assets/fonts/Inter-Regular.otf"),
    include_bytes!("../../../assets/fonts/Inter-Bold.otf"),
    include_bytes!("../../../assets/fonts/InterDisplay-Black.otf"),
    include_bytes!("../../../assets/fonts/JetBrainsMono-Regular.ttf"),
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
