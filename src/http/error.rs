//! The one error type of the HTTP layer and its mapping to status codes and the OGC
//! exception document. Public messages never carry internal detail; that goes to the log.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::query::QueryError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    BadParameter(#[from] QueryError),
    #[error("{0}")]
    NotFound(String),
    #[error("internal error: {0}")]
    Internal(String),
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
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "NotFound", m.clone()),
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
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}
