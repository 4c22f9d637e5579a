//! A feature's geometry made into tile geometry: projected onto the tile's grid, clipped to the
//! tile with its buffer, simplified, rounded to whole grid units, and valid after rounding
//! (MVT winding, no repeated points, no zero-area or self-intersecting rings).
//!
//! Polygons are clipped by `i_overlay` on the integer grid itself, so the rounding and the
//! clip are one step whose output is OGC-valid: rounding first and cleaning afterwards would
//! leave rings that touch or cross where two vertices rounded onto each other.

use geo::{BooleanOps, BoundingRect, ClosestPoint, Coord, Geometry, LineString, Polygon, Rect};
use geo::{Closest, Simplify};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::{IntOverlayOptions, Overlay, ShapeType};
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::core::solver::Solver;
use i_overlay::i_float::int::point::IntPoint;

use super::grid::{BUFFER, Grid};
use crate::encode::mvt::{EXTENT, GridGeometry, GridPoint};

/// How far a simplified line may stray from the source, grid units: half a pixel of a tile
/// drawn 512 pixels wide, as MapLibre draws vector tiles.
pub const TOLERANCE: f64 = 4.0;

/// Lowest and highest grid coordinate a feature may have: the tile with its buffer.
const LOW: f64 = -BUFFER;
const HIGH: f64 = EXTENT as f64 + BUFFER;

/// Beyond this many units from the tile, rings are cut before rounding, so that every
/// coordinate fits an `i32` even for a prefecture-wide polygon at zoom 24.
const FAR: f64 = (1u32 << 24) as f64;

/// `geometry` on the grid of one tile, or `None` when nothing of it lies in the tile with
/// its buffer (the caller chose it because it does, so only when it merely touches the edge).
///
/// A part that would round away (a polygon smaller than one grid unit, a sliver in the
/// buffer) is kept as the smallest shape the grid can draw at the nearest point of the
/// source, so a feature chosen for the tile never vanishes from it.
pub fn to_grid(geometry: &Geometry<f64>, grid: &Grid) -> Option<GridGeometry> {
    match geometry {
        Geometry::Point(p) => points(std::iter::once(p.0), grid),
        Geometry::MultiPoint(mp) => points(mp.iter().map(|p| p.0), grid),
        Geometry::LineString(l) => lines(std::slice::from_ref(l), grid),
        Geometry::MultiLineString(ml) => lines(&ml.0, grid),
        Geometry::Polygon(p) => polygons(std::slice::from_ref(p), grid),
        Geometry::MultiPolygon(mp) => polygons(&mp.0, grid),
        Geometry::Rect(r) => polygons(&[r.to_polygon()], grid),
        Geometry::Triangle(t) => polygons(&[t.to_polygon()], grid),
        Geometry::Line(l) => lines(&[LineString::new(vec![l.start, l.end])], grid),
        // Loading refuses collections (geometry::check); nothing to draw if one ever came.
        Geometry::GeometryCollection(_) => None,
    }
}

/// The extent of `geometry` on `grid` in grid units (width, height), for the low-zoom rule.
pub fn grid_size(geometry: &Geometry<f64>, grid: &Grid) -> Option<[f64; 2]> {
    let r = geometry.bounding_rect()?;
    let a = grid.project(r.min());
    let b = grid.project(r.max());
    Some([(b[0] - a[0]).abs(), (b[1] - a[1]).abs()])
}

fn inside(p: [f64; 2]) -> bool {
    (LOW..=HIGH).contains(&p[0]) && (LOW..=HIGH).contains(&p[1])
}

fn round(p: [f64; 2]) -> GridPoint {
    [p[0].round() as i32, p[1].round() as i32]
}

fn points(coords: impl Iterator<Item = Coord<f64>>, grid: &Grid) -> Option<GridGeometry> {
    let mut out: Vec<GridPoint> = Vec::new();
    for c in coords {
        let p = grid.project(c);
        if inside(p) {
            let q = round(p);
            // A multipoint whose parts round onto one point keeps it once.
            if !out.contains(&q) {
                out.push(q);
            }
        }
    }
    (!out.is_empty()).then_some(GridGeometry::Points(out))
}

fn lines(source: &[LineString<f64>], grid: &Grid) -> Option<GridGeometry> {
    let mut out = Vec::new();
    let mut first_inside: Option<[f64; 2]> = None;
    for line in source {
        let projected: Vec<[f64; 2]> = line.coords().map(|&c| grid.project(c)).collect();
        for piece in clip_path(&projected) {
            first_inside.get_or_insert(piece[0]);
            let simplified =
                LineString::from(piece.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
                    .simplify(TOLERANCE);
            let mut path: Vec<GridPoint> = Vec::with_capacity(simplified.0.len());
            for c in simplified.coords() {
                let q = round([c.x, c.y]);
                if path.last() != Some(&q) {
                    path.push(q);
                }
            }
            if path.len() >= 2 {
                out.push(path);
            }
        }
    }
    if out.is_empty() {
        // The part in the tile is shorter than a grid unit: one unit along x from where it is.
        let p = round(first_inside?);
        let step = if f64::from(p[0]) + 1.0 <= HIGH { 1 } else { -1 };
        out.push(vec![p, [p[0] + step, p[1]]]);
    }
    Some(GridGeometry::Lines(out))
}

/// The pieces of a path inside the buffered tile (Liang–Barsky on each segment, pieces joined
/// where consecutive segments meet inside).
fn clip_path(path: &[[f64; 2]]) -> Vec<Vec<[f64; 2]>> {
    let mut pieces: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut current: Vec<[f64; 2]> = Vec::new();
    for w in path.windows(2) {
        match clip_segment(w[0], w[1]) {
            Some((a, b, reaches_end)) => {
                if current.last() != Some(&a) {
                    if current.len() >= 2 {
                        pieces.push(std::mem::take(&mut current));
                    }
                    current.clear();
                    current.push(a);
                }
                current.push(b);
                if !reaches_end {
                    pieces.push(std::mem::take(&mut current));
                }
            }
            None => {
                if current.len() >= 2 {
                    pieces.push(std::mem::take(&mut current));
                }
                current.clear();
            }
        }
    }
    if current.len() >= 2 {
        pieces.push(current);
    } else if pieces.is_empty() && path.len() == 1 && inside(path[0]) {
        pieces.push(vec![path[0], path[0]]);
    }
    pieces
}

/// The part of segment `a`–`b` inside the buffered tile, and whether it reaches `b`.
fn clip_segment(a: [f64; 2], b: [f64; 2]) -> Option<([f64; 2], [f64; 2], bool)> {
    let d = [b[0] - a[0], b[1] - a[1]];
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-d[0], a[0] - LOW),
        (d[0], HIGH - a[0]),
        (-d[1], a[1] - LOW),
        (d[1], HIGH - a[1]),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| [a[0] + t * d[0], a[1] + t * d[1]];
    let start = if t0 == 0.0 { a } else { at(t0) };
    let end = if t1 == 1.0 { b } else { at(t1) };
    Some((start, end, t1 == 1.0))
}

fn polygons(source: &[Polygon<f64>], grid: &Grid) -> Option<GridGeometry> {
    let mut overlay = Overlay::new_custom(64, IntOverlayOptions::ogc(), Solver::default());
    // The exteriors on the grid, to place a part that rounds away.
    let mut projected: Vec<Polygon<f64>> = Vec::with_capacity(source.len());
    for polygon in source {
        let project = |ring: &LineString<f64>| -> Vec<[f64; 2]> {
            ring.coords().map(|&c| grid.project(c)).collect()
        };
        let exterior = project(polygon.exterior());
        projected.push(Polygon::new(
            exterior.iter().map(|p| (p[0], p[1])).collect(),
            vec![],
        ));
        let Some(outer) = grid_ring(&exterior) else {
            // The exterior rounds away, and its holes with it.
            continue;
        };
        overlay.add_contour(&outer, ShapeType::Subject);
        for hole in polygon.interiors() {
            if let Some(h) = grid_ring(&project(hole)) {
                overlay.add_contour(&h, ShapeType::Subject);
            }
        }
    }
    let tile = [
        IntPoint::new(LOW as i32, LOW as i32),
        IntPoint::new(HIGH as i32, LOW as i32),
        IntPoint::new(HIGH as i32, HIGH as i32),
        IntPoint::new(LOW as i32, HIGH as i32),
    ];
    overlay.add_contour(&tile, ShapeType::Clip);
    // Even-odd: the holes of a valid polygon are the rings it lies inside twice.
    let shapes = overlay.overlay(OverlayRule::Intersect, FillRule::EvenOdd);
    let mut rings: Vec<Vec<GridPoint>> = Vec::new();
    for shape in shapes {
        for (i, contour) in shape.into_iter().enumerate() {
            let mut ring: Vec<GridPoint> = contour.iter().map(|p| [p.x, p.y]).collect();
            if ring.len() < 3 {
                continue;
            }
            // MVT: exterior rings have positive area by the surveyor's formula in tile
            // coordinates (y down), holes negative.
            let exterior = i == 0;
            if (twice_area(&ring) > 0) != exterior {
                ring.reverse();
            }
            rings.push(ring);
        }
    }
    if rings.is_empty() {
        let p = round(nearest_inside(&projected)?);
        let p = [
            p[0].clamp(LOW as i32, HIGH as i32 - 1),
            p[1].clamp(LOW as i32, HIGH as i32 - 1),
        ];
        rings.push(vec![
            p,
            [p[0] + 1, p[1]],
            [p[0] + 1, p[1] + 1],
            [p[0], p[1] + 1],
        ]);
    }
    Some(GridGeometry::Polygons(rings))
}

/// A projected ring simplified and rounded onto the grid, without its closing point; `None`
/// when it rounds to fewer than three points. A narrow ring that simplification would flatten
/// (a sliver a few units wide) is only rounded, so it keeps its length instead of becoming
/// the one-unit square of a part that rounds away.
fn grid_ring(ring: &[[f64; 2]]) -> Option<Vec<IntPoint>> {
    simplified_ring(ring, TOLERANCE).or_else(|| simplified_ring(ring, 0.0))
}

fn simplified_ring(ring: &[[f64; 2]], tolerance: f64) -> Option<Vec<IntPoint>> {
    let far = ring.iter().any(|p| p[0].abs() > FAR || p[1].abs() > FAR);
    let cut;
    let ring = if far {
        cut = cut_far(ring);
        &cut
    } else {
        ring
    };
    let simplified =
        LineString::from(ring.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>()).simplify(tolerance);
    let mut out: Vec<IntPoint> = Vec::with_capacity(simplified.0.len());
    for c in simplified.coords() {
        let q = round([c.x, c.y]);
        let q = IntPoint::new(q[0], q[1]);
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    // Simplification that takes away half the area flattened the ring.
    let area = |r: &mut dyn Iterator<Item = [f64; 2]>| {
        let pts: Vec<[f64; 2]> = r.collect();
        let n = pts.len();
        (0..n)
            .map(|i| pts[i][0] * pts[(i + 1) % n][1] - pts[(i + 1) % n][0] * pts[i][1])
            .sum::<f64>()
            .abs()
    };
    if tolerance > 0.0 && out.len() >= 3 {
        let before = area(&mut ring.iter().copied());
        let after = area(&mut out.iter().map(|p| [f64::from(p.x), f64::from(p.y)]));
        if after < before / 2.0 {
            return None;
        }
    }
    (out.len() >= 3).then_some(out)
}

/// A ring cut to the square `FAR` units around the tile (Sutherland–Hodgman). The cut adds
/// edges along the square, far outside the tile, which the clip then removes.
fn cut_far(ring: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut out = ring.to_vec();
    for (axis, limit, keep_below) in [
        (0, FAR, true),
        (0, -FAR, false),
        (1, FAR, true),
        (1, -FAR, false),
    ] {
        let keep = |p: &[f64; 2]| {
            if keep_below {
                p[axis] <= limit
            } else {
                p[axis] >= limit
            }
        };
        let input = std::mem::take(&mut out);
        for (i, &p) in input.iter().enumerate() {
            let q = input[(i + 1) % input.len()];
            let cross = |a: [f64; 2], b: [f64; 2]| {
                let t = (limit - a[axis]) / (b[axis] - a[axis]);
                [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
            };
            match (keep(&p), keep(&q)) {
                (true, true) => out.push(q),
                (true, false) => out.push(cross(p, q)),
                (false, true) => {
                    out.push(cross(p, q));
                    out.push(q);
                }
                (false, false) => {}
            }
        }
        if out.is_empty() {
            break;
        }
    }
    out
}

/// A point of `polygons` (grid coordinates) inside the buffered tile, for polygons whose part
/// in the tile rounds away.
fn nearest_inside(polygons: &[Polygon<f64>]) -> Option<[f64; 2]> {
    let tile = Rect::new(Coord { x: LOW, y: LOW }, Coord { x: HIGH, y: HIGH }).to_polygon();
    for polygon in polygons {
        if let Some(c) = polygon
            .intersection(&tile)
            .0
            .first()
            .and_then(|p| p.exterior().0.first().copied())
        {
            return Some([c.x, c.y]);
        }
    }
    let centre = geo::Point::new(EXTENT as f64 / 2.0, EXTENT as f64 / 2.0);
    match polygons.first()?.closest_point(&centre) {
        Closest::Intersection(p) | Closest::SinglePoint(p) => {
            Some([p.x().clamp(LOW, HIGH), p.y().clamp(LOW, HIGH)])
        }
        Closest::Indeterminate => None,
    }
}

/// Twice the signed area of a ring by the surveyor's formula.
fn twice_area(ring: &[GridPoint]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1])
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use geo::{Validation, polygon};

    use super::super::grid::TileId;
    use super::*;

    fn tile() -> TileId {
        TileId {
            z: 16,
            x: 58_077,
            y: 25_794,
        }
    }

    /// Grid rings back as a `geo` polygon set, to be judged by `geo`'s validity rules (code
    /// apart from `i_overlay`'s).
    fn as_multipolygon(rings: &[Vec<GridPoint>]) -> geo::MultiPolygon<f64> {
        let mut polys: Vec<Polygon<f64>> = Vec::new();
        for r in rings {
            let ls: LineString<f64> = r
                .iter()
                .map(|p| (f64::from(p[0]), f64::from(p[1])))
                .collect();
            if twice_area(r) > 0 {
                polys.push(Polygon::new(ls, vec![]));
            } else if let Some(last) = polys.last_mut() {
                last.interiors_push(ls);
            }
        }
        geo::MultiPolygon(polys)
    }

    #[test]
    fn a_polygon_crossing_the_tile_is_cut_at_the_buffer_and_wound_for_mvt() {
        let t = tile();
        let grid = t.grid();
        let b = t.buffered_bounds();
        let (w, s, e, n) = (b.min().x, b.min().y, b.max().x, b.max().y);
        let (dx, dy) = (e - w, n - s);
        // A square from the tile's centre to far beyond its north-east corner, with a hole.
        let p = polygon!(
            exterior: [
                (x: w + dx / 2.0, y: s + dy / 2.0),
                (x: e + dx, y: s + dy / 2.0),
                (x: e + dx, y: n + dy),
                (x: w + dx / 2.0, y: n + dy),
            ],
            interiors: [[
                (x: w + dx * 0.6, y: s + dy * 0.6),
                (x: w + dx * 0.6, y: s + dy * 0.7),
                (x: w + dx * 0.7, y: s + dy * 0.7),
                (x: w + dx * 0.7, y: s + dy * 0.6),
            ]],
        );
        let Some(GridGeometry::Polygons(rings)) = to_grid(&Geometry::Polygon(p), &grid) else {
            panic!("a polygon in the tile");
        };
        assert_eq!(rings.len(), 2, "{rings:?}");
        assert!(twice_area(&rings[0]) > 0 && twice_area(&rings[1]) < 0);
        for p in rings.iter().flatten() {
            assert!(p.iter().all(|&v| (-64..=4160).contains(&v)), "{p:?}");
        }
        assert!(as_multipolygon(&rings).is_valid());
    }

    #[test]
    fn a_polygon_smaller_than_a_grid_unit_is_one_unit_square() {
        let t = tile();
        let grid = t.grid();
        let c = grid.unproject([1000.2, 2000.2]);
        let d = grid.unproject([1000.4, 2000.4]);
        let tiny = polygon![(x: c.x, y: c.y), (x: d.x, y: c.y), (x: d.x, y: d.y)];
        let Some(GridGeometry::Polygons(rings)) = to_grid(&Geometry::Polygon(tiny), &grid) else {
            panic!("the square");
        };
        assert_eq!(rings.len(), 1);
        assert_eq!(twice_area(&rings[0]), 2);
        assert!(rings[0].contains(&[1000, 2000]));
    }

    /// Thin random polygons whose vertices round onto each other: every output is valid.
    #[test]
    fn rounding_never_leaves_an_invalid_ring() {
        let t = tile();
        let grid = t.grid();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..300 {
            let (cx, cy) = (next() * 4096.0, next() * 4096.0);
            let n = 3 + (next() * 12.0) as usize;
            // A star-shaped ring (valid) of radius 0.5–40 units.
            let r = 0.5 + next() * 40.0;
            let mut ring: Vec<Coord<f64>> = (0..n)
                .map(|i| {
                    let a = i as f64 / n as f64 * std::f64::consts::TAU;
                    let k = 0.3 + next() * 0.7;
                    grid.unproject([cx + r * k * a.cos(), cy + r * k * a.sin()])
                })
                .collect();
            ring.push(ring[0]);
            let p = Polygon::new(LineString(ring), vec![]);
            let Some(GridGeometry::Polygons(rings)) = to_grid(&Geometry::Polygon(p), &grid) else {
                panic!("a polygon");
            };
            let mp = as_multipolygon(&rings);
            assert!(mp.is_valid(), "{rings:?}");
        }
    }

    #[test]
    fn a_line_leaving_the_tile_is_cut_at_the_buffer() {
        let t = tile();
        let grid = t.grid();
        let a = grid.unproject([100.0, 100.0]);
        let b = grid.unproject([9000.0, 100.0]);
        let line = LineString::from(vec![(a.x, a.y), (b.x, b.y)]);
        let Some(GridGeometry::Lines(lines)) = to_grid(&Geometry::LineString(line), &grid) else {
            panic!("a line");
        };
        assert_eq!(lines, vec![vec![[100, 100], [4160, 100]]]);
    }
}
