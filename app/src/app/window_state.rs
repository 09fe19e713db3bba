//! What the window remembers between runs: its size, the open session, the theme and the text size,
//! in `window.json` in the data folder. A missing or damaged file means defaults, never an error.

use std::path::{Path, PathBuf};

use aetheria_engine::api::SessionId;
use serde::{Deserialize, Serialize};

use crate::theme::Mode;

const FILE: &str = "window.json";

/// The remembered state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WindowState {
    /// Window width in logical pixels.
    pub width: f32,
    /// Window height in logical pixels.
    pub height: f32,
    /// The session open when the window closed.
    pub last_session: Option<SessionId>,
    /// God Mode or not.
    pub dark: bool,
    /// Base text size.
    pub font_size: f32,
}

impl Default for WindowState {
    fn default() -> Self {
        Self {
            width: 1180.0,
            height: 760.0,
            last_session: None,
            dark: false,
            font_size: 16.0,
        }
    }
}

impl WindowState {
    /// Reads the state from `dir`, or defaults.
    #[must_use]
    pub fn load(dir: &Path) -> Self {
        std::fs::read(dir.join(FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).ok())
            .map(Self::sane)
            .unwrap_or_default()
    }

    fn sane(mut self) -> Self {
        self.width = self.width.clamp(640.0, 7680.0);
        self.height = self.height.clamp(480.0, 4320.0);
        self.font_size = self.font_size.clamp(12.0, 22.0);
        self
    }

    /// Writes the state to `dir` (through a temporary file, so a crash never leaves half a file).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(tmp, dir.join(FILE))
    }

    /// The theme mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        if self.dark {
            Mode::GodMode
        } else {
            Mode::Light
        }
    }
}

/// Where the state lives: the data folder (or `None` when there is no home to derive it from).
#[must_use]
pub fn folder() -> Option<PathBuf> {
    aetheria_engine::config::Config::directories()
        .ok()
        .map(|(_, data)| data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_survives_damage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(WindowState::load(dir.path()), WindowState::default());
        let state = WindowState {
            width: 900.0,
            height: 700.0,
            last_session: Some(SessionId::from("s1")),
            dark: true,
            font_size: 18.0,
        };
        state.save(dir.path()).unwrap();
        assert_eq!(WindowState::load(dir.path()), state);
        std::fs::write(dir.path().join(FILE), b"{ not json").unwrap();
        assert_eq!(WindowState::load(dir.path()), WindowState::default());
        std::fs::write(dir.path().join(FILE), br#"{"width": 10, "font_size": 99}"#).unwrap();
        let clamped = WindowState::load(dir.path());
        assert_eq!((clamped.width, clamped.font_size), (640.0, 22.0));
    }
}
