//! Bounded capture of a program's output: the first and last few KiB and a count of everything, so
//! an output flood cannot exhaust the app's memory while the model still sees how it began and ended.

use std::collections::VecDeque;

/// Bytes kept from the start of a stream.
pub const HEAD_BYTES: usize = 16 * 1024;
/// Bytes kept from the end of a stream.
pub const TAIL_BYTES: usize = 16 * 1024;

/// Head and tail of one output stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Captured {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Captured {
    /// Adds bytes, keeping at most `HEAD_BYTES + TAIL_BYTES` of them.
    pub fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        let room = HEAD_BYTES.saturating_sub(self.head.len());
        if room > 0 {
            let take = room.min(data.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        if data.len() >= TAIL_BYTES {
            self.tail.clear();
            self.tail.extend(&data[data.len() - TAIL_BYTES..]);
        } else {
            let overflow = (self.tail.len() + data.len()).saturating_sub(TAIL_BYTES);
            self.tail.drain(..overflow);
            self.tail.extend(data);
        }
    }

    /// Every byte seen, kept or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes seen but not kept.
    pub fn cut(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The kept text, with a note where bytes were cut.
    pub fn text(&self) -> String {
        self.text_within(HEAD_BYTES + TAIL_BYTES)
    }

    /// At most about `max` bytes of text: the start and the end, with a note of what was cut
    /// between them.
    pub fn text_within(&self, max: usize) -> String {
        let (a, b) = self.tail.as_slices();
        let mut tail = Vec::with_capacity(a.len() + b.len());
        tail.extend_from_slice(a);
        tail.extend_from_slice(b);
        let whole;
        let (head, tail) = if self.cut() == 0 {
            // Nothing was dropped yet: head and tail are one contiguous run.
            whole = [&self.head[..], &tail[..]].concat();
            if whole.len() <= max {
                (&whole[..], &whole[..0])
            } else {
                let keep_head = max / 2;
                (
                    &whole[..keep_head],
                    &whole[whole.len() - (max - keep_head)..],
                )
            }
        } else {
            let keep_head = self.head.len().min(max / 2);
            let keep_tail = tail.len().min(max - keep_head);
            (&self.head[..keep_head], &tail[tail.len() - keep_tail..])
        };
        let cut = self.total - (head.len() + tail.len()) as u64;
        let mut out = String::from_utf8_lossy(head).into_owned();
        if cut > 0 {
            out.push_str(&format!("\n[… {cut} bytes cut …]\n"));
        }
        out.push_str(&String::from_utf8_lossy(tail));
        out
    }
}

impl serde::Serialize for Captured {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut c = Captured::default();
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.text(), "hello world");
        assert_eq!(c.cut(), 0);
        assert_eq!(c.total(), 11);
    }

    #[test]
    fn a_flood_keeps_head_and_tail_and_counts_the_rest() {
        let mut c = Captured::default();
        c.push(b"START");
        for _ in 0..10_000 {
            c.push(&[b'y'; 1000]);
        }
        c.push(b"END");
        assert_eq!(c.total(), 10_000_008);
        assert_eq!(c.head.len() + c.tail.len(), HEAD_BYTES + TAIL_BYTES);
        let text = c.text();
        assert!(text.starts_with("START"));
        assert!(text.ends_with("END"));
        assert!(text.contains(&format!(
            "{} bytes cut",
            10_000_008 - HEAD_BYTES - TAIL_BYTES
        )));
    }

    #[test]
    fn text_within_keeps_both_ends() {
        let mut c = Captured::default();
        c.push(b"BEGIN");
        c.push(&[b'x'; 5000]);
        c.push(b"END");
        let text = c.text_within(100);
        assert!(text.starts_with("BEGIN"), "{text}");
        assert!(text.ends_with("END"), "{text}");
        assert!(text.contains("4908 bytes cut"), "{text}");
        assert!(text.len() < 150, "{text}");
        assert_eq!(c.text_within(10_000).len(), 5008);
    }

    #[test]
    fn one_huge_chunk_fills_head_then_tail() {
        let mut c = Captured::default();
        let mut data = vec![b'a'; HEAD_BYTES];
        data.extend(vec![b'b'; 100_000]);
        data.extend(b"Z");
        c.push(&data);
        let text = c.text();
        assert!(text.starts_with(&"a".repeat(HEAD_BYTES)));
        assert!(text.ends_with("bZ"));
    }
}
