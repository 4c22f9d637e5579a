//! The server on the bundled sample town, in process, for tests that only read it anonymously.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, Request, StatusCode, header};
use http_body_util::BodyExt;
use machimap::access::{Catalog, LiveCatalog};
use machimap::auth::Clock;
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

/// An anonymous GET of `uri` (path and query) from the sample server: status, headers and
/// body text.
pub async fn get(uri: &str) -> (StatusCode, HeaderMap, String) {
    let req = Request::builder()
        .uri(uri)
        .header(header::HOST, "machimap.test")
        .body(Body::empty())
        .expect("request");
    exchange(app(), req).await
}

/// Sends `req` to an in-process router and reads the whole answer: status, headers and body
/// text (the body must be UTF-8, as every answer of the server is).
pub async fn exchange(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let what = format!("{} {}", req.method(), req.uri());
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router never fails");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body streams to the end")
        .to_bytes();
    let text =
        String::from_utf8(body.to_vec()).unwrap_or_else(|_| panic!("{what}: body is not UTF-8"));
    (status, headers, text)
}

/// A header's value as text, empty when absent.
pub fn header_text(headers: &HeaderMap, name: HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}
