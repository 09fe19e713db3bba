//! What Ctrl+V in the composer pastes: files copied in a file manager and images copied from
//! anywhere become attachments (an image saved as a PNG first), text is typed in as always. iced
//! reads only the clipboard's text, so the clipboard is read here (arboard), off the window's
//! thread: a clipboard owner that is slow to answer must not freeze the window.

use std::path::{Path, PathBuf};

/// The most pixels a pasted image may have (a 8K screenshot has 33 million).
const MAX_PIXELS: u64 = 40_000_000;

/// What the clipboard held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clip {
    /// Files to attach.
    Files(Vec<PathBuf>),
    /// An image, saved as a PNG at this path, to attach.
    Image(PathBuf),
    /// Text, to type into the composer.
    Text(String),
    /// Nothing that can be pasted.
    Empty,
    /// Why the clipboard could not be read, or its image not kept.
    Failed(String),
}

/// Reads the clipboard: copied files first, then an image (saved in `dir`), then text. Blocking.
pub fn read(dir: &Path) -> Clip {
    let mut clipboard = match arboard::Clipboard::new() {
        Ok(clipboard) => clipboard,
        Err(e) => return Clip::Failed(format!("the clipboard cannot be read: {e}")),
    };
    if let Ok(files) = clipboard.get().file_list() {
        let files: Vec<PathBuf> = files.into_iter().filter(|f| f.is_file()).collect();
        if !files.is_empty() {
            return Clip::Files(files);
        }
    }
    if let Ok(image) = clipboard.get_image() {
        return match save(dir, &image) {
            Ok(path) => Clip::Image(path),
            Err(why) => Clip::Failed(why),
        };
    }
    match clipboard.get_text() {
        Ok(text) if !text.is_empty() => Clip::Text(text),
        _ => Clip::Empty,
    }
}

/// Saves the clipboard's pixels as `pasted-<time>.png` in `dir`.
fn save(dir: &Path, image: &arboard::ImageData<'_>) -> Result<PathBuf, String> {
    let (width, height) = (
        u32::try_from(image.width).map_err(|_| "the pasted image is too wide".to_owned())?,
        u32::try_from(image.height).map_err(|_| "the pasted image is too tall".to_owned())?,
    );
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!(
            "the pasted image is {width}×{height}; images of more than {MAX_PIXELS} pixels are not attached"
        ));
    }
    let pixels = image::RgbaImage::from_raw(width, height, image.bytes.to_vec())
        .ok_or_else(|| "the clipboard's image is damaged".to_owned())?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot keep the pasted image in {}: {e}", dir.display()))?;
    let name = format!(
        "pasted-{}.png",
        chrono::Local::now().format("%Y%m%d-%H%M%S%.3f")
    );
    let path = dir.join(name);
    pixels
        .save_with_format(&path, image::ImageFormat::Png)
        .map_err(|e| format!("cannot keep the pasted image: {e}"))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_become_a_png_and_an_absurd_image_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let image = arboard::ImageData {
            width: 2,
            height: 1,
            bytes: vec![255, 0, 0, 255, 0, 255, 0, 255].into(),
        };
        let path = save(dir.path(), &image).unwrap();
        let back = image::open(&path).unwrap().into_rgba8();
        assert_eq!(back.dimensions(), (2, 1));
        assert_eq!(back.get_pixel(1, 0).0, [0, 255, 0, 255]);
        // A size that does not match its bytes, or far too many pixels.
        let damaged = arboard::ImageData {
            width: 3,
            height: 3,
            bytes: vec![0; 4].into(),
        };
        assert!(save(dir.path(), &damaged).unwrap_err().contains("damaged"));
        let huge = arboard::ImageData {
            width: 100_000,
            height: 100_000,
            bytes: Vec::new().into(),
        };
        assert!(save(dir.path(), &huge).unwrap_err().contains("pixels"));
    }
}
