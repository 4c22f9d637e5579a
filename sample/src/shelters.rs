//! Layer 8, 指定緊急避難場所 (designated emergency evacuation sites) in the national
//! recommended CSV layout, Shift_JIS (`shelters/hinanbasho.csv`).

use std::path::Path;

use anyhow::{Result, anyhow, ensure};
use geo::MultiPolygon;

use crate::geography::{
    Frame, MUNI_CODE, MUNI_NAME, Pt, address, bank, district, elevation, fxy, hamlets, in_town, pt,
    river_y, trib_x,
};
use crate::geometry::{in_any, round_to};
use crate::hazard::{FloodZone, Landslide, flood_rank};
use crate::rng::Rng;
use crate::writers::{shift_jis, write_file};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SiteKind {
    School,
    Hall,
    Park,
}

pub(crate) struct Shelter {
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

pub(crate) fn build_shelters(
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

pub(crate) fn write_shelters(dir: &Path, frame: &Frame, shelters: &[Shelter]) -> Result<()> {
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
