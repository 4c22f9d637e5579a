//! One vector tile built from a caller's view: which layers and attributes it holds, and the
//! features of each that meet the tile with its buffer.
//!
//! **The low-zoom rule.** Below zoom `DETAIL_ZOOM` (14, about a town block per tile), a tile
//! of a whole town would carry every valve and every alley as dots too small to see, so for a
//! layer without `keep`:
//! - a line or polygon whose extent is under one pixel (`PIXEL` grid units) both ways is
//!   left out;
//! - of points (and multipoints, by their first point) falling in the same `CELL`-unit cell,
//!   only the first in layer order stays.
//!
//! Layers with `keep = true` (shelters, hazard zones) never lose a feature, and at
//! `DETAIL_ZOOM` and above every layer holds every feature that meets the tile.

use std::collections::HashSet;

use geo::Geometry;

use super::clip;
use super::grid::TileId;
use crate::access::{LayerView, View, VisibleAttr};
use crate::config::TileAttributes;
use crate::encode::mvt::{self, GridGeometry, LayerWriter, PropertyValue};
use crate::model::FeatureId;

/// From this zoom on, no feature is left out of a tile.
pub const DETAIL_ZOOM: u8 = 14;

/// One pixel of a tile drawn 512 pixels wide, in grid units.
pub const PIXEL: f64 = 8.0;

/// The cell within which low zooms keep one point, grid units (two pixels).
pub const CELL: f64 = 16.0;

/// The property holding a feature's id where it is not a number MVT's integer id can hold.
pub const ID_PROPERTY: &str = "@id";

/// What a tile set holds: every layer the view shows, or one collection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TileSet {
    Dataset,
    Collection(String),
}

/// One layer of a tile: the view's layer and the attributes its tiles carry at this zoom.
#[derive(Clone)]
pub struct LayerPlan {
    pub layer: LayerView,
    pub attrs: Vec<VisibleAttr>,
}

/// Why a tile set has no tile at this zoom (the collection is missing or hidden: `None` from
/// `plan`, as for any other missing resource).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("tileMatrix {z}: collection {id} has tiles from {min} to {max}")]
pub struct OutOfZoom {
    pub id: String,
    pub z: u8,
    pub min: u8,
    pub max: u8,
}

/// The layers and attributes of tile set `set` at zoom `z` as `view` sees them; `None` when
/// the collection is not in the view.
pub fn plan(view: &View, set: &TileSet, z: u8) -> Option<Result<Vec<LayerPlan>, OutOfZoom>> {
    let layer_plan = |layer: LayerView| {
        let wanted = layer.meta().tiles().attributes_at(z);
        let attrs = layer
            .attributes()
            .filter(|(_, a)| wanted.includes(&a.name))
            .map(|(v, _)| v)
            .collect();
        LayerPlan { layer, attrs }
    };
    match set {
        TileSet::Dataset => Some(Ok(view
            .layers()
            .filter(|l| l.meta().tiles().covers(z))
            .map(layer_plan)
            .collect())),
        TileSet::Collection(id) => {
            let layer = view.layer(id)?;
            let t = layer.meta().tiles();
            if !t.covers(z) {
                return Some(Err(OutOfZoom {
                    id: id.clone(),
                    z,
                    min: t.minzoom,
                    max: t.maxzoom,
                }));
            }
            Some(Ok(vec![layer_plan(layer)]))
        }
    }
}

/// What a plan shows, as text: two views share a cached tile only when these are equal.
pub fn content_key(plans: &[LayerPlan]) -> String {
    let mut key = String::new();
    for p in plans {
        key.push_str(p.layer.id());
        key.push('(');
        for &a in &p.attrs {
            key.push_str(&p.layer.schema(a).name);
            key.push('\u{1f}');
        }
        key.push(')');
    }
    key
}

/// The attributes every tile of a layer may carry at some zoom, for metadata (TileJSON's
/// `vector_layers`, the tileset's `layers`): the visible ones named at any zoom.
pub fn tile_attributes(layer: &LayerView) -> Vec<VisibleAttr> {
    let t = layer.meta().tiles();
    layer
        .attributes()
        .filter(|(_, a)| {
            t.attributes.is_empty()
                || t.attributes
                    .values()
                    .any(|names| TileAttributes::Only(names).includes(&a.name))
        })
        .map(|(v, _)| v)
        .collect()
}

/// The encoded tile (MVT 2.1, not compressed); empty when no layer has a feature in it.
pub fn build(plans: &[LayerPlan], tile: TileId) -> Vec<u8> {
    let area = tile.buffered_bounds();
    let grid = tile.grid();
    let mut layers = Vec::new();
    for plan in plans {
        let layer = &plan.layer;
        let thin = tile.z < DETAIL_ZOOM && !layer.meta().tiles().keep;
        let mut taken: HashSet<(i64, i64)> = HashSet::new();
        let mut writer = LayerWriter::new(layer.id());
        for i in layer.intersecting(&area) {
            let geometry = layer.geometry(i);
            if thin && !low_zoom_keeps(geometry, &grid, &mut taken) {
                continue;
            }
            let Some(g) = clip::to_grid(geometry, &grid) else {
                continue;
            };
            add_feature(&mut writer, plan, i, &g);
        }
        if !writer.is_empty() {
            layers.push(writer.finish());
        }
    }
    if layers.is_empty() {
        Vec::new()
    } else {
        mvt::encode(layers)
    }
}

/// Whether the low-zoom rule keeps a feature of a layer without `keep`; `taken` holds the
/// point cells already used in this layer.
fn low_zoom_keeps(
    geometry: &Geometry<f64>,
    grid: &super::grid::Grid,
    taken: &mut HashSet<(i64, i64)>,
) -> bool {
    let point = match geometry {
        Geometry::Point(p) => Some(p.0),
        Geometry::MultiPoint(mp) => mp.0.first().map(|p| p.0),
        _ => None,
    };
    match point {
        Some(c) => {
            let p = grid.project(c);
            taken.insert(((p[0] / CELL).floor() as i64, (p[1] / CELL).floor() as i64))
        }
        None => clip::grid_size(geometry, grid).is_some_and(|s| s[0] >= PIXEL || s[1] >= PIXEL),
    }
}

fn add_feature(writer: &mut LayerWriter, plan: &LayerPlan, i: usize, g: &GridGeometry) {
    let layer = &plan.layer;
    let (id, text_id) = match layer.feature_id(i) {
        FeatureId::Int(n) if *n >= 0 => (Some(*n as u64), None),
        other => (None, Some(other.to_string())),
    };
    let text = text_id.as_deref();
    let properties = text
        .map(|t| (ID_PROPERTY, PropertyValue::Text(t)))
        .into_iter()
        .chain(plan.attrs.iter().map(|&a| {
            (
                layer.schema(a).name.as_str(),
                PropertyValue::Attr(layer.value(i, a)),
            )
        }));
    writer.add(id, properties, g);
}
