//! Answers as markdown: comrak's AST turned into a small document model the window can draw. While an
//! answer streams, the blocks that are complete are parsed once and kept; only the open tail block is
//! parsed again when text arrives, so a long answer costs no more per token than a short one.

pub mod view;

use comrak::nodes::{AstNode, ListType, NodeValue};
use comrak::{Arena, Options, parse_document};

/// A run of highlighted code: its text and colour (the code colour when `None`).
pub type CodeRun = (String, Option<iced::Color>);

/// A run of inline text with one style.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    /// The text.
    pub text: String,
    /// Bold.
    pub strong: bool,
    /// Italic.
    pub emph: bool,
    /// Struck through.
    pub strike: bool,
    /// Inline code.
    pub code: bool,
    /// Where a link points.
    pub link: Option<String>,
}

/// A clicked link: where it points and the words it was shown as (what the person believed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The target.
    pub url: String,
    /// The visible text of the clicked run.
    pub text: String,
}

/// A block of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// `#`…`######`.
    Heading {
        /// 1 to 6.
        level: u8,
        /// Its text.
        spans: Vec<Span>,
    },
    /// A paragraph.
    Paragraph(Vec<Span>),
    /// A bulleted or numbered list (task items carry their check state).
    List {
        /// Numbered.
        ordered: bool,
        /// The first number.
        start: usize,
        /// The items.
        items: Vec<Item>,
    },
    /// A block quote.
    Quote(Vec<Block>),
    /// A fenced or indented code block.
    Code {
        /// The info string's first word (`rust`, `python`…), may be empty.
        language: String,
        /// The code.
        code: String,
        /// The code's lines as coloured runs, when the language is known.
        highlighted: Option<Vec<Vec<CodeRun>>>,
    },
    /// A table.
    Table {
        /// The header cells.
        header: Vec<Vec<Span>>,
        /// The body rows.
        rows: Vec<Vec<Vec<Span>>>,
    },
    /// A horizontal rule.
    Rule,
}

/// A list item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// `Some(checked)` for a task item.
    pub task: Option<bool>,
    /// Its content.
    pub blocks: Vec<Block>,
}

fn options() -> Options<'static> {
    let mut options = Options::default();
    options.extension.strikethrough = true;
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options
}

/// Parses a whole markdown text.
#[must_use]
pub fn parse(text: &str) -> Vec<Block> {
    let arena = Arena::new();
    let root = parse_document(&arena, text, &options());
    blocks(root)
}

fn blocks<'a>(node: &'a AstNode<'a>) -> Vec<Block> {
    node.children().filter_map(block).collect()
}

fn block<'a>(node: &'a AstNode<'a>) -> Option<Block> {
    let value = node.data().value.clone();
    Some(match value {
        NodeValue::Heading(h) => Block::Heading {
            level: h.level,
            spans: inlines(node),
        },
        NodeValue::Paragraph => Block::Paragraph(inlines(node)),
        NodeValue::List(list) => Block::List {
            ordered: list.list_type == ListType::Ordered,
            start: list.start,
            items: node
                .children()
                .map(|item| {
                    let task = match &item.data().value {
                        NodeValue::TaskItem(t) => Some(t.symbol.is_some()),
                        _ => None,
                    };
                    Item {
                        task,
                        blocks: blocks(item),
                    }
                })
                .collect(),
        },
        NodeValue::BlockQuote | NodeValue::MultilineBlockQuote(_) => Block::Quote(blocks(node)),
        NodeValue::CodeBlock(code) => {
            let language = code.info.split_whitespace().next().unwrap_or("").to_owned();
            let code = code.literal.trim_end_matches('\n').to_owned();
            Block::Code {
                highlighted: highlight(&language, &code),
                language,
                code,
            }
        }
        NodeValue::HtmlBlock(html) => {
            let code = html.literal.trim_end().to_owned();
            Block::Code {
                highlighted: highlight("html", &code),
                language: "html".into(),
                code,
            }
        }
        NodeValue::ThematicBreak => Block::Rule,
        NodeValue::Table(_) => {
            let mut header = Vec::new();
            let mut rows = Vec::new();
            for row in node.children() {
                let is_header = matches!(row.data().value, NodeValue::TableRow(true));
                let cells: Vec<Vec<Span>> = row.children().map(inlines).collect();
                if is_header {
                    header = cells;
                } else {
                    rows.push(cells);
                }
            }
            Block::Table { header, rows }
        }
        _ => return None,
    })
}

/// Colours code of a known language (syntect grammars, a dark theme for the dark code blocks).
fn highlight(language: &str, code: &str) -> Option<Vec<Vec<CodeRun>>> {
    use iced::highlighter::{Settings, Stream, Theme};
    if language.is_empty() || language == "text" || code.len() > 200_000 {
        return None;
    }
    let mut stream = Stream::new(&Settings {
        theme: Theme::Base16Eighties,
        token: language.to_owned(),
    });
    let lines = code
        .split('\n')
        .map(|line| {
            let line = format!("{line}\n");
            let runs: Vec<CodeRun> = stream
                .highlight_line(&line)
                .filter(|(range, _)| range.end <= line.len() && range.start < range.end)
                .map(|(range, style)| {
                    (line[range].trim_end_matches('\n').to_owned(), style.color())
                })
                .filter(|(text, _)| !text.is_empty())
                .collect();
            stream.commit();
            runs
        })
        .collect();
    Some(lines)
}

fn inlines<'a>(node: &'a AstNode<'a>) -> Vec<Span> {
    let mut spans = Vec::new();
    collect(node, &Span::default(), &mut spans);
    spans
}

fn push(spans: &mut Vec<Span>, style: &Span, text: &str) {
    if let Some(last) = spans.last_mut()
        && last.strong == style.strong
        && last.emph == style.emph
        && last.strike == style.strike
        && last.code == style.code
        && last.link == style.link
    {
        last.text.push_str(text);
        return;
    }
    spans.push(Span {
        text: text.to_owned(),
        ..style.clone()
    });
}

fn collect<'a>(node: &'a AstNode<'a>, style: &Span, spans: &mut Vec<Span>) {
    for child in node.children() {
        let value = child.data().value.clone();
        match value {
            NodeValue::Text(text) => push(spans, style, &text),
            NodeValue::Code(code) => push(
                spans,
                &Span {
                    code: true,
                    ..style.clone()
                },
                &code.literal,
            ),
            NodeValue::SoftBreak => push(spans, style, " "),
            NodeValue::LineBreak => push(spans, style, "\n"),
            NodeValue::HtmlInline(html) => push(spans, style, &html),
            NodeValue::Strong => collect(
                child,
                &Span {
                    strong: true,
                    ..style.clone()
                },
                spans,
            ),
            NodeValue::Emph => collect(
                child,
                &Span {
                    emph: true,
                    ..style.clone()
                },
                spans,
            ),
            NodeValue::Strikethrough => {
                collect(
                    child,
                    &Span {
                        strike: true,
                        ..style.clone()
                    },
                    spans,
                );
            }
            NodeValue::Link(link) | NodeValue::Image(link) => {
                let linked = Span {
                    link: Some(link.url.clone()),
                    ..style.clone()
                };
                collect(child, &linked, spans);
            }
            // A paragraph inside a list item or cell: flatten its inlines.
            _ => collect(child, style, spans),
        }
    }
}

/// Where the text after `from` can be cut into a closed part and an open tail: the start of the
/// last line that follows a blank line, is not indented, and is outside a fenced code block.
fn last_boundary(text: &str) -> Option<usize> {
    let mut fence: Option<(char, usize)> = None;
    let mut previous_blank = false;
    let mut boundary = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start_matches(' ');
        let indent = body.len() - trimmed.len();
        let fence_marker = (indent < 4)
            .then(|| {
                let c = trimmed.chars().next()?;
                if c != '`' && c != '~' {
                    return None;
                }
                let n = trimmed.chars().take_while(|x| *x == c).count();
                (n >= 3).then_some((c, n))
            })
            .flatten();
        match (fence, fence_marker) {
            (None, Some(marker)) => {
                if previous_blank && indent == 0 {
                    boundary = Some(start);
                }
                fence = Some(marker);
                previous_blank = false;
                continue;
            }
            (Some((c, n)), Some((c2, n2)))
                if c == c2 && n2 >= n && trimmed.trim_end().chars().all(|x| x == c) =>
            {
                fence = None;
                previous_blank = false;
                continue;
            }
            (Some(_), _) => continue,
            (None, None) => {}
        }
        let blank = body.trim().is_empty();
        // Only a line that has ended can start the tail (a growing line may still become a fence).
        if !blank
            && previous_blank
            && indent == 0
            && !body.starts_with('\t')
            && line.ends_with('\n')
        {
            boundary = Some(start);
        }
        previous_blank = blank;
    }
    boundary.filter(|b| *b > 0)
}

/// A markdown answer that grows as it streams.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    text: String,
    closed: Vec<Block>,
    closed_len: usize,
    tail: Vec<Block>,
    dirty: bool,
}

impl Stream {
    /// A finished text, parsed once.
    #[must_use]
    pub fn complete(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            closed: parse(text),
            closed_len: text.len(),
            tail: Vec::new(),
            dirty: false,
        }
    }

    /// Appends streamed text; call `refresh` before drawing.
    pub fn push(&mut self, delta: &str) {
        self.text.push_str(delta);
        self.dirty = true;
    }

    /// Parses what changed: newly closed blocks once, and the open tail.
    pub fn refresh(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let open = &self.text[self.closed_len..];
        if let Some(cut) = last_boundary(open) {
            let newly_closed = parse(&open[..cut]);
            self.closed.extend(newly_closed);
            self.closed_len += cut;
        }
        self.tail = parse(&self.text[self.closed_len..]);
    }

    /// The answer is complete: one full parse, so constructs that span blank lines come out right.
    pub fn finish(&mut self) {
        *self = Self::complete(&self.text);
    }

    /// The text so far.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The blocks to draw (closed ones, then the open tail).
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.closed.iter().chain(self.tail.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Span {
        Span {
            text: text.into(),
            ..Span::default()
        }
    }

    #[test]
    fn parses_the_common_blocks() {
        let doc = parse(
            "# Title\n\nSome **bold** and `code` and [a link](https://x.dev).\n\n- [x] done\n- [ ] todo\n  1. nested\n\n> quoted\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\n---\n",
        );
        assert_eq!(
            doc[0],
            Block::Heading {
                level: 1,
                spans: vec![plain("Title")]
            }
        );
        let Block::Paragraph(spans) = &doc[1] else {
            panic!("{doc:?}")
        };
        assert!(spans.iter().any(|s| s.strong && s.text == "bold"));
        assert!(spans.iter().any(|s| s.code && s.text == "code"));
        assert!(
            spans
                .iter()
                .any(|s| s.link.as_deref() == Some("https://x.dev") && s.text == "a link")
        );
        let Block::List {
            ordered: false,
            items,
            ..
        } = &doc[2]
        else {
            panic!("{doc:?}")
        };
        assert_eq!(items[0].task, Some(true));
        assert_eq!(items[1].task, Some(false));
        assert!(matches!(
            &items[1].blocks[1],
            Block::List { ordered: true, .. }
        ));
        assert!(matches!(&doc[3], Block::Quote(inner) if matches!(&inner[0], Block::Paragraph(_))));
        let Block::Code {
            language,
            code,
            highlighted,
        } = &doc[4]
        else {
            panic!("{doc:?}")
        };
        assert_eq!((language.as_str(), code.as_str()), ("rust", "fn main() {}"));
        let runs = &highlighted.as_ref().expect("rust is highlighted")[0];
        let joined: String = runs.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(joined, "fn main() {}");
        assert!(runs.len() > 2, "several colours: {runs:?}");
        let Block::Table { header, rows } = &doc[5] else {
            panic!("{doc:?}")
        };
        assert_eq!(header.len(), 2);
        assert!(rows[0][1][0].strike);
        assert_eq!(doc[6], Block::Rule);
    }

    #[test]
    fn boundaries_skip_fences_and_indented_continuations() {
        assert_eq!(last_boundary("para one\n\npara two\n"), Some(10));
        assert_eq!(
            last_boundary("para one\n\npara tw"),
            None,
            "a growing line is not a boundary yet"
        );
        assert_eq!(last_boundary("```\ncode\n\nmore code\n"), None);
        assert_eq!(last_boundary("```\ncode\n\nmore\n```\n\nafter\n"), Some(20));
        assert_eq!(last_boundary("- item\n\n  continued\n"), None);
        assert_eq!(last_boundary("a\n\n```py\nx\n"), Some(3));
    }

    /// Streaming delta by delta ends with the same document as parsing the whole text.
    #[test]
    fn streaming_matches_a_full_parse() {
        let text = "# Plan\n\nFirst paragraph with *emphasis*.\n\n```python\nprint(1)\n\nprint(2)\n```\n\n1. one\n2. two\n\n3. three\n\n> done\n";
        let mut stream = Stream::default();
        for piece in text.as_bytes().chunks(3) {
            stream.push(std::str::from_utf8(piece).unwrap());
            stream.refresh();
        }
        let streamed: Vec<Block> = stream.blocks().cloned().collect();
        assert!(
            streamed
                .iter()
                .any(|b| matches!(b, Block::Code { code, .. } if code == "print(1)\n\nprint(2)"))
        );
        stream.finish();
        let finished: Vec<Block> = stream.blocks().cloned().collect();
        assert_eq!(finished, parse(text));
        // Headings, code and quote come out the same while streaming.
        assert_eq!(streamed[0], finished[0]);
        assert_eq!(streamed.last(), finished.last());
    }
}
