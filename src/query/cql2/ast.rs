//! The parsed CQL2 expression tree, shared by the text and JSON encodings, and its rendering
//! back to CQL2 text (used in error messages and to check that text round-trips).
//!
//! The tree is untyped: it says what was written, not whether it makes sense for a layer.
//! `Filter::bind` checks types and resolves properties.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use geo::{Coord, Geometry, LineString, Polygon};

/// A CQL2 expression as written, in either encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a AND b AND …` (two or more operands).
    And(Vec<Expr>),
    /// `a OR b OR …` (two or more operands).
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `a = b`, `a <> b`, `a < b`, …
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `value LIKE pattern`; `NOT LIKE` is `Not(Like)`.
    Like(Box<Expr>, Box<Expr>),
    /// `value BETWEEN low AND high`.
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `value IN (a, b, …)`.
    In(Box<Expr>, Vec<Expr>),
    /// `value IS NULL`; `IS NOT NULL` is `Not(IsNull)`.
    IsNull(Box<Expr>),
    /// `S_INTERSECTS(a, b)` and the other spatial functions.
    Spatial(SpatialOp, Box<Expr>, Box<Expr>),
    /// `T_AFTER(a, b)` and the other temporal functions.
    Temporal(TemporalOp, Box<Expr>, Box<Expr>),
    /// `A_CONTAINS(a, b)` and the other array functions (parsed, not evaluated).
    ArrayPredicate(ArrayOp, Box<Expr>, Box<Expr>),
    /// `a + b`, `a div b`, …; a unary minus on a non-literal is `-1 * a`.
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    CaseI(Box<Expr>),
    AccentI(Box<Expr>),
    /// Any other function call, e.g. `avg(windSpeed)` (parsed, not evaluated).
    Function(String, Vec<Expr>),
    Property(String),
    Str(String),
    Number(Number),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    /// `INTERVAL(start, end)`: each end an instant, `Unbounded`, a property or a function.
    Interval(Box<Expr>, Box<Expr>),
    /// `'..'`, an open end of an interval.
    Unbounded,
    /// A WKT or GeoJSON geometry, Z coordinates dropped.
    Geometry(Geometry<f64>),
    /// `BBOX(…)` with 4 or 6 numbers, as written.
    Bbox(Vec<f64>),
    /// A list of values, the operand of an array function.
    Array(Vec<Expr>),
}

/// A numeric literal. Integers are kept exact; an integer equals a float of the same value,
/// so `5` in text and `5.0` in JSON are the same literal.
#[derive(Debug, Clone, Copy)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            _ => self.as_f64() == other.as_f64(),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) if x.fract() == 0.0 && x.abs() < 1e15 => write!(f, "{x:.1}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Binary comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    pub fn from_symbol(s: &str) -> Option<CmpOp> {
        Some(match s {
            "=" => CmpOp::Eq,
            "<>" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }

    /// Whether `ordering` (left compared with right) satisfies the operator.
    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ordering == Equal,
            CmpOp::Ne => ordering != Equal,
            CmpOp::Lt => ordering == Less,
            CmpOp::Le => ordering != Greater,
            CmpOp::Gt => ordering == Greater,
            CmpOp::Ge => ordering != Less,
        }
    }
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `%`: remainder with the sign of the dividend.
    Mod,
    /// `div`: division truncated towards zero.
    IntDiv,
    /// `^`: exponentiation.
    Pow,
}

impl ArithOp {
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::IntDiv => "div",
            ArithOp::Pow => "^",
        }
    }

    pub fn from_symbol(s: &str) -> Option<ArithOp> {
        Some(match s {
            "+" => ArithOp::Add,
            "-" => ArithOp::Sub,
            "*" => ArithOp::Mul,
            "/" => ArithOp::Div,
            "%" => ArithOp::Mod,
            "div" => ArithOp::IntDiv,
            "^" => ArithOp::Pow,
            _ => return None,
        })
    }
}

/// Declares an operator enum whose names are the CQL2 function names: the text keyword
/// (upper case) and the JSON `op` (as the JSON schema spells it).
macro_rules! named_ops {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal, $json:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The CQL2-text keyword, e.g. `S_INTERSECTS`.
            pub fn keyword(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            /// The CQL2-JSON `op`, e.g. `s_intersects`.
            pub fn json_name(self) -> &'static str {
                match self { $($name::$variant => $json,)* }
            }

            /// The operator named `name`, in any letter case.
            pub fn from_name(name: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|op| op.keyword().eq_ignore_ascii_case(name))
            }
        }
    };
}

named_ops! {
    /// The spatial comparison functions (DE-9IM relations).
    SpatialOp {
        Intersects => "S_INTERSECTS", "s_intersects";
        Equals => "S_EQUALS", "s_equals";
        Disjoint => "S_DISJOINT", "s_disjoint";
        Touches => "S_TOUCHES", "s_touches";
        Within => "S_WITHIN", "s_within";
        Overlaps => "S_OVERLAPS", "s_overlaps";
        Crosses => "S_CROSSES", "s_crosses";
        Contains => "S_CONTAINS", "s_contains";
    }
}

named_ops! {
    /// The temporal comparison functions (OWL-Time / Allen's interval relations).
    TemporalOp {
        After => "T_AFTER", "t_after";
        Before => "T_BEFORE", "t_before";
        Contains => "T_CONTAINS", "t_contains";
        Disjoint => "T_DISJOINT", "t_disjoint";
        During => "T_DURING", "t_during";
        Equals => "T_EQUALS", "t_equals";
        FinishedBy => "T_FINISHEDBY", "t_finishedBy";
        Finishes => "T_FINISHES", "t_finishes";
        Intersects => "T_INTERSECTS", "t_intersects";
        Meets => "T_MEETS", "t_meets";
        MetBy => "T_METBY", "t_metBy";
        OverlappedBy => "T_OVERLAPPEDBY", "t_overlappedBy";
        Overlaps => "T_OVERLAPS", "t_overlaps";
        StartedBy => "T_STARTEDBY", "t_startedBy";
        Starts => "T_STARTS", "t_starts";
    }
}

named_ops! {
    /// The array comparison functions (recognised so they get a clear "not supported" error).
    ArrayOp {
        Equals => "A_EQUALS", "a_equals";
        Contains => "A_CONTAINS", "a_contains";
        ContainedBy => "A_CONTAINEDBY", "a_containedBy";
        Overlaps => "A_OVERLAPS", "a_overlaps";
    }
}

impl TemporalOp {
    /// Whether the function is defined for instants as well as intervals. The others apply to
    /// intervals only; the standard makes an instant operand a client error.
    pub fn accepts_instants(self) -> bool {
        matches!(
            self,
            TemporalOp::After
                | TemporalOp::Before
                | TemporalOp::Disjoint
                | TemporalOp::Equals
                | TemporalOp::Intersects
        )
    }
}

/// Writes `s` as a CQL2 character literal, doubling embedded quotes.
fn write_str_literal(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for part in s.split('\'').enumerate() {
        if part.0 > 0 {
            f.write_str("''")?;
        }
        f.write_str(part.1)?;
    }
    f.write_str("'")
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

fn write_coord(f: &mut fmt::Formatter<'_>, c: &Coord<f64>) -> fmt::Result {
    write!(f, "{} {}", c.x, c.y)
}

fn write_coords(f: &mut fmt::Formatter<'_>, l: &LineString<f64>) -> fmt::Result {
    f.write_str("(")?;
    for (i, c) in l.0.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_coord(f, c)?;
    }
    f.write_str(")")
}

fn write_polygon_text(f: &mut fmt::Formatter<'_>, p: &Polygon<f64>) -> fmt::Result {
    f.write_str("(")?;
    write_coords(f, p.exterior())?;
    for ring in p.interiors() {
        f.write_str(", ")?;
        write_coords(f, ring)?;
    }
    f.write_str(")")
}

/// Writes a geometry as WKT. Only the types a CQL2 literal can hold are written; the others
/// (never produced by the parsers) are written through their polygon form.
pub(crate) fn write_wkt(f: &mut fmt::Formatter<'_>, g: &Geometry<f64>) -> fmt::Result {
    match g {
        Geometry::Point(p) => {
            f.write_str("POINT(")?;
            write_coord(f, &p.0)?;
            f.write_str(")")
        }
        Geometry::LineString(l) => {
            f.write_str("LINESTRING")?;
            write_coords(f, l)
        }
        Geometry::Polygon(p) => {
            f.write_str("POLYGON")?;
            write_polygon_text(f, p)
        }
        Geometry::MultiPoint(m) => {
            f.write_str("MULTIPOINT(")?;
            for (i, p) in m.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str("(")?;
                write_coord(f, &p.0)?;
                f.write_str(")")?;
            }
            f.write_str(")")
        }
        Geometry::MultiLineString(m) => {
            f.write_str("MULTILINESTRING(")?;
            for (i, l) in m.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_coords(f, l)?;
            }
            f.write_str(")")
        }
        Geometry::MultiPolygon(m) => {
            f.write_str("MULTIPOLYGON(")?;
            for (i, p) in m.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_polygon_text(f, p)?;
            }
            f.write_str(")")
        }
        Geometry::GeometryCollection(c) => {
            f.write_str("GEOMETRYCOLLECTION(")?;
            for (i, g) in c.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_wkt(f, g)?;
            }
            f.write_str(")")
        }
        Geometry::Line(l) => write_wkt(f, &Geometry::LineString(LineString::from(*l))),
        Geometry::Rect(r) => write_wkt(f, &Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => write_wkt(f, &Geometry::Polygon(t.to_polygon())),
    }
}

/// An operand of a comparison: a condition there is parenthesised so it parses back.
struct Operand<'a>(&'a Expr);

impl fmt::Display for Operand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Expr::Compare(..)
            | Expr::Like(..)
            | Expr::Between(..)
            | Expr::In(..)
            | Expr::IsNull(_) => write!(f, "({})", self.0),
            other => write!(f, "{other}"),
        }
    }
}

/// CQL2 text. Every compound operand is parenthesised, so the text parses back to the same tree.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(items) => {
                f.write_str("(")?;
                write_list(f, items, " AND ")?;
                f.write_str(")")
            }
            Expr::Or(items) => {
                f.write_str("(")?;
                write_list(f, items, " OR ")?;
                f.write_str(")")
            }
            Expr::Not(e) => write!(f, "NOT ({e})"),
            Expr::Compare(op, a, b) => write!(f, "{} {} {}", Operand(a), op.symbol(), Operand(b)),
            Expr::Like(a, b) => write!(f, "{} LIKE {}", Operand(a), Operand(b)),
            Expr::Between(a, lo, hi) => write!(
                f,
                "{} BETWEEN {} AND {}",
                Operand(a),
                Operand(lo),
                Operand(hi)
            ),
            Expr::In(a, list) => {
                write!(f, "{} IN (", Operand(a))?;
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Operand(e))?;
                }
                f.write_str(")")
            }
            Expr::IsNull(a) => write!(f, "{} IS NULL", Operand(a)),
            Expr::Spatial(op, a, b) => write!(f, "{}({a}, {b})", op.keyword()),
            Expr::Temporal(op, a, b) => write!(f, "{}({a}, {b})", op.keyword()),
            Expr::ArrayPredicate(op, a, b) => write!(f, "{}({a}, {b})", op.keyword()),
            Expr::Arith(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            Expr::CaseI(e) => write!(f, "CASEI({e})"),
            Expr::AccentI(e) => write!(f, "ACCENTI({e})"),
            Expr::Function(name, args) => {
                write!(f, "{name}(")?;
                write_list(f, args, ", ")?;
                f.write_str(")")
            }
            Expr::Property(name) => {
                f.write_str("\"")?;
                f.write_str(&name.replace('"', "\"\""))?;
                f.write_str("\"")
            }
            Expr::Str(s) => write_str_literal(f, s),
            Expr::Number(n) => write!(f, "{n}"),
            Expr::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Expr::Date(d) => write!(f, "DATE('{}')", d.format("%Y-%m-%d")),
            Expr::Timestamp(t) => write!(
                f,
                "TIMESTAMP('{}')",
                t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
            ),
            Expr::Interval(a, b) => {
                let end = |f: &mut fmt::Formatter<'_>, e: &Expr| match e {
                    Expr::Date(d) => write!(f, "'{}'", d.format("%Y-%m-%d")),
                    Expr::Timestamp(t) => {
                        write!(f, "'{}'", t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                    }
                    other => write!(f, "{other}"),
                };
                f.write_str("INTERVAL(")?;
                end(f, a)?;
                f.write_str(", ")?;
                end(f, b)?;
                f.write_str(")")
            }
            Expr::Unbounded => f.write_str("'..'"),
            Expr::Geometry(g) => write_wkt(f, g),
            Expr::Bbox(n) => {
                f.write_str("BBOX(")?;
                for (i, x) in n.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            Expr::Array(items) => {
                f.write_str("(")?;
                write_list(f, items, ", ")?;
                f.write_str(")")
            }
        }
    }
}

impl Expr {
    /// The expression as CQL2 text, cut to about `max` characters, for error messages.
    pub fn short(&self, max: usize) -> String {
        let full = self.to_string();
        if full.chars().count() <= max {
            full
        } else {
            let mut s: String = full.chars().take(max.saturating_sub(1)).collect();
            s.push('…');
            s
        }
    }
}
