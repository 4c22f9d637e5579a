//! The water department's layers: 3. water mains along the roads (FlatGeobuf,
//! `water/kanro.fgb`), 4. valves and hydrants on the mains (shapefile in JGD2000 zone IX,
//! `water/benshousen.*`), 5. the repair history (ledger CSV with plane coordinates,
//! `water/shuuzen_rireki.csv`).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Result, anyhow, ensure};
use chrono::{Datelike, NaiveDate};
use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geo::LineString;
use geozero::ColumnValue;

use crate::geography::{Frame, PRJ_JGD2000_IX, Pt, bank, elevation, pt};
use crate::geometry::{
    ensure_multi_vertex, offset_path, path_len, point_at, round_to, snap_path, sub_path,
};
use crate::rng::{Rng, ymd};
use crate::roads::{Road, RoadClass};
use crate::writers::{DbfField, DbfValue, add_fgb_feature, write_fgb, write_file, write_shapefile};

pub(crate) struct Main {
    id: String,
    kind: &'static str,
    diameter: i64,
    year: i64,
    /// Local coordinates rounded to mm.
    path: Vec<Pt>,
}

pub(crate) fn build_mains(roads: &[Road], target: usize, scale: u32) -> Result<Vec<Main>> {
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

pub(crate) fn write_mains(dir: &Path, frame: &Frame, mains: &[Main]) -> Result<()> {
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

pub(crate) struct Valve {
    id: String,
    hydrant: bool,
    diameter: i64,
    year: i64,
    closed: bool,
    at: Pt,
}

pub(crate) fn build_valves(mains: &[Main], target: usize, scale: u32) -> Result<Vec<Valve>> {
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

pub(crate) fn write_valves(dir: &Path, frame: &Frame, valves: &[Valve]) -> Result<()> {
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

pub(crate) struct Repair {
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

pub(crate) fn build_repairs(
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

pub(crate) fn write_repairs(dir: &Path, frame: &Frame, repairs: &[Repair]) -> Result<()> {
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
