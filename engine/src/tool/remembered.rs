//! The person's remembered approval choices ("always allow" a tool, or a tool in one folder or
//! domain), kept per machine in a file of the data folder that only its owner can read, never in
//! the database: that may be a server other machines (or whoever can reach it) write to, and an
//! approval written there would let their model act on this machine's files.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Scope;
use crate::api::Policy;

/// The file's name in the data folder.
pub(crate) const FILE: &str = "approvals.json";

/// Everything remembered.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Remembered {
    /// Whole tools: the person's own allow/ask/deny.
    #[serde(default)]
    pub policies: BTreeMap<String, Policy>,
    /// "Always allow" for part of a tool. A grant of a kind this version no longer knows (a
    /// bare web domain, before grants named the scheme and port) is dropped, not the file.
    #[serde(default, deserialize_with = "known_grants")]
    pub grants: Vec<Grant>,
    /// Each MCP server as it was when its tools' choices were remembered (its command, arguments
    /// and URL): a choice for a server's tools holds only while the server is that program.
    #[serde(default)]
    pub servers: BTreeMap<String, String>,
}

impl Remembered {
    /// Forgets every choice for the tools of a server whose program changed (or that is gone),
    /// and notes the servers as they are now; `true` when something changed.
    pub(crate) fn follow_servers(&mut self, now: &BTreeMap<String, String>) -> bool {
        let changed: Vec<String> = self
            .servers
            .iter()
            .filter(|(name, was)| now.get(*name) != Some(*was))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &changed {
            let prefix = format!("{name}__");
            self.policies.retain(|tool, _| !tool.starts_with(&prefix));
            self.grants.retain(|g| !g.tool.starts_with(&prefix));
        }
        let before = self.servers.clone();
        self.servers.clone_from(now);
        !changed.is_empty() || before != self.servers
    }
}

fn known_grants<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Grant>, D::Error> {
    let raw = Vec::<serde_json::Value>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|g| match serde_json::from_value(g) {
            Ok(grant) => Some(grant),
            Err(e) => {
                tracing::warn!(%e, "a remembered grant of an old kind was dropped; it asks again");
                None
            }
        })
        .collect())
}

/// One remembered grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub tool: String,
    pub scope: Scope,
}

impl Remembered {
    /// Reads the file; a missing file is nothing remembered. A damaged one is set aside (renamed
    /// with `.damaged`, so nothing is lost) and nothing is remembered: every call asks again.
    pub(crate) fn load(path: &Path) -> Self {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Self::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), %e, "cannot read the remembered approvals; every tool asks again");
                return Self::default();
            }
        };
        match serde_json::from_str(&text) {
            Ok(remembered) => remembered,
            Err(e) => {
                let aside = path.with_extension("json.damaged");
                let moved = std::fs::rename(path, &aside);
                tracing::warn!(path = %path.display(), %e, kept = %aside.display(), ?moved, "the remembered approvals are damaged; every tool asks again");
                Self::default()
            }
        }
    }

    /// Writes the file whole (a new file renamed over the old, readable by its owner only).
    pub(crate) fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let part = partial(path);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&part)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&part, path)
    }
}

fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_survive_a_restart_in_a_file_only_the_owner_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(FILE);
        assert_eq!(Remembered::load(&path), Remembered::default());
        let remembered = Remembered {
            policies: BTreeMap::from([("fs_write".to_owned(), Policy::Allow)]),
            grants: vec![Grant {
                tool: "fs_edit".into(),
                scope: Scope::Path {
                    root: "/home/p/project".into(),
                    parts: vec!["notes".into()],
                },
            }],
            servers: BTreeMap::from([("notes".to_owned(), "python notes.py".to_owned())]),
        };
        remembered.save(&path).unwrap();
        assert_eq!(Remembered::load(&path), remembered);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_grant_of_an_old_kind_is_dropped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(
            &path,
            r#"{"policies": {"fs_write": "allow"}, "grants": [
                {"tool": "web_fetch", "scope": {"kind": "domain", "domain": "example.com"}},
                {"tool": "web_fetch", "scope": {"kind": "site", "origin": "https://example.com"}}
            ]}"#,
        )
        .unwrap();
        let remembered = Remembered::load(&path);
        assert_eq!(remembered.policies.get("fs_write"), Some(&Policy::Allow));
        assert_eq!(
            remembered.grants,
            vec![Grant {
                tool: "web_fetch".into(),
                scope: Scope::Site {
                    origin: "https://example.com".into()
                }
            }]
        );
    }

    #[test]
    fn a_servers_choices_die_when_its_program_changes() {
        let mut remembered = Remembered {
            policies: BTreeMap::from([
                ("notes__add".to_owned(), Policy::Allow),
                ("files__rm".to_owned(), Policy::Allow),
                ("fs_write".to_owned(), Policy::Allow),
            ]),
            ..Remembered::default()
        };
        let servers = |notes: &str| {
            BTreeMap::from([
                ("notes".to_owned(), notes.to_owned()),
                ("files".to_owned(), "npx files-server".to_owned()),
            ])
        };
        assert!(remembered.follow_servers(&servers("python notes.py")));
        assert_eq!(
            remembered.policies.len(),
            3,
            "the first look forgets nothing"
        );
        assert!(!remembered.follow_servers(&servers("python notes.py")));
        assert!(remembered.follow_servers(&servers("python /tmp/evil.py")));
        assert_eq!(
            remembered.policies.keys().collect::<Vec<_>>(),
            ["files__rm", "fs_write"]
        );
    }

    #[test]
    fn a_damaged_file_is_set_aside_and_nothing_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, "{\"policies\": {\"fs_write\": \"allow\"").unwrap();
        assert_eq!(Remembered::load(&path), Remembered::default());
        assert!(!path.exists());
        let aside = dir.path().join("approvals.json.damaged");
        assert!(std::fs::read_to_string(aside).unwrap().contains("fs_write"));
    }
}
