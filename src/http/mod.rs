//! The axum front: extract, call the core through an `access::View`, encode. Handlers stay thin.

mod admin;
mod edit;
mod error;
mod extract;
mod features;
mod hardening;
mod identity;
mod limits;
mod live;
mod lookup;
mod openapi;
mod photos;
mod reports;
pub mod serve;
mod session;
mod situation;
mod tiles;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use limits::RequestLimits;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use hardening::RateLimits;
pub use identity::{Caller, ClientAddr, CurrentView};

use crate::access::LiveCatalog;
use crate::auth::{Auth, AuthError, Clock, Policy};
use crate::config::SecurityConfig;
use crate::edit::Editor;
use crate::encode::{Link, media};
use crate::query::Format;
use crate::store::Store;
use crate::tiles::TileCache;

/// Largest sign-in body: a name and a password.
const LOGIN_BODY_BYTES: usize = 16 * 1024;

/// Shared server state.
#[derive(Clone)]
pub struct AppState {
    pub catalog: Arc<LiveCatalog>,
    pub auth: Arc<Auth>,
    pub security: Arc<SecurityConfig>,
    pub limits: Arc<RateLimits>,
    /// The writer of editable layers; `None` when the server runs without an edit store
    /// (editable layers are then empty and read-only).
    pub editor: Option<Arc<Editor>>,
    /// Built vector tiles, shared by callers who see the same content.
    pub tiles: Arc<TileCache>,
}

impl AppState {
    /// State over `catalog` and `store`, with the security settings of the catalog's
    /// `[server.security]` and the system clock.
    pub fn new(catalog: Arc<LiveCatalog>, store: Arc<Store>) -> Result<AppState, AuthError> {
        let security = catalog.snapshot().server.security.clone();
        AppState::with_settings(catalog, store, security, Clock::System)
    }

    /// State with explicit security settings and clock (tests move the clock to expire
    /// sessions and locks).
    pub fn with_settings(
        catalog: Arc<LiveCatalog>,
        store: Arc<Store>,
        security: SecurityConfig,
        clock: Clock,
    ) -> Result<AppState, AuthError> {
        let tile_cache_bytes = catalog.snapshot().server.tile_cache_mb * 1024 * 1024;
        let policy = Policy {
            session_secs: i64::from(security.session_hours) * 3600,
            max_failures: security.max_failed_logins,
            lockout_secs: i64::from(security.lockout_minutes) * 60,
        };
        Ok(AppState {
            catalog,
            auth: Arc::new(Auth::new(store, clock, policy)?),
            limits: Arc::new(RateLimits::new(&security)),
            security: Arc::new(security),
            editor: None,
            tiles: Arc::new(TileCache::new(tile_cache_bytes)),
        })
    }

    /// This state with `editor` writing editable layers; it must serve the same catalog.
    pub fn with_editor(mut self, editor: Arc<Editor>) -> AppState {
        self.catalog = Arc::clone(editor.live());
        self.editor = Some(editor);
        self
    }

    /// The session cookie's name under the current settings.
    pub fn cookie_name(&self) -> &'static str {
        if self.security.secure_cookie {
            identity::SECURE_COOKIE
        } else {
            identity::PLAIN_COOKIE
        }
    }
}

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    let csp = HeaderValue::from_str(&hardening::content_security_policy(&state.security))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let body_limit = state.security.max_body_bytes;
    let request_limits = Arc::new(RequestLimits::new(&state.security));
    // Uploads of photos may be as large as every photo at its limit.
    let photo_body = {
        let catalog = state.catalog.snapshot();
        reports::body_limit(crate::config::MAX_PHOTOS, catalog.server.max_photo_bytes)
    };
    let public = Router::new()
        .route("/", get(features::landing))
        .route("/conformance", get(features::conformance))
        .route("/api", get(openapi::api))
        .route("/collections", get(features::collections))
        .route("/collections/{collection}", get(features::collection))
        .route(
            "/collections/{collection}/items",
            get(features::items).post(edit::create),
        )
        .route(
            "/collections/{collection}/items/{feature}",
            get(features::item)
                .put(edit::replace)
                .patch(edit::patch)
                .delete(edit::delete),
        )
        .route(
            "/collections/{collection}/queryables",
            get(features::queryables),
        )
        .route(
            "/collections/{collection}/sortables",
            get(features::sortables),
        )
        .route("/collections/{collection}/nearest", get(lookup::nearest))
        .route(
            "/collections/{collection}/items/{feature}/photos",
            get(photos::list)
                .post(photos::add)
                .layer(extract::body_limit(photo_body)),
        )
        .route(
            "/collections/{collection}/items/{feature}/photos/{n}",
            get(photos::get).patch(photos::set_public),
        )
        .route(
            "/reports",
            get(reports::form)
                .post(reports::create)
                .layer(extract::body_limit(photo_body)),
        )
        .route("/reports/{code}", get(reports::status))
        .route("/collections/{collection}/changes", get(live::changes))
        .route("/collections/{collection}/summary", get(situation::summary))
        .route("/collections/{collection}/export", get(situation::export))
        .route("/tileMatrixSets", get(tiles::tile_matrix_sets))
        .route("/tileMatrixSets/{tms}", get(tiles::tile_matrix_set))
        .route("/tiles", get(tiles::dataset_tilesets))
        .route("/tiles/{tms}", get(tiles::dataset_tileset))
        .route("/tiles/{tms}/{z}/{y}/{x}", get(tiles::dataset_tile))
        .route(
            "/collections/{collection}/tiles",
            get(tiles::collection_tilesets),
        )
        .route(
            "/collections/{collection}/tiles/{tms}",
            get(tiles::collection_tileset),
        )
        .route(
            "/collections/{collection}/tiles/{tms}/{z}/{y}/{x}",
            get(tiles::collection_tile),
        )
        .route("/location", get(lookup::location))
        .route("/search", get(lookup::search))
        // Before the CORS layer, so a preflight on a read route reaches it and is answered.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(hardening::public_cors());
    let auth = Router::new()
        .route(
            "/auth/login",
            post(session::login).layer(extract::body_limit(LOGIN_BODY_BYTES)),
        )
        .route("/auth/logout", post(session::logout))
        .route("/auth/session", get(session::current))
        .method_not_allowed_fallback(method_not_allowed);
    let admin = Router::new()
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/users/{name}", delete(admin::delete_user))
        .route("/admin/users/{name}/roles", put(admin::set_roles))
        .route("/admin/users/{name}/password", put(admin::set_password))
        .route("/admin/roles", get(admin::roles).post(admin::add_role))
        .route("/admin/audit", get(admin::audit_log))
        .route("/admin/history/{collection}/{feature}", get(edit::history))
        .route("/admin/deleted/{collection}", get(edit::deleted))
        .route(
            "/admin/deleted/{collection}/{feature}/restore",
            post(edit::restore),
        )
        .method_not_allowed_fallback(method_not_allowed);
    public
        .merge(auth)
        .merge(admin)
        .fallback(|| async { ApiError::not_found("no such resource") })
        .layer(extract::body_limit(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            identity::resolve_caller,
        ))
        .with_state(state)
        // GeoJSON shrinks five- to tenfold: it matters on a phone with weak signal in the hills.
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            request_limits,
            limits::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            csp,
            hardening::security_headers,
        ))
        .layer(axum::middleware::from_fn(error::log_errors))
        .layer(TraceLayer::new_for_http())
}

/// A method the route has no handler for. axum adds the `Allow` header (RFC 9110 §15.5.6);
/// `OPTIONS` is answered as what it asks: which methods there are.
async fn method_not_allowed(method: axum::http::Method) -> Response {
    if method == axum::http::Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        ApiError::method_not_allowed("this method is not allowed on this resource").into_response()
    }
}

/// A JSON document (sign-in, administration) with `status`.
fn json_response(status: StatusCode, doc: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response()
}

/// Absolute base URL for links, from the Host header (and `X-Forwarded-Proto` behind a proxy).
pub struct BaseUrl(pub String);

impl FromRequestParts<AppState> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(BaseUrl(base_url(&parts.headers, &state.security)))
    }
}

/// The start of every link: the configured public address, or what the request was sent to.
/// `X-Forwarded-Proto` counts only behind a proxy, which sets it; from anyone else it is a
/// way to make cached answers point elsewhere.
fn base_url(headers: &HeaderMap, security: &SecurityConfig) -> String {
    if let Some(url) = &security.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|_| security.behind_proxy);
    let scheme = match forwarded {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// `self` and `alternate` links for `path?query`, with `f` set to each format.
pub(super) fn format_links(
    url: &str,
    pairs: &[(String, String)],
    format: Format,
    json_type: &'static str,
) -> Vec<Link> {
    let with = |f: &str| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "f") {
            s.append_pair(k, v);
        }
        s.append_pair("f", f);
        format!("{url}?{}", s.finish())
    };
    let json = Link::new(with("json"), "self", json_type).titled("This answer as JSON");
    let html = Link::new(with("html"), "alternate", media::HTML).titled("This answer as HTML");
    match format {
        Format::Json => vec![json, html],
        Format::Html => vec![
            Link {
                rel: "self",
                ..html
            },
            Link {
                rel: "alternate",
                ..json
            },
        ],
    }
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
        let Ok(RawQuery(q)) = RawQuery::from_request_parts(parts, state).await;
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
