//! An HTTP/1.1 response carrying server-sent events, parsed incrementally from the bytes a
//! socket returns: the status line and headers, a chunked (or plain) body, then SSE blocks.
//! Written for bench-notify, whose 10,000 clients on raw tokio sockets must stay light: the
//! parser keeps only the bytes of an unfinished block, and hands each event out as slices.

/// One SSE block: `id:`, `event:` (`message` when absent) and `data:` (its last line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    pub id: Option<i64>,
    pub event: &'a [u8],
    pub data: &'a [u8],
}

#[derive(Default)]
pub struct SseParser {
    headers_done: bool,
    chunked: bool,
    status: u16,
    raw: Vec<u8>,
    chunk_left: usize,
    crlf_due: bool,
    text: Vec<u8>,
    opened: bool,
    finished: bool,
}

impl SseParser {
    /// The response's status once its headers are in.
    pub fn status(&self) -> Option<u16> {
        self.headers_done.then_some(self.status)
    }

    /// A `retry:` line has come: the server has started the stream.
    pub fn opened(&self) -> bool {
        self.opened
    }

    /// The chunked body ended (its last chunk, or a chunk size that is not one).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The body read so far of a response that is not a 200 (kept to report it).
    pub fn error_body(&self) -> &[u8] {
        &self.raw
    }

    /// Feeds the next bytes of the response; every complete block goes to `on_event`, in order.
    pub fn feed(&mut self, input: &[u8], mut on_event: impl FnMut(SseEvent<'_>)) {
        self.raw.extend_from_slice(input);
        if !self.headers_done {
            let Some(end) = find(&self.raw, b"\r\n\r\n") else {
                return;
            };
            let head = String::from_utf8_lossy(&self.raw[..end]).to_ascii_lowercase();
            self.status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            self.chunked = head.contains("transfer-encoding: chunked");
            self.headers_done = true;
            self.raw.drain(..end + 4);
        }
        if self.status != 200 {
            return;
        }
        self.dechunk();
        let mut start = 0;
        while let Some(end) = find(&self.text[start..], b"\n\n") {
            let (event, retry) = block(&self.text[start..start + end]);
            self.opened |= retry;
            on_event(event);
            start += end + 2;
        }
        self.text.drain(..start);
        // A burst grows the buffers; 10,000 clients must not keep that much each.
        for buffer in [&mut self.raw, &mut self.text] {
            if buffer.capacity() > 8192 && buffer.len() <= 1024 {
                buffer.shrink_to(1024);
            }
        }
    }

    /// Moves the body's bytes from `raw` to `text`, taking off the chunk framing.
    fn dechunk(&mut self) {
        if !self.chunked {
            self.text.append(&mut self.raw);
            return;
        }
        let mut at = 0;
        loop {
            if self.chunk_left == 0 {
                if self.crlf_due {
                    if self.raw.len() - at < 2 {
                        break;
                    }
                    at += 2;
                    self.crlf_due = false;
                }
                let Some(eol) = find(&self.raw[at..], b"\r\n") else {
                    break;
                };
                let line = String::from_utf8_lossy(&self.raw[at..at + eol]).into_owned();
                let size = line.split(';').next().unwrap_or("").trim();
                at += eol + 2;
                match usize::from_str_radix(size, 16) {
                    Ok(0) | Err(_) => {
                        self.finished = true;
                        break;
                    }
                    Ok(n) => self.chunk_left = n,
                }
            }
            let take = self.chunk_left.min(self.raw.len() - at);
            if take == 0 {
                break;
            }
            self.text.extend_from_slice(&self.raw[at..at + take]);
            at += take;
            self.chunk_left -= take;
            if self.chunk_left == 0 {
                self.crlf_due = true;
            }
        }
        self.raw.drain(..at);
    }
}

/// The event of one block, and whether it holds a `retry:` line.
fn block(block: &[u8]) -> (SseEvent<'_>, bool) {
    let mut event = SseEvent {
        id: None,
        event: b"message",
        data: b"",
    };
    let mut retry = false;
    for line in block.split(|b| *b == b'\n') {
        if let Some(v) = line.strip_prefix(b"id: ") {
            event.id = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
        } else if let Some(v) = line.strip_prefix(b"event: ") {
            event.event = v;
        } else if let Some(v) = line.strip_prefix(b"data: ") {
            event.data = v;
        } else if line.starts_with(b"retry:") {
            retry = true;
        }
    }
    (event, retry)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `parts` in order; returns (id, event, data) of every event.
    fn parse(parser: &mut SseParser, parts: &[&[u8]]) -> Vec<(Option<i64>, String, String)> {
        let mut out = Vec::new();
        for part in parts {
            parser.feed(part, |e| {
                out.push((
                    e.id,
                    String::from_utf8_lossy(e.event).into_owned(),
                    String::from_utf8_lossy(e.data).into_owned(),
                ));
            });
        }
        out
    }

    const HEAD: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

    #[test]
    fn chunked_events_split_anywhere() {
        let body = b"retry: 3000\n\nid: 7\nevent: task\ndata: {\"a\":1}\n\nid: 8\nevent: end\ndata: bye\n\n";
        let mut stream = HEAD.to_vec();
        // Two chunks, the second cut in the middle of an event.
        let (first, second) = body.split_at(30);
        for chunk in [first, second] {
            stream.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            stream.extend_from_slice(chunk);
            stream.extend_from_slice(b"\r\n");
        }
        stream.extend_from_slice(b"0\r\n\r\n");
        let parts: Vec<&[u8]> = stream.chunks(5).collect();
        let mut parser = SseParser::default();
        let events = parse(&mut parser, &parts);
        assert_eq!(
            events,
            [
                (None, "message".into(), String::new()),
                (Some(7), "task".into(), r#"{"a":1}"#.into()),
                (Some(8), "end".into(), "bye".into()),
            ]
        );
        assert_eq!(parser.status(), Some(200));
        assert!(parser.opened() && parser.finished());
    }

    #[test]
    fn a_plain_body_is_read_as_it_comes() {
        let mut parser = SseParser::default();
        let events = parse(
            &mut parser,
            &[
                b"HTTP/1.1 200 OK\r\n\r\nretry: 1\n\nid: 1\nevent: task\ndata: x\n",
                b"\n",
            ],
        );
        assert_eq!(events.len(), 2);
        assert!(parser.opened() && !parser.finished());
    }

    #[test]
    fn an_error_response_keeps_its_body_and_yields_nothing() {
        let mut parser = SseParser::default();
        assert_eq!(parser.status(), None);
        let events = parse(
            &mut parser,
            &[b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 9\r\n\r\nno key\n\n"],
        );
        assert!(events.is_empty());
        assert_eq!(parser.status(), Some(401));
        assert_eq!(parser.error_body(), b"no key\n\n");
        assert!(!parser.opened());
    }
}
