//! The server in process, as a test wants it: a catalog (the sample town unless told
//! otherwise), a user store, optionally a real GeoPackage edit store in a temporary folder,
//! staff users (signed in or not) and the security settings and clock of the test. Every
//! in-process server of the tests is built here, by `TownBuilder`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use machimap::access::{Catalog, LayerReport, LiveCatalog};
use machimap::auth::{Actor, Clock};
use machimap::config::{CatalogConfig, SecurityConfig};
use machimap::edit::Editor;
use machimap::edit_store::EditStore;
use machimap::edit_store::gpkg::GeoPackage;
use machimap::http::{AppState, router};
use machimap::store::Store;
use serde_json::{Value as Json, json};
use tower::ServiceExt;

use super::Response;
use super::server::{PASSWORD, sample_data};

/// The host name every in-process request carries.
pub const HOST: &str = "machimap.test";

/// The actor the tests add users as.
pub const CLI: Actor<'static> = Actor {
    name: "test",
    client: "test",
};

/// A staff user to create: name, department, roles, password, and whether to sign in now.
struct User {
    name: String,
    department: String,
    roles: Vec<String>,
    password: String,
    signed_in: bool,
}

/// How to build a `Town`.
pub struct TownBuilder {
    data: PathBuf,
    security: SecurityConfig,
    clock: Clock,
    store: Option<Arc<Store>>,
    edits: bool,
    users: Vec<User>,
}

/// The catalog in `data` parsed from catalog.toml, panicking with the reason.
pub fn catalog_config(data: &Path) -> CatalogConfig {
    CatalogConfig::load(data).unwrap_or_else(|e| panic!("catalog.toml: {e}"))
}

/// The catalog in `data` (with editable layers from `edits`), panicking with every problem.
pub fn load_catalog(data: &Path, edits: Option<&dyn EditStore>) -> (Catalog, Vec<LayerReport>) {
    Catalog::load_with(data, edits).unwrap_or_else(|e| {
        panic!(
            "the catalog in {} does not load:\n{}",
            data.display(),
            e.lines().join("\n")
        )
    })
}

/// The catalog in `data` without an edit store, loaded once per test binary (loading
/// reprojects every layer) and shared by every town built on it.
pub fn shared_catalog(data: &Path) -> (Arc<LiveCatalog>, Vec<LayerReport>) {
    type Cache = Mutex<HashMap<PathBuf, (Arc<LiveCatalog>, Vec<LayerReport>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let (live, reports) = cache.entry(data.to_path_buf()).or_insert_with(|| {
        let (catalog, reports) = load_catalog(data, None);
        (Arc::new(LiveCatalog::new(catalog)), reports)
    });
    (Arc::clone(live), reports.clone())
}

impl TownBuilder {
    /// The catalog in `data` instead of the sample town.
    pub fn data(mut self, data: &Path) -> Self {
        self.data = data.to_path_buf();
        self
    }

    /// These security settings instead of the defaults without the public rate limit.
    pub fn security(mut self, security: SecurityConfig) -> Self {
        self.security = security;
        self
    }

    /// This clock instead of the system's.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// This user store instead of a fresh one in memory (users already in it are kept).
    pub fn store(mut self, store: Arc<Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// A GeoPackage edit store in a temporary folder, and an editor writing to it.
    pub fn edits(mut self) -> Self {
        self.edits = true;
        self
    }

    /// A staff user with `PASSWORD`, not signed in.
    pub fn user(self, name: &str, department: &str, roles: &[&str]) -> Self {
        self.user_with(name, department, roles, PASSWORD, false)
    }

    /// A staff user with `PASSWORD`, signed in: `Town::token(name)` is their Bearer token.
    pub fn signed_in(self, name: &str, department: &str, roles: &[&str]) -> Self {
        self.user_with(name, department, roles, PASSWORD, true)
    }

    /// A staff user with `password`, signed in or not.
    pub fn user_with(
        mut self,
        name: &str,
        department: &str,
        roles: &[&str],
        password: &str,
        signed_in: bool,
    ) -> Self {
        self.users.push(User {
            name: name.to_string(),
            department: department.to_string(),
            roles: roles.iter().map(ToString::to_string).collect(),
            password: password.to_string(),
            signed_in,
        });
        self
    }

    pub fn build(self) -> Town {
        let dir = self.edits.then(|| tempfile::tempdir().expect("tempdir"));
        let edits = dir
            .as_ref()
            .map(|d| Arc::new(GeoPackage::open(&d.path().join("edits.gpkg")).expect("gpkg")));
        let (live, reports) = match &edits {
            Some(edits) => {
                let (catalog, reports) =
                    load_catalog(&self.data, Some(edits.as_ref() as &dyn EditStore));
                (Arc::new(LiveCatalog::new(catalog)), reports)
            }
            None => shared_catalog(&self.data),
        };
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(Store::in_memory().expect("store")));
        let mut state =
            AppState::with_settings(Arc::clone(&live), store, self.security, self.clock.clone())
                .expect("state");
        if let Some(edits) = &edits {
            let editor = Arc::new(Editor::new(
                Arc::clone(edits) as Arc<dyn EditStore>,
                Arc::clone(&live),
            ));
            state = state.with_editor(editor);
        }
        let mut tokens = BTreeMap::new();
        for u in &self.users {
            if state.auth.user(&u.name).expect("user lookup").is_none() {
                state
                    .auth
                    .add_user(CLI, &u.name, &u.department, &u.roles, &u.password)
                    .expect("add user");
            }
            if u.signed_in {
                let token = state
                    .auth
                    .login(&u.name, &u.password, "test")
                    .expect("sign in")
                    .token;
                tokens.insert(u.name.clone(), token);
            }
        }
        Town {
            app: router(state.clone()),
            state,
            clock: self.clock,
            data: self.data,
            reports,
            edits,
            tokens,
            _dir: dir,
        }
    }
}

/// The sample town with an empty edit store and five signed-in staff users: `sato` and
/// `suzuki` (disaster-office clerks), `mizuno` (a water engineer), `kanri` (an admin) and
/// `suido_kanri` (an admin of the water department).
pub fn town() -> Town {
    town_with(SecurityConfig {
        public_requests_per_minute: 0,
        ..SecurityConfig::default()
    })
}

/// The five-user town with these security settings.
pub fn town_with(security: SecurityConfig) -> Town {
    Town::builder()
        .security(security)
        .edits()
        .signed_in("sato", "危機管理課", &["staff", "disaster"])
        .signed_in("suzuki", "危機管理課", &["staff", "disaster"])
        .signed_in("mizuno", "危機管理課", &["staff", "water"])
        .signed_in("kanri", "危機管理課", &["staff", "admin"])
        .signed_in("suido_kanri", "危機管理課", &["staff", "admin", "water"])
        .build()
}

/// A server in process.
pub struct Town {
    pub app: Router,
    pub state: AppState,
    pub clock: Clock,
    /// The folder of the catalog.
    pub data: PathBuf,
    /// How each layer loaded.
    pub reports: Vec<LayerReport>,
    edits: Option<Arc<GeoPackage>>,
    tokens: BTreeMap<String, String>,
    _dir: Option<tempfile::TempDir>,
}

impl Town {
    /// The sample town, without the public rate limit (the tests send many requests from one
    /// "client"), no users and no edit store.
    pub fn builder() -> TownBuilder {
        TownBuilder {
            data: sample_data(),
            security: SecurityConfig {
                public_requests_per_minute: 0,
                ..SecurityConfig::default()
            },
            clock: Clock::System,
            store: None,
            edits: false,
            users: Vec::new(),
        }
    }

    /// The edit store; panics for a town built without one.
    pub fn edits(&self) -> &GeoPackage {
        self.edits.as_deref().expect("a town with an edit store")
    }

    /// The Bearer token of `name`, signed in when the town was built.
    pub fn token(&self, name: &str) -> &str {
        self.tokens
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not signed in"))
    }

    /// The catalog as catalog.toml declares it.
    pub fn config(&self) -> CatalogConfig {
        catalog_config(&self.data)
    }

    /// One request: `token` is sent as `Authorization: Bearer …`, the host is `HOST` unless
    /// `headers` name another.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req = req.header(header::HOST, HOST);
        }
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        exchange(&self.app, req.body(Body::from(body)).expect("request")).await
    }

    /// A GET with these headers (and no token).
    pub async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> Response {
        self.send(Method::GET, uri, None, headers, vec![]).await
    }

    /// A GET as the holder of `token` (anonymous for `None`).
    pub async fn get_as(&self, uri: &str, token: Option<&str>) -> Response {
        self.send(Method::GET, uri, token, &[], vec![]).await
    }

    /// A request without a token and with an optional JSON body (sent as application/json).
    pub async fn send_json(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Json>,
    ) -> Response {
        let mut all = headers.to_vec();
        let body = match body {
            Some(b) => {
                all.push(("content-type", "application/json"));
                b.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        self.send(method, uri, None, &all, body).await
    }

    /// A GeoJSON body as `token`, with `If-Match` when given.
    pub async fn json(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        if_match: Option<&str>,
        body: &Json,
    ) -> Response {
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
            .await
            .into_parts();
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
            .await
            .into_parts();
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// A GET that must answer 200, as JSON.
    pub async fn get_json(&self, uri: &str, token: Option<&str>) -> Json {
        let (status, _, body) = self.get_as(uri, token).await.into_parts();
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        doc(&body)
    }

    /// What the store holds: every feature of every editable layer and the log's end. Bad
    /// requests must leave this exactly as it was.
    pub fn state(&self) -> (Vec<String>, i64) {
        let mut all = Vec::new();
        for layer in ["damage-reports", "inspections"] {
            for f in self.edits().features(layer).expect("features") {
                all.push(format!("{layer} {f:?}"));
                for p in self.edits().photos(layer, f.fid).expect("photos") {
                    all.push(format!("{layer} {} photo {p:?}", f.fid));
                }
            }
        }
        (all, self.edits().last_seq().expect("seq"))
    }
}

pub fn report(category: &str, text: &str, lon: f64, lat: f64) -> Json {
    json!({
        "type": "Feature",
        "geometry": { "type": "Point", "coordinates": [lon, lat] },
        "properties": { "種別": category, "内容": text },
    })
}

/// Sends `req` to an in-process router and reads the whole answer (the body must be UTF-8,
/// as every answer of the server is unless it is content-encoded).
pub async fn exchange(app: &Router, req: Request<Body>) -> Response {
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
    if !headers.contains_key(header::CONTENT_ENCODING) && std::str::from_utf8(&body).is_err() {
        panic!("{what}: body is not UTF-8");
    }
    Response::new(status, headers, body.to_vec())
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
