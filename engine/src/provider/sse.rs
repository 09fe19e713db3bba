//! Reading a streamed answer cheaply: its SSE events split in place, and a chunk that repeats the
//! last one with another text recognised without parsing it again. A fast local server sends tens
//! of thousands of small chunks an answer, so what the engine does per chunk is most of what it
//! adds to a bare read (the stream_overhead bench).

use std::borrow::Cow;
use std::ops::ControlFlow;

use sseer::parser::{RawEventLine, parse_line};

use super::ProviderError;

/// What a wire does with an event's data: go on, or stop reading (the answer is complete).
pub(crate) type Flow = ControlFlow<()>;

/// The byte order mark a stream may start with, which is not part of its first line.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The longest line, and the most data of one event: a server that never ends one is refused
/// instead of filling the memory. Generous, as Gemini sends a generated image inline in one event.
const MAX_EVENT: usize = 32 << 20;

/// SSE events split from the bytes of a response as they arrive, by sseer's line parser (CR, LF
/// or CRLF line ends, comments, fields without the space after the colon), with a BOM, lines cut
/// across reads and characters cut across reads handled here. An event's data is handed over as
/// text borrowed from the bytes received when its one `data:` line lies in one read (the usual
/// case), else joined here. sseer's own `EventStream` makes an event of shared byte slices line
/// by line: 0.13 µs per 190-byte chunk against 0.05 µs here, measured on the bench's answer.
/// Fields other than `data` (`event`, `id`, `retry`) are not needed by any wire: each event's
/// data says what it is, and a broken answer is never resumed.
#[derive(Debug, Default)]
pub(crate) struct Sse {
    /// What followed the last whole line of the reads so far.
    carry: Vec<u8>,
    /// The data of the event being read, when it did not lie in one line of one read.
    data: String,
    /// Whether the event being read has a `data` line.
    has_data: bool,
    /// Whether the first bytes (where a BOM may be) were seen.
    started: bool,
}

impl Sse {
    /// The data of `bytes`, the next read of the stream, when they are exactly one event of one
    /// `data` line (ended by LF LF, the way a server sends most events, one write each) and
    /// nothing of an event is waiting from earlier reads: the data as it arrived, before it is
    /// checked as text or for line ends inside it (which `feed` does). A wire that recognises it
    /// takes it as it is (`Repeats::raw`); else `bytes` go to `feed`. Reading it changes nothing.
    pub(crate) fn lone<'b>(&self, bytes: &'b [u8]) -> Option<&'b [u8]> {
        if !self.carry.is_empty() || !self.started || self.has_data || bytes.len() > MAX_EVENT {
            return None;
        }
        let line = bytes.strip_prefix(b"data:")?.strip_suffix(b"\n\n")?;
        Some(line.strip_prefix(b" ").unwrap_or(line))
    }

    /// Splits `bytes`, the next read of the stream, and calls `event` with the data of each event
    /// that ends in it, until `event` says to stop. Data that is blank is not handed over.
    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        name: &str,
        mut event: impl FnMut(&str) -> Result<Flow, ProviderError>,
    ) -> Result<Flow, ProviderError> {
        if let Some(data) = self.lone(bytes)
            && memchr::memchr2(b'\r', b'\n', data).is_none()
        {
            return hand_over(text(data, name)?, &mut event);
        }
        if !self.carry.is_empty()
            && self.carry.last() != Some(&b'\r')
            && !bytes.iter().any(|&b| b == b'\r' || b == b'\n')
        {
            // Still inside a line: keep the bytes and read the line once it ends (reading what
            // was kept at every read would take time quadratic in the line's length).
            if self.carry.len() + bytes.len() > MAX_EVENT {
                return Err(too_long(name));
            }
            self.carry.extend_from_slice(bytes);
            return Ok(Flow::Continue(()));
        }
        let mut carry = std::mem::take(&mut self.carry);
        let joined = !carry.is_empty();
        if joined {
            carry.extend_from_slice(bytes);
        }
        let mut input: &[u8] = if joined { &carry } else { bytes };
        if !self.started {
            if input.len() < BOM.len() && BOM.starts_with(input) {
                // Perhaps a BOM cut across reads: wait for more.
                self.carry = input.to_vec();
                return Ok(Flow::Continue(()));
            }
            self.started = true;
            input = input.strip_prefix(BOM).unwrap_or(input);
        }
        // The data line of the event being read while it is the only one and lies in `input`.
        let mut line_data: Option<&[u8]> = None;
        while let Some((line, rest)) = parse_line(input) {
            input = rest;
            match line {
                RawEventLine::Empty => {
                    let flow = match line_data.take() {
                        Some(data) => hand_over(text(data, name)?, &mut event)?,
                        None if self.has_data => hand_over(&self.data, &mut event)?,
                        None => Flow::Continue(()),
                    };
                    self.data.clear();
                    self.has_data = false;
                    if flow.is_break() {
                        return Ok(flow);
                    }
                }
                RawEventLine::Field {
                    field_name: b"data",
                    field_value,
                } => {
                    let value = field_value.unwrap_or_default();
                    if self.data.len() + value.len() > MAX_EVENT {
                        return Err(too_long(name));
                    }
                    if self.has_data {
                        if let Some(first) = line_data.take() {
                            self.data.push_str(text(first, name)?);
                        }
                        self.data.push('\n');
                        self.data.push_str(text(value, name)?);
                    } else {
                        line_data = Some(value);
                        self.has_data = true;
                    }
                }
                // Comments (keep-alives), `event`, `id`, `retry` and unknown fields.
                _ => {}
            }
        }
        if let Some(data) = line_data {
            self.data.push_str(text(data, name)?);
        }
        // Keep what follows the last whole line for the next read.
        let left = input.len();
        if left > MAX_EVENT {
            return Err(too_long(name));
        }
        if joined {
            carry.drain(..carry.len() - left);
        } else {
            carry.clear();
            carry.extend_from_slice(&bytes[bytes.len() - left..]);
        }
        self.carry = carry;
        Ok(Flow::Continue(()))
    }

    /// The stream ended: a last line ended by a lone CR is whole now. An event with no blank line
    /// after it is dropped, as the SSE standard says.
    pub(crate) fn finish(
        &mut self,
        name: &str,
        event: impl FnMut(&str) -> Result<Flow, ProviderError>,
    ) -> Result<Flow, ProviderError> {
        if self.carry.last() == Some(&b'\r') {
            return self.feed(b"\n", name, event);
        }
        Ok(Flow::Continue(()))
    }
}

/// Hands `data` to `event` unless it is blank.
fn hand_over(
    data: &str,
    event: &mut impl FnMut(&str) -> Result<Flow, ProviderError>,
) -> Result<Flow, ProviderError> {
    let data = data.trim();
    if data.is_empty() {
        return Ok(Flow::Continue(()));
    }
    event(data)
}

/// The error for a line or event over `MAX_EVENT`.
fn too_long(name: &str) -> ProviderError {
    ProviderError::Stream(format!(
        "provider {name:?} sent an event of over {} MiB; the partial answer is kept",
        MAX_EVENT >> 20
    ))
}

/// A whole line as text. A line ends at a CR or LF byte, which is never part of a multi-byte
/// character, so a character cut across reads is whole again by the time its line is.
fn text<'b>(bytes: &'b [u8], name: &str) -> Result<&'b str, ProviderError> {
    std::str::from_utf8(bytes).map_err(|e| {
        ProviderError::Stream(format!(
            "the connection to provider {name:?} broke off mid-answer (the stream is not UTF-8: {e}); the partial answer is kept"
        ))
    })
}

/// A streamed answer repeats one chunk with only its text changed: OpenAI-compatible servers
/// send `{"id":"chatcmpl-1",…,"choices":[{"index":0,"delta":{"content":"Hi"},…}]}` once per
/// token, the same bytes around another string each time. `Repeats` keeps the bytes around the
/// text of the last chunk that carried nothing but text. A chunk with exactly those bytes before
/// and after one JSON string is that chunk with another text: serde_json still reads the string
/// (escapes, or a quote that would end it early, are refused as in a full parse), and the rest
/// of the chunk, equal byte for byte, parses as before, so the full parse is skipped. On the
/// bench's answer: 0.03 µs a chunk instead of 0.2-0.4 µs. A server that varies every chunk
/// (OpenAI's own `obfuscation` padding, a per-chunk timestamp) is simply parsed in full.
#[derive(Debug, Default)]
pub(crate) struct Repeats {
    /// The bytes before the opening quote of the text, and after its closing quote; empty when
    /// nothing is remembered.
    before: String,
    after: String,
}

impl Repeats {
    /// The text of `data` when it is the remembered chunk with another text.
    pub(crate) fn text<'d>(&self, data: &'d str) -> Option<Cow<'d, str>> {
        if self.before.is_empty() {
            return None;
        }
        let literal = data
            .strip_prefix(self.before.as_str())?
            .strip_suffix(self.after.as_str())?;
        // Only a string: from_str would also take blanks around it (which change nothing).
        let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
        // A string with no escape, quote or control character is its own text (the usual token);
        // anything else is read by serde_json, which refuses what a full parse refuses.
        if !inner.bytes().any(|b| b == b'\\' || b == b'"' || b < 0x20) {
            return Some(Cow::Borrowed(inner));
        }
        serde_json::from_str::<Borrowed<'d>>(literal)
            .ok()
            .map(|Borrowed(text)| text)
    }

    /// `text` for the data of a lone event as it arrived (`Sse::lone`), read without checking
    /// all of it: when it is the remembered chunk with another text, and that text needs no
    /// escapes, only the text is checked as UTF-8. The rest is equal to bytes that were checked
    /// when remembered, free of line ends and of blanks at either end (`remember`), so this is
    /// what `text` gives after `Sse::feed` checks and trims the whole; anything else is `None`
    /// and goes that way. On the bench's answer the wire's thread then spends about 1.1 ms more
    /// CPU than a bare reader per 100 KB, against about 3.8 ms when each chunk was checked whole.
    pub(crate) fn raw<'d>(&self, data: &'d [u8]) -> Option<&'d str> {
        if self.before.is_empty() {
            return None;
        }
        let inner = data
            .strip_prefix(self.before.as_bytes())?
            .strip_suffix(self.after.as_bytes())?
            .strip_prefix(b"\"")?
            .strip_suffix(b"\"")?;
        if inner.iter().any(|&b| b == b'\\' || b == b'"' || b < 0x20) {
            return None;
        }
        std::str::from_utf8(inner).ok()
    }

    /// Remembers `data` as a chunk whose only effect is the text `text`, a string of `data` read
    /// without escapes (so a slice of it). Data with a line end in it (an event of several `data`
    /// lines, joined) or with blanks at either end is not remembered: `raw` relies on neither
    /// being there.
    pub(crate) fn remember(&mut self, data: &str, text: &str) {
        self.forget();
        if memchr::memchr2(b'\r', b'\n', data.as_bytes()).is_some()
            || data.trim().len() != data.len()
        {
            return;
        }
        let Some(start) = text.as_ptr().addr().checked_sub(data.as_ptr().addr()) else {
            return;
        };
        let end = start + text.len();
        let bytes = data.as_bytes();
        if start == 0 || end >= bytes.len() || bytes[start - 1] != b'"' || bytes[end] != b'"' {
            return;
        }
        // `start - 1` and `end + 1` are next to an ASCII quote: both are character boundaries.
        if let (Some(before), Some(after)) = (data.get(..start - 1), data.get(end + 1..)) {
            before.clone_into(&mut self.before);
            after.clone_into(&mut self.after);
        }
    }

    /// Forgets the remembered chunk (the last one carried more than text).
    pub(crate) fn forget(&mut self) {
        self.before.clear();
        self.after.clear();
    }
}

/// A JSON string, borrowed unless it holds escapes.
#[derive(serde::Deserialize)]
struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    /// The events `Sse` gives for `pieces` read one after another.
    fn split(pieces: &[&[u8]]) -> Result<Vec<String>, ProviderError> {
        let mut sse = Sse::default();
        let mut out = Vec::new();
        let mut keep = |data: &str| {
            out.push(data.to_owned());
            Ok(Flow::Continue(()))
        };
        for piece in pieces {
            assert!(sse.feed(piece, "p", &mut keep)?.is_continue());
        }
        assert!(sse.finish("p", &mut keep)?.is_continue());
        Ok(out)
    }

    /// The events sseer's own `EventStream` gives for the same pieces (blank data left out, as
    /// the wires do).
    fn split_by_sseer(pieces: &[&[u8]]) -> Vec<String> {
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
            pieces.iter().map(|p| Ok(p.to_vec())).collect();
        futures::executor::block_on(
            sseer::EventStream::new(futures::stream::iter(pieces))
                .filter_map(|e| async move {
                    let data = e.ok()?.data.trim().to_owned();
                    (!data.is_empty()).then_some(data)
                })
                .collect(),
        )
    }

    /// A stream with what the standard allows: a BOM, CR, LF and CRLF line ends, comments,
    /// `data:` with and without the space, an event of several data lines, `event`/`id`/`retry`
    /// fields, a blank event, multi-byte characters, and a last event cut off by the end.
    const STREAM: &[u8] = "\u{feff}: keep-alive\r\n\r\ndata: {\"a\":1}\n\nevent: delta\ndata:{\"b\":\"é✓\"}\r\n\r\ndata: one\ndata: two\rid: 7\rretry: 10\r\r\ndata:\n\ndata: 日本語\r\n\n: bye\ndata: cut off".as_bytes();

    #[test]
    fn events_are_those_of_the_standard() {
        let whole = split(&[STREAM]).unwrap();
        assert_eq!(whole, ["{\"a\":1}", "{\"b\":\"é✓\"}", "one\ntwo", "日本語"]);
        assert_eq!(whole, split_by_sseer(&[STREAM]));
    }

    /// However the bytes are cut into reads (every cut into two, and a seeded random search of
    /// 2,000 cuttings into many, byte by byte among them), the events are sseer's.
    #[cfg(feature = "testkit")]
    #[test]
    fn any_cutting_gives_the_events_sseer_gives() {
        let whole = split_by_sseer(&[STREAM]);
        for cut in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(cut);
            assert_eq!(split(&[a, b]).unwrap(), whole, "cut at {cut}");
        }
        let cuttings = crate::testkit::random_pieces(STREAM, 2000, 0x9E37_79B9_7F4A_7C15);
        for (case, pieces) in cuttings.iter().enumerate() {
            let pieces: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            assert_eq!(split(&pieces).unwrap(), whole, "case {case}: {pieces:?}");
        }
    }

    /// A read that is exactly one event (how most servers write) is taken whole; reads that look
    /// like one but are not (several data lines, CR line ends, another field first, a BOM, the
    /// rest of an event begun in the read before) give the events sseer gives.
    #[test]
    fn a_read_of_one_event_gives_the_events_sseer_gives() {
        let reads: &[&[&[u8]]] = &[
            &[
                b"data: {\"a\":1}\n\n",
                b"data:{\"b\":2}\n\n",
                b"data: [DONE]\n\n",
            ],
            &["\u{feff}data: bom\n\n".as_bytes(), b"data: after\n\n"],
            &[
                b"data: x\n\n",
                b"data: one\ndata: two\n\n",
                b"data: y\r\n\n",
            ],
            &[b"data: x\n\n", b"data: a\n", b"data: b\n\n", b"data: c\n\n"],
            &[
                b"data: x\n\n",
                b"data: cut",
                b"data: still\n\n",
                b"data: d\n\n",
            ],
            &[
                b"data: x\n\n",
                b"data: cr\r",
                b"data: e\n\n",
                b"data: f\n\n",
            ],
            &[
                b"data: x\n\n",
                b"event: e\ndata: g\n\n",
                b"data:  two spaces \n\n",
            ],
            &[
                b"data: x\n\n",
                b"data: \n\n",
                b"data:\n\n",
                b": ping\n\n",
                b"data: h\n\n",
            ],
        ];
        for pieces in reads {
            let by_sseer = split_by_sseer(pieces);
            assert!(by_sseer.len() >= 2, "{pieces:?}");
            assert_eq!(split(pieces).unwrap(), by_sseer, "{pieces:?}");
        }
    }

    /// A long event read in many small pieces comes out whole (and in time linear in its length:
    /// the line is read once it ends); one that never ends is refused past the limit.
    #[test]
    fn long_events_come_whole_and_endless_ones_are_refused() {
        let text = "x".repeat(4 << 20);
        let event = format!("data: {text}\n\n");
        let pieces: Vec<&[u8]> = event.as_bytes().chunks(1024).collect();
        assert_eq!(split(&pieces).unwrap(), [text]);

        let mut sse = Sse::default();
        let piece = vec![b'y'; 1 << 20];
        let mut first = sse.feed(b"data: ", "p", |_| Ok(Flow::Continue(())));
        let mut fed = 0;
        while first.is_ok() && fed <= MAX_EVENT {
            first = sse.feed(&piece, "p", |_| Ok(Flow::Continue(())));
            fed += piece.len();
        }
        let e = first.unwrap_err();
        assert!(e.to_string().contains("over 32 MiB"), "{e}");
        assert!(fed > MAX_EVENT - piece.len(), "refused after {fed} bytes");
    }

    /// What `Repeats::raw` takes from a read as it arrived is what `feed` hands over and
    /// `Repeats::text` reads from it; what it leaves (escapes, bytes that are not UTF-8, a line
    /// end, blanks, another chunk) goes through `feed`. Data with a line end or blanks at either
    /// end is not remembered at all.
    #[test]
    fn a_lone_event_taken_raw_is_what_feed_and_text_give() {
        let remembered = |data: &str| {
            let mut repeats = Repeats::default();
            let at = data.find("Hi").unwrap();
            repeats.remember(data, &data[at..at + 2]);
            repeats
        };
        let repeats = remembered(r#"{"c":[{"d":{"t":"Hi"}}],"n":1}"#);
        let event = |text: &[u8]| {
            [
                br#"data: {"c":[{"d":{"t":""#.as_slice(),
                text,
                br#""}}],"n":1}"#,
                b"\n\n",
            ]
            .concat()
        };
        let mut sse = Sse::default();
        assert_eq!(
            sse.lone(&event(b"Yo")),
            None,
            "the first read may hold a BOM"
        );
        let first = sse.feed(b"data: x\n\n", "p", |_| Ok(Flow::Continue(())));
        assert!(first.unwrap().is_continue());
        let (mut taken, mut left) = (0, 0);
        for text in [
            b"Yo".as_slice(),
            "é✓".as_bytes(),
            b"",
            br"a\nb",
            br#"a\"b"#,
            b"\xff",
            b"Y\no",
            b"Y\ro",
            b"\t",
        ] {
            let read = event(text);
            let fed = split(&[b"data: x\n\n", &read]).map(|events| events[1..].to_vec());
            match sse.lone(&read).and_then(|data| repeats.raw(data)) {
                Some(got) => {
                    taken += 1;
                    let fed = fed.unwrap();
                    assert_eq!(repeats.text(&fed[0]).as_deref(), Some(got), "{fed:?}");
                    assert_eq!(got.as_bytes(), text);
                }
                None => left += 1,
            }
        }
        assert_eq!((taken, left), (3, 6));
        let plain = event(b"Yo");
        let with_blank = [&plain[..plain.len() - 2], b" \n\n"].concat();
        assert_eq!(sse.lone(&with_blank).and_then(|d| repeats.raw(d)), None);
        let fed = split(&[b"data: x\n\n", &with_blank]).unwrap();
        assert_eq!(
            repeats.text(&fed[1]).as_deref(),
            Some("Yo"),
            "trimmed by feed"
        );
        assert_eq!(sse.lone(b"data: [DONE]\n\n"), Some(b"[DONE]".as_slice()));
        for data in ["{\"t\":\n\"Hi\"}", " {\"t\":\"Hi\"}", "{\"t\":\"Hi\"} "] {
            let repeats = remembered(data);
            assert_eq!(repeats.raw(data.as_bytes()), None, "{data:?}");
            assert_eq!(repeats.text(data), None, "{data:?}");
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_an_error_naming_the_provider() {
        let e = split(&[b"data: \xff\xfe\n\n"]).unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
        assert!(e.to_string().contains("\"p\""), "{e}");
    }

    #[test]
    fn reading_stops_when_the_wire_says_so() {
        let mut sse = Sse::default();
        let mut seen = Vec::new();
        let flow = sse
            .feed(b"data: a\n\ndata: [DONE]\n\ndata: b\n\n", "p", |data| {
                seen.push(data.to_owned());
                Ok(if data == "[DONE]" {
                    Flow::Break(())
                } else {
                    Flow::Continue(())
                })
            })
            .unwrap();
        assert!(flow.is_break());
        assert_eq!(seen, ["a", "[DONE]"]);
    }
}
