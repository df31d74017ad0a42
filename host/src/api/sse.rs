//! Server-sent events: parsing an upstream's stream, and writing events.
//!
//! The parser is a push parser: the pipeline hands it each chunk of the
//! upstream body as it arrives ([`SseParser::feed`]) and gets back the events
//! that chunk completed. Every byte is looked at once: the parser keeps only
//! the line it is in the middle of and the event it is building, never
//! rescanning what it has seen, so one huge event costs time in proportion to
//! its size. (Crates such as `eventsource-stream` wrap a `Stream` rather than
//! take chunks, and re-parse an unfinished line on every chunk, which is the
//! quadratic cost this module avoids.)
//!
//! Lines end in `\r\n`, `\n` or a bare `\r`, as the SSE specification allows,
//! including a `\r` at the end of one chunk and its `\n` at the start of the
//! next. An event larger than the parser's limit (by default
//! [`MAX_EVENT_BYTES`]) makes the stream malformed.

/// One event: its name (if any) and its data lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field.
    pub event: Option<String>,
    /// The `data:` fields.
    pub data: String,
}

/// The most a single event may hold, by default, before the stream is called
/// malformed: 16 MiB, counting every byte of its lines.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

/// Splits a byte stream into events. Bytes may arrive cut anywhere, including
/// inside a UTF-8 character or between `\r` and `\n`.
#[derive(Debug)]
pub struct SseParser {
    /// The line being read, without its terminator.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` that opens the next one
    /// belongs to that line ending.
    after_cr: bool,
    /// The event being built.
    event: Option<String>,
    /// The event's data lines so far, joined by `\n`.
    data: String,
    /// Whether the event has had a `data` field (an empty one counts).
    has_data: bool,
    /// The bytes the event has taken so far, terminators included.
    event_bytes: usize,
    /// The largest event allowed, in bytes.
    max_event_bytes: usize,
    /// Every byte the parser has examined; tests use it to prove the work is
    /// linear in the input.
    scanned: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser that refuses events larger than `max_event_bytes`.
    pub fn with_limit(max_event_bytes: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            event: None,
            data: String::new(),
            has_data: false,
            event_bytes: 0,
            max_event_bytes,
            scanned: 0,
        }
    }

    /// Adds bytes; returns the events they complete, or an error once the
    /// event being read is larger than the limit (the stream is then broken:
    /// the parser should not be fed again).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut events = Vec::new();
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                self.scanned += 1;
                self.count(1)?;
                bytes = rest;
            }
        }
        while !bytes.is_empty() {
            let Some(at) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') else {
                self.scanned += bytes.len();
                self.count(bytes.len())?;
                self.line.extend_from_slice(bytes);
                break;
            };
            self.scanned += at + 1;
            let mut ending = 1;
            if bytes[at] == b'\r' {
                match bytes.get(at + 1) {
                    Some(b'\n') => {
                        self.scanned += 1;
                        ending = 2;
                    }
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            self.count(at + ending)?;
            self.line.extend_from_slice(&bytes[..at]);
            if let Some(event) = self.end_line() {
                events.push(event);
            }
            bytes = &bytes[at + ending..];
        }
        Ok(events)
    }

    /// The event left unterminated at the end of the stream, if any.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.after_cr = false;
        if !self.line.is_empty() {
            self.take_field();
        }
        self.dispatch()
    }

    /// Adds `n` bytes to the current event's size; fails past the limit.
    fn count(&mut self, n: usize) -> Result<(), String> {
        self.event_bytes += n;
        if self.event_bytes > self.max_event_bytes {
            return Err(format!(
                "an upstream event is larger than {}",
                describe_bytes(self.max_event_bytes)
            ));
        }
        Ok(())
    }

    /// Handles the line just read: a blank line ends the event.
    fn end_line(&mut self) -> Option<SseEvent> {
        if self.line.is_empty() {
            return self.dispatch();
        }
        self.take_field();
        None
    }

    /// Applies the line in `self.line` to the event, and clears it.
    fn take_field(&mut self) {
        let line = String::from_utf8_lossy(&self.line);
        if !line.starts_with(':') {
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = Some(value.to_string()),
                "data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        self.line.clear();
    }

    /// Ends the event being built; returns it unless it had no fields.
    fn dispatch(&mut self) -> Option<SseEvent> {
        self.event_bytes = 0;
        let event = self.event.take();
        let has_data = std::mem::take(&mut self.has_data);
        let data = std::mem::take(&mut self.data);
        if event.is_none() && !has_data {
            return None;
        }
        Some(SseEvent { event, data })
    }
}

/// `n` bytes in MiB when it is a whole number of them, else in bytes.
fn describe_bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// Formats an event for the client.
pub fn format_event(event: Option<&str>, data: &str) -> String {
    match event {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `bytes` cut at `cuts` (sorted offsets), then finishes.
    fn parse_cut(bytes: &[u8], cuts: &[usize]) -> Result<Vec<SseEvent>, String> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            let cut = cut.clamp(start, bytes.len());
            events.extend(parser.feed(&bytes[start..cut])?);
            start = cut;
        }
        events.extend(parser.finish());
        Ok(events)
    }

    #[test]
    fn events_survive_arbitrary_chunking() {
        let stream = "event: a\ndata: {\"x\":\"é\"}\n\n: comment\n\ndata: one\r\ndata: two\r\n\r\ndata: [DONE]\n\n";
        for cut in 1..stream.len() {
            let bytes = stream.as_bytes();
            let mut parser = SseParser::default();
            let mut events = parser.feed(&bytes[..cut]).unwrap();
            events.extend(parser.feed(&bytes[cut..]).unwrap());
            assert_eq!(events.len(), 3, "cut at {cut}");
            assert_eq!(events[0].event.as_deref(), Some("a"));
            assert_eq!(events[0].data, "{\"x\":\"é\"}");
            assert_eq!(events[1].data, "one\ntwo");
            assert_eq!(events[2].data, "[DONE]");
        }
    }

    #[test]
    fn bare_cr_and_mixed_line_endings_parse() {
        let stream = "event: a\rdata: one\rdata: two\r\rdata: b\r\n\r\ndata: c\n\ndata: d\r\n\n";
        let expected = vec![
            SseEvent {
                event: Some("a".into()),
                data: "one\ntwo".into(),
            },
            SseEvent {
                event: None,
                data: "b".into(),
            },
            SseEvent {
                event: None,
                data: "c".into(),
            },
            SseEvent {
                event: None,
                data: "d".into(),
            },
        ];
        let bytes = stream.as_bytes();
        assert_eq!(parse_cut(bytes, &[]).unwrap(), expected);
        for cut in 1..bytes.len() {
            assert_eq!(parse_cut(bytes, &[cut]).unwrap(), expected, "cut at {cut}");
        }
        // A `\r` ending one chunk and a `\n` opening the next are one line
        // ending, not a line ending and a blank line.
        let mut parser = SseParser::default();
        assert!(parser.feed(b"data: x\r").unwrap().is_empty());
        assert!(parser.feed(b"\ndata: y\r").unwrap().is_empty());
        let events = parser.feed(b"\n\r\n").unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "x\ny");
    }

    #[test]
    fn a_multi_mib_event_in_small_chunks_is_scanned_once() {
        let payload = "x".repeat(8 << 20);
        let stream = format!("data: {payload}\n\ndata: [DONE]\n\n");
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in stream.as_bytes().chunks(1024) {
            events.extend(parser.feed(chunk).unwrap());
        }
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].data.len(), payload.len());
        assert_eq!(events[1].data, "[DONE]");
        // Each byte is examined once (the old parser re-read the buffer from
        // its start on every chunk: about 8 Ki chunks × 4 MiB on average).
        assert_eq!(parser.scanned, stream.len());
    }

    #[test]
    fn events_over_the_limit_are_refused() {
        let mut parser = SseParser::with_limit(1024);
        let big = format!("data: {}\n\n", "y".repeat(2000));
        let err = parser.feed(big.as_bytes()).unwrap_err();
        assert!(err.contains("1024 bytes"), "{err}");

        // Arriving in small chunks without a line break makes no difference.
        let mut parser = SseParser::with_limit(1024);
        let mut failed = false;
        for chunk in big.as_bytes().chunks(10) {
            if parser.feed(chunk).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);

        // Many data lines add up.
        let mut parser = SseParser::with_limit(1024);
        let many = "data: 0123456789\n".repeat(100);
        assert!(parser.feed(many.as_bytes()).is_err());

        // Events under the limit each start from zero.
        let mut parser = SseParser::with_limit(1024);
        let small = format!("data: {}\n\n", "z".repeat(900)).repeat(10);
        assert_eq!(parser.feed(small.as_bytes()).unwrap().len(), 10);

        let err = SseParser::default()
            .feed(format!("data: {}", "q".repeat(MAX_EVENT_BYTES)).as_bytes())
            .unwrap_err();
        assert!(err.contains("16 MiB"), "{err}");
    }

    #[test]
    fn finish_returns_the_unterminated_event() {
        let mut parser = SseParser::default();
        assert!(parser.feed(b"event: e\ndata: tail").unwrap().is_empty());
        let event = parser.finish().unwrap();
        assert_eq!(event.event.as_deref(), Some("e"));
        assert_eq!(event.data, "tail");
        assert_eq!(parser.finish(), None);
    }

    /// One field line of a valid stream, without its line ending.
    fn field_line() -> impl Strategy<Value = String> {
        prop_oneof![
            "[^\r\n]{0,40}".prop_map(|v| format!("data: {v}")),
            "[^\r\n]{0,40}".prop_map(|v| format!("data:{v}")),
            "[a-z_]{1,12}".prop_map(|v| format!("event: {v}")),
            "[^\r\n]{0,20}".prop_map(|v| format!(": {v}")),
            Just("data".to_string()),
            "[a-z]{1,6}: [^\r\n]{0,10}",
        ]
    }

    /// A valid stream: events of field lines, every line ended by one of the
    /// three line endings.
    fn stream() -> impl Strategy<Value = Vec<u8>> {
        let ending = prop_oneof![Just("\n"), Just("\r"), Just("\r\n")];
        let line = (field_line(), ending.clone());
        let event = (proptest::collection::vec(line, 1..5), ending);
        proptest::collection::vec(event, 0..6).prop_map(|events| {
            let mut out = String::new();
            for (lines, blank) in events {
                for (line, ending) in lines {
                    out.push_str(&line);
                    out.push_str(ending);
                }
                out.push_str(blank);
            }
            out.into_bytes()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_chunking_of_a_stream_gives_the_same_events(
            bytes in stream(),
            mut cuts in proptest::collection::vec(0usize..2000, 0..8),
        ) {
            cuts.sort_unstable();
            let whole = parse_cut(&bytes, &[]).unwrap();
            let chunked = parse_cut(&bytes, &cuts).unwrap();
            prop_assert_eq!(&whole, &chunked);
            let one_by_one: Vec<usize> = (1..bytes.len()).collect();
            prop_assert_eq!(whole, parse_cut(&bytes, &one_by_one).unwrap());
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_are_scanned_once(
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
            mut cuts in proptest::collection::vec(0usize..4096, 0..8),
            limit in 1usize..8192,
        ) {
            cuts.sort_unstable();
            let mut parser = SseParser::with_limit(limit);
            let mut start = 0;
            for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
                let cut = cut.clamp(start, bytes.len());
                if parser.feed(&bytes[start..cut]).is_err() {
                    break;
                }
                start = cut;
            }
            let _ = parser.finish();
            prop_assert!(parser.scanned <= bytes.len());
        }
    }
}
