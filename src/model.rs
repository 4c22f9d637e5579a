//! The data vocabulary every module shares: attribute types and values, feature ids,
//! features, geometry kinds and a feature's past state. Depends only on `policy`.

use std::fmt;

use chrono::NaiveDate;
use geo::Geometry;
use serde::Deserialize;

use crate::policy::Audience;

/// Attribute value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttrType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
}

impl AttrType {
    /// The name the catalog uses (`string`, `date`, …).
    pub fn name(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Integer => "integer",
            AttrType::Number => "number",
            AttrType::Boolean => "boolean",
            AttrType::Date => "date",
        }
    }

    /// JSON Schema type name, for queryables and OpenAPI.
    pub fn json_type(self) -> &'static str {
        match self {
            AttrType::String | AttrType::Date => "string",
            AttrType::Integer => "integer",
            AttrType::Number => "number",
            AttrType::Boolean => "boolean",
        }
    }
}

/// The geometry type of an editable layer; writes of any other type are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum GeometryKind {
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
}

impl GeometryKind {
    /// The GeoJSON / Simple Features name (`Point`, …), which GeoPackage uses too.
    pub fn name(self) -> &'static str {
        match self {
            GeometryKind::Point => "Point",
            GeometryKind::LineString => "LineString",
            GeometryKind::Polygon => "Polygon",
            GeometryKind::MultiPoint => "MultiPoint",
            GeometryKind::MultiLineString => "MultiLineString",
            GeometryKind::MultiPolygon => "MultiPolygon",
        }
    }
}

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
    Date(NaiveDate),
}

impl Value {
    /// Parses text as `kind`; empty text is null. Used for CSV cells and query parameters.
    pub fn parse(text: &str, kind: AttrType) -> Result<Value, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Value::Null);
        }
        match kind {
            AttrType::String => Ok(Value::Str(text.into())),
            AttrType::Integer => t
                .parse::<i64>()
                .map(Value::Int)
                .map_err(|_| format!("expected an integer, got \"{text}\"")),
            AttrType::Number => match t.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Value::Float(v)),
                _ => Err(format!("expected a number, got \"{text}\"")),
            },
            AttrType::Boolean => match t.to_ascii_lowercase().as_str() {
                "1" | "true" | "t" | "yes" | "y" | "○" | "〇" => Ok(Value::Bool(true)),
                "0" | "false" | "f" | "no" | "n" | "×" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "expected a boolean (true/false, 1/0), got \"{text}\""
                )),
            },
            AttrType::Date => parse_date(t)
                .map(Value::Date)
                .ok_or_else(|| format!("expected a date YYYY-MM-DD, got \"{text}\"")),
        }
    }

    /// Converts an already typed source value to `kind`, accepting lossless conversions.
    pub fn coerce(self, kind: AttrType) -> Result<Value, String> {
        match (self, kind) {
            (Value::Null, _) => Ok(Value::Null),
            (Value::Str(s), k) => Value::parse(&s, k),
            (v @ Value::Int(_), AttrType::Integer)
            | (v @ Value::Float(_), AttrType::Number)
            | (v @ Value::Bool(_), AttrType::Boolean)
            | (v @ Value::Date(_), AttrType::Date) => Ok(v),
            (Value::Int(i), AttrType::Number) => Ok(Value::Float(i as f64)),
            (Value::Float(f), AttrType::Integer) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Ok(Value::Int(f as i64))
            }
            (Value::Int(i), AttrType::Boolean) if i == 0 || i == 1 => Ok(Value::Bool(i == 1)),
            (Value::Int(i), AttrType::String) => Ok(Value::Str(i.to_string().into())),
            (Value::Float(f), AttrType::String) => Ok(Value::Str(f.to_string().into())),
            (Value::Date(d), AttrType::String) => Ok(Value::Str(d.to_string().into())),
            (v, k) => Err(format!("expected {}, got {v}", k.json_type())),
        }
    }
}

impl Value {
    /// The value as JSON (dates as `YYYY-MM-DD`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => serde_json::json!(f),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::Date(d) => d.format("%Y-%m-%d").to_string().into(),
        }
    }

    /// The value as plain text, as a spreadsheet cell or a group key shows it: empty for
    /// null, text without quotes.
    pub fn text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Str(s) => s.to_string(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "\"{s}\""),
            Value::Date(d) => write!(f, "{d}"),
        }
    }
}

/// Dates as departments write them: `2024-04-01`, `2024/04/01`, `20240401`, or a timestamp
/// whose date part is one of those.
fn parse_date(t: &str) -> Option<NaiveDate> {
    let day = t.split(['T', ' ']).next().unwrap_or(t);
    ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(day, f).ok())
}

/// One attribute of a layer's schema, with its effective audience.
#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub kind: AttrType,
    pub label_ja: String,
    pub label_en: String,
    /// The attribute's own audience where narrower, else the layer's.
    pub audience: Audience,
}

/// A feature id as it appears in URLs and in GeoJSON `id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeatureId {
    Int(i64),
    Str(Box<str>),
}

impl fmt::Display for FeatureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureId::Int(i) => write!(f, "{i}"),
            FeatureId::Str(s) => f.write_str(s),
        }
    }
}

/// A feature in CRS84 with properties in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: FeatureId,
    pub geometry: Geometry<f64>,
    pub properties: Vec<Value>,
    /// The edit store's version (the ETag) for editable layers and their views; 0 for
    /// features read from files.
    pub version: i64,
}

/// A feature's state at one point of the change log, as its history kept it.
#[derive(Debug, Clone, PartialEq)]
pub struct PastState {
    pub version: i64,
    pub geometry: Geometry<f64>,
    /// By the layer's current attributes (those added since are null).
    pub properties: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_as_departments_write_them() {
        assert_eq!(
            Value::parse("2024/04/01", AttrType::Date),
            Ok(Value::Date(
                NaiveDate::from_ymd_opt(2024, 4, 1).expect("date")
            ))
        );
        assert_eq!(Value::parse("1", AttrType::Boolean), Ok(Value::Bool(true)));
        assert_eq!(Value::parse("", AttrType::Integer), Ok(Value::Null));
        assert_eq!(Value::parse(" 42 ", AttrType::Integer), Ok(Value::Int(42)));
        let e = Value::parse("abc", AttrType::Number).unwrap_err();
        assert!(e.contains("\"abc\""), "{e}");
        assert!(Value::parse("NaN", AttrType::Number).is_err());
    }

    #[test]
    fn coerce_accepts_only_lossless_conversions() {
        assert_eq!(
            Value::Float(3.0).coerce(AttrType::Integer),
            Ok(Value::Int(3))
        );
        assert!(Value::Float(3.5).coerce(AttrType::Integer).is_err());
        assert!(Value::Bool(true).coerce(AttrType::Date).is_err());
    }
}
