//! The speech-model manager: installed whisper.cpp models in `<data>/voice-models` as
//! `ggml-NAME.bin`, and the catalog of official models (names, sizes and the SHA-1 sums published
//! in whisper.cpp's `models/README.md`). Installing downloads or copies to a partial file, checks
//! the digest and the ggml magic, then renames into place: a failed install leaves nothing.

use super::VoiceError;
use std::path::{Path, PathBuf};

use crate::api::VoiceModel;

/// Where catalog models download from, unless `AETHERIA_VOICE_MODELS_URL` names a mirror.
const DEFAULT_BASE: &str = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main";

/// The first four bytes of a whisper.cpp model: `ggml` as a little-endian u32.
const MAGIC: [u8; 4] = *b"lmgg";

/// An official model: name, size in MiB, SHA-1.
const CATALOG: [(&str, u64, &str); 6] = [
    ("tiny.en", 75, "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"),
    ("base.en", 142, "137c40403d78fd54d454da0f9bd998f78703390c"),
    ("small.en", 466, "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022"),
    ("tiny", 75, "bd577a113a864445d4c299885e0cb97d4ba92b5f"),
    ("base", 142, "465707469ff3a37a2b9b8d8f89f2f99de7299dac"),
    ("small", 466, "55356645c2b361a969dfd0ef2c5a50d530afd8d5"),
];

/// The folder of installed speech models.
pub(crate) fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("voice-models")
}

fn file_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("ggml-{name}.bin"))
}

fn check_name(name: &str) -> Result<(), VoiceError> {
    crate::fetch::check_model_name(name, "speech model")
        .map_err(|e| VoiceError::invalid(e.to_string()))
}

fn catalog_url(name: &str) -> String {
    let base = std::env::var("AETHERIA_VOICE_MODELS_URL")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE.to_owned());
    format!("{}/ggml-{name}.bin", base.trim_end_matches('/'))
}

/// Installed models first (by name), then the catalog models not installed.
pub(crate) fn list(dir: &Path) -> Vec<VoiceModel> {
    let mut models: Vec<VoiceModel> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let file = entry.file_name().into_string().ok()?;
            let name = file.strip_prefix("ggml-")?.strip_suffix(".bin")?.to_owned();
            let bytes = entry.metadata().ok()?.len();
            Some(VoiceModel {
                english_only: name.ends_with(".en") || name.contains(".en-"),
                url: None,
                path: Some(entry.path()),
                bytes,
                name,
            })
        })
        .collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    for (name, mib, _) in CATALOG {
        if !models.iter().any(|m| m.name == name) {
            models.push(VoiceModel {
                name: name.to_owned(),
                bytes: mib << 20,
                english_only: name.ends_with(".en"),
                path: None,
                url: Some(catalog_url(name)),
            });
        }
    }
    models
}

/// The file of the configured model: an installed model's name, or a path to a model file.
pub(crate) fn resolve(dir: &Path, model: &str) -> Result<PathBuf, VoiceError> {
    let direct = PathBuf::from(model);
    if direct.extension().is_some_and(|e| e == "bin") && direct.is_file() {
        return Ok(direct);
    }
    if check_name(model).is_ok() {
        let path = file_of(dir, model);
        if path.is_file() {
            return Ok(path);
        }
    }
    let how = if CATALOG.iter().any(|(name, ..)| *name == model) {
        format!("download it in Settings → Voice or with `aetheria voice models add {model}`")
    } else {
        "pick an installed one in Settings → Voice (`aetheria voice models` lists them)".to_owned()
    };
    Err(VoiceError::missing(format!(
        "the speech model {model:?} is not installed: {how}"
    )))
}

/// Installs `name` from `source` (a URL or file; the catalog's download when absent), checked
/// against `checksum` (the catalog's SHA-1 when absent and `name` is in the catalog).
pub(crate) async fn install(
    dir: &Path,
    name: &str,
    source: Option<&str>,
    checksum: Option<&str>,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<PathBuf, VoiceError> {
    check_name(name)?;
    let listed = CATALOG.iter().find(|(n, ..)| *n == name);
    let source = match (source, listed) {
        (Some(source), _) => source.to_owned(),
        (None, Some(_)) => catalog_url(name),
        (None, None) => {
            return Err(VoiceError::invalid(format!(
                "{name:?} is not in the catalog: give a URL or a file to install it from"
            )));
        }
    };
    let expected = match (checksum, listed) {
        (Some(sum), _) => Some(sum.to_owned()),
        (None, Some((_, _, sha1))) if source == catalog_url(name) => Some(format!("sha1:{sha1}")),
        _ => None,
    };
    let target = file_of(dir, name);
    if target.exists() {
        return Err(VoiceError::new(
            crate::api::ErrorKind::Conflict,
            format!("a speech model named {name:?} is already installed; remove it first"),
        ));
    }
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| VoiceError::unavailable(format!("cannot create {}: {e}", dir.display())))?;
    let partial = dir.join(format!(".{name}.partial"));
    let result = fetch_checked(&source, &partial, expected.as_deref(), progress).await;
    let result = match result {
        Ok(()) => match std::fs::rename(&partial, &target) {
            Ok(()) => Ok(target),
            Err(e) => Err(VoiceError::unavailable(format!(
                "cannot install {}: {e}",
                target.display()
            ))),
        },
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&partial);
    result
}

async fn fetch_checked(
    source: &str,
    partial: &Path,
    expected: Option<&str>,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<(), VoiceError> {
    let digests = crate::fetch::fetch(source, partial, progress, &Default::default())
        .await
        .map_err(|e| VoiceError::unavailable(e.to_string()))?;
    if let Some(expected) = expected
        && !digests.matches(expected)
    {
        return Err(VoiceError::invalid(format!(
            "checksum mismatch: expected {expected}, got sha256:{} (sha1:{}); nothing was installed",
            digests.sha256, digests.sha1
        )));
    }
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(partial)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic));
    if read.is_err() || magic != MAGIC {
        return Err(VoiceError::invalid(format!(
            "{source} is not a whisper.cpp model (ggml .bin); nothing was installed"
        )));
    }
    Ok(())
}

/// Removes an installed model.
pub(crate) fn remove(dir: &Path, name: &str) -> Result<(), VoiceError> {
    check_name(name)?;
    let path = file_of(dir, name);
    std::fs::remove_file(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => VoiceError::new(
            crate::api::ErrorKind::NotFound,
            format!("no speech model named {name:?} is installed"),
        ),
        _ => VoiceError::unavailable(format!("cannot remove {}: {e}", path.display())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_lists_what_is_not_installed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let before = list(dir.path());
        assert_eq!(before.len(), CATALOG.len());
        assert!(before.iter().all(|m| m.path.is_none() && m.url.is_some()));
        std::fs::write(file_of(dir.path(), "tiny.en"), b"lmgg")?;
        let after = list(dir.path());
        assert_eq!(after.len(), CATALOG.len());
        assert_eq!(after[0].name, "tiny.en");
        assert!(after[0].path.is_some() && after[0].english_only);
        assert_eq!(
            resolve(dir.path(), "tiny.en")?,
            file_of(dir.path(), "tiny.en")
        );
        let missing = resolve(dir.path(), "base.en").unwrap_err();
        assert_eq!(missing.kind, crate::api::ErrorKind::Missing);
        assert!(
            missing.message.contains("voice models add base.en"),
            "{missing}"
        );
        let gone = remove(dir.path(), "base.en").unwrap_err();
        assert_eq!(gone.kind, crate::api::ErrorKind::NotFound);
        assert_eq!(
            check_name("../x").unwrap_err().kind,
            crate::api::ErrorKind::Invalid
        );
        Ok(())
    }

    #[test]
    fn names_cannot_leave_the_folder() {
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("large-v3_turbo.q5").is_ok());
    }
}
