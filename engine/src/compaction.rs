//! Keeping a conversation inside the model's context window. Tokens are estimated (about four
//! characters each); when a request would not fit, old tool outputs are shrunk first, then older
//! turns are summarised by the model itself, and as a last resort the longest message is cut in the
//! middle. Only the request changes: the stored conversation stays whole.

use futures::StreamExt;

use crate::provider::{ChatMessage, ModelClient, ProviderError, Request, ResponseEvent};

/// Characters of an old tool output kept when it is shrunk.
const KEEP_OF_OLD_OUTPUT: usize = 600;

/// What was done to make a request fit.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Compaction {
    pub before: u64,
    pub after: u64,
    pub shrunk_outputs: usize,
    pub summarised: usize,
    pub cut: bool,
}

impl Compaction {
    /// One sentence for the person.
    pub(crate) fn describe(&self) -> String {
        let mut done = Vec::new();
        if self.shrunk_outputs > 0 {
            done.push(format!(
                "shortened {} old tool outputs",
                self.shrunk_outputs
            ));
        }
        if self.summarised > 0 {
            done.push(format!("summarised {} earlier messages", self.summarised));
        }
        if self.cut {
            done.push("cut the middle of a very long message".to_owned());
        }
        format!(
            "The conversation was too long for the model (about {} tokens): {} to bring it to about {}. The saved conversation is unchanged.",
            self.before,
            done.join(", "),
            self.after
        )
    }
}

/// About how many tokens a message costs.
fn tokens(message: &ChatMessage) -> u64 {
    let chars = match message {
        ChatMessage::System(t) | ChatMessage::User(t) => t.len(),
        // Providers bill an image as roughly a thousand tokens, whatever its bytes.
        ChatMessage::Image { .. } => 4_000,
        ChatMessage::Assistant {
            content,
            tool_calls,
        } => {
            content.len()
                + tool_calls
                    .iter()
                    .map(|c| c.name.len() + c.arguments.len() + 16)
                    .sum::<usize>()
        }
        ChatMessage::Tool { content, .. } => content.len(),
    };
    chars as u64 / 4 + 4
}

/// About how many tokens a conversation costs.
pub(crate) fn estimate(history: &[ChatMessage]) -> u64 {
    history.iter().map(tokens).sum()
}

/// Whether a provider refused because the request is longer than the model's window.
pub(crate) fn is_overflow(e: &ProviderError) -> bool {
    let ProviderError::Http {
        status: 400 | 413 | 422,
        message,
        ..
    } = e
    else {
        return false;
    };
    let m = message.to_ascii_lowercase();
    (m.contains("context")
        && (m.contains("length") || m.contains("window") || m.contains("exceed")))
        || m.contains("too many tokens")
        || m.contains("prompt is too long")
        || m.contains("maximum context")
}

/// What a request may use of a window: the rest stays free for the answer and the tool schemas.
pub(crate) fn budget(window: u64) -> u64 {
    window.saturating_sub((window / 4).min(8_192)).max(256)
}

/// Makes `history` fit `budget` tokens; `None` when it already did.
pub(crate) async fn fit(
    client: &dyn ModelClient,
    history: &mut Vec<ChatMessage>,
    budget: u64,
) -> Result<Option<Compaction>, ProviderError> {
    let before = estimate(history);
    if before <= budget {
        return Ok(None);
    }
    let mut done = Compaction {
        before,
        ..Compaction::default()
    };
    done.shrunk_outputs = shrink_old_outputs(history, budget);
    if estimate(history) > budget {
        done.summarised = summarise(client, history).await?;
    }
    if estimate(history) > budget {
        done.cut = cut_longest(history, budget);
    }
    done.after = estimate(history);
    Ok(Some(done))
}

/// Shortens tool outputs older than the last assistant message, oldest first, until it fits.
fn shrink_old_outputs(history: &mut [ChatMessage], budget: u64) -> usize {
    let current = history
        .iter()
        .rposition(|m| matches!(m, ChatMessage::Assistant { .. }))
        .unwrap_or(0);
    let mut shrunk = 0;
    for i in 0..current {
        if estimate(history) <= budget {
            break;
        }
        if let ChatMessage::Tool { content, .. } = &mut history[i]
            && content.len() > KEEP_OF_OLD_OUTPUT * 2
        {
            let mut end = KEEP_OF_OLD_OUTPUT;
            while !content.is_char_boundary(end) {
                end -= 1;
            }
            let dropped = content.len() - end;
            *content = format!(
                "{}\n[… {dropped} more characters of this old tool output were left out to fit the model's context]",
                &content[..end]
            );
            shrunk += 1;
        }
    }
    shrunk
}

/// Replaces the turns before the latest user message with a summary the model writes.
async fn summarise(
    client: &dyn ModelClient,
    history: &mut Vec<ChatMessage>,
) -> Result<usize, ProviderError> {
    let start = usize::from(matches!(history.first(), Some(ChatMessage::System(_))));
    let Some(last_user) = history
        .iter()
        .rposition(|m| matches!(m, ChatMessage::User(_)))
    else {
        return Ok(0);
    };
    if last_user <= start + 1 {
        return Ok(0);
    }
    let mut transcript = String::new();
    for message in &history[start..last_user] {
        let (who, text) = match message {
            ChatMessage::User(t) => ("person", t.as_str()),
            ChatMessage::Assistant { content, .. } => ("assistant", content.as_str()),
            ChatMessage::Tool { content, .. } => ("tool result", content.as_str()),
            ChatMessage::System(_) => continue,
            ChatMessage::Image { .. } => ("person", "[an image]"),
        };
        let text: String = text.chars().take(2_000).collect();
        transcript.push_str(&format!("{who}: {text}\n\n"));
    }
    let request = Request {
        messages: vec![
            ChatMessage::System(SUMMARY_PROMPT.to_owned()),
            ChatMessage::User(transcript),
        ],
        tools: vec![],
    };
    let mut summary = String::new();
    let mut stream = client.stream(request);
    while let Some(event) = stream.next().await {
        match event? {
            ResponseEvent::TextDelta(t) => summary.push_str(&t),
            ResponseEvent::Finished { .. } => break,
            _ => {}
        }
    }
    let replaced = last_user - start;
    history.splice(
        start..last_user,
        [ChatMessage::User(format!(
            "[A summary of the earlier conversation, made to fit the model's context]\n{}",
            summary.trim()
        ))],
    );
    Ok(replaced)
}

const SUMMARY_PROMPT: &str = "You compress conversations so they fit a model's context. Summarise the conversation below in at most 300 words: what the person wants, the facts, files and results found, decisions made and what is still open. Write only the summary.";

/// Cuts the middle out of the longest message until the history fits (or nothing long is left).
fn cut_longest(history: &mut [ChatMessage], budget: u64) -> bool {
    let mut cut = false;
    while estimate(history) > budget {
        let over = ((estimate(history) - budget) * 4) as usize + 200;
        let Some(text) = history
            .iter_mut()
            .filter_map(|m| match m {
                ChatMessage::User(t) | ChatMessage::Tool { content: t, .. } => Some(t),
                ChatMessage::Assistant { content, .. } => Some(content),
                ChatMessage::System(_) | ChatMessage::Image { .. } => None,
            })
            .max_by_key(|t| t.len())
        else {
            return cut;
        };
        if text.len() < over + 400 {
            return cut;
        }
        let mut from = (text.len() - over) / 2;
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = from + over;
        while !text.is_char_boundary(to) {
            to += 1;
        }
        text.replace_range(
            from..to,
            "\n[… the middle of this long message was left out to fit the model's context …]\n",
        );
        cut = true;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ToolCallId, ToolCallRequest};

    fn tool_turn(output: &str) -> Vec<ChatMessage> {
        vec![
            ChatMessage::Assistant {
                content: String::new(),
                tool_calls: vec![ToolCallRequest {
                    id: ToolCallId::from("c"),
                    wire_id: None,
                    name: "fs_read".into(),
                    arguments: "{}".into(),
                }],
            },
            ChatMessage::Tool {
                call_id: ToolCallId::from("c"),
                content: output.to_owned(),
            },
        ]
    }

    #[test]
    fn old_tool_outputs_shrink_first_and_the_current_ones_stay() {
        let mut history = vec![
            ChatMessage::System("s".into()),
            ChatMessage::User("a".into()),
        ];
        history.extend(tool_turn(&"x".repeat(40_000)));
        history.push(ChatMessage::User("b".into()));
        history.extend(tool_turn(&"y".repeat(2_000)));
        let shrunk = shrink_old_outputs(&mut history, 2_000);
        assert_eq!(shrunk, 1);
        let ChatMessage::Tool { content, .. } = &history[3] else {
            panic!()
        };
        assert!(content.contains("left out to fit"), "{content}");
        let ChatMessage::Tool { content, .. } = &history[6] else {
            panic!()
        };
        assert_eq!(
            content.len(),
            2_000,
            "the current step's output is untouched"
        );
        assert!(estimate(&history) <= 2_000);
    }

    #[test]
    fn the_longest_message_loses_its_middle_as_a_last_resort() {
        let mut history = vec![ChatMessage::User(format!(
            "START{}END",
            "z".repeat(100_000)
        ))];
        assert!(cut_longest(&mut history, 5_000));
        let ChatMessage::User(text) = &history[0] else {
            panic!()
        };
        assert!(text.starts_with("START") && text.ends_with("END"));
        assert!(estimate(&history) <= 5_000);
    }

    #[test]
    fn budgets_leave_room_for_the_answer() {
        assert_eq!(budget(128_000), 128_000 - 8_192);
        assert_eq!(budget(2_000), 1_500);
    }
}
