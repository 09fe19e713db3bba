//! Which tools the built-in runtime shows its model. A small model on a CPU cannot weigh forty
//! tool schemas: reading them costs tens of seconds before the first word, and a 135M model then
//! calls one of them whatever was asked. So the model sees only the few tools whose name or
//! description shares words with what the person last said, and none when nothing matches: a
//! plain question gets a plain answer, and "read notes.txt" is offered `fs_read`.

use std::collections::{HashMap, HashSet};

use crate::provider::{ChatMessage, ToolSpec};

/// Words too common to tell one tool from another.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "did", "do", "does", "for", "from", "give", "given", "has",
    "have", "how", "i", "if", "in", "into", "is", "it", "its", "just", "let", "like", "me", "more",
    "most", "my", "need", "needs", "no", "not", "now", "of", "on", "one", "only", "or", "other",
    "our", "out", "please", "same", "should", "so", "some", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "to", "too", "up", "us", "use", "using", "via",
    "was", "we", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you",
    "your",
];

/// The tools of `tools` worth showing for the conversation `messages`: those that share a
/// telling word with the person's last message, at most `max`, best first (a word of the tool's
/// name counts twice, a word few tools use counts more). A tool named outright comes first.
pub(crate) fn relevant(tools: &[ToolSpec], messages: &[ChatMessage], max: usize) -> Vec<ToolSpec> {
    let Some(said) = messages.iter().rev().find_map(|m| match m {
        ChatMessage::User(text) => Some(text.as_str()),
        _ => None,
    }) else {
        return Vec::new();
    };
    let asked: HashSet<String> = words(said).collect();
    let lowered = said.to_lowercase();
    let titles: Vec<HashSet<String>> = tools.iter().map(|t| words(&t.name).collect()).collect();
    let documents: Vec<HashSet<String>> = tools
        .iter()
        .zip(&titles)
        .map(|(t, title)| title.iter().cloned().chain(words(&t.description)).collect())
        .collect();
    // A word few tools use says more about which one is meant.
    let mut spread: HashMap<&str, usize> = HashMap::new();
    for document in &documents {
        for word in document {
            *spread.entry(word.as_str()).or_default() += 1;
        }
    }
    let count = tools.len() as f64;
    let mut scored: Vec<(usize, f64)> = documents
        .iter()
        .enumerate()
        .map(|(i, document)| {
            let mut score: f64 = asked
                .iter()
                .filter(|w| document.contains(*w))
                .map(|w| {
                    let weight = if titles[i].contains(w) { 2.0 } else { 1.0 };
                    weight * (1.0 + count / spread[w.as_str()] as f64).ln()
                })
                .sum();
            if named(&lowered, &tools[i].name) {
                score += 100.0;
            }
            (i, score)
        })
        .filter(|(_, score)| *score > 0.0)
        .collect();
    // Best first: a small model leans towards the first tool it is shown.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(max);
    scored.into_iter().map(|(i, _)| tools[i].clone()).collect()
}

/// Whether `text` (lower case) names the tool as a word of its own.
fn named(text: &str, name: &str) -> bool {
    let name = name.to_lowercase();
    text.match_indices(&name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The telling words of a text: lower case, split at anything but letters and digits (so
/// `fs_read` is `fs` and `read`), stop words and one-letter words left out, a plural `s` taken off.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 1)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.chars().count() > 2 && !stem.ends_with('s') => stem.to_owned(),
            _ => w,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, description: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            parameters: serde_json::json!({"type": "object"}),
        }
    }

    fn tools() -> Vec<ToolSpec> {
        vec![
            tool(
                "fs_list",
                "List the files and folders in a folder of the workspace.",
            ),
            tool(
                "fs_read",
                "Read a UTF-8 text file of the workspace, whole or a range of lines.",
            ),
            tool(
                "fs_write",
                "Create or replace a text file of the workspace with the given content.",
            ),
            tool("forget", "Delete a fact kept with `remember`."),
            tool(
                "web_search",
                "Search the web; returns titles, URLs and snippets.",
            ),
            tool(
                "run_code",
                "Run a Python, Bash or Node program in an isolated sandbox.",
            ),
        ]
    }

    fn names(chosen: &[ToolSpec]) -> Vec<&str> {
        chosen.iter().map(|t| t.name.as_str()).collect()
    }

    fn ask(text: &str, max: usize) -> Vec<String> {
        let chosen = relevant(&tools(), &[ChatMessage::User(text.into())], max);
        names(&chosen).into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn a_plain_question_is_offered_no_tool() {
        assert!(ask("What is the capital of France? Answer in one sentence.", 3).is_empty());
        assert!(ask("hello", 3).is_empty());
    }

    #[test]
    fn the_tools_a_request_speaks_of_are_offered_best_first() {
        assert_eq!(ask("Read the file notes.txt", 1), ["fs_read"]);
        assert_eq!(ask("List the files in my workspace", 1), ["fs_list"]);
        assert_eq!(ask("search the web for tokio", 1), ["web_search"]);
        assert_eq!(ask("run this python program", 1), ["run_code"]);
        // The best match first, then those that share fewer words, ties in the order given.
        assert_eq!(
            ask("Read the file notes.txt", 3),
            ["fs_read", "fs_list", "fs_write"]
        );
    }

    #[test]
    fn a_tool_named_outright_is_always_offered() {
        assert_eq!(ask("call forget with id 3", 1), ["forget"]);
        assert_eq!(ask("Use the fs_read tool on a.txt.", 1), ["fs_read"]);
        // Part of another word is no mention.
        assert!(ask("unforgettable", 3).is_empty());
    }

    #[test]
    fn the_choice_follows_the_persons_last_message_through_tool_results() {
        let messages = [
            ChatMessage::User("what is new?".into()),
            ChatMessage::Assistant {
                content: "Nothing.".into(),
                tool_calls: vec![],
            },
            ChatMessage::User("read the file a.txt".into()),
            ChatMessage::Tool {
                call_id: crate::api::ToolCallId::from("c1"),
                content: "hello".into(),
            },
        ];
        assert_eq!(names(&relevant(&tools(), &messages, 1)), ["fs_read"]);
        assert!(relevant(&tools(), &[], 3).is_empty());
    }
}
