//! The axum front: extract, call the core through an `access::View`, encode. Handlers stay thin.

mod error;
mod features;
mod openapi;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::access::{Principal, View};
use crate::catalog::LiveCatalog;
use crate::query::Format;

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    pub catalog: Arc<LiveCatalog>,
}

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(features::landing))
        .route("/conformance", get(features::conformance))
        .route("/api", get(openapi::api))
        .route("/collections", get(features::collections))
        .route("/collections/{collection}", get(features::collection))
        .route("/collections/{collection}/items", get(features::items))
        .route(
            "/collections/{collection}/items/{feature}",
            get(features::item),
        )
        .route(
            "/collections/{collection}/queryables",
            get(features::queryables),
        )
        .fallback(|| async { ApiError::NotFound("no such resource".into()) })
        .with_state(state)
        // GeoJSON shrinks five- to tenfold: it matters on a phone with weak signal in the hills.
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// The request's view of the catalog. Until sign-in exists every caller is anonymous, so
/// only public layers and attributes exist for them.
pub struct CurrentView(pub View);

impl FromRequestParts<AppState> for CurrentView {
    type Rejection = ApiError;

    async fn from_request_parts(
        _parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(CurrentView(View::new(
            state.catalog.snapshot(),
            Principal::Anonymous,
        )))
    }
}

/// Absolute base URL for links, from the Host header (and `X-Forwarded-Proto` behind a proxy).
pub struct BaseUrl(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(BaseUrl(base_url(&parts.headers)))
    }
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// Decoded query pairs, in order, and the format the Accept header prefers when the query
/// has no `f`: HTML for browsers, JSON for everything else.
pub struct QueryPairs {
    pub pairs: Vec<(String, String)>,
    pub preferred: Format,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RawQuery(q) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let pairs = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(QueryPairs {
            pairs,
            preferred: preferred_format(&parts.headers),
        })
    }
}

impl QueryPairs {
    /// The format of a metadata request, whose only parameter is `f`.
    pub fn metadata_format(&self) -> Result<Format, ApiError> {
        Ok(crate::query::parse_metadata_params(
            &self.pairs,
            self.preferred,
        )?)
    }
}

/// HTML when the Accept header lists `text/html` before any JSON type (what browsers send);
/// JSON otherwise, including `*/*` and no header (what GIS clients and curl send).
fn preferred_format(headers: &HeaderMap) -> Format {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|h| h.to_str().ok()) else {
        return Format::Json;
    };
    for item in accept.split(',') {
        let media = item.split(';').next().unwrap_or("").trim();
        if media == "text/html" {
            return Format::Html;
        }
        if media.ends_with("json") {
            return Format::Json;
        }
    }
    Format::Json
}
