//! A loaded layer: features in CRS84 with typed properties, an R-tree over their envelopes and
//! the layer extent. Immutable once built; a reload builds a new one.

use std::collections::HashMap;

use geo::{BoundingRect, Geometry, Intersects, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::config::LayerConfig;
use crate::model::{Attribute, Feature, FeatureId, Value};

use crate::view_id::ViewIds;

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
    pub(in crate::access) meta: LayerConfig,
    pub(in crate::access) schema: Vec<Attribute>,
    pub(in crate::access) features: Vec<Feature>,
    /// Envelope of every feature, `None` for an empty layer.
    pub(in crate::access) extent: Option<Rect<f64>>,
    /// The attributes named by the catalog's `search`, folded for matching.
    pub(in crate::access) search: Vec<SearchColumn>,
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
        let condition = meta.view().and_then(|v| {
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
