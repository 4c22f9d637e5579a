//! The area a `bbox` selects: parsed (in CRS84 or a `bbox-crs`) into CRS84 rectangles and, for
//! a projected box, its exact outline; and the R-tree search for the features a set of
//! rectangles can hold.

use geo::{Coord, Geometry, Intersects, LineString, Polygon, Rect};

use crate::access::LayerView;
use crate::crs::RequestCrs;

use super::{QueryError, bad};

/// The area a `bbox` selects, in CRS84.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// One rectangle, or two when the box crosses the antimeridian. For a box given in a
    /// projected `bbox-crs` this is the envelope of `exact`.
    pub rects: Vec<Rect<f64>>,
    /// A box given in a projected CRS is not a rectangle in longitude and latitude: its
    /// outline, densified, is tested exactly.
    pub exact: Option<Polygon<f64>>,
}

impl Area {
    fn of_rects(rects: Vec<Rect<f64>>) -> Area {
        Area { rects, exact: None }
    }

    /// Whether `g` meets the area: its exact outline when it has one, else one of its
    /// rectangles.
    pub fn meets(&self, g: &Geometry<f64>) -> bool {
        match &self.exact {
            Some(p) => g.intersects(p),
            None => self.rects.iter().any(|r| g.intersects(r)),
        }
    }

    /// `meets` for a geometry `candidates` found by `rects`, which it has already tested
    /// against them exactly: only the exact outline, if any, remains to test.
    pub fn meets_candidate(&self, g: &Geometry<f64>) -> bool {
        self.exact.as_ref().is_none_or(|p| g.intersects(p))
    }
}

/// The features that can meet `rects` (all of them for `None`), in layer order. Each one's
/// geometry intersects one of the rects (`LayerView::intersecting` tests it exactly).
pub fn candidates(
    layer: &LayerView,
    rects: Option<Vec<Rect<f64>>>,
) -> Box<dyn Iterator<Item = usize>> {
    match rects {
        None => Box::new(0..layer.len()),
        Some(rects) if rects.len() == 1 => Box::new(layer.intersecting(&rects[0]).into_iter()),
        Some(rects) => {
            let mut all: Vec<usize> = rects.iter().flat_map(|r| layer.intersecting(r)).collect();
            all.sort_unstable();
            all.dedup();
            Box::new(all.into_iter())
        }
    }
}

/// The numbers of a `bbox`, all finite.
fn bbox_numbers(v: &str) -> Result<Vec<f64>, QueryError> {
    v.split(',')
        .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| {
            bad(
                "bbox",
                format!("expected 4 or 6 comma-separated numbers, got \"{v}\""),
            )
        })
}

/// `bbox`: `minLon,minLat,maxLon,maxLat` or with heights (6 numbers), in CRS84.
pub fn parse_bbox(v: &str) -> Result<Vec<Rect<f64>>, QueryError> {
    let [lo, hi] = bbox_corners(v)?;
    lonlat_rects(lo, hi)
}

/// The lower and upper corner of a `bbox` (4 numbers, or 6 with heights, which are dropped),
/// each as (first axis, second axis) of its CRS.
fn bbox_corners(v: &str) -> Result<[Coord<f64>; 2], QueryError> {
    let nums = bbox_numbers(v)?;
    let c = |x: f64, y: f64| Coord { x, y };
    match nums.as_slice() {
        [a, b, d, e] | [a, b, _, d, e, _] => Ok([c(*a, *b), c(*d, *e)]),
        _ => wrong_count(v, nums.len()),
    }
}

/// The CRS84 rectangles of a box from its south-west to its north-east corner: two when the
/// west edge lies east of the east edge, as the box then crosses the antimeridian.
fn lonlat_rects(sw: Coord<f64>, ne: Coord<f64>) -> Result<Vec<Rect<f64>>, QueryError> {
    let ((x1, y1), (x2, y2)) = ((sw.x, sw.y), (ne.x, ne.y));
    if !(-180.0..=180.0).contains(&x1) || !(-180.0..=180.0).contains(&x2) {
        return Err(bad("bbox", "longitudes must be within -180..180"));
    }
    if !(-90.0..=90.0).contains(&y1) || !(-90.0..=90.0).contains(&y2) {
        return Err(bad("bbox", "latitudes must be within -90..90"));
    }
    if y1 > y2 {
        return Err(bad(
            "bbox",
            "the lower latitude is greater than the upper latitude",
        ));
    }
    if x1 <= x2 {
        Ok(vec![Rect::new((x1, y1), (x2, y2))])
    } else {
        Ok(vec![
            Rect::new((x1, y1), (180.0, y2)),
            Rect::new((-180.0, y1), (x2, y2)),
        ])
    }
}

/// `bbox` in `crs` (`bbox-crs`), in the CRS's axis order: lower corner then upper corner.
pub fn parse_bbox_in(v: &str, crs: RequestCrs) -> Result<Area, QueryError> {
    if crs.is_crs84() {
        return parse_bbox(v).map(Area::of_rects);
    }
    let [lo, hi] = bbox_corners(v)?;
    let to84 = |x: f64, y: f64| {
        crs.to_crs84(Coord { x, y }).map_err(|_| {
            bad(
                "bbox",
                format!("({x}, {y}) is outside the area of {}", crs.uri()),
            )
        })
    };
    if crs.is_geographic() {
        // Latitude-first geographic CRSs hold the same numbers as CRS84, axes swapped.
        return lonlat_rects(to84(lo.x, lo.y)?, to84(hi.x, hi.y)?).map(Area::of_rects);
    }
    if lo.x > hi.x || lo.y > hi.y {
        return Err(bad(
            "bbox",
            format!(
                "the lower corner ({}, {}) must not exceed the upper corner ({}, {}) in {}",
                lo.x,
                lo.y,
                hi.x,
                hi.y,
                crs.uri()
            ),
        ));
    }
    // A projected box: its outline, densified so the curved edges in degrees are followed
    // to well under a centimetre at municipal scale.
    const STEPS: usize = 32;
    let corners = [
        (lo.x, lo.y),
        (hi.x, lo.y),
        (hi.x, hi.y),
        (lo.x, hi.y),
        (lo.x, lo.y),
    ];
    let mut ring = Vec::with_capacity(4 * STEPS + 1);
    for w in corners.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        for s in 0..STEPS {
            let t = s as f64 / STEPS as f64;
            ring.push(to84(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)?);
        }
    }
    ring.push(ring[0]);
    let (mut min, mut max) = (ring[0], ring[0]);
    for c in &ring {
        min = Coord {
            x: min.x.min(c.x),
            y: min.y.min(c.y),
        };
        max = Coord {
            x: max.x.max(c.x),
            y: max.y.max(c.y),
        };
    }
    Ok(Area {
        rects: vec![Rect::new(min, max)],
        exact: Some(Polygon::new(LineString::new(ring), vec![])),
    })
}

fn wrong_count<T>(v: &str, n: usize) -> Result<T, QueryError> {
    Err(bad(
        "bbox",
        format!("expected 4 or 6 comma-separated numbers, got {n} in \"{v}\""),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_forms() {
        assert_eq!(parse_bbox("139,35,140,36").expect("ok").len(), 1);
        assert_eq!(
            parse_bbox("139,35,0,140,36,100").expect("ok")[0].max().x,
            140.0
        );
        assert_eq!(parse_bbox("170,-10,-170,10").expect("ok").len(), 2);
        let e = parse_bbox("1,2,x,4").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bbox: expected 4 or 6 comma-separated numbers, got \"1,2,x,4\""
        );
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("0,50,1,40").is_err());
        assert!(parse_bbox("0,0,1,91").is_err());
    }
}
