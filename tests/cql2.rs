//! CQL2 filters (OGC API – Features Part 3) on the sample town, against a brute force: random
//! expressions over each public layer's attributes and geometry are sent in both encodings
//! (cql2-text and cql2-json) and must select exactly the features this file's own evaluator
//! selects from the unfiltered answer.
//!
//! The evaluator follows the standard's three-valued logic: a comparison involving a null is
//! unknown, AND/OR/NOT combine unknowns as SQL does, and only TRUE selects a feature.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value as Json, json};

mod common;
use common::brute::{box_meets, in_rings};
use common::geojson::{Geometry, feature_ids, geometry, id_text};
use common::{items_uri, sample};

const LAYERS: [&str; 6] = sample::PUBLIC_LAYERS;
const EXPRESSIONS_PER_LAYER: usize = 80;

// ---------------------------------------------------------------------------------------------
// The reference data: each layer's unfiltered answer and its queryables
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Text,
    Number,
    Bool,
    Date,
}

struct Feature {
    id: String,
    props: serde_json::Map<String, Json>,
    /// The geometry (lon, lat).
    geometry: Geometry,
}

struct Layer {
    id: &'static str,
    attrs: Vec<(String, Kind)>,
    features: Vec<Feature>,
    extent: [f64; 4],
}

async fn load(id: &'static str) -> Layer {
    let q = sample::get_json(&format!("/collections/{id}/queryables")).await;
    let attrs = q["properties"]
        .as_object()
        .expect("queryables")
        .iter()
        .filter(|(name, _)| *name != "geometry")
        .map(|(name, p)| {
            let kind = match (p["type"].as_str(), p["format"].as_str()) {
                (Some("string"), Some("date")) => Kind::Date,
                (Some("string"), _) => Kind::Text,
                (Some("integer" | "number"), _) => Kind::Number,
                (Some("boolean"), _) => Kind::Bool,
                other => panic!("{id}.{name}: queryable type {other:?}"),
            };
            (name.clone(), kind)
        })
        .collect();
    let doc = sample::get_json(&items_uri(id, &[("limit", "10000")])).await;
    assert_eq!(
        doc["numberMatched"], doc["numberReturned"],
        "{id}: one page"
    );
    let features: Vec<Feature> = doc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| Feature {
            id: id_text(&f["id"]),
            props: f["properties"].as_object().expect("properties").clone(),
            geometry: geometry(&f["geometry"]),
        })
        .collect();
    assert!(!features.is_empty(), "{id}: no features");
    let mut extent = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for p in features.iter().flat_map(|f| f.geometry.coords()) {
        extent = [
            extent[0].min(p[0]),
            extent[1].min(p[1]),
            extent[2].max(p[0]),
            extent[3].max(p[1]),
        ];
    }
    Layer {
        id,
        attrs,
        features,
        extent,
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions, written in both encodings
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Lit {
    Num(f64),
    Text(String),
    Bool(bool),
    Date(String),
}

#[derive(Clone, Debug)]
enum Operand {
    Prop(String),
    Lit(Lit),
    /// `(prop op number)` with op one of + - *.
    Arith(String, char, f64),
    CaseI(Box<Operand>),
}

#[derive(Clone, Copy, Debug)]
enum Spatial {
    Intersects,
    Disjoint,
    Within,
    Contains,
}

#[derive(Clone, Debug)]
enum Shape {
    Bbox([f64; 4]),
    /// The same box written as a polygon.
    BoxPolygon([f64; 4]),
    Point([f64; 2]),
}

#[derive(Clone, Copy, Debug)]
enum Temporal {
    Before,
    After,
    Equals,
    Intersects,
    Disjoint,
}

#[derive(Clone, Debug)]
enum TLit {
    Instant(String),
    /// Start and end dates, `None` for an open end.
    Interval(Option<String>, Option<String>),
}

#[derive(Clone, Debug)]
enum Expr {
    Cmp(Operand, &'static str, Operand),
    Like(String, String),
    In(String, Vec<Lit>),
    Between(String, Lit, Lit),
    IsNull(String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Spatial(Spatial, Shape),
    Temporal(Temporal, String, TLit),
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn num_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn lit_text(l: &Lit) -> String {
    match l {
        Lit::Num(x) => num_text(*x),
        Lit::Text(s) => quote(s),
        Lit::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Lit::Date(d) => format!("DATE({})", quote(d)),
    }
}

fn lit_json(l: &Lit) -> Json {
    match l {
        Lit::Num(x) if x.fract() == 0.0 && x.abs() < 1e15 => json!(*x as i64),
        Lit::Num(x) => json!(x),
        Lit::Text(s) => json!(s),
        Lit::Bool(b) => json!(b),
        Lit::Date(d) => json!({ "date": d }),
    }
}

/// Property names quoted or bare, both valid CQL2 identifiers for these Japanese names.
fn prop_text(name: &str, quoted: bool) -> String {
    if quoted {
        format!("\"{name}\"")
    } else {
        name.to_string()
    }
}

fn operand_text(o: &Operand, q: bool) -> String {
    match o {
        Operand::Prop(p) => prop_text(p, q),
        Operand::Lit(l) => lit_text(l),
        Operand::Arith(p, op, n) => format!("({} {op} {})", prop_text(p, q), num_text(*n)),
        Operand::CaseI(inner) => format!("CASEI({})", operand_text(inner, q)),
    }
}

fn operand_json(o: &Operand) -> Json {
    match o {
        Operand::Prop(p) => json!({ "property": p }),
        Operand::Lit(l) => lit_json(l),
        Operand::Arith(p, op, n) => {
            json!({ "op": op.to_string(), "args": [{ "property": p }, lit_json(&Lit::Num(*n))] })
        }
        Operand::CaseI(inner) => json!({ "op": "casei", "args": [operand_json(inner)] }),
    }
}

fn shape_text(s: &Shape) -> String {
    match s {
        Shape::Bbox(b) => format!("BBOX({},{},{},{})", b[0], b[1], b[2], b[3]),
        Shape::BoxPolygon(b) => format!(
            "POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))",
            x0 = b[0],
            y0 = b[1],
            x1 = b[2],
            y1 = b[3]
        ),
        Shape::Point(p) => format!("POINT({} {})", p[0], p[1]),
    }
}

fn shape_json(s: &Shape) -> Json {
    match s {
        Shape::Bbox(b) => json!({ "bbox": b }),
        Shape::BoxPolygon(b) => json!({ "type": "Polygon", "coordinates": [[
            [b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]], [b[0], b[1]]
        ]] }),
        Shape::Point(p) => json!({ "type": "Point", "coordinates": p }),
    }
}

fn spatial_name(s: Spatial) -> &'static str {
    match s {
        Spatial::Intersects => "s_intersects",
        Spatial::Disjoint => "s_disjoint",
        Spatial::Within => "s_within",
        Spatial::Contains => "s_contains",
    }
}

fn temporal_name(t: Temporal) -> &'static str {
    match t {
        Temporal::Before => "t_before",
        Temporal::After => "t_after",
        Temporal::Equals => "t_equals",
        Temporal::Intersects => "t_intersects",
        Temporal::Disjoint => "t_disjoint",
    }
}

fn tlit_text(t: &TLit) -> String {
    match t {
        TLit::Instant(d) => format!("DATE({})", quote(d)),
        TLit::Interval(a, b) => format!(
            "INTERVAL({}, {})",
            quote(a.as_deref().unwrap_or("..")),
            quote(b.as_deref().unwrap_or(".."))
        ),
    }
}

fn tlit_json(t: &TLit) -> Json {
    match t {
        TLit::Instant(d) => json!({ "date": d }),
        TLit::Interval(a, b) => json!({ "interval": [
            a.as_deref().map_or(json!(".."), |d| json!({ "date": d })),
            b.as_deref().map_or(json!(".."), |d| json!({ "date": d })),
        ] }),
    }
}

fn text(e: &Expr, rng: &mut StdRng) -> String {
    let q = rng.random_bool(0.5);
    match e {
        Expr::Cmp(a, op, b) => format!("{} {op} {}", operand_text(a, q), operand_text(b, q)),
        Expr::Like(p, pat) => format!("{} LIKE {}", prop_text(p, q), quote(pat)),
        Expr::In(p, list) => {
            let items: Vec<String> = list.iter().map(lit_text).collect();
            format!("{} IN ({})", prop_text(p, q), items.join(", "))
        }
        Expr::Between(p, lo, hi) => format!(
            "{} BETWEEN {} AND {}",
            prop_text(p, q),
            lit_text(lo),
            lit_text(hi)
        ),
        Expr::IsNull(p) => format!("{} IS NULL", prop_text(p, q)),
        Expr::And(list) | Expr::Or(list) => {
            let word = if matches!(e, Expr::And(_)) {
                " AND "
            } else {
                " or "
            };
            let parts: Vec<String> = list.iter().map(|x| format!("({})", text(x, rng))).collect();
            parts.join(word)
        }
        Expr::Not(x) => format!("NOT ({})", text(x, rng)),
        Expr::Spatial(s, shape) => format!(
            "{}(geometry, {})",
            spatial_name(*s).to_uppercase(),
            shape_text(shape)
        ),
        Expr::Temporal(t, p, lit) => format!(
            "{}({}, {})",
            temporal_name(*t).to_uppercase(),
            prop_text(p, q),
            tlit_text(lit)
        ),
    }
}

fn to_json(e: &Expr) -> Json {
    match e {
        Expr::Cmp(a, op, b) => json!({ "op": op, "args": [operand_json(a), operand_json(b)] }),
        Expr::Like(p, pat) => json!({ "op": "like", "args": [{ "property": p }, pat] }),
        Expr::In(p, list) => json!({ "op": "in", "args": [
            { "property": p },
            list.iter().map(lit_json).collect::<Vec<_>>()
        ] }),
        Expr::Between(p, lo, hi) => json!({ "op": "between", "args": [
            { "property": p }, lit_json(lo), lit_json(hi)
        ] }),
        Expr::IsNull(p) => json!({ "op": "isNull", "args": [{ "property": p }] }),
        Expr::And(list) => {
            json!({ "op": "and", "args": list.iter().map(to_json).collect::<Vec<_>>() })
        }
        Expr::Or(list) => {
            json!({ "op": "or", "args": list.iter().map(to_json).collect::<Vec<_>>() })
        }
        Expr::Not(x) => json!({ "op": "not", "args": [to_json(x)] }),
        Expr::Spatial(s, shape) => json!({ "op": spatial_name(*s), "args": [
            { "property": "geometry" }, shape_json(shape)
        ] }),
        Expr::Temporal(t, p, lit) => json!({ "op": temporal_name(*t), "args": [
            { "property": p }, tlit_json(lit)
        ] }),
    }
}

// ---------------------------------------------------------------------------------------------
// The brute-force evaluator
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, PartialOrd)]
enum V {
    Num(f64),
    Text(String),
    Bool(bool),
}

fn lit_value(l: &Lit) -> V {
    match l {
        Lit::Num(x) => V::Num(*x),
        Lit::Text(s) | Lit::Date(s) => V::Text(s.clone()),
        Lit::Bool(b) => V::Bool(*b),
    }
}

fn prop_value(f: &Feature, name: &str) -> Option<V> {
    match f.props.get(name)? {
        Json::Null => None,
        Json::Number(n) => Some(V::Num(n.as_f64().expect("finite"))),
        Json::String(s) => Some(V::Text(s.clone())),
        Json::Bool(b) => Some(V::Bool(*b)),
        other => panic!("{name}: unexpected value {other}"),
    }
}

fn operand_value(f: &Feature, o: &Operand) -> Option<V> {
    match o {
        Operand::Prop(p) => prop_value(f, p),
        Operand::Lit(l) => Some(lit_value(l)),
        Operand::Arith(p, op, n) => match prop_value(f, p)? {
            V::Num(x) => Some(V::Num(match op {
                '+' => x + n,
                '-' => x - n,
                _ => x * n,
            })),
            other => panic!("arithmetic on {other:?}"),
        },
        Operand::CaseI(inner) => match operand_value(f, inner)? {
            V::Text(s) => Some(V::Text(s.to_lowercase())),
            other => Some(other),
        },
    }
}

fn like(value: &[char], pattern: &[char]) -> bool {
    match pattern.split_first() {
        None => value.is_empty(),
        Some(('%', rest)) => (0..=value.len()).any(|k| like(&value[k..], rest)),
        Some(('_', rest)) => !value.is_empty() && like(&value[1..], rest),
        Some((c, rest)) => value.first() == Some(c) && like(&value[1..], rest),
    }
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn strictly_inside(p: [f64; 2], b: &[f64; 4]) -> bool {
    p[0] > b[0] && p[0] < b[2] && p[1] > b[1] && p[1] < b[3]
}

/// Even-odd over every ring of the geometry: exact for the sample's polygons, which have no
/// overlapping parts.
fn in_polygons(p: [f64; 2], f: &Feature) -> bool {
    in_rings(p, f.geometry.rings().map(Vec::as_slice))
}

fn box_hits(f: &Feature, b: &[f64; 4]) -> bool {
    box_meets(&f.geometry, b)
}

fn spatial(f: &Feature, s: Spatial, shape: &Shape) -> bool {
    match (s, shape) {
        (Spatial::Intersects, Shape::Bbox(b) | Shape::BoxPolygon(b)) => box_hits(f, b),
        (Spatial::Disjoint, Shape::Bbox(b) | Shape::BoxPolygon(b)) => !box_hits(f, b),
        // Every vertex strictly inside a convex box puts the whole geometry in its interior.
        (Spatial::Within, Shape::Bbox(b) | Shape::BoxPolygon(b)) => {
            f.geometry.coords().all(|c| strictly_inside(*c, b))
        }
        // A random point lies on no line or point of the sample, only inside polygons.
        (Spatial::Contains, Shape::Point(p)) => in_polygons(*p, f),
        (s, shape) => panic!("not generated: {s:?} {shape:?}"),
    }
}

fn temporal(d: &str, t: Temporal, lit: &TLit) -> bool {
    let (start, end) = match lit {
        TLit::Instant(x) => (Some(x.as_str()), Some(x.as_str())),
        TLit::Interval(a, b) => (a.as_deref(), b.as_deref()),
    };
    let after_start = start.is_none_or(|s| d >= s);
    let before_end = end.is_none_or(|e| d <= e);
    match t {
        Temporal::Before => start.is_some_and(|s| d < s),
        Temporal::After => end.is_some_and(|e| d > e),
        Temporal::Equals => start == Some(d) && end == Some(d),
        Temporal::Intersects => after_start && before_end,
        Temporal::Disjoint => !(after_start && before_end),
    }
}

// `fold`, not `try_fold`: an unknown (None) must not stop AND/OR, since unknown AND false is false.
#[allow(clippy::manual_try_fold)]
fn eval(f: &Feature, e: &Expr) -> Option<bool> {
    match e {
        Expr::Cmp(a, op, b) => {
            let (x, y) = (operand_value(f, a)?, operand_value(f, b)?);
            let ord = x.partial_cmp(&y).expect("comparable");
            Some(match *op {
                "=" => ord.is_eq(),
                "<>" => ord.is_ne(),
                "<" => ord.is_lt(),
                "<=" => ord.is_le(),
                ">" => ord.is_gt(),
                ">=" => ord.is_ge(),
                other => panic!("operator {other}"),
            })
        }
        Expr::Like(p, pat) => match prop_value(f, p)? {
            V::Text(s) => Some(like(
                &s.chars().collect::<Vec<_>>(),
                &pat.chars().collect::<Vec<_>>(),
            )),
            other => panic!("LIKE on {other:?}"),
        },
        Expr::In(p, list) => {
            let v = prop_value(f, p)?;
            Some(list.iter().any(|l| lit_value(l) == v))
        }
        Expr::Between(p, lo, hi) => {
            let v = prop_value(f, p)?;
            Some(lit_value(lo) <= v && v <= lit_value(hi))
        }
        Expr::IsNull(p) => Some(prop_value(f, p).is_none()),
        Expr::And(list) => list.iter().fold(Some(true), |acc, x| and3(acc, eval(f, x))),
        Expr::Or(list) => list.iter().fold(Some(false), |acc, x| or3(acc, eval(f, x))),
        Expr::Not(x) => eval(f, x).map(|b| !b),
        Expr::Spatial(s, shape) => Some(spatial(f, *s, shape)),
        Expr::Temporal(t, p, lit) => match prop_value(f, p)? {
            V::Text(d) => Some(temporal(&d, *t, lit)),
            other => panic!("temporal on {other:?}"),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

fn values(layer: &Layer, name: &str) -> Vec<V> {
    layer
        .features
        .iter()
        .filter_map(|f| prop_value(f, name))
        .collect()
}

fn as_lit(v: &V, kind: Kind) -> Lit {
    match (v, kind) {
        (V::Num(x), _) => Lit::Num(*x),
        (V::Text(s), Kind::Date) => Lit::Date(s.clone()),
        (V::Text(s), _) => Lit::Text(s.clone()),
        (V::Bool(b), _) => Lit::Bool(*b),
    }
}

/// A literal of `kind`: usually a value the layer holds (so equality matters), sometimes
/// another one.
fn literal(layer: &Layer, name: &str, kind: Kind, rng: &mut StdRng) -> Lit {
    let vals = values(layer, name);
    if let Some(v) = vals.choose(rng)
        && rng.random_bool(0.75)
    {
        return as_lit(v, kind);
    }
    match kind {
        Kind::Number => {
            let nums: Vec<f64> = vals
                .iter()
                .filter_map(|v| match v {
                    V::Num(x) => Some(*x),
                    _ => None,
                })
                .collect();
            let lo = nums.iter().copied().fold(0.0, f64::min);
            let hi = nums.iter().copied().fold(1.0, f64::max);
            Lit::Num((rng.random_range(lo..=hi) * 10.0).round() / 10.0)
        }
        Kind::Text => Lit::Text(
            ["緑", "第一種住居地域", "x", ""]
                .choose(rng)
                .expect("some")
                .to_string(),
        ),
        Kind::Bool => Lit::Bool(rng.random_bool(0.5)),
        Kind::Date => Lit::Date(format!(
            "{}-{:02}-{:02}",
            rng.random_range(1970..2030),
            rng.random_range(1..=12),
            rng.random_range(1..=28)
        )),
    }
}

fn random_date(layer: &Layer, name: &str, rng: &mut StdRng) -> String {
    match literal(layer, name, Kind::Date, rng) {
        Lit::Date(d) => d,
        other => panic!("date literal {other:?}"),
    }
}

fn random_box(layer: &Layer, rng: &mut StdRng) -> [f64; 4] {
    let [x0, y0, x1, y1] = layer.extent;
    let (w, h) = (x1 - x0, y1 - y0);
    let cx = rng.random_range(x0..=x1);
    let cy = rng.random_range(y0..=y1);
    let hw = w * rng.random_range(0.02..0.4);
    let hh = h * rng.random_range(0.02..0.4);
    // Rounded like a person would type them; 7 decimals keep them off the data's vertices.
    let r = |v: f64| (v * 1e7).round() / 1e7 + 3e-8;
    [r(cx - hw), r(cy - hh), r(cx + hw), r(cy + hh)]
}

fn predicate(layer: &Layer, rng: &mut StdRng) -> Expr {
    let (name, kind) = layer.attrs.choose(rng).expect("attributes").clone();
    let prop = || Operand::Prop(name.clone());
    match rng.random_range(0..10) {
        0..=2 => {
            let ops: &[&'static str] = if kind == Kind::Bool {
                &["=", "<>"]
            } else {
                &["=", "<>", "<", "<=", ">", ">="]
            };
            let op = *ops.choose(rng).expect("op");
            let lit = Operand::Lit(literal(layer, &name, kind, rng));
            if kind == Kind::Number && rng.random_bool(0.3) {
                let arith = Operand::Arith(
                    name.clone(),
                    *['+', '-', '*'].choose(rng).expect("op"),
                    rng.random_range(1..4) as f64,
                );
                Expr::Cmp(arith, op, lit)
            } else if kind == Kind::Text && rng.random_bool(0.2) {
                Expr::Cmp(
                    Operand::CaseI(Box::new(prop())),
                    op,
                    Operand::CaseI(Box::new(lit)),
                )
            } else if rng.random_bool(0.2) {
                // Literal first: the comparison reads the other way round.
                Expr::Cmp(lit, op, prop())
            } else {
                Expr::Cmp(prop(), op, lit)
            }
        }
        3 if kind == Kind::Text => {
            let Lit::Text(v) = literal(layer, &name, kind, rng) else {
                unreachable!("text literal")
            };
            let chars: Vec<char> = v.chars().collect();
            let pat = match rng.random_range(0..4) {
                0 if !chars.is_empty() => {
                    format!(
                        "{}%",
                        chars[..rng.random_range(1..=chars.len())]
                            .iter()
                            .collect::<String>()
                    )
                }
                1 if chars.len() > 2 => {
                    let a = rng.random_range(0..chars.len() - 1);
                    format!("%{}%", chars[a..a + 2].iter().collect::<String>())
                }
                2 if !chars.is_empty() => {
                    let mut c = chars.clone();
                    let k = rng.random_range(0..c.len());
                    c[k] = '_';
                    c.iter().collect()
                }
                _ => "%".into(),
            };
            Expr::Like(name, pat)
        }
        4 => {
            let n = rng.random_range(1..4);
            let list = (0..n).map(|_| literal(layer, &name, kind, rng)).collect();
            Expr::In(name, list)
        }
        5 if matches!(kind, Kind::Number | Kind::Date | Kind::Text) => {
            let a = literal(layer, &name, kind, rng);
            let b = literal(layer, &name, kind, rng);
            let (lo, hi) = if lit_value(&a) <= lit_value(&b) {
                (a, b)
            } else {
                (b, a)
            };
            Expr::Between(name, lo, hi)
        }
        6 => Expr::IsNull(name),
        7 if kind == Kind::Date => {
            let t = *[
                Temporal::Before,
                Temporal::After,
                Temporal::Equals,
                Temporal::Intersects,
                Temporal::Disjoint,
            ]
            .choose(rng)
            .expect("op");
            let lit = if rng.random_bool(0.5) {
                TLit::Instant(random_date(layer, &name, rng))
            } else {
                let a = random_date(layer, &name, rng);
                let b = random_date(layer, &name, rng);
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                match rng.random_range(0..4) {
                    0 => TLit::Interval(None, Some(b)),
                    1 => TLit::Interval(Some(a), None),
                    _ => TLit::Interval(Some(a), Some(b)),
                }
            };
            Expr::Temporal(t, name, lit)
        }
        _ => {
            let b = random_box(layer, rng);
            match rng.random_range(0..6) {
                0 => Expr::Spatial(Spatial::Intersects, Shape::Bbox(b)),
                1 => Expr::Spatial(Spatial::Intersects, Shape::BoxPolygon(b)),
                2 => Expr::Spatial(Spatial::Disjoint, Shape::Bbox(b)),
                3 => Expr::Spatial(Spatial::Within, Shape::BoxPolygon(b)),
                4 => Expr::Spatial(Spatial::Within, Shape::Bbox(b)),
                _ => Expr::Spatial(Spatial::Contains, Shape::Point([b[0], b[1]])),
            }
        }
    }
}

fn expression(layer: &Layer, depth: u32, rng: &mut StdRng) -> Expr {
    if depth == 0 || rng.random_bool(0.4) {
        return predicate(layer, rng);
    }
    match rng.random_range(0..5) {
        0 => Expr::Not(Box::new(expression(layer, depth - 1, rng))),
        1 | 2 => Expr::And(
            (0..rng.random_range(2..4))
                .map(|_| expression(layer, depth - 1, rng))
                .collect(),
        ),
        _ => Expr::Or(
            (0..rng.random_range(2..4))
                .map(|_| expression(layer, depth - 1, rng))
                .collect(),
        ),
    }
}

async fn served_ids(layer: &str, filter: &str, lang: &str) -> Vec<String> {
    let uri = items_uri(
        layer,
        &[
            ("filter", filter),
            ("filter-lang", lang),
            ("limit", "10000"),
        ],
    );
    let (status, _, body) = sample::get(&uri).await.into_parts();
    assert_eq!(
        status,
        StatusCode::OK,
        "{layer}: filter-lang={lang} filter={filter}\n{body}"
    );
    let doc: Json = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["numberMatched"], doc["numberReturned"], "one page");
    feature_ids(&doc)
}

/// Random expressions in both encodings select exactly what the brute force selects, in layer
/// order; enough of them select some but not all features for the comparison to mean something.
#[tokio::test]
async fn random_filters_equal_a_brute_force_evaluation() {
    let mut rng = StdRng::seed_from_u64(20261121);
    let mut partial = 0;
    let mut total = 0;
    for id in LAYERS {
        let layer = load(id).await;
        for _ in 0..EXPRESSIONS_PER_LAYER {
            let e = expression(&layer, 3, &mut rng);
            let expected: Vec<String> = layer
                .features
                .iter()
                .filter(|f| eval(f, &e) == Some(true))
                .map(|f| f.id.clone())
                .collect();
            let t = text(&e, &mut rng);
            let j = to_json(&e).to_string();
            for (lang, filter) in [("cql2-text", &t), ("cql2-json", &j)] {
                let got = served_ids(layer.id, filter, lang).await;
                if got != expected {
                    let mut msg = String::new();
                    let _ = writeln!(msg, "{}: filter-lang={lang}\n  {filter}", layer.id);
                    let only: BTreeMap<&str, Vec<&String>> = [
                        (
                            "served only",
                            got.iter().filter(|x| !expected.contains(x)).collect(),
                        ),
                        (
                            "expected only",
                            expected.iter().filter(|x| !got.contains(x)).collect(),
                        ),
                    ]
                    .into_iter()
                    .collect();
                    panic!("{msg}  {only:?}");
                }
            }
            total += 1;
            if !expected.is_empty() && expected.len() < layer.features.len() {
                partial += 1;
            }
        }
    }
    assert!(
        partial * 3 >= total,
        "only {partial} of {total} expressions select some but not all features"
    );
}

/// Malformed filters are a 400 that names `filter` and says where and what was expected.
#[tokio::test]
async fn filter_errors_say_where_and_what_was_expected() {
    for (filter, lang, wanted) in [
        ("\"建ぺい率\" >= ", "cql2-text", "character"),
        ("\"建ぺい率\" FOO 60", "cql2-text", "character 8"),
        ("\"用途地域\" = 60", "cql2-text", "用途地域"),
        (
            "S_INTERSECTS(geometry, POLYGON((139 36, 140 36)))",
            "cql2-text",
            "character",
        ),
        (
            r#"{"op":"=","args":[{"property":"建ぺい率"}]}"#,
            "cql2-json",
            "/args",
        ),
        (
            r#"{"op":"=","args":[{"property":"建ぺい率"},"#,
            "cql2-json",
            "line 1",
        ),
    ] {
        let uri = items_uri("zoning", &[("filter", filter), ("filter-lang", lang)]);
        let (status, _, body) = sample::get(&uri).await.into_parts();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}: {body}");
        let doc: Json = serde_json::from_str(&body).expect("JSON error");
        let text = doc["description"].as_str().expect("description");
        assert!(
            text.starts_with("filter: ") && text.contains(wanted),
            "{filter}: the message must name filter and say {wanted:?}: {text}"
        );
    }
    for (k, v) in [("filter-lang", "ecql"), ("filter-crs", "EPSG:2451")] {
        let uri = items_uri("zoning", &[("filter", "\"建ぺい率\" > 50"), (k, v)]);
        let (status, _, body) = sample::get(&uri).await.into_parts();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{k}={v}: {body}");
        assert!(body.contains(&format!("{k}: ")), "{k}={v}: {body}");
    }
}
