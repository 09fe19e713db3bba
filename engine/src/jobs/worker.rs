//! The worker loop: `concurrency` slots, each claiming a job, running it with a heartbeat (which
//! also notices a cancel), then completing or failing it. `aetheria worker` runs this; so does
//! the app for the embedded queue.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Delivery, JobKind, Queue, QueueResult};
use crate::api::{MessageStatus, Role};
use crate::services::Services;

/// Runs `text` as a turn of a new session with nobody to approve: the tools in both `allow` and
/// this machine's `jobs.allow` run, every other is denied. The session is named after the job
/// and attempt, so front ends link a run to its conversation. The final answer, or why the turn
/// failed.
async fn prompt(
    services: &Arc<Services>,
    delivery: &Delivery,
    text: &str,
    allow: &[String],
    cancelled: &CancellationToken,
) -> Result<String, String> {
    let session = crate::api::jobs::job_session(&delivery.spec.id, delivery.attempt);
    services
        .store
        .create_session(&session, &crate::agent::title_from(text))
        .await
        .map_err(|e| e.to_string())?;
    let here = services.config().jobs.allow;
    let allowed = allow.iter().filter(|t| here.contains(t)).cloned().collect();
    // In the same registry as the window's turns: `Cancel` on its session stops it too.
    let Some(turn) = services.turns.begin(&session, cancelled) else {
        return Err("the job's session is busy".into());
    };
    crate::agent::run_turn(
        services.clone(),
        services.outbox(),
        session.clone(),
        text.to_owned(),
        Vec::new(),
        crate::agent::Answerer::Nobody { allowed },
        turn,
    )
    .await;
    let messages = services
        .store
        .messages(&session)
        .await
        .map_err(|e| e.to_string())?;
    match messages.iter().rev().find(|m| m.role == Role::Assistant) {
        Some(m) if m.status == MessageStatus::Complete => Ok(m.content.clone()),
        Some(m) if cancelled.is_cancelled() || m.status == MessageStatus::Cancelled => {
            Err("cancelled".into())
        }
        _ => Err(format!("the turn did not finish (session {session})")),
    }
}

/// Runs a program in a sandbox of the job's own, removed afterwards (a cancel kills it at once).
/// The progress is the last line printed; the result is the exit status with the output.
async fn code_run(
    services: &Arc<Services>,
    delivery: &Delivery,
    language: &str,
    code: &str,
    timeout_s: Option<u64>,
    cancelled: &CancellationToken,
    progress: &std::sync::Mutex<String>,
) -> Result<String, String> {
    let Some(lang) = crate::tool::builtin::code::Language::parse(language) else {
        return Err(format!(
            "unknown language {language:?}: code jobs run python, bash or node"
        ));
    };
    if code.trim().is_empty() {
        return Err("the code is empty".into());
    }
    let request = lang.request(code, services.sandboxes.timeout(timeout_s));
    let key = format!("job-{}", delivery.spec.id);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<aetheria_sandbox::Chunk>(64);
    let tail = async {
        let mut line = String::new();
        while let Some(chunk) = rx.recv().await {
            line.push_str(&String::from_utf8_lossy(&chunk.data));
            // Keep only what follows the last complete line, or the last line itself.
            let trimmed = line.trim_end_matches(['\n', '\r']);
            if let Some(last) = trimmed.rsplit('\n').next().filter(|l| !l.trim().is_empty())
                && let Ok(mut p) = progress.lock()
            {
                *p = last.chars().take(200).collect();
            }
            if let Some(cut) = trimmed.rfind('\n') {
                line.drain(..=cut);
            }
        }
    };
    let run = async {
        let (result, ()) = tokio::join!(services.sandboxes.exec(&key, request, Some(tx)), tail);
        result
    };
    let outcome = tokio::select! {
        outcome = run => outcome,
        () = cancelled.cancelled() => {
            services.sandboxes.discard(&key).await;
            return Err("cancelled".into());
        }
    };
    services.sandboxes.discard(&key).await;
    match outcome {
        Ok(ran) => {
            let text = ran.describe(language);
            if ran.outcome.exit_code == Some(0) {
                Ok(text)
            } else {
                Err(text)
            }
        }
        Err(e) => Err(format!("the sandbox is not available, so nothing ran: {e}")),
    }
}

/// Runs jobs from a queue until told to stop.
pub struct Worker {
    /// One queue per slot (a Redis queue holds one connection, and a slot blocks on it).
    queues: Vec<Arc<dyn Queue>>,
    /// This worker's name (unique per process).
    name: String,
    /// The engine that runs prompts (none: only the built-in kinds).
    engine: Option<Arc<Services>>,
}

impl Worker {
    /// A worker with one slot per queue.
    #[must_use]
    pub fn new(queues: Vec<Arc<dyn Queue>>, name: String) -> Self {
        Self {
            queues,
            name,
            engine: None,
        }
    }

    pub(crate) fn with_engine(mut self, services: Arc<Services>) -> Self {
        self.engine = Some(services);
        self
    }

    /// Runs until `stop` is cancelled; slots finish the job they hold first.
    pub async fn run(self, stop: CancellationToken) {
        let mut slots = tokio::task::JoinSet::new();
        for (i, queue) in self.queues.into_iter().enumerate() {
            let name = format!("{}-{i}", self.name);
            let stop = stop.clone();
            let engine = self.engine.clone();
            slots.spawn(async move {
                // The next job, when finishing one claimed it too (held: it runs even if a stop
                // came meanwhile).
                let mut next: Option<Delivery> = None;
                while next.is_some() || !stop.is_cancelled() {
                    let claimed = match next.take() {
                        Some(delivery) => Ok(Some(delivery)),
                        None => tokio::select! {
                            () = stop.cancelled() => break,
                            claimed = queue.claim(&name, queue.idle_wait()) => claimed,
                        },
                    };
                    match claimed {
                        Ok(Some(delivery)) => {
                            notify(queue.as_ref(), engine.as_ref(), &delivery).await;
                            let then_claim = (!stop.is_cancelled()).then_some(name.as_str());
                            let handled =
                                handle(queue.as_ref(), &delivery, engine.as_ref(), then_claim)
                                    .await;
                            notify(queue.as_ref(), engine.as_ref(), &delivery).await;
                            match handled {
                                Ok(claimed) => next = claimed,
                                Err(e) => {
                                    tracing::warn!(job = %delivery.spec.id, "the queue failed while finishing a job: {e}");
                                }
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::warn!("claiming a job failed: {e}; trying again");
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    }
                }
            });
        }
        while slots.join_next().await.is_some() {}
    }
}

/// Tells this engine's front ends where a job stands now.
async fn notify(queue: &dyn Queue, engine: Option<&Arc<Services>>, delivery: &Delivery) {
    if let Some(services) = engine
        && let Ok(Some(job)) = queue.get(&delivery.spec.id).await
    {
        services.emit(crate::api::Event::JobUpdated { job });
    }
}

/// Runs one delivery with a heartbeat, then records how it went; a job that succeeded may bring
/// the next one for `then_claim` with it.
async fn handle(
    queue: &dyn Queue,
    delivery: &Delivery,
    engine: Option<&Arc<Services>>,
    then_claim: Option<&str>,
) -> QueueResult<Option<Delivery>> {
    let cancelled = CancellationToken::new();
    let progress = std::sync::Mutex::new(String::new());
    let beat = async {
        loop {
            tokio::time::sleep(queue.visibility() / 3).await;
            let note = progress.lock().map(|p| p.clone()).unwrap_or_default();
            match queue.heartbeat(delivery, &note).await {
                Ok(true) => {}
                Ok(false) => {
                    // Cancelled: the job stops by itself (a turn ends cleanly, freeing its
                    // session), so it is not dropped half-way.
                    cancelled.cancel();
                    std::future::pending::<()>().await;
                }
                Err(e) => tracing::warn!("heartbeat failed: {e}"),
            }
        }
    };
    let outcome = tokio::select! {
        outcome = run_job(delivery, &cancelled, &progress, engine) => outcome,
        () = beat => Err("cancelled".to_owned()),
    };
    // What a job found goes to a queue others may read: no secret this engine knows goes with it.
    let redact = |text: String| engine.map_or(text.clone(), |services| services.redact(&text));
    match outcome {
        Ok(result) => match then_claim {
            Some(worker) => {
                queue
                    .complete_and_claim(delivery, &redact(result), worker)
                    .await
            }
            None => queue
                .complete(delivery, &redact(result))
                .await
                .map(|()| None),
        },
        Err(_) if cancelled.is_cancelled() => Ok(None),
        Err(error) => queue.fail(delivery, &redact(error)).await.map(|()| None),
    }
}

/// Does what a job says; its result text, or why it failed.
pub(crate) async fn run_job(
    delivery: &Delivery,
    cancelled: &CancellationToken,
    progress: &std::sync::Mutex<String>,
    engine: Option<&Arc<Services>>,
) -> Result<String, String> {
    let set_progress = |note: String| {
        if let Ok(mut p) = progress.lock() {
            *p = note;
        }
    };
    match &delivery.spec.kind {
        JobKind::Prompt { text, allow } => {
            let services = engine.ok_or("this worker runs no engine; prompts need one")?;
            set_progress("answering".into());
            prompt(services, delivery, text, allow, cancelled).await
        }
        JobKind::Research { question } => {
            let services = engine.ok_or("this worker runs no engine; research needs one")?;
            set_progress("researching".into());
            let slug: String = question
                .to_lowercase()
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .take(8)
                .collect::<Vec<_>>()
                .join("-");
            let text = format!(
                "Research this question thoroughly: {question}\n\n\
                 1. Plan the sub-questions. 2. Use web_search for each, then web_fetch the best sources (at least three). \
                 3. Answer with a report in markdown: a title, a short answer, the findings, and numbered citations [1], [2]… \
                 listing each source's title and URL at the end. It is saved to research/{slug}.md for you."
            );
            // The model only reads; the engine writes the report, to that one file.
            let allow = ["web_search", "web_fetch", "recall"].map(str::to_owned);
            let report = prompt(services, delivery, &text, &allow, cancelled).await?;
            let path = format!("research/{slug}.md");
            let workspace = services.workspace();
            let saved = {
                let (path, report) = (path.clone(), report.clone());
                tokio::task::spawn_blocking(move || {
                    crate::tool::builtin::fs::save(&workspace, &path, report.as_bytes())
                })
                .await
            };
            match saved {
                Ok(Ok(())) => Ok(report),
                Ok(Err(e)) => Err(format!("the report could not be saved to {path}: {e}")),
                Err(e) => Err(format!("the report could not be saved to {path}: {e}")),
            }
        }
        JobKind::Code {
            language,
            code,
            timeout_s,
        } => {
            let services =
                engine.ok_or("this worker runs no engine; code runs need its sandbox")?;
            let policy = services
                .policies
                .policy("run_code", crate::api::Effect::Mutating);
            if policy == crate::api::Policy::Deny {
                return Err(
                    "run_code is turned off in this machine's settings; code jobs do not run"
                        .into(),
                );
            }
            set_progress("starting the sandbox".into());
            code_run(
                services, delivery, language, code, *timeout_s, cancelled, progress,
            )
            .await
        }
        JobKind::Noop => Ok("done".into()),
        JobKind::Wait { millis, fail_first } => {
            if delivery.attempt <= *fail_first {
                return Err(format!("attempt {} fails on purpose", delivery.attempt));
            }
            let step = Duration::from_millis((*millis / 10).max(1));
            for i in 1..=10 {
                tokio::select! {
                    () = cancelled.cancelled() => return Err("cancelled".into()),
                    () = tokio::time::sleep(step) => {}
                }
                if let Ok(mut p) = progress.lock() {
                    *p = format!("{}%", i * 10);
                }
            }
            Ok(format!("waited {millis} ms"))
        }
    }
}
