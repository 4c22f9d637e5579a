//! Layer 2, 市道 (municipal roads): named trunk routes, street lattices and winding rural
//! roads, written as GeoJSON with a `crs` member naming EPSG:6677 (`roads/shido.geojson`).

use std::path::Path;

use anyhow::{Result, ensure};

use crate::geography::{Frame, Pt, bank, district, fxy, gradient, hamlets, pt, trib_x};
use crate::geometry::{ensure_multi_vertex, path_len, round_to, snap_path, trace, winding_path};
use crate::rng::Rng;
use crate::writers::{Json, json_path, push_feature, write_file};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoadClass {
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

pub(crate) struct Road {
    pub(crate) no: String,
    pub(crate) name: String,
    pub(crate) class: RoadClass,
    pub(crate) width: f64,
    /// Parts in local coordinates rounded to cm; more than one: MultiLineString.
    pub(crate) parts: Vec<Vec<Pt>>,
    pub(crate) repair_year: i64,
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

pub(crate) fn build_roads(target: usize, scale: u32) -> Result<Vec<Road>> {
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

pub(crate) fn write_roads(dir: &Path, frame: &Frame, roads: &[Road]) -> Result<()> {
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
