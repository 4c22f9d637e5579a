//! GeoJSON (RFC 7946) written straight into byte buffers, feature by feature, so a large
//! answer streams out in chunks instead of being built as one `serde_json::Value`.

use std::io::Write;

use geo::{Coord, Geometry, LineString, Polygon};

use crate::access::{LayerView, VisibleAttr};
use crate::crs::RequestCrs;
use crate::encode::Link;
use crate::model::{FeatureId, Value};

/// Writes a number with at most 7 decimals (1 cm at the equator is ~9e-8 degrees) and no
/// trailing zeros.
pub fn write_number(out: &mut Vec<u8>, v: f64) {
    write_decimal(out, v, 7)
}

/// Writes a number with at most `decimals` (≤ 7) decimals and no trailing zeros.
pub fn write_decimal(out: &mut Vec<u8>, v: f64, decimals: u32) {
    let decimals = decimals.min(7);
    let v = if decimals < 7 {
        let f = 10f64.powi(decimals as i32);
        (v * f).round() / f
    } else {
        v
    };
    let scaled = (v * 1e7).round();
    if !scaled.is_finite() || scaled.abs() >= 9.0e15 {
        // Out of the fixed-point range: let serde_json write it (or null for non-finite).
        let _ = serde_json::to_writer(&mut *out, &v);
        return;
    }
    let i = scaled as i64;
    let a = i.unsigned_abs();
    if i < 0 {
        out.push(b'-');
    }
    let _ = write!(out, "{}", a / 10_000_000);
    let mut frac = a % 10_000_000;
    if frac > 0 {
        let mut digits = 7;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{frac:0digits$}");
    }
}

fn write_coord(out: &mut Vec<u8>, c: &Coord<f64>, d: u32) {
    out.push(b'[');
    write_decimal(out, c.x, d);
    out.push(b',');
    write_decimal(out, c.y, d);
    out.push(b']');
}

fn write_line(out: &mut Vec<u8>, l: &LineString<f64>, d: u32) {
    out.push(b'[');
    for (i, c) in l.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_coord(out, c, d);
    }
    out.push(b']');
}

fn write_polygon(out: &mut Vec<u8>, p: &Polygon<f64>, d: u32) {
    out.push(b'[');
    write_line(out, p.exterior(), d);
    for r in p.interiors() {
        out.push(b',');
        write_line(out, r, d);
    }
    out.push(b']');
}

fn write_list<T>(out: &mut Vec<u8>, items: &[T], d: u32, f: impl Fn(&mut Vec<u8>, &T, u32)) {
    out.push(b'[');
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        f(out, it, d);
    }
    out.push(b']');
}

/// Writes a CRS84 geometry object with 7 decimals.
pub fn write_geometry(out: &mut Vec<u8>, g: &Geometry<f64>) {
    write_geometry_with(out, g, 7)
}

/// Writes a geometry object with at most `d` decimals.
pub fn write_geometry_with(out: &mut Vec<u8>, g: &Geometry<f64>, d: u32) {
    match g {
        Geometry::GeometryCollection(c) => {
            out.extend_from_slice(b"{\"type\":\"GeometryCollection\",\"geometries\":");
            write_list(out, &c.0, d, write_geometry_with);
            out.push(b'}');
            return;
        }
        // geo's extra types are written as the GeoJSON types they are.
        Geometry::Line(l) => {
            let line = LineString::new(vec![l.start, l.end]);
            return write_geometry_with(out, &Geometry::LineString(line), d);
        }
        Geometry::Rect(r) => {
            return write_geometry_with(out, &Geometry::Polygon(r.to_polygon()), d);
        }
        Geometry::Triangle(t) => {
            return write_geometry_with(out, &Geometry::Polygon(t.to_polygon()), d);
        }
        _ => {}
    }
    let kind = crate::geometry::type_name(g);
    let _ = write!(out, "{{\"type\":\"{kind}\",\"coordinates\":");
    match g {
        Geometry::Point(p) => write_coord(out, &p.0, d),
        Geometry::MultiPoint(m) => write_list(out, &m.0, d, |o, p, d| write_coord(o, &p.0, d)),
        Geometry::LineString(l) => write_line(out, l, d),
        Geometry::MultiLineString(m) => write_list(out, &m.0, d, write_line),
        Geometry::Polygon(p) => write_polygon(out, p, d),
        Geometry::MultiPolygon(m) => write_list(out, &m.0, d, write_polygon),
        _ => {}
    }
    out.push(b'}');
}

/// Writes a JSON string with escaping.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Writes a property value.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = serde_json::to_writer(&mut *out, f);
        }
        Value::Str(s) => write_str(out, s),
        Value::Date(d) => {
            let _ = write!(out, "\"{}\"", d.format("%Y-%m-%d"));
        }
    }
}

/// Writes a feature id: integers as numbers, text as strings.
pub fn write_id(out: &mut Vec<u8>, id: &FeatureId) {
    match id {
        FeatureId::Int(i) => {
            let _ = write!(out, "{i}");
        }
        FeatureId::Str(s) => write_str(out, s),
    }
}

/// Writes the opening of a FeatureCollection up to `"features":[`: `numberMatched` when
/// known, `numberReturned`, the time stamp and the links.
pub fn write_collection_head(
    out: &mut Vec<u8>,
    matched: Option<usize>,
    returned: usize,
    links: &[Link],
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"type\":\"FeatureCollection\"");
    if let Some(m) = matched {
        let _ = write!(out, ",\"numberMatched\":{m}");
    }
    let _ = write!(out, ",\"numberReturned\":{returned},\"timeStamp\":");
    write_str(
        out,
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    out.extend_from_slice(b",\"links\":");
    serde_json::to_writer(&mut *out, links)?;
    out.extend_from_slice(b",\"features\":[");
    Ok(())
}

/// Writes feature `i` of `layer` with only the attributes `attrs`. `extra`, if given, is
/// written as further members (e.g. `"links":[…]`) without a leading comma.
pub fn write_feature(
    out: &mut Vec<u8>,
    layer: &LayerView,
    i: usize,
    attrs: &[VisibleAttr],
    extra: Option<&[u8]>,
) {
    write_feature_in(out, layer, i, attrs, extra, RequestCrs::CRS84)
}

/// `write_feature` with the geometry in `crs` (Part 2), in its axis order.
pub fn write_feature_in(
    out: &mut Vec<u8>,
    layer: &LayerView,
    i: usize,
    attrs: &[VisibleAttr],
    extra: Option<&[u8]>,
    crs: RequestCrs,
) {
    out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
    write_id(out, layer.feature_id(i));
    out.extend_from_slice(b",\"geometry\":");
    if crs.is_crs84() {
        write_geometry(out, layer.geometry(i));
    } else {
        match crs.geometry_from_crs84(layer.geometry(i)) {
            Ok(g) => write_geometry_with(out, &g, crs.decimals()),
            // Only coordinates outside the CRS's domain fail (e.g. Web Mercator at a pole):
            // the feature is still listed, without a geometry, rather than breaking the stream.
            Err(e) => {
                tracing::warn!(layer = layer.id(), feature = %layer.feature_id(i), "{e}");
                out.extend_from_slice(b"null");
            }
        }
    }
    out.extend_from_slice(b",\"properties\":{");
    for (n, &a) in attrs.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, &layer.schema(a).name);
        out.push(b':');
        write_value(out, layer.value(i, a));
    }
    out.push(b'}');
    if let Some(extra) = extra {
        out.push(b',');
        out.extend_from_slice(extra);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> String {
        let mut o = Vec::new();
        write_number(&mut o, v);
        String::from_utf8(o).expect("utf8")
    }

    #[test]
    fn numbers_have_at_most_seven_decimals() {
        assert_eq!(num(139.1), "139.1");
        assert_eq!(num(139.123456789), "139.1234568");
        assert_eq!(num(-0.00000004), "0");
        assert_eq!(num(-35.5), "-35.5");
        assert_eq!(num(36.0), "36");
        assert_eq!(num(0.0000001), "0.0000001");
        let mut o = Vec::new();
        write_decimal(&mut o, -61234.56789, 3);
        assert_eq!(String::from_utf8(o).expect("utf8"), "-61234.568");
    }

    #[test]
    fn geometry_is_valid_geojson() {
        let poly = Polygon::new(
            LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]),
            vec![],
        );
        let mut o = Vec::new();
        write_geometry(&mut o, &Geometry::Polygon(poly));
        let v: serde_json::Value = serde_json::from_slice(&o).expect("json");
        assert_eq!(v["type"], "Polygon");
        assert_eq!(v["coordinates"][0].as_array().map(Vec::len), Some(4));
    }
}
