//! The tool registry and the approval policy that guards it. Approval is enforced here, in code: a
//! tool whose policy is `ask` does not run until a `Command::Turn(TurnCommand::Approve)` allows that very call, and a
//! `deny` tool never runs.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::oneshot;

use super::builtin::browser::Browsers;
use super::builtin::code::{RunCode, SandboxNetwork, Shell};
use super::builtin::drive::Drive;
use super::builtin::fs::{FsDelete, FsEdit, FsGlob, FsList, FsMove, FsRead, FsSearch, FsWrite};
use super::builtin::github::Github;
use super::builtin::memory::{Forget, Recall, Remember};
use super::builtin::vercel::Vercel;
use super::builtin::web::{Web, WebFetch, WebSearch};
use super::mcp::Mcp;
use super::remembered::{Grant, Remembered};
use super::{DynTool, Scope};
use crate::api::{Decision, Effect, Policy, ToolCallId, ToolInfo};
use crate::provider::ToolSpec;
use crate::sandboxes::Sandboxes;

/// All tools the agent can call: the built-in ones and those of the MCP servers.
pub(crate) struct Registry {
    tools: BTreeMap<String, Arc<dyn DynTool>>,
    pub mcp: Arc<Mcp>,
}

impl Registry {
    /// The built-in tools; the code tools run in `sandboxes`, the web tools share `web`.
    pub(crate) fn builtin(
        sandboxes: &Arc<Sandboxes>,
        connectors: &Connectors,
        mcp: Arc<Mcp>,
        store: &crate::store::Store,
        embeddings: &Arc<crate::store::embed::Embeddings>,
    ) -> Self {
        let mut registry = Self {
            tools: BTreeMap::new(),
            mcp,
        };
        registry.add(FsList);
        registry.add(FsRead);
        registry.add(FsWrite);
        registry.add(FsEdit);
        registry.add(FsMove);
        registry.add(FsDelete);
        registry.add(FsGlob);
        registry.add(FsSearch);
        registry.add(RunCode(sandboxes.clone()));
        registry.add(Shell(sandboxes.clone()));
        registry.add(SandboxNetwork(sandboxes.clone()));
        registry.add(Remember(store.clone(), embeddings.clone()));
        registry.add(Recall(store.clone(), embeddings.clone()));
        registry.add(Forget(store.clone()));
        registry.add(WebFetch(connectors.web.clone()));
        registry.add(WebSearch(connectors.web.clone()));
        super::builtin::browser::register(&mut registry, &connectors.browsers);
        super::builtin::github::register(&mut registry, &connectors.github);
        super::builtin::vercel::register(&mut registry, &connectors.vercel);
        super::builtin::drive::register(&mut registry, &connectors.drive);
        registry
    }

    pub(crate) fn add(&mut self, tool: impl DynTool + 'static) {
        self.tools.insert(tool.name().to_owned(), Arc::new(tool));
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<dyn DynTool>> {
        self.tools
            .get(name)
            .cloned()
            .or_else(|| self.mcp.tool(name))
    }

    /// Every tool: built-in ones by name, then those of running MCP servers.
    fn all(&self) -> Vec<Arc<dyn DynTool>> {
        let mut all: Vec<Arc<dyn DynTool>> = self
            .tools
            .values()
            .filter(|t| t.available())
            .cloned()
            .collect();
        all.extend(self.mcp.tools());
        all
    }

    /// The tools offered to the model: all but those whose policy is `deny`.
    pub(crate) fn specs(&self, policies: &Policies) -> Vec<ToolSpec> {
        self.all()
            .iter()
            .filter(|t| policies.policy(t.name(), t.effect()) != Policy::Deny)
            .map(|t| ToolSpec {
                name: t.name().to_owned(),
                description: t.description().to_owned(),
                parameters: t.schema(),
            })
            .collect()
    }

    pub(crate) fn infos(&self, policies: &Policies) -> Vec<ToolInfo> {
        self.all()
            .iter()
            .map(|t| ToolInfo {
                name: t.name().to_owned(),
                kind: t.kind(),
                description: t.description().to_owned(),
                effect: t.effect(),
                policy: policies.policy(t.name(), t.effect()),
                schema: t.schema(),
            })
            .collect()
    }
}

/// The outside services the built-in tools reach, each with settings changed live.
pub(crate) struct Connectors {
    pub web: Arc<Web>,
    /// The browsers the agent drives, one per conversation.
    pub browsers: Arc<Browsers>,
    pub github: Arc<Github>,
    pub vercel: Arc<Vercel>,
    pub drive: Arc<Drive>,
}

impl Connectors {
    pub(crate) fn new(config: &crate::config::Config, secrets: &crate::secrets::Secrets) -> Self {
        Self {
            web: Web::new(config.web.clone(), secrets.clone()),
            browsers: Browsers::new(config.web.clone(), config.data_dir.clone()),
            github: Github::new(config.github.clone().filter(|c| c.enabled), secrets.clone()),
            vercel: Vercel::new(config.vercel.clone().filter(|c| c.enabled), secrets.clone()),
            drive: Drive::new(config.drive.clone().filter(|c| c.enabled), secrets.clone()),
        }
    }

    /// Each service gets its settings when its tools are on (signing out turns them off).
    pub(crate) fn configure(&self, config: &crate::config::Config) {
        self.web.configure(config.web.clone());
        self.browsers.configure(config.web.clone());
        self.github
            .configure(config.github.clone().filter(|c| c.enabled));
        self.vercel
            .configure(config.vercel.clone().filter(|c| c.enabled));
        self.drive
            .configure(config.drive.clone().filter(|c| c.enabled));
    }
}

/// Who decides whether a tool runs: configured policies, choices the person made ("always allow",
/// for the whole tool or a folder or domain, remembered per machine in `approvals.json` of the
/// data folder), and defaults by effect.
#[derive(Default)]
pub(crate) struct Policies {
    configured: RwLock<BTreeMap<String, Policy>>,
    remembered: RwLock<Remembered>,
    /// Where the remembered choices are kept (none: only in memory).
    file: Option<PathBuf>,
}

impl Policies {
    pub(crate) fn new(
        configured: BTreeMap<String, Policy>,
        remembered: Remembered,
        file: Option<PathBuf>,
    ) -> Self {
        Self {
            configured: RwLock::new(configured),
            remembered: RwLock::new(remembered),
            file,
        }
    }

    /// The policy for one call: as `policy`, except that an `ask` becomes `allow` when the call's
    /// scope lies within a remembered grant (kept under `grants`, the tool's own name or its
    /// family's).
    pub(crate) fn policy_for_call(
        &self,
        tool: &str,
        grants: &str,
        effect: Effect,
        scope: Option<&Scope>,
    ) -> Policy {
        let policy = self.policy(tool, effect);
        if policy != Policy::Ask {
            return policy;
        }
        let granted = scope.is_some_and(|scope| {
            self.remembered.read().is_ok_and(|r| {
                r.grants
                    .iter()
                    .any(|g| g.tool == grants && scope.within(&g.scope))
            })
        });
        if granted { Policy::Allow } else { Policy::Ask }
    }

    /// Remembers "always allow" for calls of `tool` within `scope`.
    pub(crate) fn grant(&self, tool: &str, scope: Scope) -> std::io::Result<()> {
        self.change(|r| {
            let grant = Grant {
                tool: tool.to_owned(),
                scope,
            };
            if !r.grants.contains(&grant) {
                r.grants.push(grant);
            }
        })
    }

    /// Notes the MCP servers as configured now; the remembered choices for the tools of one whose
    /// program changed are forgotten (written down at once).
    pub(crate) fn follow_servers(
        &self,
        servers: &BTreeMap<String, crate::config::McpServerConfig>,
    ) {
        let now = servers
            .iter()
            .map(|(name, s)| {
                let program = match (&s.command, &s.url) {
                    (Some(command), _) => format!("{command} {}", s.args.join(" ")),
                    (None, Some(url)) => url.clone(),
                    (None, None) => String::new(),
                };
                (name.clone(), program)
            })
            .collect();
        if let Err(e) = self.change(|r| {
            r.follow_servers(&now);
        }) {
            tracing::warn!("writing the remembered approvals: {e}");
        }
    }

    /// Replaces the policies that come from the config file.
    pub(crate) fn configure(&self, configured: BTreeMap<String, Policy>) {
        if let Ok(mut c) = self.configured.write() {
            *c = configured;
        }
    }

    /// A `deny` in the config file always wins; then the person's remembered choice; then the
    /// config; then the default for the effect.
    pub(crate) fn policy(&self, tool: &str, effect: crate::api::Effect) -> Policy {
        let configured = self
            .configured
            .read()
            .ok()
            .and_then(|c| c.get(tool).copied());
        if configured == Some(Policy::Deny) {
            return Policy::Deny;
        }
        let remembered = self
            .remembered
            .read()
            .ok()
            .and_then(|r| r.policies.get(tool).copied());
        remembered
            .or(configured)
            .unwrap_or_else(|| effect.default_policy())
    }

    /// Remembers the person's policy for a whole tool.
    pub(crate) fn remember(&self, tool: &str, policy: Policy) -> std::io::Result<()> {
        self.change(|r| {
            r.policies.insert(tool.to_owned(), policy);
        })
    }

    /// Changes what is remembered and writes it down, under the lock so two changes never write
    /// the file out of order; in memory it holds even when the file cannot be written (the error
    /// says so).
    fn change(&self, edit: impl FnOnce(&mut Remembered)) -> std::io::Result<()> {
        let mut remembered = self
            .remembered
            .write()
            .map_err(|_| std::io::Error::other("the remembered approvals are poisoned"))?;
        edit(&mut remembered);
        match &self.file {
            Some(file) => remembered.save(file),
            None => Ok(()),
        }
    }
}

/// An approval the person gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub decision: Decision,
    pub remember: bool,
    /// With `remember`: only for this path prefix or domain.
    pub scope: Option<String>,
}

/// Tool calls waiting for the person.
#[derive(Default)]
pub(crate) struct Approvals {
    pending: Mutex<HashMap<ToolCallId, oneshot::Sender<Answer>>>,
}

impl Approvals {
    /// Registers a waiting call; the receiver yields the person's answer.
    pub(crate) fn wait_for(&self, call: &ToolCallId) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(call.clone(), tx);
        }
        rx
    }

    /// Delivers an answer; `false` when no such call waits.
    pub(crate) fn answer(&self, call: &ToolCallId, answer: Answer) -> bool {
        let sender = self.pending.lock().ok().and_then(|mut p| p.remove(call));
        sender.is_some_and(|tx| tx.send(answer).is_ok())
    }

    /// Forgets a call that stopped waiting (cancelled).
    pub(crate) fn forget(&self, call: &ToolCallId) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(call);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Effect;

    #[tokio::test]
    async fn policy_precedence() {
        let mut configured = BTreeMap::new();
        configured.insert("fs_write".to_owned(), Policy::Ask);
        configured.insert("fs_read".to_owned(), Policy::Deny);
        let policies = Policies::new(configured, Remembered::default(), None);
        assert_eq!(policies.policy("fs_list", Effect::ReadOnly), Policy::Allow);
        assert_eq!(policies.policy("other", Effect::Destructive), Policy::Ask);
        assert_eq!(policies.policy("fs_write", Effect::Mutating), Policy::Ask);
        policies.remember("fs_write", Policy::Allow).unwrap();
        assert_eq!(policies.policy("fs_write", Effect::Mutating), Policy::Allow);
        policies.remember("fs_read", Policy::Allow).unwrap();
        assert_eq!(policies.policy("fs_read", Effect::ReadOnly), Policy::Deny);

        let sandboxes = Arc::new(Sandboxes::new(crate::config::SandboxConfig::default()));
        // No Chromium: the browser tools are not offered (with one, they are: suite::turns).
        let mut config = crate::config::Config::new("c".into(), "d".into());
        config.web.chromium = Some("/nonexistent/chromium".into());
        let connectors = Connectors::new(&config, &crate::secrets::Secrets::new());
        let mcp = Mcp::new(&BTreeMap::new(), crate::secrets::Secrets::new());
        let store = crate::store::Store::open("mem://").await.unwrap();
        let embeddings = Arc::new(crate::store::embed::Embeddings::new(
            None,
            crate::secrets::Secrets::new(),
        ));
        let registry = Registry::builtin(&sandboxes, &connectors, mcp, &store, &embeddings);
        let offered: Vec<_> = registry
            .specs(&policies)
            .into_iter()
            .map(|s| s.name)
            .collect();
        // `forget` and `remember` ask (mutating) but are offered; `fs_read` is denied.
        assert_eq!(
            offered,
            vec![
                "forget",
                "fs_delete",
                "fs_edit",
                "fs_glob",
                "fs_list",
                "fs_move",
                "fs_search",
                "fs_write",
                "recall",
                "remember",
                "run_code",
                "sandbox_network",
                "shell",
                "web_fetch",
                "web_search"
            ]
        );
    }

    fn path(root: &str, parts: &[&str]) -> Scope {
        Scope::Path {
            root: root.into(),
            parts: parts.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn grants_cover_paths_under_a_folder_of_one_root_and_subdomains() {
        let policies = Policies::default();
        policies
            .grant("fs_edit", path("/p/one", &["notes"]))
            .unwrap();
        let web = Scope::Site {
            origin: "https://example.com".into(),
        };
        policies.grant("web_fetch", web).unwrap();
        let edit = |scope: Scope| {
            policies.policy_for_call("fs_edit", "fs_edit", Effect::Mutating, Some(&scope))
        };
        assert_eq!(edit(path("/p/one", &["notes", "a.md"])), Policy::Allow);
        assert_eq!(
            edit(path("/p/one", &["notes", "deep", "b.md"])),
            Policy::Allow
        );
        assert_eq!(edit(path("/p/one", &["notes"])), Policy::Allow);
        assert_eq!(edit(path("/p/one", &["notesX", "a.md"])), Policy::Ask);
        assert_eq!(edit(path("/p/one", &["other", "a.md"])), Policy::Ask);
        assert_eq!(edit(path("/p/one", &[])), Policy::Ask);
        // The same folder name in another project is another folder.
        assert_eq!(edit(path("/p/two", &["notes", "a.md"])), Policy::Ask);
        assert_eq!(
            policies.policy_for_call("fs_edit", "fs_edit", Effect::Mutating, None),
            Policy::Ask
        );
        // A grant for one tool says nothing about another.
        assert_eq!(
            policies.policy_for_call(
                "fs_write",
                "fs_write",
                Effect::Mutating,
                Some(&path("/p/one", &["notes", "a.md"]))
            ),
            Policy::Ask
        );
        let fetch = |url: &str| {
            let scope = Scope::site(&url::Url::parse(url).unwrap()).unwrap();
            policies.policy_for_call("web_fetch", "web_fetch", Effect::External, Some(&scope))
        };
        assert_eq!(fetch("https://example.com/a"), Policy::Allow);
        assert_eq!(fetch("https://docs.Example.com:443/b"), Policy::Allow);
        assert_eq!(fetch("https://badexample.com/"), Policy::Ask);
        assert_eq!(fetch("https://example.com.evil.net/"), Policy::Ask);
        // A grant is for one scheme and one port.
        assert_eq!(fetch("http://example.com/"), Policy::Ask);
        assert_eq!(fetch("https://example.com:8443/"), Policy::Ask);
        assert_eq!(fetch("https://user@example.com:6379/"), Policy::Ask);
        // A configured deny still wins over a grant.
        policies.configure(BTreeMap::from([("fs_edit".to_owned(), Policy::Deny)]));
        assert_eq!(edit(path("/p/one", &["notes", "a.md"])), Policy::Deny);
    }

    #[test]
    fn a_chosen_folder_becomes_a_grant_only_when_it_is_a_plain_folder() {
        let call = path("/p/one", &["notes", "a.md"]);
        assert_eq!(call.grant("notes/"), Some(path("/p/one", &["notes"])));
        assert_eq!(
            call.grant("./notes/./deep"),
            Some(path("/p/one", &["notes", "deep"]))
        );
        for everywhere in ["", ".", "./", " / "] {
            let grant = call.grant(everywhere);
            assert!(
                grant.as_ref().is_none_or(Scope::is_everywhere),
                "{everywhere:?} -> {grant:?}"
            );
        }
        for refused in ["notes/..", "../one/notes", "/etc", "notes/\u{0}x"] {
            assert_eq!(call.grant(refused), None, "{refused:?}");
        }
        assert_eq!(call.suggestion().value, "notes");
        let site = Scope::site(&url::Url::parse("http://127.0.0.1:8080/x").unwrap()).unwrap();
        assert_eq!(site.suggestion().value, "http://127.0.0.1:8080");
        assert_eq!(site.grant("127.0.0.1:8080"), Some(site.clone()));
        let bare = site.grant("127.0.0.1").unwrap();
        assert!(!site.within(&bare), "a grant without a port is for port 80");
        assert_eq!(site.grant("ftp://127.0.0.1:8080"), None);
        assert_eq!(path("/p/one", &["a.md"]).suggestion().value, "");
    }

    #[tokio::test]
    async fn schemas_come_from_doc_comments() {
        let sandboxes = Arc::new(Sandboxes::new(crate::config::SandboxConfig::default()));
        let connectors = Connectors::new(
            &crate::config::Config::new("c".into(), "d".into()),
            &crate::secrets::Secrets::new(),
        );
        let mcp = Mcp::new(&BTreeMap::new(), crate::secrets::Secrets::new());
        let store = crate::store::Store::open("mem://").await.unwrap();
        let embeddings = Arc::new(crate::store::embed::Embeddings::new(
            None,
            crate::secrets::Secrets::new(),
        ));
        let registry = Registry::builtin(&sandboxes, &connectors, mcp, &store, &embeddings);
        let write = registry.get("fs_write").unwrap();
        let schema = write.schema();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], serde_json::json!(["path", "content"]));
        let desc = schema["properties"]["path"]["description"]
            .as_str()
            .unwrap();
        assert!(desc.contains("relative to the workspace"), "{desc}");
    }

    #[tokio::test]
    async fn approvals_reach_the_waiting_call_once() {
        let approvals = Approvals::default();
        let call = ToolCallId::new();
        let rx = approvals.wait_for(&call);
        let answer = Answer {
            decision: Decision::Allow,
            remember: false,
            scope: None,
        };
        assert!(approvals.answer(&call, answer.clone()));
        assert!(!approvals.answer(&call, answer.clone()));
        assert_eq!(rx.await.unwrap(), answer);
    }
}
