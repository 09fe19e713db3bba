//! The model manager: installed GGUF models in `<data>/models`, each a `NAME.gguf` with a
//! `NAME.json` manifest. Adding copies a local file or downloads a URL (with progress, and a
//! sha256 check when one is given), checks the model can run, and re-quantises the older 4/5-bit
//! formats to Q8_0 once, because portable CPU builds run Q8_0 several times faster.

use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::gguf_file::{self, Content};
use candle_core::quantized::{GgmlDType, QTensor};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::LocalError;
use super::vocab::Vocab;
use crate::api::LocalModelInfo;

/// A model name that is safe as a file name: letters, digits, `.`, `-` and `_`.
pub(crate) fn check_name(name: &str) -> Result<(), LocalError> {
    crate::fetch::check_model_name(name, "model").map_err(|e| LocalError::Name(e.to_string()))
}

/// The default name of a model from its file name or URL (`SmolLM2-135M-Instruct.Q4_1.gguf` →
/// `SmolLM2-135M-Instruct.Q4_1`).
pub(crate) fn default_name(source: &str) -> String {
    let last = source
        .trim_end_matches('/')
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(source);
    let last = last.split(['?', '#']).next().unwrap_or(last);
    let stem = last.strip_suffix(".gguf").unwrap_or(last);
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_start_matches('.').to_owned();
    if name.is_empty() {
        "model".into()
    } else {
        name
    }
}

/// The installed models, by name.
pub(crate) fn list(dir: &Path) -> Result<Vec<LocalModelInfo>, LocalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LocalError::io(dir, e)),
    };
    let mut models = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| LocalError::io(&path, e))?;
        match serde_json::from_str::<LocalModelInfo>(&text) {
            Ok(mut info) => {
                info.path = dir.join(format!("{}.gguf", info.name));
                if info.path.is_file() {
                    models.push(info);
                }
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), %e, "skipping an unreadable model manifest");
            }
        }
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(models)
}

/// The file of an installed model, or of a GGUF path given directly.
pub(crate) fn resolve(dir: &Path, model: &str) -> Result<PathBuf, LocalError> {
    let direct = PathBuf::from(model);
    if direct.extension().and_then(|e| e.to_str()) == Some("gguf") && direct.is_file() {
        return Ok(direct);
    }
    if check_name(model).is_ok() {
        let path = dir.join(format!("{model}.gguf"));
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(LocalError::NotFound(model.to_owned()))
}

/// Removes an installed model.
pub(crate) fn remove(dir: &Path, name: &str) -> Result<(), LocalError> {
    check_name(name)?;
    let model = dir.join(format!("{name}.gguf"));
    let manifest = dir.join(format!("{name}.json"));
    if !model.exists() && !manifest.exists() {
        return Err(LocalError::NotFound(name.to_owned()));
    }
    for path in [manifest, model] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LocalError::io(&path, e)),
        }
    }
    Ok(())
}

/// Installs a model from a file path or an `http(s)` URL under `name` (see `default_name`).
/// `progress(done, total)` is called as bytes arrive. With `sha256`, the source bytes must match.
/// Refused before anything is written when the disk lacks room; stops soon after `stop` is
/// cancelled. Whatever fails, nothing of it is kept.
pub(crate) async fn add(
    dir: &Path,
    source: &str,
    name: &str,
    sha256: Option<&str>,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    stop: &CancellationToken,
) -> Result<LocalModelInfo, LocalError> {
    check_name(name)?;
    if dir.join(format!("{name}.gguf")).exists() {
        return Err(LocalError::Name(format!(
            "a model named {name:?} is already installed; remove it first (`aetheria models rm {name}`) or choose another name"
        )));
    }
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| LocalError::io(dir, e))?;
    let partial = dir.join(format!(".{name}.partial"));
    let result = match crate::fetch::fetch(source, &partial, progress, stop).await {
        Ok(digests) => finish(dir, name, source, &partial, &digests.sha256, sha256, stop).await,
        Err(e) => Err(e.into()),
    };
    // The download, and the converted copy a failed conversion may have left.
    let _ = std::fs::remove_file(&partial);
    let _ = std::fs::remove_file(partial.with_extension("q8"));
    match result {
        Err(LocalError::Stopped(_)) => Err(LocalError::Stopped(name.to_owned())),
        other => other,
    }
}

async fn finish(
    dir: &Path,
    name: &str,
    source: &str,
    partial: &Path,
    digest: &str,
    expected: Option<&str>,
    stop: &CancellationToken,
) -> Result<LocalModelInfo, LocalError> {
    if let Some(expected) = expected {
        let expected = expected.trim().to_ascii_lowercase();
        if expected != digest {
            return Err(LocalError::Checksum {
                expected,
                actual: digest.to_owned(),
            });
        }
    }
    let (partial, target) = (partial.to_path_buf(), dir.join(format!("{name}.gguf")));
    let (name, source, digest) = (name.to_owned(), source.to_owned(), digest.to_owned());
    let stop = stop.clone();
    let info = tokio::task::spawn_blocking(move || {
        install(&partial, &target, &name, &source, &digest, &stop)
    })
    .await
    .map_err(LocalError::model)??;
    let manifest = dir.join(format!("{}.json", info.name));
    let text = serde_json::to_string_pretty(&info).map_err(LocalError::model)?;
    std::fs::write(&manifest, text).map_err(|e| LocalError::io(&manifest, e))?;
    Ok(info)
}

/// Checks the fetched file is a model the runtime can run, converts it when that makes it faster,
/// and moves it into place.
fn install(
    partial: &Path,
    target: &Path,
    name: &str,
    source: &str,
    digest: &str,
    stop: &CancellationToken,
) -> Result<LocalModelInfo, LocalError> {
    let mut file = std::fs::File::open(partial).map_err(|e| LocalError::io(partial, e))?;
    let content = Content::read(&mut file)
        .map_err(|e| LocalError::Model(format!("{source} is not a GGUF model: {e}")))?;
    let arch = text(&content, "general.architecture");
    if arch != "llama" {
        return Err(LocalError::Unsupported(format!(
            "architecture {arch:?} is not supported by the built-in runtime (it runs Llama-family models such as SmolLM2, Llama 3.2 and TinyLlama); serve this model with Ollama or llama.cpp and add that as a provider"
        )));
    }
    Vocab::from_gguf(&content)?;
    if stop.is_cancelled() {
        return Err(LocalError::Stopped(String::new()));
    }
    let quantization = dominant_type(&content);
    let slow = |t: GgmlDType| {
        matches!(
            t,
            GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1
        )
    };
    let converted_from = if content.tensor_infos.values().any(|t| slow(t.ggml_dtype)) {
        let converted = partial.with_extension("q8");
        // Every weight as Q8_0 (34 bytes per 32): what the converted copy takes at most, beside
        // the downloaded file until it is removed.
        let elements: u64 = content
            .tensor_infos
            .values()
            .map(|t| t.shape.elem_count() as u64)
            .sum();
        crate::fetch::ensure_room(&converted, elements / 32 * 34)?;
        // On any failure `add` removes the converted copy with the download.
        requantize(&content, &mut file, &converted, &slow, stop)?;
        std::fs::rename(&converted, target).map_err(|e| LocalError::io(target, e))?;
        Some(format!("{quantization:?}"))
    } else {
        std::fs::rename(partial, target).map_err(|e| LocalError::io(target, e))?;
        None
    };
    let size = std::fs::metadata(target)
        .map_err(|e| LocalError::io(target, e))?
        .len();
    let context_length = content
        .metadata
        .get("llama.context_length")
        .and_then(|v| v.to_u32().ok())
        .map_or(4096, |n| u64::from(n).min(4096));
    Ok(LocalModelInfo {
        name: name.to_owned(),
        path: target.to_path_buf(),
        display_name: text(&content, "general.name"),
        architecture: arch,
        quantization: if converted_from.is_some() {
            "Q8_0".into()
        } else {
            format!("{quantization:?}")
        },
        converted_from,
        size_bytes: size,
        context_length,
        source: source.to_owned(),
        sha256: digest.to_owned(),
        added_at: Utc::now(),
    })
}

fn text(content: &Content, key: &str) -> String {
    content
        .metadata
        .get(key)
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default()
}

/// The tensor type that holds most of the weights.
fn dominant_type(content: &Content) -> GgmlDType {
    let mut sizes: Vec<(GgmlDType, usize)> = Vec::new();
    for info in content.tensor_infos.values() {
        let n = info.shape.elem_count();
        match sizes.iter_mut().find(|(t, _)| *t == info.ggml_dtype) {
            Some((_, total)) => *total += n,
            None => sizes.push((info.ggml_dtype, n)),
        }
    }
    sizes
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or(GgmlDType::F32, |(t, _)| t)
}

/// Writes a copy of the model with every `slow` tensor re-quantised to Q8_0.
fn requantize(
    content: &Content,
    file: &mut std::fs::File,
    out: &Path,
    slow: &dyn Fn(GgmlDType) -> bool,
    stop: &CancellationToken,
) -> Result<(), LocalError> {
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    for name in names {
        if stop.is_cancelled() {
            return Err(LocalError::Stopped(String::new()));
        }
        let tensor = content
            .tensor(file, name, &Device::Cpu)
            .map_err(LocalError::model)?;
        let tensor = if slow(tensor.dtype()) {
            let dense = tensor.dequantize(&Device::Cpu).map_err(LocalError::model)?;
            QTensor::quantize(&dense, GgmlDType::Q8_0).map_err(LocalError::model)?
        } else {
            tensor
        };
        tensors.push((name.clone(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut writer =
        std::io::BufWriter::new(std::fs::File::create(out).map_err(|e| LocalError::io(out, e))?);
    gguf_file::write(&mut writer, &metadata, &tensors).map_err(LocalError::model)?;
    writer.flush().map_err(|e| LocalError::io(out, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_file_names() {
        assert_eq!(
            default_name("/m/SmolLM2-135M-Instruct.Q4_1.gguf"),
            "SmolLM2-135M-Instruct.Q4_1"
        );
        assert_eq!(
            default_name("https://h/x/tiny%20model.gguf?download=1"),
            "tiny-20model"
        );
        assert_eq!(default_name("C:\\m\\a b.gguf"), "a-b");
        assert_eq!(default_name("https://h/"), "h");
        for bad in ["", "../x", ".hidden", "a/b", "a b", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        check_name("SmolLM2-135M.Q8_0").expect("a fine name");
    }

    #[test]
    fn a_missing_model_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = resolve(dir.path(), "nope").expect_err("missing");
        assert!(e.to_string().contains("\"nope\""), "{e}");
        assert!(list(dir.path()).expect("list").is_empty());
        assert!(matches!(
            remove(dir.path(), "nope"),
            Err(LocalError::NotFound(_))
        ));
    }
}
