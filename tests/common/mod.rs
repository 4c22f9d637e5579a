//! The one harness of the integration tests: every helper that more than one test file needs
//! lives here, once.
//!
//! - `response`: the HTTP response type, for answers in process and off a socket;
//! - `client`: HTTP/1.1 over a real socket; `sse`: a Server-Sent Events client;
//! - `town`: the server in process (catalog, stores, users), built by `TownBuilder`;
//!   `sample`: the sample town shared by the anonymous read tests;
//! - `server`: the real `machimap` binary on a local port, and its command line;
//! - `canary`: the canary town of the security tests;
//! - `brute`, `geojson`, `gsi`: independent references (geometry, GeoJSON, GSI's formula);
//! - `multipart`, `photo`: request bodies (forms, photos with EXIF).

#![allow(clippy::unwrap_used, dead_code)]

pub mod brute;
pub mod canary;
pub mod client;
pub mod geojson;
pub mod gsi;
pub mod multipart;
pub mod photo;
pub mod response;
pub mod sample;
pub mod server;
pub mod sse;
pub mod town;

pub use client::http;
pub use response::Response;

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

/// `path?…` with the pairs form-encoded (just `path` without pairs).
pub fn uri(path: &str, params: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

/// `/collections/{layer}/items?…` with the pairs form-encoded.
pub fn items_uri(layer: &str, params: &[(&str, &str)]) -> String {
    uri(&format!("/collections/{layer}/items"), params)
}

/// `text` with every `%XX` decoded (a `%` without two hex digits after it stays as it is) and,
/// when `plus_is_space` (form encoding, as in a query string), every `+` as a space; bytes
/// that are not UTF-8 come out as U+FFFD.
pub fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
