//! The one HTTP response type of the tests, whether the answer came from the router in process
//! or off a real socket: status, headers and body (as bytes and as text).

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::Value as Json;

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as text (lossy UTF-8, for assertions and messages).
    pub body: String,
    /// The body as the server sent it.
    pub bytes: Vec<u8>,
}

impl Response {
    pub fn new(status: StatusCode, headers: HeaderMap, bytes: Vec<u8>) -> Response {
        Response {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    /// Status, headers and body text, for tests that destructure the answer.
    pub fn into_parts(self) -> (StatusCode, HeaderMap, String) {
        (self.status, self.headers, self.body)
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first header named `name` as text, empty when absent.
    pub fn header_text(&self, name: &str) -> &str {
        self.header(name).unwrap_or("")
    }

    /// The Content-Type, empty when absent.
    pub fn content_type(&self) -> &str {
        self.header_text("content-type")
    }

    /// Every header as (lower-case name, value) in the order sent.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    /// The body as UTF-8 text (lossy, for messages).
    pub fn text(&self) -> String {
        self.body.clone()
    }

    /// The body as JSON; panics with the status and body when it is not.
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                excerpt(&self.body, "")
            )
        })
    }

    /// The error document's `description`; panics when the body is not one of `status`.
    pub fn error_description(&self) -> String {
        let doc = self.json();
        assert_eq!(doc["status"], self.status.as_u16(), "{doc}");
        doc["description"]
            .as_str()
            .unwrap_or_else(|| panic!("no description: {doc}"))
            .to_string()
    }

    /// Asserts the OGC error document of `status` with `code` and a description.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.content_type().starts_with("application/json"),
            "{:?}",
            self.headers
        );
        let doc = self.json();
        assert_eq!(doc["code"], code, "{doc}");
        assert_eq!(doc["status"], status, "{doc}");
        assert!(
            doc["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{doc}"
        );
    }

    /// Parses a response off the wire: head, then a body that is complete (to its last chunk,
    /// or exactly as long as its Content-Length). `Err` says what is missing.
    pub fn parse(raw: &[u8]) -> Result<Response, &'static str> {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no complete response head")?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse::<u16>().ok())
            .and_then(|c| StatusCode::from_u16(c).ok())
            .ok_or("no status line")?;
        let mut headers = HeaderMap::new();
        for (k, v) in lines.filter_map(|l| l.split_once(':')) {
            let name =
                HeaderName::from_bytes(k.trim().as_bytes()).map_err(|_| "bad header name")?;
            let value = HeaderValue::from_str(v.trim()).map_err(|_| "bad header value")?;
            headers.append(name, value);
        }
        let rest = &raw[split + 4..];
        let chunked = headers
            .get("transfer-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
        let body = if chunked {
            dechunk(rest).ok_or("incomplete chunked body")?
        } else {
            let length = headers
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<usize>().ok());
            // A body of another length than announced is a response cut short.
            if length.is_some_and(|n| n != rest.len()) {
                return Err("body shorter or longer than its Content-Length");
            }
            rest.to_vec()
        };
        Ok(Response::new(status, headers, body))
    }
}

/// Joins the chunks of a chunked body up to its last (empty) chunk; `None` when it is cut
/// short (sizes count bytes, which may split a character).
pub fn dechunk(mut s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = s.windows(2).position(|w| w == b"\r\n")?;
        let n = usize::from_str_radix(std::str::from_utf8(&s[..eol]).ok()?.trim(), 16).ok()?;
        if n == 0 {
            return Some(out);
        }
        out.extend_from_slice(s.get(eol + 2..eol + 2 + n)?);
        s = s.get(eol + 2 + n + 2..)?;
    }
}

/// A header's value as text, empty when absent.
pub fn header_text(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The first few hundred characters of `body` around `needle` (or from the start).
pub fn excerpt(body: &str, needle: &str) -> String {
    let at = if needle.is_empty() {
        0
    } else {
        body.find(needle).unwrap_or(0)
    };
    let mut start = at.saturating_sub(150);
    while !body.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 250).min(body.len());
    while !body.is_char_boundary(end) {
        end += 1;
    }
    body[start..end].to_string()
}
