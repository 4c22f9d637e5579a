//! The layer catalog: one TOML file in the data folder that lists every layer.
//!
//! Read with `deny_unknown_fields` everywhere so a typo is an error, not a silently ignored
//! setting, and validated as a whole before anything is loaded.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{AttrType, GeometryKind};
use crate::policy::Audience;

/// Name of the catalog file inside the data folder.
pub const CATALOG_FILE: &str = "catalog.toml";

/// A catalog problem, always naming the file and, where it applies, the layer.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {}{message}", layer.as_ref().map(|l| format!("layer \"{l}\": ")).unwrap_or_default())]
pub struct ConfigError {
    pub file: PathBuf,
    pub layer: Option<String>,
    pub message: String,
}

/// The whole catalog file, validated.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    pub server: ServerConfig,
    pub layers: Vec<LayerConfig>,
    /// The sections of the location report (`GET /location`: "what is at this place?"), in
    /// the order they are shown.
    pub location: Vec<LocationSection>,
    /// Resident reports from the public map; absent when the town takes none.
    pub reports: Option<ReportsConfig>,
}

/// The catalog as the file gives it, checked by `validate` before it becomes a
/// `CatalogConfig`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    server: ServerConfig,
    #[serde(rename = "layer", default)]
    layers: Vec<RawLayer>,
    #[serde(rename = "location", default)]
    location: Vec<LocationSection>,
    reports: Option<ReportsConfig>,
}

/// One section of the location report (`[[location]]`): what one layer says about a place.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSection {
    /// Id of the layer the section reads.
    pub layer: String,
    /// How features are picked: those containing the place, or the nearest ones.
    #[serde(rename = "match")]
    pub rule: MatchRule,
    /// Heading in Japanese; default the layer's `title_ja`.
    pub title_ja: Option<String>,
    /// Heading in English; default the layer's `title_en`.
    pub title_en: Option<String>,
    /// Most features listed. Default: 1 for `nearest`, every containing feature for `contains`.
    pub limit: Option<usize>,
    /// `nearest` only: farthest a feature may be, in metres (e.g. the road a lot fronts).
    /// Default: no limit.
    pub within_m: Option<f64>,
    /// Attributes shown, in this order; ones the caller may not see are left out.
    pub attributes: Vec<String>,
}

/// How a location-report section picks features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchRule {
    /// Features whose geometry contains (or touches) the place.
    Contains,
    /// The nearest features, by distance on the ellipsoid.
    Nearest,
}

impl MatchRule {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchRule::Contains => "contains",
            MatchRule::Nearest => "nearest",
        }
    }
}

impl LocationSection {
    /// Most features the section lists.
    pub fn max_results(&self) -> usize {
        match (self.limit, self.rule) {
            (Some(n), _) => n,
            (None, MatchRule::Nearest) => 1,
            (None, MatchRule::Contains) => usize::MAX,
        }
    }
}

/// Most features one location-report section may list.
pub const MAX_LOCATION_LIMIT: usize = 100;

/// Server-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Title in Japanese, shown on the landing page. Default "まちマップ".
    #[serde(default = "default_title_ja")]
    pub title_ja: String,
    /// Title in English. Default "machimap".
    #[serde(default = "default_title_en")]
    pub title_en: String,
    /// Landing page description. Default empty.
    #[serde(default)]
    pub description: String,
    /// `limit` when a request gives none. Default 10.
    #[serde(default = "default_limit")]
    pub default_limit: usize,
    /// Largest `limit` a request may ask for. Default 10 000.
    #[serde(default = "max_limit")]
    pub max_limit: usize,
    /// The municipality's extent in CRS84 `[west, south, east, north]`. When set, every loaded
    /// feature must lie within it (give or take `EXTENT_MARGIN`), which catches data delivered
    /// in another CRS than declared (a wrong zone, degrees taken for metres). Default: unset.
    pub extent: Option<[f64; 4]>,
    /// Sign-in, sessions and public hygiene. Read when the server starts (a reload keeps them).
    #[serde(default)]
    pub security: SecurityConfig,
    /// Largest photo accepted with a report or an inspection, bytes. Default 8 MiB.
    #[serde(default = "default_max_photo_bytes")]
    pub max_photo_bytes: usize,
}

/// Sign-in, session and public-hygiene settings (`[server.security]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Hours a session lasts from sign-in. Default 8 (a working day).
    pub session_hours: u32,
    /// Failed sign-ins in a row after which the user name is locked. Default 5.
    pub max_failed_logins: u32,
    /// Minutes of the first lock; each further failure doubles it, up to a day. Default 15.
    pub lockout_minutes: u32,
    /// Mark the session cookie `Secure` (with the `__Host-` prefix). Browsers accept such
    /// cookies over HTTPS and on `http://localhost`. Default true; turn off only to test over
    /// plain HTTP on another host.
    pub secure_cookie: bool,
    /// Requests per minute from one client address by callers who are not signed in; 0 means
    /// no limit. Bursts of a quarter of it are allowed. Default 600.
    pub public_requests_per_minute: u32,
    /// Sign-in attempts per minute from one client address; 0 means no limit. Default 10.
    pub login_attempts_per_minute: u32,
    /// Residents' reports per hour from one client address, in bursts of up to a third of it;
    /// 0 means no limit. Default 60: phones behind a carrier's shared address (CGNAT) or a
    /// shelter's Wi-Fi all count as one client, and in a disaster many report at once.
    pub reports_per_hour: u32,
    /// Look-ups of a report by its receipt code per hour from one client address, in bursts
    /// of up to a sixth of it; 0 means no limit. Default 120: plenty for a shelter's Wi-Fi,
    /// far too few to guess codes.
    pub receipt_lookups_per_hour: u32,
    /// Largest request body, bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Behind a reverse proxy: take the client address from the last `X-Forwarded-For` entry
    /// (for rate limits and the audit log). Default false.
    pub behind_proxy: bool,
    /// Origins (`https://host`) the web maps may load background tiles, glyphs and sprites
    /// from, added to the Content-Security-Policy. Default: the GSI tile server.
    pub map_origins: Vec<String>,
    /// The address the server is reached at (`https://gis.example.lg.jp`, optionally with a
    /// path prefix). When set, every link starts with it and the `Host` header is not used,
    /// so a forged `Host` cannot put another site into answers a cache keeps. Default: none,
    /// links use the `Host` header (and `X-Forwarded-Proto` only when `behind_proxy`).
    pub public_url: Option<String>,
    /// Seconds a client has to send a whole request head (request line and headers): counted
    /// from the connection's opening for its first request and from the first byte for later
    /// ones. A connection that sends nothing or part of a head is closed then. Default 10: a
    /// head is one packet or a few, even on a weak mobile signal.
    pub header_timeout_seconds: u32,
    /// Seconds a request body may go without a single byte arriving; it is then answered 408
    /// and the connection closed. A pause, not the whole upload: a phone sending photos on a
    /// weak signal may take minutes in all but keeps sending. Default 30.
    pub body_timeout_seconds: u32,
    /// Seconds a kept-alive connection may wait, idle, for its next request. Default 20: long
    /// enough for the next pan of a map, short so idle sockets of a shared address free their
    /// place under `max_connections_per_address`.
    pub idle_timeout_seconds: u32,
    /// Seconds an answer may wait, without any byte leaving, for a client that does not read
    /// it; the connection is closed then. Default 60.
    pub send_timeout_seconds: u32,
    /// Open connections from one client address (an IPv6 /64 counts as one address); further
    /// connections from it are closed at once, unread. 0 means no cap. Behind a reverse proxy
    /// every connection comes from the proxy's address: raise or turn off the cap there and let
    /// the proxy limit its clients. Default 256: a shelter's Wi-Fi or a carrier's shared
    /// address (CGNAT) puts many phones, each with up to six connections, behind one address.
    pub max_connections_per_address: u32,
    /// Open connections in all; at the cap new ones are closed at once. Lowered at start to
    /// what the open-file limit leaves after the files the server itself needs (with a
    /// warning). Default 4096.
    pub max_connections: u32,
    /// Longest request target (path and query), bytes; longer is a 414. Default 16 KiB: a
    /// CQL2 filter or a long list of ids fits, a URL built to exhaust memory does not.
    pub max_uri_bytes: usize,
    /// Largest total of a request's header fields (names, values and line ends), bytes;
    /// larger, or more than 100 fields, is a 431. Default 32 KiB: room for the cookies other
    /// services of the town's domain leave.
    pub max_header_bytes: usize,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            session_hours: 8,
            max_failed_logins: 5,
            lockout_minutes: 15,
            secure_cookie: true,
            public_requests_per_minute: 600,
            login_attempts_per_minute: 10,
            reports_per_hour: 60,
            receipt_lookups_per_hour: 120,
            max_body_bytes: 1 << 20,
            behind_proxy: false,
            map_origins: vec!["https://cyberjapandata.gsi.go.jp".into()],
            public_url: None,
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            idle_timeout_seconds: 20,
            send_timeout_seconds: 60,
            max_connections_per_address: 256,
            max_connections: 4096,
            max_uri_bytes: 16 << 10,
            max_header_bytes: 32 << 10,
        }
    }
}

impl SecurityConfig {
    fn check(&self) -> Result<(), String> {
        if self.session_hours == 0 || self.session_hours > 24 * 30 {
            return Err("server.security.session_hours must be 1 to 720".into());
        }
        if self.max_failed_logins == 0 || self.lockout_minutes == 0 {
            return Err(
                "server.security.max_failed_logins and lockout_minutes must be positive".into(),
            );
        }
        if self.max_body_bytes < 1024 {
            return Err("server.security.max_body_bytes must be at least 1024".into());
        }
        for (name, secs) in [
            ("header_timeout_seconds", self.header_timeout_seconds),
            ("body_timeout_seconds", self.body_timeout_seconds),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
            ("send_timeout_seconds", self.send_timeout_seconds),
        ] {
            if !(1..=3600).contains(&secs) {
                return Err(format!("server.security.{name} must be 1 to 3600"));
            }
        }
        if self.max_connections == 0 {
            return Err("server.security.max_connections must be positive".into());
        }
        if self.max_connections_per_address > self.max_connections {
            return Err(
                "server.security.max_connections_per_address must not exceed max_connections"
                    .into(),
            );
        }
        // Above these the HTTP parser's own limits answer first, without an error document.
        if !(1024..=MAX_URI_BYTES).contains(&self.max_uri_bytes) {
            return Err(format!(
                "server.security.max_uri_bytes must be 1024 to {MAX_URI_BYTES}"
            ));
        }
        if !(4096..=MAX_HEADER_BYTES).contains(&self.max_header_bytes) {
            return Err(format!(
                "server.security.max_header_bytes must be 4096 to {MAX_HEADER_BYTES}"
            ));
        }
        for o in &self.map_origins {
            let host = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            // The value goes into a header: only a plain origin may pass.
            let ok = host.is_some_and(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
            });
            if !ok {
                return Err(format!(
                    "server.security.map_origins: \"{o}\" is not an origin like https://tiles.example.jp"
                ));
            }
        }
        if let Some(u) = &self.public_url {
            let rest = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"));
            // The value starts every link: a plain origin and an optional path, nothing to escape.
            let ok = rest.is_some_and(|r| {
                let (host, path) = r.split_once('/').unwrap_or((r, ""));
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
                    && path
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c))
                    && !u.ends_with('/')
            });
            if !ok {
                return Err(format!(
                    "server.security.public_url: \"{u}\" is not an address like https://gis.example.lg.jp or https://www.example.lg.jp/map (no trailing /)"
                ));
            }
        }
        Ok(())
    }
}

/// Largest `max_uri_bytes`: the HTTP parser takes no longer request target.
pub const MAX_URI_BYTES: usize = 60 << 10;
/// Largest `max_header_bytes`.
pub const MAX_HEADER_BYTES: usize = 256 << 10;

/// How far (degrees, about 5 km) features may reach beyond `ServerConfig::extent`: hiking
/// courses and rivers cross the town boundary.
pub const EXTENT_MARGIN: f64 = 0.05;

fn default_title_ja() -> String {
    "まちマップ".into()
}
fn default_title_en() -> String {
    "machimap".into()
}
fn default_limit() -> usize {
    10
}
fn max_limit() -> usize {
    10_000
}
fn default_max_photo_bytes() -> usize {
    8 << 20
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            title_ja: default_title_ja(),
            title_en: default_title_en(),
            description: String::new(),
            default_limit: default_limit(),
            max_limit: max_limit(),
            extent: None,
            security: SecurityConfig::default(),
            max_photo_bytes: default_max_photo_bytes(),
        }
    }
}

/// One layer as the catalog declares it.
#[derive(Debug, Clone)]
pub struct LayerConfig {
    /// URL id: lowercase ASCII letters, digits, `-` and `_`.
    pub id: String,
    pub title_ja: String,
    pub title_en: String,
    /// Owning department, e.g. 都市計画課.
    pub department: String,
    pub description: String,
    /// Where the features come from: a file, the edit store or another layer.
    pub origin: Origin,
    /// Source CRS such as `EPSG:6677`; when absent it is taken from the file (`.prj`, GeoJSON
    /// `crs` member, FlatGeobuf header), and GeoJSON/CSV without one are CRS84 / JGD2011.
    pub crs: Option<String>,
    /// Attribute holding the feature id; when absent ids are 1-based positions in the file.
    pub id_field: Option<String>,
    /// Who may see the layer: `"public"`, `"internal"` or a list of roles.
    pub audience: Audience,
    pub license: String,
    /// Last update of the source data, `YYYY-MM-DD`.
    pub updated: String,
    /// Keywords for the collection metadata.
    pub keywords: Vec<String>,
    /// Attribute schema: only these attributes are served; everything else in the file is dropped.
    pub attributes: Vec<AttributeConfig>,
    /// Text attributes `GET /search` looks in, e.g. `["名称", "名称_カナ"]`. Each caller
    /// searches only those it may see. Default: none (the layer is not searched).
    pub search: Vec<String>,
}

/// Where a layer's features come from: the catalog gives exactly one of `[layer.source]`,
/// `[layer.edit]` and `[layer.view]`.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Read from a file.
    File(SourceConfig),
    /// Editable: the features live in the edit store.
    EditStore(EditConfig),
    /// A published part of another layer.
    View(ViewConfig),
}

impl LayerConfig {
    /// The file the layer is read from, when it is.
    pub fn source(&self) -> Option<&SourceConfig> {
        match &self.origin {
            Origin::File(s) => Some(s),
            _ => None,
        }
    }
    /// How the layer is edited, when it is editable.
    pub fn edit(&self) -> Option<&EditConfig> {
        match &self.origin {
            Origin::EditStore(e) => Some(e),
            _ => None,
        }
    }
    /// The layer this one shows part of, when it is a view.
    pub fn view(&self) -> Option<&ViewConfig> {
        match &self.origin {
            Origin::View(v) => Some(v),
            _ => None,
        }
    }
}

/// A `[[layer]]` table as written, with its origin still three optional tables: `validate`
/// checks it before `into_layer` settles the origin.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    id: String,
    title_ja: String,
    title_en: String,
    department: String,
    #[serde(default)]
    description: String,
    source: Option<SourceConfig>,
    edit: Option<EditConfig>,
    view: Option<ViewConfig>,
    crs: Option<String>,
    id_field: Option<String>,
    audience: Audience,
    license: String,
    updated: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(rename = "attribute", default)]
    attributes: Vec<AttributeConfig>,
    #[serde(default)]
    search: Vec<String>,
}

impl RawLayer {
    /// The layer with its one origin; only for a layer `validate` passed.
    fn into_layer(self) -> LayerConfig {
        let RawLayer {
            id,
            title_ja,
            title_en,
            department,
            description,
            source,
            edit,
            view,
            crs,
            id_field,
            audience,
            license,
            updated,
            keywords,
            attributes,
            search,
        } = self;
        let origin = match (source, edit, view) {
            (Some(s), None, None) => Origin::File(s),
            (None, Some(e), None) => Origin::EditStore(e),
            (None, None, Some(v)) => Origin::View(v),
            _ => unreachable!("validate passes only a layer with exactly one origin"),
        };
        LayerConfig {
            id,
            title_ja,
            title_en,
            department,
            description,
            origin,
            crs,
            id_field,
            audience,
            license,
            updated,
            keywords,
            attributes,
            search,
        }
    }
}

/// An editable layer (`[layer.edit]`): stored in the edit store, changed through OGC API –
/// Features Part 4.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditConfig {
    /// The one geometry type the layer holds.
    pub geometry: GeometryKind,
    /// Who may create features (`POST`); each of these must see the layer.
    pub create: Audience,
    /// Who may change features (`PUT`, `PATCH`) and approve photos.
    pub update: Audience,
    /// Who may delete features; an admin can restore them.
    pub delete: Audience,
    /// Most photos one feature may carry. Default 0 (no photos).
    #[serde(default)]
    pub photos: usize,
    /// A status attribute whose value may only move along the given transitions.
    pub workflow: Option<WorkflowConfig>,
    /// Records about features of other layers (inspections of a valve, repairs of a road).
    pub target: Option<TargetConfig>,
}

/// A status workflow (`[layer.edit.workflow]`), e.g. 受付 → 対応中 → 完了 / 対象外.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowConfig {
    /// The status attribute (a string attribute with codes).
    pub attribute: String,
    /// The status every new feature starts with.
    pub initial: String,
    /// For each status, the statuses it may move to. Statuses not listed are final.
    pub transitions: std::collections::BTreeMap<String, Vec<String>>,
}

impl WorkflowConfig {
    /// Whether the status may move from `from` to `to` (staying is always allowed).
    pub fn allows(&self, from: &str, to: &str) -> bool {
        from == to
            || self
                .transitions
                .get(from)
                .is_some_and(|next| next.iter().any(|n| n == to))
    }
}

/// What an editable layer's records are about (`[layer.edit.target]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The string attribute naming the target's layer id.
    pub layer_attribute: String,
    /// The string attribute holding the target feature's id.
    pub id_attribute: String,
    /// The layers records may be about.
    pub layers: Vec<String>,
}

/// A view layer (`view = { … }`): the features of another layer that meet a condition, with
/// only the attributes the view declares. Photos are shown only where staff approved them.
/// Rebuilt whenever the other layer changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewConfig {
    /// The layer shown.
    pub of: String,
    /// Only features whose `where_attribute` is one of `where_in`.
    pub where_attribute: Option<String>,
    #[serde(default)]
    pub where_in: Vec<String>,
}

/// Resident reports (`[reports]`): `POST /reports` from the public map creates a feature of an
/// editable layer with a category, a description, a point and photos, and gives the resident
/// a receipt code to follow its status.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    /// The editable point layer reports go to; its workflow gives the status.
    pub layer: String,
    /// The category attribute (a string attribute with codes).
    pub category: String,
    /// The free-text description attribute.
    pub description: String,
}

/// Where a layer's features come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Path relative to the data folder.
    pub path: PathBuf,
    /// Format; when absent it follows the file extension.
    pub format: Option<SourceFormat>,
    /// Text encoding of CSV or DBF (`utf-8`, `shift_jis`, `cp932`, …). When absent: CSV is
    /// detected (UTF-8 if valid, else Shift_JIS), DBF follows its `.cpg`, else Shift_JIS.
    pub encoding: Option<String>,
    /// CSV column holding easting/longitude; detected from `経度`/`lon`/`longitude` when absent.
    pub x_column: Option<String>,
    /// CSV column holding northing/latitude; detected from `緯度`/`lat`/`latitude` when absent.
    pub y_column: Option<String>,
}

/// Source file formats the loaders understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Geojson,
    Flatgeobuf,
    Csv,
    Shapefile,
}

impl SourceFormat {
    /// The format a file extension implies.
    pub fn from_path(path: &Path) -> Option<SourceFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "geojson" | "json" => Some(SourceFormat::Geojson),
            "fgb" => Some(SourceFormat::Flatgeobuf),
            "csv" => Some(SourceFormat::Csv),
            "shp" => Some(SourceFormat::Shapefile),
            _ => None,
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Geojson => "geojson",
            SourceFormat::Flatgeobuf => "flatgeobuf",
            SourceFormat::Csv => "csv",
            SourceFormat::Shapefile => "shapefile",
        })
    }
}

/// One declared attribute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeConfig {
    /// Name in the source file and in the API (Japanese names are fine).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    pub label_ja: String,
    #[serde(default)]
    pub label_en: String,
    /// Narrower audience than the layer's, e.g. a name column on an otherwise public layer.
    pub audience: Option<Audience>,
    /// The allowed values of a string attribute (a code list such as 種別). Listed in the
    /// queryables; an edit with another value is refused.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Editable layers: an edit must give a value.
    #[serde(default)]
    pub required: bool,
    /// Editable layers: longest text, in characters. Default `DEFAULT_MAX_LENGTH`.
    pub max_length: Option<usize>,
    /// Editable layers: the server sets the value; clients may not.
    pub auto: Option<AutoValue>,
}

/// Values the server fills in on editable layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoValue {
    /// The date the feature was created (a date attribute).
    CreatedDate,
    /// The date of the latest change (a date attribute).
    UpdatedDate,
    /// The staff user who created it, `-` for a resident (a string attribute).
    CreatedBy,
    /// The staff user who made the latest change (a string attribute).
    UpdatedBy,
}

/// Longest text of an editable string attribute without `max_length`.
pub const DEFAULT_MAX_LENGTH: usize = 2000;

impl CatalogConfig {
    /// Reads and validates `catalog.toml` in `dir`.
    pub fn load(dir: &Path) -> Result<CatalogConfig, ConfigError> {
        let file = dir.join(CATALOG_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigError {
            file: file.clone(),
            layer: None,
            message: format!("cannot read the catalog: {e}"),
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and validates catalog text; `file` is only used in error messages.
    pub fn parse(text: &str, file: &Path) -> Result<CatalogConfig, ConfigError> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            layer: None,
            message: describe_toml_error(text, &e),
        })?;
        raw.validate(file)?;
        Ok(CatalogConfig {
            server: raw.server,
            layers: raw.layers.into_iter().map(RawLayer::into_layer).collect(),
            location: raw.location,
            reports: raw.reports,
        })
    }
}

impl RawCatalog {
    fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let err = |layer: Option<&str>, message: String| ConfigError {
            file: file.to_path_buf(),
            layer: layer.map(str::to_owned),
            message,
        };
        let s = &self.server;
        if s.max_limit == 0 || s.default_limit == 0 || s.default_limit > s.max_limit {
            return Err(err(
                None,
                format!(
                    "server: default_limit ({}) and max_limit ({}) must be positive with default_limit <= max_limit",
                    s.default_limit, s.max_limit
                ),
            ));
        }
        s.security.check().map_err(|m| err(None, m))?;
        if let Some([w, so, e, n]) = s.extent {
            let ok = [w, so, e, n].iter().all(|v| v.is_finite())
                && (-180.0..=180.0).contains(&w)
                && (-180.0..=180.0).contains(&e)
                && (-90.0..=90.0).contains(&so)
                && (-90.0..=90.0).contains(&n)
                && w < e
                && so < n;
            if !ok {
                return Err(err(
                    None,
                    "server.extent must be [west, south, east, north] in degrees with west < east and south < north".into(),
                ));
            }
        }
        let mut ids = HashSet::new();
        for layer in &self.layers {
            let id = layer.id.as_str();
            if !is_valid_layer_id(id) {
                return Err(err(
                    Some(id),
                    "id must be 1-64 characters of lowercase ASCII letters, digits, '-' or '_'"
                        .into(),
                ));
            }
            if !ids.insert(id) {
                return Err(err(Some(id), "id is used by more than one layer".into()));
            }
            if chrono::NaiveDate::parse_from_str(&layer.updated, "%Y-%m-%d").is_err() {
                return Err(err(
                    Some(id),
                    format!(
                        "updated: expected a date YYYY-MM-DD, got \"{}\"",
                        layer.updated
                    ),
                ));
            }
            check_origin(layer, &self.layers).map_err(|m| err(Some(id), m))?;
            let mut names = HashSet::new();
            for attr in &layer.attributes {
                if attr.name.is_empty() {
                    return Err(err(Some(id), "an attribute has an empty name".into()));
                }
                if !names.insert(attr.name.as_str()) {
                    return Err(err(
                        Some(id),
                        format!("attribute \"{}\" is declared twice", attr.name),
                    ));
                }
                if let Some(a) = &attr.audience
                    && !a.is_within(&layer.audience)
                {
                    return Err(err(
                        Some(id),
                        format!(
                            "attribute \"{}\": audience {a} is broader than the layer's ({})",
                            attr.name, layer.audience
                        ),
                    ));
                }
            }
            check_edit_attributes(layer).map_err(|m| err(Some(id), m))?;
            // Layer metadata is shown to everyone who sees the layer, so it must not name an
            // attribute hidden from some of them.
            for attr in &layer.attributes {
                if attr.audience.as_ref().is_some_and(|a| a != &layer.audience) {
                    let texts = [&layer.title_ja, &layer.title_en, &layer.description];
                    if texts.iter().any(|t| t.contains(&attr.name))
                        || layer.keywords.iter().any(|k| k.contains(&attr.name))
                    {
                        return Err(err(
                            Some(id),
                            format!(
                                "the title, description or keywords name attribute \"{}\", which is hidden from part of the layer's audience",
                                attr.name
                            ),
                        ));
                    }
                }
            }
            let mut searched = HashSet::new();
            for name in &layer.search {
                let Some(attr) = layer.attributes.iter().find(|a| &a.name == name) else {
                    return Err(err(
                        Some(id),
                        format!("search: \"{name}\" is not a declared attribute"),
                    ));
                };
                if attr.kind != AttrType::String {
                    return Err(err(
                        Some(id),
                        format!("search: attribute \"{name}\" is not of type string"),
                    ));
                }
                if !searched.insert(name.as_str()) {
                    return Err(err(
                        Some(id),
                        format!("search: attribute \"{name}\" is listed twice"),
                    ));
                }
            }
            if let Some(idf) = &layer.id_field
                && !names.contains(idf.as_str())
            {
                return Err(err(
                    Some(id),
                    format!("id_field \"{idf}\" is not a declared attribute"),
                ));
            }
            // Feature ids are shown to everyone who sees the layer.
            if let Some(idf) = &layer.id_field
                && layer.attributes.iter().any(|a| {
                    &a.name == idf && a.audience.as_ref().is_some_and(|x| x != &layer.audience)
                })
            {
                return Err(err(
                    Some(id),
                    format!(
                        "id_field \"{idf}\" has a narrower audience than the layer, but feature ids are shown to everyone who sees the layer"
                    ),
                ));
            }
        }
        if let Some(r) = &self.reports {
            r.check(&self.layers)
                .map_err(|m| err(None, format!("[reports]: {m}")))?;
        }
        for (n, section) in self.location.iter().enumerate() {
            section.check(&self.layers).map_err(|m| {
                err(
                    None,
                    format!("{}: {m}", section_name(n + 1, &section.layer)),
                )
            })?;
        }
        Ok(())
    }
}

/// Checks where a layer's features come from: exactly one of a file, the edit store or another
/// layer, with the settings that go with it.
fn check_origin(layer: &RawLayer, layers: &[RawLayer]) -> Result<(), String> {
    match (&layer.source, &layer.edit, &layer.view) {
        (Some(source), None, None) => {
            if source.format.is_none() && SourceFormat::from_path(&source.path).is_none() {
                return Err(format!(
                    "source.path \"{}\": cannot tell the format from the extension; set source.format",
                    source.path.display()
                ));
            }
            if let Some(enc) = &source.encoding
                && encoding_rs::Encoding::for_label(enc.as_bytes()).is_none()
            {
                return Err(format!("source.encoding: unknown text encoding \"{enc}\""));
            }
            Ok(())
        }
        (None, Some(edit), None) => {
            if layer.crs.is_some() || layer.id_field.is_some() {
                return Err(
                    "an editable layer is stored in CRS84 with the store's feature ids: remove crs and id_field"
                        .into(),
                );
            }
            edit.check(layer, layers)
        }
        (None, None, Some(view)) => {
            if layer.crs.is_some() || layer.id_field.is_some() {
                return Err(
                    "a view layer takes its geometry and ids from the layer it shows: remove crs and id_field"
                        .into(),
                );
            }
            view.check(layer, layers)
        }
        (None, None, None) => Err("give source (a file), edit (an editable layer) or view".into()),
        _ => Err("give only one of source, edit and view".into()),
    }
}

/// The edit-only attribute settings (`required`, `max_length`, `auto`) and code lists.
fn check_edit_attributes(layer: &RawLayer) -> Result<(), String> {
    for a in &layer.attributes {
        let name = &a.name;
        if layer.edit.is_none() && (a.required || a.max_length.is_some() || a.auto.is_some()) {
            return Err(format!(
                "attribute \"{name}\": required, max_length and auto apply only to editable layers"
            ));
        }
        if !a.codes.is_empty() && a.kind != AttrType::String {
            return Err(format!(
                "attribute \"{name}\": codes apply only to string attributes"
            ));
        }
        if a.codes
            .iter()
            .enumerate()
            .any(|(i, c)| a.codes[..i].contains(c))
        {
            return Err(format!("attribute \"{name}\": a code is listed twice"));
        }
        if a.max_length.is_some() && a.kind != AttrType::String {
            return Err(format!(
                "attribute \"{name}\": max_length applies only to string attributes"
            ));
        }
        if a.max_length == Some(0) {
            return Err(format!("attribute \"{name}\": max_length must be positive"));
        }
        if let Some(auto) = a.auto {
            let want = match auto {
                AutoValue::CreatedDate | AutoValue::UpdatedDate => AttrType::Date,
                AutoValue::CreatedBy | AutoValue::UpdatedBy => AttrType::String,
            };
            if a.kind != want {
                return Err(format!(
                    "attribute \"{name}\": auto {auto:?} needs type {}",
                    want.name()
                ));
            }
            if a.required {
                return Err(format!(
                    "attribute \"{name}\": an auto attribute is set by the server, so it cannot be required"
                ));
            }
        }
    }
    Ok(())
}

/// A string attribute of `layer` by name, for the edit settings that name one.
fn string_attribute<'a>(
    layer: &'a RawLayer,
    setting: &str,
    name: &str,
) -> Result<&'a AttributeConfig, String> {
    let a = layer
        .attributes
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| format!("{setting}: \"{name}\" is not a declared attribute"))?;
    if a.kind != AttrType::String {
        return Err(format!(
            "{setting}: attribute \"{name}\" is not of type string"
        ));
    }
    Ok(a)
}

impl EditConfig {
    fn check(&self, layer: &RawLayer, layers: &[RawLayer]) -> Result<(), String> {
        for (what, a) in [
            ("edit.create", &self.create),
            ("edit.update", &self.update),
            ("edit.delete", &self.delete),
        ] {
            if !a.is_within(&layer.audience) {
                return Err(format!(
                    "{what}: audience {a} is broader than the layer's ({}); editors must see the layer",
                    layer.audience
                ));
            }
        }
        if self.photos > MAX_PHOTOS {
            return Err(format!("edit.photos must be 0 to {MAX_PHOTOS}"));
        }
        if let Some(w) = &self.workflow {
            let a = string_attribute(layer, "edit.workflow.attribute", &w.attribute)?;
            if a.codes.is_empty() {
                return Err(format!(
                    "edit.workflow: attribute \"{}\" needs codes listing every status",
                    w.attribute
                ));
            }
            if a.auto.is_some() {
                return Err("edit.workflow: the status attribute cannot be auto".into());
            }
            let statuses = std::iter::once(&w.initial).chain(
                w.transitions
                    .iter()
                    .flat_map(|(from, to)| std::iter::once(from).chain(to)),
            );
            for s in statuses {
                if !a.codes.contains(s) {
                    return Err(format!(
                        "edit.workflow: status \"{s}\" is not one of the codes of \"{}\"",
                        w.attribute
                    ));
                }
            }
        }
        if let Some(t) = &self.target {
            string_attribute(layer, "edit.target.layer_attribute", &t.layer_attribute)?;
            string_attribute(layer, "edit.target.id_attribute", &t.id_attribute)?;
            if t.layers.is_empty() {
                return Err("edit.target.layers: name at least one layer".into());
            }
            for l in &t.layers {
                if !layers.iter().any(|x| &x.id == l) {
                    return Err(format!(
                        "edit.target.layers: layer \"{l}\" is not in the catalog"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl ViewConfig {
    fn check(&self, layer: &RawLayer, layers: &[RawLayer]) -> Result<(), String> {
        let Some(base) = layers.iter().find(|l| l.id == self.of) else {
            return Err(format!(
                "view.of: layer \"{}\" is not in the catalog",
                self.of
            ));
        };
        if base.view.is_some() {
            return Err(format!("view.of: layer \"{}\" is itself a view", self.of));
        }
        for a in &layer.attributes {
            match base.attributes.iter().find(|b| b.name == a.name) {
                Some(b) if b.kind == a.kind => {}
                Some(_) => {
                    return Err(format!(
                        "attribute \"{}\" has another type than in layer \"{}\"",
                        a.name, self.of
                    ));
                }
                None => {
                    return Err(format!(
                        "attribute \"{}\" is not an attribute of layer \"{}\"",
                        a.name, self.of
                    ));
                }
            }
        }
        match (&self.where_attribute, self.where_in.is_empty()) {
            (None, true) => Ok(()),
            (Some(name), false) => string_attribute(base, "view.where_attribute", name).map(|_| ()),
            _ => Err("view: give where_attribute and where_in together".into()),
        }
    }
}

impl ReportsConfig {
    fn check(&self, layers: &[RawLayer]) -> Result<(), String> {
        let Some(layer) = layers.iter().find(|l| l.id == self.layer) else {
            return Err(format!("layer \"{}\" is not in the catalog", self.layer));
        };
        let Some(edit) = &layer.edit else {
            return Err(format!("layer \"{}\" is not editable", self.layer));
        };
        if edit.geometry != GeometryKind::Point {
            return Err(format!("layer \"{}\" must hold points", self.layer));
        }
        if edit.workflow.is_none() {
            return Err(format!(
                "layer \"{}\" needs edit.workflow (the status residents see)",
                self.layer
            ));
        }
        let category = string_attribute(layer, "category", &self.category)?;
        if category.codes.is_empty() {
            return Err(format!(
                "category: attribute \"{}\" needs codes",
                self.category
            ));
        }
        string_attribute(layer, "description", &self.description)?;
        Ok(())
    }
}

/// Most photos an editable layer may allow per feature.
pub const MAX_PHOTOS: usize = 10;

/// How errors name a location-report section: `[[location]] #2 (layer "roads")`.
fn section_name(number: usize, layer: &str) -> String {
    format!("[[location]] #{number} (layer \"{layer}\")")
}

impl LocationSection {
    fn check(&self, layers: &[RawLayer]) -> Result<(), String> {
        let Some(layer) = layers.iter().find(|l| l.id == self.layer) else {
            return Err(format!("layer \"{}\" is not in the catalog", self.layer));
        };
        if self.attributes.is_empty() {
            return Err("attributes: name at least one attribute to show".into());
        }
        for (i, name) in self.attributes.iter().enumerate() {
            if !layer.attributes.iter().any(|a| &a.name == name) {
                return Err(format!(
                    "attributes: \"{name}\" is not a declared attribute of layer \"{}\"",
                    layer.id
                ));
            }
            if self.attributes[..i].contains(name) {
                return Err(format!("attributes: \"{name}\" is listed twice"));
            }
        }
        if let Some(n) = self.limit
            && (n == 0 || n > MAX_LOCATION_LIMIT)
        {
            return Err(format!("limit must be 1 to {MAX_LOCATION_LIMIT}, got {n}"));
        }
        if let Some(m) = self.within_m {
            if self.rule != MatchRule::Nearest {
                return Err("within_m applies only to match = \"nearest\"".into());
            }
            if !(m.is_finite() && m > 0.0) {
                return Err(format!(
                    "within_m must be a positive number of metres, got {m}"
                ));
            }
        }
        Ok(())
    }
}

/// Layer ids appear in URLs, so they stay plain.
pub fn is_valid_layer_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A TOML error with its line and column, and the `[[layer]]` it falls in when there is one.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_string();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let location = before.rfind("[[location]]");
    if location.is_some_and(|at| before.rfind("[[layer]]").is_none_or(|l| l < at)) {
        let number = before.matches("[[location]]").count();
        let start = location.unwrap_or(0);
        // The section's `layer = …` may come after the error: read to the next table.
        let rest = &text[start + "[[location]]".len()..];
        let section = &rest[..rest.find("[[").unwrap_or(rest.len())];
        let layer = key_value(section, "layer").unwrap_or_default();
        return format!(
            "line {line}, column {col} ({}): {}",
            section_name(number, &layer),
            e.message()
        );
    }
    let layer = layer_id_before(before);
    match layer {
        Some(l) => format!("line {line}, column {col} (layer \"{l}\"): {}", e.message()),
        None => format!("line {line}, column {col}: {}", e.message()),
    }
}

/// The value of the first `key = "…"` line in `table`.
fn key_value(table: &str, key: &str) -> Option<String> {
    table.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(key)?.trim_start().strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    })
}

/// The `id = "…"` of the last `[[layer]]` table opened before this point of the file.
fn layer_id_before(before: &str) -> Option<String> {
    let start = before.rfind("[[layer]]")?;
    key_value(&before[start..], "id")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[[layer]]
id = "zoning"
title_ja = "用途地域"
title_en = "Zoning"
department = "都市計画課"
source = { path = "zoning.geojson" }
audience = "public"
license = "CC BY 4.0"
updated = "2026-04-01"
[[layer.attribute]]
name = "用途地域"
type = "string"
label_ja = "用途地域"
"#;

    #[test]
    fn minimal_catalog_parses_with_defaults() {
        let c = CatalogConfig::parse(MINIMAL, Path::new("catalog.toml")).expect("valid");
        assert_eq!(c.server.default_limit, 10);
        assert_eq!(c.layers[0].attributes[0].name, "用途地域");
    }

    #[test]
    fn a_layer_has_exactly_one_origin() {
        let c = CatalogConfig::parse(MINIMAL, Path::new("c")).expect("valid");
        assert!(matches!(c.layers[0].origin, Origin::File(_)));
        assert!(c.layers[0].source().is_some() && c.layers[0].edit().is_none());
        let none = MINIMAL.replace("source = { path = \"zoning.geojson\" }\n", "");
        let two = MINIMAL.replace(
            "source = { path = \"zoning.geojson\" }",
            "source = { path = \"zoning.geojson\" }\nview = { of = \"zoning\" }",
        );
        for (text, said) in [
            (
                none,
                "layer \"zoning\": give source (a file), edit (an editable layer) or view",
            ),
            (
                two,
                "layer \"zoning\": give only one of source, edit and view",
            ),
        ] {
            let e = CatalogConfig::parse(&text, Path::new("c")).expect_err(said);
            assert_eq!(e.to_string(), format!("c: {said}"));
        }
    }

    #[test]
    fn unknown_field_names_line_and_layer() {
        let text = MINIMAL.replace("license =", "colour = \"red\"\nlicense =");
        let e = CatalogConfig::parse(&text, Path::new("data/catalog.toml")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("data/catalog.toml: line 9"), "{msg}");
        assert!(msg.contains("colour"), "{msg}");
        assert!(msg.contains("layer \"zoning\""), "{msg}");
    }

    #[test]
    fn bad_layer_id_and_duplicate_are_refused() {
        let e = CatalogConfig::parse(
            &MINIMAL.replace("\"zoning\"", "\"Zoning!\""),
            Path::new("c"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("lowercase"), "{e}");
        let twice = format!("{MINIMAL}\n{}", MINIMAL.trim_start());
        let e = CatalogConfig::parse(&twice, Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("more than one layer"), "{e}");
    }

    #[test]
    fn id_field_may_not_be_hidden() {
        let text = MINIMAL
            .replace("name = \"用途地域\"", "name = \"区域ID\"")
            .replace(
                "label_ja = \"用途地域\"",
                "label_ja = \"x\"\naudience = \"internal\"",
            )
            .replace(
                "audience = \"public\"\n",
                "audience = \"public\"\nid_field = \"区域ID\"\n",
            );
        let e = CatalogConfig::parse(&text, Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("feature ids are shown"), "{e}");
    }

    #[test]
    fn public_metadata_may_not_name_a_hidden_attribute() {
        let text = MINIMAL
            .replace(
                "label_ja = \"用途地域\"",
                "label_ja = \"x\"\naudience = \"internal\"",
            )
            .replace(
                "department = \"都市計画課\"",
                "department = \"都市計画課\"\ndescription = \"用途地域は庁内限定\"",
            );
        let e = CatalogConfig::parse(&text, Path::new("c")).unwrap_err();
        assert!(
            e.to_string()
                .contains("hidden from part of the layer's audience"),
            "{e}"
        );
    }

    #[test]
    fn attribute_audience_may_not_be_broader_than_layer() {
        let text = MINIMAL
            .replace("audience = \"public\"", "audience = \"internal\"")
            .replace(
                "label_ja = \"用途地域\"",
                "label_ja = \"x\"\naudience = \"public\"",
            );
        let e = CatalogConfig::parse(&text, Path::new("c")).unwrap_err();
        assert!(e.to_string().contains("broader"), "{e}");
    }

    const SECTION: &str = r#"
[[location]]
layer = "zoning"
match = "contains"
attributes = ["用途地域"]
"#;

    fn with_section(section: &str) -> Result<CatalogConfig, ConfigError> {
        CatalogConfig::parse(&format!("{MINIMAL}{section}"), Path::new("c"))
    }

    #[test]
    fn location_sections_parse_and_name_themselves_in_errors() {
        let c = with_section(SECTION).expect("valid");
        assert_eq!(c.location[0].rule, MatchRule::Contains);
        assert_eq!(c.location[0].max_results(), usize::MAX);
        let cases = [
            (
                SECTION.replace("\"zoning\"", "\"roads\""),
                "layer \"roads\" is not in the catalog",
            ),
            (
                SECTION.replace("[\"用途地域\"]", "[\"容積率\"]"),
                "\"容積率\" is not a declared attribute",
            ),
            (
                SECTION.replace("[\"用途地域\"]", "[]"),
                "at least one attribute",
            ),
            (
                SECTION.replace("\"contains\"", "\"within\""),
                "unknown variant `within`",
            ),
            (
                format!("{SECTION}within_m = 5\n"),
                "only to match = \"nearest\"",
            ),
            (
                SECTION.replace("\"contains\"", "\"nearest\"") + "within_m = 0\n",
                "within_m must be a positive number",
            ),
            (format!("{SECTION}limit = 0\n"), "limit must be 1 to 100"),
            (format!("{SECTION}colour = 1\n"), "unknown field `colour`"),
        ];
        for (section, expect) in cases {
            let e = with_section(&section).expect_err(expect).to_string();
            assert!(e.contains(expect), "{e}");
            assert!(e.contains("[[location]] #1 (layer \""), "{e}");
        }
        let two = format!("{SECTION}{}", SECTION.replace("\"zoning\"", "\"parks\""));
        let e = with_section(&two).expect_err("unknown layer").to_string();
        assert!(e.contains("[[location]] #2 (layer \"parks\")"), "{e}");
    }

    #[test]
    fn searched_attributes_are_declared_text() {
        let text = MINIMAL.replace(
            "audience = \"public\"\n",
            "audience = \"public\"\nsearch = [\"用途地域\"]\n",
        );
        let c = CatalogConfig::parse(&text, Path::new("c")).expect("valid");
        assert_eq!(c.layers[0].search, vec!["用途地域"]);
        for (list, expect) in [
            ("[\"名称\"]", "search: \"名称\" is not a declared attribute"),
            ("[\"用途地域\", \"用途地域\"]", "listed twice"),
        ] {
            let text = MINIMAL.replace(
                "audience = \"public\"\n",
                &format!("audience = \"public\"\nsearch = {list}\n"),
            );
            let e = CatalogConfig::parse(&text, Path::new("c")).expect_err(expect);
            assert!(e.to_string().contains(expect), "{e}");
            assert!(e.to_string().contains("layer \"zoning\""), "{e}");
        }
        let text = MINIMAL
            .replace("type = \"string\"", "type = \"integer\"")
            .replace(
                "audience = \"public\"\n",
                "audience = \"public\"\nsearch = [\"用途地域\"]\n",
            );
        let e = CatalogConfig::parse(&text, Path::new("c")).expect_err("integer");
        assert!(e.to_string().contains("is not of type string"), "{e}");
    }

    #[test]
    fn connection_limits_are_read_and_checked() {
        let with = |table: &str| format!("[server.security]\n{table}\n{MINIMAL}");
        let c = CatalogConfig::parse(
            &with("header_timeout_seconds = 3\nmax_connections_per_address = 8"),
            Path::new("c"),
        )
        .expect("valid");
        assert_eq!(c.server.security.header_timeout_seconds, 3);
        assert_eq!(c.server.security.max_connections_per_address, 8);
        assert_eq!(c.server.security.max_connections, 4096);
        for (table, said) in [
            (
                "body_timeout_seconds = 0",
                "body_timeout_seconds must be 1 to 3600",
            ),
            ("max_connections = 0", "max_connections must be positive"),
            (
                "max_connections = 10\nmax_connections_per_address = 11",
                "must not exceed max_connections",
            ),
            ("max_uri_bytes = 100000", "max_uri_bytes must be 1024 to"),
            ("max_header_bytes = 100", "max_header_bytes must be 4096 to"),
            ("header_timeout = 3", "header_timeout"),
        ] {
            let e = CatalogConfig::parse(&with(table), Path::new("c")).expect_err(table);
            assert!(e.to_string().contains(said), "{table}: {e}");
        }
    }
}
