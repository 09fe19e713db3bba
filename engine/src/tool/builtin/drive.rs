//! Google Drive over its REST API v3: list a folder, search, read (Google Docs exported as
//! markdown, Sheets as CSV, Slides as text; other text files as they are), upload a workspace file
//! and create a folder. The sign-in (`oauth`) keeps tokens in the keychain and refreshes them; a
//! 401 triggers one refresh and one retry. Offered only when `[drive]` is configured.

pub mod oauth;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::Effect;
use crate::config::DriveConfig;
use crate::secrets::Secrets;
use crate::tool::registry::Registry;
use crate::tool::{ToolCx, ToolError};

/// Largest file read or uploaded.
const MAX_BYTES: usize = 10 << 20;
const FOLDER: &str = "application/vnd.google-apps.folder";
const FILE_FIELDS: &str = "id,name,mimeType,modifiedTime,size";

/// The Drive connection the tools share.
pub(crate) struct Drive {
    config: RwLock<Option<DriveConfig>>,
    secrets: Secrets,
}

impl Drive {
    pub(crate) fn new(config: Option<DriveConfig>, secrets: Secrets) -> Arc<Self> {
        Arc::new(Self {
            config: RwLock::new(config),
            secrets,
        })
    }

    pub(crate) fn configure(&self, config: Option<DriveConfig>) {
        if let Ok(mut c) = self.config.write() {
            *c = config;
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.config().is_some()
    }

    fn config(&self) -> Option<DriveConfig> {
        self.config.read().ok().and_then(|c| c.clone())
    }

    /// Sends a request built by `build` with a valid token; after a 401, refreshes once and retries.
    async fn send(
        &self,
        build: impl Fn(&reqwest::Client, &DriveConfig) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ToolError> {
        let config = self.config().ok_or_else(|| {
            ToolError::RespondToModel("Google Drive is not set up in the settings".into())
        })?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("Aetheria/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ToolError::RespondToModel(format!("the HTTP client failed: {e}")))?;
        for force in [false, true] {
            let token = oauth::access_token(&config, &self.secrets, force)
                .await
                .map_err(|e| ToolError::RespondToModel(e.to_string()))?;
            let response = build(&http, &config)
                .bearer_auth(token)
                .send()
                .await
                .map_err(|e| {
                    ToolError::RespondToModel(format!("Google Drive could not be reached: {e}"))
                })?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !force {
                continue;
            }
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status();
            let body: Value = serde_json::from_str(&crate::body::error_text(response).await)
                .unwrap_or(Value::Null);
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("no details")
                .to_owned();
            let reason = body["error"]["errors"][0]["reason"].as_str().unwrap_or("");
            let text = match (status.as_u16(), reason) {
                (401, _) => format!(
                    "Google Drive refused the sign-in ({message}); run `aetheria auth drive` again"
                ),
                (403 | 429, "rateLimitExceeded" | "userRateLimitExceeded") => {
                    format!(
                        "Google Drive's rate limit was reached ({message}); try again in a minute"
                    )
                }
                (403, _) => format!("Google Drive forbids this ({message})"),
                (404, _) => {
                    format!("Google Drive found nothing there ({message}); check the file id")
                }
                _ => format!("Google Drive answered {status}: {message}"),
            };
            return Err(ToolError::RespondToModel(text));
        }
        Err(ToolError::RespondToModel(
            "Google Drive refused the refreshed sign-in; run `aetheria auth drive` again".into(),
        ))
    }

    async fn json(
        &self,
        build: impl Fn(&reqwest::Client, &DriveConfig) -> reqwest::RequestBuilder,
    ) -> Result<Value, ToolError> {
        let response = self.send(build).await?;
        let text = crate::body::text_within(response, crate::body::MAX_API, "Google Drive")
            .await
            .map_err(|e| ToolError::RespondToModel(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| {
            ToolError::RespondToModel(format!("Google Drive answered something unexpected: {e}"))
        })
    }

    /// Files matching a Drive query, following `nextPageToken`.
    async fn files(&self, q: &str, limit: usize) -> Result<(Vec<Value>, bool), ToolError> {
        let mut files = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let size = (limit - files.len()).min(100).to_string();
            let token = page.clone();
            let answer = self
                .json(|http, c| {
                    let fields = format!("nextPageToken,files({FILE_FIELDS})");
                    let mut query = vec![
                        ("q", q),
                        ("pageSize", size.as_str()),
                        ("fields", fields.as_str()),
                        ("orderBy", "folder,name"),
                    ];
                    if let Some(t) = &token {
                        query.push(("pageToken", t));
                    }
                    http.get(at(&c.api_url, "/files", &query))
                })
                .await?;
            files.extend(answer["files"].as_array().cloned().unwrap_or_default());
            page = answer["nextPageToken"].as_str().map(str::to_owned);
            if files.len() >= limit || page.is_none() {
                return Ok((files, page.is_some()));
            }
        }
    }
}

/// `base` + `path` with a query string.
fn at(base: &str, path: &str, pairs: &[(&str, &str)]) -> String {
    format!(
        "{}{path}?{}",
        base.trim_end_matches('/'),
        super::form(pairs)
    )
}

fn describe(file: &Value) -> String {
    let kind = match file["mimeType"].as_str().unwrap_or("") {
        FOLDER => "folder".to_owned(),
        "application/vnd.google-apps.document" => "Google Doc".to_owned(),
        "application/vnd.google-apps.spreadsheet" => "Google Sheet".to_owned(),
        "application/vnd.google-apps.presentation" => "Google Slides".to_owned(),
        other => other.to_owned(),
    };
    let size = file["size"]
        .as_str()
        .map(|s| format!(", {s} B"))
        .unwrap_or_default();
    format!(
        "{} [{}] ({kind}{size}, modified {})",
        file["name"].as_str().unwrap_or("?"),
        file["id"].as_str().unwrap_or("?"),
        file["modifiedTime"].as_str().unwrap_or("?")
    )
}

/// An id Drive could have given: letters, digits, `-` and `_`.
fn file_id(id: &str) -> Result<&str, ToolError> {
    let id = id.trim();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(ToolError::RespondToModel(format!(
            "{id:?} is not a Drive file id"
        )));
    }
    Ok(id)
}

/// Quotes a value for a Drive query.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Adds every Drive tool; they are offered only while `[drive]` is configured.
pub(crate) fn register(registry: &mut Registry, drive: &Arc<Drive>) {
    registry.add(DriveList(drive.clone()));
    registry.add(DriveSearch(drive.clone()));
    registry.add(DriveRead(drive.clone()));
    registry.add(DriveUpload(drive.clone()));
    registry.add(DriveCreateFolder(drive.clone()));
}

/// Arguments of `drive_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListArgs {
    /// The folder's id (default: the top of My Drive).
    #[serde(default)]
    pub folder: Option<String>,
    /// Most entries (default 50).
    #[serde(default)]
    pub limit: Option<usize>,
}

service_tool!(
    Drive,
    DriveList,
    ListArgs,
    "drive_list",
    Effect::ReadOnly,
    "List a Google Drive folder: names, ids, kinds and dates."
);

impl DriveList {
    async fn run(&self, args: ListArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let folder = match &args.folder {
            Some(id) => file_id(id)?.to_owned(),
            None => "root".to_owned(),
        };
        let q = format!("{} in parents and trashed = false", quoted(&folder));
        let (files, more) = self
            .0
            .files(&q, args.limit.unwrap_or(50).clamp(1, 1000))
            .await?;
        if files.is_empty() {
            return Ok("the folder is empty".into());
        }
        let mut lines: Vec<String> = files.iter().map(describe).collect();
        if more {
            lines.push("[more not shown; raise limit]".into());
        }
        Ok(lines.join("\n"))
    }
}

/// Arguments of `drive_search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchArgs {
    /// Words to look for in names and contents.
    pub text: String,
    /// Most results (default 30).
    #[serde(default)]
    pub limit: Option<usize>,
}

service_tool!(
    Drive,
    DriveSearch,
    SearchArgs,
    "drive_search",
    Effect::ReadOnly,
    "Search Google Drive for files whose name or content contains the words."
);

impl DriveSearch {
    async fn run(&self, args: SearchArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let text = quoted(args.text.trim());
        let q = format!("(name contains {text} or fullText contains {text}) and trashed = false");
        let (files, more) = self
            .0
            .files(&q, args.limit.unwrap_or(30).clamp(1, 1000))
            .await?;
        if files.is_empty() {
            return Ok(format!("nothing in Drive matches {:?}", args.text));
        }
        let mut lines: Vec<String> = files.iter().map(describe).collect();
        if more {
            lines.push("[more not shown; raise limit]".into());
        }
        Ok(lines.join("\n"))
    }
}

/// Arguments of `drive_read`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadArgs {
    /// The file's id.
    pub file_id: String,
}

service_tool!(
    Drive,
    DriveRead,
    ReadArgs,
    "drive_read",
    Effect::ReadOnly,
    "Read a Google Drive file: Docs come as markdown, Sheets as CSV (first sheet), Slides as text, other text files as they are."
);

impl DriveRead {
    async fn run(&self, args: ReadArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let id = file_id(&args.file_id)?.to_owned();
        let meta = self
            .0
            .json(|http, c| {
                http.get(at(
                    &c.api_url,
                    &format!("/files/{id}"),
                    &[("fields", FILE_FIELDS)],
                ))
            })
            .await?;
        let mime = meta["mimeType"].as_str().unwrap_or("").to_owned();
        let export = match mime.as_str() {
            "application/vnd.google-apps.document" => Some("text/markdown"),
            "application/vnd.google-apps.spreadsheet" => Some("text/csv"),
            "application/vnd.google-apps.presentation" => Some("text/plain"),
            FOLDER => {
                return Err(ToolError::RespondToModel(format!(
                    "{} is a folder; use drive_list with it",
                    meta["name"].as_str().unwrap_or(&id)
                )));
            }
            m if m.starts_with("application/vnd.google-apps.") => {
                return Err(ToolError::RespondToModel(format!(
                    "a {m} cannot be read as text"
                )));
            }
            _ => None,
        };
        let response = self
            .0
            .send(|http, c| match export {
                Some(target) => http.get(at(
                    &c.api_url,
                    &format!("/files/{id}/export"),
                    &[("mimeType", target)],
                )),
                None => http.get(at(&c.api_url, &format!("/files/{id}"), &[("alt", "media")])),
            })
            .await?;
        // Read no further than the limit: the size in the metadata is the server's word.
        let (bytes, more) = crate::body::read_capped(response, MAX_BYTES).await;
        if more {
            return Err(ToolError::RespondToModel(format!(
                "{} ({mime}) is larger than {} MiB; it cannot be shown",
                meta["name"].as_str().unwrap_or(&id),
                MAX_BYTES >> 20
            )));
        }
        if bytes.iter().take(8192).any(|b| *b == 0) {
            return Err(ToolError::RespondToModel(format!(
                "{} ({mime}, {} bytes) is not a text file that can be shown",
                meta["name"].as_str().unwrap_or(&id),
                bytes.len()
            )));
        }
        Ok(format!(
            "# {}\n\n{}",
            meta["name"].as_str().unwrap_or(&id),
            String::from_utf8_lossy(&bytes)
        ))
    }
}

/// Arguments of `drive_upload`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadArgs {
    /// The workspace file to upload.
    pub path: String,
    /// The Drive folder's id (default: the top of My Drive).
    #[serde(default)]
    pub folder: Option<String>,
    /// The name in Drive (default: the file's name).
    #[serde(default)]
    pub name: Option<String>,
}

service_tool!(
    Drive,
    DriveUpload,
    UploadArgs,
    "drive_upload",
    Effect::External,
    "Upload a workspace file to Google Drive. Needs the person's approval."
);

impl DriveUpload {
    async fn run(&self, args: UploadArgs, cx: ToolCx) -> Result<String, ToolError> {
        let (root, rel) = cx.workspace.resolve(&args.path)?;
        let shown = args.path.clone();
        let bytes = tokio::task::spawn_blocking(move || {
            let meta = root
                .dir
                .metadata(&rel)
                .map_err(|e| crate::tool::workspace::io_error(&shown, &e))?;
            if !meta.is_file() || meta.len() > MAX_BYTES as u64 {
                return Err(ToolError::RespondToModel(format!(
                    "{shown:?} is not a file of at most {} MiB",
                    MAX_BYTES >> 20
                )));
            }
            root.dir
                .read(&rel)
                .map_err(|e| crate::tool::workspace::io_error(&shown, &e))
        })
        .await
        .map_err(|e| ToolError::RespondToModel(format!("reading the file failed: {e}")))??;
        let name = args.name.clone().unwrap_or_else(|| {
            std::path::Path::new(&args.path)
                .file_name()
                .map_or_else(|| args.path.clone(), |n| n.to_string_lossy().into_owned())
        });
        let mut metadata = json!({"name": name});
        if let Some(folder) = &args.folder {
            metadata["parents"] = json!([file_id(folder)?]);
        }
        let boundary = format!("aetheria-{}", uuid::Uuid::now_v7().simple());
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let answer = self
            .0
            .json(|http, c| {
                http.post(at(
                    &c.upload_url,
                    "/files",
                    &[("uploadType", "multipart"), ("fields", FILE_FIELDS)],
                ))
                .header(
                    "Content-Type",
                    format!("multipart/related; boundary={boundary}"),
                )
                .body(body.clone())
            })
            .await?;
        Ok(format!("uploaded {}", describe(&answer)))
    }
}

/// Arguments of `drive_create_folder`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FolderArgs {
    /// The new folder's name.
    pub name: String,
    /// The parent folder's id (default: the top of My Drive).
    #[serde(default)]
    pub parent: Option<String>,
}

service_tool!(
    Drive,
    DriveCreateFolder,
    FolderArgs,
    "drive_create_folder",
    Effect::External,
    "Create a folder in Google Drive. Needs the person's approval."
);

impl DriveCreateFolder {
    async fn run(&self, args: FolderArgs, _cx: ToolCx) -> Result<String, ToolError> {
        let mut metadata = json!({"name": args.name, "mimeType": FOLDER});
        if let Some(parent) = &args.parent {
            metadata["parents"] = json!([file_id(parent)?]);
        }
        let answer = self
            .0
            .json(|http, c| {
                http.post(at(&c.api_url, "/files", &[("fields", FILE_FIELDS)]))
                    .json(&metadata)
            })
            .await?;
        Ok(format!("created {}", describe(&answer)))
    }
}
