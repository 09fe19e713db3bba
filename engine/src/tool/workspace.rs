//! The folders the person allowed, opened as cap-std capabilities: every file tool reaches the disk
//! only through these handles, so `..`, absolute paths and symlinks cannot lead outside them.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use super::{Scope, ToolError};
use crate::api::{FileEntry, FileKind};

/// One allowed folder.
pub(crate) struct Root {
    /// How paths name it when there are several roots (its folder name, made unique).
    pub name: String,
    /// The capability.
    pub dir: Dir,
    /// Where it is on disk; only the directory walker (which never follows links) starts from it,
    /// every open goes through `dir`.
    pub path: PathBuf,
    /// The same with every link resolved: what remembered grants are bound to, so a grant for
    /// `src` in one project never covers `src` in another.
    pub real: PathBuf,
}

impl Root {
    /// How a path inside this root is shown to the model and the person.
    pub(crate) fn show(&self, several: bool, rel: &Path) -> String {
        let rel = rel.to_string_lossy().replace('\\', "/");
        match (several, rel.is_empty()) {
            (true, true) => self.name.clone(),
            (true, false) => format!("{}/{rel}", self.name),
            (false, true) => ".".into(),
            (false, false) => rel,
        }
    }
}

/// A workspace folder that could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open workspace folder {}: {source}", path.display())]
pub(crate) struct OpenError {
    path: PathBuf,
    source: std::io::Error,
}

/// All allowed folders.
#[derive(Default)]
pub(crate) struct Workspace {
    roots: Vec<Arc<Root>>,
}

impl Workspace {
    /// Opens each folder; a folder that cannot be opened is an error naming it.
    pub(crate) fn open(paths: &[PathBuf]) -> Result<Self, OpenError> {
        let mut roots: Vec<Arc<Root>> = Vec::new();
        for path in paths {
            let dir =
                Dir::open_ambient_dir(path, ambient_authority()).map_err(|source| OpenError {
                    path: path.clone(),
                    source,
                })?;
            let base = path
                .file_name()
                .map_or_else(|| "root".to_owned(), |n| n.to_string_lossy().into_owned());
            let mut name = base.clone();
            let mut n = 2;
            while roots.iter().any(|r| r.name == name) {
                name = format!("{base}-{n}");
                n += 1;
            }
            roots.push(Arc::new(Root {
                name,
                dir,
                path: path.clone(),
                real: std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()),
            }));
        }
        Ok(Self { roots })
    }

    /// Picks the root a tool path refers to and the path inside it. With one root, paths are
    /// relative to it; with several, the first component names the root.
    pub(crate) fn resolve(&self, path: &str) -> Result<(Arc<Root>, PathBuf), ToolError> {
        let Some(first) = self.roots.first() else {
            return Err(ToolError::RespondToModel(
                "no workspace folder is allowed yet; ask the person to add one in settings (or pass --workspace DIR)".into(),
            ));
        };
        if let Some(c) = path.chars().find(|c| is_odd(*c)) {
            return Err(ToolError::RespondToModel(format!(
                "the path {path:?} contains the invisible or control character U+{:04X}; use plain names",
                u32::from(c)
            )));
        }
        let p = Path::new(path.trim());
        if p.is_absolute() || p.has_root() || looks_like_windows_absolute(path) {
            return Err(ToolError::RespondToModel(format!(
                "{path:?} is an absolute path; use a path relative to the workspace"
            )));
        }
        if p.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(ToolError::RespondToModel(format!(
                "{path:?} contains `..`; name the file by its path from the workspace folder, without `..`"
            )));
        }
        let rel: PathBuf = p
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect();
        if self.roots.len() == 1 {
            return Ok((first.clone(), rel));
        }
        let mut parts = rel.components();
        let Some(Component::Normal(head)) = parts.next() else {
            return Err(ToolError::RespondToModel(format!(
                "with several workspace folders, paths start with a folder name: {}",
                self.root_names()
            )));
        };
        let head = head.to_string_lossy();
        match self.roots.iter().find(|r| r.name == head) {
            Some(root) => Ok((root.clone(), parts.as_path().to_path_buf())),
            None => Err(ToolError::RespondToModel(format!(
                "{head:?} is not a workspace folder; the folders are: {}",
                self.root_names()
            ))),
        }
    }

    /// Where a tool path really leads, to compare with remembered grants: its workspace folder
    /// and the plain names inside it, with every link on the way resolved as the capability
    /// resolves it (the part of the path that exists; the rest, still to be created, as written).
    /// So no link can carry a grant for one folder to another. `None` when the path is refused.
    pub(crate) fn scope_of(&self, path: &str) -> Option<Scope> {
        let (root, rel) = self.resolve(path).ok()?;
        let names: Vec<&std::ffi::OsStr> = rel.iter().collect();
        for exists in (0..=names.len()).rev() {
            let head: PathBuf = names[..exists].iter().collect();
            let head = if head.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                head
            };
            let Ok(real) = root.dir.canonicalize(&head) else {
                continue;
            };
            let parts = real
                .components()
                .filter_map(|c| match c {
                    Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
                    _ => None,
                })
                .chain(
                    names[exists..]
                        .iter()
                        .map(|n| n.to_string_lossy().into_owned()),
                )
                .collect();
            return Some(Scope::Path {
                root: root.real.clone(),
                parts,
            });
        }
        None
    }

    /// Lists a folder, folders first, then by name. Blocking: call from a blocking task. With
    /// several roots, the empty path lists the roots.
    pub(crate) fn list(&self, path: &str) -> Result<Vec<FileEntry>, ToolError> {
        if path.trim().is_empty() && self.roots.len() > 1 {
            return Ok(self
                .roots
                .iter()
                .map(|r| FileEntry {
                    name: r.name.clone(),
                    kind: FileKind::Dir,
                    size: 0,
                })
                .collect());
        }
        let (root, rel) = self.resolve(path)?;
        let target = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel.as_path()
        };
        let mut entries = Vec::new();
        for entry in root.dir.read_dir(target).map_err(|e| io_error(path, &e))? {
            let entry = entry.map_err(|e| io_error(path, &e))?;
            let file_type = entry.file_type().map_err(|e| io_error(path, &e))?;
            let (kind, size) = if file_type.is_dir() {
                (FileKind::Dir, 0)
            } else if file_type.is_symlink() {
                (FileKind::Link, 0)
            } else {
                (
                    FileKind::File,
                    entry.metadata().map(|m| m.len()).unwrap_or(0),
                )
            };
            entries.push(FileEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
                size,
            });
        }
        entries.sort_by(|a, b| {
            (a.kind != FileKind::Dir, &a.name).cmp(&(b.kind != FileKind::Dir, &b.name))
        });
        Ok(entries)
    }

    /// Whether paths carry a root name.
    pub(crate) fn several(&self) -> bool {
        self.roots.len() > 1
    }

    /// The roots a walk from `path` covers, each with the folder inside it to start at: every root
    /// for the empty path when there are several, else the one `path` names. The start folder is
    /// opened through the capability first, so a walk never starts outside a root.
    pub(crate) fn walk_starts(&self, path: &str) -> Result<Vec<(Arc<Root>, PathBuf)>, ToolError> {
        if path.trim().is_empty() && self.several() {
            return Ok(self
                .roots
                .iter()
                .map(|r| (r.clone(), PathBuf::new()))
                .collect());
        }
        let (root, rel) = self.resolve(path)?;
        if !rel.as_os_str().is_empty() {
            let meta = root.dir.metadata(&rel).map_err(|e| io_error(path, &e))?;
            if !meta.is_dir() {
                return Err(ToolError::RespondToModel(format!(
                    "{path:?} is not a folder"
                )));
            }
            root.dir.open_dir(&rel).map_err(|e| io_error(path, &e))?;
        }
        Ok(vec![(root, rel)])
    }

    fn root_names(&self) -> String {
        self.roots
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Characters that make a path look like something it is not: controls, and the invisible and
/// direction-changing format characters.
fn is_odd(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

fn looks_like_windows_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':') || path.starts_with("\\\\")
}

/// Turns an I/O error from a capability call into a message for the model.
pub(crate) fn io_error(path: &str, e: &std::io::Error) -> ToolError {
    use std::io::ErrorKind;
    let message = match e.kind() {
        ErrorKind::NotFound => format!("{path:?} does not exist"),
        // cap-std reports escapes (`..`, symlinks out) as PermissionDenied.
        ErrorKind::PermissionDenied => {
            format!("{path:?} is outside the workspace or not accessible: access refused")
        }
        ErrorKind::AlreadyExists => format!("{path:?} already exists"),
        _ => format!("{path:?}: {e}"),
    };
    ToolError::RespondToModel(message)
}
