//! MCP servers (via rmcp): each configured server's tools join the registry as `SERVER__TOOL`,
//! with the `External` effect (so they ask by default). Servers start lazily, the first time tools
//! are needed; one that exited is started again on its next use; a stdio server's stderr goes to
//! the log (redacted) and its last lines are kept for the settings screen.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{DynTool, ToolCx, ToolError, ToolOutput};
use crate::api::{Effect, McpServerInfo, McpState};
use crate::config::McpServerConfig;
use crate::secrets::Secrets;

/// How long a server may take to start and list its tools, and a call to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// A server that failed to start is not tried again sooner than this (except for a direct call).
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// The app's environment variables a stdio server gets (besides those configured for it).
const PASSED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SHELL",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "SystemRoot",
    "SYSTEMROOT",
    "windir",
    "COMSPEC",
    "PATHEXT",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "ProgramData",
    "ProgramFiles",
];

/// The longest line of a server's stderr that is kept.
const MAX_STDERR_LINE: usize = 4096;
/// Lines of a server's stderr kept for the settings screen.
const STDERR_LINES: usize = 20;
/// Joins a server's name and its tool's name.
pub(crate) const SEPARATOR: &str = "__";

/// Every configured MCP server.
pub(crate) struct Mcp {
    servers: RwLock<BTreeMap<String, Arc<Server>>>,
    secrets: Secrets,
}

impl Mcp {
    pub(crate) fn new(config: &BTreeMap<String, McpServerConfig>, secrets: Secrets) -> Arc<Self> {
        let mcp = Arc::new(Self {
            servers: RwLock::default(),
            secrets,
        });
        mcp.configure(config);
        mcp
    }

    fn servers(&self) -> Vec<Arc<Server>> {
        self.servers
            .read()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Applies a new server list: unchanged servers keep running; changed or removed ones stop.
    pub(crate) fn configure(&self, config: &BTreeMap<String, McpServerConfig>) {
        let Ok(mut servers) = self.servers.write() else {
            return;
        };
        let old = std::mem::take(&mut *servers);
        for (name, wanted) in config {
            let server = match old.get(name) {
                Some(server) if &server.config == wanted => server.clone(),
                _ => Arc::new(Server::new(name, wanted.clone(), self.secrets.clone())),
            };
            servers.insert(name.clone(), server);
        }
        for (name, server) in old {
            if !servers.get(&name).is_some_and(|s| Arc::ptr_eq(s, &server)) {
                tokio::spawn(async move { server.stop().await });
            }
        }
    }

    /// Starts every enabled server that is not running (in parallel), so their tools are known.
    /// A server that failed recently is left alone until `RETRY_AFTER` has passed.
    pub(crate) async fn start_all(&self) {
        let starts =
            self.servers()
                .into_iter()
                .filter(|s| s.config.enabled)
                .map(|server| async move {
                    if server.wants_start() {
                        let _ = server.running().await;
                    }
                });
        futures::future::join_all(starts).await;
    }

    /// Stops the server named `name` and starts it again; its state (running, or failed and why)
    /// is in `infos` after. Refused for an unknown name or a server that is off.
    pub(crate) async fn restart(&self, name: &str) -> Result<(), crate::api::ErrorInfo> {
        use crate::api::{ErrorInfo, ErrorKind};
        let server = self
            .servers
            .read()
            .ok()
            .and_then(|s| s.get(name).cloned())
            .ok_or_else(|| {
                ErrorInfo::new(ErrorKind::Missing, format!("no MCP server named {name:?}"))
            })?;
        if !server.config.enabled {
            return Err(ErrorInfo::new(
                ErrorKind::Conflict,
                format!("the MCP server {name} is off; turn it on first"),
            ));
        }
        server.stop().await;
        server.status().last_try = None;
        let _ = server.running().await;
        Ok(())
    }

    /// The tools of the running servers.
    pub(crate) fn tools(&self) -> Vec<Arc<dyn DynTool>> {
        self.servers()
            .iter()
            .filter(|s| s.config.enabled)
            .flat_map(|s| s.tools())
            .collect()
    }

    /// One tool by its full name.
    pub(crate) fn tool(&self, name: &str) -> Option<Arc<dyn DynTool>> {
        let (server, _) = name.split_once(SEPARATOR)?;
        let server = self.servers.read().ok()?.get(server).cloned()?;
        if !server.config.enabled {
            return None;
        }
        server.tools().into_iter().find(|t| t.name() == name)
    }

    /// What the settings screen and `aetheria mcp list` show.
    pub(crate) fn infos(&self) -> Vec<McpServerInfo> {
        self.servers().iter().map(|s| s.info()).collect()
    }

    /// Stops every server (engine shutdown).
    pub(crate) async fn stop_all(&self) {
        futures::future::join_all(self.servers().iter().map(|s| s.stop())).await;
    }
}

/// What is known about one server.
#[derive(Default)]
struct Status {
    state: Option<McpState>,
    error: Option<String>,
    tools: Vec<Arc<McpTool>>,
    stderr: VecDeque<String>,
    restarts: u32,
    started_once: bool,
    last_try: Option<Instant>,
}

/// A live connection: the MCP session and, for a stdio server, word of its process's exit (so a
/// crash fails the call in flight at once) and the switch that ends the process.
struct Connection {
    service: RunningService<RoleClient, ()>,
    exited: watch::Receiver<Option<String>>,
    kill: CancellationToken,
}

impl Connection {
    fn is_closed(&self) -> bool {
        self.service.is_closed() || self.exited.borrow().is_some()
    }

    async fn close(self) {
        self.kill.cancel();
        let _ = self.service.cancel().await;
    }
}

/// One MCP server.
struct Server {
    name: String,
    config: McpServerConfig,
    secrets: Secrets,
    /// The connection, when running; held only while connecting or stopping.
    client: tokio::sync::Mutex<Option<Connection>>,
    status: Arc<Mutex<Status>>,
}

impl Server {
    fn new(name: &str, config: McpServerConfig, secrets: Secrets) -> Self {
        Self {
            name: name.to_owned(),
            config,
            secrets,
            client: tokio::sync::Mutex::new(None),
            status: Arc::default(),
        }
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn tools(&self) -> Vec<Arc<dyn DynTool>> {
        self.status()
            .tools
            .iter()
            .map(|t| t.clone() as Arc<dyn DynTool>)
            .collect()
    }

    fn wants_start(&self) -> bool {
        let status = self.status();
        match status.state {
            Some(McpState::Running) => false,
            Some(McpState::Failed) => status.last_try.is_none_or(|t| t.elapsed() >= RETRY_AFTER),
            _ => true,
        }
    }

    fn target(&self) -> String {
        match (&self.config.command, &self.config.url) {
            (Some(command), _) => std::iter::once(command.as_str())
                .chain(self.config.args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            (None, Some(url)) => url.clone(),
            (None, None) => String::new(),
        }
    }

    fn info(&self) -> McpServerInfo {
        let status = self.status();
        McpServerInfo {
            name: self.name.clone(),
            target: self.target(),
            enabled: self.config.enabled,
            state: if self.config.enabled {
                status.state.unwrap_or(McpState::NotStarted)
            } else {
                McpState::Disabled
            },
            tools: status.tools.iter().map(|t| t.full_name.clone()).collect(),
            error: status.error.clone(),
            restarts: status.restarts,
            stderr: status.stderr.iter().cloned().collect(),
        }
    }

    /// The connection to the server, started (or started again after it exited) when needed.
    async fn running(
        self: &Arc<Self>,
    ) -> Result<(Peer<RoleClient>, watch::Receiver<Option<String>>), ToolError> {
        let mut client = self.client.lock().await;
        if let Some(connection) = client.as_ref() {
            if !connection.is_closed() {
                return Ok((connection.service.peer().clone(), connection.exited.clone()));
            }
            tracing::warn!(server = %self.name, "MCP server exited; starting it again");
        }
        if let Some(old) = client.take() {
            old.close().await;
        }
        let restart = self.status().started_once;
        self.status().last_try = Some(Instant::now());
        let outcome = tokio::time::timeout(START_TIMEOUT, self.connect())
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "it did not answer within {} s",
                    START_TIMEOUT.as_secs()
                ))
            });
        match outcome {
            Ok((connection, tools)) => {
                let peer = connection.service.peer().clone();
                let exited = connection.exited.clone();
                *client = Some(connection);
                let mut status = self.status();
                status.state = Some(McpState::Running);
                status.error = None;
                status.tools = tools;
                if restart {
                    status.restarts += 1;
                }
                status.started_once = true;
                Ok((peer, exited))
            }
            Err(message) => {
                let message = format!("the MCP server {} did not start: {message}", self.name);
                tracing::warn!("{message}");
                let mut status = self.status();
                status.state = Some(McpState::Failed);
                status.error = Some(message.clone());
                status.tools.clear();
                Err(ToolError::RespondToModel(message))
            }
        }
    }

    async fn connect(self: &Arc<Self>) -> Result<(Connection, Vec<Arc<McpTool>>), String> {
        let kill = CancellationToken::new();
        let (exit_tx, exited) = watch::channel(None);
        let service = match (&self.config.command, &self.config.url) {
            (Some(command), _) => {
                // The server gets what a program needs to run and the variables configured for
                // it, not the app's whole environment (keys in variables stay with the app).
                let redactor = self.secrets.redactor();
                for value in self.config.env.values() {
                    redactor.learn(value);
                }
                let kept = PASSED_ENV
                    .iter()
                    .filter_map(|name| std::env::var_os(name).map(|v| (*name, v)));
                let mut child = tokio::process::Command::new(command)
                    .args(&self.config.args)
                    .env_clear()
                    .envs(kept)
                    .envs(&self.config.env)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .map_err(|e| format!("{command} could not be run: {e}"))?;
                let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                    return Err("its stdin and stdout could not be opened".into());
                };
                if let Some(stderr) = child.stderr.take() {
                    self.log_stderr(stderr);
                }
                let name = self.name.clone();
                let stop = kill.clone();
                tokio::spawn(async move {
                    let status = tokio::select! {
                        status = child.wait() => status,
                        () = stop.cancelled() => {
                            let _ = child.kill().await;
                            child.wait().await
                        }
                    };
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    tracing::info!(server = %name, "MCP server process ended: {status}");
                    let _ = exit_tx.send(Some(status));
                });
                ().serve((stdout, stdin)).await.map_err(|e| e.to_string())?
            }
            (None, Some(url)) => {
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                if let Some(account) = &self.config.token_ref {
                    if let Some(why) = crate::body::in_the_clear(url, "its token") {
                        return Err(why);
                    }
                    let secrets = self.secrets.clone();
                    let account = account.clone();
                    let token = tokio::task::spawn_blocking(move || secrets.get(&account))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?
                        .ok_or("its token is not in the keychain")?;
                    config = config.auth_header(token);
                }
                ().serve(StreamableHttpClientTransport::from_config(config))
                    .await
                    .map_err(|e| e.to_string())?
            }
            (None, None) => return Err("it has neither a command nor a url".into()),
        };
        let listed = service
            .peer()
            .list_all_tools()
            .await
            .map_err(|e| format!("listing its tools failed: {e}"))?;
        // A name a provider would refuse (OpenAI takes [A-Za-z0-9_-], at most 64) would fail
        // every turn that offers it: such tools are left out, by name in the log.
        let (listed, refused): (Vec<_>, Vec<_>) = listed.into_iter().partition(|tool| {
            let full = self.name.len() + SEPARATOR.len() + tool.name.len();
            !tool.name.is_empty()
                && full <= 64
                && tool
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !refused.is_empty() {
            let names: Vec<&str> = refused.iter().map(|t| t.name.as_ref()).collect();
            tracing::warn!(server = %self.name, ?names, "MCP tools with names a model cannot call are left out");
        }
        let tools = listed
            .into_iter()
            .map(|tool| {
                Arc::new(McpTool {
                    full_name: format!("{}{SEPARATOR}{}", self.name, tool.name),
                    description: tool.description.as_deref().map_or_else(
                        || format!("{} (MCP server {})", tool.name, self.name),
                        |d| format!("{d} (MCP server {})", self.name),
                    ),
                    schema: serde_json::Value::Object((*tool.input_schema).clone()),
                    tool: tool.name.to_string(),
                    server: Arc::downgrade(self),
                })
            })
            .collect();
        Ok((
            Connection {
                service,
                exited,
                kill,
            },
            tools,
        ))
    }

    /// Sends each stderr line to the log and keeps the last few.
    fn log_stderr(&self, stderr: tokio::process::ChildStderr) {
        let name = self.name.clone();
        let status = self.status.clone();
        let redactor = self.secrets.redactor();
        tokio::spawn(async move {
            use futures::StreamExt;
            // A line longer than this is dropped (noted once), never held whole.
            use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, FramedRead};
            let codec =
                AnyDelimiterCodec::new_with_max_length(b"\n".to_vec(), Vec::new(), MAX_STDERR_LINE);
            let mut lines = FramedRead::new(stderr, codec);
            let mut overlong = false;
            loop {
                let line = match lines.next().await {
                    Some(Ok(line)) => String::from_utf8_lossy(&line).trim_end().to_owned(),
                    Some(Err(AnyDelimiterCodecError::MaxChunkLengthExceeded)) => {
                        overlong = true;
                        format!("[a line longer than {MAX_STDERR_LINE} bytes was left out]")
                    }
                    // After an overlong line the reader pauses once; it goes on with the rest.
                    None if std::mem::take(&mut overlong) => continue,
                    None | Some(Err(AnyDelimiterCodecError::Io(_))) => break,
                };
                // Shown in the window and the log: an escape sequence stays visible, inert text.
                let mut shown = String::with_capacity(line.len());
                for c in redactor.redact(&line).chars() {
                    if c.is_control() {
                        shown.extend(c.escape_default());
                    } else {
                        shown.push(c);
                    }
                }
                let line = shown;
                tracing::info!(server = %name, "mcp stderr: {line}");
                let mut status = status
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if status.stderr.len() == STDERR_LINES {
                    status.stderr.pop_front();
                }
                status.stderr.push_back(line);
            }
        });
    }

    async fn stop(&self) {
        if let Some(connection) = self.client.lock().await.take() {
            connection.close().await;
        }
        let mut status = self.status();
        status.state = None;
        status.tools.clear();
    }

    /// Calls one of its tools, starting the server first if it is not running.
    async fn call(
        self: &Arc<Self>,
        tool: &str,
        arguments: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<CallToolResult, ToolError> {
        let (peer, mut exited) = self.running().await?;
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Some(arguments) = arguments {
            params = params.with_arguments(arguments);
        }
        let call = async {
            tokio::select! {
                result = peer.call_tool(params) => result,
                Ok(_) = exited.wait_for(Option::is_some) => Err(rmcp::ServiceError::TransportClosed),
            }
        };
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(rmcp::ServiceError::McpError(e))) => Err(ToolError::RespondToModel(format!(
                "{}{SEPARATOR}{tool} failed: {}",
                self.name, e.message
            ))),
            Ok(Err(e)) => {
                let message = format!(
                    "the MCP server {} stopped answering while running {tool} ({e}); it is started again on the next call",
                    self.name
                );
                tracing::warn!("{message}");
                if let Some(connection) = self.client.lock().await.take() {
                    connection.close().await;
                }
                let mut status = self.status();
                status.state = Some(McpState::Failed);
                status.error = Some(message.clone());
                status.last_try = None;
                Err(ToolError::RespondToModel(message))
            }
            Err(_) => Err(ToolError::RespondToModel(format!(
                "{}{SEPARATOR}{tool} did not answer within {} s",
                self.name,
                CALL_TIMEOUT.as_secs()
            ))),
        }
    }
}

/// One tool of an MCP server.
pub(crate) struct McpTool {
    full_name: String,
    description: String,
    schema: serde_json::Value,
    tool: String,
    server: std::sync::Weak<Server>,
}

/// Keeps one image of a result (base64, as MCP sends it) with the call, or says why not.
fn keep_image(cx: &ToolCx, data: &str) -> Result<(), String> {
    use base64::Engine as _;
    // Refused before decoding: the text of a larger image says its size already.
    let most = crate::tool::MAX_CALL_IMAGE_BYTES.div_ceil(3) * 4;
    if data.len() > most + 4 {
        return Err(format!(
            "an image of about {} bytes (at most {} are kept)",
            data.len() / 4 * 3,
            crate::tool::MAX_CALL_IMAGE_BYTES
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("an image that is not base64 ({e})"))?;
    cx.live.image(bytes)
}

/// The text the model sees for a tool result.
fn result_text(result: &CallToolResult) -> String {
    let mut parts: Vec<String> = result
        .content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(text) => text.text.clone(),
            ContentBlock::Image(image) => format!("[image, {}]", image.mime_type),
            ContentBlock::Audio(audio) => format!("[audio, {}]", audio.mime_type),
            ContentBlock::Resource(resource) => {
                serde_json::to_string(&resource.resource).unwrap_or_default()
            }
            ContentBlock::ResourceLink(link) => format!("[resource {}]", link.uri),
            _ => "[content of a kind Aetheria does not show]".to_owned(),
        })
        .collect();
    if parts.is_empty()
        && let Some(structured) = &result.structured_content
    {
        parts.push(structured.to_string());
    }
    parts.join("\n")
}

impl DynTool for McpTool {
    fn name(&self) -> &str {
        &self.full_name
    }

    fn kind(&self) -> crate::api::ToolKind {
        crate::api::ToolKind::Mcp
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn effect(&self) -> Effect {
        Effect::External
    }

    fn schema(&self) -> serde_json::Value {
        self.schema.clone()
    }

    fn call_json(
        &self,
        arguments: &str,
        cx: ToolCx,
    ) -> BoxFuture<'_, Result<ToolOutput, ToolError>> {
        let text = if arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        };
        let parsed = serde_json::from_str::<serde_json::Value>(text);
        Box::pin(async move {
            let arguments = match parsed {
                Ok(serde_json::Value::Object(map)) => Some(map),
                Ok(serde_json::Value::Null) => None,
                _ => {
                    return Err(ToolError::RespondToModel(format!(
                        "the arguments for {} must be a JSON object",
                        self.full_name
                    )));
                }
            };
            let server = self.server.upgrade().ok_or_else(|| {
                ToolError::RespondToModel(format!(
                    "{} is gone: its MCP server was removed from the settings",
                    self.full_name
                ))
            })?;
            let result = server.call(&self.tool, arguments).await?;
            let mut text = result_text(&result);
            // Its pictures go to the person (checked, bounded); the model reads that they came.
            for block in &result.content {
                if let ContentBlock::Image(image) = block
                    && let Err(why) = keep_image(&cx, &image.data)
                {
                    text.push_str(&format!("\n[an image was not kept: {why}]"));
                }
            }
            if result.is_error == Some(true) {
                return Err(ToolError::RespondToModel(text));
            }
            Ok(ToolOutput(text))
        })
    }

    fn preview_json(&self, _arguments: &str, _cx: ToolCx) -> BoxFuture<'_, Option<String>> {
        Box::pin(async { None })
    }

    fn judge_json(&self, _arguments: &str, _cx: ToolCx) -> BoxFuture<'_, super::Judgement> {
        Box::pin(async { super::Judgement::default() })
    }
}
