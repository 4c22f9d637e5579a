//! The extractors every handler uses for path parameters and request bodies. axum's own
//! extractors refuse a bad request with a `text/plain` body; these wrap them and refuse with
//! the OGC exception document (`ApiError`), saying what was wrong and where.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;

/// Longest piece of a request quoted back in an error message.
const QUOTED_CHARS: usize = 40;

/// The body size limit of a route, as set by [`body_limit`]: what a 413 says the limit is.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// The layer that limits the request bodies of a route (or router) to `bytes`: axum's
/// `DefaultBodyLimit`, the limit itself for the messages of the extractors below, and for
/// `limits::guard` to refuse a larger `Content-Length` before any of the body is read.
pub fn body_limit(
    bytes: usize,
) -> (
    DefaultBodyLimit,
    Extension<BodyLimit>,
    super::limits::NoteBodyLimit,
) {
    (
        DefaultBodyLimit::max(bytes),
        Extension(BodyLimit(bytes)),
        super::limits::NoteBodyLimit(bytes),
    )
}

/// The path parameters of a route, deserialised into `T`; a parameter that does not parse
/// (`/admin/history/inspections/abc`) or is not UTF-8 once percent-decoded
/// (`/collections/%FF`) is a 400 naming it.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => {
                // A tuple of parameters reports the position of the bad one: find its name.
                let names: Vec<String> = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map(|raw| raw.iter().map(|(k, _)| k.to_string()).collect())
                    .unwrap_or_default();
                Err(path_error(rejection, &names))
            }
        }
    }
}

/// What a path parameter named `key` must parse as, for messages.
fn parameter_kind(key: &str) -> &'static str {
    match key {
        "feature" => "a feature number",
        "n" => "a photo number",
        _ => "valid here",
    }
}

/// What a path parameter named `key` is, for messages.
fn parameter_name(key: &str) -> &'static str {
    match key {
        "collection" => "the collection id",
        "feature" => "the feature id",
        "n" => "the photo number",
        "name" => "the user name",
        "code" => "the receipt code",
        _ => "each segment",
    }
}

fn quoted(value: &str) -> String {
    value.chars().take(QUOTED_CHARS).collect()
}

/// The 400 for a path parameter that does not fit (a 500 for a route whose parameters do
/// not fit its handler: a bug, logged).
fn path_error(rejection: PathRejection, names: &[String]) -> ApiError {
    use axum::extract::path::ErrorKind;
    let PathRejection::FailedToDeserializePathParams(e) = rejection else {
        return ApiError::internal(format!("path parameters: {rejection}"));
    };
    let not_a = |key: &str, value: &str| {
        ApiError::bad_request(format!(
            "path: \"{}\" is not {}",
            quoted(value),
            parameter_kind(key)
        ))
    };
    match e.into_kind() {
        ErrorKind::ParseErrorAtKey { key, value, .. }
        | ErrorKind::DeserializeError { key, value, .. } => not_a(&key, &value),
        ErrorKind::ParseErrorAtIndex { index, value, .. } => {
            not_a(names.get(index).map_or("", String::as_str), &value)
        }
        ErrorKind::ParseError { value, .. } => {
            not_a(names.first().map_or("", String::as_str), &value)
        }
        ErrorKind::InvalidUtf8InPathParam { key } => ApiError::bad_request(format!(
            "path: {} must be UTF-8 once percent-decoded",
            parameter_name(&key)
        )),
        other => ApiError::internal(format!("path parameters: {other}")),
    }
}

/// The 413 or 400 for a request body that could not be read.
fn body_error(rejection: BytesRejection, limit: Option<BodyLimit>) -> ApiError {
    use axum::extract::rejection::FailedToBufferBody;
    match rejection {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            ApiError::payload_too_large(match limit {
                Some(BodyLimit(n)) => {
                    format!("request body: larger than the limit of {n} bytes of this endpoint")
                }
                None => "request body: larger than the limit of this endpoint".to_string(),
            })
        }
        _ => ApiError::bad_request(
            "request body: cannot be read (a malformed chunked encoding, or the connection ended early)",
        ),
    }
}

/// The whole request body, within the route's limit: over it is a 413, a body that cannot
/// be read a 400.
pub struct BodyBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let limit = req.extensions().get::<BodyLimit>().copied();
        Bytes::from_request(req, state)
            .await
            .map(BodyBytes)
            .map_err(|e| body_error(e, limit))
    }
}

/// The media type of a request (without parameters), or `""` when it has none.
fn media_type(req: &Request) -> &str {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split(';').next())
        .map_or("", str::trim)
}

/// The 415 for a body of another media type than `expected`.
fn wrong_media_type(req: &Request, expected: &str) -> ApiError {
    let given = media_type(req);
    ApiError::unsupported_media_type(format!(
        "Content-Type: expected {expected}, got {}",
        if given.is_empty() {
            "none".to_string()
        } else {
            format!("\"{}\"", quoted(given))
        }
    ))
}

/// A JSON request body deserialised into `T`: another media type is a 415, a body over the
/// limit a 413, and a body that is not JSON or not of the expected shape a 400 saying where.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !media_type(&req).eq_ignore_ascii_case("application/json") {
            return Err(wrong_media_type(&req, "application/json"));
        }
        let BodyBytes(bytes) = BodyBytes::from_request(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("request body: {e}")))
    }
}

/// A `multipart/form-data` body, read part by part (`multipart_error` says what went wrong
/// while reading): another media type is a 415, a missing or broken boundary a 400.
pub struct MultipartBody(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for MultipartBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !media_type(&req).eq_ignore_ascii_case("multipart/form-data") {
            return Err(wrong_media_type(&req, "multipart/form-data"));
        }
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(MultipartBody)
            .map_err(|_| {
                ApiError::bad_request(
                    "Content-Type: multipart/form-data needs a valid boundary parameter",
                )
            })
    }
}
