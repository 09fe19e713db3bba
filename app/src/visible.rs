//! Text from a model, a tool, a web page or a server shown so that nothing in it is hidden: in a
//! terminal a control character can move the cursor, recolour or erase what the person is about
//! to approve, and anywhere a bidi override or a zero-width character can make the text read
//! differently from what it is. Such characters are shown as `<U+XXXX>` instead.

use std::borrow::Cow;

/// Whether `c` changes how the text around it is laid out or read without showing itself.
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'             // Arabic letter mark
            | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{FEFF}'              // zero-width no-break space
    )
}

/// Whether `c` is a control character a terminal acts on (all but newline and tab).
fn is_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

fn marked(text: &str, hide: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&hide) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hide(c) {
            out.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` safe to print on a terminal: control characters (ESC, CR, backspace, C1 codes…) and
/// hidden layout characters are shown as `<U+XXXX>`; newlines and tabs stay.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    marked(text, |c| is_control(c) || is_hidden(c))
}

/// `text` for the window: hidden layout characters shown as `<U+XXXX>` (the window draws
/// control characters as boxes already, and they move no cursor there).
pub fn for_window(text: &str) -> Cow<'_, str> {
    marked(text, is_hidden)
}

/// A warning to show above `text` when it holds characters that are not what they seem.
pub fn warning(text: &str) -> Option<&'static str> {
    text.chars()
        .any(|c| is_control(c) || is_hidden(c))
        .then_some(
            "Careful: this holds invisible or direction-changing characters (shown as <U+…>); what you see may not be what runs.",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_cannot_reach_the_terminal() {
        let attack = "rm -rf ~/safe\r\u{1b}[2K\u{1b}[1A echo hello\u{7}\u{9b}31m";
        let shown = for_terminal(attack);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(
            shown,
            "rm -rf ~/safe<U+000D><U+001B>[2K<U+001B>[1A echo hello<U+0007><U+009B>31m"
        );
        assert!(warning(attack).is_some());
    }

    #[test]
    fn newlines_tabs_and_ordinary_text_are_left_alone() {
        let text = "line one\n\tindented — ünïcödé 日本語 🙂";
        assert!(matches!(for_terminal(text), Cow::Borrowed(_)));
        assert!(matches!(for_window(text), Cow::Borrowed(_)));
        assert_eq!(warning(text), None);
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_shown() {
        // Reads as "txt.exe" reversed: the classic right-to-left override trick.
        let name = "invoice\u{202E}gpj.exe";
        assert_eq!(for_window(name), "invoice<U+202E>gpj.exe");
        assert_eq!(for_terminal(name), "invoice<U+202E>gpj.exe");
        assert_eq!(
            for_window("a\u{200B}b\u{2066}c\u{FEFF}"),
            "a<U+200B>b<U+2066>c<U+FEFF>"
        );
        assert!(warning("pay\u{200D}pal.com").is_some());
    }
}
