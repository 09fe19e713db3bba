//! What a click on a link in an answer may open. An answer is a model's text, and a model repeats
//! what web pages and tools told it: a link may name one site and lead to another, or start a
//! program (`file:`, `javascript:`, a custom scheme). Only web pages open, and one whose words do
//! not name the site it leads to opens only after the person has seen where it really goes.

use crate::visible::for_window;

/// What to do with a clicked link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Open this address.
    Open(String),
    /// Show the real address and ask first.
    Confirm {
        /// The address, normalised.
        url: String,
        /// Why it is asked, for the person.
        why: String,
    },
    /// Never open it; say why.
    Refuse(String),
}

/// Judges the link to `url` whose visible words are `text`.
pub(crate) fn judge(url: &str, text: &str) -> Verdict {
    let shown = for_window(url.trim()).into_owned();
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return Verdict::Refuse(format!(
            "{shown} is not a web address, so it was not opened."
        ));
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return Verdict::Refuse(format!(
            "Aetheria opens only web links (http and https); this one is a {}: link and was not opened: {shown}",
            parsed.scheme()
        ));
    }
    let Some(host) = parsed.host_str().map(str::to_ascii_lowercase) else {
        return Verdict::Refuse(format!("{shown} names no site, so it was not opened."));
    };
    let target = parsed.to_string();
    let bare = host.strip_prefix("www.").unwrap_or(&host);
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Verdict::Confirm {
            url: target,
            why: format!(
                "This link carries a user name before the site, a trick to make {bare} look like another site."
            ),
        };
    }
    if crate::visible::warning(url).is_some() || crate::visible::warning(text).is_some() {
        return Verdict::Confirm {
            url: target,
            why: "This link holds invisible or direction-changing characters.".into(),
        };
    }
    if text.to_lowercase().contains(bare) {
        return Verdict::Open(target);
    }
    Verdict::Confirm {
        url: target,
        why: format!(
            "The link's text ({}) does not name the site it leads to, {bare}.",
            for_window(text.trim())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_open() {
        for url in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "ssh://host",
            "vscode://open?x",
            "not a url",
            "data:text/html,<b>x</b>",
        ] {
            assert!(
                matches!(judge(url, url), Verdict::Refuse(_)),
                "{url}: {:?}",
                judge(url, url)
            );
        }
        assert_eq!(
            judge("https://docs.rs/tokio", "https://docs.rs/tokio"),
            Verdict::Open("https://docs.rs/tokio".into())
        );
        assert_eq!(
            judge("https://www.rust-lang.org/learn", "the Rust-Lang.org guide"),
            Verdict::Open("https://www.rust-lang.org/learn".into())
        );
    }

    #[test]
    fn a_link_whose_words_name_another_site_shows_where_it_goes() {
        let Verdict::Confirm { url, why } = judge("https://evil.example/login", "mybank.com")
        else {
            panic!("opened a disguised link")
        };
        assert_eq!(url, "https://evil.example/login");
        assert!(
            why.contains("evil.example") && why.contains("mybank.com"),
            "{why}"
        );
        assert!(matches!(
            judge("https://evil.example", "click here"),
            Verdict::Confirm { .. }
        ));
        // A user name before the host: `mybank.com@evil.example` goes to evil.example.
        assert!(matches!(
            judge(
                "https://mybank.com@evil.example/",
                "https://mybank.com@evil.example/"
            ),
            Verdict::Confirm { .. }
        ));
        // A right-to-left override in the words.
        assert!(matches!(
            judge("https://a.example/", "a.example/\u{202E}fdp.exe"),
            Verdict::Confirm { .. }
        ));
    }
}
