//! A Server-Sent Events client on a raw socket, for tests of live streams: it reads the
//! chunked body as it arrives and splits it into events as the SSE format defines them
//! (fields `id`, `event`, `data`; comment lines start with `:`; a blank line ends an event).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// One event of the stream.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// `data` as JSON; panics with the event when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// The `id`; panics without one.
    pub fn event_id(&self) -> &str {
        self.id
            .as_deref()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(|| panic!("event without an id: {self:?}"))
    }
}

/// An open event stream.
pub struct EventStream {
    stream: TcpStream,
    /// Bytes read but not yet de-chunked.
    raw: Vec<u8>,
    /// De-chunked body not yet split into events.
    text: Vec<u8>,
    /// The last (empty) chunk arrived: the server ended the stream.
    ended: bool,
}

impl EventStream {
    /// `GET path` with `headers`; asserts a 200 `text/event-stream` answer and returns once its
    /// head is read (the server has subscribed by then).
    pub fn open(addr: &str, path: &str, headers: &[(&str, &str)]) -> EventStream {
        let mut stream = TcpStream::connect(addr).unwrap();
        let mut req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let split = loop {
            if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            let n = stream.read(&mut buf).expect("the stream's response head");
            assert!(n > 0, "GET {path}: closed before the head: {raw:?}");
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status = head.split(' ').nth(1).unwrap_or_default().to_string();
        if status != "200" {
            // Read the error document for the message.
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let _ = stream.read_to_end(&mut raw);
            panic!("GET {path}: {}", String::from_utf8_lossy(&raw));
        }
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        EventStream {
            stream,
            raw: raw[split + 4..].to_vec(),
            text: Vec::new(),
            ended: false,
        }
    }

    /// The next event (comments and `retry`-only blocks skipped), or `None` when none came
    /// before `deadline`. Panics if the server ends the stream.
    pub fn next_before(&mut self, deadline: Instant) -> Option<SseEvent> {
        loop {
            self.dechunk();
            while let Some(end) = self.text.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.text.drain(..end + 2).collect();
                if let Some(event) = parse_block(&String::from_utf8_lossy(&block)) {
                    return Some(event);
                }
            }
            assert!(!self.ended, "the server ended the event stream");
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            self.stream.set_read_timeout(Some(deadline - now)).unwrap();
            let mut buf = [0u8; 8192];
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the server closed the event stream"),
                Ok(n) => self.raw.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None;
                }
                Err(e) => panic!("reading the event stream: {e}"),
            }
        }
    }

    /// Moves every complete chunk from `raw` to `text`.
    fn dechunk(&mut self) {
        while let Some(eol) = self.raw.windows(2).position(|w| w == b"\r\n") {
            let size = std::str::from_utf8(&self.raw[..eol]).unwrap().trim();
            let n = usize::from_str_radix(size, 16).unwrap();
            if n == 0 {
                self.ended = true;
                return;
            }
            if self.raw.len() < eol + 2 + n + 2 {
                return;
            }
            self.text.extend_from_slice(&self.raw[eol + 2..eol + 2 + n]);
            self.raw.drain(..eol + 2 + n + 2);
        }
    }
}

/// One event block; `None` for a block without `event` or `data` (a comment, a `retry`).
fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent::default();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if line.starts_with(':') || line.is_empty() {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => event.id = Some(value.to_string()),
            "event" => event.event = Some(value.to_string()),
            "data" => data.push(value),
            _ => {}
        }
    }
    if event.event.is_none() && data.is_empty() {
        return None;
    }
    event.data = data.join("\n");
    Some(event)
}
