//! Binding: resolves property names through a `LayerView`, checks operand types and compiles
//! an [`Expr`] into the tree that `eval` walks per feature. Literals are prepared here once:
//! strings normalized, LIKE patterns compiled, geometries reprojected with their envelopes.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use geo::{BoundingRect, Geometry, MultiPolygon, Rect};

use super::Cql2Error;
use super::ast::{ArithOp, CmpOp, Expr, Number, SpatialOp, TemporalOp};
use super::eval;
use super::string_match::{Fold, LikePattern, normalize_owned};
use super::text::parse_date;
use crate::access::{LayerView, VisibleAttr};
use crate::model::AttrType;

/// The reserved property name of a feature's geometry.
pub const GEOMETRY_PROPERTY: &str = "geometry";

/// TRUE, FALSE or unknown (`None`).
pub(super) type Truth = Option<bool>;

/// A compiled condition.
#[derive(Debug, Clone)]
pub(super) enum Pred {
    Const(Truth),
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Num(CmpOp, NumExpr, NumExpr),
    Str(CmpOp, StrOperand, StrOperand),
    Bool(CmpOp, BoolOperand, BoolOperand),
    Time(CmpOp, TimeOperand, TimeOperand),
    Like(StrOperand, LikePattern),
    IsNull(NullTest),
    Spatial(SpatialOp, GeomOperand, GeomOperand),
    Temporal(TemporalOp, Span, Span),
}

#[derive(Debug, Clone)]
pub(super) enum NumExpr {
    Attr(VisibleAttr),
    Lit(Number),
    Arith(ArithOp, Box<NumExpr>, Box<NumExpr>),
}

#[derive(Debug, Clone)]
pub(super) enum StrOperand {
    Attr(VisibleAttr, Fold),
    /// Already normalized under its folds.
    Lit(Box<str>),
}

#[derive(Debug, Clone)]
pub(super) enum BoolOperand {
    Attr(VisibleAttr),
    Lit(bool),
}

/// An instant as microseconds since 1970-01-01T00:00:00Z; a date is its day's 00:00:00Z.
#[derive(Debug, Clone)]
pub(super) enum TimeOperand {
    Attr(VisibleAttr),
    Lit(i64),
}

#[derive(Debug, Clone)]
pub(super) enum GeomOperand {
    /// The feature's own geometry.
    Feature,
    Lit(Box<LitGeometry>),
}

/// A literal geometry in CRS84 with its envelope, and the envelopes of its members (one per
/// member of a multi-geometry or collection) for a tighter preselection.
#[derive(Debug, Clone)]
pub(super) struct LitGeometry {
    pub geometry: Geometry<f64>,
    pub rect: Option<Rect<f64>>,
    pub member_rects: Vec<Rect<f64>>,
}

/// A temporal operand: an interval, or an instant as a zero-length one. `'..'` ends are
/// `i64::MIN` / `i64::MAX`.
#[derive(Debug, Clone)]
pub(super) struct Span {
    pub start: TimeOperand,
    pub end: TimeOperand,
}

#[derive(Debug, Clone)]
pub(super) enum NullTest {
    Attr(VisibleAttr),
    Num(NumExpr),
    Cond(Box<Pred>),
    /// Literals and the feature geometry are never null.
    Never,
}

/// A CQL2 filter bound to one layer view: typed, with literals prepared, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Filter {
    pub(super) root: Pred,
    attrs: Vec<VisibleAttr>,
}

impl Filter {
    /// Resolves property names through the view only (`layer.attribute(name)`), so a hidden
    /// attribute gives exactly the same error as one that never existed. The property
    /// `geometry` (reserved name) is the feature geometry. Spatial literals are passed through
    /// `to_crs84` (the caller handles filter-crs and axis order); literals are in CRS84
    /// lon/lat when the caller passes identity.
    pub fn bind(
        expr: &Expr,
        layer: &LayerView,
        to_crs84: &dyn Fn(Geometry<f64>) -> Result<Geometry<f64>, String>,
    ) -> Result<Filter, Cql2Error> {
        let mut b = Binder {
            layer,
            to_crs84,
            attrs: Vec::new(),
        };
        let root = b.condition(expr)?;
        Ok(Filter {
            root,
            attrs: b.attrs,
        })
    }

    /// Whether feature `i` of `layer` (the same view the filter was bound against) is
    /// selected. Three-valued logic as in SQL and the standard: a comparison, LIKE, IN,
    /// BETWEEN, arithmetic or temporal function reading a null value is unknown; `NOT unknown`
    /// is unknown; `unknown AND FALSE` is FALSE, `unknown OR TRUE` is TRUE, other mixes with
    /// unknown are unknown; `IS NULL` is never unknown. The feature is selected only when the
    /// whole filter is TRUE (FALSE and unknown both reject it).
    pub fn matches(&self, layer: &LayerView, i: usize) -> bool {
        eval::condition(&self.root, layer, i) == Some(true)
    }

    /// Every attribute the filter reads, in order of first use (for the audit log).
    pub fn attrs(&self) -> Vec<VisibleAttr> {
        self.attrs.clone()
    }

    /// R-tree preselection: `Some(rects)` when every feature the filter can select has a
    /// geometry intersecting one of `rects`; `None` when the filter puts no such bound on
    /// geometry. Conservative: a feature outside every rect never matches.
    pub fn envelope(&self) -> Option<Vec<Rect<f64>>> {
        eval::envelope(&self.root, false)
    }
}

/// What an operand turned out to be.
enum Operand {
    Num(NumExpr),
    Str(StrSource),
    Bool(BoolOperand),
    Time(TimeOperand, &'static str),
    Interval(Span),
    Geom(GeomOperand),
    Cond(Pred),
}

/// A string operand before its literal is normalized: folds may still be added by an
/// enclosing CASEI/ACCENTI, and a plain literal may still be read as a date.
enum StrSource {
    Attr(VisibleAttr, Fold),
    Lit(String, Fold),
}

impl StrSource {
    fn into_operand(self) -> StrOperand {
        match self {
            StrSource::Attr(a, f) => StrOperand::Attr(a, f),
            StrSource::Lit(s, f) => StrOperand::Lit(normalize_owned(&s, f).into()),
        }
    }
}

/// An operand with how to name it in messages.
struct Typed {
    op: Operand,
    /// The property name or the literal as written.
    desc: String,
    /// `string`, `integer`, `number`, `boolean`, `date`, `timestamp`, `interval`, `geometry`
    /// or `condition`.
    kind: &'static str,
}

struct Binder<'a> {
    layer: &'a LayerView,
    to_crs84: &'a dyn Fn(Geometry<f64>) -> Result<Geometry<f64>, String>,
    attrs: Vec<VisibleAttr>,
}

pub(super) fn date_micros(d: NaiveDate) -> i64 {
    d.and_time(NaiveTime::MIN).and_utc().timestamp_micros()
}

fn timestamp_micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn describe(e: &Expr) -> String {
    match e {
        Expr::Property(name) => name.clone(),
        other => other.short(48),
    }
}

fn attr_kind_name(kind: AttrType) -> &'static str {
    match kind {
        AttrType::String => "string",
        AttrType::Integer => "integer",
        AttrType::Number => "number",
        AttrType::Boolean => "boolean",
        AttrType::Date => "date",
    }
}

impl Binder<'_> {
    fn use_attr(&mut self, a: VisibleAttr) {
        if !self.attrs.contains(&a) {
            self.attrs.push(a);
        }
    }

    /// An expression that must be a condition.
    fn condition(&mut self, e: &Expr) -> Result<Pred, Cql2Error> {
        let t = self.operand(e)?;
        match t.op {
            Operand::Cond(p) => Ok(p),
            Operand::Bool(BoolOperand::Lit(b)) => Ok(Pred::Const(Some(b))),
            _ => Err(Cql2Error::new(format!(
                "expected a condition, found {} ({}){}",
                t.desc,
                t.kind,
                if t.kind == "boolean" {
                    format!("; compare it, e.g. {} = TRUE", t.desc)
                } else {
                    String::new()
                }
            ))),
        }
    }

    fn operand(&mut self, e: &Expr) -> Result<Typed, Cql2Error> {
        let desc = describe(e);
        let typed = |op: Operand, kind: &'static str| Typed {
            op,
            desc: desc.clone(),
            kind,
        };
        Ok(match e {
            Expr::And(items) | Expr::Or(items) => {
                let preds = items
                    .iter()
                    .map(|x| self.condition(x))
                    .collect::<Result<Vec<_>, _>>()?;
                let p = if matches!(e, Expr::And(_)) {
                    Pred::And(preds)
                } else {
                    Pred::Or(preds)
                };
                typed(Operand::Cond(p), "condition")
            }
            Expr::Not(x) => typed(
                Operand::Cond(Pred::Not(Box::new(self.condition(x)?))),
                "condition",
            ),
            Expr::Compare(op, a, b) => typed(Operand::Cond(self.compare(*op, a, b)?), "condition"),
            Expr::Like(v, p) => typed(Operand::Cond(self.like(v, p)?), "condition"),
            Expr::Between(v, lo, hi) => {
                let p = Pred::And(vec![
                    self.compare(CmpOp::Ge, v, lo)?,
                    self.compare(CmpOp::Le, v, hi)?,
                ]);
                typed(Operand::Cond(p), "condition")
            }
            Expr::In(v, list) => {
                let p = Pred::Or(
                    list.iter()
                        .map(|x| self.compare(CmpOp::Eq, v, x))
                        .collect::<Result<Vec<_>, _>>()?,
                );
                typed(Operand::Cond(p), "condition")
            }
            Expr::IsNull(x) => typed(Operand::Cond(self.is_null(x)?), "condition"),
            Expr::Spatial(op, a, b) => typed(Operand::Cond(self.spatial(*op, a, b)?), "condition"),
            Expr::Temporal(op, a, b) => {
                typed(Operand::Cond(self.temporal(*op, a, b)?), "condition")
            }
            Expr::ArrayPredicate(op, _, _) => {
                return Err(Cql2Error::new(format!(
                    "array functions ({}) are not supported by this server",
                    op.keyword()
                )));
            }
            Expr::Function(name, _) => {
                return Err(Cql2Error::new(format!(
                    "unknown function \"{name}\": this server offers no custom functions"
                )));
            }
            Expr::Arith(op, a, b) => {
                let x = self.number(a, *op)?;
                let y = self.number(b, *op)?;
                typed(
                    Operand::Num(NumExpr::Arith(*op, Box::new(x), Box::new(y))),
                    "number",
                )
            }
            Expr::CaseI(x) | Expr::AccentI(x) => {
                let inner = self.operand(x)?;
                let Operand::Str(src) = inner.op else {
                    let f = if matches!(e, Expr::CaseI(_)) {
                        "CASEI"
                    } else {
                        "ACCENTI"
                    };
                    return Err(Cql2Error::new(format!(
                        "{f} applies to strings; {} is {}",
                        inner.desc,
                        article(inner.kind)
                    )));
                };
                let add = |mut f: Fold| {
                    if matches!(e, Expr::CaseI(_)) {
                        f.casei = true;
                    } else {
                        f.accenti = true;
                    }
                    f
                };
                let src = match src {
                    StrSource::Attr(a, f) => StrSource::Attr(a, add(f)),
                    StrSource::Lit(s, f) => StrSource::Lit(s, add(f)),
                };
                typed(Operand::Str(src), "string")
            }
            Expr::Property(name) => return self.property(name),
            Expr::Str(s) => typed(
                Operand::Str(StrSource::Lit(s.clone(), Fold::default())),
                "string",
            ),
            Expr::Number(n) => typed(Operand::Num(NumExpr::Lit(*n)), "number"),
            Expr::Bool(b) => typed(Operand::Bool(BoolOperand::Lit(*b)), "boolean"),
            Expr::Date(d) => typed(
                Operand::Time(TimeOperand::Lit(date_micros(*d)), "date"),
                "date",
            ),
            Expr::Timestamp(t) => typed(
                Operand::Time(TimeOperand::Lit(timestamp_micros(t)), "timestamp"),
                "timestamp",
            ),
            Expr::Interval(a, b) => {
                let start = self.interval_end(a, i64::MIN)?;
                let end = self.interval_end(b, i64::MAX)?;
                if let (TimeOperand::Lit(s), TimeOperand::Lit(t)) = (&start, &end)
                    && s > t
                {
                    return Err(Cql2Error::new(format!(
                        "interval {desc} starts after it ends"
                    )));
                }
                typed(Operand::Interval(Span { start, end }), "interval")
            }
            Expr::Unbounded => {
                return Err(Cql2Error::new("'..' may only be used as an interval end"));
            }
            Expr::Geometry(g) => {
                let lit = self.literal_geometry(g.clone(), &desc)?;
                typed(Operand::Geom(GeomOperand::Lit(Box::new(lit))), "geometry")
            }
            Expr::Bbox(n) => {
                let g = bbox_geometry(n)?;
                let lit = self.literal_geometry(g, &desc)?;
                typed(Operand::Geom(GeomOperand::Lit(Box::new(lit))), "geometry")
            }
            Expr::Array(_) => {
                return Err(Cql2Error::new(format!(
                    "arrays such as {desc} are only used by array functions, which this server does not support"
                )));
            }
        })
    }

    fn property(&mut self, name: &str) -> Result<Typed, Cql2Error> {
        if name == GEOMETRY_PROPERTY {
            return Ok(Typed {
                op: Operand::Geom(GeomOperand::Feature),
                desc: name.to_string(),
                kind: "geometry",
            });
        }
        let Some((attr, schema)) = self.layer.attribute(name) else {
            return Err(Cql2Error::new(format!("unknown property \"{name}\"")));
        };
        let kind = schema.kind;
        self.use_attr(attr);
        let op = match kind {
            AttrType::String => Operand::Str(StrSource::Attr(attr, Fold::default())),
            AttrType::Integer | AttrType::Number => Operand::Num(NumExpr::Attr(attr)),
            AttrType::Boolean => Operand::Bool(BoolOperand::Attr(attr)),
            AttrType::Date => Operand::Time(TimeOperand::Attr(attr), "date"),
        };
        Ok(Typed {
            op,
            desc: name.to_string(),
            kind: attr_kind_name(kind),
        })
    }

    fn number(&mut self, e: &Expr, op: ArithOp) -> Result<NumExpr, Cql2Error> {
        let t = self.operand(e)?;
        match t.op {
            Operand::Num(n) => Ok(n),
            _ => Err(Cql2Error::new(format!(
                "arithmetic ({}) needs numbers; {} is {}",
                op.symbol(),
                t.desc,
                article(t.kind)
            ))),
        }
    }

    fn compare(&mut self, op: CmpOp, a: &Expr, b: &Expr) -> Result<Pred, Cql2Error> {
        let x = self.operand(a)?;
        let y = self.operand(b)?;
        let mismatch = |x: &Typed, y: &Typed| {
            let hint = match (x.kind, y.kind) {
                ("date", "string") | ("string", "date") => "; write dates as DATE('YYYY-MM-DD')",
                ("interval", _) | (_, "interval") => {
                    "; intervals can only be used in temporal functions (T_…)"
                }
                ("geometry", _) | (_, "geometry") => {
                    "; geometries can only be used in spatial functions (S_…)"
                }
                _ => "",
            };
            Cql2Error::new(format!(
                "cannot compare {} ({}) with {} ({}){hint}",
                x.desc, x.kind, y.desc, y.kind
            ))
        };
        Ok(match (x.op, y.op) {
            (Operand::Num(p), Operand::Num(q)) => Pred::Num(op, p, q),
            (Operand::Str(p), Operand::Str(q)) => Pred::Str(op, p.into_operand(), q.into_operand()),
            (Operand::Bool(p), Operand::Bool(q)) => Pred::Bool(op, p, q),
            (Operand::Time(p, _), Operand::Time(q, _)) => Pred::Time(op, p, q),
            // The documented leniency: a plain 'YYYY-MM-DD' literal against a date.
            (Operand::Time(p, _), Operand::Str(StrSource::Lit(s, f)))
                if f == Fold::default() && parse_date(&s).is_some() =>
            {
                Pred::Time(op, p, TimeOperand::Lit(date_micros(lenient_date(&s)?)))
            }
            (Operand::Str(StrSource::Lit(s, f)), Operand::Time(q, _))
                if f == Fold::default() && parse_date(&s).is_some() =>
            {
                Pred::Time(op, TimeOperand::Lit(date_micros(lenient_date(&s)?)), q)
            }
            (xo, yo) => {
                let x = Typed { op: xo, ..x };
                let y = Typed { op: yo, ..y };
                return Err(mismatch(&x, &y));
            }
        })
    }

    fn like(&mut self, value: &Expr, pattern: &Expr) -> Result<Pred, Cql2Error> {
        let v = self.operand(value)?;
        let Operand::Str(src) = v.op else {
            return Err(Cql2Error::new(format!(
                "LIKE compares strings; {} is {}",
                v.desc,
                article(v.kind)
            )));
        };
        let p = self.operand(pattern)?;
        let (text, fold) = match p.op {
            Operand::Str(StrSource::Lit(s, f)) => (s, f),
            _ => {
                return Err(Cql2Error::new(format!(
                    "the LIKE pattern must be a character literal (optionally in CASEI or ACCENTI), found {}",
                    p.desc
                )));
            }
        };
        let compiled = LikePattern::compile(&text, fold).map_err(Cql2Error::new)?;
        Ok(match src {
            StrSource::Lit(s, f) => Pred::Const(Some(compiled.matches(&s, f))),
            StrSource::Attr(a, f) => Pred::Like(StrOperand::Attr(a, f), compiled),
        })
    }

    fn is_null(&mut self, e: &Expr) -> Result<Pred, Cql2Error> {
        let t = self.operand(e)?;
        let test = match t.op {
            Operand::Num(NumExpr::Attr(a))
            | Operand::Str(StrSource::Attr(a, _))
            | Operand::Bool(BoolOperand::Attr(a))
            | Operand::Time(TimeOperand::Attr(a), _) => NullTest::Attr(a),
            Operand::Num(n @ NumExpr::Arith(..)) => NullTest::Num(n),
            Operand::Cond(p) => NullTest::Cond(Box::new(p)),
            Operand::Interval(_) => {
                return Err(Cql2Error::new(format!(
                    "IS NULL does not apply to the interval {}; test its ends",
                    t.desc
                )));
            }
            Operand::Num(NumExpr::Lit(_))
            | Operand::Str(StrSource::Lit(..))
            | Operand::Bool(BoolOperand::Lit(_))
            | Operand::Time(TimeOperand::Lit(_), _)
            | Operand::Geom(_) => NullTest::Never,
        };
        Ok(Pred::IsNull(test))
    }

    fn geometry_operand(&mut self, op: SpatialOp, e: &Expr) -> Result<GeomOperand, Cql2Error> {
        let t = self.operand(e)?;
        match t.op {
            Operand::Geom(g) => Ok(g),
            _ => Err(Cql2Error::new(format!(
                "{} compares geometries (the property \"{GEOMETRY_PROPERTY}\" or a geometry literal); {} is {}",
                op.keyword(),
                t.desc,
                article(t.kind)
            ))),
        }
    }

    fn spatial(&mut self, op: SpatialOp, a: &Expr, b: &Expr) -> Result<Pred, Cql2Error> {
        let x = self.geometry_operand(op, a)?;
        let y = self.geometry_operand(op, b)?;
        if let (GeomOperand::Lit(p), GeomOperand::Lit(q)) = (&x, &y) {
            // Two literals: the answer does not depend on the feature.
            return Ok(Pred::Const(eval::spatial(
                op,
                &p.geometry,
                p.rect,
                &q.geometry,
                q.rect,
            )));
        }
        Ok(Pred::Spatial(op, x, y))
    }

    fn literal_geometry(&self, g: Geometry<f64>, desc: &str) -> Result<LitGeometry, Cql2Error> {
        let geometry = (self.to_crs84)(g)
            .map_err(|e| Cql2Error::new(format!("geometry literal {desc}: {e}")))?;
        if has_non_finite(&geometry) {
            return Err(Cql2Error::new(format!(
                "geometry literal {desc} has coordinates that cannot be transformed"
            )));
        }
        let rect = geometry.bounding_rect();
        let member_rects = member_rects(&geometry);
        Ok(LitGeometry {
            geometry,
            rect,
            member_rects,
        })
    }

    fn temporal_operand(&mut self, op: TemporalOp, e: &Expr) -> Result<Span, Cql2Error> {
        let t = self.operand(e)?;
        match t.op {
            Operand::Interval(s) => Ok(s),
            Operand::Time(instant, what) => {
                if !op.accepts_instants() {
                    return Err(Cql2Error::new(format!(
                        "{} compares intervals and {} is an instant ({what}); use an interval \
                         such as INTERVAL({}, {}), or one of T_AFTER, T_BEFORE, T_DISJOINT, \
                         T_EQUALS, T_INTERSECTS",
                        op.keyword(),
                        t.desc,
                        t.desc,
                        t.desc
                    )));
                }
                Ok(Span {
                    start: instant.clone(),
                    end: instant,
                })
            }
            _ => Err(Cql2Error::new(format!(
                "{} compares dates, timestamps and intervals; {} is {}",
                op.keyword(),
                t.desc,
                article(t.kind)
            ))),
        }
    }

    fn temporal(&mut self, op: TemporalOp, a: &Expr, b: &Expr) -> Result<Pred, Cql2Error> {
        let x = self.temporal_operand(op, a)?;
        let y = self.temporal_operand(op, b)?;
        Ok(Pred::Temporal(op, x, y))
    }

    /// One end of INTERVAL(…): an instant literal, '..' (`open`), or a date property.
    fn interval_end(&mut self, e: &Expr, open: i64) -> Result<TimeOperand, Cql2Error> {
        if matches!(e, Expr::Unbounded) {
            return Ok(TimeOperand::Lit(open));
        }
        let t = self.operand(e)?;
        match t.op {
            Operand::Time(x, _) => Ok(x),
            _ => Err(Cql2Error::new(format!(
                "an interval end must be a date, a timestamp, '..' or a date property; {} is {}",
                t.desc,
                article(t.kind)
            ))),
        }
    }
}

fn lenient_date(s: &str) -> Result<NaiveDate, Cql2Error> {
    parse_date(s).ok_or_else(|| Cql2Error::new(format!("{s:?} is not a date YYYY-MM-DD")))
}

/// "a string", "an integer", …
fn article(kind: &str) -> String {
    let vowel = kind.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {kind}", if vowel { "an" } else { "a" })
}

/// The polygon of BBOX(…): 4 numbers west, south, east, north, or 6 with heights (dropped).
/// A west edge east of the east edge crosses the antimeridian, as in the `bbox` parameter.
fn bbox_geometry(n: &[f64]) -> Result<Geometry<f64>, Cql2Error> {
    let (w, s, e, north) = match n {
        [w, s, e, n] => (*w, *s, *e, *n),
        [w, s, _, e, n, _] => (*w, *s, *e, *n),
        _ => {
            return Err(Cql2Error::new(format!(
                "BBOX needs 4 or 6 numbers, found {}",
                n.len()
            )));
        }
    };
    if s > north {
        return Err(Cql2Error::new(format!(
            "BBOX south edge {s} is north of its north edge {north}"
        )));
    }
    if w <= e {
        Ok(Geometry::Polygon(
            Rect::new((w, s), (e, north)).to_polygon(),
        ))
    } else {
        Ok(Geometry::MultiPolygon(MultiPolygon(vec![
            Rect::new((w, s), (180.0, north)).to_polygon(),
            Rect::new((-180.0, s), (e, north)).to_polygon(),
        ])))
    }
}

fn member_rects(g: &Geometry<f64>) -> Vec<Rect<f64>> {
    match g {
        Geometry::MultiPoint(m) => {
            m.0.iter()
                .filter_map(|p| p.bounding_rect().into())
                .collect()
        }
        Geometry::MultiLineString(m) => {
            m.0.iter().filter_map(BoundingRect::bounding_rect).collect()
        }
        Geometry::MultiPolygon(m) => m.0.iter().filter_map(BoundingRect::bounding_rect).collect(),
        Geometry::GeometryCollection(c) => c.0.iter().flat_map(member_rects).collect(),
        other => other.bounding_rect().into_iter().collect(),
    }
}

/// Whether a geometry has a coordinate that is not a finite number.
fn has_non_finite(g: &Geometry<f64>) -> bool {
    use geo::CoordsIter;
    g.coords_iter()
        .any(|c| !c.x.is_finite() || !c.y.is_finite())
}
