//! Geometry helpers in the local frame: paths (length, offset, sub-paths, snapping),
//! winding roads and trails, star-shaped and band polygons, multipolygon snapping, validity
//! checks and grid splitting for larger scales.

use anyhow::{Result, bail};
use geo::{
    Area, BooleanOps, BoundingRect, Intersects, LineString, MultiPolygon, Polygon, Validation,
};

use crate::geography::{HALF_H, HALF_W, Pt, gradient, in_town, pt};
use crate::rng::Rng;

pub(crate) fn dist(a: Pt, b: Pt) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

pub(crate) fn path_len(p: &[Pt]) -> f64 {
    p.windows(2).map(|w| dist(w[0], w[1])).sum()
}

/// Point at distance `d` along a path.
pub(crate) fn point_at(p: &[Pt], d: f64) -> Pt {
    let mut left = d.max(0.0);
    for w in p.windows(2) {
        let l = dist(w[0], w[1]);
        if left <= l && l > 0.0 {
            let t = left / l;
            return pt(
                w[0].x + (w[1].x - w[0].x) * t,
                w[0].y + (w[1].y - w[0].y) * t,
            );
        }
        left -= l;
    }
    p.last().copied().unwrap_or(pt(0.0, 0.0))
}

/// The part of a path between distances `d0` < `d1`.
pub(crate) fn sub_path(p: &[Pt], d0: f64, d1: f64) -> Vec<Pt> {
    let mut out = vec![point_at(p, d0)];
    let mut acc = 0.0;
    for w in p.windows(2) {
        acc += dist(w[0], w[1]);
        if acc > d0 + 1e-6 && acc < d1 - 1e-6 {
            out.push(w[1]);
        }
    }
    out.push(point_at(p, d1));
    out
}

/// A path shifted sideways by `d` (positive: to the left of the direction of travel).
pub(crate) fn offset_path(p: &[Pt], d: f64) -> Vec<Pt> {
    let normals: Vec<Pt> = p
        .windows(2)
        .map(|w| {
            let l = dist(w[0], w[1]).max(1e-9);
            pt(-(w[1].y - w[0].y) / l, (w[1].x - w[0].x) / l)
        })
        .collect();
    let n = p.len();
    p.iter()
        .enumerate()
        .map(|(i, &q)| {
            let m = if i == 0 {
                normals[0]
            } else if i == n - 1 {
                normals[n - 2]
            } else {
                let a = normals[i - 1];
                let b = normals[i];
                let s = pt(a.x + b.x, a.y + b.y);
                let l = s.x.hypot(s.y);
                if l < 1e-9 {
                    b
                } else {
                    let u = pt(s.x / l, s.y / l);
                    let k = 1.0 / (u.x * b.x + u.y * b.y).max(0.5);
                    pt(u.x * k, u.y * k)
                }
            };
            pt(q.x + m.x * d, q.y + m.y * d)
        })
        .collect()
}

pub(crate) fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// A path with its coordinates rounded and repeated points removed.
pub(crate) fn snap_path(p: &[Pt], decimals: i32) -> Vec<Pt> {
    let mut out: Vec<Pt> = Vec::with_capacity(p.len());
    for q in p {
        let s = pt(round_to(q.x, decimals), round_to(q.y, decimals));
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

/// Makes sure a line has at least three vertices (inserting the midpoint).
pub(crate) fn ensure_multi_vertex(mut p: Vec<Pt>, decimals: i32) -> Vec<Pt> {
    if p.len() == 2 {
        let m = pt(
            round_to((p[0].x + p[1].x) / 2.0, decimals),
            round_to((p[0].y + p[1].y) / 2.0, decimals),
        );
        p.insert(1, m);
    }
    p
}

/// Samples `f` from `t0` to `t1` (either direction) about every `step`.
pub(crate) fn trace(t0: f64, t1: f64, step: f64, f: impl Fn(f64) -> Pt) -> Vec<Pt> {
    let n = ((t1 - t0).abs() / step).ceil().max(2.0) as usize;
    (0..=n)
        .map(|i| f(t0 + (t1 - t0) * i as f64 / n as f64))
        .collect()
}

/// Smallest signed difference between two angles.
fn angle_diff(a: f64, b: f64) -> f64 {
    let mut d = a - b;
    while d > std::f64::consts::PI {
        d -= std::f64::consts::TAU;
    }
    while d < -std::f64::consts::PI {
        d += std::f64::consts::TAU;
    }
    d
}

/// A meandering road: its heading drifts smoothly at random and leans towards (or, with a
/// negative `uphill`, away from) the uphill direction. It stops at the town edge, where the road
/// carries on into the next municipality.
pub(crate) fn winding_path(
    rng: &mut Rng,
    start: Pt,
    heading: f64,
    steps: usize,
    step: f64,
    uphill: f64,
) -> Vec<Pt> {
    let mut out = vec![start];
    let mut h = heading;
    let mut turn = 0.0;
    let mut p = start;
    for _ in 0..steps {
        let (up, slope) = gradient(p);
        let pull = if slope > 0.02 {
            uphill * angle_diff(up, h)
        } else {
            0.0
        };
        turn = 0.6 * turn + rng.range(-0.2, 0.2);
        h += turn + pull;
        let next = pt(p.x + step * h.cos(), p.y + step * h.sin());
        if !in_town(next, 30.0) {
            break;
        }
        p = next;
        out.push(p);
    }
    out
}

/// A footpath from `start` to `goal`: it meanders, and zig-zags where the slope is steep.
pub(crate) fn trail(rng: &mut Rng, start: Pt, goal: Pt, step: f64, wiggle: f64) -> Vec<Pt> {
    let mut out = vec![start];
    let mut p = start;
    let mut h = (goal.y - start.y).atan2(goal.x - start.x);
    let mut zig = 1.0;
    for i in 0..2000 {
        if dist(p, goal) < step * 1.5 {
            break;
        }
        let mut want = (goal.y - p.y).atan2(goal.x - p.x);
        let (_, slope) = gradient(p);
        if slope > 0.25 && dist(p, goal) > 300.0 {
            if i % 6 == 0 {
                zig = -zig;
            }
            want += zig * 0.9;
        }
        h += 0.4 * angle_diff(want, h) + rng.range(-wiggle, wiggle);
        let mut next = pt(p.x + step * h.cos(), p.y + step * h.sin());
        if !in_town(next, 30.0) {
            h = (goal.y - p.y).atan2(goal.x - p.x);
            next = pt(p.x + step * h.cos(), p.y + step * h.sin());
        }
        p = next;
        out.push(p);
    }
    out.push(goal);
    out
}

/// A star-shaped polygon around `c`: an ellipse with semi-axes `a` (along `rot`) and `b`,
/// roughened by a few harmonics. `skew` > 0 stretches it towards `rot` (a fan or tongue).
/// Star-shaped about `c`, so it is simple and any shrink about `c` stays inside it.
pub(crate) struct Star {
    pub(crate) c: Pt,
    pub(crate) a: f64,
    pub(crate) b: f64,
    pub(crate) rot: f64,
    pub(crate) skew: f64,
    pub(crate) phase: [f64; 2],
}

impl Star {
    fn radius(&self, th: f64) -> f64 {
        let (s, c) = th.sin_cos();
        let r = self.a * self.b / ((self.b * c).powi(2) + (self.a * s).powi(2)).sqrt();
        let bumps =
            1.0 + 0.10 * (3.0 * th + self.phase[0]).sin() + 0.05 * (5.0 * th + self.phase[1]).sin();
        r * bumps * (1.0 + self.skew * c).max(0.3)
    }

    pub(crate) fn polygon(&self, scale: f64, n: usize) -> Polygon {
        let mut ring: Vec<Pt> = (0..n)
            .map(|i| {
                let th = std::f64::consts::TAU * i as f64 / n as f64;
                let r = self.radius(th) * scale;
                let (s, c) = (th + self.rot).sin_cos();
                pt(self.c.x + r * c, self.c.y + r * s)
            })
            .collect();
        if let Some(&first) = ring.first() {
            ring.push(first);
        }
        Polygon::new(LineString::new(ring), vec![])
    }

    pub(crate) fn random(rng: &mut Rng, c: Pt, a: f64, b: f64, rot: f64, skew: f64) -> Star {
        Star {
            c,
            a,
            b,
            rot,
            skew,
            phase: [rng.range(0.0, 6.3), rng.range(0.0, 6.3)],
        }
    }
}

pub(crate) fn rect_polygon(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon {
    Polygon::new(
        LineString::new(vec![
            pt(x0, y0),
            pt(x1, y0),
            pt(x1, y1),
            pt(x0, y1),
            pt(x0, y0),
        ]),
        vec![],
    )
}

pub(crate) fn town_rect() -> Polygon {
    rect_polygon(-HALF_W, -HALF_H, HALF_W, HALF_H)
}

/// A polygon between two offset curves of a frame: `frame(t, w)` gives the local point at
/// position `t` along the band and `w` across it; the band runs from `-right(t)` to `left(t)`,
/// narrowing to rounded ends.
pub(crate) fn band(
    frame: &dyn Fn(f64, f64) -> Pt,
    t0: f64,
    t1: f64,
    left: &dyn Fn(f64) -> f64,
    right: &dyn Fn(f64) -> f64,
) -> Polygon {
    let n = ((t1 - t0) / 50.0).ceil().max(2.0) as usize;
    let ts: Vec<f64> = (0..=n)
        .map(|i| t0 + (t1 - t0) * i as f64 / n as f64)
        .collect();
    let taper = |t: f64| {
        ((t - t0).min(t1 - t) / 250.0)
            .clamp(0.0, 1.0)
            .sqrt()
            .max(0.1)
    };
    let mut ring: Vec<Pt> = ts.iter().map(|&t| frame(t, left(t) * taper(t))).collect();
    ring.extend(ts.iter().rev().map(|&t| frame(t, -right(t) * taper(t))));
    if let Some(&first) = ring.first() {
        ring.push(first);
    }
    Polygon::new(LineString::new(ring), vec![])
}

/// Rounds every coordinate of a multipolygon (to keep shared edges identical after the
/// boolean operations' fixed-point round trip) and drops degenerate rings.
pub(crate) fn snap_multipolygon(mp: &MultiPolygon, decimals: i32) -> MultiPolygon {
    let snap_ring = |ls: &LineString| -> Option<LineString> {
        let mut pts = snap_path(&ls.0, decimals);
        if let Some(&f) = pts.first()
            && pts.last() != Some(&f)
        {
            pts.push(f);
        }
        (pts.len() >= 4).then(|| LineString::new(pts))
    };
    MultiPolygon::new(
        mp.0.iter()
            .filter_map(|p| {
                let ext = snap_ring(p.exterior())?;
                let holes = p.interiors().iter().filter_map(snap_ring).collect();
                Some(Polygon::new(ext, holes))
            })
            .collect(),
    )
}

pub(crate) fn check_valid(mp: &MultiPolygon, what: &str) -> Result<()> {
    if let Err(e) = mp.check_validation() {
        bail!("generated an invalid polygon for {what}: {e}");
    }
    Ok(())
}

/// Sort key that does not depend on the order boolean operations return parts in.
pub(crate) fn mp_key(mp: &MultiPolygon) -> (i64, i64) {
    mp.bounding_rect()
        .map(|r| ((r.min().x * 1000.0) as i64, (r.min().y * 1000.0) as i64))
        .unwrap_or((0, 0))
}

/// Cuts polygons along a `g` x `g` grid over their common extent (used for larger scales:
/// more, smaller features). Each piece keeps its parent's attributes.
pub(crate) fn split_grid<T: Clone>(
    items: Vec<(MultiPolygon, T)>,
    g: usize,
) -> Vec<(MultiPolygon, T)> {
    if g <= 1 {
        return items;
    }
    let mut ext: Option<geo::Rect> = None;
    for (mp, _) in &items {
        if let Some(r) = mp.bounding_rect() {
            ext = Some(match ext {
                None => r,
                Some(e) => geo::Rect::new(
                    pt(e.min().x.min(r.min().x), e.min().y.min(r.min().y)),
                    pt(e.max().x.max(r.max().x), e.max().y.max(r.max().y)),
                ),
            });
        }
    }
    let Some(ext) = ext else {
        return items;
    };
    let cw = ext.width() / g as f64;
    let ch = ext.height() / g as f64;
    let mut out = Vec::new();
    for (mp, attrs) in items {
        let Some(bb) = mp.bounding_rect() else {
            continue;
        };
        let i0 = (((bb.min().x - ext.min().x) / cw).floor().max(0.0)) as usize;
        let i1 = (((bb.max().x - ext.min().x) / cw).ceil() as usize).min(g);
        let j0 = (((bb.min().y - ext.min().y) / ch).floor().max(0.0)) as usize;
        let j1 = (((bb.max().y - ext.min().y) / ch).ceil() as usize).min(g);
        for j in j0..j1 {
            for i in i0..i1 {
                let x0 = ext.min().x + cw * i as f64;
                let y0 = ext.min().y + ch * j as f64;
                let cell = rect_polygon(x0, y0, x0 + cw, y0 + ch);
                let piece = snap_multipolygon(&mp.intersection(&cell), 3);
                if piece.unsigned_area() > 1.0 {
                    out.push((piece, attrs.clone()));
                }
            }
        }
    }
    out
}

/// Grid size for [`split_grid`] so that a polygon layer grows roughly with `scale`.
pub(crate) fn grid_for(scale: u32) -> usize {
    if scale <= 1 {
        1
    } else {
        ((f64::from(scale)).sqrt() * 5.5).round() as usize
    }
}

pub(crate) fn in_any(polys: &[&MultiPolygon], p: Pt) -> bool {
    polys.iter().any(|mp| mp.intersects(&geo::Point(p)))
}
