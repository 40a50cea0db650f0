//! A Server-Sent Events reader (the WHATWG event-stream format): bytes in, events out, across
//! chunk boundaries that may split lines or UTF-8 characters.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `id:` of this event, if it had one (svc-notify: the tenant's sequence number).
    pub id: Option<String>,
    /// `event:`; `message` when absent.
    pub event: String,
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    id: Option<String>,
    event: Option<String>,
    data: Vec<String>,
    /// The last `retry:` hint, in milliseconds.
    pub retry_ms: Option<u64>,
}

impl SseParser {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&raw[..end]);
            let line = line.strip_suffix('\r').unwrap_or(&line).to_owned();
            if let Some(event) = self.line(&line) {
                events.push(event);
            }
        }
        events
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            if self.data.is_empty() && self.event.is_none() {
                self.id = None;
                return None;
            }
            let event = SseEvent {
                id: self.id.take(),
                event: self.event.take().unwrap_or_else(|| "message".into()),
                data: std::mem::take(&mut self.data).join("\n"),
            };
            return Some(event);
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "id" => self.id = Some(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            "retry" => self.retry_ms = value.parse().ok().or(self.retry_ms),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_chunking() {
        let stream = "retry: 2000\n: TaskFlow notifications\n\nid: 7\nevent: task\ndata: {\"a\":\"é\"}\n\n: keep-alive\n\nevent: end\ndata: {\"reason\":\"task-ended\"}\r\n\r\n";
        let bytes = stream.as_bytes();
        for size in 1..bytes.len() {
            let mut parser = SseParser::default();
            let events: Vec<SseEvent> = bytes.chunks(size).flat_map(|c| parser.push(c)).collect();
            assert_eq!(
                events,
                vec![
                    SseEvent {
                        id: Some("7".into()),
                        event: "task".into(),
                        data: "{\"a\":\"é\"}".into()
                    },
                    SseEvent {
                        id: None,
                        event: "end".into(),
                        data: "{\"reason\":\"task-ended\"}".into()
                    },
                ],
                "chunks of {size}"
            );
            assert_eq!(parser.retry_ms, Some(2000));
        }
    }
}
