//! Helpers shared by the integration tests that talk to a real server process.

#![allow(clippy::unwrap_used, dead_code)]

pub mod brute;
pub mod geojson;
pub mod gsi;
pub mod sample;
pub mod server;
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
