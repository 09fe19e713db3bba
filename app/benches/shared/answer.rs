//! The long markdown answer both app benches stream (`markdown_stream` in-process, `whole_app`
//! through a loopback model server), and how it is cut into deltas.

/// A markdown answer of about `target` bytes: headings, paragraphs with emphasis, links and code
/// spans, lists, fenced code, tables and quotes.
pub fn markdown(target: usize) -> String {
    let mut text = String::new();
    let mut n = 0;
    while text.len() < target {
        n += 1;
        text.push_str(&format!(
            "## Step {n}\n\nWe read **the file** `src/main.rs` and found [a link](https://example.com/{n}). \
             The function *parses* input and returns ~~errors~~ results.\n\n\
             - first point about step {n}\n- second point with `code`\n  - nested detail\n\n\
             ```rust\nfn step_{n}(input: &str) -> usize {{\n    input.lines().filter(|l| !l.is_empty()).count()\n}}\n```\n\n\
             | key | value |\n|---|---|\n| step | {n} |\n\n> A quote about step {n}, to be sure.\n\n"
        ));
    }
    // ASCII throughout, so any length is a character boundary.
    text.truncate(target);
    text
}

/// `text` in pieces of about `size` bytes (never splitting a character).
pub fn deltas(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}
