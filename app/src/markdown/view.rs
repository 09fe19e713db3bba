//! Drawing the markdown document model with iced widgets in the Neo-Brutalist style: rich text for
//! styled runs, bordered blocks for code (with a Copy button), quotes and tables.

use iced::widget::text::Span as TextSpan;
use iced::widget::{button, column, container, rich_text, row, text};
use iced::{Element, Fill, Font, Padding};

use super::{Block, Link, Span};
use crate::theme::{self, BOLD, HEADING, MONO, Palette};

/// What a drawn document can ask for.
#[derive(Debug)]
pub struct Actions<M> {
    /// A link was clicked.
    pub open: fn(Link) -> M,
    /// A code block's Copy button was pressed.
    pub copy: fn(String) -> M,
}

// Function pointers copy whatever `M` is; a derive would ask `M: Copy`.
impl<M> Clone for Actions<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for Actions<M> {}

/// Draws blocks, top to bottom.
pub fn blocks<'a, M: Clone + 'a>(
    blocks: impl Iterator<Item = &'a Block>,
    p: Palette,
    size: f32,
    actions: Actions<M>,
) -> Element<'a, M> {
    column(blocks.map(|b| block(b, p, size, actions)))
        .spacing(size * 0.75)
        .into()
}

fn block<'a, M: Clone + 'a>(
    b: &'a Block,
    p: Palette,
    size: f32,
    actions: Actions<M>,
) -> Element<'a, M> {
    match b {
        Block::Heading { level, spans } => {
            let (scale, font) = match level {
                1 => (1.75, HEADING),
                2 => (1.45, HEADING),
                3 => (1.2, BOLD),
                _ => (1.05, BOLD),
            };
            inline(spans, p, size * scale, font, actions)
        }
        Block::Paragraph(spans) => inline(spans, p, size, theme::BODY, actions),
        Block::List {
            ordered,
            start,
            items,
        } => {
            let rows = items.iter().enumerate().map(|(i, item)| {
                let marker = match (item.task, ordered) {
                    (Some(true), _) => "[x]".to_owned(),
                    (Some(false), _) => "[ ]".to_owned(),
                    (None, true) => format!("{}.", start + i),
                    (None, false) => "•".to_owned(),
                };
                row![
                    text(marker)
                        .font(if item.task.is_some() { MONO } else { BOLD })
                        .size(size),
                    blocks(item.blocks.iter(), p, size, actions),
                ]
                .spacing(8)
                .into()
            });
            column(rows).spacing(size * 0.35).into()
        }
        Block::Quote(inner) => row![
            container(text(""))
                .width(4)
                .height(Fill)
                .style(move |_| theme::flat(&p, p.ink)),
            blocks(inner.iter(), p, size, actions),
        ]
        .spacing(12)
        .height(iced::Shrink)
        .into(),
        Block::Code {
            language,
            code,
            highlighted,
        } => {
            let label = if language.is_empty() {
                "code"
            } else {
                language.as_str()
            };
            let header = row![
                text(label.to_uppercase())
                    .font(BOLD)
                    .size(size * 0.7)
                    .color(p.code_text)
                    .width(Fill),
                button(text("Copy").font(BOLD).size(size * 0.7))
                    .padding([2, 8])
                    .style(theme::button(p, theme::ButtonKind::Secondary))
                    .on_press((actions.copy)(code.clone())),
            ]
            .align_y(iced::Center);
            let body: Element<'a, M> = match highlighted {
                Some(lines) => column(lines.iter().map(|runs| {
                    if runs.is_empty() {
                        return text(" ").font(MONO).size(size * 0.85).into();
                    }
                    let spans: Vec<TextSpan<'a, String, Font>> = runs
                        .iter()
                        .map(|(t, color)| {
                            TextSpan::new(t.as_str())
                                .font(MONO)
                                .color(color.unwrap_or(p.code_text))
                        })
                        .collect();
                    rich_text(spans).size(size * 0.85).into()
                }))
                .into(),
                None => text(code.as_str())
                    .font(MONO)
                    .size(size * 0.85)
                    .color(p.code_text)
                    .into(),
            };
            container(column![header, body].spacing(8))
                .padding(12)
                .width(Fill)
                .style(move |_| theme::block(&p, p.code_background))
                .into()
        }
        Block::Table { header, rows } => {
            let cell = move |spans: &'a Vec<Span>, font: Font| -> Element<'a, M> {
                container(inline(spans, p, size * 0.9, font, actions))
                    .padding([4, 8])
                    .width(Fill)
                    .into()
            };
            let mut table = column![row(header.iter().map(|c| cell(c, BOLD)))];
            for r in rows {
                table = table.push(row(r.iter().map(|c| cell(c, theme::BODY))));
            }
            container(table)
                .style(move |_| theme::block(&p, p.surface))
                .into()
        }
        Block::Rule => container(text(""))
            .height(3)
            .width(Fill)
            .style(move |_| theme::flat(&p, p.ink))
            .into(),
    }
}

/// A run of spans: plain text as a `text` widget, styled text as rich text.
fn inline<'a, M: Clone + 'a>(
    spans: &'a [Span],
    p: Palette,
    size: f32,
    font: Font,
    actions: Actions<M>,
) -> Element<'a, M> {
    if let [only] = spans
        && !only.strong
        && !only.emph
        && !only.strike
        && !only.code
        && only.link.is_none()
    {
        return text(only.text.as_str()).font(font).size(size).into();
    }
    let runs: Vec<TextSpan<'a, Link, Font>> = spans
        .iter()
        .map(|s| {
            let mut f = font;
            if s.strong {
                f.weight = iced::font::Weight::Bold;
            }
            if s.emph {
                f.style = iced::font::Style::Italic;
            }
            if s.code {
                f = MONO;
            }
            let mut run = TextSpan::new(s.text.as_str())
                .font(f)
                .strikethrough(s.strike);
            if s.code {
                run = run
                    .color(p.code_text)
                    .background(p.code_background)
                    .padding(Padding::from([0, 3]));
            }
            if let Some(url) = &s.link {
                run = run.color(p.link).underline(true).link(Link {
                    url: url.clone(),
                    text: s.text.clone(),
                });
            }
            run
        })
        .collect();
    rich_text(runs)
        .size(size)
        .on_link_click(actions.open)
        .into()
}
