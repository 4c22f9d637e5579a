//! multipart/form-data bodies (RFC 7578), for uploads of reports and photos.

/// The boundary `multipart` uses.
pub const BOUNDARY: &str = "----machimap-test-7d3f0a9c2b";

/// One part of a multipart/form-data body.
#[derive(Clone, Copy)]
pub enum Part<'a> {
    Text(&'a str, &'a str),
    /// name, file name, content type, bytes
    File(&'a str, &'a str, &'a str, &'a [u8]),
}

/// A multipart/form-data body and its Content-Type, with the usual boundary.
pub fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    multipart_with(BOUNDARY, parts)
}

/// A multipart/form-data body and its Content-Type, parts separated by `boundary`.
pub fn multipart_with(boundary: &str, parts: &[Part]) -> (String, Vec<u8>) {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
            Part::File(name, file, content_type, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                         Content-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
