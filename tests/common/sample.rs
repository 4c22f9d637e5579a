//! The server on the bundled sample town, in process, for tests that only read it anonymously.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use machimap::auth::Clock;
use machimap::catalog::{Catalog, LiveCatalog};
use machimap::config::SecurityConfig;
use machimap::http::{AppState, router};
use machimap::store::Store;
use tower::ServiceExt;

/// The router over `data/`, built once per test binary, without the public rate limit (the
/// tests send thousands of requests from one "client").
pub fn app() -> &'static Router {
    static APP: OnceLock<Router> = OnceLock::new();
    APP.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let (catalog, _) = Catalog::load(&dir).expect("the sample catalog loads");
        let security = SecurityConfig {
            public_requests_per_minute: 0,
            ..SecurityConfig::default()
        };
        let store = Arc::new(Store::in_memory().expect("store"));
        router(
            AppState::with_settings(
                Arc::new(LiveCatalog::new(catalog)),
                store,
                security,
                Clock::System,
            )
            .expect("state"),
        )
    })
}

/// An anonymous GET of `uri` (path and query): status, headers and body text.
pub async fn get(uri: &str) -> (StatusCode, HeaderMap, String) {
    let req = Request::builder()
        .uri(uri)
        .header(header::HOST, "machimap.test")
        .body(Body::empty())
        .expect("request");
    let resp = app().clone().oneshot(req).await.expect("router");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let text = String::from_utf8(body.to_vec()).expect("UTF-8 body");
    (status, headers, text)
}
