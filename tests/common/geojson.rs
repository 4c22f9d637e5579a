//! Reading GeoJSON in tests: feature ids as text, and the one reader of geometries (points,
//! lines, polygon rings), served or written by GDAL.

use serde_json::Value as Json;

/// A feature id as text: strings as they are, numbers as written.
pub fn id_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The ids of a FeatureCollection's features, in order.
pub fn feature_ids(doc: &Json) -> Vec<String> {
    doc["features"]
        .as_array()
        .expect("a features array")
        .iter()
        .map(|f| id_text(&f["id"]))
        .collect()
}

/// A GeoJSON position, lon/lat (or x/y): any further ordinates are dropped.
pub type Position = [f64; 2];

/// A GeoJSON geometry as the tests read it: its points, its lines and its polygons, a
/// collection's members merged in, each part in document order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Geometry {
    pub points: Vec<Position>,
    pub lines: Vec<Vec<Position>>,
    /// Each polygon as its rings, exterior first.
    pub polygons: Vec<Vec<Vec<Position>>>,
}

impl Geometry {
    /// Every vertex: the points, then the lines', then the rings'.
    pub fn coords(&self) -> impl Iterator<Item = &Position> {
        self.points
            .iter()
            .chain(self.lines.iter().flatten())
            .chain(self.rings().flatten())
    }

    /// Every polygon ring, of all the polygons together.
    pub fn rings(&self) -> impl Iterator<Item = &Vec<Position>> {
        self.polygons.iter().flatten()
    }

    /// Every path: the lines, then the polygon rings.
    pub fn paths(&self) -> impl Iterator<Item = &Vec<Position>> {
        self.lines.iter().chain(self.rings())
    }

    /// The same geometry with every position mapped by `f` (a projection).
    pub fn map(&self, f: impl Fn(Position) -> Position) -> Geometry {
        let path = |p: &Vec<Position>| p.iter().map(|c| f(*c)).collect::<Vec<_>>();
        Geometry {
            points: path(&self.points),
            lines: self.lines.iter().map(path).collect(),
            polygons: self
                .polygons
                .iter()
                .map(|rings| rings.iter().map(path).collect())
                .collect(),
        }
    }
}

fn position(v: &Json) -> Position {
    match (v[0].as_f64(), v[1].as_f64()) {
        (Some(x), Some(y)) => [x, y],
        _ => panic!("bad coordinate {v}"),
    }
}

fn positions(v: &Json) -> Vec<Position> {
    v.as_array()
        .unwrap_or_else(|| panic!("bad coordinate list {v}"))
        .iter()
        .map(position)
        .collect()
}

fn rings(v: &Json) -> Vec<Vec<Position>> {
    v.as_array()
        .unwrap_or_else(|| panic!("bad polygon {v}"))
        .iter()
        .map(positions)
        .collect()
}

fn members(v: &Json) -> &[Json] {
    v.as_array()
        .unwrap_or_else(|| panic!("bad member list {v}"))
}

fn add_geometry(g: &Json, out: &mut Geometry) {
    let c = &g["coordinates"];
    match g["type"].as_str() {
        Some("Point") => out.points.push(position(c)),
        Some("MultiPoint") => out.points.extend(positions(c)),
        Some("LineString") => out.lines.push(positions(c)),
        Some("MultiLineString") => out.lines.extend(members(c).iter().map(positions)),
        Some("Polygon") => out.polygons.push(rings(c)),
        Some("MultiPolygon") => out.polygons.extend(members(c).iter().map(rings)),
        Some("GeometryCollection") => {
            for member in members(&g["geometries"]) {
                add_geometry(member, out);
            }
        }
        Some(other) => panic!("unexpected geometry type {other}"),
        None => panic!("not a geometry: {g}"),
    }
}

/// A GeoJSON geometry; panics on anything else (`null` included).
pub fn geometry(g: &Json) -> Geometry {
    let mut out = Geometry::default();
    add_geometry(g, &mut out);
    out
}

/// A GeoJSON geometry, `null` (a feature without one) read as empty.
pub fn nullable_geometry(g: &Json) -> Geometry {
    if g.is_null() {
        Geometry::default()
    } else {
        geometry(g)
    }
}

/// Every vertex of a GeoJSON geometry, in order.
pub fn coords(g: &Json) -> Vec<Position> {
    geometry(g).coords().copied().collect()
}
