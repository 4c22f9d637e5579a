//! Mapbox Vector Tile 2.1: the protobuf messages of `vector_tile.proto` (declared for `prost`,
//! no code generation) and the geometry command encoding. The geometry given here is already
//! on the tile grid and valid (see `tiles::clip`); this module only writes it down.

use std::collections::HashMap;

use crate::model::Value;

/// The grid of every tile this server writes (MVT's default).
pub const EXTENT: u32 = 4096;

/// `Tile` of `vector_tile.proto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tile {
    #[prost(message, repeated, tag = "3")]
    pub layers: Vec<Layer>,
}

/// `Tile.Value`: exactly one field set.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TileValue {
    #[prost(string, optional, tag = "1")]
    pub string_value: Option<String>,
    #[prost(float, optional, tag = "2")]
    pub float_value: Option<f32>,
    #[prost(double, optional, tag = "3")]
    pub double_value: Option<f64>,
    #[prost(int64, optional, tag = "4")]
    pub int_value: Option<i64>,
    #[prost(uint64, optional, tag = "5")]
    pub uint_value: Option<u64>,
    #[prost(sint64, optional, tag = "6")]
    pub sint_value: Option<i64>,
    #[prost(bool, optional, tag = "7")]
    pub bool_value: Option<bool>,
}

/// `Tile.Feature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Feature {
    #[prost(uint64, optional, tag = "1")]
    pub id: Option<u64>,
    #[prost(uint32, repeated, packed = "true", tag = "2")]
    pub tags: Vec<u32>,
    #[prost(enumeration = "GeomType", optional, tag = "3")]
    pub r#type: Option<i32>,
    #[prost(uint32, repeated, packed = "true", tag = "4")]
    pub geometry: Vec<u32>,
}

/// `Tile.GeomType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum GeomType {
    Unknown = 0,
    Point = 1,
    Linestring = 2,
    Polygon = 3,
}

/// `Tile.Layer`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Layer {
    #[prost(uint32, required, tag = "15")]
    pub version: u32,
    #[prost(string, required, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub features: Vec<Feature>,
    #[prost(string, repeated, tag = "3")]
    pub keys: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    pub values: Vec<TileValue>,
    #[prost(uint32, optional, tag = "5")]
    pub extent: Option<u32>,
}

/// A point on the tile grid: x to the right, y down, 0..EXTENT inside the tile.
pub type GridPoint = [i32; 2];

/// Geometry on the tile grid, already clipped, simplified and valid.
#[derive(Debug, Clone, PartialEq)]
pub enum GridGeometry {
    Points(Vec<GridPoint>),
    /// Open paths of at least two distinct points each.
    Lines(Vec<Vec<GridPoint>>),
    /// Rings without the closing point, exterior rings (positive area by the surveyor's formula
    /// in tile coordinates) each followed by its holes (negative area).
    Polygons(Vec<Vec<GridPoint>>),
}

/// A layer being written: keys and values are shared by its features, each once.
pub struct LayerWriter {
    layer: Layer,
    keys: HashMap<String, u32>,
    values: HashMap<ValueKey, u32>,
}

/// A value as a hashable key (floats by their bits), so equal values are stored once.
#[derive(PartialEq, Eq, Hash)]
enum ValueKey {
    Str(String),
    Int(i64),
    Float(u64),
    Bool(bool),
}

impl LayerWriter {
    pub fn new(name: &str) -> LayerWriter {
        LayerWriter {
            layer: Layer {
                version: 2,
                name: name.to_string(),
                features: Vec::new(),
                keys: Vec::new(),
                values: Vec::new(),
                extent: Some(EXTENT),
            },
            keys: HashMap::new(),
            values: HashMap::new(),
        }
    }

    /// Adds one feature with its properties in order; null values are left out (MVT has no null).
    pub fn add<'a>(
        &mut self,
        id: Option<u64>,
        properties: impl IntoIterator<Item = (&'a str, PropertyValue<'a>)>,
        geometry: &GridGeometry,
    ) {
        let mut tags = Vec::new();
        for (key, value) in properties {
            let Some(value) = value_key(value) else {
                continue;
            };
            tags.push(self.key(key));
            tags.push(self.value(value));
        }
        let (kind, commands) = commands(geometry);
        self.layer.features.push(Feature {
            id,
            tags,
            r#type: Some(kind as i32),
            geometry: commands,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.layer.features.is_empty()
    }

    pub fn finish(self) -> Layer {
        self.layer
    }

    fn key(&mut self, key: &str) -> u32 {
        if let Some(&i) = self.keys.get(key) {
            return i;
        }
        let i = self.layer.keys.len() as u32;
        self.layer.keys.push(key.to_string());
        self.keys.insert(key.to_string(), i);
        i
    }

    fn value(&mut self, value: ValueKey) -> u32 {
        if let Some(&i) = self.values.get(&value) {
            return i;
        }
        let i = self.layer.values.len() as u32;
        let mut v = TileValue::default();
        match &value {
            ValueKey::Str(s) => v.string_value = Some(s.clone()),
            // sint (zigzag) is short for negative numbers, as short as uint for the rest.
            ValueKey::Int(n) => v.sint_value = Some(*n),
            ValueKey::Float(bits) => v.double_value = Some(f64::from_bits(*bits)),
            ValueKey::Bool(b) => v.bool_value = Some(*b),
        }
        self.layer.values.push(v);
        self.values.insert(value, i);
        i
    }
}

/// A property of a tile feature: an attribute's value, or a text such as an opaque id.
#[derive(Clone, Copy)]
pub enum PropertyValue<'a> {
    Attr(&'a Value),
    Text(&'a str),
}

fn value_key(v: PropertyValue<'_>) -> Option<ValueKey> {
    Some(match v {
        PropertyValue::Text(s) => ValueKey::Str(s.to_string()),
        PropertyValue::Attr(Value::Null) => return None,
        PropertyValue::Attr(Value::Int(i)) => ValueKey::Int(*i),
        PropertyValue::Attr(Value::Float(f)) => ValueKey::Float(f.to_bits()),
        PropertyValue::Attr(Value::Bool(b)) => ValueKey::Bool(*b),
        // Dates and text as text (MVT has no date type).
        PropertyValue::Attr(other) => ValueKey::Str(other.text()),
    })
}

/// The encoded tile.
pub fn encode(layers: Vec<Layer>) -> Vec<u8> {
    use prost::Message;
    Tile { layers }.encode_to_vec()
}

const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;

fn command(id: u32, count: u32) -> u32 {
    (id & 0x7) | (count << 3)
}

fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

/// The geometry type and command integers of `g` (MVT 2.1 §4.3).
fn commands(g: &GridGeometry) -> (GeomType, Vec<u32>) {
    let mut out = Vec::new();
    let mut cursor = [0i32, 0];
    let mut step = |out: &mut Vec<u32>, p: GridPoint| {
        out.push(zigzag(p[0] - cursor[0]));
        out.push(zigzag(p[1] - cursor[1]));
        cursor = p;
    };
    match g {
        GridGeometry::Points(points) => {
            out.push(command(MOVE_TO, points.len() as u32));
            for &p in points {
                step(&mut out, p);
            }
            (GeomType::Point, out)
        }
        GridGeometry::Lines(lines) => {
            for line in lines {
                out.push(command(MOVE_TO, 1));
                step(&mut out, line[0]);
                out.push(command(LINE_TO, (line.len() - 1) as u32));
                for &p in &line[1..] {
                    step(&mut out, p);
                }
            }
            (GeomType::Linestring, out)
        }
        GridGeometry::Polygons(rings) => {
            for ring in rings {
                out.push(command(MOVE_TO, 1));
                step(&mut out, ring[0]);
                out.push(command(LINE_TO, (ring.len() - 1) as u32));
                for &p in &ring[1..] {
                    step(&mut out, p);
                }
                out.push(command(CLOSE_PATH, 1));
            }
            (GeomType::Polygon, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of MVT 2.1 §4.3.5.1 (a point at 25,17) and §4.3.5.3 (a polygon).
    #[test]
    fn commands_match_the_specification_examples() {
        let (_, point) = commands(&GridGeometry::Points(vec![[25, 17]]));
        assert_eq!(point, vec![9, 50, 34]);
        let (_, polygon) = commands(&GridGeometry::Polygons(vec![vec![
            [3, 6],
            [8, 12],
            [20, 34],
        ]]));
        assert_eq!(polygon, vec![9, 6, 12, 18, 10, 12, 24, 44, 15]);
        let (_, line) = commands(&GridGeometry::Lines(vec![
            vec![[2, 2], [2, 10], [10, 10]],
            vec![[1, 1], [3, 5]],
        ]));
        assert_eq!(line, vec![9, 4, 4, 18, 0, 16, 16, 0, 9, 17, 17, 10, 4, 8]);
    }
}
