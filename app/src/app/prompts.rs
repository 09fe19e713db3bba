//! The prompts drawn over the window: the approval of a tool call (with its diff and the scopes it
//! may be always allowed for) and the confirmation before a session is deleted.

use aetheria_engine::api::{Decision, Effect, ScopeKind};
use iced::widget::{Space, button, column, container, row, scrollable, text};
use iced::{Element, Fill, Length, Shrink};

use super::approvals::Approval;
use super::view::{btn, cut, label};
use super::{Action, Message};
use crate::theme::{self, ButtonKind, HEADING, MONO, Palette};

pub(super) fn delete_prompt<'a>(p: Palette, title: Option<String>) -> Element<'a, Message> {
    let title = title.unwrap_or_else(|| "this session".into());
    container(
        column![
            text("DELETE THIS SESSION?").font(HEADING).size(24),
            text(format!(
                "“{}” and all its messages and tool calls will be deleted.",
                cut(&title, 60)
            ))
            .size(16),
            row![
                btn(p, ButtonKind::Danger, "Delete for good")
                    .on_press(Message::Do(Action::ConfirmDelete)),
                Space::new().width(Fill),
                btn(p, ButtonKind::Secondary, "Keep it").on_press(Message::Do(Action::Escape)),
            ]
            .spacing(12),
        ]
        .spacing(14),
    )
    .padding(24)
    .width(Length::Fixed(520.0))
    .style(move |_| theme::block(&p, p.surface))
    .into()
}

fn diff_line<'a>(p: Palette, line: &'a str) -> Element<'a, Message> {
    let fill = match line.as_bytes().first() {
        Some(b'+') if !line.starts_with("+++") => Some(p.ok),
        Some(b'-') if !line.starts_with("---") => Some(p.danger),
        _ => None,
    };
    let row = container(text(line).font(MONO).size(13)).width(Fill);
    match fill {
        Some(fill) => row
            .style(move |_| theme::flat(&p, iced::Color { a: 0.35, ..fill }))
            .into(),
        None => row.into(),
    }
}

/// "Allow once", "Always allow" (never for a destructive tool: it would allow it everywhere) and
/// "Deny"; below them, "Always allow" limited to the call's folder or domain, when it has one.
fn always_row<'a>(p: Palette, approval: &'a Approval) -> Element<'a, Message> {
    let answer = |decision, remember, scope: Option<String>| {
        Message::Approval(super::approvals::Msg::Answer {
            decision,
            remember,
            scope,
        })
    };
    let mut buttons =
        row![btn(p, ButtonKind::Ok, "Allow once").on_press(answer(Decision::Allow, false, None))]
            .spacing(12);
    if approval.effect != Effect::Destructive {
        buttons = buttons.push(
            btn(p, ButtonKind::Secondary, "Always allow").on_press(answer(
                Decision::Allow,
                true,
                None,
            )),
        );
    }
    let buttons = buttons
        .push(Space::new().width(Fill))
        .push(btn(p, ButtonKind::Danger, "Deny").on_press(answer(Decision::Deny, false, None)));
    // A destructive tool is never always-allowed in the whole workspace.
    let whole = |value: &str| matches!(value.trim().trim_matches('/'), "" | ".");
    let scope = approval
        .scope
        .as_ref()
        .filter(|s| !(approval.effect == Effect::Destructive && whole(&s.value)));
    let Some(scope) = scope else {
        return buttons.into();
    };
    let where_ = match (scope.kind, scope.value.as_str()) {
        (ScopeKind::Path, "") => "in the whole workspace".to_owned(),
        (ScopeKind::Path, folder) => format!("in {folder}/"),
        (ScopeKind::Site, site) => format!("on {site}"),
    };
    column![
        buttons,
        row![
            btn(p, ButtonKind::Secondary, format!("Always allow {where_}")).on_press(answer(
                Decision::Allow,
                true,
                Some(scope.value.clone()),
            ))
        ]
    ]
    .spacing(10)
    .into()
}

pub(super) fn approval_prompt<'a>(
    p: Palette,
    approval: &'a Approval,
    waiting: usize,
) -> Element<'a, Message> {
    let effect = match approval.effect {
        Effect::ReadOnly => "read your files",
        Effect::Mutating => "change files in your workspace",
        Effect::External => "act on an outside service",
        Effect::Destructive => "delete or overwrite data",
    };

    // A diff when the tool can show one (+ lines green, - lines red), else the arguments.
    let body: Element<'a, Message> = match &approval.preview {
        Some(diff) => column(diff.lines().map(|line| diff_line(p, line))).into(),
        None => text(approval.arguments.as_str()).font(MONO).size(13).into(),
    };
    let args = container(scrollable(body).height(Shrink))
        .padding(10)
        .max_height(320)
        .width(Fill)
        .style(move |_| theme::block(&p, p.paper));
    let mut prompt = column![
        text("APPROVE THIS ACTION?").font(HEADING).size(24),
        text(format!(
            "{} wants to {effect}.",
            crate::visible::for_window(&approval.tool)
        ))
        .size(16),
        args,
        always_row(p, approval),
        row![
            label("Enter allows once · Esc denies").color(p.muted),
            Space::new().width(Fill),
            button(label("Review in chat"))
                .padding([2, 6])
                .style(theme::button(p, ButtonKind::Ghost))
                .on_press(Message::Approval(super::approvals::Msg::ReviewInChat)),
        ]
        .align_y(iced::Center),
    ]
    .spacing(14);
    if let Some(warning) = approval.warning {
        prompt = prompt.push(text(warning).size(14).color(p.danger));
    }
    if waiting > 1 {
        prompt = prompt
            .push(label(format!("{} more waiting after this one", waiting - 1)).color(p.muted));
    }
    container(prompt)
        .padding(24)
        .width(Length::Fixed(560.0))
        .style(move |_| theme::block(&p, p.surface))
        .into()
}
