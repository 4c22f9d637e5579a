//! `catalog.toml`: every layer's metadata, the editable layers and the location report
//! sections.

use std::fmt::Write as _;

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
    /// Lines of `[layer.tiles]`, when the layer is drawn otherwise than by default.
    tiles: &'static str,
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
            tiles: "",
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
            tiles: "attributes = { \"0\" = [\"路線番号\", \"種別\"], \"14\" = [\"*\"] }",
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
            tiles: "",
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
            tiles: "",
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
            tiles: "",
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
            tiles: "keep = true",
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
            tiles: "keep = true",
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
            tiles: "keep = true",
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
            tiles: "",
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
            tiles: "",
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

pub(crate) fn catalog_toml() -> String {
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
        if !l.tiles.is_empty() {
            s.push_str("[layer.tiles]\n");
            let _ = writeln!(s, "{}", l.tiles);
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
[layer.tiles]
keep = true
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
[layer.tiles]
keep = true
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
