//! The one error type of the HTTP layer and its mapping to status codes and the OGC
//! exception document. Public messages never carry internal detail; that goes to the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{AuthError, LoginError};
use crate::edit::EditError;
use crate::edit::photo::PhotoError;
use crate::edit_store::StoreError as EditStoreError;
use crate::query::QueryError;
use crate::store::StoreError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    BadParameter(#[from] QueryError),
    /// A request body or a non-query part of the request is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// Sign-in needed (or the credentials given were wrong).
    #[error("{0}")]
    Unauthorized(String),
    /// A Bearer token that is unknown, expired, or whose user was deleted.
    #[error("the access token is invalid or has expired; sign in again")]
    InvalidToken,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named an old version (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// A change of an existing feature came without `If-Match` (428).
    #[error("{0}")]
    PreconditionRequired(String),
    /// Well-formed but not acceptable, e.g. a reused idempotency key (422).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A request body that stopped arriving (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// A request target longer than `max_uri_bytes` (414).
    #[error("{0}")]
    UriTooLong(String),
    /// Header fields over `max_header_bytes` in all, or too many of them (431).
    #[error("{0}")]
    HeadersTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        let m = e.to_string();
        match e {
            EditError::Invalid(_) => ApiError::BadRequest(m),
            EditError::Conflict(_) => ApiError::Conflict(m),
            EditError::NotFound(_) => ApiError::NotFound(m),
            EditError::ReadOnly(_) => ApiError::MethodNotAllowed(m),
            EditError::SignInRequired(_) => ApiError::Unauthorized(m),
            EditError::Forbidden { .. } => ApiError::Forbidden(m),
            EditError::PreconditionRequired => ApiError::PreconditionRequired(m),
            EditError::Stale { .. } => ApiError::PreconditionFailed(m),
            EditError::Photo(p) => match p {
                PhotoError::TooLarge { .. } => ApiError::PayloadTooLarge(m),
                PhotoError::NotJpegOrPng { .. } => ApiError::UnsupportedMediaType(m),
                _ => ApiError::BadRequest(m),
            },
            EditError::Store(s) => match s {
                EditStoreError::NoFeature { .. } | EditStoreError::NoPhoto { .. } => {
                    ApiError::NotFound(m)
                }
                EditStoreError::NothingToRestore { .. } => ApiError::Conflict(m),
                EditStoreError::VersionMismatch { current, .. } => {
                    ApiError::from(EditError::Stale { current })
                }
                EditStoreError::KeyReused => ApiError::Unprocessable(m),
                EditStoreError::Mismatch { .. } | EditStoreError::Backend { .. } => {
                    ApiError::Internal(m)
                }
            },
            EditError::Internal(_) => ApiError::Internal(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidName(_)
            | AuthError::WeakPassword(_)
            | AuthError::UnknownRole(_)
            | AuthError::InvalidRole(_)
            | AuthError::NoDepartment
            | AuthError::InvalidText(_) => ApiError::BadRequest(e.to_string()),
            AuthError::UserExists(_) | AuthError::RoleExists(_) | AuthError::LastAdmin => {
                ApiError::Conflict(e.to_string())
            }
            AuthError::NoSuchUser(_) => ApiError::NotFound(e.to_string()),
            AuthError::Hash(_) | AuthError::Store(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Invalid => ApiError::Unauthorized(e.to_string()),
            LoginError::Locked { retry_after } => ApiError::TooManyRequests {
                message: e.to_string(),
                retry_after: retry_after.max(1) as u64,
            },
            LoginError::Store(e) => e.into(),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("blocking task failed: {e}"))
    }
}

/// Serialising our own documents cannot fail on valid data: a failure is a bug, logged as such.
impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError::Internal(format!("JSON encoding: {e}"))
    }
}

impl ApiError {
    /// The 404 for a collection that does not exist or that the caller may not see: the two
    /// must be indistinguishable.
    pub fn no_collection(id: &str) -> ApiError {
        ApiError::NotFound(format!("collection \"{id}\" not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, description) = match &self {
            ApiError::BadParameter(e) => (
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                e.to_string(),
            ),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "InvalidRequest", m.clone()),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "Unauthorized", m.clone()),
            ApiError::InvalidToken => (StatusCode::UNAUTHORIZED, "InvalidToken", self.to_string()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "Forbidden", m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "NotFound", m.clone()),
            ApiError::MethodNotAllowed(m) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                m.clone(),
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "Conflict", m.clone()),
            ApiError::PreconditionFailed(m) => (
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                m.clone(),
            ),
            ApiError::PreconditionRequired(m) => (
                StatusCode::PRECONDITION_REQUIRED,
                "PreconditionRequired",
                m.clone(),
            ),
            ApiError::Unprocessable(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "UnprocessableEntity",
                m.clone(),
            ),
            ApiError::ServiceUnavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                m.clone(),
            ),
            ApiError::PayloadTooLarge(m) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", m.clone())
            }
            ApiError::RequestTimeout(m) => {
                (StatusCode::REQUEST_TIMEOUT, "RequestTimeout", m.clone())
            }
            ApiError::UriTooLong(m) => (StatusCode::URI_TOO_LONG, "URITooLong", m.clone()),
            ApiError::HeadersTooLarge(m) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "RequestHeaderFieldsTooLarge",
                m.clone(),
            ),
            ApiError::UnsupportedMediaType(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                m.clone(),
            ),
            ApiError::TooManyRequests { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                message.clone(),
            ),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServerError",
                    "internal server error".to_string(),
                )
            }
        };
        let body = serde_json::json!({
            "code": code,
            "description": description,
            "status": status.as_u16(),
        });
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"machimap\""),
                );
            }
            ApiError::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"machimap\", error=\"invalid_token\""),
                );
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
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
