//! The images people attach, decoded once for the window: a thumbnail per image when its message
//! is first shown, the whole image (bounded) when the person opens it. An image that is missing,
//! corrupt or absurdly large is said, never handed to the renderer (which must not meet a file it
//! cannot read).

use std::path::{Path, PathBuf};

use iced::widget::image::Handle;

/// The thumbnail's box.
const THUMB: (u32, u32) = (320, 240);
/// The largest side of an opened image.
const FULL: u32 = 2048;
/// Larger sides are refused before decoding (a small file can claim a huge image).
const MAX_SIDE: u32 = 16_384;
/// Memory a decode may take.
const MAX_ALLOC: u64 = 256 << 20;

/// An image of a message, ready to draw.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Where it is read from (opened from there).
    pub path: PathBuf,
    /// Its thumbnail.
    pub thumb: Handle,
}

/// The thumbnail of `path`, or why it cannot be shown.
pub fn thumbnail(path: &Path) -> Result<Picture, String> {
    let image = decode(path)?.thumbnail(THUMB.0, THUMB.1).into_rgba8();
    Ok(Picture {
        path: path.to_path_buf(),
        thumb: Handle::from_rgba(image.width(), image.height(), image.into_raw()),
    })
}

/// The whole image of `path` (its longest side at most `FULL`), or why it cannot be shown.
pub fn full(path: &Path) -> Result<Handle, String> {
    let mut image = decode(path)?;
    if image.width().max(image.height()) > FULL {
        image = image.thumbnail(FULL, FULL);
    }
    let image = image.into_rgba8();
    Ok(Handle::from_rgba(
        image.width(),
        image.height(),
        image.into_raw(),
    ))
}

fn decode(path: &Path) -> Result<image::DynamicImage, String> {
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_cannot_be_read_is_said_not_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let corrupt = dir.path().join("corrupt.png");
        std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really").unwrap();
        assert!(thumbnail(&corrupt).is_err());
        assert!(thumbnail(&dir.path().join("missing.png")).is_err());
        // A PNG header claiming 100000×100000 pixels: refused before any pixel is decoded.
        let mut bomb = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        bomb.extend_from_slice(&100_000u32.to_be_bytes());
        bomb.extend_from_slice(&100_000u32.to_be_bytes());
        bomb.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        let bomb_path = dir.path().join("bomb.png");
        std::fs::write(&bomb_path, bomb).unwrap();
        assert!(thumbnail(&bomb_path).is_err());
    }

    #[test]
    fn a_large_image_is_shrunk_to_fit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        image::RgbaImage::new(3000, 1000).save(&path).unwrap();
        let picture = thumbnail(&path).unwrap();
        let iced::advanced::image::Handle::Rgba { width, height, .. } = picture.thumb else {
            panic!("not decoded pixels");
        };
        assert_eq!((width, height), (320, 107));
        let iced::advanced::image::Handle::Rgba { width, height, .. } = full(&path).unwrap() else {
            panic!("not decoded pixels");
        };
        assert_eq!((width, height), (2048, 683));
    }
}
