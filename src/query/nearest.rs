//! The k nearest features of a layer to a point, in metres on the ellipsoid.

use geo::{Coord, Distance, Geodesic, Geometry, Intersects, LineString, Point, Polygon};

use super::{Format, QueryError, bad, once, parse_format, parse_limit, parse_properties};
use crate::access::{LayerView, VisibleAttr};
use crate::config::ServerConfig;

/// `limit` of `/nearest` when the request gives none.
pub const DEFAULT_NEAREST_LIMIT: usize = 5;

/// WGS84 / GRS80 semi-major axis (m) and flattening; the two differ by 0.1 mm in the minor
/// axis, far below what matters here.
const A: f64 = 6_378_137.0;
const FLATTENING: f64 = 1.0 / 298.257_223_563;

/// Length of one degree of latitude at the equator, the smallest anywhere (the meridian is
/// flattest at the poles): a(1 − e²)·π/180 = 110 574.27 m, rounded down.
const MIN_METRES_PER_DEGREE_LAT: f64 = 110_574.0;

/// Safety factor on the lower bound for floating-point rounding.
const BOUND_SLACK: f64 = 0.9999;

/// A place given as `lon`/`lat`, CRS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub lon: f64,
    pub lat: f64,
}

impl Place {
    pub fn point(self) -> Point<f64> {
        Point::new(self.lon, self.lat)
    }
}

/// Reads one of `lon`/`lat`: a finite number within ±`range`.
fn parse_coordinate(param: &str, v: &str, range: f64) -> Result<f64, QueryError> {
    let x: f64 = v
        .trim()
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
        .ok_or_else(|| bad(param, format!("expected a number in degrees, got \"{v}\"")))?;
    if !(-range..=range).contains(&x) {
        return Err(bad(
            param,
            format!("must be within -{range}..{range} degrees, got {v}"),
        ));
    }
    Ok(x)
}

/// Collects `lon` and `lat` from the query: both required, CRS84 degrees.
#[derive(Debug, Default)]
pub(crate) struct PlaceParams {
    lon: Option<f64>,
    lat: Option<f64>,
}

impl PlaceParams {
    /// Takes `k=v` if it is `lon` or `lat`; `Ok(false)` for any other parameter.
    pub(crate) fn take(&mut self, k: &str, v: &str) -> Result<bool, QueryError> {
        match k {
            "lon" => self.lon = Some(parse_coordinate("lon", v, 180.0)?),
            "lat" => self.lat = Some(parse_coordinate("lat", v, 90.0)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub(crate) fn finish(self) -> Result<Place, QueryError> {
        let lon = self
            .lon
            .ok_or_else(|| bad("lon", "required: the longitude in degrees (CRS84)"))?;
        let lat = self
            .lat
            .ok_or_else(|| bad("lat", "required: the latitude in degrees (CRS84)"))?;
        Ok(Place { lon, lat })
    }
}

/// A validated `/collections/{id}/nearest` request.
#[derive(Debug, Clone, PartialEq)]
pub struct NearestQuery {
    pub place: Place,
    /// How many features at most (`limit`, default 5, clamped to the server's `max_limit`).
    pub limit: usize,
    /// `max-distance` in metres.
    pub max_distance: Option<f64>,
    /// Attributes to output; `None` is every visible attribute.
    pub properties: Option<Vec<VisibleAttr>>,
    pub format: Format,
}

impl NearestQuery {
    /// Parses decoded query pairs for `layer`; unknown parameters are errors.
    pub fn parse(
        pairs: &[(String, String)],
        layer: &LayerView,
        server: &ServerConfig,
        preferred: Format,
    ) -> Result<NearestQuery, QueryError> {
        let mut place = PlaceParams::default();
        let mut limit = DEFAULT_NEAREST_LIMIT.min(server.max_limit);
        let mut max_distance = None;
        let mut properties = None;
        let mut format = preferred;
        let mut seen = Vec::new();
        for (k, v) in pairs {
            once(&mut seen, k)?;
            if place.take(k, v)? {
                continue;
            }
            match k.as_str() {
                "limit" => limit = parse_limit(v, server.max_limit)?,
                "max-distance" => {
                    let m = v
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|m| m.is_finite() && *m >= 0.0)
                        .ok_or_else(|| {
                            bad(
                                "max-distance",
                                format!("expected a distance in metres (0 or more), got \"{v}\""),
                            )
                        })?;
                    max_distance = Some(m);
                }
                "properties" => properties = Some(parse_properties(v, layer)?),
                "f" => format = parse_format(v)?,
                other => return Err(bad(other, "unknown query parameter")),
            }
        }
        Ok(NearestQuery {
            place: place.finish()?,
            limit,
            max_distance,
            properties,
            format,
        })
    }

    /// The attributes to write: the requested properties, else all visible ones.
    pub fn output_attrs<'a>(&'a self, layer: &'a LayerView) -> &'a [VisibleAttr] {
        self.properties.as_deref().unwrap_or(layer.visible())
    }
}

/// One feature found near the place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Index of the feature in the layer.
    pub index: usize,
    /// Distance in metres.
    pub distance_m: f64,
}

/// The `k` features of `layer` nearest to `place`, nearest first, ties in layer order; with
/// `max_distance`, only features at most that many metres away.
///
/// The R-tree holds envelopes in degrees, and hands them out nearest envelope first. Degrees
/// are turned into a lower bound of metres: every path shorter than `D` metres from the place
/// stays within `D / 110 574` degrees of latitude of it (no degree of latitude is shorter
/// than 110 574 m), so in that band a degree of longitude is at least as long as at the band's
/// edge farthest from the equator, and the ground distance to a point `d` degrees away (in the
/// plane of lon/lat) is at least `d · min(m_lon, m_lat)`. The search stops at the first
/// envelope whose bound exceeds the k-th best distance found (or `max_distance`): no later
/// feature can beat, or tie, it. Distances do not wrap at the antimeridian.
pub fn nearest(
    layer: &LayerView,
    place: Place,
    k: usize,
    max_distance: Option<f64>,
) -> Vec<Neighbour> {
    let mut best: Vec<Neighbour> = Vec::with_capacity(k.min(1024) + 1);
    if k == 0 {
        return best;
    }
    let bound_of = |best: &[Neighbour]| {
        let kth = if best.len() == k {
            best[k - 1].distance_m
        } else {
            f64::INFINITY
        };
        kth.min(max_distance.unwrap_or(f64::INFINITY))
    };
    let mut bound = bound_of(&best);
    let mut scale = metres_per_degree_lower_bound(place.lat, bound);
    for (index, degrees) in layer.by_envelope_distance(place.lon, place.lat) {
        if bound.is_finite() && degrees * scale > bound {
            break;
        }
        let d = distance_m(layer.geometry(index), place);
        if d > bound {
            continue;
        }
        let at = best.partition_point(|n| (n.distance_m, n.index) < (d, index));
        best.insert(
            at,
            Neighbour {
                index,
                distance_m: d,
            },
        );
        best.truncate(k);
        let new_bound = bound_of(&best);
        if new_bound < bound {
            bound = new_bound;
            scale = metres_per_degree_lower_bound(place.lat, bound);
        }
    }
    best
}

/// Metres per degree (east, north) at latitude `lat` on the ellipsoid.
fn metres_per_degree(lat: f64) -> (f64, f64) {
    let e2 = FLATTENING * (2.0 - FLATTENING);
    let phi = lat.to_radians();
    let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
    let n = A / w;
    let m = A * (1.0 - e2) / (w * w * w);
    let k = std::f64::consts::PI / 180.0;
    (n * phi.cos() * k, m * k)
}

/// A lower bound of the metres per planar degree for anything within `within` metres of
/// latitude `lat` (see `nearest`); 0 when no bound holds (unbounded, or the band reaches a
/// pole).
fn metres_per_degree_lower_bound(lat: f64, within: f64) -> f64 {
    if !within.is_finite() {
        return 0.0;
    }
    let edge = lat.abs() + within / MIN_METRES_PER_DEGREE_LAT;
    if edge >= 90.0 {
        return 0.0;
    }
    let (m_lon, _) = metres_per_degree(edge);
    m_lon.min(MIN_METRES_PER_DEGREE_LAT) * BOUND_SLACK
}

/// A plane around the place: east and north metres, scaled by the ellipsoid's metres per
/// degree at the place. Straight lines in lon/lat stay straight in it.
struct LocalPlane {
    place: Place,
    kx: f64,
    ky: f64,
}

impl LocalPlane {
    fn new(place: Place) -> LocalPlane {
        let (kx, ky) = metres_per_degree(place.lat);
        LocalPlane { place, kx, ky }
    }

    fn to_plane(&self, c: Coord<f64>) -> (f64, f64) {
        (
            (c.x - self.place.lon) * self.kx,
            (c.y - self.place.lat) * self.ky,
        )
    }

    fn to_lonlat(&self, (x, y): (f64, f64)) -> Point<f64> {
        Point::new(self.place.lon + x / self.kx, self.place.lat + y / self.ky)
    }
}

/// The closest point to the place found so far, in the local plane, with its squared
/// planar distance.
struct Closest<'a> {
    plane: &'a LocalPlane,
    best: Option<((f64, f64), f64)>,
}

impl Closest<'_> {
    fn offer(&mut self, p: (f64, f64)) {
        let d2 = p.0 * p.0 + p.1 * p.1;
        if self.best.is_none_or(|(_, b)| d2 < b) {
            self.best = Some((p, d2));
        }
    }

    fn line(&mut self, line: &LineString<f64>) {
        let mut prev: Option<(f64, f64)> = None;
        for c in &line.0 {
            let b = self.plane.to_plane(*c);
            match prev {
                None => self.offer(b),
                Some(a) => self.offer(closest_on_segment(a, b)),
            }
            prev = Some(b);
        }
    }

    fn polygon(&mut self, p: &Polygon<f64>) {
        self.line(p.exterior());
        for r in p.interiors() {
            self.line(r);
        }
    }
}

/// The point of segment `a`–`b` nearest the origin.
fn closest_on_segment(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    if len2 == 0.0 {
        return a;
    }
    let t = (-(a.0 * dx + a.1 * dy) / len2).clamp(0.0, 1.0);
    (a.0 + t * dx, a.1 + t * dy)
}

/// Distance in metres from `place` to `geometry` on the WGS84 ellipsoid:
///
/// - to a point, the geodesic distance (Karney's algorithm, `geo::Geodesic`);
/// - to a line or a polygon's boundary, the closest point is found in a local plane around
///   the place (east/north metres scaled by the ellipsoid's radii of curvature at the place,
///   in which the lon/lat edges stay straight), and the distance is the geodesic distance to
///   that point. Over a few kilometres the plane picks the same point as the ellipsoid to well
///   under a centimetre, and the distance is always that of a real point of the geometry;
/// - 0 inside a polygon or on its boundary;
/// - to a multi-geometry or collection, the smallest distance to a member.
pub fn distance_m(geometry: &Geometry<f64>, place: Place) -> f64 {
    let p = place.point();
    match geometry {
        Geometry::Point(q) => Geodesic.distance(p, *q),
        Geometry::MultiPoint(m) => {
            m.0.iter()
                .map(|q| Geodesic.distance(p, *q))
                .fold(f64::INFINITY, f64::min)
        }
        Geometry::GeometryCollection(c) => {
            c.0.iter()
                .map(|g| distance_m(g, place))
                .fold(f64::INFINITY, f64::min)
        }
        g => {
            let areal = matches!(
                g,
                Geometry::Polygon(_)
                    | Geometry::MultiPolygon(_)
                    | Geometry::Rect(_)
                    | Geometry::Triangle(_)
            );
            if areal && g.intersects(&p) {
                return 0.0;
            }
            let plane = LocalPlane::new(place);
            let mut closest = Closest {
                plane: &plane,
                best: None,
            };
            match g {
                Geometry::Line(l) => closest.line(&LineString::new(vec![l.start, l.end])),
                Geometry::LineString(l) => closest.line(l),
                Geometry::MultiLineString(m) => m.0.iter().for_each(|l| closest.line(l)),
                Geometry::Polygon(poly) => closest.polygon(poly),
                Geometry::MultiPolygon(m) => m.0.iter().for_each(|poly| closest.polygon(poly)),
                Geometry::Rect(r) => closest.polygon(&r.to_polygon()),
                Geometry::Triangle(t) => closest.polygon(&t.to_polygon()),
                _ => {}
            }
            match closest.best {
                Some((q, _)) => Geodesic.distance(p, plane.to_lonlat(q)),
                None => f64::INFINITY,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, polygon};

    fn place(lon: f64, lat: f64) -> Place {
        Place { lon, lat }
    }

    #[test]
    fn a_degree_of_latitude_is_never_shorter_than_the_bound() {
        for lat in [0.0, 10.0, 36.0, 60.0, 89.0] {
            let (_, m_lat) = metres_per_degree(lat);
            assert!(m_lat >= MIN_METRES_PER_DEGREE_LAT, "{lat}: {m_lat}");
        }
        // Cross-checked with geo's geodesic: one degree of longitude at 36° N.
        let (m_lon, _) = metres_per_degree(36.0);
        let g = Geodesic.distance(Point::new(139.0, 36.0), Point::new(139.001, 36.0)) * 1000.0;
        assert!((m_lon - g).abs() < 0.5, "{m_lon} vs {g}");
    }

    #[test]
    fn distances_to_shapes() {
        let p = place(139.1, 36.0);
        let sq = Geometry::Polygon(polygon![
            (x: 139.09, y: 35.99), (x: 139.11, y: 35.99), (x: 139.11, y: 36.01), (x: 139.09, y: 36.01)
        ]);
        assert_eq!(distance_m(&sq, p), 0.0);
        // A north–south line 0.001° east: ~90 m at 36° N, the foot of the perpendicular.
        let line = Geometry::LineString(LineString::from(vec![(139.101, 35.9), (139.101, 36.1)]));
        let d = distance_m(&line, p);
        let expect = Geodesic.distance(p.point(), Point::new(139.101, 36.0));
        assert!((d - expect).abs() < 0.01, "{d} vs {expect}");
        // Beyond the end of a segment: the endpoint.
        let short =
            Geometry::LineString(LineString::from(vec![(139.101, 36.001), (139.101, 36.1)]));
        let expect = Geodesic.distance(p.point(), Point::new(139.101, 36.001));
        assert!((distance_m(&short, p) - expect).abs() < 1e-6);
    }

    #[test]
    fn the_bound_shrinks_toward_the_poles_and_vanishes_at_them() {
        let near = metres_per_degree_lower_bound(36.0, 1000.0);
        let far = metres_per_degree_lower_bound(36.0, 1_000_000.0);
        assert!(near > far && far > 0.0);
        assert_eq!(metres_per_degree_lower_bound(89.9, 100_000.0), 0.0);
        assert_eq!(metres_per_degree_lower_bound(36.0, f64::INFINITY), 0.0);
    }
}
