//! Helpers shared by the integration tests that talk to a real server process.

#![allow(clippy::unwrap_used, dead_code)]

pub mod brute;
pub mod geojson;
pub mod gsi;
pub mod photo;
pub mod sample;
pub mod server;
pub mod sse;
pub mod town;

use std::io::{Read, Write};
use std::net::TcpStream;

/// One HTTP/1.1 exchange over a real socket; returns (status, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let rest = &raw[split + 4..];
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    (status, String::from_utf8(body).unwrap())
}

/// A response as read off the socket: status, headers (names in lower case) and body bytes.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (lossy, for messages).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }
}

/// One HTTP/1.1 exchange of raw bytes over a real socket.
///
/// The body is written from a second thread while this one reads, so a server that answers
/// before it has read the whole body (a 413 for an oversized upload) is heard, and the upload
/// stops when the server closes the connection.
pub fn http_bytes(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let s = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    (&s).write_all(head.as_bytes()).unwrap();
    let raw = std::thread::scope(|scope| {
        // A write error means the server answered early and closed: what is read tells why.
        scope.spawn(|| (&s).write_all(body));
        let mut raw = Vec::new();
        let mut buf = [0u8; 64 << 10];
        loop {
            match (&s).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if response_complete(&raw) {
                        break;
                    }
                }
                // A reset after the whole answer arrived loses nothing.
                Err(_) if response_complete(&raw) => break,
                Err(e) => panic!("{method} {path}: reading the answer failed: {e}"),
            }
        }
        // Unblocks the writer if the server stopped reading without closing.
        let _ = s.shutdown(std::net::Shutdown::Both);
        raw
    });
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no response head in {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

/// Whether `raw` holds a whole response: its head and as much body as it announces.
fn response_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    if head.contains("transfer-encoding: chunked") {
        return chunks_complete(body);
    }
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    // Without a length the body runs to the end of the connection.
    length.is_some_and(|n| body.len() >= n)
}

/// Whether a chunked body has arrived up to its last (empty) chunk.
fn chunks_complete(mut s: &[u8]) -> bool {
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let Some(n) = std::str::from_utf8(&s[..eol])
            .ok()
            .and_then(|size| usize::from_str_radix(size.trim(), 16).ok())
        else {
            return false;
        };
        if n == 0 {
            return true;
        }
        match s.get(eol + 2 + n + 2..) {
            Some(rest) => s = rest,
            None => return false,
        }
    }
    false
}

/// Joins the chunks of a chunked body (sizes count bytes, which may split a character).
fn dechunk(mut s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = s.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&s[..eol]).unwrap().trim();
        let n = usize::from_str_radix(size, 16).unwrap();
        if n == 0 {
            break;
        }
        let data = &s[eol + 2..];
        out.extend_from_slice(&data[..n]);
        s = &data[n + 2..];
    }
    out
}

/// Checks an OpenAPI 3.0 document with openapi-spec-validator (installed by scripts/setup).
pub fn assert_valid_openapi(body: &str) {
    let file = tempfile::NamedTempFile::with_suffix(".json").unwrap();
    std::fs::write(file.path(), body).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.0"])
        .arg(file.path())
        .output()
        .expect("python3 with openapi-spec-validator (scripts/setup installs it)");
    assert!(
        out.status.success(),
        "OpenAPI document invalid: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `/collections/{layer}/items?…` with the pairs form-encoded.
pub fn items_uri(layer: &str, params: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() {
        format!("/collections/{layer}/items")
    } else {
        format!("/collections/{layer}/items?{q}")
    }
}
