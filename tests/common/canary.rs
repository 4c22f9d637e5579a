//! The canary town of the security tests, and the requests they make of it.
//!
//! A small town is written into a temporary folder: one public layer (`parks`) with public
//! attributes, an internal attribute, a `welfare`-only attribute and a numeric internal
//! attribute; an `internal` layer; and a `["welfare"]` layer (people needing evacuation help).
//! Every id, title, description, keyword, department, licence, attribute name, label, value,
//! feature id and coordinate of the hidden parts is a unique canary string (`cnry…`, or a
//! 7-decimal coordinate no public feature has), and the public layer's file also carries an
//! undeclared property, which nobody may ever see. `Canary` serves it in process and keeps a
//! log of every request, to compare the audit log with.

use std::collections::BTreeSet;
use std::sync::Mutex;

use axum::http::{Method, StatusCode};
pub use machimap::audit;
use machimap::config::SecurityConfig;
use machimap::http::AppState;
use serde_json::{Value as Json, json};

use super::items_uri as items;
use super::town::Town;
use super::{Response, percent_decode};

pub const PASSWORD: &str = "long enough password";

/// The public layer.
pub const PARKS: &str = "parks";
/// The layer any signed-in staff member may see.
pub const INT_LAYER: &str = "cnryintlayer";
/// The layer only the `welfare` role may see; its reads are audited.
pub const ROLE_LAYER: &str = "cnryrolelayer";

/// Attributes of `parks`.
pub const PARK_ID: &str = "公園ID";
pub const PARK_NAME: &str = "名称";
pub const PARK_KIND: &str = "種別";
pub const PARK_AREA: &str = "面積";
/// `parks` attribute for any staff member.
pub const PUB_INT_ATTR: &str = "管理メモcnrypubintattr";
/// `parks` integer attribute for any staff member.
pub const PUB_INT_NUM: &str = "cnrypubintnum";
/// `parks` attribute for the `welfare` role only.
pub const PUB_ROLE_ATTR: &str = "連絡先cnrypubroleattr";
/// A property in the parks file that the catalog does not declare: served to nobody.
pub const UNDECLARED: &str = "cnryundeclared";
pub const UNDECLARED_VALUE: &str = "cnryundeclval";

/// Attributes of the internal layer.
pub const INT_ID: &str = "cnryintidf";
pub const INT_ATTR: &str = "cnryintattr";
/// An attribute of the internal layer for the `welfare` role only.
pub const INT_ROLE_ATTR: &str = "cnryintroleattr";

/// Attributes of the `welfare` layer.
pub const ROLE_ID: &str = "cnryroleidf";
pub const ROLE_NAME: &str = "氏名cnrynameattr";
pub const ROLE_LEVEL: &str = "cnrylevelattr";

/// A place in the middle of the fixture town, between the parks and the hidden layers.
pub const PLACE: &str = "lon=139.125&lat=36.025";

/// Names that never existed anywhere, to compare hidden names with.
pub const NEVER_LAYER: &str = "nolayerhere";
pub const NEVER_FID: &str = "nofeaturehere";
pub const NEVER_ATTR: &str = "存在しない属性";

/// Park names, all public, each appearing once.
pub const PARK_NAMES: [&str; 12] = [
    "みどり中央公園",
    "さくら公園",
    "けやき公園",
    "ひばり公園",
    "つつじ公園",
    "かえで公園",
    "やまびこ公園",
    "せせらぎ公園",
    "しらかば公園",
    "あおば公園",
    "こもれび公園",
    "ほたる公園",
];

// ---------------------------------------------------------------------------------------------
// The fixture town
// ---------------------------------------------------------------------------------------------

/// Coordinates are integers in units of 1e-7 degree, so the brute force is exact and the text
/// written to the file is exactly what the server writes back (7 decimals at most).
pub const UNIT: i64 = 10_000_000;

/// `u` (1e-7 degrees) as the shortest decimal text, as the server writes numbers.
pub fn deg(u: i64) -> String {
    let s = format!("{}.{:07}", u / UNIT, u % UNIT);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Point(i64, i64),
    /// west, south, east, north
    Rect(i64, i64, i64, i64),
}

impl Shape {
    pub fn geojson(&self) -> String {
        match *self {
            Shape::Point(x, y) => {
                format!(
                    r#"{{"type":"Point","coordinates":[{},{}]}}"#,
                    deg(x),
                    deg(y)
                )
            }
            Shape::Rect(w, s, e, n) => {
                let ring = [(w, s), (e, s), (e, n), (w, n), (w, s)]
                    .iter()
                    .map(|&(x, y)| format!("[{},{}]", deg(x), deg(y)))
                    .collect::<Vec<_>>()
                    .join(",");
                format!(r#"{{"type":"Polygon","coordinates":[[{ring}]]}}"#)
            }
        }
    }

    /// Whether the shape meets the closed box (all shapes here are points or axis-aligned
    /// rectangles, so this is exact).
    pub fn hits(&self, b: &Bbox) -> bool {
        match *self {
            Shape::Point(x, y) => b.w <= x && x <= b.e && b.s <= y && y <= b.n,
            Shape::Rect(w, s, e, n) => w <= b.e && b.w <= e && s <= b.n && b.s <= n,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Bbox {
    pub w: i64,
    pub s: i64,
    pub e: i64,
    pub n: i64,
}

impl Bbox {
    pub fn param(&self) -> String {
        format!(
            "{},{},{},{}",
            deg(self.w),
            deg(self.s),
            deg(self.e),
            deg(self.n)
        )
    }
}

/// Test boxes. Their edges end in a 5 at the fifth decimal, so no edge touches a park (all
/// park coordinates are on a 1e-4 degree grid).
pub fn boxes() -> Vec<Bbox> {
    let b = |w: i64, s: i64, e: i64, n: i64| Bbox { w, s, e, n };
    vec![
        // the whole town
        b(1_390_300_050, 359_800_050, 1_391_700_050, 360_600_050),
        // the western half
        b(1_390_300_050, 359_800_050, 1_391_000_050, 360_600_050),
        // a small box in the middle
        b(1_390_655_050, 359_900_050, 1_390_905_050, 360_305_050),
        // where the hidden layers' features are
        b(1_391_150_050, 360_150_050, 1_391_650_050, 360_500_050),
        // nothing at all
        b(1_390_300_050, 359_800_050, 1_390_400_050, 359_850_050),
    ]
}

#[derive(Clone)]
pub struct Park {
    pub id: String,
    pub name: &'static str,
    pub kind: &'static str,
    pub area: f64,
    pub shape: Shape,
    pub int_memo: &'static str,
    pub int_num: i64,
    pub role_contact: &'static str,
}

pub struct IntFeature {
    pub id: String,
    pub value: String,
    pub role_value: String,
    pub shape: Shape,
}

pub struct RoleFeature {
    pub id: String,
    pub name: String,
    pub level: i64,
    pub shape: Shape,
}

/// Canary strings by who may see them.
pub struct Canaries {
    /// Any signed-in staff member may see these.
    pub internal: Vec<String>,
    /// Only the `welfare` role may see these.
    pub role: Vec<String>,
    /// Nobody may see these.
    pub never: Vec<String>,
}

impl Canaries {
    pub fn all(&self) -> Vec<&str> {
        self.internal
            .iter()
            .chain(&self.role)
            .chain(&self.never)
            .map(String::as_str)
            .collect()
    }

    pub fn hidden_from_staff_without_role(&self) -> Vec<&str> {
        self.role
            .iter()
            .chain(&self.never)
            .map(String::as_str)
            .collect()
    }

    pub fn hidden_from_welfare(&self) -> Vec<&str> {
        self.never.iter().map(String::as_str).collect()
    }
}

pub struct CanaryTown {
    pub dir: tempfile::TempDir,
    pub parks: Vec<Park>,
    pub int_features: Vec<IntFeature>,
    pub role_features: Vec<RoleFeature>,
    pub canaries: Canaries,
}

pub fn feature_collection(features: &[(Shape, Json)]) -> String {
    let items: Vec<String> = features
        .iter()
        .map(|(shape, props)| {
            format!(
                r#"{{"type":"Feature","geometry":{},"properties":{}}}"#,
                shape.geojson(),
                props
            )
        })
        .collect();
    format!(
        "{{\"type\":\"FeatureCollection\",\"features\":[\n{}\n]}}\n",
        items.join(",\n")
    )
}

pub fn canary_town() -> CanaryTown {
    let parks: Vec<Park> = (0..12)
        .map(|i| {
            let x = 1_390_550_000 + i * 80_000;
            let y = 359_950_000 + i * 40_000;
            Park {
                id: format!("P{:02}", i + 1),
                name: PARK_NAMES[i as usize],
                kind: if i % 3 == 0 {
                    "近隣公園"
                } else {
                    "街区公園"
                },
                area: 1000.5 + 250.0 * i as f64,
                shape: if i % 4 == 3 {
                    Shape::Rect(x, y, x + 40_000, y + 20_000)
                } else {
                    Shape::Point(x, y)
                },
                int_memo: if i % 2 == 0 {
                    "cnrypubintvala"
                } else {
                    "cnrypubintvalb"
                },
                int_num: 918_273_640 + i,
                role_contact: if i % 3 == 0 {
                    "cnrypubrolevala"
                } else {
                    "cnrypubrolevalb"
                },
            }
        })
        .collect();
    let int_features: Vec<IntFeature> = (0..5)
        .map(|k| IntFeature {
            id: format!("cnryintfid{:02}", k + 1),
            value: format!("cnryintval{:02}", k + 1),
            role_value: format!("cnryintroleval{:02}", k + 1),
            shape: Shape::Point(1_391_200_357 + k * 100_000, 360_200_468 + k * 50_000),
        })
        .collect();
    let role_features: Vec<RoleFeature> = (0..4)
        .map(|k| RoleFeature {
            id: format!("cnryrolefid{:02}", k + 1),
            name: format!("cnryroleperson{:02}", k + 1),
            level: 3 + k % 2,
            shape: Shape::Point(1_391_300_579 + k * 100_000, 360_300_802 + k * 50_000),
        })
        .collect();

    let dir = tempfile::tempdir().expect("temporary folder");
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).expect("write fixture file");
    };
    write(
        "parks.geojson",
        &feature_collection(
            &parks
                .iter()
                .map(|p| {
                    (
                        p.shape,
                        json!({
                            PARK_ID: p.id,
                            PARK_NAME: p.name,
                            PARK_KIND: p.kind,
                            PARK_AREA: p.area,
                            PUB_INT_ATTR: p.int_memo,
                            PUB_INT_NUM: p.int_num,
                            PUB_ROLE_ATTR: p.role_contact,
                            UNDECLARED: UNDECLARED_VALUE,
                        }),
                    )
                })
                .collect::<Vec<_>>(),
        ),
    );
    write(
        "cnryintfile.geojson",
        &feature_collection(
            &int_features
                .iter()
                .map(|f| {
                    (
                        f.shape,
                        json!({ INT_ID: f.id, INT_ATTR: f.value, INT_ROLE_ATTR: f.role_value }),
                    )
                })
                .collect::<Vec<_>>(),
        ),
    );
    write(
        "cnryrolefile.geojson",
        &feature_collection(
            &role_features
                .iter()
                .map(|f| {
                    (
                        f.shape,
                        json!({ ROLE_ID: f.id, ROLE_NAME: f.name, ROLE_LEVEL: f.level }),
                    )
                })
                .collect::<Vec<_>>(),
        ),
    );
    write(
        "catalog.toml",
        &format!(
            r#"
[server]
title_ja = "きゃなりー町 統合型GIS"
title_en = "Canary town GIS"
description = "公開と庁内の境界を試す町。"
default_limit = 10
max_limit = 1000
extent = [139.03, 35.98, 139.17, 36.06]

[[layer]]
id = "{PARKS}"
title_ja = "都市公園"
title_en = "Urban parks"
department = "都市計画課"
description = "町が管理する都市公園の位置と面積。"
source = {{ path = "parks.geojson" }}
id_field = "{PARK_ID}"
audience = "public"
license = "CC BY 4.0"
updated = "2026-04-01"
keywords = ["公園", "parks"]
search = ["{PARK_NAME}", "{PUB_INT_ATTR}", "{PUB_ROLE_ATTR}"]
[[layer.attribute]]
name = "{PARK_ID}"
type = "string"
label_ja = "公園ID"
label_en = "Park id"
[[layer.attribute]]
name = "{PARK_NAME}"
type = "string"
label_ja = "名称"
label_en = "Name"
[[layer.attribute]]
name = "{PARK_KIND}"
type = "string"
label_ja = "種別"
label_en = "Kind"
[[layer.attribute]]
name = "{PARK_AREA}"
type = "number"
label_ja = "面積（㎡）"
label_en = "Area (m2)"
[[layer.attribute]]
name = "{PUB_INT_ATTR}"
type = "string"
label_ja = "cnrylblpubintja"
label_en = "cnrylblpubinten"
audience = "internal"
[[layer.attribute]]
name = "{PUB_INT_NUM}"
type = "integer"
label_ja = "cnrylblpubnumja"
label_en = "cnrylblpubnumen"
audience = "internal"
[[layer.attribute]]
name = "{PUB_ROLE_ATTR}"
type = "string"
label_ja = "cnrylblpubroleja"
label_en = "cnrylblpubroleen"
audience = ["welfare"]

[[layer]]
id = "{INT_LAYER}"
title_ja = "庁内cnryinttitleja"
title_en = "cnryinttitleen"
department = "cnryintdept"
description = "cnryintdesc"
source = {{ path = "cnryintfile.geojson" }}
id_field = "{INT_ID}"
audience = "internal"
license = "cnryintlic"
updated = "2026-03-01"
keywords = ["cnryintkw"]
search = ["{INT_ATTR}", "{INT_ROLE_ATTR}"]
[[layer.attribute]]
name = "{INT_ID}"
type = "string"
label_ja = "cnrylblintidja"
label_en = "cnrylblintiden"
[[layer.attribute]]
name = "{INT_ATTR}"
type = "string"
label_ja = "cnrylblintattrja"
label_en = "cnrylblintattren"
[[layer.attribute]]
name = "{INT_ROLE_ATTR}"
type = "string"
label_ja = "cnrylblintroleja"
label_en = "cnrylblintroleen"
audience = ["welfare"]

[[layer]]
id = "{ROLE_LAYER}"
title_ja = "要支援者cnryroletitleja"
title_en = "cnryroletitleen"
department = "cnryroledept"
description = "cnryroledesc"
source = {{ path = "cnryrolefile.geojson" }}
id_field = "{ROLE_ID}"
audience = ["welfare"]
license = "cnryrolelic"
updated = "2026-02-01"
keywords = ["cnryrolekw"]
search = ["{ROLE_NAME}"]
[[layer.attribute]]
name = "{ROLE_ID}"
type = "string"
label_ja = "cnrylblroleidja"
label_en = "cnrylblroleiden"
[[layer.attribute]]
name = "{ROLE_NAME}"
type = "string"
label_ja = "cnrylblrolenameja"
label_en = "cnrylblrolenameen"
[[layer.attribute]]
name = "{ROLE_LEVEL}"
type = "integer"
label_ja = "cnrylblrolelevelja"
label_en = "cnrylblrolelevelen"

[[location]]
layer = "{PARKS}"
match = "nearest"
limit = 3
attributes = ["{PARK_NAME}", "{PARK_KIND}", "{PUB_INT_ATTR}", "{PUB_ROLE_ATTR}"]

[[location]]
layer = "{INT_LAYER}"
match = "nearest"
title_ja = "cnryintsecja"
title_en = "cnryintsecen"
limit = 2
attributes = ["{INT_ATTR}", "{INT_ROLE_ATTR}"]

[[location]]
layer = "{ROLE_LAYER}"
match = "nearest"
title_ja = "cnryrolesecja"
title_en = "cnryrolesecen"
limit = 2
attributes = ["{ROLE_NAME}", "{ROLE_LEVEL}"]
"#
        ),
    );

    let mut internal: Vec<String> = [
        INT_LAYER,
        "cnryintsecja",
        "cnryintsecen",
        "cnryinttitleja",
        "cnryinttitleen",
        "cnryintdept",
        "cnryintdesc",
        "cnryintlic",
        "cnryintkw",
        INT_ID,
        INT_ATTR,
        "cnrylblintidja",
        "cnrylblintiden",
        "cnrylblintattrja",
        "cnrylblintattren",
        PUB_INT_ATTR,
        "cnrylblpubintja",
        "cnrylblpubinten",
        "cnrypubintvala",
        "cnrypubintvalb",
        PUB_INT_NUM,
        "cnrylblpubnumja",
        "cnrylblpubnumen",
        // every value of the numeric attribute starts with this
        "91827364",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    for f in &int_features {
        internal.extend([f.id.clone(), f.value.clone()]);
        if let Shape::Point(x, y) = f.shape {
            internal.extend([deg(x), deg(y)]);
        }
    }
    let mut role: Vec<String> = [
        ROLE_LAYER,
        "cnryrolesecja",
        "cnryrolesecen",
        "cnryroletitleja",
        "cnryroletitleen",
        "cnryroledept",
        "cnryroledesc",
        "cnryrolelic",
        "cnryrolekw",
        ROLE_ID,
        ROLE_NAME,
        ROLE_LEVEL,
        "cnrylblroleidja",
        "cnrylblroleiden",
        "cnrylblrolenameja",
        "cnrylblrolenameen",
        "cnrylblrolelevelja",
        "cnrylblrolelevelen",
        PUB_ROLE_ATTR,
        "cnrylblpubroleja",
        "cnrylblpubroleen",
        "cnrypubrolevala",
        "cnrypubrolevalb",
        INT_ROLE_ATTR,
        "cnrylblintroleja",
        "cnrylblintroleen",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    for f in &int_features {
        role.push(f.role_value.clone());
    }
    for f in &role_features {
        role.extend([f.id.clone(), f.name.clone()]);
        if let Shape::Point(x, y) = f.shape {
            role.extend([deg(x), deg(y)]);
        }
    }
    let canaries = Canaries {
        internal,
        role,
        never: vec![UNDECLARED.to_string(), UNDECLARED_VALUE.to_string()],
    };

    // The test itself: a canary inside another would make the "the request named it"
    // exemption hide a leak, and a canary in a public text would make it fail for nothing.
    let all = canaries.all();
    for a in &all {
        for b in &all {
            assert!(
                a == b || !b.contains(a),
                "canary {a:?} is part of canary {b:?}"
            );
        }
        assert_eq!(
            all.iter().filter(|b| *b == a).count(),
            1,
            "canary {a:?} twice"
        );
    }
    let public_text = format!(
        "{} {} {} {}",
        PARK_NAMES.join(" "),
        parks
            .iter()
            .map(|p| format!("{} {} {} {}", p.id, p.kind, p.area, p.shape.geojson()))
            .collect::<String>(),
        boxes().iter().map(Bbox::param).collect::<String>(),
        NEVER_ATTR
    );
    for c in &all {
        assert!(!public_text.contains(c), "canary {c:?} is in public data");
    }

    CanaryTown {
        dir,
        parks,
        int_features,
        role_features,
        canaries,
    }
}

// ---------------------------------------------------------------------------------------------
// The server and the requests
// ---------------------------------------------------------------------------------------------

/// One request the test made, to compare the audit log with.
pub struct Logged {
    pub user: Option<String>,
    pub method: Method,
    pub path: String,
    /// The URI as requested, with its query.
    pub uri: String,
    pub status: StatusCode,
}

/// The canary town served in process, with every request the test made.
pub struct Canary {
    pub served: Town,
    /// The served town's state (its user store and audit log).
    pub state: AppState,
    pub town: CanaryTown,
    pub log: Mutex<Vec<Logged>>,
}

/// How a request proves who sends it.
#[derive(Clone)]
pub enum Who {
    Anonymous,
    Bearer { user: String, token: String },
    Cookie { user: String, token: String },
}

impl Who {
    pub fn user(&self) -> Option<&str> {
        match self {
            Who::Anonymous => None,
            Who::Bearer { user, .. } | Who::Cookie { user, .. } => Some(user),
        }
    }
}

/// Staff users: (name, department, roles).
pub const USERS: [(&str, &str, &[&str]); 3] = [
    ("welfare1", "福祉課", &["staff", "welfare"]),
    ("water1", "上下水道課", &["staff", "water"]),
    ("admin1", "情報政策課", &["staff", "admin"]),
];
/// The users who hold the role of the restricted layer.
pub const PRIVILEGED: [&str; 1] = ["welfare1"];

impl Canary {
    pub fn start() -> Canary {
        let town = canary_town();
        // Hundreds of requests from one in-process "client": the rate limits are tested on
        // their own.
        let mut builder = Town::builder()
            .data(town.dir.path())
            .security(SecurityConfig {
                public_requests_per_minute: 0,
                login_attempts_per_minute: 0,
                ..SecurityConfig::default()
            });
        for (name, department, roles) in USERS {
            builder = builder.user_with(name, department, roles, PASSWORD, false);
        }
        let served = builder.build();
        let count = |id: &str| {
            served
                .reports
                .iter()
                .find(|r| r.id == id)
                .unwrap_or_else(|| panic!("layer {id} not loaded"))
                .features
        };
        assert_eq!(count(PARKS), town.parks.len());
        assert_eq!(count(INT_LAYER), town.int_features.len());
        assert_eq!(count(ROLE_LAYER), town.role_features.len());
        Canary {
            state: served.state.clone(),
            served,
            town,
            log: Mutex::new(Vec::new()),
        }
    }

    pub async fn send(
        &self,
        who: &Who,
        method: Method,
        uri: &str,
        extra: &[(&str, &str)],
        body: Option<Json>,
    ) -> Response {
        let cookie;
        let mut headers: Vec<(&str, &str)> = Vec::new();
        let token = match who {
            Who::Anonymous => None,
            Who::Bearer { token, .. } => Some(token.as_str()),
            Who::Cookie { token, .. } => {
                cookie = format!("{}={token}", self.state.cookie_name());
                headers.push(("cookie", &cookie));
                None
            }
        };
        headers.extend_from_slice(extra);
        let body = match body {
            Some(b) => {
                headers.push(("content-type", "application/json"));
                b.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let r = self
            .served
            .send(method.clone(), uri, token, &headers, body)
            .await;
        let status = r.status;
        assert!(
            !status.is_server_error(),
            "{method} {uri}: {status}: {}",
            r.body
        );
        self.log.lock().expect("log").push(Logged {
            user: who.user().map(str::to_string),
            method,
            path: uri.split('?').next().unwrap_or(uri).to_string(),
            uri: uri.to_string(),
            status,
        });
        r
    }

    pub async fn get(&self, who: &Who, uri: &str) -> Response {
        self.send(who, Method::GET, uri, &[], None).await
    }

    /// GET that fails if the response carries any of `forbidden` the request did not name.
    pub async fn scan(&self, who: &Who, uri: &str, forbidden: &[&str]) -> Response {
        let r = self.get(who, uri).await;
        assert_clean(&r, "GET", uri, forbidden);
        r
    }

    /// Signs in through `POST /auth/login` and returns the Bearer credential.
    pub async fn login(&self, user: &str) -> Who {
        let r = self
            .send(
                &Who::Anonymous,
                Method::POST,
                "/auth/login",
                &[],
                Some(json!({"username": user, "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "sign-in of {user}: {}", r.body);
        assert_clean(&r, "POST", "/auth/login", &self.town.canaries.all());
        let doc = r.json();
        let token = doc["token"].as_str().expect("token").to_string();
        assert_eq!(doc["user"], user);
        let cookie = r.header("set-cookie").expect("Set-Cookie");
        assert!(
            cookie.starts_with(&format!("{}={token};", self.state.cookie_name())),
            "{cookie}"
        );
        Who::Bearer {
            user: user.to_string(),
            token,
        }
    }
}

/// Fails if the body or a header of `r` contains a canary of `forbidden` (case-insensitively,
/// as written or percent-encoded as in a link) that the request URI itself does not contain:
/// a name the caller typed may be echoed in an error message or a `self` link, which tells
/// them nothing (and `hidden_names_answer_exactly_like_names_that_never_existed` proves the
/// echo is all there is).
pub fn assert_clean(r: &Response, method: &str, uri: &str, forbidden: &[&str]) {
    // Every `%XX` decoded, and `+` as a space, to see which names the caller wrote.
    let asked = percent_decode(uri, true);
    let mut texts = vec![("body".to_string(), r.body.clone())];
    for (k, v) in r.header_pairs() {
        texts.push((format!("header {k}"), format!("{k}: {v}")));
    }
    for (what, text) in texts {
        let plain = text.to_lowercase();
        let decoded = percent_decode(&text, true).to_lowercase();
        for c in forbidden {
            if asked.contains(c) {
                continue;
            }
            for t in [&plain, &decoded] {
                if let Some(at) = t.find(c) {
                    let mut start = at.saturating_sub(120);
                    while !t.is_char_boundary(start) {
                        start -= 1;
                    }
                    let mut end = (at + c.len() + 120).min(t.len());
                    while !t.is_char_boundary(end) {
                        end += 1;
                    }
                    panic!(
                        "{method} {uri} ({}): the {what} contains the canary {c:?}: …{}…",
                        r.status,
                        &t[start..end]
                    );
                }
            }
        }
    }
}

/// A name as it appears in a URI (query value or path segment).
pub fn encoded(name: &str) -> String {
    form_urlencoded::byte_serialize(name.as_bytes()).collect()
}

/// `/collections/{layer}/items/{id}`, the id percent-encoded as a path segment.
pub fn item(layer: &str, id: &str, query: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!(
        "/collections/{layer}/items/{}{query}",
        encoded.replace('+', "%20")
    )
}

/// `uri` with `f=…` added.
pub fn with_f(uri: &str, f: &str) -> String {
    format!("{uri}{}f={f}", if uri.contains('?') { '&' } else { '?' })
}

/// `uri` as it is, with `f=json` and with `f=html`.
pub fn both_formats(uri: &str) -> [String; 3] {
    [uri.to_string(), with_f(uri, "json"), with_f(uri, "html")]
}

pub fn number_matched(r: &Response, uri: &str) -> usize {
    assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
    let doc = r.json();
    doc["numberMatched"]
        .as_u64()
        .unwrap_or_else(|| panic!("GET {uri}: no numberMatched: {}", r.body)) as usize
}

pub fn features(r: &Response, uri: &str) -> Vec<Json> {
    assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
    r.json()["features"]
        .as_array()
        .unwrap_or_else(|| panic!("GET {uri}: no features: {}", r.body))
        .clone()
}

pub fn property_names(feature: &Json) -> BTreeSet<String> {
    feature["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect()
}

pub fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(ToString::to_string).collect()
}

/// The ids of the collections listed by `/collections`.
pub fn listed(r: &Response) -> BTreeSet<String> {
    assert_eq!(r.status, StatusCode::OK, "/collections: {}", r.body);
    r.json()["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

/// A response body for comparison: JSON without the `timeStamp` that changes every second.
pub fn comparable(body: &str) -> String {
    match serde_json::from_str::<Json>(body) {
        Ok(mut doc) => {
            if let Some(o) = doc.as_object_mut() {
                o.remove("timeStamp");
            }
            doc.to_string()
        }
        Err(_) => body.to_string(),
    }
}

/// Headers that must be the same for a hidden name and a name that never existed (the length
/// differs with the length of the echoed name).
pub fn comparable_headers(r: &Response) -> Vec<(String, String)> {
    let mut h: Vec<_> = r
        .header_pairs()
        .into_iter()
        .filter(|(k, _)| k != "content-length")
        .collect();
    h.sort();
    h
}

/// Asks for `uri` with the hidden name `hidden` and again with it replaced by `never`, and
/// requires the same status, headers and body (modulo the name itself).
pub async fn assert_like_never_existed(
    server: &Canary,
    who: &Who,
    method: Method,
    uri: &str,
    hidden: &str,
    never: &str,
    forbidden: &[&str],
) -> StatusCode {
    // Names go into the URI percent-encoded, as a client sends them.
    assert!(
        uri.contains(&encoded(hidden)),
        "{uri} does not name {hidden}"
    );
    let never_uri = uri.replace(&encoded(hidden), &encoded(never));
    let h = server.send(who, method.clone(), uri, &[], None).await;
    let n = server
        .send(who, method.clone(), &never_uri, &[], None)
        .await;
    assert_clean(&h, method.as_str(), uri, forbidden);
    assert_eq!(
        h.status, n.status,
        "{method} {uri} answers {} but {never_uri} answers {}: {} / {}",
        h.status, n.status, h.body, n.body
    );
    assert_eq!(
        comparable(
            &h.body
                .replace(hidden, never)
                .replace(&encoded(hidden), &encoded(never))
        ),
        comparable(&n.body),
        "{method} {uri} must answer exactly like {never_uri}"
    );
    assert_eq!(
        comparable_headers(&h),
        comparable_headers(&n),
        "{method} {uri}: headers differ from {never_uri}"
    );
    h.status
}

/// The hidden attributes of `parks` with a value to filter by.
pub fn hidden_park_filters(role_too: bool) -> Vec<(&'static str, &'static str)> {
    let mut v = vec![
        (PUB_INT_ATTR, "cnrypubintvala"),
        (PUB_INT_NUM, "918273645"),
        // a value the type refuses: must not reveal that the attribute is an integer
        (PUB_INT_NUM, "abc"),
    ];
    if role_too {
        v.extend([(PUB_ROLE_ATTR, "cnrypubrolevala"), (PUB_ROLE_ATTR, "x")]);
    }
    v
}

/// Query strings that name a hidden attribute in every place a parameter can, each with the
/// attribute name to replace by a name that never existed.
pub fn hidden_attribute_probes(
    attr: &str,
    value: &str,
    visible: &str,
) -> Vec<(Vec<(String, String)>, String)> {
    let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let cql = format!("{attr}='{value}'");
    let cql_num = format!("{attr}>0");
    let desc = format!("-{attr}");
    let asc = format!("+{attr}");
    let props = format!("{visible},{attr}");
    [
        p(&[(attr, value)]),
        p(&[(attr, value), ("f", "html")]),
        p(&[(attr, value), ("limit", "3")]),
        p(&[("properties", attr)]),
        p(&[("properties", &props)]),
        p(&[("properties", attr), ("f", "html")]),
        p(&[("sortby", attr)]),
        p(&[("sortby", &desc)]),
        p(&[("sortby", &asc)]),
        p(&[("filter", &cql)]),
        p(&[("filter", &cql), ("filter-lang", "cql2-text")]),
        p(&[("filter", &cql_num)]),
    ]
    .into_iter()
    .map(|pairs| (pairs, attr.to_string()))
    .collect()
}

pub fn query(pairs: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Whether a GET of `uri` by a holder of the `welfare` role reads the welfare layer through
/// nearest, the location report (it has a section on the layer) or search (the layer is
/// searchable; a search reads it unless `collections` leaves it out).
pub fn reads_role_layer(uri: &str) -> bool {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let collections = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "collections")
        .map(|(_, v)| v.into_owned());
    path.starts_with(&format!("/collections/{ROLE_LAYER}/items"))
        || path == format!("/collections/{ROLE_LAYER}/nearest")
        || path == "/location"
        || (path == "/search" && collections.is_none_or(|c| c.split(',').any(|x| x == ROLE_LAYER)))
}

/// Every restricted read the test made that the server answered with data, and the audit
/// log, must correspond one to one: same count, same readers in the same order, all for the
/// restricted layer; no read entry names a caller who lacks the role (anonymous or not).
pub fn assert_reads_audited(server: &Canary) -> usize {
    let items_path = format!("/collections/{ROLE_LAYER}/items");
    let expected: Vec<String> = server
        .log
        .lock()
        .expect("log")
        .iter()
        .filter(|l| {
            l.method == Method::GET
                && l.status == StatusCode::OK
                && (l.path == items_path
                    || l.path.starts_with(&format!("{items_path}/"))
                    || (reads_role_layer(&l.uri)
                        && l.user.as_deref().is_some_and(|u| PRIVILEGED.contains(&u))))
        })
        .map(|l| {
            l.user
                .clone()
                .expect("only a signed-in user can read the restricted layer")
        })
        .collect();
    let (entries, total) = audit::list(
        server.state.auth.store(),
        &audit::Filter {
            action: Some(audit::Action::Read),
            limit: 100_000,
            ..Default::default()
        },
    )
    .expect("audit log");
    assert_eq!(total, entries.len());
    for e in &entries {
        assert!(
            PRIVILEGED.contains(&e.actor.as_str()),
            "a read by {:?}, who may not see {ROLE_LAYER}, is in the audit log: {e:?}",
            e.actor
        );
    }
    let actors: Vec<String> = entries
        .iter()
        .rev()
        .filter(|e| e.target == ROLE_LAYER)
        .map(|e| e.actor.clone())
        .collect();
    assert_eq!(
        actors, expected,
        "one audit entry per read of {ROLE_LAYER} that returned data, naming the reader"
    );
    expected.len()
}

// ---------------------------------------------------------------------------------------------
// The URIs a caller can reach
// ---------------------------------------------------------------------------------------------

/// Every public document and query that must answer 200 to anyone.
pub fn public_ok_uris(town: &CanaryTown) -> Vec<String> {
    let mut uris = Vec::new();
    for base in [
        "/".to_string(),
        "/conformance".into(),
        "/api".into(),
        "/collections".into(),
        format!("/collections/{PARKS}"),
        format!("/collections/{PARKS}/queryables"),
        format!("/collections/{PARKS}/sortables"),
        items(PARKS, &[]),
        items(PARKS, &[("sortby", &format!("-{PARK_AREA},{PARK_NAME}"))]),
        items(
            PARKS,
            &[("crs", "http://www.opengis.net/def/crs/EPSG/0/6677")],
        ),
        items(PARKS, &[("limit", "100")]),
        items(PARKS, &[("limit", "3"), ("offset", "3")]),
        items(
            PARKS,
            &[("properties", &format!("{PARK_NAME},{PARK_KIND}"))],
        ),
        items(PARKS, &[("properties", "")]),
        items(PARKS, &[(PARK_KIND, "近隣公園")]),
        items(PARKS, &[("datetime", "2026-01-01")]),
        // a public attribute asked for a hidden value: simply nothing matches
        items(PARKS, &[(PARK_NAME, "cnrypubintvala")]),
        item(PARKS, &town.parks[0].id, ""),
        item(PARKS, &town.parks[3].id, ""),
        format!("/location?{PLACE}"),
        format!("/search?q={}", encoded("公園")),
        format!("/collections/{PARKS}/nearest?{PLACE}&limit=3"),
    ] {
        uris.extend(both_formats(&base));
    }
    for b in boxes() {
        uris.extend(both_formats(&items(PARKS, &[("bbox", &b.param())])));
        uris.push(items(PARKS, &[("bbox", &b.param()), ("limit", "2")]));
        uris.push(items(
            PARKS,
            &[
                ("bbox", &b.param()),
                (PARK_KIND, "街区公園"),
                ("limit", "100"),
            ],
        ));
    }
    uris
}

/// Requests naming the hidden layers: (uri, the hidden name in it). 404 for whoever may not
/// see the layer.
pub fn hidden_layer_uris(layer: &str, fid: &str, attr: &str, value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for suffix in [
        String::new(),
        "?f=html".into(),
        "?f=json".into(),
        "/items".into(),
        "/items?f=html".into(),
        "/items?limit=5".into(),
        "/items?bbox=139.03,35.98,139.17,36.06".into(),
        format!("/items?{}", query(&[(attr.into(), value.into())])),
        format!("/items?properties={}", encoded(attr)),
        format!("/items?sortby={}", encoded(attr)),
        "/items/1".into(),
        format!("/items/{fid}"),
        format!("/items/{fid}?f=html"),
        "/queryables".into(),
        "/queryables?f=html".into(),
        "/sortables".into(),
        format!("/items/{fid}?crs=http://www.opengis.net/def/crs/EPSG/0/6677"),
        "/items?bbox-crs=http://www.opengis.net/def/crs/EPSG/0/6677&bbox=-8000,-65000,2000,-50000"
            .into(),
        // A bad parameter must not tell a hidden layer (400) from a missing one (404).
        "?f=xml".into(),
        "?limit=5".into(),
        "/items?f=xml".into(),
        "/items?limit=0".into(),
        "/items?bbox=1,2,x,4".into(),
        "/items?nosuchparameter=1".into(),
        format!("/items/{fid}?f=xml"),
        format!("/items/{fid}?crs=EPSG:9999"),
        "/queryables?f=xml".into(),
        "/sortables?f=xml".into(),
        format!("/nearest?{PLACE}"),
        format!("/nearest?{PLACE}&f=html"),
        format!("/nearest?{PLACE}&properties={}", encoded(attr)),
        "/nearest?lon=x".into(),
        "/nearest".into(),
        "/nearest?f=xml".into(),
        "/".into(),
        "/items/".into(),
    ] {
        out.push((format!("/collections/{layer}{suffix}"), layer.to_string()));
    }
    out
}
