//! HTTP/1.1 over a real socket, for tests of the spawned binary and of the accept loop.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::response::{Response, dechunk};

/// One HTTP/1.1 exchange over a real socket (`Connection: close`).
///
/// The body is written from a second thread while this one reads, so a server that answers
/// before it has read the whole body (a 413 for an oversized upload) is heard, and the upload
/// stops when the server closes the connection.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl AsRef<[u8]>,
) -> Response {
    let body = body.as_ref();
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
    Response::parse(&raw)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}: {:?}", String::from_utf8_lossy(&raw)))
}

/// Whether `raw` holds a whole response: its head and as much body as it announces.
pub fn response_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    if head.contains("transfer-encoding: chunked") {
        return dechunk(body).is_some();
    }
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    // Without a length the body runs to the end of the connection.
    length.is_some_and(|n| body.len() >= n)
}
