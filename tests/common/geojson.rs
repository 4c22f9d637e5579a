//! Reading served GeoJSON in tests: feature ids as text, coordinates, and geometries as paths.

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

/// Every coordinate of a GeoJSON geometry (or coordinate array), in document order.
pub fn coords(g: &Json, out: &mut Vec<[f64; 2]>) {
    match g {
        Json::Array(a) if a.len() >= 2 && a[0].is_number() => {
            out.push([a[0].as_f64().expect("x"), a[1].as_f64().expect("y")])
        }
        Json::Array(a) => a.iter().for_each(|x| coords(x, out)),
        Json::Object(o) => {
            if let Some(c) = o.get("coordinates") {
                coords(c, out)
            }
            if let Some(gs) = o.get("geometries") {
                coords(gs, out)
            }
        }
        _ => {}
    }
}

/// A geometry's parts: each a path of coordinates, with whether it is a polygon ring.
pub type Parts = Vec<(Vec<[f64; 2]>, bool)>;

/// The parts of a GeoJSON geometry (not a collection).
pub fn parts(g: &Json) -> Parts {
    let path = |v: &Json| {
        let mut out = Vec::new();
        coords(v, &mut out);
        out
    };
    let c = &g["coordinates"];
    let list = |v: &Json| v.as_array().cloned().unwrap_or_default();
    match g["type"].as_str().expect("geometry type") {
        "Point" | "LineString" | "MultiPoint" => vec![(path(c), false)],
        "MultiLineString" => list(c).iter().map(|l| (path(l), false)).collect(),
        "Polygon" => list(c).iter().map(|r| (path(r), true)).collect(),
        "MultiPolygon" => list(c)
            .iter()
            .flat_map(list)
            .map(|r| (path(&r), true))
            .collect(),
        other => panic!("unexpected geometry type {other}"),
    }
}
