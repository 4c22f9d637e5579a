//! Layer 10, 避難行動要支援者 (persons requiring evacuation support): a ledger CSV with
//! latitude and longitude (`welfare/youshiensha.csv`).

use std::path::Path;

use anyhow::{Result, anyhow, ensure};

use crate::geography::{Frame, Pt, bank, district, elevation, in_town, pt};
use crate::geometry::{dist, path_len, point_at};
use crate::rng::Rng;
use crate::roads::{Road, RoadClass};
use crate::writers::write_file;

pub(crate) struct Person {
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

pub(crate) fn build_support(roads: &[Road], target: usize, scale: u32) -> Result<Vec<Person>> {
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

pub(crate) fn write_support(dir: &Path, frame: &Frame, people: &[Person]) -> Result<()> {
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
