//! Layer 9, ハイキングコース (hiking courses): trails up the hills, written as FlatGeobuf in
//! degrees (`tourism/hiking.fgb`).

use std::path::Path;

use anyhow::{Result, anyhow, ensure};
use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geo::LineString;
use geozero::ColumnValue;

use crate::geography::{Frame, HALF_H, HALF_W, Pt, elevation, fxy, hamlets, pt};
use crate::geometry::{path_len, round_to, snap_path, trail};
use crate::rng::Rng;
use crate::writers::{add_fgb_feature, write_fgb};

pub(crate) struct Hike {
    name: String,
    km: f64,
    minutes: i64,
    level: &'static str,
    path: Vec<Pt>,
}

pub(crate) fn build_hiking(target: usize, scale: u32) -> Result<Vec<Hike>> {
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

pub(crate) fn write_hiking(dir: &Path, frame: &Frame, hikes: &[Hike]) -> Result<()> {
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
