//! The one error type of the HTTP layer: a kind (which gives the status and the OGC
//! exception code), the public message, and the error behind it as its `source`. The public
//! message never carries internal detail; `log_errors` writes the detail of server errors
//! to the log, with the request they came from.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{AuthError, LoginError};
use crate::edit::EditError;
use crate::edit::photo::PhotoError;
use crate::edit_store::StoreError as EditStoreError;
use crate::query::QueryError;
use crate::store::StoreError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong, as the client is told: each kind is one status and one OGC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A query parameter is wrong (400).
    BadParameter,
    /// A request body or a non-query part of the request is wrong (400).
    BadRequest,
    /// Sign-in needed, or the credentials given were wrong (401).
    Unauthorized,
    /// A Bearer token that is unknown, expired, or whose user was deleted (401).
    InvalidToken,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    /// `If-Match` named an old version (412).
    PreconditionFailed,
    /// A change of an existing feature came without `If-Match` (428).
    PreconditionRequired,
    /// Well-formed but not acceptable, e.g. a reused idempotency key (422).
    Unprocessable,
    ServiceUnavailable,
    PayloadTooLarge,
    /// A request body that stopped arriving (408).
    RequestTimeout,
    /// A request target longer than `max_uri_bytes` (414).
    UriTooLong,
    /// Header fields over `max_header_bytes` in all, or too many of them (431).
    HeadersTooLarge,
    UnsupportedMediaType,
    /// Too many requests; try again after this many seconds (429).
    TooManyRequests {
        retry_after: u64,
    },
    /// A fault of the server (500): the client hears only that.
    Internal,
}

impl Kind {
    pub fn status(self) -> StatusCode {
        self.parts().0
    }

    /// The `code` of the OGC exception document.
    pub fn code(self) -> &'static str {
        self.parts().1
    }

    fn parts(self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Kind::BadParameter => (S::BAD_REQUEST, "InvalidParameterValue"),
            Kind::BadRequest => (S::BAD_REQUEST, "InvalidRequest"),
            Kind::Unauthorized => (S::UNAUTHORIZED, "Unauthorized"),
            Kind::InvalidToken => (S::UNAUTHORIZED, "InvalidToken"),
            Kind::Forbidden => (S::FORBIDDEN, "Forbidden"),
            Kind::NotFound => (S::NOT_FOUND, "NotFound"),
            Kind::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            Kind::Conflict => (S::CONFLICT, "Conflict"),
            Kind::PreconditionFailed => (S::PRECONDITION_FAILED, "PreconditionFailed"),
            Kind::PreconditionRequired => (S::PRECONDITION_REQUIRED, "PreconditionRequired"),
            Kind::Unprocessable => (S::UNPROCESSABLE_ENTITY, "UnprocessableEntity"),
            Kind::ServiceUnavailable => (S::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            Kind::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            Kind::RequestTimeout => (S::REQUEST_TIMEOUT, "RequestTimeout"),
            Kind::UriTooLong => (S::URI_TOO_LONG, "URITooLong"),
            Kind::HeadersTooLarge => (
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "RequestHeaderFieldsTooLarge",
            ),
            Kind::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType"),
            Kind::TooManyRequests { .. } => (S::TOO_MANY_REQUESTS, "TooManyRequests"),
            Kind::Internal => (S::INTERNAL_SERVER_ERROR, "ServerError"),
        }
    }
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    kind: Kind,
    /// What the client is told.
    message: String,
    /// The error behind this one, for the log; never sent.
    #[source]
    source: Option<BoxError>,
}

/// The public message of every server error.
const INTERNAL_MESSAGE: &str = "internal server error";

impl ApiError {
    pub fn new(kind: Kind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The error behind this one (logged for server errors, never sent).
    pub fn with_source(mut self, source: impl Into<BoxError>) -> ApiError {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The same error with `prefix` before its public message (e.g. which photo it is).
    pub fn prefixed(mut self, prefix: &str) -> ApiError {
        if self.kind != Kind::Internal {
            self.message.insert_str(0, prefix);
        }
        self
    }

    pub fn bad_request(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::BadRequest, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::Unauthorized, m)
    }
    pub fn invalid_token() -> ApiError {
        ApiError::new(
            Kind::InvalidToken,
            "the access token is invalid or has expired; sign in again",
        )
    }
    pub fn forbidden(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::Forbidden, m)
    }
    pub fn not_found(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::NotFound, m)
    }
    pub fn method_not_allowed(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::MethodNotAllowed, m)
    }
    pub fn conflict(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::Conflict, m)
    }
    pub fn unprocessable(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::Unprocessable, m)
    }
    pub fn service_unavailable(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::ServiceUnavailable, m)
    }
    pub fn payload_too_large(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::PayloadTooLarge, m)
    }
    pub fn request_timeout(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::RequestTimeout, m)
    }
    pub fn uri_too_long(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::UriTooLong, m)
    }
    pub fn headers_too_large(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::HeadersTooLarge, m)
    }
    pub fn unsupported_media_type(m: impl Into<String>) -> ApiError {
        ApiError::new(Kind::UnsupportedMediaType, m)
    }
    pub fn too_many_requests(m: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError::new(Kind::TooManyRequests { retry_after }, m)
    }

    /// A fault of the server: the client hears "internal server error", the log the detail.
    pub fn internal(detail: impl Into<BoxError>) -> ApiError {
        ApiError::new(Kind::Internal, INTERNAL_MESSAGE).with_source(detail)
    }

    /// The 404 for a collection that does not exist or that the caller may not see: the two
    /// must be indistinguishable.
    pub fn no_collection(id: &str) -> ApiError {
        ApiError::not_found(format!("collection \"{id}\" not found"))
    }

    /// This error and every source behind it, for the log.
    fn detail(&self) -> String {
        let mut out = self.message.clone();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            out.push_str(": ");
            out.push_str(&c.to_string());
            cause = c.source();
        }
        out
    }
}

/// An error's public kind with the error itself as the source.
fn caused(kind: Kind, e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    if kind == Kind::Internal {
        return ApiError::internal(e);
    }
    ApiError::new(kind, e.to_string()).with_source(e)
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        caused(Kind::BadParameter, e)
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        let kind = match &e {
            EditError::Invalid(_) => Kind::BadRequest,
            EditError::Conflict(_) => Kind::Conflict,
            EditError::NotFound(_) => Kind::NotFound,
            EditError::ReadOnly(_) => Kind::MethodNotAllowed,
            EditError::SignInRequired(_) => Kind::Unauthorized,
            EditError::Forbidden { .. } => Kind::Forbidden,
            EditError::PreconditionRequired => Kind::PreconditionRequired,
            EditError::Stale { .. } => Kind::PreconditionFailed,
            EditError::Photo(p) => match p {
                PhotoError::TooLarge { .. } => Kind::PayloadTooLarge,
                PhotoError::NotJpegOrPng { .. } => Kind::UnsupportedMediaType,
                _ => Kind::BadRequest,
            },
            EditError::Store(s) => match s {
                EditStoreError::NoFeature { .. } | EditStoreError::NoPhoto { .. } => Kind::NotFound,
                EditStoreError::NothingToRestore { .. } => Kind::Conflict,
                EditStoreError::VersionMismatch { current, .. } => {
                    // Told as the editor tells a stale If-Match.
                    let stale = EditError::Stale { current: *current };
                    return ApiError::new(Kind::PreconditionFailed, stale.to_string())
                        .with_source(e);
                }
                EditStoreError::KeyReused => Kind::Unprocessable,
                EditStoreError::Mismatch { .. } | EditStoreError::Backend { .. } => Kind::Internal,
            },
            EditError::Internal(_) => Kind::Internal,
        };
        caused(kind, e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let kind = match &e {
            AuthError::InvalidName(_)
            | AuthError::WeakPassword(_)
            | AuthError::UnknownRole(_)
            | AuthError::InvalidRole(_)
            | AuthError::NoDepartment
            | AuthError::InvalidText(_) => Kind::BadRequest,
            AuthError::UserExists(_) | AuthError::RoleExists(_) | AuthError::LastAdmin => {
                Kind::Conflict
            }
            AuthError::NoSuchUser(_) => Kind::NotFound,
            AuthError::Hash(_) | AuthError::Store(_) => Kind::Internal,
        };
        caused(kind, e)
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Invalid => caused(Kind::Unauthorized, e),
            LoginError::Locked { retry_after } => caused(
                Kind::TooManyRequests {
                    retry_after: retry_after.max(1) as u64,
                },
                e,
            ),
            LoginError::Store(e) => e.into(),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(format!("blocking task failed: {e}"))
    }
}

/// Serialising our own documents cannot fail on valid data: a failure is a bug, logged as such.
impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::internal(e)
    }
}

/// A server error's detail, carried from `into_response` to `log_errors` on the response.
#[derive(Clone)]
struct ErrorDetail(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let body = serde_json::json!({
            "code": self.kind.code(),
            "description": self.message,
            "status": status.as_u16(),
        });
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        let headers = response.headers_mut();
        match self.kind {
            Kind::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"machimap\""),
                );
            }
            Kind::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"machimap\", error=\"invalid_token\""),
                );
            }
            Kind::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            _ => {}
        }
        if self.kind == Kind::Internal {
            response.extensions_mut().insert(ErrorDetail(self.detail()));
        }
        response
    }
}

/// The one place server errors are logged: with the method and path they answered, and the
/// whole chain of sources that the client never sees.
pub async fn log_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    if let Some(ErrorDetail(detail)) = response.extensions_mut().remove::<ErrorDetail>() {
        tracing::error!(%method, %path, %detail, "internal error");
    }
    response
}

/// Whether reading a body failed because it is over a size limit (not because it is broken:
/// a bad chunk or a connection cut off is the sender's malformed request, a 400).
pub(super) fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}
