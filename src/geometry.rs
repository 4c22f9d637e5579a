//! Geometry rules every reader and writer shares: type names, well-formedness, the town's
//! extent and RFC 7946 ring orientation. Written once so a file, an edit and an encoder
//! agree on what a geometry is.

use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Coord, CoordsIter, Geometry, LineString, Polygon};

/// The GeoJSON / Simple Features type a geometry is (geo's `Line`, `Rect` and `Triangle` are
/// the line and polygons they are), as `GeometryKind::name` spells it.
pub fn type_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::LineString(_) | Geometry::Line(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// Checks what every reader must refuse: empty geometries, non-finite coordinates, lines with
/// fewer than two points and rings with fewer than four or that are not closed.
pub fn check(g: &Geometry<f64>) -> Result<(), String> {
    if g.coords_count() == 0 {
        return Err("geometry is empty".into());
    }
    if let Some(c) = g
        .coords_iter()
        .find(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return Err(format!(
            "coordinate ({}, {}) is not a finite number",
            c.x, c.y
        ));
    }
    let line = |l: &LineString<f64>| {
        if l.0.len() < 2 {
            Err(format!(
                "line has {} point(s); at least 2 are needed",
                l.0.len()
            ))
        } else {
            Ok(())
        }
    };
    let ring = |r: &LineString<f64>, what: &str| {
        if r.0.len() < 4 {
            Err(format!(
                "polygon {what} ring has {} point(s); at least 4 are needed",
                r.0.len()
            ))
        } else if !r.is_closed() {
            Err(format!("polygon {what} ring is not closed"))
        } else {
            Ok(())
        }
    };
    let polygon = |p: &Polygon<f64>| {
        ring(p.exterior(), "exterior")?;
        p.interiors().iter().try_for_each(|r| ring(r, "interior"))
    };
    match g {
        Geometry::LineString(l) => line(l),
        Geometry::MultiLineString(m) => m.0.iter().try_for_each(line),
        Geometry::Polygon(p) => polygon(p),
        Geometry::MultiPolygon(m) => m.0.iter().try_for_each(polygon),
        Geometry::GeometryCollection(c) => c.0.iter().try_for_each(check),
        _ => Ok(()),
    }
}

/// Where a CRS84 geometry lies (the centre of its envelope) when it is not within
/// `[west, south, east, north]` widened by `margin` degrees; `None` when it is inside.
pub fn outside_extent(
    g: &Geometry<f64>,
    [w, s, e, n]: [f64; 4],
    margin: f64,
) -> Option<Coord<f64>> {
    let r = g.bounding_rect()?;
    let m = margin;
    let inside =
        r.min().x >= w - m && r.max().x <= e + m && r.min().y >= s - m && r.max().y <= n + m;
    (!inside).then(|| r.center())
}

/// RFC 7946 §3.1.6: exterior rings counterclockwise, holes clockwise.
pub fn right_hand_rule(g: Geometry<f64>) -> Geometry<f64> {
    match g {
        Geometry::Polygon(p) => Geometry::Polygon(p.orient(Direction::Default)),
        Geometry::MultiPolygon(m) => Geometry::MultiPolygon(m.orient(Direction::Default)),
        Geometry::GeometryCollection(c) => {
            Geometry::GeometryCollection(c.into_iter().map(right_hand_rule).collect())
        }
        other => other,
    }
}
