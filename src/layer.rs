//! A loaded layer: features in CRS84 with typed properties, an R-tree over their envelopes and
//! the layer extent. Immutable once built; a reload builds a new one.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;
use geo::{BoundingRect, Geometry, Intersects, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::access::Audience;
use crate::config::{AttrType, LayerConfig};
use crate::view_id::ViewIds;

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
#[derive(Debug, Clone)]
pub struct Feature {
    pub id: FeatureId,
    pub geometry: Geometry<f64>,
    pub properties: Vec<Value>,
    /// The edit store's version (the ETag) for editable layers and their views; 0 for
    /// features read from files.
    pub version: i64,
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// The folded (`text::fold`) values of one searched attribute, one per feature (`None` for
/// null), computed once when the layer is built.
#[derive(Debug, Clone)]
pub struct SearchColumn {
    /// Schema index of the attribute.
    pub attr: usize,
    pub values: Vec<Option<Box<str>>>,
}

/// A loaded, indexed layer.
pub struct Layer {
    pub meta: LayerConfig,
    pub schema: Vec<Attribute>,
    pub features: Vec<Feature>,
    /// Envelope of every feature, `None` for an empty layer.
    pub extent: Option<Rect<f64>>,
    /// The attributes named by the catalog's `search`, folded for matching.
    pub search: Vec<SearchColumn>,
    tree: RTree<Entry>,
    ids: HashMap<String, usize>,
}

/// A problem found while building a layer from loaded features.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("feature {index}: id \"{id}\" is used by more than one feature")]
    DuplicateId { index: usize, id: String },
    #[error("feature {index}: id field \"{field}\" is empty")]
    MissingId { index: usize, field: String },
    #[error("feature {index}: id field \"{field}\" must be text or an integer, got {value}")]
    BadId {
        index: usize,
        field: String,
        value: String,
    },
    #[error("layer has more than {} features", u32::MAX)]
    TooMany,
}

impl Layer {
    /// The schema a layer config declares.
    pub fn schema_of(meta: &LayerConfig) -> Vec<Attribute> {
        meta.attributes
            .iter()
            .map(|a| Attribute {
                name: a.name.clone(),
                kind: a.kind,
                label_ja: a.label_ja.clone(),
                label_en: a.label_en.clone(),
                audience: a.audience.clone().unwrap_or_else(|| meta.audience.clone()),
            })
            .collect()
    }

    /// Builds the layer from CRS84 geometries and schema-ordered properties: assigns ids and
    /// bulk-loads the R-tree.
    pub fn build(
        meta: LayerConfig,
        rows: Vec<(Geometry<f64>, Vec<Value>)>,
    ) -> Result<Layer, BuildError> {
        let schema = Self::schema_of(&meta);
        let id_col = meta
            .id_field
            .as_ref()
            .and_then(|f| schema.iter().position(|a| &a.name == f));
        let mut features = Vec::with_capacity(rows.len());
        for (index, (geometry, properties)) in rows.into_iter().enumerate() {
            let id = match id_col {
                None => FeatureId::Int(index as i64 + 1),
                Some(c) => {
                    let field = schema[c].name.clone();
                    match &properties[c] {
                        Value::Int(i) => FeatureId::Int(*i),
                        Value::Str(s) if !s.trim().is_empty() => FeatureId::Str(s.clone()),
                        Value::Null | Value::Str(_) => {
                            return Err(BuildError::MissingId { index, field });
                        }
                        other => {
                            return Err(BuildError::BadId {
                                index,
                                field,
                                value: other.to_string(),
                            });
                        }
                    }
                }
            };
            features.push(Feature {
                id,
                geometry,
                properties,
                version: 0,
            });
        }
        Self::from_features(meta, features)
    }

    /// Builds the layer from features that already carry their ids (the edit store's, or a
    /// view's base layer's): checks ids are unique and bulk-loads the R-tree.
    pub fn from_features(meta: LayerConfig, features: Vec<Feature>) -> Result<Layer, BuildError> {
        if features.len() > u32::MAX as usize {
            return Err(BuildError::TooMany);
        }
        let schema = Self::schema_of(&meta);
        let mut ids = HashMap::with_capacity(features.len());
        let mut entries = Vec::with_capacity(features.len());
        let mut extent: Option<Rect<f64>> = None;
        for (index, f) in features.iter().enumerate() {
            let key = f.id.to_string();
            if ids.insert(key.clone(), index).is_some() {
                return Err(BuildError::DuplicateId { index, id: key });
            }
            // Loaders and the editor refuse empty geometries, so every feature has an envelope.
            if let Some(r) = f.geometry.bounding_rect() {
                entries.push(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    index as u32,
                ));
                extent = Some(match extent {
                    None => r,
                    Some(e) => Rect::new(
                        (e.min().x.min(r.min().x), e.min().y.min(r.min().y)),
                        (e.max().x.max(r.max().x), e.max().y.max(r.max().y)),
                    ),
                });
            }
        }
        let search = meta
            .search
            .iter()
            .filter_map(|name| schema.iter().position(|a| &a.name == name))
            .map(|attr| SearchColumn {
                attr,
                values: features
                    .iter()
                    .map(|f| match &f.properties[attr] {
                        Value::Str(s) => Some(crate::text::fold(s).into_boxed_str()),
                        _ => None,
                    })
                    .collect(),
            })
            .collect();
        Ok(Layer {
            meta,
            schema,
            features,
            extent,
            search,
            tree: RTree::bulk_load(entries),
            ids,
        })
    }

    /// A view layer over `base`: the features meeting the view's condition, with the view's
    /// attributes (the catalog checked they are the base's, with the same types), under the
    /// opaque ids of `ids` (a view's ids must not count the features it hides).
    pub fn view_of(meta: LayerConfig, base: &Layer, ids: &ViewIds) -> Result<Layer, BuildError> {
        let columns: Vec<Option<usize>> = meta
            .attributes
            .iter()
            .map(|a| base.schema.iter().position(|b| b.name == a.name))
            .collect();
        let condition = meta.view.as_ref().and_then(|v| {
            let attr = v.where_attribute.as_ref()?;
            let col = base.schema.iter().position(|b| &b.name == attr)?;
            Some((col, v.where_in.clone()))
        });
        let features = base
            .features
            .iter()
            .filter(|f| match &condition {
                None => true,
                Some((col, values)) => {
                    matches!(&f.properties[*col], Value::Str(s) if values.iter().any(|v| **v == **s))
                }
            })
            .map(|f| Feature {
                id: match &f.id {
                    FeatureId::Int(n) => FeatureId::Str(ids.encode(*n).into()),
                    other => other.clone(),
                },
                geometry: f.geometry.clone(),
                properties: columns
                    .iter()
                    .map(|c| c.map_or(Value::Null, |c| f.properties[c].clone()))
                    .collect(),
                version: f.version,
            })
            .collect();
        Self::from_features(meta, features)
    }

    /// Every feature with the planar distance, in degrees, from (`lon`, `lat`) to its
    /// envelope, nearest envelope first (0 for envelopes holding the point). Envelope
    /// distances are lower bounds of the distances to the geometries, so a caller can stop
    /// once no remaining envelope can beat what it has.
    pub fn by_envelope_distance(
        &self,
        lon: f64,
        lat: f64,
    ) -> impl Iterator<Item = (usize, f64)> + '_ {
        self.tree
            .nearest_neighbor_iter_with_distance_2([lon, lat])
            .map(|(e, d2)| (e.data as usize, d2.sqrt()))
    }

    /// Index of the feature with this id.
    pub fn position_of(&self, id: &str) -> Option<usize> {
        self.ids.get(id).copied()
    }

    /// Indices, ascending, of the features whose geometry intersects `bbox` (not only its
    /// envelope): an R-tree envelope search followed by the exact test.
    pub fn intersecting(&self, bbox: &Rect<f64>) -> Vec<usize> {
        let env = AABB::from_corners([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
        let mut hits: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(env)
            .map(|e| e.data as usize)
            .filter(|&i| self.features[i].geometry.intersects(bbox))
            .collect();
        hits.sort_unstable();
        hits
    }
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
