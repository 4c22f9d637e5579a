//! Sample data: a deterministic generator of みどり野町 (Midorino-machi), a fictional town in
//! 埼玉県秩父郡, with ten layers delivered the way Japanese municipal departments really deliver
//! them (Shift_JIS shapefiles, old-style GeoJSON with a `crs` member, FlatGeobuf, ledger CSVs with
//! plane coordinates in X=northing / Y=easting, the national recommended evacuation-site CSV
//! layout …) plus the `catalog.toml` that describes them.
//!
//! Everything is laid out in a local frame (metres east / north of the town centre, lon 139.10
//! lat 36.02) and placed in JGD2011 plane rectangular zone IX (EPSG:6677); PROJ converts to
//! geographic coordinates for the layers delivered in degrees. `machimap sample` and the
//! benchmarks (benches/query.rs) call [`generate`].

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail, ensure};
use chrono::{Datelike, Days, NaiveDate};
use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geo::{Area, BooleanOps, BoundingRect, Contains, Coord, LineString, MultiPolygon, Polygon};
use geo::{Intersects, Validation, unary_union};
use geozero::{ColumnValue, PropertyProcessor};

/// What [`generate`] wrote: every layer id with its feature count, in catalog order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    pub layers: Vec<(String, usize)>,
}

/// Writes the sample town into `dir` (created if needed): every layer's source file and
/// `catalog.toml`.
///
/// `scale` 1 is the committed sample (well under 3 MB). Larger scales multiply feature counts for
/// benchmarks: the ledger-like layers (roads, water mains, valves, repairs, support persons) grow
/// by `5 * scale - 4`, the others by `scale`, so scale 50 gives about 280 000 features. The same
/// scale always gives byte-identical output.
pub fn generate(dir: &Path, scale: u32) -> Result<GenerateSummary> {
    ensure!(scale >= 1, "scale must be at least 1");
    let big = (5 * scale as usize).saturating_sub(4);
    let small = scale as usize;
    let frame = Frame::new()?;
    for sub in [
        "zoning", "roads", "water", "hazard", "shelters", "tourism", "welfare",
    ] {
        fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
    }

    let zoning = build_zoning(scale)?;
    write_zoning(dir, &frame, &zoning)?;

    let roads = build_roads(150 * big, scale)?;
    write_roads(dir, &frame, &roads)?;

    let mains = build_mains(&roads, 400 * big, scale)?;
    write_mains(dir, &frame, &mains)?;

    let valves = build_valves(&mains, 300 * big, scale)?;
    write_valves(dir, &frame, &valves)?;

    let repairs = build_repairs(&mains, &valves, 200 * big, scale)?;
    write_repairs(dir, &frame, &repairs)?;

    let floods = build_floods(scale)?;
    write_floods(dir, &frame, &floods)?;

    let slides = build_landslides(40 * small, scale)?;
    write_landslides(dir, &frame, &slides)?;

    let shelters = build_shelters(&floods, &slides, 25 * small, scale)?;
    write_shelters(dir, &frame, &shelters)?;

    let hikes = build_hiking(8 * small, scale)?;
    write_hiking(dir, &frame, &hikes)?;

    let people = build_support(&roads, 60 * big, scale)?;
    write_support(dir, &frame, &people)?;

    let summary = GenerateSummary {
        layers: vec![
            ("zoning".into(), zoning.len()),
            ("roads".into(), roads.len()),
            ("water-mains".into(), mains.len()),
            ("water-valves".into(), valves.len()),
            ("repair-history".into(), repairs.len()),
            ("flood-zones".into(), floods.len()),
            ("landslide-zones".into(), slides.len()),
            ("shelters".into(), shelters.len()),
            ("hiking-courses".into(), hikes.len()),
            ("evacuation-support".into(), people.len()),
        ],
    };
    write_file(&dir.join("catalog.toml"), catalog_toml().as_bytes())?;
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------
// Constants of the town
// ---------------------------------------------------------------------------------------------

const MUNI_CODE: &str = "119997";
const MUNI_NAME: &str = "みどり野町";
const ADDRESS_PREFIX: &str = "埼玉県秩父郡みどり野町";
/// Town centre, JGD2011 degrees.
const CENTRE_LON: f64 = 139.10;
const CENTRE_LAT: f64 = 36.02;
/// Half extents of the town in the local frame (metres).
const HALF_W: f64 = 4000.0;
const HALF_H: f64 = 3000.0;
/// Date written into DBF headers (a real writer would put "today"; fixed for reproducibility).
const DBF_DATE: (u8, u8, u8) = (126, 4, 1);

const PRJ_JGD2011_IX: &str = r#"PROJCS["JGD_2011_Japan_Zone_9",GEOGCS["GCS_JGD_2011",DATUM["D_JGD_2011",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",139.8333333333333],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",36.0],UNIT["Meter",1.0]]"#;
const PRJ_JGD2000_IX: &str = r#"PROJCS["JGD_2000_Japan_Zone_9",GEOGCS["GCS_JGD_2000",DATUM["D_JGD_2000",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",0.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",139.8333333333333],PARAMETER["Scale_Factor",0.9999],PARAMETER["Latitude_Of_Origin",36.0],UNIT["Meter",1.0]]"#;
const PRJ_JGD2011_GEO: &str = r#"GEOGCS["GCS_JGD_2011",DATUM["D_JGD_2011",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------------

/// splitmix64: tiny, fast and the same everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    /// One independent stream per layer, so changing one layer leaves the others alone.
    fn new(stream: &str, scale: u32) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in stream.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h ^ u64::from(scale).wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `lo..=hi`.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// Uniform index below `n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// Index drawn with the given relative weights.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut r = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len().saturating_sub(1)
    }

    fn date(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days().max(0);
        let off = self.int(0, span) as u64;
        from.checked_add_days(Days::new(off)).unwrap_or(from)
    }
}

fn ymd(y: i32, m: u32, d: u32) -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| anyhow!("bad date {y}-{m}-{d}"))
}

// ---------------------------------------------------------------------------------------------
// Geography: the local frame, the river valley and the terrain
// ---------------------------------------------------------------------------------------------

type Pt = Coord<f64>;

fn pt(x: f64, y: f64) -> Pt {
    Coord { x, y }
}

/// Local frame <-> EPSG:6677 <-> JGD2011 degrees.
struct Frame {
    /// EPSG:6677 easting / northing of the local origin (whole metres).
    cx: f64,
    cy: f64,
    to_lonlat: proj::Proj,
    to_jgd2000: proj::Proj,
}

impl Frame {
    fn new() -> Result<Frame> {
        let to_plane = proj::Proj::new_known_crs("OGC:CRS84", "EPSG:6677", None)
            .map_err(|e| anyhow!("PROJ cannot set up OGC:CRS84 -> EPSG:6677: {e}"))?;
        let (cx, cy) = to_plane
            .convert((CENTRE_LON, CENTRE_LAT))
            .map_err(|e| anyhow!("PROJ conversion failed: {e}"))?;
        let to_lonlat = proj::Proj::new_known_crs("EPSG:6677", "OGC:CRS84", None)
            .map_err(|e| anyhow!("PROJ cannot set up EPSG:6677 -> OGC:CRS84: {e}"))?;
        let to_jgd2000 = proj::Proj::new_known_crs("EPSG:6677", "EPSG:2451", None)
            .map_err(|e| anyhow!("PROJ cannot set up EPSG:6677 -> EPSG:2451: {e}"))?;
        Ok(Frame {
            cx: cx.round(),
            cy: cy.round(),
            to_lonlat,
            to_jgd2000,
        })
    }

    /// EPSG:6677 (easting, northing) of a local point.
    fn plane(&self, p: Pt) -> Pt {
        pt(self.cx + p.x, self.cy + p.y)
    }

    /// JGD2011 (lon, lat) of a local point.
    fn lonlat(&self, p: Pt) -> Result<Pt> {
        let (lon, lat) = self
            .to_lonlat
            .convert((self.cx + p.x, self.cy + p.y))
            .map_err(|e| anyhow!("PROJ conversion failed: {e}"))?;
        Ok(pt(lon, lat))
    }

    /// JGD2000 zone IX (EPSG:2451) easting / northing of a local point.
    fn jgd2000(&self, p: Pt) -> Result<Pt> {
        let (x, y) = self
            .to_jgd2000
            .convert((self.cx + p.x, self.cy + p.y))
            .map_err(|e| anyhow!("PROJ conversion failed: {e}"))?;
        Ok(pt(x, y))
    }
}

/// Northing of the 緑川 centreline at local easting `x`: it comes out of the gorge in the
/// south-west and swings north-east past the town centre.
fn river_y(x: f64) -> f64 {
    -300.0 + 0.15 * x + 220.0 * (x / 1100.0).sin()
}

/// Local point of valley-frame coordinates: `u` along the valley (= easting), `v` metres north
/// of the river centreline (negative: south bank).
fn fxy(u: f64, v: f64) -> Pt {
    pt(u, river_y(u) + v)
}

/// Metres north of the river centreline.
fn bank(p: Pt) -> f64 {
    p.y - river_y(p.x)
}

/// Where the tributary 沢入川 joins from the north.
const CONFLUENCE_X: f64 = 1500.0;

/// Easting of the 沢入川 centreline at local northing `y` (north of the confluence).
fn trib_x(y: f64) -> f64 {
    let t = y - river_y(CONFLUENCE_X);
    CONFLUENCE_X + 220.0 * (t / 650.0).sin() - 0.12 * t
}

/// Ground elevation (m) of a local point: about 230 m in the valley, hills to the north,
/// steep mountains to the south and west.
fn elevation(p: Pt) -> f64 {
    let base = 225.0 - 0.006 * p.x;
    let d = bank(p);
    let mut e = base;
    if d > 0.0 {
        e += 0.04 * d + 0.00002 * d * d;
        let td = (p.x - trib_x(p.y)).abs();
        e -= 60.0 * (-td / 400.0).exp() * (d / 1500.0).min(1.0);
    } else {
        let dd = -d;
        e += 0.07 * dd + 0.00011 * dd * dd;
    }
    // Western mountains; the gorge floor itself stays low.
    let w = (-p.x - 1800.0).max(0.0);
    e += 0.00007 * w * w * (d.abs() / 400.0).min(1.0);
    let relief = ((e - base) / 200.0).clamp(0.0, 1.0);
    e + 25.0 * (p.x / 310.0).sin() * (p.y / 270.0).cos() * relief
}

/// Uphill direction (radians) and slope (rise / run) at a point.
fn gradient(p: Pt) -> (f64, f64) {
    let h = 10.0;
    let gx = (elevation(pt(p.x + h, p.y)) - elevation(pt(p.x - h, p.y))) / (2.0 * h);
    let gy = (elevation(pt(p.x, p.y + h)) - elevation(pt(p.x, p.y - h))) / (2.0 * h);
    (gy.atan2(gx), gx.hypot(gy))
}

fn in_town(p: Pt, margin: f64) -> bool {
    p.x.abs() <= HALF_W - margin && p.y.abs() <= HALF_H - margin
}

/// Hamlets (大字) outside the built-up valley.
struct Hamlet {
    name: &'static str,
    at: Pt,
}

fn hamlets() -> Vec<Hamlet> {
    vec![
        Hamlet {
            name: "上郷",
            at: pt(-3400.0, river_y(-3400.0) + 200.0),
        },
        Hamlet {
            name: "沢入",
            at: pt(trib_x(2300.0) + 100.0, 2300.0),
        },
        Hamlet {
            name: "大滝",
            at: pt(-900.0, -2100.0),
        },
        Hamlet {
            name: "日向",
            at: pt(3300.0, -800.0),
        },
        Hamlet {
            name: "峰",
            at: pt(-2300.0, -2200.0),
        },
    ]
}

/// District (町 or 大字) name of a local point, for addresses and road names.
fn district(p: Pt) -> &'static str {
    let v = bank(p);
    if v < -100.0 {
        if p.x > 2600.0 || v < -900.0 && p.x > 1000.0 {
            "日向"
        } else if v < -900.0 && p.x < -1600.0 {
            "峰"
        } else if v < -800.0 {
            "大滝"
        } else {
            "南町"
        }
    } else if p.x < -2700.0 {
        "上郷"
    } else if v > 1850.0 {
        if p.x > 700.0 { "沢入" } else { "城山" }
    } else if v > 900.0 {
        if p.x > 2500.0 { "東原" } else { "緑が丘" }
    } else if p.x < -600.0 {
        "上町"
    } else if p.x < 800.0 {
        "本町"
    } else if p.x < 2500.0 {
        "下町"
    } else {
        "東原"
    }
}

/// Whether a district is an urban 町 (addresses in 丁目) rather than a rural 大字.
fn is_urban_district(name: &str) -> bool {
    matches!(name, "本町" | "上町" | "下町" | "緑が丘" | "南町")
}

/// A plausible address for a local point.
fn address(p: Pt, rng: &mut Rng) -> String {
    let d = district(p);
    if is_urban_district(d) {
        let chome = rng.int(1, 6);
        let ban = rng.int(1, 25);
        let go = rng.int(1, 20);
        format!("{ADDRESS_PREFIX}{d}{chome}丁目{ban}番{go}号")
    } else {
        format!("{ADDRESS_PREFIX}大字{d}{}番地", rng.int(1, 2400))
    }
}

// ---------------------------------------------------------------------------------------------
// Geometry helpers
// ---------------------------------------------------------------------------------------------

fn dist(a: Pt, b: Pt) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

fn path_len(p: &[Pt]) -> f64 {
    p.windows(2).map(|w| dist(w[0], w[1])).sum()
}

/// Point at distance `d` along a path.
fn point_at(p: &[Pt], d: f64) -> Pt {
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
fn sub_path(p: &[Pt], d0: f64, d1: f64) -> Vec<Pt> {
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
fn offset_path(p: &[Pt], d: f64) -> Vec<Pt> {
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

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// A path with its coordinates rounded and repeated points removed.
fn snap_path(p: &[Pt], decimals: i32) -> Vec<Pt> {
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
fn ensure_multi_vertex(mut p: Vec<Pt>, decimals: i32) -> Vec<Pt> {
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
fn trace(t0: f64, t1: f64, step: f64, f: impl Fn(f64) -> Pt) -> Vec<Pt> {
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
fn winding_path(
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
fn trail(rng: &mut Rng, start: Pt, goal: Pt, step: f64, wiggle: f64) -> Vec<Pt> {
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
struct Star {
    c: Pt,
    a: f64,
    b: f64,
    rot: f64,
    skew: f64,
    phase: [f64; 2],
}

impl Star {
    fn radius(&self, th: f64) -> f64 {
        let (s, c) = th.sin_cos();
        let r = self.a * self.b / ((self.b * c).powi(2) + (self.a * s).powi(2)).sqrt();
        let bumps =
            1.0 + 0.10 * (3.0 * th + self.phase[0]).sin() + 0.05 * (5.0 * th + self.phase[1]).sin();
        r * bumps * (1.0 + self.skew * c).max(0.3)
    }

    fn polygon(&self, scale: f64, n: usize) -> Polygon {
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

    fn random(rng: &mut Rng, c: Pt, a: f64, b: f64, rot: f64, skew: f64) -> Star {
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

fn rect_polygon(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon {
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

fn town_rect() -> Polygon {
    rect_polygon(-HALF_W, -HALF_H, HALF_W, HALF_H)
}

/// A polygon between two offset curves of a frame: `frame(t, w)` gives the local point at
/// position `t` along the band and `w` across it; the band runs from `-right(t)` to `left(t)`,
/// narrowing to rounded ends.
fn band(
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
fn snap_multipolygon(mp: &MultiPolygon, decimals: i32) -> MultiPolygon {
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

fn check_valid(mp: &MultiPolygon, what: &str) -> Result<()> {
    if let Err(e) = mp.check_validation() {
        bail!("generated an invalid polygon for {what}: {e}");
    }
    Ok(())
}

/// Sort key that does not depend on the order boolean operations return parts in.
fn mp_key(mp: &MultiPolygon) -> (i64, i64) {
    mp.bounding_rect()
        .map(|r| ((r.min().x * 1000.0) as i64, (r.min().y * 1000.0) as i64))
        .unwrap_or((0, 0))
}

/// Cuts polygons along a `g` x `g` grid over their common extent (used for larger scales:
/// more, smaller features). Each piece keeps its parent's attributes.
fn split_grid<T: Clone>(items: Vec<(MultiPolygon, T)>, g: usize) -> Vec<(MultiPolygon, T)> {
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
fn grid_for(scale: u32) -> usize {
    if scale <= 1 {
        1
    } else {
        ((f64::from(scale)).sqrt() * 5.5).round() as usize
    }
}

fn in_any(polys: &[&MultiPolygon], p: Pt) -> bool {
    polys.iter().any(|mp| mp.intersects(&geo::Point(p)))
}

// ---------------------------------------------------------------------------------------------
// 1. Zoning (用途地域)
// ---------------------------------------------------------------------------------------------

/// The 13 use districts in 用途コード order, with a typical 建ぺい率 / 容積率.
const YOUTO: [(&str, i64, i64); 13] = [
    ("第一種低層住居専用地域", 50, 80),
    ("第二種低層住居専用地域", 60, 100),
    ("第一種中高層住居専用地域", 60, 200),
    ("第二種中高層住居専用地域", 60, 200),
    ("第一種住居地域", 60, 200),
    ("第二種住居地域", 60, 200),
    ("準住居地域", 60, 200),
    ("田園住居地域", 50, 100),
    ("近隣商業地域", 80, 300),
    ("商業地域", 80, 400),
    ("準工業地域", 60, 200),
    ("工業地域", 60, 200),
    ("工業専用地域", 60, 200),
];

struct ZoningFeature {
    geom: MultiPolygon,
    code: u8,
    kenpei: i64,
    youseki: i64,
    decided: NaiveDate,
}

/// 用途コード (1..13) of a zoning cell centred at valley-frame (`u`, `v`), or `None` outside
/// the zoned area (rivers, mountains, farmland).
fn zone_rule(u: f64, v: f64) -> Option<u8> {
    let within = |u0: f64, u1: f64, v0: f64, v1: f64| u >= u0 && u < u1 && v >= v0 && v < v1;
    if v.abs() < 100.0 || !(-2600.0..3000.0).contains(&u) {
        return None;
    }
    // Boundaries wander: they follow streets and plot lines, not straight lines.
    let w1 = 70.0 * (u / 430.0 + 0.5).sin() + 40.0 * (u / 170.0 + 1.7).sin();
    let w2 = 60.0 * (u / 380.0 + 2.1).sin() + 30.0 * (u / 150.0).sin();
    let uu = u + 80.0 * (v / 310.0 + 0.9).sin();
    let vv = v + w1;
    let disk = |cu: f64, cv: f64, r: f64| (u - cu).hypot(v - cv) < r;
    if v > 0.0 {
        let north_limit = if u < 1700.0 { 1800.0 } else { 1500.0 };
        if v >= north_limit + 0.5 * w2 {
            return None;
        }
        // Offset from 中央通り's line (which runs at v = 400 + 40 sin(u / 700)).
        let road = v - 40.0 * (u / 700.0).sin();
        let code = if (-300.0..700.0).contains(&uu) && v >= 150.0 && v < 650.0 + 0.5 * w2 {
            10
        } else if disk(-1500.0, 1350.0, 160.0) {
            9 // shops in the middle of the detached-house estate: a hole in it
        } else if disk(-2050.0, 1450.0, 170.0) {
            3 // a public housing estate (団地) on the hill: another hole
        } else if (-1600.0..1700.0).contains(&u) && (300.0..500.0).contains(&road)
            || within(100.0, 300.0, 650.0, 1150.0)
        {
            9 // roadside shops along 中央通り and 駅前線
        } else if (2500.0..3000.0).contains(&uu) && v < 600.0 + w2 {
            12
        } else if (-1300.0..2500.0).contains(&uu) && v < 250.0 + 0.5 * w1 {
            11
        } else if (1700.0..2500.0).contains(&uu) && vv < 700.0
            || within(1950.0, 2150.0, 700.0, 1400.0)
        {
            7 // along the eastern trunk road
        } else if disk(1250.0, 700.0, 130.0) || (-2400.0..-1600.0).contains(&uu) && vv < 700.0 {
            6
        } else if (-1600.0..1700.0).contains(&uu) && vv < 900.0 {
            5
        } else if (-900.0..1700.0).contains(&uu) && vv < 1150.0 {
            4
        } else if (-900.0..1700.0).contains(&uu) && vv < 1400.0
            || (-2400.0..-900.0).contains(&uu) && vv < 1000.0
        {
            3
        } else if (1700.0..2500.0).contains(&uu) {
            2
        } else if uu >= 2500.0 || u < -2400.0 {
            8
        } else {
            1
        };
        Some(code)
    } else {
        if v < -700.0 + 0.5 * w2 || u < -900.0 {
            return None;
        }
        let code =
            if within(1700.0, 2300.0, -600.0, -150.0) || within(2600.0, 3000.0, -550.0, -150.0) {
                13
            } else if u >= 1000.0 {
                12
            } else if uu >= 500.0 {
                if v >= -500.0 {
                    11
                } else {
                    return None;
                }
            } else if vv >= -450.0 {
                3
            } else {
                1
            };
        Some(code)
    }
}

fn build_zoning(scale: u32) -> Result<Vec<ZoningFeature>> {
    let mut rng = Rng::new("zoning", scale);
    let cell = 100.0;
    let (u0, v0) = (-2600.0, -800.0);
    let (nu, nv) = (56usize, 26usize);
    // Lattice nodes: valley frame with a gentle warp so district edges curve like streets do.
    let node = |i: usize, j: usize| -> Pt {
        let u = u0 + cell * i as f64;
        let v = v0 + cell * j as f64;
        let du = 25.0 * (v / 380.0 + 1.3).sin() + 12.0 * (u / 230.0).sin();
        let dv = 25.0 * (u / 470.0 + 0.4).sin() + 10.0 * (v / 290.0).sin();
        let p = fxy(u + du, v + dv);
        pt(round_to(p.x, 3), round_to(p.y, 3))
    };
    let mut cells: Vec<Vec<Polygon>> = vec![Vec::new(); 14];
    for j in 0..nv {
        for i in 0..nu {
            let cu = u0 + cell * (i as f64 + 0.5);
            let cv = v0 + cell * (j as f64 + 0.5);
            if let Some(code) = zone_rule(cu, cv) {
                let ring = vec![
                    node(i, j),
                    node(i + 1, j),
                    node(i + 1, j + 1),
                    node(i, j + 1),
                    node(i, j),
                ];
                cells[code as usize].push(Polygon::new(LineString::new(ring), vec![]));
            }
        }
    }
    let decisions = [
        ymd(1973, 12, 25)?,
        ymd(1989, 3, 31)?,
        ymd(1996, 5, 10)?,
        ymd(2004, 11, 16)?,
        ymd(2012, 6, 29)?,
        ymd(2019, 3, 29)?,
    ];
    let mut items: Vec<(MultiPolygon, u8)> = Vec::new();
    for code in 1..=13u8 {
        let merged = snap_multipolygon(&unary_union(cells[code as usize].iter()), 3);
        check_valid(&merged, "zoning")?;
        ensure!(!merged.0.is_empty(), "zoning: no area for code {code}");
        if code == 13 {
            // The industrial park is one decision in two separate parts: one multipolygon.
            ensure!(
                merged.0.len() >= 2,
                "zoning: 工業専用地域 should have two parts"
            );
            items.push((merged, code));
        } else {
            for p in merged.0 {
                items.push((MultiPolygon::new(vec![p]), code));
            }
        }
    }
    ensure!(
        items
            .iter()
            .any(|(mp, _)| mp.0.iter().any(|p| !p.interiors().is_empty())),
        "zoning: expected a district with a hole"
    );
    items.sort_by_key(|(mp, code)| (*code, mp_key(mp)));
    let items = split_grid(items, grid_for(scale));
    for (mp, _) in &items {
        check_valid(mp, "zoning")?;
    }
    let mut out = Vec::with_capacity(items.len());
    for (geom, code) in items {
        let (_, mut kenpei, mut youseki) = YOUTO[code as usize - 1];
        if code == 1 && rng.chance(0.4) {
            kenpei = 40;
            youseki = 60;
        } else if code == 3 && rng.chance(0.3) {
            youseki = 150;
        } else if code == 5 && rng.chance(0.3) {
            youseki = 300;
        }
        let decided = if code == 8 {
            ymd(2020, 3, 27)? // 田園住居地域 exists only since 2018
        } else {
            decisions[rng.below(decisions.len())]
        };
        out.push(ZoningFeature {
            geom,
            code,
            kenpei,
            youseki,
            decided,
        });
    }
    Ok(out)
}

fn write_zoning(dir: &Path, frame: &Frame, zones: &[ZoningFeature]) -> Result<()> {
    let shapes = zones
        .iter()
        .map(|z| shp_polygon(&z.geom, |p| Ok(frame.plane(p))))
        .collect::<Result<Vec<_>>>()?;
    let fields = [
        DbfField::num("ID", 6),
        DbfField::text("用途地域", 40),
        DbfField::num("用途コード", 2),
        DbfField::num("建ぺい率", 3),
        DbfField::num("容積率", 3),
        DbfField::date("決定年月日"),
    ];
    let rows: Vec<Vec<DbfValue>> = zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            vec![
                DbfValue::Int(i as i64 + 1),
                DbfValue::Str(YOUTO[z.code as usize - 1].0.to_string()),
                DbfValue::Int(i64::from(z.code)),
                DbfValue::Int(z.kenpei),
                DbfValue::Int(z.youseki),
                DbfValue::Date(z.decided),
            ]
        })
        .collect();
    write_shapefile(
        &dir.join("zoning/youto_chiiki.shp"),
        &shapes,
        &fields,
        &rows,
        PRJ_JGD2011_IX,
        true,
    )
}

// ---------------------------------------------------------------------------------------------
// 2. Roads (市道)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoadClass {
    First,
    Second,
    Other,
}

impl RoadClass {
    fn label(self) -> &'static str {
        match self {
            RoadClass::First => "1級市道",
            RoadClass::Second => "2級市道",
            RoadClass::Other => "その他市道",
        }
    }
    fn prefix(self) -> u8 {
        match self {
            RoadClass::First => 1,
            RoadClass::Second => 2,
            RoadClass::Other => 3,
        }
    }
}

struct Road {
    no: String,
    name: String,
    class: RoadClass,
    width: f64,
    /// Parts in local coordinates rounded to cm; more than one: MultiLineString.
    parts: Vec<Vec<Pt>>,
    repair_year: i64,
}

impl Road {
    fn length(&self) -> f64 {
        self.parts.iter().map(|p| path_len(p)).sum()
    }
}

/// Named 1級 routes: the town's trunk roads.
fn trunk_roads() -> Vec<(&'static str, Vec<Pt>)> {
    let pass_start = fxy(100.0, -300.0);
    vec![
        (
            "中央通り線",
            trace(-2600.0, 3000.0, 80.0, |u| {
                fxy(u, 400.0 + 40.0 * (u / 700.0).sin())
            }),
        ),
        (
            "川沿い線",
            trace(-3500.0, 3800.0, 100.0, |u| {
                fxy(u, 130.0 + 10.0 * (u / 400.0).sin())
            }),
        ),
        (
            "駅前線",
            trace(320.0, 1750.0, 60.0, |v| {
                fxy(200.0 + 60.0 * (v / 300.0).sin(), v)
            }),
        ),
        (
            "緑野大橋線",
            trace(-650.0, 750.0, 50.0, |v| {
                fxy(-300.0 + 30.0 * (v / 250.0).sin(), v)
            }),
        ),
        (
            "東部幹線",
            trace(-650.0, 1500.0, 60.0, |v| {
                fxy(2050.0 + 100.0 * (v / 400.0).sin(), v)
            }),
        ),
        (
            "上町線",
            trace(-2600.0, -300.0, 80.0, |u| {
                fxy(u, 900.0 + 30.0 * (u / 350.0).sin())
            }),
        ),
        (
            "緑が丘線",
            trace(-2400.0, 2500.0, 80.0, |u| {
                fxy(u, 1350.0 + 50.0 * (u / 500.0).sin())
            }),
        ),
        (
            "南岸線",
            trace(-1000.0, 3200.0, 80.0, |u| {
                fxy(u, -300.0 - 20.0 * (u / 450.0).sin())
            }),
        ),
        (
            "大滝線",
            trace(-2600.0, -3950.0, 80.0, |u| {
                fxy(u, 250.0 + 100.0 * (u / 500.0).sin())
            }),
        ),
        (
            "峠線",
            trace(0.0, 1.0, 0.01, |t| {
                pt(
                    pass_start.x + 220.0 * (6.0 * std::f64::consts::PI * t).sin() + 200.0 * t,
                    pass_start.y - (pass_start.y + 2880.0) * t,
                )
            }),
        ),
        (
            "沢入線",
            trace(540.0, 2950.0, 70.0, |y| pt(trib_x(y) + 90.0, y)),
        ),
        (
            "城山線",
            trace(0.0, 1.0, 1.0 / 30.0, |t| {
                fxy(
                    -900.0 - 800.0 * t + 80.0 * (5.0 * t).sin(),
                    900.0 + 1500.0 * t,
                )
            }),
        ),
    ]
}

fn build_roads(target: usize, scale: u32) -> Result<Vec<Road>> {
    let mut rng = Rng::new("roads", scale);
    let mut name_counter: Vec<(&'static str, u32)> = Vec::new();
    let mut next_name = |p: Pt| -> String {
        let d = district(p);
        let n = match name_counter.iter_mut().find(|(k, _)| *k == d) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                name_counter.push((d, 1));
                1
            }
        };
        format!("{d}{n}号線")
    };
    let mut raw: Vec<(String, RoadClass, Vec<Vec<Pt>>)> = Vec::new();

    // 1級: trunk roads.
    for (name, path) in trunk_roads() {
        raw.push((name.to_string(), RoadClass::First, vec![path]));
    }

    // 2級: collectors across the valley and winding roads up to the hamlets.
    let n_second = (target as f64 * 0.22).round() as usize;
    let hamlets = hamlets();
    for _ in 0..n_second {
        if rng.chance(0.55) {
            let u = rng.range(-2400.0, 2800.0);
            let south = rng.chance(0.4);
            let v0 = if south {
                rng.range(-650.0, -250.0)
            } else {
                rng.range(150.0, 400.0)
            };
            let v1 = rng.range(900.0, 1750.0);
            let amp = rng.range(10.0, 60.0);
            let period = rng.range(200.0, 500.0);
            let path = trace(v0, v1, 60.0, |v| fxy(u + amp * (v / period).sin(), v));
            let name = next_name(path[path.len() / 2]);
            if south && rng.chance(0.4) {
                // No bridge: the route stops at both banks (a two-part MultiLineString).
                let south_part: Vec<Pt> = path
                    .iter()
                    .copied()
                    .filter(|p| bank(*p) <= -100.0)
                    .collect();
                let north_part: Vec<Pt> =
                    path.iter().copied().filter(|p| bank(*p) >= 100.0).collect();
                if south_part.len() >= 3 && north_part.len() >= 3 {
                    raw.push((name, RoadClass::Second, vec![south_part, north_part]));
                    continue;
                }
            }
            raw.push((name, RoadClass::Second, vec![path]));
        } else {
            let start = if rng.chance(0.5) {
                let h = &hamlets[rng.below(hamlets.len())];
                pt(
                    h.at.x + rng.range(-150.0, 150.0),
                    h.at.y + rng.range(-150.0, 150.0),
                )
            } else if rng.chance(0.5) {
                fxy(rng.range(-3500.0, 3700.0), 130.0)
            } else {
                fxy(rng.range(-1000.0, 3200.0), -300.0)
            };
            let (up, _) = gradient(start);
            let steps = rng.int(10, 28) as usize;
            let step = rng.range(70.0, 110.0);
            let heading = up + rng.range(-0.8, 0.8);
            let path = winding_path(&mut rng, start, heading, steps, step, 0.25);
            if path.len() >= 3 {
                let name = next_name(path[path.len() / 2]);
                raw.push((name, RoadClass::Second, vec![path]));
            }
        }
    }

    // その他: the street grid of the built-up area plus short roads in the hamlets.
    let n_other = target.saturating_sub(raw.len());
    let n_hamlet = (n_other as f64 * 0.15).round() as usize;
    let n_grid = n_other - n_hamlet;
    let areas = [
        (-2500.0, 2900.0, 150.0, 1700.0),
        (-900.0, 3000.0, -650.0, -150.0),
    ];
    let area: f64 = areas.iter().map(|a| (a.1 - a.0) * (a.3 - a.2)).sum();
    let mut spacing = (2.0 * area / (3.5 * 1.3 * n_grid.max(1) as f64)).sqrt();
    let mut runs: Vec<Vec<Pt>>;
    loop {
        runs = Vec::new();
        for (k, &(ua, ub, va, vb)) in areas.iter().enumerate() {
            grid_runs(&mut rng, k as u64, (ua, ub, va, vb), spacing, &mut runs);
        }
        if runs.len() >= n_grid || spacing < 2.0 {
            break;
        }
        spacing *= 0.9;
    }
    // Not every lattice line is a municipal road: keep a random subset, in lattice order.
    let mut idx: Vec<usize> = (0..runs.len()).collect();
    for i in 0..idx.len() {
        let j = i + rng.below(idx.len() - i);
        idx.swap(i, j);
    }
    let mut keep: Vec<usize> = idx.into_iter().take(n_grid).collect();
    keep.sort_unstable();
    for i in keep {
        let path = std::mem::take(&mut runs[i]);
        let name = next_name(path[path.len() / 2]);
        raw.push((name, RoadClass::Other, vec![path]));
    }
    for _ in 0..n_hamlet {
        let h = &hamlets[rng.below(hamlets.len())];
        let start = pt(
            h.at.x + rng.range(-250.0, 250.0),
            h.at.y + rng.range(-250.0, 250.0),
        );
        let steps = rng.int(4, 10) as usize;
        let heading = rng.range(0.0, std::f64::consts::TAU);
        let step = rng.range(50.0, 80.0);
        let path = winding_path(&mut rng, start, heading, steps, step, 0.0);
        if path.len() >= 3 {
            let name = next_name(path[path.len() / 2]);
            raw.push((name, RoadClass::Other, vec![path]));
        }
    }

    let mut counters = [0u32; 3];
    let mut roads = Vec::with_capacity(raw.len());
    for (name, class, parts) in raw {
        let parts: Vec<Vec<Pt>> = parts
            .iter()
            .map(|p| ensure_multi_vertex(snap_path(p, 2), 2))
            .filter(|p| p.len() >= 3)
            .collect();
        if parts.is_empty() {
            continue;
        }
        let c = &mut counters[class.prefix() as usize - 1];
        *c += 1;
        let width = match class {
            RoadClass::First => round_to(rng.range(8.0, 16.0), 1),
            RoadClass::Second => round_to(rng.range(5.5, 9.0), 1),
            RoadClass::Other => round_to(rng.range(3.0, 6.0), 1),
        };
        roads.push(Road {
            no: format!("{}-{:03}", class.prefix(), c),
            name,
            class,
            width,
            parts,
            repair_year: rng.int(2026, 2035),
        });
    }
    ensure!(
        roads.iter().any(|r| r.parts.len() > 1),
        "roads: expected some MultiLineString routes"
    );
    Ok(roads)
}

/// Street runs along the lines of a jittered lattice in the valley frame, 2-5 blocks each.
fn grid_runs(
    rng: &mut Rng,
    key: u64,
    (ua, ub, va, vb): (f64, f64, f64, f64),
    sp: f64,
    out: &mut Vec<Vec<Pt>>,
) {
    let ni = ((ub - ua) / sp).floor() as usize + 1;
    let nj = ((vb - va) / sp).floor() as usize + 1;
    let jitter = |i: usize, j: usize, axis: u64| -> f64 {
        let mut r = Rng(key
            .wrapping_mul(0x2545_f491_4f6c_dd1d)
            .wrapping_add((i as u64) << 32 | j as u64)
            .wrapping_add(axis << 62));
        r.range(-0.12, 0.12) * sp
    };
    let node = |i: usize, j: usize| -> Option<Pt> {
        let u = ua + sp * i as f64 + jitter(i, j, 0);
        let v = va + sp * j as f64 + jitter(i, j, 1);
        (v.abs() >= 110.0).then(|| fxy(u, v))
    };
    let mut emit = |nodes: Vec<Option<Pt>>, rng: &mut Rng| {
        let mut k = 0;
        while k + 1 < nodes.len() {
            let len = rng.int(2, 5) as usize;
            let run: Vec<Pt> = nodes[k..(k + len + 1).min(nodes.len())]
                .iter()
                .map_while(|n| *n)
                .collect();
            let used = run.len().max(1);
            if run.len() >= 3 {
                out.push(run);
            }
            k += used.min(len);
        }
    };
    for j in 0..nj {
        emit((0..ni).map(|i| node(i, j)).collect(), rng);
    }
    for i in 0..ni {
        emit((0..nj).map(|j| node(i, j)).collect(), rng);
    }
}

fn write_roads(dir: &Path, frame: &Frame, roads: &[Road]) -> Result<()> {
    let mut s = String::with_capacity(roads.len() * 600);
    s.push_str("{\"type\":\"FeatureCollection\",\"name\":\"shido\",\"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"urn:ogc:def:crs:EPSG::6677\"}},\"features\":[\n");
    for (i, r) in roads.iter().enumerate() {
        let parts: Vec<Vec<Pt>> = r
            .parts
            .iter()
            .map(|p| p.iter().map(|&q| frame.plane(q)).collect())
            .collect();
        let props = [
            ("路線番号", Json::Str(&r.no)),
            ("路線名", Json::Str(&r.name)),
            ("種別", Json::Str(r.class.label())),
            ("幅員", Json::Num(r.width, 1)),
            ("延長", Json::Num(round_to(r.length(), 1), 1)),
            ("補修予定年度", Json::Int(r.repair_year)),
        ];
        let geom = if parts.len() == 1 {
            format!(
                "{{\"type\":\"LineString\",\"coordinates\":{}}}",
                json_path(&parts[0], 2)
            )
        } else {
            let inner: Vec<String> = parts.iter().map(|p| json_path(p, 2)).collect();
            format!(
                "{{\"type\":\"MultiLineString\",\"coordinates\":[{}]}}",
                inner.join(",")
            )
        };
        push_feature(&mut s, &props, &geom, i + 1 < roads.len())?;
    }
    s.push_str("]}\n");
    write_file(&dir.join("roads/shido.geojson"), s.as_bytes())
}

// ---------------------------------------------------------------------------------------------
// 3. Water mains (上水道管路)
// ---------------------------------------------------------------------------------------------

struct Main {
    id: String,
    kind: &'static str,
    diameter: i64,
    year: i64,
    /// Local coordinates rounded to mm.
    path: Vec<Pt>,
}

fn build_mains(roads: &[Road], target: usize, scale: u32) -> Result<Vec<Main>> {
    let mut rng = Rng::new("water-mains", scale);
    // Mains run under the roads, except high up in the mountains (no supply there).
    let served: Vec<(&Road, &Vec<Pt>, f64)> = roads
        .iter()
        .flat_map(|r| r.parts.iter().map(move |p| (r, p, path_len(p))))
        .filter(|(_, p, _)| {
            let mean = p.iter().map(|&q| elevation(q)).sum::<f64>() / p.len() as f64;
            mean < 450.0
        })
        .collect();
    ensure!(!served.is_empty(), "water mains: no served roads");
    let total: f64 = served.iter().map(|s| s.2).sum();
    let count_for = |piece: f64| -> usize {
        served
            .iter()
            .map(|s| ((s.2 / piece).round() as usize).max(1))
            .sum()
    };
    let mut piece = total / target as f64;
    for _ in 0..8 {
        let n = count_for(piece);
        if n == target {
            break;
        }
        piece *= n as f64 / target as f64;
    }
    let mut mains = Vec::new();
    for (road, part, len) in served {
        let k = ((len / piece).round() as usize).max(1);
        let offset = offset_path(part, 1.5);
        let olen = path_len(&offset);
        for i in 0..k {
            let d0 = olen * i as f64 / k as f64;
            let d1 = olen * (i + 1) as f64 / k as f64;
            let path = ensure_multi_vertex(snap_path(&sub_path(&offset, d0, d1), 3), 3);
            if path.len() < 3 {
                continue;
            }
            let mid = point_at(&path, path_len(&path) / 2.0);
            let r = mid.x.hypot(mid.y);
            let mountain = elevation(mid) > 320.0;
            let crosses_river = path
                .windows(2)
                .any(|w| bank(w[0]).signum() != bank(w[1]).signum());
            let mut year = (1965.0 + r / 120.0 + rng.range(-8.0, 8.0)).round() as i64;
            if rng.chance(0.25) {
                year = rng.int(2000, 2024); // renewed
            }
            let year = year.clamp(1965, 2024);
            let diameter = match (road.class, mountain) {
                (_, true) => rng.pick(&[50, 75, 75, 100]),
                (RoadClass::First, _) => rng.pick(&[150, 200, 200, 300]),
                (RoadClass::Second, _) => rng.pick(&[100, 150, 150, 200]),
                (RoadClass::Other, _) => rng.pick(&[50, 75, 75, 100, 100]),
            };
            let mut kind = if crosses_river {
                "SP" // 水管橋 / bridge attachment: steel
            } else if year < 1975 {
                ["CIP", "VP", "SP"][rng.weighted(&[55.0, 35.0, 10.0])]
            } else if year < 2000 {
                ["DIP", "VP", "CIP", "SP"][rng.weighted(&[55.0, 40.0, 3.0, 2.0])]
            } else {
                ["DIP", "PE", "VP", "SP"][rng.weighted(&[55.0, 38.0, 5.0, 2.0])]
            };
            if (kind == "PE" || kind == "VP") && diameter > 150 {
                kind = if year < 1975 { "CIP" } else { "DIP" };
            }
            mains.push(Main {
                id: String::new(),
                kind,
                diameter,
                year,
                path,
            });
        }
    }
    for (i, m) in mains.iter_mut().enumerate() {
        m.id = format!("K-{:05}", i + 1);
    }
    Ok(mains)
}

fn write_mains(dir: &Path, frame: &Frame, mains: &[Main]) -> Result<()> {
    let mut fgb = FgbWriter::create_with_options(
        "kanro",
        GeometryType::LineString,
        FgbWriterOptions {
            write_index: true,
            detect_type: false,
            promote_to_multi: false,
            crs: FgbCrs {
                org: Some("EPSG"),
                code: 6677,
                name: Some("JGD2011 / Japan Plane Rectangular CS IX"),
                ..Default::default()
            },
            title: Some("上水道管路"),
            description: Some("みどり野町 水道課 上水道管路 (sample data)"),
            ..Default::default()
        },
    )
    .map_err(|e| anyhow!("FlatGeobuf: {e}"))?;
    fgb.add_column("管路番号", ColumnType::String, |_, c| {
        c.nullable = false
    });
    fgb.add_column("管種", ColumnType::String, |_, c| c.nullable = false);
    fgb.add_column("口径", ColumnType::Int, |_, c| c.nullable = false);
    fgb.add_column("布設年度", ColumnType::Int, |_, c| c.nullable = false);
    for m in mains {
        let ls = LineString::new(m.path.iter().map(|&q| frame.plane(q)).collect());
        let values = [
            ColumnValue::String(&m.id),
            ColumnValue::String(m.kind),
            ColumnValue::Int(m.diameter as i32),
            ColumnValue::Int(m.year as i32),
        ];
        add_fgb_feature(
            &mut fgb,
            geo::Geometry::LineString(ls),
            &["管路番号", "管種", "口径", "布設年度"],
            &values,
        )?;
    }
    write_fgb(fgb, &dir.join("water/kanro.fgb"))
}

// ---------------------------------------------------------------------------------------------
// 4. Valves and hydrants (仕切弁・消火栓)
// ---------------------------------------------------------------------------------------------

struct Valve {
    id: String,
    hydrant: bool,
    diameter: i64,
    year: i64,
    closed: bool,
    at: Pt,
}

fn build_valves(mains: &[Main], target: usize, scale: u32) -> Result<Vec<Valve>> {
    let mut rng = Rng::new("water-valves", scale);
    ensure!(!mains.is_empty(), "valves: no mains");
    let mut used: BTreeSet<(usize, bool)> = BTreeSet::new();
    let (mut nv, mut nh) = (0usize, 0usize);
    let mut out = Vec::with_capacity(target);
    let mut attempts = 0usize;
    while out.len() < target && attempts < target * 20 {
        attempts += 1;
        let hydrant = rng.chance(0.45);
        let mi = rng.below(mains.len());
        let m = &mains[mi];
        let len = path_len(&m.path);
        let (at, diameter) = if hydrant {
            if m.diameter < 75 {
                continue;
            }
            (point_at(&m.path, len * rng.range(0.25, 0.75)), 75)
        } else {
            let at_end = rng.chance(0.5);
            if !used.insert((mi, at_end)) {
                continue;
            }
            let d = (len / 4.0).min(3.0);
            (
                point_at(&m.path, if at_end { len - d } else { d }),
                m.diameter,
            )
        };
        let mut year = m.year;
        if rng.chance(0.3) {
            year += rng.int(1, 20);
        }
        let id = if hydrant {
            nh += 1;
            format!("H-{nh:05}")
        } else {
            nv += 1;
            format!("V-{nv:05}")
        };
        out.push(Valve {
            id,
            hydrant,
            diameter,
            year: year.min(2025),
            closed: !hydrant && rng.chance(0.05),
            at: pt(round_to(at.x, 3), round_to(at.y, 3)),
        });
    }
    Ok(out)
}

fn write_valves(dir: &Path, frame: &Frame, valves: &[Valve]) -> Result<()> {
    let shapes = valves
        .iter()
        .map(|v| {
            let p = frame.jgd2000(v.at)?;
            Ok(shapefile::Point::new(round_to(p.x, 3), round_to(p.y, 3)))
        })
        .collect::<Result<Vec<_>>>()?;
    let fields = [
        DbfField::text("施設番号", 12),
        DbfField::text("種別", 6),
        DbfField::num("口径", 4),
        DbfField::num("設置年度", 4),
        DbfField::text("開閉状態", 2),
    ];
    let rows: Vec<Vec<DbfValue>> = valves
        .iter()
        .map(|v| {
            vec![
                DbfValue::Str(v.id.clone()),
                DbfValue::Str(if v.hydrant { "消火栓" } else { "仕切弁" }.into()),
                DbfValue::Int(v.diameter),
                DbfValue::Int(v.year),
                DbfValue::Str(match (v.hydrant, v.closed) {
                    (true, _) => String::new(),
                    (false, true) => "閉".into(),
                    (false, false) => "開".into(),
                }),
            ]
        })
        .collect();
    write_shapefile(
        &dir.join("water/benshousen.shp"),
        &shapes,
        &fields,
        &rows,
        PRJ_JGD2000_IX,
        true,
    )
}

// ---------------------------------------------------------------------------------------------
// 5. Repair history (修繕履歴)
// ---------------------------------------------------------------------------------------------

struct Repair {
    id: String,
    facility: String,
    date: NaiveDate,
    work: &'static str,
    contractor: &'static str,
    staff: &'static str,
    at: Pt,
}

const CONTRACTORS: [&str; 6] = [
    "みどり野管工株式会社",
    "株式会社緑川設備",
    "有限会社上郷水道工業",
    "大滝建設株式会社",
    "株式会社みどり野工務店",
    "有限会社東原設備",
];
const WATER_STAFF: [&str; 6] = [
    "田村　健一",
    "小池　美咲",
    "新井　誠",
    "浅見　直樹",
    "黒沢　由美",
    "町田　聡",
];

fn build_repairs(
    mains: &[Main],
    valves: &[Valve],
    target: usize,
    scale: u32,
) -> Result<Vec<Repair>> {
    let mut rng = Rng::new("repair-history", scale);
    ensure!(
        !mains.is_empty() && !valves.is_empty(),
        "repairs: no facilities"
    );
    let last = ymd(2026, 3, 31)?;
    let mut out = Vec::with_capacity(target);
    for _ in 0..target {
        let (facility, at, year, work) = if rng.chance(0.6) {
            let v = &valves[rng.below(valves.len())];
            let work = if v.hydrant {
                rng.pick(&[
                    "消火栓補修",
                    "消火栓本体交換",
                    "補修弁交換",
                    "鉄蓋交換",
                    "漏水修理",
                ])
            } else {
                rng.pick(&[
                    "スピンドル交換",
                    "弁室鉄蓋交換",
                    "開閉不良修理",
                    "弁体交換",
                    "パッキン交換",
                ])
            };
            (v.id.clone(), v.at, v.year, work)
        } else {
            let m = &mains[rng.below(mains.len())];
            let at = point_at(&m.path, path_len(&m.path) * rng.range(0.1, 0.9));
            let work = rng.pick(&[
                "漏水修理",
                "継手部漏水修理",
                "管路破損修理",
                "空気弁交換",
                "管路更生",
            ]);
            (
                m.id.clone(),
                pt(round_to(at.x, 3), round_to(at.y, 3)),
                m.year,
                work,
            )
        };
        let from_year = (year + 1).clamp(1995, 2025) as i32;
        let date = rng.date(ymd(from_year, 4, 1)?, last);
        out.push(Repair {
            id: String::new(),
            facility,
            date,
            work,
            contractor: rng.pick(&CONTRACTORS),
            staff: rng.pick(&WATER_STAFF),
            at,
        });
    }
    // A ledger: numbered per fiscal year (April-March) in date order.
    out.sort_by(|a, b| (a.date, &a.facility, a.work).cmp(&(b.date, &b.facility, b.work)));
    let mut fy_prev = 0;
    let mut seq = 0;
    for r in &mut out {
        let fy = if r.date.month() >= 4 {
            r.date.year()
        } else {
            r.date.year() - 1
        };
        if fy != fy_prev {
            fy_prev = fy;
            seq = 0;
        }
        seq += 1;
        r.id = format!("R{fy}-{seq:04}");
    }
    Ok(out)
}

fn write_repairs(dir: &Path, frame: &Frame, repairs: &[Repair]) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record([
        "修繕番号",
        "施設番号",
        "修繕日",
        "修繕内容",
        "施工業者",
        "担当者",
        "X座標",
        "Y座標",
    ])?;
    for r in repairs {
        let p = frame.plane(r.at);
        w.write_record([
            r.id.as_str(),
            r.facility.as_str(),
            &r.date.format("%Y/%m/%d").to_string(),
            r.work,
            r.contractor,
            r.staff,
            &format!("{:.3}", p.y), // X座標: northing
            &format!("{:.3}", p.x), // Y座標: easting
        ])?;
    }
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(w.into_inner().map_err(|e| anyhow!("csv: {e}"))?);
    write_file(&dir.join("water/shuuzen_rireki.csv"), &bytes)
}

// ---------------------------------------------------------------------------------------------
// 6. Flood inundation zones (洪水浸水想定区域)
// ---------------------------------------------------------------------------------------------

const DEPTHS: [&str; 6] = [
    "0.5m未満",
    "0.5m以上3.0m未満",
    "3.0m以上5.0m未満",
    "5.0m以上10.0m未満",
    "10.0m以上20.0m未満",
    "20.0m以上",
];

#[derive(Clone)]
struct FloodAttrs {
    rank: u8,
    river: &'static str,
}

struct FloodZone {
    geom: MultiPolygon,
    attrs: FloodAttrs,
}

/// Depth-rank areas of one river: `areas[k]` is where the depth reaches rank k+1 or more.
/// Returned as bands (rank k = areas[k] minus areas[k+1]): a partition, so deeper ranks sit in
/// the holes of shallower ones.
fn rank_bands(areas: Vec<Vec<Polygon>>) -> Result<Vec<(u8, MultiPolygon)>> {
    let clip = MultiPolygon::new(vec![town_rect()]);
    let mut cumulative: Vec<MultiPolygon> = Vec::new();
    let mut below: Option<MultiPolygon> = None;
    for polys in areas.iter().rev() {
        let mut all: Vec<Polygon> = polys.clone();
        if let Some(b) = &below {
            all.extend(b.0.iter().cloned());
        }
        let merged = unary_union(all.iter()).intersection(&clip);
        below = Some(merged.clone());
        cumulative.push(merged);
    }
    cumulative.reverse();
    let mut out = Vec::new();
    for (k, area) in cumulative.iter().enumerate() {
        let band = match cumulative.get(k + 1) {
            Some(deeper) => area.difference(deeper),
            None => area.clone(),
        };
        let band = snap_multipolygon(&band, 3);
        if !band.0.is_empty() {
            out.push((k as u8 + 1, band));
        }
    }
    Ok(out)
}

fn build_floods(scale: u32) -> Result<Vec<FloodZone>> {
    let main_frame = |u: f64, v: f64| fxy(u, v);
    let y0 = river_y(CONFLUENCE_X);
    let trib_frame = move |t: f64, w: f64| pt(trib_x(y0 + t) - w, y0 + t);
    let (ua, ub) = (-4100.0, 4100.0);
    let pocket = |u: f64, v: f64, r: f64, seed: f64| {
        Star {
            c: fxy(u, v),
            a: r,
            b: r * 0.75,
            rot: seed,
            skew: 0.0,
            phase: [seed, seed * 2.0],
        }
        .polygon(1.0, 28)
    };
    // 緑川: shallow flooding of the valley floor, deeper towards the channel, in the gorge
    // upstream (narrow and deep) and on the low ground around the confluence; two depressions
    // behind the levee. The valley narrows into the gorge in the west.
    let gorge = |u: f64| ((u + 3700.0) / 1400.0).clamp(0.3, 1.0);
    let midori = vec![
        vec![band(
            &main_frame,
            ua,
            ub,
            &|u| (600.0 + 200.0 * (u / 1200.0 + 1.1).sin()) * gorge(u),
            &|u| (380.0 + 100.0 * (u / 800.0 + 2.0).sin()) * gorge(u),
        )],
        vec![
            band(
                &main_frame,
                ua,
                ub,
                &|u| (350.0 + 100.0 * (u / 900.0 + 0.3).sin()) * gorge(u),
                &|u| (230.0 + 50.0 * (u / 500.0).sin()) * gorge(u),
            ),
            pocket(600.0, 620.0, 130.0, 0.4),
            pocket(2450.0, 470.0, 100.0, 2.3),
        ],
        vec![
            band(
                &main_frame,
                -3000.0,
                ub,
                &|u| 170.0 + 50.0 * (u / 650.0 + 0.7).sin(),
                &|_| 130.0,
            ),
            pocket(600.0, 620.0, 60.0, 1.1),
        ],
        vec![
            band(&main_frame, ua, -2900.0, &|_| 110.0, &|_| 110.0),
            band(
                &main_frame,
                900.0,
                3600.0,
                &|u| 120.0 + 40.0 * (u / 300.0).sin(),
                &|_| 90.0,
            ),
        ],
        vec![band(
            &main_frame,
            ua,
            -3300.0,
            &|u| 45.0 + 10.0 * (u / 200.0).sin(),
            &|_| 45.0,
        )],
    ];
    // 沢入川: a small tributary, shallow.
    let sawairi = vec![
        vec![band(
            &trib_frame,
            0.0,
            2800.0,
            &|t| 140.0 + 30.0 * (t / 500.0).sin(),
            &|_| 140.0,
        )],
        vec![band(&trib_frame, 0.0, 1200.0, &|_| 60.0, &|_| 60.0)],
    ];
    let mut items: Vec<(MultiPolygon, FloodAttrs)> = Vec::new();
    for (river, areas) in [("荒川水系緑川", midori), ("荒川水系沢入川", sawairi)] {
        for (rank, mp) in rank_bands(areas)? {
            check_valid(&mp, "flood zones")?;
            // Delivered per reach: cut where the reaches meet.
            let cuts: &[f64] = if river == "荒川水系緑川" {
                &[-1500.0, 1000.0]
            } else {
                &[]
            };
            let mut edges = vec![-HALF_W - 1.0];
            edges.extend_from_slice(cuts);
            edges.push(HALF_W + 1.0);
            for w in edges.windows(2) {
                let reach = snap_multipolygon(
                    &mp.intersection(&rect_polygon(w[0], -HALF_H - 1.0, w[1], HALF_H + 1.0)),
                    3,
                );
                for p in reach.0 {
                    if p.unsigned_area() > 1.0 {
                        items.push((MultiPolygon::new(vec![p]), FloodAttrs { rank, river }));
                    }
                }
            }
        }
    }
    items.sort_by_key(|(mp, a)| (a.river, a.rank, mp_key(mp)));
    let items = split_grid(items, grid_for(scale));
    for (mp, _) in &items {
        check_valid(mp, "flood zones")?;
    }
    let zones: Vec<FloodZone> = items
        .into_iter()
        .map(|(geom, attrs)| FloodZone { geom, attrs })
        .collect();
    for r in 1..=4u8 {
        ensure!(
            zones.iter().any(|z| z.attrs.rank == r),
            "flood zones: rank {r} missing"
        );
    }
    Ok(zones)
}

/// Deepest flood rank at a point (0: not flooded).
fn flood_rank(floods: &[FloodZone], p: Pt) -> u8 {
    floods
        .iter()
        .filter(|z| z.geom.intersects(&geo::Point(p)))
        .map(|z| z.attrs.rank)
        .max()
        .unwrap_or(0)
}

fn write_floods(dir: &Path, frame: &Frame, zones: &[FloodZone]) -> Result<()> {
    let shapes = zones
        .iter()
        .map(|z| shp_polygon(&z.geom, |p| frame.lonlat(p)))
        .collect::<Result<Vec<_>>>()?;
    let fields = [
        // 浸水深ランク is 12 bytes in Shift_JIS, over the 10-byte DBF limit: half-width katakana
        // is what real deliveries use to make such names fit.
        DbfField::num("浸水深ﾗﾝｸ", 2),
        DbfField::text("浸水深", 24),
        DbfField::text("河川名", 30),
    ];
    let rows: Vec<Vec<DbfValue>> = zones
        .iter()
        .map(|z| {
            vec![
                DbfValue::Int(i64::from(z.attrs.rank)),
                DbfValue::Str(DEPTHS[z.attrs.rank as usize - 1].into()),
                DbfValue::Str(z.attrs.river.into()),
            ]
        })
        .collect();
    write_shapefile(
        &dir.join("hazard/shinsui_souteikuiki.shp"),
        &shapes,
        &fields,
        &rows,
        PRJ_JGD2011_GEO,
        false,
    )
}

// ---------------------------------------------------------------------------------------------
// 7. Sediment disaster warning zones (土砂災害警戒区域)
// ---------------------------------------------------------------------------------------------

struct Landslide {
    id: String,
    special: bool,
    phenomenon: &'static str,
    designated: NaiveDate,
    geom: Polygon,
}

fn build_landslides(target: usize, scale: u32) -> Result<Vec<Landslide>> {
    let mut rng = Rng::new("landslide-zones", scale);
    // About 5 warning zones for every 3 special zones inside them.
    let n_warn = ((target as f64) / 1.6).round().max(1.0) as usize;
    let n_special = target.saturating_sub(n_warn).min(n_warn);
    let kinds = [
        ("急傾斜地の崩壊", "KY"),
        ("土石流", "DS"),
        ("地すべり", "JS"),
    ];
    let mut counters = [0u32; 3];
    let hamlets = hamlets();
    let mut warns: Vec<(Landslide, Star, usize)> = Vec::with_capacity(n_warn);
    let mut tries = 0;
    while warns.len() < n_warn {
        tries += 1;
        ensure!(
            tries < n_warn * 2000,
            "landslide zones: could not place the zones"
        );
        let c = pt(
            rng.range(-HALF_W + 400.0, HALF_W - 400.0),
            rng.range(-HALF_H + 400.0, HALF_H - 400.0),
        );
        let (up, slope) = gradient(c);
        let e = elevation(c);
        // Zones are designated where houses and roads are at risk: valley sides and hamlets.
        let near_people = bank(c).abs() < 1000.0 || hamlets.iter().any(|h| dist(h.at, c) < 1000.0);
        if slope < 0.18 || !(250.0..=900.0).contains(&e) || bank(c).abs() < 150.0 || !near_people {
            continue;
        }
        let k = rng.weighted(&[50.0, 35.0, 15.0]);
        let downhill = up + std::f64::consts::PI;
        let (a, b, rot, skew) = match k {
            // Steep slope: a band along the contour.
            0 => (
                rng.range(120.0, 300.0),
                rng.range(40.0, 80.0),
                up + std::f64::consts::FRAC_PI_2,
                0.0,
            ),
            // Debris flow: a tongue running down the valley.
            1 => (
                rng.range(300.0, 650.0),
                rng.range(80.0, 180.0),
                downhill,
                0.35,
            ),
            // Landslide: a rounded block.
            _ => {
                let r = rng.range(100.0, 250.0);
                (r, r * rng.range(0.7, 1.0), up, 0.0)
            }
        };
        let star = Star::random(&mut rng, c, a, b, rot, skew);
        let geom = star.polygon(1.0, 32);
        if !geom.exterior().0.iter().all(|&q| in_town(q, 0.0)) {
            continue;
        }
        counters[k] += 1;
        let designated = rng.date(ymd(2005, 4, 1)?, ymd(2025, 12, 26)?);
        warns.push((
            Landslide {
                id: format!("{}{:03}", kinds[k].1, counters[k]),
                special: false,
                phenomenon: kinds[k].0,
                designated,
                geom,
            },
            star,
            k,
        ));
    }
    // Special zones: the warning zone shrunk about its centre (star-shaped, so it stays inside).
    let mut order: Vec<usize> = (0..warns.len()).collect();
    for i in 0..order.len() {
        let j = i + rng.below(order.len() - i);
        order.swap(i, j);
    }
    let mut chosen: Vec<usize> = order.into_iter().take(n_special).collect();
    chosen.sort_unstable();
    let mut out = Vec::with_capacity(target);
    let mut specials: Vec<Option<Landslide>> = (0..warns.len()).map(|_| None).collect();
    for &i in &chosen {
        let (w, star, _) = &warns[i];
        let geom = star.polygon(rng.range(0.45, 0.7), 32);
        ensure!(
            w.geom.contains(&geom),
            "landslide zones: special zone outside its warning zone"
        );
        specials[i] = Some(Landslide {
            id: format!("{}-T", w.id),
            special: true,
            phenomenon: w.phenomenon,
            designated: w.designated,
            geom,
        });
    }
    for ((w, _, _), s) in warns.into_iter().zip(specials) {
        out.push(w);
        if let Some(s) = s {
            out.push(s);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    for z in &out {
        check_valid(&MultiPolygon::new(vec![z.geom.clone()]), "landslide zones")?;
    }
    Ok(out)
}

fn write_landslides(dir: &Path, frame: &Frame, zones: &[Landslide]) -> Result<()> {
    let mut s = String::with_capacity(zones.len() * 1500);
    s.push_str("{\"type\":\"FeatureCollection\",\"name\":\"dosha_keikai\",\"features\":[\n");
    for (i, z) in zones.iter().enumerate() {
        // RFC 7946: exterior rings counter-clockwise.
        let mut ring: Vec<Pt> = z.geom.exterior().0.clone();
        if ring_area(&ring) < 0.0 {
            ring.reverse();
        }
        let ll = ring
            .iter()
            .map(|&q| frame.lonlat(q))
            .collect::<Result<Vec<_>>>()?;
        let date = z.designated.format("%Y-%m-%d").to_string();
        let props = [
            ("区域番号", Json::Str(&z.id)),
            (
                "区域区分",
                Json::Str(if z.special {
                    "土砂災害特別警戒区域"
                } else {
                    "土砂災害警戒区域"
                }),
            ),
            ("現象の種類", Json::Str(z.phenomenon)),
            ("指定年月日", Json::Str(&date)),
        ];
        let geom = format!(
            "{{\"type\":\"Polygon\",\"coordinates\":[{}]}}",
            json_path(&ll, 7)
        );
        push_feature(&mut s, &props, &geom, i + 1 < zones.len())?;
    }
    s.push_str("]}\n");
    write_file(&dir.join("hazard/dosha_keikai.geojson"), s.as_bytes())
}

/// Signed area (positive: counter-clockwise).
fn ring_area(ring: &[Pt]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        / 2.0
}

// ---------------------------------------------------------------------------------------------
// 8. Designated emergency evacuation sites (指定緊急避難場所)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SiteKind {
    School,
    Hall,
    Park,
}

struct Shelter {
    id: String,
    name: String,
    kana: String,
    english: String,
    address: String,
    at: Pt,
    elevation: f64,
    phone: String,
    flood: bool,
    sediment: bool,
    quake: bool,
    fire: bool,
    inland: bool,
    capacity: i64,
    manager_phone: String,
    note: String,
}

/// The town's sites: name, reading, English name, kind, location.
fn shelter_sites() -> Vec<(&'static str, &'static str, &'static str, SiteKind, Pt)> {
    use SiteKind::*;
    vec![
        (
            "みどり野町立第一小学校",
            "ミドリノチョウリツダイイチショウガッコウ",
            "Midorino Daiichi Elementary School",
            School,
            fxy(-400.0, 1050.0),
        ),
        (
            "みどり野町立第二小学校",
            "ミドリノチョウリツダイニショウガッコウ",
            "Midorino Daini Elementary School",
            School,
            fxy(1300.0, 1200.0),
        ),
        (
            "みどり野町立上郷小学校",
            "ミドリノチョウリツカミゴウショウガッコウ",
            "Kamigo Elementary School",
            School,
            pt(-3300.0, river_y(-3300.0) + 330.0),
        ),
        (
            "みどり野町立沢入小学校",
            "ミドリノチョウリツサワイリショウガッコウ",
            "Sawairi Elementary School",
            School,
            pt(trib_x(2100.0) + 200.0, 2100.0),
        ),
        (
            "みどり野町立南小学校",
            "ミドリノチョウリツミナミショウガッコウ",
            "Minami Elementary School",
            School,
            fxy(-200.0, -380.0),
        ),
        (
            "みどり野町立みどり野中学校",
            "ミドリノチョウリツミドリノチュウガッコウ",
            "Midorino Junior High School",
            School,
            fxy(600.0, 1450.0),
        ),
        (
            "みどり野町立緑川中学校",
            "ミドリノチョウリツミドリカワチュウガッコウ",
            "Midorikawa Junior High School",
            School,
            fxy(-1900.0, 1050.0),
        ),
        (
            "埼玉県立みどり野高等学校",
            "サイタマケンリツミドリノコウトウガッコウ",
            "Saitama Prefectural Midorino High School",
            School,
            fxy(2100.0, 1300.0),
        ),
        (
            "みどり野町総合体育館",
            "ミドリノチョウソウゴウタイイクカン",
            "Midorino General Gymnasium",
            Hall,
            fxy(-1100.0, 1500.0),
        ),
        (
            "みどり野町民会館",
            "ミドリノチョウミンカイカン",
            "Midorino Civic Hall",
            Hall,
            fxy(100.0, 700.0),
        ),
        (
            "中央公民館",
            "チュウオウコウミンカン",
            "Chuo Community Center",
            Hall,
            fxy(-700.0, 800.0),
        ),
        (
            "上郷公民館",
            "カミゴウコウミンカン",
            "Kamigo Community Center",
            Hall,
            pt(-3600.0, river_y(-3600.0) + 300.0),
        ),
        (
            "沢入公民館",
            "サワイリコウミンカン",
            "Sawairi Community Center",
            Hall,
            pt(trib_x(2600.0) + 180.0, 2600.0),
        ),
        (
            "大滝公民館",
            "オオタキコウミンカン",
            "Otaki Community Center",
            Hall,
            pt(-900.0, -2100.0),
        ),
        (
            "日向公民館",
            "ヒナタコウミンカン",
            "Hinata Community Center",
            Hall,
            pt(3300.0, -800.0),
        ),
        (
            "峰集会所",
            "ミネシュウカイジョ",
            "Mine Assembly Hall",
            Hall,
            pt(-2300.0, -2200.0),
        ),
        (
            "みどり野中央公園",
            "ミドリノチュウオウコウエン",
            "Midorino Central Park",
            Park,
            fxy(900.0, 950.0),
        ),
        (
            "緑川河川公園",
            "ミドリカワカセンコウエン",
            "Midorikawa Riverside Park",
            Park,
            fxy(1100.0, 180.0),
        ),
        (
            "緑が丘公園",
            "ミドリガオカコウエン",
            "Midorigaoka Park",
            Park,
            fxy(-200.0, 1650.0),
        ),
        (
            "城山公園",
            "シロヤマコウエン",
            "Shiroyama Park",
            Park,
            fxy(-1500.0, 2100.0),
        ),
        (
            "みどり野町運動公園",
            "ミドリノチョウウンドウコウエン",
            "Midorino Sports Park",
            Park,
            fxy(2600.0, 1100.0),
        ),
        (
            "みどり野町保健センター",
            "ミドリノチョウホケンセンター",
            "Midorino Health Center",
            Hall,
            fxy(-1000.0, 600.0),
        ),
        (
            "下町コミュニティセンター",
            "シモマチコミュニティセンター",
            "Shimomachi Community Center",
            Hall,
            fxy(1900.0, 800.0),
        ),
        (
            "みどり野町農村環境改善センター",
            "ミドリノチョウノウソンカンキョウカイゼンセンター",
            "Midorino Rural Environment Improvement Center",
            Hall,
            fxy(2800.0, 1450.0),
        ),
        (
            "みどり野町文化会館",
            "ミドリノチョウブンカカイカン",
            "Midorino Cultural Hall",
            Hall,
            fxy(400.0, 600.0),
        ),
    ]
}

fn build_shelters(
    floods: &[FloodZone],
    slides: &[Landslide],
    target: usize,
    scale: u32,
) -> Result<Vec<Shelter>> {
    let mut rng = Rng::new("shelters", scale);
    let slide_mps: Vec<MultiPolygon> = slides
        .iter()
        .map(|z| MultiPolygon::new(vec![z.geom.clone()]))
        .collect();
    let slide_refs: Vec<&MultiPolygon> = slide_mps.iter().collect();
    let mut sites: Vec<(String, String, String, SiteKind, Pt)> = shelter_sites()
        .into_iter()
        .map(|(n, k, e, kind, p)| (n.to_string(), k.to_string(), e.to_string(), kind, p))
        .collect();
    // Larger scales: neighbourhood assembly halls (集会所) all over the valley and hamlets.
    let hamlets = hamlets();
    let mut extra = 0;
    while sites.len() < target {
        extra += 1;
        let p = if rng.chance(0.7) {
            fxy(rng.range(-2500.0, 2900.0), rng.range(150.0, 1700.0))
        } else {
            let h = &hamlets[rng.below(hamlets.len())];
            pt(
                h.at.x + rng.range(-400.0, 400.0),
                h.at.y + rng.range(-400.0, 400.0),
            )
        };
        if !in_town(p, 50.0) || bank(p).abs() < 120.0 {
            continue;
        }
        let d = district(p);
        sites.push((
            format!("{d}第{extra}集会所"),
            format!("{}ダイ{extra}シュウカイジョ", district_kana(d)),
            format!("{} No.{extra} Assembly Hall", district_romaji(d)),
            SiteKind::Hall,
            p,
        ));
    }
    let mut out = Vec::with_capacity(sites.len());
    for (i, (name, kana, english, kind, p)) in sites.into_iter().enumerate() {
        let rank = flood_rank(floods, p);
        let in_slide = in_any(&slide_refs, p);
        let flood = match kind {
            SiteKind::Park => rank == 0,
            SiteKind::School | SiteKind::Hall => rank <= 1,
        };
        let capacity = match kind {
            SiteKind::School => rng.int(60, 150) * 10,
            SiteKind::Hall => rng.int(8, 40) * 10,
            SiteKind::Park => rng.int(20, 80) * 100,
        };
        let note = match kind {
            SiteKind::School => "校庭・体育館",
            SiteKind::Park => "屋外（広場）",
            SiteKind::Hall if rank >= 2 => "洪水時は使用不可",
            SiteKind::Hall => "",
        };
        out.push(Shelter {
            id: format!("{:04}", i + 1),
            address: if kind == SiteKind::Park {
                let a = address(p, &mut rng);
                a.split('番').next().map(|s| format!("{s}番")).unwrap_or(a)
            } else {
                address(p, &mut rng)
            },
            name,
            kana,
            english,
            at: p,
            elevation: round_to(elevation(p), 1),
            phone: if kind == SiteKind::Park {
                String::new()
            } else {
                format!("0494-00-{:04}", rng.int(1000, 9999))
            },
            flood,
            sediment: !in_slide,
            quake: true,
            fire: kind != SiteKind::Hall,
            inland: flood && rank == 0,
            capacity,
            manager_phone: format!("080-0000-{:04}", rng.int(1000, 9999)),
            note: note.to_string(),
        });
    }
    for s in &out {
        ensure!(
            !s.flood || flood_rank(floods, s.at) < 2,
            "shelter {} is flagged for floods inside a rank >= 2 zone",
            s.name
        );
    }
    Ok(out)
}

fn district_kana(d: &str) -> &'static str {
    match d {
        "本町" => "ホンチョウ",
        "上町" => "カミマチ",
        "下町" => "シモマチ",
        "緑が丘" => "ミドリガオカ",
        "南町" => "ミナミマチ",
        "上郷" => "カミゴウ",
        "沢入" => "サワイリ",
        "大滝" => "オオタキ",
        "日向" => "ヒナタ",
        "峰" => "ミネ",
        "城山" => "シロヤマ",
        _ => "ヒガシバラ",
    }
}

fn district_romaji(d: &str) -> &'static str {
    match d {
        "本町" => "Honcho",
        "上町" => "Kamimachi",
        "下町" => "Shimomachi",
        "緑が丘" => "Midorigaoka",
        "南町" => "Minamimachi",
        "上郷" => "Kamigo",
        "沢入" => "Sawairi",
        "大滝" => "Otaki",
        "日向" => "Hinata",
        "峰" => "Mine",
        "城山" => "Shiroyama",
        _ => "Higashibara",
    }
}

fn write_shelters(dir: &Path, frame: &Frame, shelters: &[Shelter]) -> Result<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(SHELTER_COLUMNS)?;
    let flag = |b: bool| if b { "1" } else { "" };
    for s in shelters {
        let ll = frame.lonlat(s.at)?;
        w.write_record([
            MUNI_CODE,
            &s.id,
            MUNI_NAME,
            &s.name,
            &s.kana,
            &s.english,
            &s.address,
            &format!("{:.6}", ll.y),
            &format!("{:.6}", ll.x),
            &format!("{:.1}", s.elevation),
            &s.phone,
            flag(s.flood),
            flag(s.sediment),
            flag(s.quake),
            flag(s.fire),
            flag(s.inland),
            &s.capacity.to_string(),
            &s.manager_phone,
            &s.note,
        ])?;
    }
    let text = String::from_utf8(w.into_inner().map_err(|e| anyhow!("csv: {e}"))?)?;
    write_file(&dir.join("shelters/hinanbasho.csv"), &shift_jis(&text)?)
}

const SHELTER_COLUMNS: [&str; 19] = [
    "全国地方公共団体コード",
    "ID",
    "地方公共団体名",
    "名称",
    "名称_カナ",
    "名称_英字",
    "所在地_連結表記",
    "緯度",
    "経度",
    "標高",
    "電話番号",
    "災害種別_洪水",
    "災害種別_崖崩れ、土石流及び地滑り",
    "災害種別_地震",
    "災害種別_大規模な火事",
    "災害種別_内水氾濫",
    "想定収容人数",
    "施設管理者電話",
    "備考",
];

// ---------------------------------------------------------------------------------------------
// 9. Hiking courses (ハイキングコース)
// ---------------------------------------------------------------------------------------------

struct Hike {
    name: String,
    km: f64,
    minutes: i64,
    level: &'static str,
    path: Vec<Pt>,
}

fn build_hiking(target: usize, scale: u32) -> Result<Vec<Hike>> {
    let mut rng = Rng::new("hiking-courses", scale);
    let hamlet_at = |name: &str| -> Pt {
        hamlets()
            .into_iter()
            .find(|h| h.name == name)
            .map(|h| h.at)
            .unwrap_or(pt(0.0, 0.0))
    };
    // name, trailhead, waypoints (summits, passes) to the end, wiggle.
    let courses: Vec<(&str, Vec<Pt>, f64)> = vec![
        (
            "城山ハイキングコース",
            vec![
                fxy(-1500.0, 2100.0),
                pt(-2000.0, 2450.0),
                pt(-2300.0, 2750.0),
                pt(-2800.0, 2600.0),
                fxy(-2550.0, 1850.0),
            ],
            0.25,
        ),
        (
            "緑川渓谷遊歩道",
            vec![
                fxy(-2600.0, 150.0),
                fxy(-3200.0, 90.0),
                fxy(-3600.0, 70.0),
                fxy(-3950.0, 60.0),
            ],
            0.12,
        ),
        (
            "大滝沢コース",
            vec![
                hamlet_at("大滝"),
                pt(-600.0, -2500.0),
                pt(-1300.0, -2850.0),
                pt(-1800.0, -2600.0),
            ],
            0.3,
        ),
        (
            "峰の道",
            vec![
                hamlet_at("峰"),
                pt(-2700.0, -2600.0),
                pt(-3300.0, -2800.0),
                pt(-3700.0, -2300.0),
            ],
            0.3,
        ),
        (
            "天狗岩コース",
            vec![
                fxy(100.0, -350.0),
                pt(300.0, -1500.0),
                pt(600.0, -2700.0),
                pt(1500.0, -2800.0),
            ],
            0.3,
        ),
        (
            "沢入林道コース",
            vec![
                hamlet_at("沢入"),
                pt(1300.0, 2700.0),
                pt(900.0, 2920.0),
                pt(300.0, 2800.0),
            ],
            0.2,
        ),
        (
            "みどり野展望台コース",
            vec![
                hamlet_at("日向"),
                pt(3000.0, -1600.0),
                pt(3700.0, -2600.0),
                pt(2600.0, -2800.0),
            ],
            0.3,
        ),
        (
            "上郷峠越えコース",
            vec![
                hamlet_at("上郷"),
                pt(-3600.0, -1200.0),
                pt(-3800.0, -2750.0),
                pt(-3600.0, -2960.0),
            ],
            0.3,
        ),
    ];
    let mut out = Vec::with_capacity(target);
    for i in 0..target {
        let (base, points, wiggle) = &courses[i % courses.len()];
        let round = i / courses.len();
        let (name, points) = if round == 0 {
            (base.to_string(), points.clone())
        } else {
            // Larger scales: branch routes near the original one.
            let moved = points
                .iter()
                .map(|p| {
                    pt(
                        (p.x + rng.range(-300.0, 300.0)).clamp(-HALF_W + 50.0, HALF_W - 50.0),
                        (p.y + rng.range(-300.0, 300.0)).clamp(-HALF_H + 50.0, HALF_H - 50.0),
                    )
                })
                .collect();
            (format!("{base}（支線{round}）"), moved)
        };
        let mut route: Vec<Pt> = Vec::new();
        for leg in points.windows(2) {
            let part = trail(&mut rng, leg[0], leg[1], 40.0, *wiggle);
            let skip = usize::from(!route.is_empty());
            route.extend(part.into_iter().skip(skip));
        }
        let path = snap_path(&route, 3);
        ensure!(path.len() >= 3, "hiking: course {name} too short");
        let km = path_len(&path) / 1000.0;
        let ascent: f64 = path
            .windows(2)
            .map(|w| (elevation(w[1]) - elevation(w[0])).max(0.0))
            .sum();
        let minutes = ((km / 3.0 * 60.0 + ascent / 300.0 * 60.0) / 5.0).round() as i64 * 5;
        let level = if minutes <= 90 && ascent < 250.0 {
            "初級"
        } else if minutes >= 240 || ascent >= 600.0 {
            "上級"
        } else {
            "中級"
        };
        out.push(Hike {
            name,
            km: round_to(km, 1),
            minutes: minutes.max(10),
            level,
            path,
        });
    }
    Ok(out)
}

fn write_hiking(dir: &Path, frame: &Frame, hikes: &[Hike]) -> Result<()> {
    let mut fgb = FgbWriter::create_with_options(
        "hiking",
        GeometryType::LineString,
        FgbWriterOptions {
            // Few features and ids are positions: keep the file in course order.
            write_index: false,
            detect_type: false,
            promote_to_multi: false,
            crs: FgbCrs {
                org: Some("EPSG"),
                code: 4326,
                name: Some("WGS 84"),
                ..Default::default()
            },
            title: Some("ハイキングコース"),
            ..Default::default()
        },
    )
    .map_err(|e| anyhow!("FlatGeobuf: {e}"))?;
    fgb.add_column("コース名", ColumnType::String, |_, c| {
        c.nullable = false
    });
    fgb.add_column("距離_km", ColumnType::Double, |_, c| c.nullable = false);
    fgb.add_column("所要時間_分", ColumnType::Int, |_, c| {
        c.nullable = false
    });
    fgb.add_column("難易度", ColumnType::String, |_, c| c.nullable = false);
    for h in hikes {
        let ll = h
            .path
            .iter()
            .map(|&q| {
                frame
                    .lonlat(q)
                    .map(|c| pt(round_to(c.x, 7), round_to(c.y, 7)))
            })
            .collect::<Result<Vec<_>>>()?;
        let values = [
            ColumnValue::String(&h.name),
            ColumnValue::Double(h.km),
            ColumnValue::Int(h.minutes as i32),
            ColumnValue::String(h.level),
        ];
        add_fgb_feature(
            &mut fgb,
            geo::Geometry::LineString(LineString::new(ll)),
            &["コース名", "距離_km", "所要時間_分", "難易度"],
            &values,
        )?;
    }
    write_fgb(fgb, &dir.join("tourism/hiking.fgb"))
}

// ---------------------------------------------------------------------------------------------
// 10. Persons requiring evacuation support (避難行動要支援者)
// ---------------------------------------------------------------------------------------------

struct Person {
    id: String,
    name: String,
    age: i64,
    care: &'static str,
    category: &'static str,
    supporter: String,
    at: Pt,
}

const SURNAMES: [&str; 30] = [
    "新井", "浅見", "黒沢", "町田", "山中", "高橋", "佐藤", "鈴木", "田中", "加藤", "小林", "吉田",
    "山田", "中島", "斎藤", "柴崎", "高野", "千島", "逸見", "守屋", "宮前", "富田", "関根", "大野",
    "坂本", "森", "岩田", "原", "横田", "冨田",
];
const OLD_WOMEN: [&str; 12] = [
    "ハル", "キヨ", "トミ", "千代", "幸子", "和子", "節子", "澄子", "文子", "京子", "久子", "照子",
];
const OLD_MEN: [&str; 12] = [
    "茂", "清", "勇", "博", "實", "正雄", "武", "昭二", "一郎", "勝", "進", "義雄",
];
const WOMEN: [&str; 8] = ["恵子", "由美", "直美", "真理子", "美穂", "裕子", "愛", "彩"];
const MEN: [&str; 8] = ["浩", "誠", "健一", "隆", "大輔", "修", "拓也", "翔太"];
const CHILDREN: [&str; 10] = [
    "陽翔", "蓮", "悠真", "湊", "結菜", "陽葵", "凛", "芽依", "葵", "蒼",
];

fn build_support(roads: &[Road], target: usize, scale: u32) -> Result<Vec<Person>> {
    let mut rng = Rng::new("evacuation-support", scale);
    // Homes line the local streets, in town and in the hamlets.
    let homes: Vec<&Vec<Pt>> = roads
        .iter()
        .filter(|r| r.class != RoadClass::First)
        .flat_map(|r| r.parts.iter())
        .filter(|p| p.iter().all(|&q| elevation(q) < 650.0))
        .collect();
    ensure!(!homes.is_empty(), "support persons: no streets");
    let mut out = Vec::with_capacity(target);
    let mut tries = 0;
    while out.len() < target {
        tries += 1;
        ensure!(
            tries < target * 100 + 1000,
            "support persons: could not place everyone"
        );
        let path = homes[rng.below(homes.len())];
        let d = rng.range(0.0, path_len(path));
        let a = point_at(path, (d - 1.0).max(0.0));
        let b = point_at(path, d + 1.0);
        let l = dist(a, b).max(1e-9);
        let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let off = rng.range(12.0, 35.0) * side;
        let c = point_at(path, d);
        let p = pt(c.x - (b.y - a.y) / l * off, c.y + (b.x - a.x) / l * off);
        if !in_town(p, 20.0) || bank(p).abs() < 110.0 {
            continue;
        }
        let category = ["高齢者", "障害者", "難病患者", "乳幼児", "妊産婦"]
            [rng.weighted(&[70.0, 15.0, 7.0, 5.0, 3.0])];
        let female = rng.chance(if category == "妊産婦" { 1.0 } else { 0.55 });
        let surname = rng.pick(&SURNAMES);
        let (age, given) = match category {
            "高齢者" => (
                rng.int(65, 99),
                if female {
                    rng.pick(&OLD_WOMEN)
                } else {
                    rng.pick(&OLD_MEN)
                },
            ),
            "乳幼児" => (rng.int(0, 5), rng.pick(&CHILDREN)),
            "妊産婦" => (rng.int(20, 42), rng.pick(&WOMEN)),
            "難病患者" => {
                let age = rng.int(20, 85);
                let given = match (female, age >= 65) {
                    (true, true) => rng.pick(&OLD_WOMEN),
                    (false, true) => rng.pick(&OLD_MEN),
                    (true, false) => rng.pick(&WOMEN),
                    (false, false) => rng.pick(&MEN),
                };
                (age, given)
            }
            _ => (
                rng.int(18, 64),
                if female {
                    rng.pick(&WOMEN)
                } else {
                    rng.pick(&MEN)
                },
            ),
        };
        let care = match category {
            "高齢者" => [
                "なし",
                "要支援1",
                "要支援2",
                "要介護1",
                "要介護2",
                "要介護3",
                "要介護4",
                "要介護5",
            ][rng.weighted(&[15.0, 12.0, 12.0, 18.0, 16.0, 12.0, 9.0, 6.0])],
            "障害者" | "難病患者" => {
                ["なし", "要介護1", "要介護2", "要介護3"][rng.weighted(&[60.0, 15.0, 15.0, 10.0])]
            }
            _ => "なし",
        };
        let r = rng.f64();
        let supporter = if r < 0.40 {
            let relation = match category {
                "乳幼児" => rng.pick(&["母", "父", "祖母"]),
                "妊産婦" => rng.pick(&["夫", "母"]),
                _ => rng.pick(&["長男", "長女", "次男", "孫", "夫", "妻"]),
            };
            let given = if matches!(relation, "長女" | "妻" | "母" | "祖母") {
                rng.pick(&WOMEN)
            } else {
                rng.pick(&MEN)
            };
            format!("{surname}　{given}（{relation}）")
        } else if r < 0.75 {
            let given = if rng.chance(0.5) {
                rng.pick(&WOMEN)
            } else {
                rng.pick(&MEN)
            };
            format!("{}　{given}（近隣住民）", rng.pick(&SURNAMES))
        } else if r < 0.90 {
            let given = if rng.chance(0.6) {
                rng.pick(&OLD_WOMEN)
            } else {
                rng.pick(&OLD_MEN)
            };
            format!("{}　{given}（民生委員）", rng.pick(&SURNAMES))
        } else if r < 0.97 {
            format!("{}自主防災会", district(p))
        } else {
            "未定".to_string()
        };
        out.push(Person {
            id: format!("YS-{:05}", out.len() + 1),
            name: format!("{surname}　{given}"),
            age,
            care,
            category,
            supporter,
            at: p,
        });
    }
    Ok(out)
}

fn write_support(dir: &Path, frame: &Frame, people: &[Person]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "管理番号",
        "氏名",
        "年齢",
        "要介護度",
        "支援区分",
        "避難支援者",
        "緯度",
        "経度",
    ])?;
    for p in people {
        let ll = frame.lonlat(p.at)?;
        w.write_record([
            p.id.as_str(),
            &p.name,
            &p.age.to_string(),
            p.care,
            p.category,
            &p.supporter,
            &format!("{:.6}", ll.y),
            &format!("{:.6}", ll.x),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow!("csv: {e}"))?;
    write_file(&dir.join("welfare/youshiensha.csv"), &bytes)
}

// ---------------------------------------------------------------------------------------------
// File writers
// ---------------------------------------------------------------------------------------------

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn shift_jis(text: &str) -> Result<Vec<u8>> {
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    ensure!(!unmappable, "text not representable in Shift_JIS: {text:?}");
    Ok(bytes.into_owned())
}

/// A JSON property value.
enum Json<'a> {
    Str(&'a str),
    Int(i64),
    Num(f64, usize),
}

fn push_feature(s: &mut String, props: &[(&str, Json)], geom: &str, more: bool) -> Result<()> {
    s.push_str("{\"type\":\"Feature\",\"properties\":{");
    for (i, (k, v)) in props.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&serde_json::to_string(k)?);
        s.push(':');
        match v {
            Json::Str(t) => s.push_str(&serde_json::to_string(t)?),
            Json::Int(n) => write!(s, "{n}")?,
            Json::Num(x, d) => write!(s, "{x:.d$}", d = *d)?,
        }
    }
    s.push_str("},\"geometry\":");
    s.push_str(geom);
    s.push('}');
    if more {
        s.push(',');
    }
    s.push('\n');
    Ok(())
}

fn json_path(p: &[Pt], decimals: usize) -> String {
    let mut s = String::with_capacity(p.len() * 24);
    s.push('[');
    for (i, q) in p.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "[{:.d$},{:.d$}]", q.x, q.y, d = decimals);
    }
    s.push(']');
    s
}

fn add_fgb_feature(
    fgb: &mut FgbWriter,
    geom: geo::Geometry,
    names: &[&str],
    values: &[ColumnValue],
) -> Result<()> {
    let mut failure = None;
    fgb.add_feature_geom(geom, |feat| {
        for (i, (name, value)) in names.iter().zip(values).enumerate() {
            if let Err(e) = feat.property(i, name, value) {
                failure = Some(e);
            }
        }
    })
    .map_err(|e| anyhow!("FlatGeobuf feature: {e}"))?;
    match failure {
        Some(e) => Err(anyhow!("FlatGeobuf property: {e}")),
        None => Ok(()),
    }
}

fn write_fgb(fgb: FgbWriter, path: &Path) -> Result<()> {
    let file =
        fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    fgb.write(&mut out)
        .map_err(|e| anyhow!("FlatGeobuf {}: {e}", path.display()))?;
    out.flush()?;
    Ok(())
}

/// A multipolygon as a shapefile polygon record, with a coordinate conversion.
fn shp_polygon(mp: &MultiPolygon, conv: impl Fn(Pt) -> Result<Pt>) -> Result<shapefile::Polygon> {
    let ring = |ls: &LineString| -> Result<Vec<shapefile::Point>> {
        ls.0.iter()
            .map(|&q| conv(q).map(|c| shapefile::Point::new(c.x, c.y)))
            .collect()
    };
    let mut rings = Vec::new();
    for p in &mp.0 {
        rings.push(shapefile::PolygonRing::Outer(ring(p.exterior())?));
        for h in p.interiors() {
            rings.push(shapefile::PolygonRing::Inner(ring(h)?));
        }
    }
    Ok(shapefile::Polygon::with_rings(rings))
}

/// A DBF column. Names are Shift_JIS, at most 10 bytes.
struct DbfField {
    name: &'static str,
    kind: u8,
    len: u8,
}

impl DbfField {
    fn text(name: &'static str, len: u8) -> DbfField {
        DbfField {
            name,
            kind: b'C',
            len,
        }
    }
    fn num(name: &'static str, len: u8) -> DbfField {
        DbfField {
            name,
            kind: b'N',
            len,
        }
    }
    fn date(name: &'static str) -> DbfField {
        DbfField {
            name,
            kind: b'D',
            len: 8,
        }
    }
}

enum DbfValue {
    Str(String),
    Int(i64),
    Date(NaiveDate),
}

/// A dBase III table in Shift_JIS. Written by hand rather than with the `dbase` crate, which
/// stores field names as UTF-8 bytes (so Japanese names break the 10-byte limit and come out
/// garbled for Shift_JIS readers) and stamps today's date into the header.
fn dbf_bytes(fields: &[DbfField], rows: &[Vec<DbfValue>], ldid: u8) -> Result<Vec<u8>> {
    let header_len = 32 + 32 * fields.len() + 1;
    let record_len = 1 + fields.iter().map(|f| usize::from(f.len)).sum::<usize>();
    let mut out = Vec::with_capacity(header_len + record_len * rows.len() + 1);
    out.push(0x03);
    out.extend([DBF_DATE.0, DBF_DATE.1, DBF_DATE.2]);
    out.extend(u32::try_from(rows.len())?.to_le_bytes());
    out.extend(u16::try_from(header_len)?.to_le_bytes());
    out.extend(u16::try_from(record_len)?.to_le_bytes());
    out.extend([0u8; 17]);
    out.push(ldid);
    out.extend([0u8; 2]);
    for f in fields {
        let name = shift_jis(f.name)?;
        ensure!(
            name.len() <= 10,
            "DBF field name {} is {} bytes in Shift_JIS (max 10)",
            f.name,
            name.len()
        );
        let mut slot = [0u8; 11];
        slot[..name.len()].copy_from_slice(&name);
        out.extend(slot);
        out.push(f.kind);
        out.extend([0u8; 4]);
        out.push(f.len);
        out.push(0);
        out.extend([0u8; 14]);
    }
    out.push(0x0D);
    for row in rows {
        ensure!(
            row.len() == fields.len(),
            "DBF row has {} values for {} fields",
            row.len(),
            fields.len()
        );
        out.push(b' ');
        for (f, v) in fields.iter().zip(row) {
            let len = usize::from(f.len);
            let cell = match (f.kind, v) {
                (b'C', DbfValue::Str(s)) => {
                    let mut b = shift_jis(s)?;
                    ensure!(
                        b.len() <= len,
                        "DBF value {s:?} does not fit {} ({len} bytes)",
                        f.name
                    );
                    b.resize(len, b' ');
                    b
                }
                (b'N', DbfValue::Int(n)) => {
                    let s = format!("{n:>len$}");
                    ensure!(s.len() == len, "DBF number {n} does not fit {}", f.name);
                    s.into_bytes()
                }
                (b'D', DbfValue::Date(d)) => d.format("%Y%m%d").to_string().into_bytes(),
                _ => bail!("DBF value of the wrong type for {}", f.name),
            };
            out.extend(cell);
        }
    }
    out.push(0x1A);
    Ok(out)
}

/// .shp/.shx (via the `shapefile` crate), .dbf (Shift_JIS), .prj and, if `cpg`, a .cpg.
fn write_shapefile<S: shapefile::record::EsriShape>(
    path: &Path,
    shapes: &[S],
    fields: &[DbfField],
    rows: &[Vec<DbfValue>],
    prj: &str,
    cpg: bool,
) -> Result<()> {
    ensure!(
        shapes.len() == rows.len(),
        "shapefile: shapes and records differ"
    );
    {
        let mut w = shapefile::ShapeWriter::from_path(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        for s in shapes {
            w.write_shape(s)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        w.finalize()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // LDID 0x13 = code page 932; a legacy file without .cpg carries no encoding marker at all.
    let ldid = if cpg { 0x13 } else { 0x00 };
    write_file(&path.with_extension("dbf"), &dbf_bytes(fields, rows, ldid)?)?;
    write_file(&path.with_extension("prj"), prj.as_bytes())?;
    if cpg {
        write_file(&path.with_extension("cpg"), b"SHIFT_JIS")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// catalog.toml
// ---------------------------------------------------------------------------------------------

struct LayerMeta {
    id: &'static str,
    title_ja: &'static str,
    title_en: &'static str,
    department: &'static str,
    description: &'static str,
    /// Inline-table body of `source`.
    source: &'static str,
    crs: Option<&'static str>,
    id_field: Option<&'static str>,
    /// TOML value, e.g. `"public"` or `["welfare", "disaster"]`.
    audience: &'static str,
    license: &'static str,
    updated: &'static str,
    keywords: &'static [&'static str],
    /// Attributes `/search` looks in.
    search: &'static [&'static str],
    /// name, type, label_ja, label_en, audience
    attributes: &'static [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
    )],
}

const PUBLIC_LICENSE: &str = "CC BY 4.0";
const INTERNAL_LICENSE: &str = "みどり野町 内部利用";

fn layers_meta() -> Vec<LayerMeta> {
    vec![
        LayerMeta {
            id: "zoning",
            title_ja: "用途地域",
            title_en: "Zoning districts",
            department: "都市計画課",
            description: "都市計画法に基づく用途地域（13種類）と建ぺい率・容積率。都市計画課が ESRI Shapefile（平面直角座標系第IX系 JGD2011 / EPSG:6677、属性は Shift_JIS、.cpg 付き）で管理・提供。Use districts under the City Planning Act with building coverage and floor area ratios; delivered as a Shift_JIS shapefile in JGD2011 plane rectangular zone IX.",
            source: "path = \"zoning/youto_chiiki.shp\"",
            crs: None,
            id_field: Some("ID"),
            audience: "\"public\"",
            license: PUBLIC_LICENSE,
            updated: "2025-04-01",
            keywords: &["都市計画", "用途地域", "zoning", "urban planning"],
            search: &["用途地域"],
            attributes: &[
                ("ID", "integer", "ID", "ID", None),
                ("用途地域", "string", "用途地域", "Use district", None),
                (
                    "用途コード",
                    "integer",
                    "用途コード",
                    "Use district code",
                    None,
                ),
                (
                    "建ぺい率",
                    "integer",
                    "建ぺい率（%）",
                    "Building coverage ratio (%)",
                    None,
                ),
                (
                    "容積率",
                    "integer",
                    "容積率（%）",
                    "Floor area ratio (%)",
                    None,
                ),
                ("決定年月日", "date", "決定年月日", "Decision date", None),
            ],
        },
        LayerMeta {
            id: "roads",
            title_ja: "市道",
            title_en: "Municipal roads",
            department: "道路課",
            description: "町が管理する道路（市道：1級・2級・その他）の路線。道路課の道路台帳システムから GeoJSON で書き出したもので、旧仕様の crs メンバーで平面直角座標系第IX系（EPSG:6677、メートル）を宣言している。Municipal road routes exported from the road ledger as legacy GeoJSON with a crs member (EPSG:6677 metres).",
            source: "path = \"roads/shido.geojson\"",
            crs: None,
            id_field: Some("路線番号"),
            audience: "\"public\"",
            license: PUBLIC_LICENSE,
            updated: "2026-03-31",
            keywords: &["道路", "市道", "道路台帳", "roads"],
            search: &["路線名"],
            attributes: &[
                ("路線番号", "string", "路線番号", "Route number", None),
                ("路線名", "string", "路線名", "Route name", None),
                ("種別", "string", "種別", "Road class", None),
                ("幅員", "number", "幅員（m）", "Width (m)", None),
                ("延長", "number", "延長（m）", "Length (m)", None),
                (
                    "補修予定年度",
                    "integer",
                    "補修予定年度",
                    "Planned repair year",
                    Some("\"internal\""),
                ),
            ],
        },
        LayerMeta {
            id: "water-mains",
            title_ja: "上水道管路",
            title_en: "Water mains",
            department: "水道課",
            description: "上水道の配水管路。管種は DIP（ダクタイル鋳鉄管）、CIP（鋳鉄管）、VP（硬質塩化ビニル管）、SP（鋼管）、PE（水道配水用ポリエチレン管）。水道課の管路管理システムから FlatGeobuf（EPSG:6677、ヘッダーに CRS あり）で提供。Water distribution mains (DIP ductile iron, CIP cast iron, VP PVC, SP steel, PE polyethylene); FlatGeobuf in EPSG:6677 declared in the header.",
            source: "path = \"water/kanro.fgb\"",
            crs: None,
            id_field: Some("管路番号"),
            audience: "\"internal\"",
            license: INTERNAL_LICENSE,
            updated: "2026-03-31",
            keywords: &["上水道", "水道管路", "water", "pipes"],
            search: &["管路番号"],
            attributes: &[
                ("管路番号", "string", "管路番号", "Main number", None),
                ("管種", "string", "管種", "Pipe material", None),
                ("口径", "integer", "口径（mm）", "Diameter (mm)", None),
                ("布設年度", "integer", "布設年度", "Year laid", None),
            ],
        },
        LayerMeta {
            id: "water-valves",
            title_ja: "仕切弁・消火栓",
            title_en: "Valves and hydrants",
            department: "水道課",
            description: "配水管上の仕切弁と消火栓。水道課の旧システムから出力した ESRI Shapefile で、座標系は一世代前の JGD2000 の平面直角座標系第IX系（EPSG:2451、.prj あり）、属性は Shift_JIS（.cpg 付き）。Gate valves and fire hydrants on the mains; a legacy Shift_JIS shapefile in JGD2000 plane rectangular zone IX (EPSG:2451).",
            source: "path = \"water/benshousen.shp\"",
            crs: None,
            id_field: Some("施設番号"),
            audience: "\"internal\"",
            license: INTERNAL_LICENSE,
            updated: "2026-03-31",
            keywords: &["上水道", "仕切弁", "消火栓", "valves", "hydrants"],
            search: &["施設番号"],
            attributes: &[
                ("施設番号", "string", "施設番号", "Facility number", None),
                ("種別", "string", "種別", "Type", None),
                ("口径", "integer", "口径（mm）", "Diameter (mm)", None),
                ("設置年度", "integer", "設置年度", "Year installed", None),
                ("開閉状態", "string", "開閉状態", "Open/closed", None),
            ],
        },
        LayerMeta {
            id: "repair-history",
            title_ja: "修繕履歴",
            title_en: "Repair history",
            department: "水道課",
            description: "管路・仕切弁・消火栓の修繕台帳。水道課が Excel で管理し CSV（UTF-8 BOM 付き）で提出。位置は平面直角座標系第IX系（EPSG:6677）で、測量の慣例どおり X座標が北方向、Y座標が東方向。Repair ledger of mains, valves and hydrants kept in Excel and exported as UTF-8 CSV with BOM; plane coordinates in EPSG:6677 with the survey convention X = northing, Y = easting.",
            source: "path = \"water/shuuzen_rireki.csv\", x_column = \"Y座標\", y_column = \"X座標\"",
            crs: Some("EPSG:6677"),
            id_field: Some("修繕番号"),
            audience: "\"internal\"",
            license: INTERNAL_LICENSE,
            updated: "2026-04-01",
            keywords: &["上水道", "修繕", "維持管理", "maintenance"],
            search: &[],
            attributes: &[
                ("修繕番号", "string", "修繕番号", "Repair number", None),
                ("施設番号", "string", "施設番号", "Facility number", None),
                ("修繕日", "date", "修繕日", "Repair date", None),
                ("修繕内容", "string", "修繕内容", "Work done", None),
                ("施工業者", "string", "施工業者", "Contractor", None),
                ("担当者", "string", "担当者", "Officer in charge", None),
            ],
        },
        LayerMeta {
            id: "flood-zones",
            title_ja: "洪水浸水想定区域",
            title_en: "Flood inundation zones",
            department: "危機管理課",
            description: "想定最大規模降雨による緑川・沢入川の洪水浸水想定区域（浸水深ランク別）。県から受領した ESRI Shapefile で、座標系は JGD2011 の経緯度（EPSG:6668、.prj あり）。.cpg が無く属性は Shift_JIS。DBF の列名の10バイト制限のため浸水深ランクの列名は半角カナ（浸水深ﾗﾝｸ）。Expected maximum flood depth zones by depth rank, received from the prefecture as a shapefile in JGD2011 degrees without .cpg (Shift_JIS); the rank column name uses half-width katakana to fit the 10-byte DBF limit.",
            source: "path = \"hazard/shinsui_souteikuiki.shp\", encoding = \"shift_jis\"",
            crs: None,
            id_field: None,
            audience: "\"public\"",
            license: PUBLIC_LICENSE,
            updated: "2024-06-01",
            keywords: &["防災", "ハザードマップ", "洪水", "flood"],
            search: &["河川名"],
            attributes: &[
                ("浸水深ﾗﾝｸ", "integer", "浸水深ランク", "Depth rank", None),
                ("浸水深", "string", "浸水深", "Depth", None),
                ("河川名", "string", "河川名", "River", None),
            ],
        },
        LayerMeta {
            id: "landslide-zones",
            title_ja: "土砂災害警戒区域",
            title_en: "Sediment disaster warning zones",
            department: "危機管理課",
            description: "土砂災害防止法に基づく土砂災害警戒区域と土砂災害特別警戒区域（急傾斜地の崩壊・土石流・地すべり）。県の公開データを GeoJSON（RFC 7946、WGS84 経緯度）で受領。特別警戒区域は同じ現象の警戒区域の内側にある。Sediment disaster warning and special warning zones; RFC 7946 GeoJSON in longitude/latitude from the prefecture. Each special zone lies inside a warning zone of the same phenomenon.",
            source: "path = \"hazard/dosha_keikai.geojson\"",
            crs: None,
            id_field: Some("区域番号"),
            audience: "\"public\"",
            license: PUBLIC_LICENSE,
            updated: "2025-12-26",
            keywords: &["防災", "ハザードマップ", "土砂災害", "landslide"],
            search: &[],
            attributes: &[
                ("区域番号", "string", "区域番号", "Zone number", None),
                ("区域区分", "string", "区域区分", "Zone class", None),
                ("現象の種類", "string", "現象の種類", "Phenomenon", None),
                ("指定年月日", "date", "指定年月日", "Designation date", None),
            ],
        },
        LayerMeta {
            id: "shelters",
            title_ja: "指定緊急避難場所",
            title_en: "Designated emergency evacuation sites",
            department: "危機管理課",
            description: "災害対策基本法に基づく指定緊急避難場所。推奨データセット「指定緊急避難場所一覧」の項目順の CSV（Shift_JIS、緯度・経度は JGD2011）。災害種別の列は対応する場合 1。Designated emergency evacuation sites in the national recommended dataset layout; Shift_JIS CSV with JGD2011 latitude/longitude; hazard columns are 1 where the site is designated for it.",
            source: "path = \"shelters/hinanbasho.csv\", encoding = \"shift_jis\"",
            crs: None,
            id_field: Some("ID"),
            audience: "\"public\"",
            license: PUBLIC_LICENSE,
            updated: "2025-04-01",
            keywords: &["防災", "避難場所", "推奨データセット", "shelters"],
            search: &["名称", "名称_カナ", "所在地_連結表記", "施設管理者電話"],
            attributes: &[
                ("ID", "string", "ID", "ID", None),
                ("名称", "string", "名称", "Name", None),
                ("名称_カナ", "string", "名称（カナ）", "Name (kana)", None),
                ("所在地_連結表記", "string", "所在地", "Address", None),
                ("電話番号", "string", "電話番号", "Phone", None),
                ("災害種別_洪水", "boolean", "洪水", "Flood", None),
                (
                    "災害種別_崖崩れ、土石流及び地滑り",
                    "boolean",
                    "崖崩れ、土石流及び地滑り",
                    "Landslide and debris flow",
                    None,
                ),
                ("災害種別_地震", "boolean", "地震", "Earthquake", None),
                ("想定収容人数", "integer", "想定収容人数", "Capacity", None),
                (
                    "施設管理者電話",
                    "string",
                    "施設管理者電話",
                    "Facility manager phone",
                    Some("\"internal\""),
                ),
            ],
        },
        LayerMeta {
            id: "hiking-courses",
            title_ja: "ハイキングコース",
            title_en: "Hiking courses",
            department: "商工観光課",
            description: "町内の山間部を巡るハイキングコース。商工観光課が委託業者から FlatGeobuf（WGS84 経緯度、EPSG:4326、ヘッダーに CRS あり）で受領。Hiking courses into the mountains, delivered by a contractor as FlatGeobuf in EPSG:4326 longitude/latitude.",
            source: "path = \"tourism/hiking.fgb\"",
            crs: None,
            id_field: None,
            audience: "\"public\"",
            license: PUBLIC_LICENSE,
            updated: "2025-10-01",
            keywords: &["観光", "ハイキング", "hiking", "tourism"],
            search: &["コース名"],
            attributes: &[
                ("コース名", "string", "コース名", "Course name", None),
                ("距離_km", "number", "距離（km）", "Distance (km)", None),
                (
                    "所要時間_分",
                    "integer",
                    "所要時間（分）",
                    "Time (minutes)",
                    None,
                ),
                ("難易度", "string", "難易度", "Difficulty", None),
            ],
        },
        LayerMeta {
            id: "evacuation-support",
            title_ja: "避難行動要支援者",
            title_en: "Persons requiring evacuation support",
            department: "福祉課",
            description: "災害対策基本法に基づく避難行動要支援者名簿の所在地。福祉課が CSV（UTF-8、緯度・経度は JGD2011）で管理。個人情報のため福祉・防災担当者のみ閲覧可。氏名等はすべて架空。Register of persons who need help to evacuate; UTF-8 CSV with JGD2011 latitude/longitude, visible to welfare and disaster staff only. All names are invented.",
            source: "path = \"welfare/youshiensha.csv\"",
            crs: None,
            id_field: Some("管理番号"),
            audience: "[\"welfare\", \"disaster\"]",
            license: INTERNAL_LICENSE,
            updated: "2026-04-01",
            keywords: &["福祉", "防災", "避難行動要支援者"],
            search: &["氏名"],
            attributes: &[
                ("管理番号", "string", "管理番号", "Record number", None),
                ("氏名", "string", "氏名", "Name", None),
                ("年齢", "integer", "年齢", "Age", None),
                ("要介護度", "string", "要介護度", "Care level", None),
                ("支援区分", "string", "支援区分", "Support category", None),
                (
                    "避難支援者",
                    "string",
                    "避難支援者",
                    "Evacuation helper",
                    None,
                ),
            ],
        },
    ]
}

/// A TOML basic string (JSON string escapes are valid TOML).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.replace(['"', '\\'], "")))
}

fn catalog_toml() -> String {
    let mut s = String::new();
    s.push_str("# みどり野町（架空）のサンプルデータ。machimap の sample::generate が生成する。\n");
    s.push_str("# Sample data of the fictional town of Midorino, generated by machimap's sample::generate.\n\n");
    s.push_str("[server]\n");
    s.push_str("title_ja = \"みどり野町 統合型GIS\"\n");
    s.push_str("title_en = \"Midorino Town integrated GIS\"\n");
    let _ = writeln!(
        s,
        "description = {}",
        toml_str(
            "埼玉県秩父郡みどり野町（架空の町）の統合型GIS。各課が管理する地図データを OGC API – Features で公開する。Integrated GIS of the fictional town of Midorino, Saitama: every department's map data served through OGC API – Features."
        )
    );
    s.push_str("default_limit = 10\nmax_limit = 10000\n");
    // The town (8 km x 6 km around the centre) in CRS84, rounded outwards: layers that land
    // outside it were delivered in another CRS than they declare.
    s.push_str("extent = [139.03, 35.98, 139.17, 36.06]\n");
    for l in layers_meta() {
        s.push_str("\n[[layer]]\n");
        let _ = writeln!(s, "id = {}", toml_str(l.id));
        let _ = writeln!(s, "title_ja = {}", toml_str(l.title_ja));
        let _ = writeln!(s, "title_en = {}", toml_str(l.title_en));
        let _ = writeln!(s, "department = {}", toml_str(l.department));
        let _ = writeln!(s, "description = {}", toml_str(l.description));
        let _ = writeln!(s, "source = {{ {} }}", l.source);
        if let Some(crs) = l.crs {
            let _ = writeln!(s, "crs = {}", toml_str(crs));
        }
        if let Some(idf) = l.id_field {
            let _ = writeln!(s, "id_field = {}", toml_str(idf));
        }
        let _ = writeln!(s, "audience = {}", l.audience);
        let _ = writeln!(s, "license = {}", toml_str(l.license));
        let _ = writeln!(s, "updated = {}", toml_str(l.updated));
        let kws: Vec<String> = l.keywords.iter().map(|k| toml_str(k)).collect();
        let _ = writeln!(s, "keywords = [{}]", kws.join(", "));
        if !l.search.is_empty() {
            let names: Vec<String> = l.search.iter().map(|k| toml_str(k)).collect();
            let _ = writeln!(s, "search = [{}]", names.join(", "));
        }
        for (name, kind, ja, en, audience) in l.attributes {
            s.push_str("[[layer.attribute]]\n");
            let _ = writeln!(s, "name = {}", toml_str(name));
            let _ = writeln!(s, "type = {}", toml_str(kind));
            let _ = writeln!(s, "label_ja = {}", toml_str(ja));
            let _ = writeln!(s, "label_en = {}", toml_str(en));
            if let Some(a) = audience {
                let _ = writeln!(s, "audience = {a}");
            }
        }
    }
    s.push_str(EDITABLE_LAYERS);
    s.push_str(LOCATION_SECTIONS);
    s
}

/// The layers staff and residents write: damage reports (with their public view) and field
/// inspections. Their features live in the edit store (a GeoPackage), not in `data/`.
const EDITABLE_LAYERS: &str = r#"
# Editable layers: their features live in the edit store (machimap serve --edits, default
# var/edits.gpkg), not in this folder. Residents report through POST /reports.
[[layer]]
id = "damage-reports"
title_ja = "通報箇所"
title_en = "Damage reports"
department = "危機管理課"
description = "住民が公開型GISから、職員が現場から通報した道路損傷・不法投棄などの箇所と対応状況。通報者の記述を含むため庁内限定。Places residents and staff reported (road damage, dumping, …) with their handling; internal, as it holds what reporters wrote."
audience = "internal"
license = "みどり野町 内部利用"
updated = "2026-11-01"
keywords = ["通報", "被災箇所", "道路損傷", "reports"]
[layer.edit]
geometry = "Point"
create = "internal"
update = "internal"
delete = ["disaster", "admin"]
photos = 3
[layer.edit.workflow]
attribute = "状況"
initial = "受付"
transitions = { "受付" = ["対応中", "対象外"], "対応中" = ["完了", "対象外"] }
[[layer.attribute]]
name = "種別"
type = "string"
label_ja = "種別"
label_en = "Category"
codes = ["道路損傷", "河川", "公園", "不法投棄", "カーブミラー・標識", "その他"]
required = true
[[layer.attribute]]
name = "内容"
type = "string"
label_ja = "通報内容"
label_en = "Description"
max_length = 1000
[[layer.attribute]]
name = "状況"
type = "string"
label_ja = "対応状況"
label_en = "Status"
codes = ["受付", "対応中", "完了", "対象外"]
[[layer.attribute]]
name = "対応内容"
type = "string"
label_ja = "対応内容（公開）"
label_en = "Action taken (public)"
max_length = 1000
[[layer.attribute]]
name = "担当課"
type = "string"
label_ja = "担当課"
label_en = "Department in charge"
max_length = 50
[[layer.attribute]]
name = "受付日"
type = "date"
label_ja = "受付日"
label_en = "Received"
auto = "created_date"
[[layer.attribute]]
name = "更新日"
type = "date"
label_ja = "更新日"
label_en = "Updated"
auto = "updated_date"
[[layer.attribute]]
name = "更新者"
type = "string"
label_ja = "更新者"
label_en = "Updated by"
auto = "updated_by"

[[layer]]
id = "reports-public"
title_ja = "通報箇所の対応状況"
title_en = "Reported places and their handling"
department = "危機管理課"
description = "住民・職員からの通報のうち、町が対応中または対応済みのもの。通報者の記述は含まず、写真は職員が公開を認めたものだけ。Reports the town is handling or has handled, without what reporters wrote; photos only where staff approved them."
audience = "public"
license = "CC BY 4.0"
updated = "2026-11-01"
keywords = ["通報", "道路損傷", "reports"]
view = { of = "damage-reports", where_attribute = "状況", where_in = ["対応中", "完了"] }
[[layer.attribute]]
name = "種別"
type = "string"
label_ja = "種別"
label_en = "Category"
codes = ["道路損傷", "河川", "公園", "不法投棄", "カーブミラー・標識", "その他"]
[[layer.attribute]]
name = "状況"
type = "string"
label_ja = "対応状況"
label_en = "Status"
[[layer.attribute]]
name = "対応内容"
type = "string"
label_ja = "対応内容"
label_en = "Action taken"
[[layer.attribute]]
name = "受付日"
type = "date"
label_ja = "受付日"
label_en = "Received"
[[layer.attribute]]
name = "更新日"
type = "date"
label_ja = "更新日"
label_en = "Updated"

[[layer]]
id = "inspections"
title_ja = "点検・修繕記録"
title_en = "Inspections and repairs"
department = "水道課"
description = "水道課・道路課の職員が現場のタブレットで記録する、仕切弁・配水管・市道の点検と修繕の記録。Inspection and repair records of valves, mains and roads, entered on site from a tablet."
audience = ["water", "roads"]
license = "みどり野町 内部利用"
updated = "2026-11-01"
keywords = ["点検", "修繕", "inspection"]
[layer.edit]
geometry = "Point"
create = ["water", "roads"]
update = ["water", "roads"]
delete = ["water", "roads"]
photos = 5
[layer.edit.target]
layer_attribute = "対象レイヤ"
id_attribute = "対象ID"
layers = ["water-valves", "water-mains", "roads"]
[[layer.attribute]]
name = "対象レイヤ"
type = "string"
label_ja = "対象レイヤ"
label_en = "Target layer"
required = true
[[layer.attribute]]
name = "対象ID"
type = "string"
label_ja = "対象ID"
label_en = "Target feature"
required = true
[[layer.attribute]]
name = "種別"
type = "string"
label_ja = "種別"
label_en = "Kind"
codes = ["点検", "修繕", "漏水調査", "清掃"]
required = true
[[layer.attribute]]
name = "実施日"
type = "date"
label_ja = "実施日"
label_en = "Date"
required = true
[[layer.attribute]]
name = "結果"
type = "string"
label_ja = "結果"
label_en = "Result"
codes = ["異常なし", "要経過観察", "要修繕", "修繕済"]
[[layer.attribute]]
name = "所見"
type = "string"
label_ja = "所見"
label_en = "Notes"
max_length = 2000
[[layer.attribute]]
name = "記録者"
type = "string"
label_ja = "記録者"
label_en = "Recorded by"
auto = "created_by"

[reports]
layer = "damage-reports"
category = "種別"
description = "内容"
"#;

/// The location report of the sample town: what a resident or a counter clerk asks about a
/// lot — zoning, hazards, the road it fronts, where to evacuate — and, for staff, the water
/// main in front.
const LOCATION_SECTIONS: &str = r#"
# The location report (GET /location?lon=…&lat=…), section by section.
[[location]]
layer = "zoning"
match = "contains"
attributes = ["用途地域", "建ぺい率", "容積率"]

[[location]]
layer = "flood-zones"
match = "contains"
attributes = ["浸水深ﾗﾝｸ", "浸水深", "河川名"]

[[location]]
layer = "landslide-zones"
match = "contains"
attributes = ["区域区分", "現象の種類"]

[[location]]
layer = "roads"
match = "nearest"
title_ja = "前面道路"
title_en = "Fronting road"
limit = 1
within_m = 10
attributes = ["路線名", "幅員", "補修予定年度"]

[[location]]
layer = "shelters"
match = "nearest"
title_ja = "最寄りの指定緊急避難場所"
title_en = "Nearest evacuation sites"
limit = 3
within_m = 5000
attributes = ["名称", "所在地_連結表記"]

[[location]]
layer = "water-mains"
match = "nearest"
title_ja = "前面の配水管"
title_en = "Water main in front"
limit = 1
within_m = 30
attributes = ["管路番号", "管種", "口径"]
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn read_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
                    out.insert(rel, fs::read(&path).expect("read"));
                }
            }
        }
        out
    }

    #[test]
    fn generation_is_deterministic_and_every_layer_has_features() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let sa = generate(a.path(), 1).expect("generate a");
        let sb = generate(b.path(), 1).expect("generate b");
        assert_eq!(sa, sb);
        assert_eq!(sa.layers.len(), 10);
        for (id, n) in &sa.layers {
            assert!(*n > 0, "layer {id} is empty");
        }
        let ta = read_tree(a.path());
        let tb = read_tree(b.path());
        assert!(ta.contains_key(Path::new("catalog.toml")));
        assert!(ta.contains_key(Path::new("zoning/youto_chiiki.cpg")));
        assert!(!ta.contains_key(Path::new("hazard/shinsui_souteikuiki.cpg")));
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        for (path, bytes) in &ta {
            assert!(
                tb.get(path) == Some(bytes),
                "{} differs between runs",
                path.display()
            );
        }
        let total: usize = ta.values().map(Vec::len).sum();
        assert!(total < 3 * 1024 * 1024, "sample is {total} bytes");
    }

    #[test]
    fn dbf_field_names_are_shift_jis() {
        let bytes = dbf_bytes(
            &[DbfField::text("用途コード", 4)],
            &[vec![DbfValue::Str("商業".into())]],
            0x13,
        )
        .expect("dbf");
        assert_eq!(
            &bytes[32..42],
            shift_jis("用途コード").expect("sjis").as_slice()
        );
        assert_eq!(bytes[29], 0x13);
        assert!(dbf_bytes(&[DbfField::num("浸水深ランク", 2)], &[], 0).is_err());
    }

    #[test]
    fn zoning_covers_all_thirteen_districts() {
        let zones = build_zoning(1).expect("zoning");
        for code in 1..=13u8 {
            assert!(zones.iter().any(|z| z.code == code), "code {code} missing");
        }
        assert!(zones.iter().any(|z| z.geom.0.len() >= 2));
        assert!(
            zones
                .iter()
                .any(|z| z.geom.0.iter().any(|p| !p.interiors().is_empty()))
        );
        // The districts partition the zoned area: no overlaps.
        let sum: f64 = zones.iter().map(|z| z.geom.unsigned_area()).sum();
        let union = unary_union(zones.iter().flat_map(|z| z.geom.0.iter())).unsigned_area();
        assert!((sum - union).abs() < 1.0, "overlap: {sum} vs {union}");
    }

    #[test]
    fn special_landslide_zones_lie_inside_warning_zones() {
        let zones = build_landslides(40, 1).expect("landslides");
        for s in zones.iter().filter(|z| z.special) {
            let parent = s.id.trim_end_matches("-T");
            let w = zones.iter().find(|z| z.id == parent).expect("parent zone");
            assert!(!w.special && w.phenomenon == s.phenomenon);
            assert!(w.geom.contains(&s.geom), "{} outside {}", s.id, w.id);
        }
    }
}
