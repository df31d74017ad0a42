//! Server-sent events: parsing an upstream's stream, and writing events.

/// One event: its name (if any) and its data lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field.
    pub event: Option<String>,
    /// The `data:` fields.
    pub data: String,
}

/// Splits a byte stream into events. Bytes may arrive cut anywhere, including
/// inside a UTF-8 character or between `\r` and `\n`.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

/// The most a single event may hold before the stream is called malformed.
pub const MAX_EVENT_BYTES: usize = 16 << 20;

impl SseParser {
    /// Adds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some((end, skip)) = find_event_end(&self.buffer) {
            let raw: Vec<u8> = self.buffer.drain(..end + skip).collect();
            let text = String::from_utf8_lossy(&raw[..end]);
            if let Some(event) = parse_event(&text) {
                events.push(event);
            }
        }
        if self.buffer.len() > MAX_EVENT_BYTES {
            return Err(format!(
                "an upstream event is larger than {} MiB",
                MAX_EVENT_BYTES >> 20
            ));
        }
        Ok(events)
    }

    /// The event left unterminated at the end of the stream, if any.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let text = String::from_utf8_lossy(&self.buffer).into_owned();
        self.buffer.clear();
        parse_event(&text)
    }
}

/// The end of the first complete event (a blank line) and the separator length.
fn find_event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buffer.len() {
        if buffer[i] == b'\n' {
            if buffer.get(i + 1) == Some(&b'\n') {
                return Some((i, 2));
            }
            if buffer.get(i + 1) == Some(&b'\r') && buffer.get(i + 2) == Some(&b'\n') {
                return Some((i, 3));
            }
        }
        i += 1;
    }
    None
}

fn parse_event(text: &str) -> Option<SseEvent> {
    let mut event = None;
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_string()),
            "data" => data.push(value),
            _ => {}
        }
    }
    if event.is_none() && data.is_empty() {
        return None;
    }
    Some(SseEvent {
        event,
        data: data.join("\n"),
    })
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
}
