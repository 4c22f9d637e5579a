//! Evaluation of a bound filter for one feature (three-valued: `Some(true)`, `Some(false)`,
//! `None` for unknown), and the envelope preselection.

use std::cmp::Ordering;
use std::panic::AssertUnwindSafe;

use geo::{BoundingRect, Geometry, Intersects, Rect, Relate};

use super::ast::{ArithOp, Number, SpatialOp, TemporalOp};
use super::bind::{
    BoolOperand, GeomOperand, NullTest, NumExpr, Pred, Span, StrOperand, TimeOperand, Truth,
    date_micros,
};
use super::string_match::{Side, compare};
use crate::access::LayerView;
use crate::model::Value;

/// Evaluates a condition for feature `i`.
pub(super) fn condition(p: &Pred, l: &LayerView, i: usize) -> Truth {
    match p {
        Pred::Const(t) => *t,
        Pred::And(items) => {
            let mut unknown = false;
            for x in items {
                match condition(x, l, i) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown { None } else { Some(true) }
        }
        Pred::Or(items) => {
            let mut unknown = false;
            for x in items {
                match condition(x, l, i) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            if unknown { None } else { Some(false) }
        }
        Pred::Not(x) => condition(x, l, i).map(|b| !b),
        Pred::Num(op, a, b) => {
            let x = number(a, l, i)?;
            let y = number(b, l, i)?;
            Some(op.holds(compare_numbers(x, y)?))
        }
        Pred::Str(op, a, b) => {
            let x = string(a, l, i)?;
            let y = string(b, l, i)?;
            Some(op.holds(compare(x, y)))
        }
        Pred::Bool(op, a, b) => {
            let x = boolean(a, l, i)?;
            let y = boolean(b, l, i)?;
            Some(op.holds(x.cmp(&y)))
        }
        Pred::Time(op, a, b) => {
            let x = instant(a, l, i)?;
            let y = instant(b, l, i)?;
            Some(op.holds(x.cmp(&y)))
        }
        Pred::Like(v, pattern) => match string(v, l, i)? {
            Side::Raw(s, f) => Some(pattern.matches(s, f)),
            // Literal values are matched at bind time; kept total for safety.
            Side::Ready(s) => Some(pattern.matches(s, Default::default())),
        },
        Pred::IsNull(t) => Some(match t {
            NullTest::Attr(a) => matches!(l.value(i, *a), Value::Null),
            NullTest::Num(n) => number(n, l, i).is_none(),
            NullTest::Cond(c) => condition(c, l, i).is_none(),
            NullTest::Never => false,
        }),
        Pred::Spatial(op, a, b) => {
            let (ga, ra) = geometry(a, l, i);
            let (gb, rb) = geometry(b, l, i);
            spatial(*op, ga, ra, gb, rb)
        }
        Pred::Temporal(op, a, b) => {
            let (s1, e1) = span(a, l, i)?;
            let (s2, e2) = span(b, l, i)?;
            Some(temporal(*op, s1, e1, s2, e2))
        }
    }
}

fn number(n: &NumExpr, l: &LayerView, i: usize) -> Option<Number> {
    match n {
        NumExpr::Lit(x) => Some(*x),
        NumExpr::Attr(a) => match l.value(i, *a) {
            Value::Int(x) => Some(Number::Int(*x)),
            Value::Float(x) => Some(Number::Float(*x)),
            _ => None,
        },
        NumExpr::Arith(op, a, b) => arith(*op, number(a, l, i)?, number(b, l, i)?),
    }
}

/// Integer arithmetic stays exact while it fits; a zero divisor or a non-finite result is
/// unknown.
pub(super) fn arith(op: ArithOp, a: Number, b: Number) -> Option<Number> {
    use Number::{Float, Int};
    let ints = match (a, b) {
        (Int(x), Int(y)) => Some((x, y)),
        _ => None,
    };
    let (x, y) = (a.as_f64(), b.as_f64());
    let exact = match (op, ints) {
        (ArithOp::Add, Some((p, q))) => p.checked_add(q).map(Int),
        (ArithOp::Sub, Some((p, q))) => p.checked_sub(q).map(Int),
        (ArithOp::Mul, Some((p, q))) => p.checked_mul(q).map(Int),
        (ArithOp::Mod, Some((_, 0))) | (ArithOp::IntDiv, Some((_, 0))) => return None,
        (ArithOp::Mod, Some((p, q))) => p.checked_rem(q).map(Int),
        (ArithOp::IntDiv, Some((p, q))) => p.checked_div(q).map(Int),
        (ArithOp::Pow, Some((p, q))) if (0..=u32::MAX as i64).contains(&q) => {
            p.checked_pow(q as u32).map(Int)
        }
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    let zero_divisor = y == 0.0 && matches!(op, ArithOp::Div | ArithOp::Mod | ArithOp::IntDiv);
    if zero_divisor {
        return None;
    }
    let r = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => x / y,
        ArithOp::Mod => x % y,
        ArithOp::IntDiv => (x / y).trunc(),
        ArithOp::Pow => x.powf(y),
    };
    r.is_finite().then_some(Float(r))
}

fn compare_numbers(a: Number, b: Number) -> Option<Ordering> {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => Some(x.cmp(&y)),
        _ => a.as_f64().partial_cmp(&b.as_f64()),
    }
}

fn string<'a>(s: &'a StrOperand, l: &'a LayerView, i: usize) -> Option<Side<'a>> {
    match s {
        StrOperand::Lit(x) => Some(Side::Ready(x)),
        StrOperand::Attr(a, f) => match l.value(i, *a) {
            Value::Str(x) => Some(Side::Raw(x, *f)),
            _ => None,
        },
    }
}

fn boolean(b: &BoolOperand, l: &LayerView, i: usize) -> Option<bool> {
    match b {
        BoolOperand::Lit(x) => Some(*x),
        BoolOperand::Attr(a) => match l.value(i, *a) {
            Value::Bool(x) => Some(*x),
            _ => None,
        },
    }
}

fn instant(t: &TimeOperand, l: &LayerView, i: usize) -> Option<i64> {
    match t {
        TimeOperand::Lit(x) => Some(*x),
        TimeOperand::Attr(a) => match l.value(i, *a) {
            Value::Date(d) => Some(date_micros(*d)),
            _ => None,
        },
    }
}

/// Start and end; an interval that starts after it ends is unknown.
fn span(s: &Span, l: &LayerView, i: usize) -> Option<(i64, i64)> {
    let start = instant(&s.start, l, i)?;
    let end = instant(&s.end, l, i)?;
    (start <= end).then_some((start, end))
}

fn geometry<'a>(
    g: &'a GeomOperand,
    l: &'a LayerView,
    i: usize,
) -> (&'a Geometry<f64>, Option<Rect<f64>>) {
    match g {
        GeomOperand::Feature => {
            let geom = l.geometry(i);
            (geom, geom.bounding_rect())
        }
        GeomOperand::Lit(lit) => (&lit.geometry, lit.rect),
    }
}

fn rects_intersect(a: Rect<f64>, b: Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

fn rect_covers(outer: Rect<f64>, inner: Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && outer.max().x >= inner.max().x
        && outer.max().y >= inner.max().y
}

/// The spatial function `op(a, b)`, with an envelope test first. Unknown only if the
/// geometry library fails on a degenerate input (contained, so one odd literal cannot take
/// down a request thread).
pub(super) fn spatial(
    op: SpatialOp,
    a: &Geometry<f64>,
    ra: Option<Rect<f64>>,
    b: &Geometry<f64>,
    rb: Option<Rect<f64>>,
) -> Truth {
    let (Some(ra), Some(rb)) = (ra, rb) else {
        // An empty geometry intersects nothing.
        return Some(op == SpatialOp::Disjoint);
    };
    if !rects_intersect(ra, rb) {
        return Some(op == SpatialOp::Disjoint);
    }
    let quick_no = match op {
        SpatialOp::Within => !rect_covers(rb, ra),
        SpatialOp::Contains => !rect_covers(ra, rb),
        SpatialOp::Equals => ra != rb,
        _ => false,
    };
    if quick_no {
        return Some(false);
    }
    std::panic::catch_unwind(AssertUnwindSafe(|| match op {
        SpatialOp::Intersects => a.intersects(b),
        SpatialOp::Disjoint => !a.intersects(b),
        SpatialOp::Within => a.relate(b).is_within(),
        SpatialOp::Contains => a.relate(b).is_contains(),
        SpatialOp::Equals => a.relate(b).is_equal_topo(),
        SpatialOp::Touches => a.relate(b).is_touches(),
        SpatialOp::Overlaps => a.relate(b).is_overlaps(),
        SpatialOp::Crosses => a.relate(b).is_crosses(),
    }))
    .ok()
}

/// The temporal function `op([s1, e1], [s2, e2])`, per the OWL-Time definitions the standard
/// cites. Instants are zero-length intervals.
pub(super) fn temporal(op: TemporalOp, s1: i64, e1: i64, s2: i64, e2: i64) -> bool {
    match op {
        TemporalOp::After => s1 > e2,
        TemporalOp::Before => e1 < s2,
        TemporalOp::Disjoint => e1 < s2 || s1 > e2,
        TemporalOp::Equals => s1 == s2 && e1 == e2,
        TemporalOp::Intersects => s1 <= e2 && e1 >= s2,
        TemporalOp::Contains => s1 < s2 && e1 > e2,
        TemporalOp::During => s1 > s2 && e1 < e2,
        TemporalOp::FinishedBy => s1 < s2 && e1 == e2,
        TemporalOp::Finishes => s1 > s2 && e1 == e2,
        TemporalOp::Meets => e1 == s2,
        TemporalOp::MetBy => s1 == e2,
        TemporalOp::OverlappedBy => s1 > s2 && s1 < e2 && e1 > e2,
        TemporalOp::Overlaps => s1 < s2 && e1 > s2 && e1 < e2,
        TemporalOp::StartedBy => s1 == s2 && e1 > e2,
        TemporalOp::Starts => s1 == s2 && e1 < e2,
    }
}

/// Rects such that every feature for which `p` (negated when `negated`) is TRUE intersects
/// one of them; `None` when there is no such bound.
pub(super) fn envelope(p: &Pred, negated: bool) -> Option<Vec<Rect<f64>>> {
    match (p, negated) {
        // A condition that is never TRUE selects nothing.
        (Pred::Const(t), _) if t.map(|b| b != negated) != Some(true) => Some(Vec::new()),
        (Pred::Not(x), n) => envelope(x, !n),
        // Any operand of a conjunction bounds it; keep the smallest bound.
        (Pred::And(items), false) | (Pred::Or(items), true) => items
            .iter()
            .filter_map(|x| envelope(x, negated))
            .min_by(|a, b| area(a).total_cmp(&area(b))),
        // A disjunction is bounded only when every operand is.
        (Pred::Or(items), false) | (Pred::And(items), true) => {
            let mut all = Vec::new();
            for x in items {
                all.extend(envelope(x, negated)?);
            }
            Some(all)
        }
        (Pred::Spatial(op, a, b), n) => {
            let lit = match (a, b) {
                (GeomOperand::Feature, GeomOperand::Lit(l))
                | (GeomOperand::Lit(l), GeomOperand::Feature) => l,
                _ => return None,
            };
            // Every spatial function but S_DISJOINT implies that the geometries intersect;
            // NOT S_DISJOINT is S_INTERSECTS.
            let bounded = if n {
                *op == SpatialOp::Disjoint
            } else {
                *op != SpatialOp::Disjoint
            };
            if bounded {
                Some(lit.member_rects.clone())
            } else {
                None
            }
        }
        _ => None,
    }
}

fn area(rects: &[Rect<f64>]) -> f64 {
    rects.iter().map(|r| r.width() * r.height()).sum()
}
