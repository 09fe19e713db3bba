//! What the person attaches to a message: text files kept with it (the model reads each after
//! the text, `wire_text`), images kept by id in the attachments folder of the data folder and sent
//! again with the history. A stored message only
//! names an image by that id; reading one back never follows a path a record names.

use std::path::{Path, PathBuf};

use crate::api::{Attachment, ErrorInfo, ErrorKind, MessageRecord};
use crate::provider::ChatMessage;
use crate::services::Services;

/// Largest attachment whose text is added to a message.
const MAX_ATTACHMENT_BYTES: u64 = 256 * 1024;
/// Largest image attachment (Anthropic's limit per image).
const MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;

/// The image formats every vision model takes, by their first bytes.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else {
        None
    }
}

/// The folder of the data folder where attached images are kept.
const FOLDER: &str = "attachments";

/// Where a stored image is: only ever a plain `<uuid>.<png|jpeg|gif|webp>` in the attachments
/// folder of this machine's data folder, whatever the record says. A record (from a database
/// others may write to) naming any other file, or a path elsewhere, gets `None`: the engine
/// never reads a host file because a stored message named it. Records written before images
/// were kept by id hold the full path of a file in that folder, which resolves the same way.
pub fn stored_image(data_dir: &Path, recorded: &Path) -> Option<PathBuf> {
    let name = recorded.file_name()?.to_str()?;
    let (id, ext) = name.split_once('.')?;
    let plain = uuid::Uuid::try_parse(id).is_ok_and(|u| u.hyphenated().to_string() == id)
        && matches!(ext, "png" | "jpeg" | "gif" | "webp");
    plain.then(|| data_dir.join(FOLDER).join(name))
}

/// A stored image's bytes and media type, read only from where the app keeps them (see
/// `stored_image`) and only when they are an image the app takes.
pub fn read_image(data_dir: &Path, recorded: &Path) -> std::io::Result<(Vec<u8>, &'static str)> {
    let path = stored_image(data_dir, recorded).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the message names no image this app kept",
        )
    })?;
    let bytes = std::fs::read(path)?;
    let media_type = image_type(&bytes).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a PNG, JPEG, GIF or WebP image",
        )
    })?;
    Ok((bytes, media_type))
}

/// A stored image as the provider gets it.
pub(super) async fn image_message(
    data_dir: &Path,
    recorded: &Path,
) -> std::io::Result<ChatMessage> {
    use base64::Engine as _;
    let (data_dir, recorded) = (data_dir.to_path_buf(), recorded.to_path_buf());
    let (bytes, media_type) = tokio::task::spawn_blocking(move || read_image(&data_dir, &recorded))
        .await
        .map_err(std::io::Error::other)??;
    Ok(ChatMessage::Image {
        media_type: media_type.to_owned(),
        data: base64::engine::general_purpose::STANDARD.encode(bytes),
    })
}

/// A user message's text as the model reads it: what the person wrote, then each attached file
/// in an `<attachment>` block.
pub(super) fn wire_text(message: &MessageRecord) -> String {
    let mut text = message.content.clone();
    for file in &message.attachments {
        text.push_str(&format!(
            "\n\n<attachment name=\"{}\">\n{}\n</attachment>",
            file.name, file.text
        ));
    }
    text
}

/// The text files attached, and copies of attached images kept in the data folder. Images go only
/// to a model that takes them; otherwise nothing is stored and the person is told why.
pub(super) async fn read(
    services: &Services,
    attachments: &[PathBuf],
) -> Result<(Vec<Attachment>, Vec<PathBuf>), ErrorInfo> {
    let invalid = |message: String| ErrorInfo::new(ErrorKind::Invalid, message);
    let mut files = Vec::new();
    let mut images: Vec<(Vec<u8>, &'static str)> = Vec::new();
    for path in attachments {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| invalid(format!("cannot attach {}: {e}", path.display())))?;
        if meta.len() > MAX_IMAGE_BYTES {
            return Err(invalid(format!(
                "{} is {} bytes; attachments can be at most {MAX_IMAGE_BYTES} bytes",
                path.display(),
                meta.len()
            )));
        }
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| invalid(format!("cannot attach {}: {e}", path.display())))?;
        if let Some(media_type) = image_type(&bytes) {
            images.push((bytes, media_type));
            continue;
        }
        if meta.len() > MAX_ATTACHMENT_BYTES {
            return Err(invalid(format!(
                "{} is {} bytes; text attachments can be at most {MAX_ATTACHMENT_BYTES} bytes",
                path.display(),
                meta.len()
            )));
        }
        let Ok(body) = String::from_utf8(bytes) else {
            return Err(invalid(format!(
                "{} is neither text nor a PNG, JPEG, GIF or WebP image; it cannot be attached",
                path.display()
            )));
        };
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        files.push(Attachment { name, text: body });
    }
    if images.is_empty() {
        return Ok((files, Vec::new()));
    }
    let config = services.config();
    if let Some(provider) = config.effective_provider()
        && !crate::provider::catalog::takes_images(&provider)
    {
        return Err(invalid(format!(
            "model {} of provider {} does not take images; pick a model that does (e.g. gpt-4o, claude, gemini, llava), or set `vision = true` on the provider if it does",
            provider.model, provider.name
        )));
    }
    let kept = keep(&config.data_dir, images)
        .await
        .map_err(|e| invalid(format!("cannot keep the image: {e}")))?;
    Ok((files, kept))
}

/// Keeps images (checked: one of `image_type`'s kinds) in the attachments folder of `data_dir`,
/// each under a new id; the names a record keeps them by.
pub(crate) async fn keep(
    data_dir: &Path,
    images: Vec<(Vec<u8>, &'static str)>,
) -> std::io::Result<Vec<PathBuf>> {
    let dir = data_dir.join(FOLDER);
    tokio::fs::create_dir_all(&dir).await?;
    let mut kept = Vec::new();
    for (bytes, media_type) in images {
        let ext = media_type.trim_start_matches("image/");
        // The record keeps the image's name only; it is found again in this machine's folder.
        let name = format!("{}.{ext}", uuid::Uuid::now_v7().hyphenated());
        tokio::fs::write(dir.join(&name), bytes).await?;
        kept.push(PathBuf::from(name));
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_image_is_only_ever_a_kept_file_of_this_machine() {
        let data = Path::new("/home/p/.local/share/aetheria");
        let id = "01a24897-cc02-7340-9a2e-178d507f33c1";
        let kept = data.join("attachments").join(format!("{id}.png"));
        assert_eq!(
            stored_image(data, Path::new(&format!("{id}.png"))),
            Some(kept.clone())
        );
        // An old record's full path in the folder resolves the same way.
        assert_eq!(stored_image(data, &kept), Some(kept.clone()));
        // A forged record never reaches another file.
        assert_eq!(
            stored_image(data, Path::new(&format!("/etc/elsewhere/{id}.png"))),
            Some(kept)
        );
        for forged in [
            "/home/p/.ssh/id_ed25519",
            "../../.ssh/id_ed25519.png",
            "notes.png",
            "01A24897-CC02-7340-9A2E-178D507F33C1.png",
            "01a24897-cc02-7340-9a2e-178d507f33c1.png.sh",
            "01a24897-cc02-7340-9a2e-178d507f33c1.txt",
        ] {
            assert_eq!(stored_image(data, Path::new(forged)), None, "{forged}");
        }
    }
}
