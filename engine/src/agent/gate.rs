//! The tool gate: the one place that decides whether a tool call runs, in the manner of codex's
//! orchestrator. In order: a background job runs only the tools this machine allows jobs (narrowed
//! by the job), with nobody to ask; a tool turned off is refused; the tools a turn was allowed
//! without asking (the CLI's `--allow`) run; the person's remembered choices and folder or site
//! grants apply; anything else waits for the person's answer (`ApprovalRequested`), which may be
//! remembered — a destructive tool never everywhere by one click. A call the tool judges must be
//! asked each time (typing into a password field) is asked whatever was allowed, never
//! remembered, and never made by a job.

use std::sync::Arc;

use crate::api::{Decision, Effect, Event, Policy, ToolCallRecord, ToolCallRequest, ToolStatus};
use crate::tool::{DynTool, Scope, ToolCx};

use super::call::CallCx;

/// Who answers for a turn's tool calls.
#[derive(Debug, Clone)]
pub(crate) enum Answerer {
    /// A person, asked through `ApprovalRequested`; the tools in `allowed` run without asking
    /// (`all` for every tool), unless turned off.
    Person {
        /// Tools allowed for this turn.
        allowed: Vec<String>,
    },
    /// Nobody (a background job): only these tools run, without asking; every other is denied.
    Nobody {
        /// The tools both the job and this machine allow jobs.
        allowed: Vec<String>,
    },
}

impl Answerer {
    /// A person, with nothing allowed beforehand.
    pub(crate) fn person() -> Self {
        Self::Person {
            allowed: Vec::new(),
        }
    }
}

/// Whether a call may run: yes, or how it ended and what the model is told.
pub(super) enum Verdict {
    Run,
    Refused(ToolStatus, String),
}

/// Decides one call, where it belongs and with who answers for it.
pub(super) struct ToolGate<'a>(pub &'a CallCx<'a>);

impl ToolGate<'_> {
    /// Decides whether `call` of `tool` runs, asking the person when it must (the record is
    /// stored as waiting meanwhile).
    pub(super) async fn admit(
        &self,
        call: &ToolCallRequest,
        tool: &Arc<dyn DynTool>,
        record: &mut ToolCallRecord,
        cx: impl Fn() -> ToolCx,
    ) -> Verdict {
        let services = self.0.services;
        let judgement = tool.judge_json(&call.arguments, cx()).await;
        let scope = judgement.scope;
        if let (Some(why), Answerer::Nobody { .. }) = (&judgement.ask_each_time, self.0.answerer) {
            return Verdict::Refused(
                ToolStatus::Denied,
                format!(
                    "this call needs the person's approval each time ({why}), and a background job has nobody to ask; do without it"
                ),
            );
        }
        let allowed = match self.0.answerer {
            Answerer::Nobody { allowed } if !allowed.contains(&call.name) => {
                return Verdict::Refused(
                    ToolStatus::Denied,
                    format!(
                        "this is a background job with nobody to approve {}, and jobs may not use it; do without it",
                        call.name
                    ),
                );
            }
            Answerer::Nobody { .. } => true,
            Answerer::Person { allowed } => allowed.iter().any(|a| a == "all" || a == &call.name),
        };
        let policy = services.policies.policy_for_call(
            &call.name,
            tool.grants(),
            tool.effect(),
            scope.as_ref(),
        );
        if let Some(why) = &judgement.ask_each_time
            && policy != Policy::Deny
        {
            return self
                .ask(call, tool, scope.as_ref(), Some(why), record, cx)
                .await;
        }
        match policy {
            Policy::Deny => Verdict::Refused(
                ToolStatus::Denied,
                format!(
                    "the tool {} is turned off in the person's settings; do not try it again",
                    call.name
                ),
            ),
            Policy::Ask if allowed => Verdict::Run,
            Policy::Ask => self.ask(call, tool, scope.as_ref(), None, record, cx).await,
            Policy::Allow => Verdict::Run,
        }
    }

    /// Asks the person, and remembers the answer when they say so (not for a call that must be
    /// asked `each_time`, whose reason heads the preview).
    async fn ask(
        &self,
        call: &ToolCallRequest,
        tool: &Arc<dyn DynTool>,
        scope: Option<&Scope>,
        each_time: Option<&str>,
        record: &mut ToolCallRecord,
        cx: impl Fn() -> ToolCx,
    ) -> Verdict {
        let services = self.0.services;
        record.status = ToolStatus::AwaitingApproval;
        self.0.recorder.tool_call(record).await;
        let preview = tool.preview_json(&call.arguments, cx()).await;
        let preview = match (each_time, preview) {
            (Some(why), Some(p)) => Some(format!("Asked every time: {why}.\n\n{p}")),
            (Some(why), None) => Some(format!("Asked every time: {why}.")),
            (None, p) => p,
        }
        .map(|p| services.redact(&p));
        let answer = services.approvals.wait_for(&call.id);
        self.0.out.emit(Event::ApprovalRequested {
            session: self.0.session.cloned(),
            call: call.id.clone(),
            tool: call.name.clone(),
            effect: tool.effect(),
            arguments: call.arguments.clone(),
            preview,
            scope: scope.filter(|_| each_time.is_none()).map(Scope::suggestion),
        });
        let answer = tokio::select! {
            () = self.0.cancel.cancelled() => None,
            answer = answer => answer.ok(),
        };
        let Some(answer) = answer else {
            services.approvals.forget(&call.id);
            return Verdict::Refused(
                ToolStatus::Cancelled,
                "the turn was stopped before approval".into(),
            );
        };
        if answer.decision == Decision::Deny {
            return Verdict::Refused(
                ToolStatus::Denied,
                "the person denied this call; do not retry it unless they ask".into(),
            );
        }
        // The folder or domain the person chose, in the same workspace folder as the call (none
        // when it is no plain folder: `..`, an absolute path).
        let chosen = answer.scope.as_deref().zip(scope);
        let grant = chosen.and_then(|(value, scope)| scope.grant(value));
        let destructive = tool.effect() == Effect::Destructive;
        match grant {
            _ if !answer.remember || each_time.is_some() => {}
            // A destructive tool's grant must name a folder: the whole workspace would be
            // "everywhere" again.
            Some(grant) if !(destructive && grant.is_everywhere()) => {
                remembered(services.policies.grant(tool.grants(), grant));
            }
            // A destructive tool is never allowed everywhere by one click, and a chosen folder
            // that is no folder is never widened to the whole tool: the answer counts once.
            _ if destructive || chosen.is_some() => {}
            _ => {
                remembered(services.policies.remember(&call.name, Policy::Allow));
                self.0.out.emit(Event::ToolPolicyChanged {
                    tool: call.name.clone(),
                    policy: services.policies.policy(&call.name, tool.effect()),
                });
            }
        }
        Verdict::Run
    }
}

/// Reports a remembered approval that could not be written down (it holds until the engine stops).
fn remembered(result: std::io::Result<()>) {
    if let Err(e) = result {
        tracing::warn!("writing the remembered approvals failed: {e}");
    }
}
