//! Queries against the sample town, checked against answers machimap did not compute.
//!
//! GDAL (`ogr2ogr`, `ogrinfo`) reads every source file on its own, and the box/geometry hit
//! test below is written out by hand, so neither machimap's loaders nor its geometry code (nor
//! the `geo` crate it uses) decide what the right answer is. The server is driven in-process
//! with `tower::ServiceExt::oneshot`; every response body is scanned for the names of the
//! internal layers and of hidden attributes, which an anonymous caller must never see.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use axum::http::StatusCode;
use machimap::access::LayerReport;
use machimap::access::View;
use machimap::config::{CatalogConfig, LayerConfig, SourceConfig, SourceFormat};
use machimap::model::AttrType;
use machimap::policy::{Audience, Principal};
use machimap::query::{self, Format, ItemsQuery};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value as Json};

mod common;
use common::brute::in_rings;
use common::geojson::{Geometry, Position as P, geometry, nullable_geometry};
use common::response::excerpt;
use common::server::sample_data;
use common::town::Town;
use common::{Response, items_uri, percent_decode};

/// Host header sent with every request; links must come back on it.
const HOST: &str = "machimap.test";
/// Features closer than this (degrees) to a box edge may legitimately go either way: GDAL's
/// and machimap's CRS pipelines differ in the last digits.
const EPS: f64 = 1e-6;

/// The layers an anonymous caller sees, and the ones that must not exist for them.
const PUBLIC: [&str; 6] = common::sample::PUBLIC_LAYERS;
const INTERNAL: [&str; 4] = [
    "water-mains",
    "water-valves",
    "repair-history",
    "evacuation-support",
];
/// Attributes of public layers that only staff may see.
const HIDDEN: [(&str, &str); 2] = [("roads", "補修予定年度"), ("shelters", "施設管理者電話")];

// ---------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------

struct Fixture {
    town: Town,
    /// The same catalog as seen by staff holding every role: the internal layers' queries.
    staff: View,
    config: CatalogConfig,
    reports: Vec<LayerReport>,
    dir: PathBuf,
    /// Names no anonymous response may contain: internal layer ids and hidden attributes.
    forbidden: Vec<String>,
}

fn is_public(l: &LayerConfig) -> bool {
    l.audience == Audience::Public
}

/// Attributes of `l` that the anonymous caller may see.
fn visible_attrs(l: &LayerConfig) -> Vec<(String, AttrType)> {
    l.attributes
        .iter()
        .filter(|a| a.audience.as_ref().is_none_or(|x| *x == Audience::Public))
        .map(|a| (a.name.clone(), a.kind))
        .collect()
}

/// Attributes of `l` that the anonymous caller may not see.
fn hidden_attrs(l: &LayerConfig) -> Vec<String> {
    l.attributes
        .iter()
        .filter(|a| a.audience.as_ref().is_some_and(|x| *x != Audience::Public))
        .map(|a| a.name.clone())
        .collect()
}

/// Loads the sample catalog once per test binary (loading reprojects every layer).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = sample_data();
        assert!(
            dir.join("catalog.toml").is_file(),
            "no sample data in {}: generate it with `machimap sample` first",
            dir.display()
        );
        // Thousands of requests from one in-process "client": the public rate limit is
        // tested on its own.
        let town = Town::builder().build();
        let config = town.config();
        let reports = town.reports.clone();
        let roles = config
            .layers
            .iter()
            .filter_map(|l| match &l.audience {
                Audience::Roles(r) => Some(r.iter().cloned()),
                _ => None,
            })
            .flatten()
            .collect();
        let staff = View::new(
            town.state.catalog.snapshot(),
            Principal::Staff {
                user: "tester".into(),
                department: "情報政策課".into(),
                roles,
            },
        );
        let mut forbidden: Vec<String> = config
            .layers
            .iter()
            .filter(|l| !is_public(l))
            .map(|l| l.id.clone())
            .collect();
        for l in config.layers.iter().filter(|l| is_public(l)) {
            forbidden.extend(hidden_attrs(l));
        }
        for id in INTERNAL {
            assert!(
                forbidden.iter().any(|f| f == id),
                "catalog.toml must declare the internal layer {id:?} as not public"
            );
        }
        for (_, attr) in HIDDEN {
            assert!(
                forbidden.iter().any(|f| f == attr),
                "catalog.toml must declare the attribute {attr:?} as not public"
            );
        }
        Fixture {
            town,
            staff,
            config,
            reports,
            dir,
            forbidden,
        }
    })
}

fn layer_config(id: &str) -> &'static LayerConfig {
    fixture()
        .config
        .layers
        .iter()
        .find(|l| l.id == id)
        .unwrap_or_else(|| panic!("catalog.toml has no layer {id:?}"))
}

/// The request as text with percent-escapes decoded, to see which names the caller wrote.
/// The path is decoded with `+` as itself, the query's pairs with `+` as a space, each pair
/// written ` name=value` after the path.
fn decoded_request(uri: &str) -> String {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut out = percent_decode(path, false);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push(' ');
        out.push_str(&percent_decode(k, true));
        out.push('=');
        out.push_str(&percent_decode(v, true));
    }
    out
}

/// GETs `uri` (a path with query) from the in-process server. Fails when the body mentions an
/// internal layer or a hidden attribute that the request itself did not name.
async fn get(uri: &str) -> Response {
    let r = fetch(uri).await;
    let asked = decoded_request(uri);
    for name in &fixture().forbidden {
        if !asked.contains(name.as_str()) {
            assert!(
                !r.body.contains(name.as_str()),
                "GET {uri}: an anonymous response mentions the hidden name {name:?}: …{}…",
                excerpt(&r.body, name)
            );
        }
    }
    r
}

/// GETs `uri` without looking at what the body says.
async fn fetch(uri: &str) -> Response {
    fixture().town.get(uri, &[]).await
}

/// `/collections/{layer}/items/{id}` with the id percent-encoded as a path segment.
fn item_uri(layer: &str, id: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/collections/{layer}/items/{}", encoded.replace('+', "%20"))
}

/// The href of the first link with `rel`.
fn link<'a>(doc: &'a Json, rel: &str) -> Option<&'a str> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
}

/// An absolute link as a path for `oneshot`; it must point back at the host we called.
fn strip_host(href: &str) -> String {
    let prefix = format!("http://{HOST}");
    href.strip_prefix(&prefix)
        .filter(|p| p.starts_with('/'))
        .unwrap_or_else(|| panic!("link {href:?} does not point at {prefix}"))
        .to_string()
}

/// A feature id as text: integers without decimals, strings as they are.
fn id_key(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => (f as i64).to_string(),
            _ => n.to_string(),
        },
        other => panic!("feature id must be a string or a number, got {other}"),
    }
}

/// Every page of an items request, following `next` links as given.
struct Walk {
    matched: usize,
    features: Vec<Json>,
    /// `numberReturned` of each page.
    pages: Vec<usize>,
    bodies: Vec<String>,
}

impl Walk {
    fn ids(&self) -> Vec<String> {
        self.features.iter().map(|f| id_key(&f["id"])).collect()
    }
}

/// Walks `first` and its `next` links, checking each page: 200, GeoJSON, `numberReturned`
/// equal to the page's features, one `numberMatched` throughout, no `next` on the last page
/// and as many features in all as `numberMatched` says.
async fn walk(first: &str) -> Walk {
    let mut w = Walk {
        matched: 0,
        features: Vec::new(),
        pages: Vec::new(),
        bodies: Vec::new(),
    };
    let mut uri = first.to_string();
    loop {
        let r = get(&uri).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        assert!(
            r.content_type().starts_with("application/geo+json"),
            "GET {uri}: content type {:?}",
            r.content_type()
        );
        let doc = r.json();
        let matched = doc["numberMatched"]
            .as_u64()
            .unwrap_or_else(|| panic!("GET {uri}: no numberMatched"))
            as usize;
        let returned = doc["numberReturned"]
            .as_u64()
            .unwrap_or_else(|| panic!("GET {uri}: no numberReturned"))
            as usize;
        let features = doc["features"]
            .as_array()
            .unwrap_or_else(|| panic!("GET {uri}: no features array"));
        assert_eq!(
            returned,
            features.len(),
            "GET {uri}: numberReturned differs from the features on the page"
        );
        if w.pages.is_empty() {
            w.matched = matched;
        } else {
            assert_eq!(
                matched, w.matched,
                "GET {uri}: numberMatched changed while paging"
            );
        }
        w.pages.push(returned);
        w.features.extend(features.iter().cloned());
        w.bodies.push(r.body);
        assert!(
            w.pages.len() <= w.matched + 1,
            "walking from {first}: more pages than features, next links never end"
        );
        match link(&doc, "next") {
            Some(href) => {
                assert!(returned > 0, "GET {uri}: empty page with a next link");
                assert!(
                    w.features.len() < w.matched,
                    "GET {uri}: the last page (all {} features seen) has a next link",
                    w.matched
                );
                uri = strip_host(href);
            }
            None => break,
        }
    }
    assert_eq!(
        w.features.len(),
        w.matched,
        "walking next links from {first} gave {} features but numberMatched is {}",
        w.features.len(),
        w.matched
    );
    w
}

// ---------------------------------------------------------------------------------------------
// Independent reference: GDAL reads the files, hand-written geometry decides hits
// ---------------------------------------------------------------------------------------------

/// A closed axis-aligned box; empty when min > max.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bx {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Bx {
    fn around(points: impl IntoIterator<Item = P>) -> Option<Bx> {
        let mut b: Option<Bx> = None;
        for [x, y] in points {
            b = Some(match b {
                None => Bx {
                    x0: x,
                    y0: y,
                    x1: x,
                    y1: y,
                },
                Some(b) => Bx {
                    x0: b.x0.min(x),
                    y0: b.y0.min(y),
                    x1: b.x1.max(x),
                    y1: b.y1.max(y),
                },
            });
        }
        b
    }

    fn union(self, o: Bx) -> Bx {
        Bx {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    /// Grown by `d` on every side (shrunk for negative `d`).
    fn grow(self, d: f64) -> Bx {
        Bx {
            x0: self.x0 - d,
            y0: self.y0 - d,
            x1: self.x1 + d,
            y1: self.y1 + d,
        }
    }

    fn is_empty(&self) -> bool {
        self.x0 > self.x1 || self.y0 > self.y1
    }

    fn contains(&self, p: &P) -> bool {
        p[0] >= self.x0 && p[0] <= self.x1 && p[1] >= self.y0 && p[1] <= self.y1
    }

    fn overlaps(&self, o: &Bx) -> bool {
        self.x0 <= o.x1 && o.x0 <= self.x1 && self.y0 <= o.y1 && o.y0 <= self.y1
    }

    fn corners(&self) -> [P; 4] {
        [
            [self.x0, self.y0],
            [self.x1, self.y0],
            [self.x1, self.y1],
            [self.x0, self.y1],
        ]
    }

    fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    fn param(&self) -> String {
        format!("{},{},{},{}", self.x0, self.y0, self.x1, self.y1)
    }
}

/// Whether segment a–b touches the closed box (Liang–Barsky clipping).
fn segment_hits(a: P, b: P, bx: &Bx) -> bool {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [
        (-dx, a[0] - bx.x0),
        (dx, bx.x1 - a[0]),
        (-dy, a[1] - bx.y0),
        (dy, bx.y1 - a[1]),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                if r > t1 {
                    return false;
                }
                t0 = t0.max(r);
            } else {
                if r < t0 {
                    return false;
                }
                t1 = t1.min(r);
            }
        }
    }
    t0 <= t1
}

fn path_hits(path: &[P], bx: &Bx) -> bool {
    match path {
        [] => false,
        [p] => bx.contains(p),
        _ => path.windows(2).any(|w| segment_hits(w[0], w[1], bx)),
    }
}

/// Box ∩ geometry ≠ ∅: a point in the box, a segment touching it, or the box inside a polygon.
fn geometry_hits(g: &Geometry, bx: &Bx) -> bool {
    if bx.is_empty() {
        return false;
    }
    g.points.iter().any(|p| bx.contains(p))
        || g.lines.iter().any(|l| path_hits(l, bx))
        || g.polygons.iter().any(|rings| {
            rings.iter().any(|r| path_hits(r, bx))
                || bx
                    .corners()
                    .iter()
                    .any(|c| in_rings(*c, rings.iter().map(Vec::as_slice)))
        })
}

/// How a box meets a geometry, to show that the boxes exercise the cases an envelope test or
/// a vertex-only test would get wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Touch {
    /// A vertex lies in the box.
    Vertex,
    /// No vertex in the box, but a segment crosses it.
    EdgeOnly,
    /// The box lies wholly inside a polygon.
    Inside,
    /// The envelopes overlap but the geometry misses the box: must not be served.
    EnvelopeOnly,
}

fn touch(f: &RefFeature, bx: &Bx) -> Option<Touch> {
    let g = &f.geom;
    if !f.env.overlaps(bx) {
        None
    } else if g.coords().any(|p| bx.contains(p)) {
        Some(Touch::Vertex)
    } else if g.paths().any(|l| path_hits(l, bx)) {
        Some(Touch::EdgeOnly)
    } else if g.polygons.iter().any(|rings| {
        bx.corners()
            .iter()
            .any(|c| in_rings(*c, rings.iter().map(Vec::as_slice)))
    }) {
        Some(Touch::Inside)
    } else {
        Some(Touch::EnvelopeOnly)
    }
}

struct RefFeature {
    id: String,
    geom: Geometry,
    env: Bx,
    props: Map<String, Json>,
}

impl RefFeature {
    fn hits(&self, bx: &Bx) -> bool {
        self.env.overlaps(bx) && geometry_hits(&self.geom, bx)
    }
}

struct RefLayer {
    features: Vec<RefFeature>,
    extent: Bx,
}

impl RefLayer {
    fn feature(&self, id: &str) -> Option<&RefFeature> {
        self.features.iter().find(|f| f.id == id)
    }
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {what} ({e}): these tests need GDAL's command-line tools \
             (ogrinfo, ogr2ogr; e.g. apt-get install gdal-bin) as an independent reference"
        )
    });
    assert!(
        out.status.success(),
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The source file of a layer read from a file (editable layers and views have none).
fn source_of(l: &LayerConfig) -> &SourceConfig {
    l.source()
        .unwrap_or_else(|| panic!("layer {} is not read from a file", l.id))
}

fn source_format(l: &LayerConfig) -> SourceFormat {
    source_of(l)
        .format
        .or_else(|| SourceFormat::from_path(&source_of(l).path))
        .unwrap_or_else(|| panic!("layer {}: unknown source format", l.id))
}

/// The text encoding of a CSV as GDAL cannot tell it: the catalog's, else UTF-8 when the bytes
/// are valid UTF-8, else Shift_JIS.
fn csv_encoding(l: &LayerConfig, bytes: &[u8]) -> &'static encoding_rs::Encoding {
    match &source_of(l).encoding {
        Some(label) => encoding_rs::Encoding::for_label(label.as_bytes())
            .unwrap_or_else(|| panic!("layer {}: unknown encoding {label}", l.id)),
        None if std::str::from_utf8(bytes).is_ok() => encoding_rs::UTF_8,
        None => encoding_rs::SHIFT_JIS,
    }
}

/// Reads a layer with `ogr2ogr` into CRS84 GeoJSON: the expected features, in file order.
fn gdal_reference(dir: &Path, l: &LayerConfig) -> RefLayer {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut src = dir.join(&source_of(l).path);
    let out = tmp.path().join("reference.geojson");
    let mut cmd = Command::new("ogr2ogr");
    cmd.args([
        "-f",
        "GeoJSON",
        "-t_srs",
        "OGC:CRS84",
        "-lco",
        "RFC7946=NO",
        "-lco",
        "COORDINATE_PRECISION=9",
    ]);
    let mut s_srs = l.crs.clone();
    match source_format(l) {
        SourceFormat::Csv => {
            let bytes = std::fs::read(&src).expect("read CSV");
            let enc = csv_encoding(l, &bytes);
            if enc != encoding_rs::UTF_8 {
                // GDAL 3.6's CSV driver reads UTF-8 only: hand it the text recoded.
                let (text, _, bad) = enc.decode(&bytes);
                assert!(!bad, "layer {}: CSV is not valid {}", l.id, enc.name());
                let utf8 = tmp.path().join("source.csv");
                std::fs::write(&utf8, text.as_bytes()).expect("write recoded CSV");
                src = utf8;
            }
            let x = source_of(l)
                .x_column
                .as_deref()
                .unwrap_or("経度,lon,longitude");
            let y = source_of(l)
                .y_column
                .as_deref()
                .unwrap_or("緯度,lat,latitude");
            cmd.args(["-oo", &format!("X_POSSIBLE_NAMES={x}")]);
            cmd.args(["-oo", &format!("Y_POSSIBLE_NAMES={y}")]);
            if s_srs.is_none() {
                s_srs = Some("EPSG:6668".into());
            }
        }
        SourceFormat::Shapefile => {
            if let Some(label) = &source_of(l).encoding {
                // iconv's SHIFT_JIS lacks the Windows additions that Japanese files use; the
                // WHATWG "shift_jis" every Rust decoder implements is CP932.
                let enc = match label.to_ascii_lowercase().replace('-', "_").as_str() {
                    "shift_jis" | "sjis" | "cp932" | "windows_31j" | "ms_kanji" | "x_sjis" => {
                        "CP932".to_string()
                    }
                    _ => label.clone(),
                };
                cmd.args(["--config", "SHAPE_ENCODING", &enc]);
            }
        }
        SourceFormat::Geojson | SourceFormat::Flatgeobuf => {}
    }
    if let Some(s) = &s_srs {
        cmd.args(["-s_srs", s]);
    }
    cmd.arg(&out).arg(&src);
    run(&mut cmd, &format!("ogr2ogr on layer {}", l.id));
    let text = std::fs::read_to_string(&out).expect("ogr2ogr output");
    let doc: Json = serde_json::from_str(&text).expect("ogr2ogr wrote JSON");
    let features: Vec<RefFeature> = doc["features"]
        .as_array()
        .expect("features")
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let props = f["properties"].as_object().cloned().unwrap_or_default();
            let id = match &l.id_field {
                Some(field) => id_key(
                    props
                        .get(field)
                        .unwrap_or_else(|| panic!("layer {}: GDAL sees no {field}", l.id)),
                ),
                None => (i + 1).to_string(),
            };
            let geom = nullable_geometry(&f["geometry"]);
            let env = Bx::around(geom.coords().copied()).unwrap_or(Bx {
                x0: 1.0,
                y0: 1.0,
                x1: 0.0,
                y1: 0.0,
            });
            RefFeature {
                id,
                geom,
                env,
                props,
            }
        })
        .collect();
    let extent = features
        .iter()
        .map(|f| f.env)
        .filter(|e| !e.is_empty())
        .reduce(Bx::union)
        .unwrap_or_else(|| panic!("layer {}: GDAL read no geometry", l.id));
    RefLayer { features, extent }
}

/// GDAL's reading of every public layer, computed once.
fn references() -> &'static BTreeMap<String, RefLayer> {
    static R: OnceLock<BTreeMap<String, RefLayer>> = OnceLock::new();
    R.get_or_init(|| build_references(&PUBLIC))
}

/// GDAL's reading of every internal layer, computed once.
fn internal_references() -> &'static BTreeMap<String, RefLayer> {
    static R: OnceLock<BTreeMap<String, RefLayer>> = OnceLock::new();
    R.get_or_init(|| build_references(&INTERNAL))
}

/// GDAL's reading of the given layers, in parallel.
fn build_references(ids: &[&str]) -> BTreeMap<String, RefLayer> {
    {
        let f = fixture();
        std::thread::scope(|s| {
            let handles: Vec<_> = ids
                .iter()
                .map(|id| {
                    let l = layer_config(id);
                    let dir = f.dir.as_path();
                    s.spawn(move || (l.id.clone(), gdal_reference(dir, l)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }
}

fn reference(id: &str) -> &'static RefLayer {
    references()
        .get(id)
        .unwrap_or_else(|| panic!("no reference for {id}"))
}

/// The extent of the whole town: every public layer together.
fn town() -> Bx {
    references()
        .values()
        .map(|r| r.extent)
        .reduce(Bx::union)
        .expect("public layers")
}

/// Which reference features a query can match at all (its attribute filters).
type Keep = dyn Fn(&RefFeature) -> bool;

/// Compares the ids machimap served for box `bx` with the brute force over the features that
/// pass `keep`. A feature within `EPS` of the box edge may go either way; anything else that
/// differs is a failure. Returns how many features were let through that way.
fn check_against_brute_force(
    ctx: &str,
    r: &RefLayer,
    boxes: &[Bx],
    keep: &Keep,
    served: &[String],
) -> usize {
    let served_set: HashSet<&str> = served.iter().map(String::as_str).collect();
    assert_eq!(
        served_set.len(),
        served.len(),
        "{ctx}: a feature is served more than once"
    );
    let mut errors = Vec::new();
    let mut known = HashSet::new();
    let mut tolerated = 0;
    for f in &r.features {
        known.insert(f.id.as_str());
        let got = served_set.contains(f.id.as_str());
        if !keep(f) {
            if got {
                errors.push(format!(
                    "feature {} is served but does not match the filter",
                    f.id
                ));
            }
            continue;
        }
        let want = boxes.iter().any(|b| f.hits(b));
        if want == got {
            continue;
        }
        let robust = if got {
            !boxes.iter().any(|b| f.hits(&b.grow(EPS)))
        } else {
            boxes.iter().any(|b| f.hits(&b.grow(-EPS)))
        };
        if robust {
            errors.push(format!(
                "feature {} {} (envelope {:?})",
                f.id,
                if got {
                    "is served but does not touch the box"
                } else {
                    "touches the box but is missing"
                },
                f.env
            ));
        } else {
            tolerated += 1;
        }
    }
    for id in &served_set {
        if !known.contains(id) {
            errors.push(format!("feature {id} is served but GDAL has no such id"));
        }
    }
    assert!(
        errors.is_empty(),
        "{ctx}: {} wrong feature(s) for {boxes:?}:\n  {}",
        errors.len(),
        errors
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    tolerated
}

/// Ids of the reference features that touch `bx`.
fn brute_force<'a>(r: &'a RefLayer, bx: &Bx) -> Vec<&'a str> {
    r.features
        .iter()
        .filter(|f| f.hits(bx))
        .map(|f| f.id.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. bbox
// ---------------------------------------------------------------------------------------------

/// ~100 boxes per layer, from a few metres to the whole town, placed over the layer extent
/// and around its vertices.
fn random_boxes(r: &RefLayer, town: &Bx, seed: u64) -> Vec<Bx> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut boxes = vec![r.extent, *town];
    let e = r.extent;
    let coords: Vec<&P> = r.features.iter().flat_map(|f| f.geom.coords()).collect();
    // Small boxes on the middle of segments: edges cross them with no vertex inside.
    let segments: Vec<(&P, &P)> = r
        .features
        .iter()
        .flat_map(|f| f.geom.paths())
        .flat_map(|l| l.windows(2).map(|w| (&w[0], &w[1])))
        .collect();
    if !segments.is_empty() {
        for _ in 0..15 {
            let (a, b) = segments[rng.random_range(0..segments.len())];
            let len = (b[0] - a[0]).hypot(b[1] - a[1]);
            let (cx, cy) = ((a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0);
            let half = len * rng.random_range(0.05..0.3);
            boxes.push(Bx {
                x0: cx - half,
                y0: cy - half,
                x1: cx + half,
                y1: cy + half,
            });
        }
    }
    while boxes.len() < 100 {
        let w = town.width() * 10f64.powf(rng.random_range(-4.5..0.0));
        let h = (w * rng.random_range(0.5..2.0)).min(town.height() * 1.2);
        let (cx, cy) = if rng.random_bool(0.6) {
            (
                e.x0 - 0.1 * e.width() + rng.random::<f64>() * 1.2 * e.width(),
                e.y0 - 0.1 * e.height() + rng.random::<f64>() * 1.2 * e.height(),
            )
        } else {
            // Around a vertex, so that edges of the box fall among the features.
            let p = coords[rng.random_range(0..coords.len())];
            (
                p[0] + rng.random_range(-1.0..1.0) * w,
                p[1] + rng.random_range(-1.0..1.0) * h,
            )
        };
        boxes.push(Bx {
            x0: cx - w / 2.0,
            y0: cy - h / 2.0,
            x1: cx + w / 2.0,
            y1: cy + h / 2.0,
        });
    }
    boxes
}

#[tokio::test]
async fn bbox_matches_an_independent_brute_force() {
    let town = town();
    let mut summary = Vec::new();
    for (n, id) in PUBLIC.iter().enumerate() {
        let r = reference(id);
        assert!(!r.features.is_empty(), "GDAL reads no features in {id}");
        let (mut non_empty, mut hits, mut tolerated) = (0, 0, 0);
        let mut tally: BTreeMap<Touch, usize> = BTreeMap::new();
        for bx in &random_boxes(r, &town, 7_000 + n as u64) {
            let uri = items_uri(id, &[("bbox", &bx.param()), ("limit", "10000")]);
            let w = walk(&uri).await;
            let served = w.ids();
            let expected = brute_force(r, bx).len();
            let t = check_against_brute_force(
                &format!("GET {uri}"),
                r,
                std::slice::from_ref(bx),
                &|_| true,
                &served,
            );
            if t == 0 {
                assert_eq!(
                    w.matched, expected,
                    "GET {uri}: numberMatched {} but {expected} features touch the box",
                    w.matched
                );
            } else {
                assert!(
                    w.matched.abs_diff(expected) <= t,
                    "GET {uri}: numberMatched {} but {expected} features touch the box",
                    w.matched
                );
            }
            non_empty += usize::from(expected > 0);
            hits += expected;
            tolerated += t;
            for f in &r.features {
                if let Some(t) = touch(f, bx) {
                    *tally.entry(t).or_insert(0) += 1;
                }
            }
        }
        assert!(
            non_empty >= 30,
            "{id}: only {non_empty} of 100 boxes touch any feature; the test proves too little"
        );
        // The boxes must also hit the hard cases, not only vertices.
        let count = |t: Touch| tally.get(&t).copied().unwrap_or(0);
        let has_lines = r.features.iter().any(|f| !f.geom.lines.is_empty());
        let has_polygons = r.features.iter().any(|f| !f.geom.polygons.is_empty());
        if has_lines || has_polygons {
            assert!(
                count(Touch::EdgeOnly) >= 5 && count(Touch::EnvelopeOnly) >= 5,
                "{id}: too few boxes cross only an edge or meet only an envelope: {tally:?}"
            );
        }
        if has_polygons {
            assert!(
                count(Touch::Inside) >= 5,
                "{id}: too few boxes lie inside a polygon: {tally:?}"
            );
        }

        // The same boxes with heights (6 numbers) select the same features.
        for bx in random_boxes(r, &town, 7_000 + n as u64).iter().step_by(10) {
            let flat = walk(&items_uri(id, &[("bbox", &bx.param()), ("limit", "10000")])).await;
            let six = format!("{},{},-50,{},{},3000", bx.x0, bx.y0, bx.x1, bx.y1);
            let uri = items_uri(id, &[("bbox", &six), ("limit", "10000")]);
            assert_eq!(
                walk(&uri).await.ids(),
                flat.ids(),
                "GET {uri}: heights change the answer"
            );
        }

        // A box whose west edge lies east of its east edge crosses the antimeridian: it
        // covers 179.5°E..180° and -180°..the middle of the town.
        let mid = (r.extent.x0 + r.extent.x1) / 2.0;
        let (y0, y1) = (town.y0 - 0.01, town.y1 + 0.01);
        let parts = [
            Bx {
                x0: 179.5,
                y0,
                x1: 180.0,
                y1,
            },
            Bx {
                x0: -180.0,
                y0,
                x1: mid,
                y1,
            },
        ];
        let across = format!("179.5,{y0},{mid},{y1}");
        let uri = items_uri(id, &[("bbox", &across), ("limit", "10000")]);
        let w = walk(&uri).await;
        check_against_brute_force(&format!("GET {uri}"), r, &parts, &|_| true, &w.ids());
        assert!(
            !w.features.is_empty() && w.features.len() < r.features.len(),
            "GET {uri}: the west half of {id} should match ({} of {})",
            w.features.len(),
            r.features.len()
        );

        summary.push(format!(
            "{id}: {non_empty} non-empty boxes, {hits} hits, {tolerated} within {EPS}° of an edge, {tally:?}"
        ));
    }
    eprintln!("{}", summary.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// 2. counts
// ---------------------------------------------------------------------------------------------

/// The internal layers go through the same query engine; staff see them, so the brute force
/// is checked through a staff `View` rather than over anonymous HTTP.
#[test]
fn internal_layers_answer_bbox_like_the_brute_force() {
    let f = fixture();
    let town = town();
    for (n, id) in INTERNAL.iter().enumerate() {
        let r = &internal_references()[*id];
        assert!(!r.features.is_empty(), "GDAL reads no features in {id}");
        let layer = f
            .staff
            .layer(id)
            .expect("staff with every role see every layer");
        let mut non_empty = 0;
        for bx in &random_boxes(r, &town, 9_000 + n as u64) {
            let pairs = vec![
                ("bbox".to_string(), bx.param()),
                ("limit".to_string(), "10000".to_string()),
            ];
            let q = ItemsQuery::parse(&pairs, &layer, f.staff.server(), Format::Json)
                .expect("a valid query");
            let page = query::execute(&layer, &q);
            let served: Vec<String> = page
                .indices
                .iter()
                .map(|&i| layer.feature_id(i).to_string())
                .collect();
            let ctx = format!("{id} bbox={}", bx.param());
            let t =
                check_against_brute_force(&ctx, r, std::slice::from_ref(bx), &|_| true, &served);
            if t == 0 {
                assert_eq!(
                    page.matched,
                    brute_force(r, bx).len(),
                    "{ctx}: numberMatched"
                );
            }
            non_empty += usize::from(!served.is_empty());
        }
        assert!(non_empty >= 20, "{id}: only {non_empty} boxes hit anything");
    }
}

/// `Feature Count:` of `ogrinfo -ro -so -al`.
fn ogrinfo_count(path: &Path) -> usize {
    let out = run(
        Command::new("ogrinfo")
            .args(["-ro", "-so", "-al"])
            .arg(path),
        &format!("ogrinfo on {}", path.display()),
    );
    let counts: Vec<usize> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Feature Count:"))
        .map(|n| n.trim().parse().expect("a count"))
        .collect();
    assert_eq!(
        counts.len(),
        1,
        "{} should hold exactly one layer:\n{out}",
        path.display()
    );
    counts[0]
}

#[tokio::test]
async fn every_layer_loads_as_many_features_as_gdal_counts() {
    let f = fixture();
    let files: Vec<&LayerConfig> = f
        .config
        .layers
        .iter()
        .filter(|l| l.source().is_some())
        .collect();
    assert_eq!(
        files.len(),
        PUBLIC.len() + INTERNAL.len(),
        "the sample catalog's file layers are exactly the public and internal layers"
    );
    for l in files {
        let gdal = ogrinfo_count(&f.dir.join(&source_of(l).path));
        assert!(gdal > 0, "{}: GDAL counts no features", l.id);
        let reports: Vec<&LayerReport> = f.reports.iter().filter(|r| r.id == l.id).collect();
        assert_eq!(reports.len(), 1, "{}: one load report per layer", l.id);
        assert_eq!(
            reports[0].features,
            gdal,
            "{}: machimap loaded {} features, GDAL counts {gdal} in {}",
            l.id,
            reports[0].features,
            source_of(l).path.display()
        );
        if is_public(l) {
            let doc = get(&items_uri(&l.id, &[("limit", "1")])).await.json();
            assert_eq!(
                doc["numberMatched"].as_u64(),
                Some(gdal as u64),
                "{}: numberMatched without filters must be GDAL's count",
                l.id
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. paging
// ---------------------------------------------------------------------------------------------

/// A box that touches between 1 and 60 features (preferably at least 5), found by shrinking
/// boxes centred on features until few enough touch.
fn small_box(r: &RefLayer, town: &Bx) -> Bx {
    let mut fallback = None;
    for f in r.features.iter().step_by((r.features.len() / 40).max(1)) {
        let [cx, cy] = *f.geom.coords().next().expect("a vertex");
        let mut half = town.width() / 8.0;
        for _ in 0..40 {
            let bx = Bx {
                x0: cx - half,
                y0: cy - half,
                x1: cx + half,
                y1: cy + half,
            };
            let n = brute_force(r, &bx).len();
            if n <= 60 {
                if n >= 5 {
                    return bx;
                }
                fallback.get_or_insert(bx);
                break;
            }
            half /= 2.0;
        }
    }
    fallback.expect("some box touches at most 60 features")
}

#[tokio::test]
async fn paging_is_exact_and_stable() {
    let f = fixture();
    let max = f.config.server.max_limit;
    let town = town();
    for id in PUBLIC {
        let r = reference(id);
        let small = small_box(r, &town);
        let e = r.extent;
        let medium = Bx {
            x0: e.x0 + e.width() / 4.0,
            y0: e.y0 + e.height() / 4.0,
            x1: e.x1 - e.width() / 4.0,
            y1: e.y1 - e.height() / 4.0,
        };
        let all_ids: Vec<String> = r.features.iter().map(|f| f.id.clone()).collect();
        let mut cases: Vec<(Option<Bx>, usize)> = Vec::new();
        for limit in [1, 2, 7, 50, 10_000] {
            cases.push((Some(small), limit));
        }
        for limit in [7, 50, 10_000] {
            cases.push((Some(medium), limit));
            cases.push((None, limit));
        }
        // The first walk per box: every other limit must give the same features in the same order.
        let mut whole: Vec<(Option<Bx>, Vec<String>)> = Vec::new();
        for (bx, limit) in cases {
            let limit_text = limit.to_string();
            let bbox_text = bx.map(|b| b.param());
            let mut params = vec![("limit", limit_text.as_str())];
            if let Some(b) = &bbox_text {
                params.push(("bbox", b.as_str()));
            }
            let uri = items_uri(id, &params);
            let w = walk(&uri).await;
            let ids = w.ids();
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "GET {uri}…: an id appears twice");
            assert!(!ids.is_empty(), "GET {uri}: no features at all");
            let page = limit.min(max);
            let (last, full) = w.pages.split_last().expect("a page");
            assert!(
                full.iter().all(|&n| n == page),
                "GET {uri}…: pages before the last must hold {page} features: {:?}",
                w.pages
            );
            assert!(
                *last >= 1 && *last <= page,
                "GET {uri}…: last page holds {last}: {:?}",
                w.pages
            );
            assert_eq!(
                w.pages.len(),
                ids.len().div_ceil(page),
                "GET {uri}…: page count"
            );
            match bx {
                None => assert_eq!(
                    ids, all_ids,
                    "GET {uri}…: paging through everything must give every feature once, in file order"
                ),
                Some(b) => {
                    check_against_brute_force(&format!("paging {uri}"), r, &[b], &|_| true, &ids);
                    if b == small {
                        assert!(ids.len() <= 60, "small box matched {}", ids.len());
                    }
                    match whole.iter().find(|(wb, _)| *wb == bx) {
                        Some((_, first)) => assert_eq!(
                            &ids, first,
                            "GET {uri}…: paging gives other features or another order than before"
                        ),
                        None => whole.push((bx, ids)),
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. attribute filters
// ---------------------------------------------------------------------------------------------

fn json_number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn json_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[tokio::test]
async fn attribute_filters_match_gdal_attributes() {
    let id = "zoning";
    let r = reference(id);
    let cfg = layer_config(id);
    let kind_of = |name: &str| {
        visible_attrs(cfg)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, k)| k)
            .unwrap_or_else(|| panic!("zoning has no public attribute {name}"))
    };
    assert_eq!(kind_of("用途地域"), AttrType::String);
    assert!(matches!(
        kind_of("建ぺい率"),
        AttrType::Integer | AttrType::Number
    ));
    let by_text = |name: &'static str, value: &'static str| {
        move |f: &RefFeature| f.props.get(name).and_then(json_text).as_deref() == Some(value)
    };
    let by_number = |name: &'static str, value: f64| {
        move |f: &RefFeature| f.props.get(name).and_then(json_number) == Some(value)
    };
    let zone = by_text("用途地域", "第一種住居地域");
    let coverage = by_number("建ぺい率", 60.0);
    let cases: [(&str, &str, &Keep); 2] = [
        ("用途地域", "第一種住居地域", &zone),
        ("建ぺい率", "60", &coverage),
    ];
    for (name, value, keep) in cases {
        let expected: Vec<&str> = r
            .features
            .iter()
            .filter(|f| keep(f))
            .map(|f| f.id.as_str())
            .collect();
        assert!(
            !expected.is_empty(),
            "GDAL finds no zoning feature with {name}={value}"
        );
        assert!(
            expected.len() < r.features.len(),
            "every zoning feature has {name}={value}: the filter proves nothing"
        );
        let uri = items_uri(id, &[(name, value), ("limit", "10000")]);
        let w = walk(&uri).await;
        assert_eq!(
            w.ids(),
            expected,
            "GET {uri}: served ids differ from GDAL's features with {name}={value}"
        );
        for f in &w.features {
            let got = &f["properties"][name];
            let ok = match json_number(got) {
                Some(n) if name == "建ぺい率" => n == 60.0,
                _ => got.as_str() == Some(value),
            };
            assert!(ok, "GET {uri}: feature {} has {name}={got}", f["id"]);
        }
    }

    // Filter and bbox together: a box over the middle of the layer.
    let e = r.extent;
    let bx = Bx {
        x0: e.x0 + e.width() * 0.2,
        y0: e.y0 + e.height() * 0.2,
        x1: e.x1 - e.width() * 0.3,
        y1: e.y1 - e.height() * 0.3,
    };
    let expected = r.features.iter().filter(|f| zone(f) && f.hits(&bx)).count();
    assert!(
        expected > 0,
        "no 第一種住居地域 feature in the test box; choose another box"
    );
    let uri = items_uri(
        id,
        &[
            ("bbox", &bx.param()),
            ("用途地域", "第一種住居地域"),
            ("limit", "10000"),
        ],
    );
    let w = walk(&uri).await;
    check_against_brute_force(&format!("GET {uri}"), r, &[bx], &zone, &w.ids());
    assert!(!w.features.is_empty(), "GET {uri}: nothing served");
}

/// Every public attribute of every public layer works as an equality filter: the value of one
/// feature (as GDAL reads it) selects exactly the features GDAL gives the same value.
#[tokio::test]
async fn every_public_attribute_filters_like_gdal() {
    let mut checked = 0;
    for id in PUBLIC {
        let r = reference(id);
        for (name, kind) in visible_attrs(layer_config(id)) {
            let n = r.features.len();
            let Some(sample) = (0..n)
                .map(|i| &r.features[(i + n / 2) % n])
                .find_map(|f| f.props.get(&name).filter(|v| json_text(v).is_some()))
            else {
                continue;
            };
            let text = match kind {
                AttrType::Date => json_text(sample).expect("text").replace('/', "-"),
                _ => json_text(sample).expect("text"),
            };
            let wanted = Json::String(text.clone());
            let expected: Vec<&str> = r
                .features
                .iter()
                .filter(|f| same_value(kind, &wanted, f.props.get(&name)))
                .map(|f| f.id.as_str())
                .collect();
            assert!(!expected.is_empty(), "{id}: {name}={text} matches nothing");
            let uri = items_uri(id, &[(&name, &text), ("limit", "10000")]);
            let w = walk(&uri).await;
            assert_eq!(
                w.ids(),
                expected,
                "GET {uri}: served ids differ from GDAL's features with {name}={text}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} attributes checked");
}

// ---------------------------------------------------------------------------------------------
// 5. properties=
// ---------------------------------------------------------------------------------------------

/// Whether a served property equals GDAL's reading of the file, for the declared type.
fn same_value(kind: AttrType, served: &Json, gdal: Option<&Json>) -> bool {
    let gdal = gdal.unwrap_or(&Json::Null);
    let gdal_blank = gdal.is_null() || gdal.as_str().is_some_and(|s| s.trim().is_empty());
    if served.is_null() || gdal_blank {
        return served.is_null() && gdal_blank;
    }
    match kind {
        AttrType::String => {
            json_text(gdal).map(|s| s.trim().to_string())
                == served.as_str().map(|s| s.trim().to_string())
        }
        AttrType::Integer | AttrType::Number => match (json_number(served), json_number(gdal)) {
            (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            _ => false,
        },
        AttrType::Boolean => {
            let truth = |v: &Json| match v {
                Json::Bool(b) => Some(*b),
                Json::Number(n) => n.as_i64().map(|i| i != 0),
                Json::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "t" | "yes" | "y" | "○" | "〇" => Some(true),
                    "0" | "false" | "f" | "no" | "n" | "×" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            truth(served).is_some() && truth(served) == truth(gdal)
        }
        AttrType::Date => {
            let digits = |v: &Json| -> Option<String> {
                let s = json_text(v)?;
                let day = s.split(['T', ' ']).next().unwrap_or("").to_string();
                Some(day.chars().filter(char::is_ascii_digit).collect())
            };
            digits(served).is_some_and(|d| d.len() == 8) && digits(served) == digits(gdal)
        }
    }
}

#[tokio::test]
async fn properties_selects_exactly_the_chosen_attributes() {
    for id in PUBLIC {
        let r = reference(id);
        let attrs = visible_attrs(layer_config(id));
        assert!(!attrs.is_empty(), "{id} has no public attributes");
        let mut chosen = vec![attrs[attrs.len() - 1].clone()];
        if attrs.len() > 1 {
            chosen.insert(0, attrs[0].clone());
        }
        let names: Vec<&str> = chosen.iter().map(|(n, _)| n.as_str()).collect();
        let list = names.join(",");
        let uri = items_uri(id, &[("properties", &list), ("limit", "50")]);
        let w = walk(&uri).await;
        assert!(!w.features.is_empty(), "GET {uri}: no features");
        for f in &w.features {
            let props = f["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("GET {uri}: feature without properties"));
            let keys: BTreeSet<&str> = props.keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                names.iter().copied().collect(),
                "GET {uri}: feature {} has other properties",
                f["id"]
            );
            let fid = id_key(&f["id"]);
            let g = r
                .feature(&fid)
                .unwrap_or_else(|| panic!("{id}: GDAL has no feature {fid}"));
            for (name, kind) in &chosen {
                assert!(
                    same_value(*kind, &props[name], g.props.get(name)),
                    "GET {uri}: feature {fid} {name} is {} but the file (per GDAL) says {}",
                    props[name],
                    g.props.get(name).unwrap_or(&Json::Null)
                );
            }
        }
        // Without properties= every public attribute is there, and only those.
        let all = get(&items_uri(id, &[("limit", "3")])).await.json();
        let want: BTreeSet<&str> = attrs.iter().map(|(n, _)| n.as_str()).collect();
        for f in all["features"].as_array().expect("features") {
            let keys: BTreeSet<&str> = f["properties"]
                .as_object()
                .expect("properties")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, want, "{id}: default properties");
        }
        // An unknown name is a 400 naming the parameter.
        let uri = items_uri(
            id,
            &[("properties", &format!("{},存在しない属性", names[0]))],
        );
        let resp = get(&uri).await;
        assert_eq!(
            resp.status,
            StatusCode::BAD_REQUEST,
            "GET {uri}: {}",
            resp.body
        );
        let doc = resp.json();
        assert!(
            doc["description"]
                .as_str()
                .is_some_and(|d| d.contains("properties")),
            "GET {uri}: error must mention properties: {}",
            resp.body
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. bad requests
// ---------------------------------------------------------------------------------------------

/// Asserts a 400 exception document whose description names `param`.
async fn assert_bad_request(uri: &str, param: &str) {
    let r = get(uri).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "GET {uri}: {}", r.body);
    assert!(
        r.content_type().starts_with("application/json"),
        "GET {uri}: error content type {:?}",
        r.content_type()
    );
    let doc = r.json();
    assert!(
        doc["code"].as_str().is_some_and(|c| !c.is_empty()),
        "GET {uri}: error without code: {}",
        r.body
    );
    let description = doc["description"].as_str().unwrap_or("");
    assert!(
        description.contains(param),
        "GET {uri}: error description must name {param}: {}",
        r.body
    );
}

#[tokio::test]
async fn bad_requests_are_400_with_a_reason() {
    let id = "roads";
    let cases: [(&[(&str, &str)], &str); 11] = [
        (&[("foo", "1")], "foo"),
        (
            &[("datetime", "2024-04-02/2024-04-01")],
            "ends before it starts",
        ),
        (
            &[("datetime", "2024-04-01T10:00:00Z/2024-04-01T09:00:00Z")],
            "ends before it starts",
        ),
        (&[("f", "json"), ("f", "html")], "f: given more than once"),
        (&[("limit", "unlimited")], "limit"),
        (&[("limit", "0")], "limit"),
        (&[("limit", "-5")], "limit"),
        (&[("bbox", "1,2,x,4")], "bbox"),
        (&[("bbox", "139,35,140")], "bbox"),
        (&[("offset", "-1")], "offset"),
        (&[("f", "xml")], "f"),
    ];
    for (params, param) in cases {
        assert_bad_request(&items_uri(id, params), param).await;
    }
    assert_bad_request("/collections?foo=1", "foo").await;
    assert_bad_request("/collections?f=json&f=html", "f: given more than once").await;
    assert_bad_request(
        "/collections/roads?f=json&f=json",
        "f: given more than once",
    )
    .await;

    // Too large a limit is not an error: it is clamped to the server maximum.
    let max = fixture().config.server.max_limit;
    let total = reference(id).features.len();
    let uri = items_uri(id, &[("limit", "20000")]);
    let r = get(&uri).await;
    assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
    let doc = r.json();
    assert_eq!(
        doc["numberReturned"].as_u64(),
        Some(total.min(max) as u64),
        "GET {uri}: limit above the maximum must give min(maximum, all) features"
    );
    assert_eq!(doc["numberMatched"].as_u64(), Some(total as u64));
}

// ---------------------------------------------------------------------------------------------
// 7. internal data does not exist for the anonymous caller
// ---------------------------------------------------------------------------------------------

/// A 404 exception document.
async fn not_found_body(uri: &str) -> String {
    let r = get(uri).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {uri}: {}", r.body);
    let doc = r.json();
    assert!(
        doc["code"].is_string() && doc["description"].is_string(),
        "{}",
        r.body
    );
    r.body
}

#[tokio::test]
async fn internal_layers_do_not_exist_for_the_anonymous_caller() {
    let f = fixture();
    // Editable layers and their views are the subject of tests/edits.rs.
    let public: BTreeSet<&str> = f
        .config
        .layers
        .iter()
        .filter(|l| l.source().is_some() && is_public(l))
        .map(|l| l.id.as_str())
        .collect();
    assert_eq!(
        public,
        PUBLIC.into_iter().collect(),
        "catalog.toml: the public layers"
    );

    // Unscanned: the text of this document is the subject of
    // `no_anonymous_document_names_internal_things`.
    let r = fetch("/collections").await;
    assert_eq!(r.status, StatusCode::OK);
    let listed: BTreeSet<String> = r.json()["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect();
    let every_public: BTreeSet<String> = f
        .config
        .layers
        .iter()
        .filter(|l| is_public(l))
        .map(|l| l.id.clone())
        .collect();
    assert_eq!(
        listed, every_public,
        "/collections must list exactly the public layers"
    );
    for hidden in ["damage-reports", "inspections"] {
        assert!(!listed.contains(hidden), "{hidden} is internal");
    }

    let never = "never-existed";
    for id in INTERNAL {
        for suffix in [
            "",
            "/items",
            "/items/1",
            "/queryables",
            "/items?limit=5",
            "?f=html",
        ] {
            let hidden = not_found_body(&format!("/collections/{id}{suffix}")).await;
            let unknown = not_found_body(&format!("/collections/{never}{suffix}")).await;
            assert_eq!(
                hidden.replace(id, never),
                unknown,
                "GET /collections/{id}{suffix} must look exactly like a collection that never existed"
            );
        }
    }
}

#[tokio::test]
async fn hidden_attributes_do_not_exist_for_the_anonymous_caller() {
    let api = get("/api").await;
    assert_eq!(api.status, StatusCode::OK, "/api: {}", api.body);
    for (layer, attr) in HIDDEN {
        assert!(
            api.body.contains(&format!("/collections/{layer}/items")),
            "/api must describe {layer}"
        );
        assert!(!api.body.contains(attr), "/api mentions {attr}");

        let w = walk(&items_uri(layer, &[("limit", "10000")])).await;
        assert!(!w.features.is_empty(), "{layer}: no features");
        for feat in &w.features {
            let props = feat["properties"].as_object().expect("properties");
            assert!(
                !props.is_empty(),
                "{layer}: features must keep public attributes"
            );
            assert!(!props.contains_key(attr), "{layer}: items show {attr}");
        }
        let first = id_key(&w.features[0]["id"]);
        let item = get(&item_uri(layer, &first)).await;
        assert_eq!(item.status, StatusCode::OK, "{}", item.body);
        let item = item.json();
        assert_eq!(id_key(&item["id"]), first);
        assert!(
            item["properties"].get(attr).is_none(),
            "{layer}: item {first} shows {attr}"
        );

        let q = get(&format!("/collections/{layer}/queryables")).await;
        assert_eq!(q.status, StatusCode::OK);
        let q = q.json();
        let queryables = q["properties"].as_object().expect("queryables");
        assert!(!queryables.is_empty(), "{layer}: no queryables at all");
        assert!(
            !queryables.contains_key(attr),
            "{layer}: queryables list {attr}"
        );

        // Used anyway, the hidden name is exactly as unknown as one that never existed.
        let fake = "存在しない属性";
        for (hidden, unknown) in [
            (
                items_uri(layer, &[(attr, "1")]),
                items_uri(layer, &[(fake, "1")]),
            ),
            (
                items_uri(layer, &[("properties", attr)]),
                items_uri(layer, &[("properties", fake)]),
            ),
            (
                items_uri(layer, &[("sortby", &format!("-{attr}"))]),
                items_uri(layer, &[("sortby", &format!("-{fake}"))]),
            ),
            (
                items_uri(layer, &[("filter", &format!("\"{attr}\" IS NULL"))]),
                items_uri(layer, &[("filter", &format!("\"{fake}\" IS NULL"))]),
            ),
            (
                items_uri(
                    layer,
                    &[
                        (
                            "filter",
                            &format!(r#"{{"op":"=","args":[{{"property":"{attr}"}},1]}}"#),
                        ),
                        ("filter-lang", "cql2-json"),
                    ],
                ),
                items_uri(
                    layer,
                    &[
                        (
                            "filter",
                            &format!(r#"{{"op":"=","args":[{{"property":"{fake}"}},1]}}"#),
                        ),
                        ("filter-lang", "cql2-json"),
                    ],
                ),
            ),
        ] {
            let h = get(&hidden).await;
            let u = get(&unknown).await;
            assert_eq!(
                h.status,
                StatusCode::BAD_REQUEST,
                "GET {hidden}: {}",
                h.body
            );
            assert_eq!(
                u.status,
                StatusCode::BAD_REQUEST,
                "GET {unknown}: {}",
                u.body
            );
            assert_eq!(
                h.body.replace(attr, fake),
                u.body,
                "GET {hidden} must fail exactly like an unknown name"
            );
        }
    }
}

/// Orders two served property values as a reader of a sorted table expects: nulls last in
/// either direction, numbers by value, booleans false first, text (and ISO dates) by code point.
fn sort_order(a: &Json, b: &Json, descending: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ord = match (a, b) {
        (Json::Null, Json::Null) => return Ordering::Equal,
        (Json::Null, _) => return Ordering::Greater,
        (_, Json::Null) => return Ordering::Less,
        (Json::Number(x), Json::Number(y)) => x
            .as_f64()
            .expect("finite")
            .total_cmp(&y.as_f64().expect("finite")),
        (Json::Bool(x), Json::Bool(y)) => x.cmp(y),
        (Json::String(x), Json::String(y)) => x.cmp(y),
        (x, y) => panic!("one attribute holds values of two types: {x} and {y}"),
    };
    if descending { ord.reverse() } else { ord }
}

/// `sortby` on every visible attribute, both directions, and on two keys, with and without a
/// bbox: walking small pages gives exactly the unsorted answer sorted here (stably, so equal
/// keys keep layer order), with no feature twice or missing.
#[tokio::test]
async fn sortby_pages_equal_a_brute_force_sort() {
    let town = town();
    for id in PUBLIC {
        let attrs = visible_attrs(layer_config(id));
        let mut specs: Vec<Vec<(String, bool)>> = attrs
            .iter()
            .flat_map(|(n, _)| [vec![(n.clone(), false)], vec![(n.clone(), true)]])
            .collect();
        if attrs.len() >= 2 {
            specs.push(vec![
                (attrs[1].0.clone(), true),
                (attrs[0].0.clone(), false),
            ]);
        }
        let small = small_box(reference(id), &town);
        for bbox in [None, Some(small.param())] {
            let mut base: Vec<(&str, &str)> = vec![("limit", "10000")];
            if let Some(b) = &bbox {
                base.push(("bbox", b));
            }
            let unsorted = walk(&items_uri(id, &base)).await;
            for spec in &specs {
                let param: Vec<String> = spec
                    .iter()
                    .map(|(n, d)| format!("{}{n}", if *d { '-' } else { '+' }))
                    .collect();
                let param = param.join(",");
                let mut expected = unsorted.features.clone();
                expected.sort_by(|a, b| {
                    spec.iter()
                        .map(|(n, d)| sort_order(&a["properties"][n], &b["properties"][n], *d))
                        .find(|o| o.is_ne())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                let expected: Vec<String> = expected.iter().map(|f| id_key(&f["id"])).collect();
                let mut params = vec![("limit", "7"), ("sortby", param.as_str())];
                if let Some(b) = &bbox {
                    params.push(("bbox", b));
                }
                let sorted = walk(&items_uri(id, &params)).await;
                assert_eq!(
                    sorted.ids(),
                    expected,
                    "{id}: sortby={param} bbox={bbox:?} in pages of 7"
                );
            }
        }
    }
}

/// Every metadata document an anonymous caller can reach, in JSON and HTML, is free of the
/// internal layer ids and hidden attribute names (the scan in `get` fails on any of them).
#[tokio::test]
async fn no_anonymous_document_names_internal_things() {
    let mut uris: Vec<String> = ["/", "/conformance", "/api", "/collections"]
        .iter()
        .map(ToString::to_string)
        .collect();
    for id in PUBLIC {
        uris.push(format!("/collections/{id}"));
        uris.push(format!("/collections/{id}/queryables"));
        uris.push(items_uri(id, &[("limit", "10000")]));
    }
    let html: Vec<String> = uris
        .iter()
        .filter(|u| *u != "/api")
        .map(|u| format!("{u}{}f=html", if u.contains('?') { '&' } else { '?' }))
        .collect();
    uris.extend(html);
    let mut leaks = Vec::new();
    for uri in &uris {
        let r = fetch(uri).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        for name in &fixture().forbidden {
            if r.body.contains(name.as_str()) {
                leaks.push(format!(
                    "GET {uri} mentions {name:?}: …{}…",
                    excerpt(&r.body, name)
                ));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} anonymous document(s) name internal layers or hidden attributes:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 8. GeoJSON shape
// ---------------------------------------------------------------------------------------------

/// The most decimals of any number inside a `"coordinates"` array of `body`, and how many
/// numbers there were.
fn coordinate_decimals(body: &str) -> (usize, usize) {
    let key = "\"coordinates\":";
    let (mut most, mut numbers) = (0, 0);
    let mut rest = body;
    while let Some(at) = rest.find(key) {
        let after = &rest[at + key.len()..];
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        for token in after[..end].split(['[', ']', ',']) {
            let t = token.trim();
            if t.is_empty() {
                continue;
            }
            numbers += 1;
            assert!(
                !t.contains(['e', 'E']),
                "coordinate {t} is written with an exponent"
            );
            if let Some((_, frac)) = t.split_once('.') {
                most = most.max(frac.len());
            }
        }
        rest = &after[end..];
    }
    (most, numbers)
}

/// Coordinates within `EPS` of each other.
fn near(a: &P, b: &P) -> bool {
    (a[0] - b[0]).abs() <= EPS && (a[1] - b[1]).abs() <= EPS
}

fn same_path(a: &[P], b: &[P]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(p, q)| near(p, q))
}

/// Closed rings equal up to where they start and which way they run.
fn same_ring(a: &[P], b: &[P]) -> bool {
    if a.len() != b.len() || a.len() < 2 {
        return same_path(a, b);
    }
    let (a, b) = (&a[..a.len() - 1], &b[..b.len() - 1]);
    let n = a.len();
    (0..n).filter(|&k| near(&a[0], &b[k])).any(|k| {
        (0..n).all(|i| near(&a[i], &b[(k + i) % n]))
            || (0..n).all(|i| near(&a[i], &b[(k + n - i) % n]))
    })
}

/// The same geometry within `EPS`, ring orientation aside.
fn same_geometry(a: &Geometry, b: &Geometry) -> bool {
    same_path(&a.points, &b.points)
        && a.lines.len() == b.lines.len()
        && a.lines.iter().zip(&b.lines).all(|(x, y)| same_path(x, y))
        && a.polygons.len() == b.polygons.len()
        && a.polygons
            .iter()
            .zip(&b.polygons)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(r, s)| same_ring(r, s)))
}

/// Twice the signed area of a ring (positive when counterclockwise).
fn signed_area(ring: &[P]) -> f64 {
    ring.windows(2)
        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
        .sum()
}

#[tokio::test]
async fn items_are_well_formed_geojson() {
    let (mut exteriors, mut holes, mut ref_holes, mut most_decimals) = (0, 0, 0, 0);
    for id in PUBLIC {
        // A first page as a client gets it.
        let uri = format!("/collections/{id}/items");
        let r = get(&uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.content_type(), "application/geo+json", "GET {uri}");
        let doc = r.json();
        assert_eq!(doc["type"], "FeatureCollection");
        assert!(
            doc["timeStamp"]
                .as_str()
                .is_some_and(|t| t.len() >= 20 && t.contains('T')),
            "GET {uri}: timeStamp {}",
            doc["timeStamp"]
        );
        let matched = doc["numberMatched"].as_u64().expect("numberMatched");
        let returned = doc["numberReturned"].as_u64().expect("numberReturned");
        assert!(returned > 0);
        for rel in ["self", "alternate", "collection"] {
            assert!(link(&doc, rel).is_some(), "GET {uri}: no {rel} link");
        }
        assert_eq!(
            link(&doc, "next").is_some(),
            matched > returned,
            "GET {uri}: a next link exactly when there are more features"
        );
        assert_eq!(
            strip_host(link(&doc, "collection").expect("collection")),
            format!("/collections/{id}")
        );
        let self_doc = get(&strip_host(link(&doc, "self").expect("self"))).await;
        assert_eq!(self_doc.status, StatusCode::OK, "self link must work");

        // Every feature of the layer.
        let w = walk(&items_uri(id, &[("limit", "10000")])).await;
        for body in &w.bodies {
            let (most, numbers) = coordinate_decimals(body);
            assert!(numbers > 0, "{id}: no coordinates found");
            assert!(most <= 7, "{id}: a coordinate has {most} decimals");
            most_decimals = most_decimals.max(most);
        }
        for f in &w.features {
            assert_eq!(f["type"], "Feature", "{id}: {f}");
            assert!(
                f["id"].is_string() || f["id"].is_number(),
                "{id}: feature id {}",
                f["id"]
            );
            assert!(f["properties"].is_object(), "{id}: properties");
            assert!(f["geometry"]["type"].is_string(), "{id}: geometry");
            let g = geometry(&f["geometry"]);
            let fid = id_key(&f["id"]);
            let gdal = reference(id)
                .feature(&fid)
                .unwrap_or_else(|| panic!("{id}: GDAL has no feature {fid}"));
            assert!(
                same_geometry(&g, &gdal.geom),
                "{id}: feature {fid} is served as {}\nbut GDAL reprojects the file to {:?}",
                f["geometry"],
                gdal.geom
            );
            for (n, rings) in g.polygons.iter().enumerate() {
                for (k, ring) in rings.iter().enumerate() {
                    let a = signed_area(ring);
                    if k == 0 {
                        exteriors += 1;
                        assert!(
                            a > 0.0,
                            "{id}: feature {} polygon {n}: exterior ring is clockwise",
                            f["id"]
                        );
                    } else {
                        holes += 1;
                        assert!(
                            a < 0.0,
                            "{id}: feature {} polygon {n}: hole {k} is counterclockwise",
                            f["id"]
                        );
                    }
                }
            }
        }
        ref_holes += reference(id)
            .features
            .iter()
            .flat_map(|f| &f.geom.polygons)
            .map(|p| p.len() - 1)
            .sum::<usize>();

        // One feature by id.
        let first = id_key(&w.features[0]["id"]);
        let uri = item_uri(id, &first);
        let r = get(&uri).await;
        assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.body);
        assert_eq!(r.content_type(), "application/geo+json", "GET {uri}");
        let item = r.json();
        assert_eq!(item["type"], "Feature");
        assert_eq!(id_key(&item["id"]), first);
        assert_eq!(item["geometry"], w.features[0]["geometry"]);
        for rel in ["self", "collection"] {
            assert!(link(&item, rel).is_some(), "GET {uri}: no {rel} link");
        }
    }
    assert!(exteriors > 0, "no polygons checked");
    assert!(
        most_decimals >= 5,
        "coordinates scanned show at most {most_decimals} decimals: the scan found no real coordinates"
    );
    assert_eq!(holes, ref_holes, "served holes differ from the file's");
    eprintln!("checked {exteriors} exterior rings and {holes} holes");
}
