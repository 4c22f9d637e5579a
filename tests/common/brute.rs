//! Geometry worked out by hand for brute-force references: Vincenty distances on WGS84, ray
//! casting for "inside", and sampled distances to lines. It shares no code with the server
//! (nor with the `geo` crate), so a reference computed here is independent of what it checks.

use super::geojson::{Geometry, Position};

/// Vincenty's inverse formula on WGS84: metres between two lon/lat points.
pub fn vincenty(p: impl Into<Position>, q: impl Into<Position>) -> f64 {
    let (p, q): (Position, Position) = (p.into(), q.into());
    let a = 6_378_137.0_f64;
    let f = 1.0 / 298.257_223_563;
    let b = a * (1.0 - f);
    let l = (q[0] - p[0]).to_radians();
    let u1 = ((1.0 - f) * p[1].to_radians().tan()).atan();
    let u2 = ((1.0 - f) * q[1].to_radians().tan()).atan();
    let (su1, cu1, su2, cu2) = (u1.sin(), u1.cos(), u2.sin(), u2.cos());
    let mut lambda = l;
    let (mut ss, mut cs, mut sigma, mut c2a, mut c2sm);
    let mut iterations = 0;
    loop {
        let (sl, cl) = (lambda.sin(), lambda.cos());
        ss = ((cu2 * sl).powi(2) + (cu1 * su2 - su1 * cu2 * cl).powi(2)).sqrt();
        if ss == 0.0 {
            return 0.0;
        }
        cs = su1 * su2 + cu1 * cu2 * cl;
        sigma = ss.atan2(cs);
        let sa = cu1 * cu2 * sl / ss;
        c2a = 1.0 - sa * sa;
        c2sm = if c2a == 0.0 {
            0.0
        } else {
            cs - 2.0 * su1 * su2 / c2a
        };
        let c = f / 16.0 * c2a * (4.0 + f * (4.0 - 3.0 * c2a));
        let prev = lambda;
        lambda = l
            + (1.0 - c) * f * sa * (sigma + c * ss * (c2sm + c * cs * (-1.0 + 2.0 * c2sm * c2sm)));
        iterations += 1;
        if (lambda - prev).abs() < 1e-12 || iterations > 200 {
            break;
        }
    }
    let u2sq = c2a * (a * a - b * b) / (b * b);
    let big_a = 1.0 + u2sq / 16384.0 * (4096.0 + u2sq * (-768.0 + u2sq * (320.0 - 175.0 * u2sq)));
    let big_b = u2sq / 1024.0 * (256.0 + u2sq * (-128.0 + u2sq * (74.0 - 47.0 * u2sq)));
    let ds = big_b
        * ss
        * (c2sm
            + big_b / 4.0
                * (cs * (-1.0 + 2.0 * c2sm * c2sm)
                    - big_b / 6.0 * c2sm * (-3.0 + 4.0 * ss * ss) * (-3.0 + 4.0 * c2sm * c2sm)));
    b * big_a * (sigma - ds)
}

/// Ray casting, even-odd over all `rings` together: whether `p` is inside (points exactly on
/// an edge may go either way; they are at distance 0 from the edge anyway). Exact for a
/// polygon's rings, and for disjoint polygons taken together.
pub fn in_rings<'a, P>(p: P, rings: impl IntoIterator<Item = &'a [P]>) -> bool
where
    P: Copy + Into<[f64; 2]> + 'a,
{
    let p: [f64; 2] = p.into();
    let mut inside = false;
    for ring in rings {
        for w in ring.windows(2) {
            let (a, b): ([f64; 2], [f64; 2]) = (w[0].into(), w[1].into());
            if (a[1] > p[1]) != (b[1] > p[1])
                && p[0] < a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0])
            {
                inside = !inside;
            }
        }
    }
    inside
}

/// Inside one ring.
pub fn in_ring<P: Copy + Into<[f64; 2]>>(p: P, ring: &[P]) -> bool {
    in_rings(p, [ring])
}

/// Whether `p` is inside one of the geometry's polygons (in its exterior, in none of its holes).
pub fn inside(p: impl Into<Position>, g: &Geometry) -> bool {
    let p: Position = p.into();
    g.polygons
        .iter()
        .any(|rings| in_ring(p, &rings[0]) && !rings[1..].iter().any(|h| in_ring(p, h)))
}

/// Whether the closed segments a–b and c–d meet (orientation test).
pub fn segments_cross(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let orient = |p: [f64; 2], q: [f64; 2], r: [f64; 2]| {
        ((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])).signum()
    };
    orient(a, b, c) * orient(a, b, d) <= 0.0 && orient(c, d, a) * orient(c, d, b) <= 0.0
}

/// Whether `p` is in the closed box `[x0, y0, x1, y1]`.
pub fn in_box(p: [f64; 2], b: &[f64; 4]) -> bool {
    p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]
}

/// Whether a geometry meets the closed box `[x0, y0, x1, y1]`: a vertex in the box, an edge
/// (of a line or ring) crossing the box's edges, or the box inside the rings (even-odd over
/// all rings together, which is exact for single polygons and disjoint multipolygons).
pub fn box_meets(g: &Geometry, b: &[f64; 4]) -> bool {
    let corners = [[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]]];
    g.coords().any(|p| in_box(*p, b))
        || g.paths().any(|path| {
            path.windows(2).any(|w| {
                (0..4).any(|i| segments_cross(w[0], w[1], corners[i], corners[(i + 1) % 4]))
            })
        })
        || in_rings(corners[0], g.rings().map(Vec::as_slice))
}

pub fn lerp(a: Position, b: Position, t: f64) -> Position {
    [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
}

/// The smallest distance from `p` to the segment `a`–`b` (straight in lon/lat), by sampling
/// 64 points, then twice 64 points around the best one.
pub fn segment_distance(p: Position, a: Position, b: Position) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    let mut best = (f64::INFINITY, 0.0);
    for _ in 0..3 {
        let n = 64;
        for k in 0..=n {
            let t = lo + (hi - lo) * k as f64 / n as f64;
            let d = vincenty(p, lerp(a, b, t));
            if d < best.0 {
                best = (d, t);
            }
        }
        let step = (hi - lo) / n as f64;
        lo = (best.1 - step).max(0.0);
        hi = (best.1 + step).min(1.0);
    }
    best.0
}

/// Distances from `p` to every feature, with a lower bound for each so the exact distance is
/// only worked out where it matters.
pub struct Brute<'a> {
    pub shapes: &'a [Geometry],
    pub p: Position,
}

impl Brute<'_> {
    /// A lower bound of the distance from `p` to the edge `a`–`b`: the triangle inequality
    /// (d(p,a) + d(p,b) − length) / 2, with slack for the lon/lat edge being a hair longer
    /// than the geodesic.
    fn edge_bound(&self, a: Position, b: Position) -> f64 {
        let (da, db) = (vincenty(self.p, a), vincenty(self.p, b));
        let len = vincenty(a, b);
        ((da + db - len * 1.001) / 2.0 - 0.01).max(0.0)
    }

    /// The distance from `p` to the nearest of feature `i`'s points (infinite when it has
    /// none), or `None` when `p` is inside one of its polygons.
    fn outside(&self, i: usize) -> Option<f64> {
        let s = &self.shapes[i];
        (!inside(self.p, s)).then(|| {
            s.points
                .iter()
                .map(|q| vincenty(self.p, *q))
                .fold(f64::INFINITY, f64::min)
        })
    }

    /// A lower bound of the distance from `p` to feature `i`: 0 inside, else the least
    /// [`Self::edge_bound`] over its edges (a path of one vertex: the distance to it).
    pub fn lower_bound(&self, i: usize) -> f64 {
        let Some(points) = self.outside(i) else {
            return 0.0;
        };
        self.shapes[i]
            .paths()
            .flat_map(|path| {
                let single = (path.len() == 1).then(|| vincenty(self.p, path[0]));
                path.windows(2)
                    .map(|w| self.edge_bound(w[0], w[1]))
                    .chain(single)
            })
            .fold(points, f64::min)
    }

    pub fn exact(&self, i: usize) -> f64 {
        let Some(mut best) = self.outside(i) else {
            return 0.0;
        };
        for path in self.shapes[i].paths() {
            // Edges in order of their lower bound; stop once none can beat the best.
            let mut edges: Vec<(f64, usize)> = path
                .windows(2)
                .enumerate()
                .map(|(k, w)| (self.edge_bound(w[0], w[1]), k))
                .collect();
            edges.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (lb, k) in edges {
                if lb > best {
                    break;
                }
                best = best.min(segment_distance(self.p, path[k], path[k + 1]));
            }
            if path.len() == 1 {
                best = best.min(vincenty(self.p, path[0]));
            }
        }
        best
    }
}
