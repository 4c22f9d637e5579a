//! The sample town in process with a real GeoPackage edit store in a temporary folder and four
//! signed-in staff users, for tests of editing and of what edits feed (reports, the live
//! stream, summaries, exports).

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use machimap::access::{Catalog, LiveCatalog};
use machimap::auth::{Actor, Auth, Clock};
use machimap::config::SecurityConfig;
use machimap::edit::Editor;
use machimap::edit_store::EditStore;
use machimap::edit_store::gpkg::GeoPackage;
use machimap::http::{AppState, router};
use machimap::store::Store;
use serde_json::{Value as Json, json};

use super::sample::exchange;

/// A server over the sample catalog with an empty edit store and five staff users.
pub struct Town {
    _dir: tempfile::TempDir,
    pub app: Router,
    pub edits: Arc<GeoPackage>,
    /// Bearer tokens: a disaster-office clerk, a second clerk, a water engineer, an admin, and
    /// an admin of the water department.
    pub sato: String,
    pub suzuki: String,
    pub mizuno: String,
    pub kanri: String,
    pub suido_kanri: String,
}

pub fn town() -> Town {
    town_with(SecurityConfig {
        public_requests_per_minute: 0,
        ..SecurityConfig::default()
    })
}

/// The town with these security settings.
pub fn town_with(security: SecurityConfig) -> Town {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let edits = Arc::new(GeoPackage::open(&dir.path().join("edits.gpkg")).expect("gpkg"));
    let (catalog, _) = Catalog::load_with(&data, Some(edits.as_ref() as &dyn EditStore))
        .unwrap_or_else(|e| panic!("{:?}", e.lines()));
    let live = Arc::new(LiveCatalog::new(catalog));
    let editor = Arc::new(Editor::new(
        Arc::clone(&edits) as Arc<dyn EditStore>,
        Arc::clone(&live),
    ));
    let store = Arc::new(Store::in_memory().expect("store"));
    let state = AppState::with_settings(live, Arc::clone(&store), security, Clock::System)
        .expect("state")
        .with_editor(editor);
    let auth = Auth::new(store, Clock::System, Default::default()).expect("auth");
    let actor = Actor {
        name: "test",
        client: "test",
    };
    let token = |name: &str, roles: &[&str]| {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        auth.add_user(actor, name, "危機管理課", &roles, "a long test password")
            .expect("user");
        auth.login(name, "a long test password", "test")
            .expect("login")
            .token
    };
    Town {
        sato: token("sato", &["staff", "disaster"]),
        suzuki: token("suzuki", &["staff", "disaster"]),
        mizuno: token("mizuno", &["staff", "water"]),
        kanri: token("kanri", &["staff", "admin"]),
        suido_kanri: token("suido_kanri", &["staff", "admin", "water"]),
        app: router(state),
        edits,
        _dir: dir,
    }
}

impl Town {
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "machimap.test");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        exchange(&self.app, req.body(Body::from(body)).expect("request")).await
    }

    pub async fn json(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        if_match: Option<&str>,
        body: &Json,
    ) -> (StatusCode, HeaderMap, String) {
        let mut headers = vec![("content-type", "application/geo+json")];
        if let Some(m) = if_match {
            headers.push(("if-match", m));
        }
        self.send(
            method,
            uri,
            Some(token),
            &headers,
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Creates a damage report as `token` (it must succeed) and returns its fid.
    pub async fn create_report(
        &self,
        token: &str,
        category: &str,
        text: &str,
        (lon, lat): (f64, f64),
    ) -> i64 {
        let (status, _, body) = self
            .json(
                Method::POST,
                "/collections/damage-reports/items",
                token,
                None,
                &report(category, text, lon, lat),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        doc(&body)["id"].as_i64().expect("a numeric id")
    }

    /// Changes properties of report `fid` at `version` as `token` (it must succeed).
    pub async fn patch_report(&self, token: &str, fid: i64, version: i64, properties: Json) {
        let tag = format!("\"{fid}-{version}\"");
        let (status, _, body) = self
            .send(
                Method::PATCH,
                &format!("/collections/damage-reports/items/{fid}"),
                Some(token),
                &[
                    ("content-type", "application/merge-patch+json"),
                    ("if-match", &tag),
                ],
                json!({ "properties": properties }).to_string().into_bytes(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// A GET that must answer 200, as JSON.
    pub async fn get_json(&self, uri: &str, token: Option<&str>) -> Json {
        let (status, _, body) = self.send(Method::GET, uri, token, &[], vec![]).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        doc(&body)
    }

    /// What the store holds: every feature of every editable layer and the log's end. Bad
    /// requests must leave this exactly as it was.
    pub fn state(&self) -> (Vec<String>, i64) {
        let mut all = Vec::new();
        for layer in ["damage-reports", "inspections"] {
            for f in self.edits.features(layer).expect("features") {
                all.push(format!("{layer} {f:?}"));
                for p in self.edits.photos(layer, f.fid).expect("photos") {
                    all.push(format!("{layer} {} photo {p:?}", f.fid));
                }
            }
        }
        (all, self.edits.last_seq().expect("seq"))
    }
}

pub fn report(category: &str, text: &str, lon: f64, lat: f64) -> Json {
    json!({
        "type": "Feature",
        "geometry": { "type": "Point", "coordinates": [lon, lat] },
        "properties": { "種別": category, "内容": text },
    })
}

pub fn doc(body: &str) -> Json {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The `description` of an error document; empty for other bodies (a bare 413).
pub fn description(body: &str) -> String {
    serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|d| d["description"].as_str().map(str::to_string))
        .unwrap_or_default()
}
