//! CQL2 tests: the standard's examples in both encodings, evaluation on a small hand-made
//! layer with hand-computed expectations, error wording and positions, hostile input.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use geo::{Geometry, Intersects, Rect};

use super::*;
use crate::access::Catalog;
use crate::access::{LayerView, View};
use crate::config::CatalogConfig;
use crate::policy::Principal;

// ---------------------------------------------------------------------------------------
// The test layer "machi": six features, CRS84.
//
//   0  point (139.10 36.00), inside polygon 3
//   1  point (139.20 36.10), outside both polygons
//   2  line (139.00 35.98)–(139.30 35.98), crossing polygons 3 and 4; nearly all nulls
//   3  polygon A (139.05–139.15, 35.95–36.05)
//   4  polygon B (139.15–139.25, 35.95–36.05), sharing A's east edge
//   5  point (139.50 36.50), far away
// ---------------------------------------------------------------------------------------

const CATALOG: &str = r#"
[[layer]]
id = "machi"
title_ja = "テスト"
title_en = "Test"
department = "情報政策課"
source = { path = "machi.geojson" }
audience = "public"
license = "CC BY 4.0"
updated = "2026-04-01"
[[layer.attribute]]
name = "名称"
type = "string"
label_ja = "名称"
[[layer.attribute]]
name = "用途地域"
type = "string"
label_ja = "用途地域"
[[layer.attribute]]
name = "面積"
type = "number"
label_ja = "面積"
[[layer.attribute]]
name = "階数"
type = "integer"
label_ja = "階数"
[[layer.attribute]]
name = "着工日"
type = "date"
label_ja = "着工日"
[[layer.attribute]]
name = "完了日"
type = "date"
label_ja = "完了日"
[[layer.attribute]]
name = "開館"
type = "boolean"
label_ja = "開館"
[[layer.attribute]]
name = "浸水深ﾗﾝｸ"
type = "string"
label_ja = "浸水深ランク"
[[layer.attribute]]
name = "担当者"
type = "string"
label_ja = "担当者"
audience = ["welfare"]
"#;

/// Feature 3's name is stored decomposed (か + U+3099), as some exports write it.
fn geojson() -> String {
    let features = [
        (
            r#"{"type":"Point","coordinates":[139.10,36.00]}"#,
            r#"{"名称":"中央公民館","用途地域":"商業地域","面積":120.5,"階数":3,"着工日":"2024-01-10","完了日":"2024-04-01","開館":true,"浸水深ﾗﾝｸ":"1","担当者":"山田"}"#,
        ),
        (
            r#"{"type":"Point","coordinates":[139.20,36.10]}"#,
            r#"{"名称":"Café de la Gare","用途地域":"第一種住居地域","面積":80.0,"階数":2,"着工日":"2023-12-31","完了日":"2023-12-31","開館":false,"浸水深ﾗﾝｸ":"2","担当者":"佐藤"}"#,
        ),
        (
            r#"{"type":"LineString","coordinates":[[139.00,35.98],[139.30,35.98]]}"#,
            r#"{"名称":"STRASSE 1号線","用途地域":null,"面積":null,"階数":null,"着工日":"2024-02-01","完了日":null,"開館":null,"浸水深ﾗﾝｸ":null,"担当者":null}"#,
        ),
        (
            r#"{"type":"Polygon","coordinates":[[[139.05,35.95],[139.15,35.95],[139.15,36.05],[139.05,36.05],[139.05,35.95]]]}"#,
            "{\"名称\":\"か\u{3099}っこう用地\",\"用途地域\":\"第一種低層住居専用地域\",\"面積\":1000.0,\"階数\":1,\"着工日\":\"2023-06-01\",\"完了日\":\"2024-04-01\",\"開館\":true,\"浸水深ﾗﾝｸ\":\"3\",\"担当者\":null}",
        ),
        (
            r#"{"type":"Polygon","coordinates":[[[139.15,35.95],[139.25,35.95],[139.25,36.05],[139.15,36.05],[139.15,35.95]]]}"#,
            r#"{"名称":"100%達成_記念","用途地域":"商業地域","面積":999.5,"階数":10,"着工日":"2024-04-01","完了日":"2025-01-15","開館":false,"浸水深ﾗﾝｸ":"2","担当者":null}"#,
        ),
        (
            r#"{"type":"Point","coordinates":[139.50,36.50]}"#,
            r#"{"名称":null,"用途地域":"工業地域","面積":0.0,"階数":null,"着工日":null,"完了日":"2020-06-30","開館":true,"浸水深ﾗﾝｸ":"4","担当者":null}"#,
        ),
    ];
    let items: Vec<String> = features
        .iter()
        .map(|(g, p)| format!(r#"{{"type":"Feature","geometry":{g},"properties":{p}}}"#))
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        items.join(",")
    )
}

fn catalog() -> Arc<Catalog> {
    static CATALOG_ONCE: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG_ONCE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::write(dir.path().join("machi.geojson"), geojson()).expect("write layer");
            let config =
                CatalogConfig::parse(CATALOG, Path::new("catalog.toml")).expect("valid catalog");
            let (catalog, _) = Catalog::from_config(dir.path(), config, None)
                .unwrap_or_else(|e| panic!("catalog loads: {:?}", e.lines()));
            Arc::new(catalog)
        })
        .clone()
}

fn anonymous() -> LayerView {
    View::new(catalog(), Principal::Anonymous)
        .layer("machi")
        .expect("public layer")
}

fn welfare_staff() -> LayerView {
    let principal = Principal::Staff {
        user: "tanaka".into(),
        department: "福祉課".into(),
        roles: ["staff", "welfare"].iter().map(|s| s.to_string()).collect(),
    };
    View::new(catalog(), principal)
        .layer("machi")
        .expect("public layer")
}

fn identity(g: Geometry<f64>) -> Result<Geometry<f64>, String> {
    Ok(g)
}

fn bind_in(layer: &LayerView, filter: &str, lang: Lang) -> Result<Filter, Cql2Error> {
    let expr = parse(filter, lang)?;
    Filter::bind(&expr, layer, &identity)
}

fn select_in(layer: &LayerView, filter: &str, lang: Lang) -> Vec<usize> {
    let f = bind_in(layer, filter, lang).unwrap_or_else(|e| panic!("{filter}: {e}"));
    (0..layer.len()).filter(|&i| f.matches(layer, i)).collect()
}

/// Indices of the features a CQL2-text filter selects for an anonymous caller.
fn select(filter: &str) -> Vec<usize> {
    select_in(&anonymous(), filter, Lang::Text)
}

fn select_json(filter: &str) -> Vec<usize> {
    select_in(&anonymous(), filter, Lang::Json)
}

/// The error a text filter gives at parse or bind time, as the caller would show it.
fn error(filter: &str) -> String {
    match bind_in(&anonymous(), filter, Lang::Text) {
        Ok(_) => panic!("{filter}: expected an error"),
        Err(e) => e.to_string(),
    }
}

fn json_error(filter: &str) -> String {
    match bind_in(&anonymous(), filter, Lang::Json) {
        Ok(_) => panic!("{filter}: expected an error"),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// The standard's examples
// ---------------------------------------------------------------------------------------

fn examples(file: &str) -> Vec<(String, String)> {
    let text = match file {
        "text" => include_str!("examples/text.txt"),
        _ => include_str!("examples/json.txt"),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, filter) = l.split_once(' ').expect("name and filter");
            (name.to_string(), filter.to_string())
        })
        .collect()
}

#[test]
fn every_standard_example_parses_and_both_encodings_agree() {
    let text = examples("text");
    let json = examples("json");
    assert_eq!(
        text.len(),
        109,
        "all of the standard's examples are present"
    );
    let names: Vec<_> = text.iter().map(|(n, _)| n).collect();
    let json_names: Vec<_> = json.iter().map(|(n, _)| n).collect();
    assert_eq!(names, json_names, "each text example has its JSON twin");
    for ((name, t), (_, j)) in text.iter().zip(&json) {
        let from_text = parse(t, Lang::Text).unwrap_or_else(|e| panic!("{name} (text): {e}"));
        let from_json = parse(j, Lang::Json).unwrap_or_else(|e| panic!("{name} (JSON): {e}"));
        assert_eq!(from_text, from_json, "{name}: text and JSON differ");
        // The tree written back as text parses to the same tree.
        let again = parse(&from_text.to_string(), Lang::Text)
            .unwrap_or_else(|e| panic!("{name}: {from_text} does not parse back: {e}"));
        assert_eq!(again, from_text, "{name}: {from_text} does not round-trip");
    }
}

#[test]
fn standard_examples_have_the_expected_shape() {
    let e = |t: &str| parse(t, Lang::Text).expect("parses");
    // NOT binds tighter than OR, AND tighter than OR.
    assert!(matches!(
        e("NOT (floors<5) OR swimming_pool=true"),
        Expr::Or(ref v) if v.len() == 2 && matches!(v[0], Expr::Not(_))
    ));
    assert!(matches!(
        e("(floors>5 AND material='brick') OR swimming_pool=true"),
        Expr::Or(ref v) if matches!(v[0], Expr::And(_))
    ));
    // Multiplication before addition, left to right, and ^ binds tightest.
    assert_eq!(e("x = 1 + 2 * 3 - 4"), e("x = ((1 + (2 * 3)) - 4)"));
    assert_eq!(e("x = 2 * 3 ^ 2"), e("x = 2 * (3 ^ 2)"));
    assert_eq!(e("x = -y"), e("x = -1 * y"));
    // Keywords in any case.
    assert_eq!(
        e("a between 1 and 2 and b is not null"),
        e("a BETWEEN 1 AND 2 AND b IS NOT NULL")
    );
    assert_eq!(
        e("t_after(d, date('2020-01-01'))"),
        e("T_AFTER(d, DATE('2020-01-01'))")
    );
}

#[test]
fn odd_but_valid_trees_print_as_text_that_parses_back() {
    for json in [
        r#"{"op":"=","args":[{"op":"=","args":[{"property":"a"},1]},true]}"#,
        r#"{"op":"isNull","args":[{"op":"like","args":[{"property":"a"},"x%"]}]}"#,
        r#"{"op":"in","args":[{"op":"<","args":[1,2]},[true,{"op":"isNull","args":[{"property":"b"}]}]]}"#,
        r#"{"op":"and","args":[{"op":"or","args":[true,false]},{"op":"not","args":[false]}]}"#,
    ] {
        let e = parse(json, Lang::Json).expect("parses");
        let back = parse(&e.to_string(), Lang::Text)
            .unwrap_or_else(|err| panic!("{e} does not parse back: {err}"));
        assert_eq!(back, e);
    }
}

#[test]
fn bound_filters_can_be_shared_between_request_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Filter>();
    shareable::<Expr>();
    shareable::<Cql2Error>();
    let layer = anonymous();
    let f = bind_in(&layer, "名称 LIKE '%公民館' OR 階数 > 5", Lang::Text).expect("binds");
    let hits = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let f = f.clone();
                let layer = layer.clone();
                s.spawn(move || (0..layer.len()).filter(|&i| f.matches(&layer, i)).count())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect::<Vec<_>>()
    });
    assert_eq!(hits, [2, 2]);
}

#[test]
fn conformance_lists_the_implemented_classes_only() {
    let base = "http://www.opengis.net/spec/cql2/1.0/conf/";
    let classes: BTreeSet<&str> = CONFORMANCE
        .iter()
        .map(|c| c.strip_prefix(base).expect("CQL2 1.0 URI"))
        .collect();
    let expected: BTreeSet<&str> = [
        "basic-cql2",
        "cql2-text",
        "cql2-json",
        "advanced-comparison-operators",
        "case-insensitive-comparison",
        "accent-insensitive-comparison",
        "basic-spatial-functions",
        "basic-spatial-functions-plus",
        "spatial-functions",
        "temporal-functions",
        "property-property",
        "arithmetic",
    ]
    .into_iter()
    .collect();
    assert_eq!(classes, expected);
    assert_eq!(CONFORMANCE.len(), expected.len());
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

#[test]
fn comparisons_select_by_number_string_and_boolean() {
    assert_eq!(select("面積 > 100"), [0, 3, 4]);
    assert_eq!(select("階数 = 3"), [0]);
    assert_eq!(select("階数 <> 3"), [1, 3, 4]);
    assert_eq!(select("階数 >= 2"), [0, 1, 4]);
    assert_eq!(select("面積 <= 80"), [1, 5]);
    // Integer and number attributes and literals compare numerically.
    assert_eq!(select("面積 = 80"), [1]);
    assert_eq!(select("階数 = 3.0"), [0]);
    assert_eq!(select("用途地域 = '商業地域'"), [0, 4]);
    assert_eq!(select("用途地域 < '工業地域'"), [0, 4]);
    assert_eq!(select("開館 = TRUE"), [0, 3, 5]);
    assert_eq!(select("開館 <> true"), [1, 4]);
    // Literal on the left, property on both sides.
    assert_eq!(select("3 = 階数"), [0]);
    assert_eq!(select("着工日 = 完了日"), [1]);
    assert_eq!(select("面積 > 階数 * 100"), [3]);
    // Quoted and unquoted Japanese names, half-width katakana included.
    assert_eq!(select("\"浸水深ﾗﾝｸ\" = '2'"), [1, 4]);
    assert_eq!(select("浸水深ﾗﾝｸ = '2'"), [1, 4]);
    // A quote inside a literal is doubled.
    assert_eq!(select("名称 = 'it''s'"), Vec::<usize>::new());
}

#[test]
fn null_values_follow_three_valued_logic() {
    // A comparison with null is unknown: neither it nor its negation selects the feature.
    assert_eq!(select("NOT (階数 = 3)"), [1, 3, 4]);
    assert_eq!(select("階数 IS NULL"), [2, 5]);
    assert_eq!(select("階数 IS NOT NULL"), [0, 1, 3, 4]);
    assert_eq!(select("階数 = 3 OR 階数 IS NULL"), [0, 2, 5]);
    // unknown OR false is unknown; unknown OR true is true.
    assert_eq!(select("階数 = 3 OR 面積 > 0"), [0, 1, 3, 4]);
    assert_eq!(select("階数 = 3 OR 面積 >= 0"), [0, 1, 3, 4, 5]);
    // unknown AND false is false, so its negation is true (feature 5); unknown AND unknown
    // stays unknown (feature 2).
    assert_eq!(select("NOT (階数 > 100 AND 面積 > 5000)"), [0, 1, 3, 4, 5]);
    // NOT unknown is unknown.
    assert_eq!(select("NOT (NOT (階数 = 3))"), [0]);
    // BETWEEN and IN with a null value are unknown too.
    assert_eq!(select("NOT 階数 BETWEEN 1 AND 2"), [0, 4]);
    assert_eq!(select("階数 NOT IN (1, 2)"), [0, 4]);
    // Arithmetic with null, and division by zero, are unknown; IS NULL is never unknown.
    assert_eq!(select("(面積 / 0) IS NULL"), [0, 1, 2, 3, 4, 5]);
    assert_eq!(select("NOT (面積 / 0 > 1)"), Vec::<usize>::new());
    assert_eq!(select("(階数 + 1) IS NULL"), [2, 5]);
    assert_eq!(select("(階数 = 3) IS NULL"), [2, 5]);
    assert_eq!(select("geometry IS NULL"), Vec::<usize>::new());
    assert_eq!(select("'x' IS NULL"), Vec::<usize>::new());
}

#[test]
fn between_in_and_arithmetic() {
    assert_eq!(select("面積 BETWEEN 80 AND 999.5"), [0, 1, 4]);
    assert_eq!(select("面積 NOT BETWEEN 80 AND 999.5"), [3, 5]);
    assert_eq!(select("用途地域 IN ('商業地域', '工業地域')"), [0, 4, 5]);
    assert_eq!(select("階数 IN (1, 10)"), [3, 4]);
    assert_eq!(select("面積 * 2 >= 2000"), [3]);
    assert_eq!(select("階数 % 2 = 0"), [1, 4]);
    assert_eq!(select("階数 div 3 = 1"), [0]);
    assert_eq!(select("階数 / 4 = 2.5"), [4]);
    assert_eq!(select("2 ^ 階数 = 8"), [0]);
    assert_eq!(select("-階数 < -5"), [4]);
    assert_eq!(select("階数 = 1 + 2 * 1"), [0]);
    assert_eq!(select("階数 = (1 + 2) * 1"), [0]);
    assert_eq!(select("階数 - 1 - 1 = 1"), [0]);
    assert_eq!(select("(面積 - 20.5) / 10 = 10"), [0]);
}

#[test]
fn like_patterns_with_wildcards_and_escapes() {
    assert_eq!(select("名称 LIKE '中央%'"), [0]);
    assert_eq!(select("名称 LIKE '__公民館'"), [0]);
    assert_eq!(select("名称 LIKE '_公民館'"), Vec::<usize>::new());
    assert_eq!(select("名称 LIKE '%'"), [0, 1, 2, 3, 4]);
    // \% and \_ are a literal percent sign and underscore.
    assert_eq!(select("名称 LIKE '100\\%%'"), [4]);
    assert_eq!(select("名称 LIKE '%達成\\_記念'"), [4]);
    assert_eq!(select("名称 LIKE '100\\%達成\\_%'"), [4]);
    assert_eq!(select("名称 LIKE '1_0%'"), [4]);
    assert_eq!(select("名称 LIKE '10\\_%'"), Vec::<usize>::new());
    assert_eq!(select("名称 NOT LIKE '%a%'"), [0, 2, 3, 4]);
    // Feature 3 is stored decomposed; `_` still matches its one composed が.
    assert_eq!(select("名称 LIKE '_っこう%'"), [3]);
    // In text \' is an escaped quote; JSON can end a pattern with a lone backslash.
    let e = json_error(r#"{"op":"like","args":[{"property":"名称"},"abc\\"]}"#);
    assert_eq!(
        e,
        "LIKE pattern \"abc\\\\\" ends with the escape character \\"
    );
}

#[test]
fn strings_compare_after_unicode_normalization() {
    // Composed が in the filter, decomposed in the data.
    assert_eq!(select("名称 = 'がっこう用地'"), [3]);
    assert_eq!(select("名称 = 'か\u{3099}っこう用地'"), [3]);
}

#[test]
fn casei_folds_case_fully() {
    assert_eq!(select("名称 = 'strasse 1号線'"), Vec::<usize>::new());
    assert_eq!(select("CASEI(名称) = CASEI('strasse 1号線')"), [2]);
    // Full case folding: ß is ss.
    assert_eq!(select("CASEI(名称) = CASEI('Straße 1号線')"), [2]);
    assert_eq!(select("CASEI(名称) LIKE CASEI('straße%')"), [2]);
    assert_eq!(
        select("CASEI(名称) IN (CASEI('CAFÉ DE LA GARE'), CASEI('x'))"),
        [1]
    );
    // Only the folded side is folded.
    assert_eq!(select("名称 LIKE CASEI('STRASSE%')"), Vec::<usize>::new());
}

#[test]
fn accenti_strips_accents_but_not_japanese_sound_marks() {
    assert_eq!(select("ACCENTI(名称) = ACCENTI('Cafe de la Gare')"), [1]);
    assert_eq!(select("ACCENTI(名称) LIKE 'Cafe%'"), [1]);
    assert_eq!(select("名称 LIKE 'Cafe%'"), Vec::<usize>::new());
    // The dakuten is kept: が is not か.
    assert_eq!(select("ACCENTI(名称) = ACCENTI('がっこう用地')"), [3]);
    assert_eq!(
        select("ACCENTI(名称) = ACCENTI('かっこう用地')"),
        Vec::<usize>::new()
    );
    // Both together.
    assert_eq!(
        select("CASEI(ACCENTI(名称)) = CASEI(ACCENTI('CAFE DE LA GARE'))"),
        [1]
    );
    assert_eq!(select("ACCENTI(CASEI(名称)) LIKE 'cafe%'"), [1]);
}

#[test]
fn dates_compare_with_dates_timestamps_and_date_strings() {
    assert_eq!(select("完了日 = DATE('2024-04-01')"), [0, 3]);
    assert_eq!(select("完了日 >= DATE('2024-04-01')"), [0, 3, 4]);
    // The documented leniency: a 'YYYY-MM-DD' string against a date attribute.
    assert_eq!(select("完了日 > '2024-01-01'"), [0, 3, 4]);
    assert_eq!(select("完了日 IN ('2024-04-01', '2020-06-30')"), [0, 3, 5]);
    // A date is its day's instant 00:00:00Z when compared with a timestamp.
    assert_eq!(select("完了日 = TIMESTAMP('2024-04-01T00:00:00Z')"), [0, 3]);
    assert_eq!(
        select("完了日 < TIMESTAMP('2024-04-01T00:00:01Z')"),
        [0, 1, 3, 5]
    );
    assert_eq!(
        select("完了日 BETWEEN DATE('2024-01-01') AND DATE('2024-12-31')"),
        [0, 3]
    );
    let e = error("完了日 = 'yesterday'");
    assert_eq!(
        e,
        "cannot compare 完了日 (date) with 'yesterday' (string); write dates as DATE('YYYY-MM-DD')"
    );
}

#[test]
fn temporal_functions_on_instants() {
    assert_eq!(select("T_AFTER(完了日, DATE('2024-01-01'))"), [0, 3, 4]);
    assert_eq!(select("T_BEFORE(完了日, DATE('2024-01-01'))"), [1, 5]);
    assert_eq!(select("T_EQUALS(完了日, DATE('2024-04-01'))"), [0, 3]);
    assert_eq!(select("T_DISJOINT(完了日, DATE('2024-04-01'))"), [1, 4, 5]);
    assert_eq!(select("T_INTERSECTS(完了日, DATE('2024-04-01'))"), [0, 3]);
    assert_eq!(
        select("T_INTERSECTS(完了日, INTERVAL('2024-01-01', '2024-12-31'))"),
        [0, 3]
    );
    assert_eq!(
        select("T_INTERSECTS(完了日, INTERVAL('2024-04-01', '..'))"),
        [0, 3, 4]
    );
    assert_eq!(
        select("T_AFTER(完了日, INTERVAL('..', '2023-12-31'))"),
        [0, 3, 4]
    );
    assert_eq!(
        select("T_BEFORE(完了日, TIMESTAMP('2023-12-31T00:00:01Z'))"),
        [1, 5]
    );
    // An instant is not accepted where only intervals are defined.
    let e = error("T_DURING(完了日, INTERVAL('2024-01-01', '2024-12-31'))");
    assert!(
        e.starts_with("T_DURING compares intervals and 完了日 is an instant (date)"),
        "{e}"
    );
    assert!(e.contains("INTERVAL(完了日, 完了日)"), "{e}");
    // A zero-length interval made of an instant is an interval.
    assert_eq!(
        select("T_DURING(INTERVAL(完了日, 完了日), INTERVAL('2024-01-01', '2024-12-31'))"),
        [0, 3]
    );
}

#[test]
fn temporal_functions_on_intervals() {
    // Intervals (着工日, 完了日): 0 [2024-01-10, 2024-04-01], 1 [2023-12-31, 2023-12-31],
    // 2 and 5 have a null end (unknown), 3 [2023-06-01, 2024-04-01], 4 [2024-04-01, 2025-01-15].
    let iv = "INTERVAL(着工日, 完了日)";
    let t = |f: &str, other: &str| select(&format!("{f}({iv}, {other})"));
    assert_eq!(t("T_DURING", "INTERVAL('2024-01-01', '2024-12-31')"), [0]);
    assert_eq!(
        select(&format!(
            "T_CONTAINS(INTERVAL('2023-01-01', '2025-12-31'), {iv})"
        )),
        [0, 1, 3, 4]
    );
    assert_eq!(t("T_MEETS", "INTERVAL('2024-04-01', '2024-12-31')"), [0, 3]);
    assert_eq!(t("T_METBY", "INTERVAL('2023-01-01', '2024-04-01')"), [4]);
    assert_eq!(t("T_STARTS", "INTERVAL('2024-01-10', '2024-12-31')"), [0]);
    assert_eq!(
        t("T_STARTEDBY", "INTERVAL('2023-06-01', '2023-12-31')"),
        [3]
    );
    assert_eq!(
        t("T_FINISHES", "INTERVAL('2023-01-01', '2024-04-01')"),
        [0, 3]
    );
    assert_eq!(
        t("T_FINISHEDBY", "INTERVAL('2024-02-01', '2024-04-01')"),
        [0, 3]
    );
    assert_eq!(
        t("T_OVERLAPS", "INTERVAL('2024-03-01', '2024-06-30')"),
        [0, 3]
    );
    assert_eq!(
        t("T_OVERLAPPEDBY", "INTERVAL('2024-03-01', '2024-06-30')"),
        [4]
    );
    assert_eq!(t("T_EQUALS", "INTERVAL('2023-12-31', '2023-12-31')"), [1]);
    assert_eq!(t("T_DISJOINT", "INTERVAL('2024-06-01', '..')"), [0, 1, 3]);
    assert_eq!(t("T_INTERSECTS", "INTERVAL('2024-06-01', '..')"), [4]);
    assert_eq!(t("T_BEFORE", "DATE('2024-04-01')"), [1]);
    assert_eq!(t("T_AFTER", "TIMESTAMP('2023-12-31T12:00:00Z')"), [0, 4]);
    // Unbounded on both sides intersects every known interval.
    assert_eq!(t("T_INTERSECTS", "INTERVAL('..', '..')"), [0, 1, 3, 4]);
    // The same through CQL2 JSON.
    assert_eq!(
        select_json(
            r#"{"op":"t_overlappedBy","args":[{"interval":[{"property":"着工日"},{"property":"完了日"}]},{"interval":["2024-03-01","2024-06-30"]}]}"#
        ),
        [4]
    );
    let e = error("T_MEETS(INTERVAL('2024-02-01', '2024-01-01'), 完了日)");
    assert!(e.contains("starts after it ends"), "{e}");
}

const POLYGON_A: &str =
    "POLYGON((139.05 35.95, 139.15 35.95, 139.15 36.05, 139.05 36.05, 139.05 35.95))";

#[test]
fn spatial_functions_follow_de9im() {
    let s = |f: &str, lit: &str| select(&format!("{f}(geometry, {lit})"));
    assert_eq!(s("S_INTERSECTS", POLYGON_A), [0, 2, 3, 4]);
    assert_eq!(s("S_DISJOINT", POLYGON_A), [1, 5]);
    assert_eq!(s("S_EQUALS", POLYGON_A), [3]);
    // Equal point sets with another start vertex and direction are equal.
    assert_eq!(
        s(
            "S_EQUALS",
            "POLYGON((139.15 36.05, 139.15 35.95, 139.05 35.95, 139.05 36.05, 139.15 36.05))"
        ),
        [3]
    );
    assert_eq!(s("S_TOUCHES", POLYGON_A), [4]);
    assert_eq!(s("S_WITHIN", POLYGON_A), [0, 3]);
    assert_eq!(s("S_CROSSES", POLYGON_A), [2]);
    assert_eq!(s("S_CONTAINS", "POINT(139.10 36.00)"), [0, 3]);
    assert_eq!(
        s(
            "S_OVERLAPS",
            "POLYGON((139.10 35.90, 139.20 35.90, 139.20 36.00, 139.10 36.00, 139.10 35.90))"
        ),
        [3, 4]
    );
    // Argument order matters: S_WITHIN(a, b) is "a within b".
    assert_eq!(select("S_WITHIN(POINT(139.10 36.00), geometry)"), [0, 3]);
    assert_eq!(
        select(&format!("S_CONTAINS({POLYGON_A}, geometry)")),
        [0, 3]
    );
    // Other literal forms: BBOX, multi-geometries, collections, Z coordinates.
    assert_eq!(s("S_INTERSECTS", "BBOX(139.19, 36.09, 139.21, 36.11)"), [1]);
    assert_eq!(
        s("S_INTERSECTS", "BBOX(139.19, 36.09, 0, 139.21, 36.11, 100)"),
        [1]
    );
    assert_eq!(
        s("S_INTERSECTS", "MULTIPOINT((139.20 36.10), (139.50 36.50))"),
        [1, 5]
    );
    assert_eq!(
        s("S_INTERSECTS", "MULTIPOINT(139.20 36.10, 139.50 36.50)"),
        [1, 5]
    );
    assert_eq!(
        s(
            "S_INTERSECTS",
            "GEOMETRYCOLLECTION(POINT(139.2 36.1), LINESTRING(139.49 36.49, 139.51 36.51))"
        ),
        [1, 5]
    );
    assert_eq!(
        s(
            "S_CROSSES",
            "MULTILINESTRING((139.10 35.90, 139.10 36.10), (0 0, 1 1))"
        ),
        [2, 3]
    );
    assert_eq!(
        s(
            "S_INTERSECTS",
            "MULTIPOLYGON(((139.49 36.49, 139.51 36.49, 139.51 36.51, 139.49 36.49)))"
        ),
        [5]
    );
    assert_eq!(s("S_INTERSECTS", "POINT Z (139.20 36.10 12.5)"), [1]);
    // Two literals do not depend on the feature.
    assert_eq!(
        select("S_INTERSECTS(POINT(0 0), POINT(0 0))"),
        [0, 1, 2, 3, 4, 5]
    );
    assert_eq!(
        select("S_DISJOINT(POINT(0 0), POINT(0 0))"),
        Vec::<usize>::new()
    );
    // GeoJSON literals in CQL2 JSON.
    assert_eq!(
        select_json(
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[139.2,36.1]}]}"#
        ),
        [1]
    );
    assert_eq!(
        select_json(
            r#"{"op":"s_within","args":[{"property":"geometry"},{"bbox":[139.0,35.9,139.16,36.06]}]}"#
        ),
        [0, 3]
    );
}

#[test]
fn spatial_literals_pass_through_the_callers_transform() {
    let layer = anonymous();
    // A caller whose filter-crs has latitude first swaps the axes.
    let swap = |g: Geometry<f64>| -> Result<Geometry<f64>, String> {
        use geo::MapCoords;
        Ok(g.map_coords(|c| geo::Coord { x: c.y, y: c.x }))
    };
    let expr = parse("S_INTERSECTS(geometry, POINT(36.10 139.20))", Lang::Text).expect("parses");
    let f = Filter::bind(&expr, &layer, &swap).expect("binds");
    let hits: Vec<usize> = (0..layer.len()).filter(|&i| f.matches(&layer, i)).collect();
    assert_eq!(hits, [1]);
    let failing = |_: Geometry<f64>| -> Result<Geometry<f64>, String> {
        Err("outside the area of use of EPSG:6677".into())
    };
    let e = Filter::bind(&expr, &layer, &failing)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "geometry literal POINT(36.1 139.2): outside the area of use of EPSG:6677"
    );
}

#[test]
fn envelope_bounds_every_selectable_feature() {
    let layer = anonymous();
    let env = |f: &str| {
        bind_in(&layer, f, Lang::Text)
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .envelope()
    };
    let a = Rect::new((139.05, 35.95), (139.15, 36.05));
    assert_eq!(
        env(&format!("S_INTERSECTS(geometry, {POLYGON_A}) AND 階数 > 1")),
        Some(vec![a])
    );
    assert_eq!(
        env(&format!(
            "S_WITHIN(geometry, {POLYGON_A}) OR S_TOUCHES(BBOX(0, 0, 1, 1), geometry)"
        )),
        Some(vec![a, Rect::new((0.0, 0.0), (1.0, 1.0))])
    );
    // The smaller of two bounds of a conjunction.
    assert_eq!(
        env(&format!(
            "S_INTERSECTS(geometry, BBOX(0, 0, 10, 10)) AND S_EQUALS(geometry, {POLYGON_A})"
        )),
        Some(vec![a])
    );
    assert_eq!(
        env(&format!("NOT S_DISJOINT(geometry, {POLYGON_A})")),
        Some(vec![a])
    );
    assert_eq!(env(&format!("S_DISJOINT(geometry, {POLYGON_A})")), None);
    assert_eq!(
        env(&format!("NOT S_INTERSECTS(geometry, {POLYGON_A})")),
        None
    );
    assert_eq!(
        env(&format!("S_INTERSECTS(geometry, {POLYGON_A}) OR 階数 > 1")),
        None
    );
    // Multi-geometries and antimeridian boxes give one rect per member.
    assert_eq!(
        env("S_INTERSECTS(geometry, MULTIPOINT((139.2 36.1), (139.5 36.5)))"),
        Some(vec![
            Rect::new((139.2, 36.1), (139.2, 36.1)),
            Rect::new((139.5, 36.5), (139.5, 36.5))
        ])
    );
    assert_eq!(
        env("S_INTERSECTS(geometry, BBOX(170, -10, -170, 10))"),
        Some(vec![
            Rect::new((170.0, -10.0), (180.0, 10.0)),
            Rect::new((-180.0, -10.0), (-170.0, 10.0))
        ])
    );
    assert_eq!(env("階数 > 1"), None);
    assert_eq!(env("S_EQUALS(geometry, geometry)"), None);
    assert_eq!(env("FALSE"), Some(vec![]));
    assert_eq!(env("TRUE"), None);

    // Conservative: every match of every filter lies in one of its rects.
    let filters = [
        format!("S_INTERSECTS(geometry, {POLYGON_A})"),
        format!(
            "S_TOUCHES(geometry, {POLYGON_A}) OR S_WITHIN(geometry, BBOX(139.19, 36.09, 139.21, 36.11))"
        ),
        format!("NOT (S_DISJOINT(geometry, {POLYGON_A}) OR 階数 IS NULL)"),
        "S_CONTAINS(geometry, POINT(139.10 36.00)) AND 面積 > 0".to_string(),
        "S_CROSSES(geometry, LINESTRING(139.10 35.90, 139.10 36.10))".to_string(),
        "S_INTERSECTS(geometry, GEOMETRYCOLLECTION(POINT(139.2 36.1), MULTIPOINT((139.5 36.5), (0 0))))".to_string(),
    ];
    for f in &filters {
        let filter = bind_in(&layer, f, Lang::Text).expect("binds");
        let rects = filter.envelope().expect("bounded");
        let hits: Vec<usize> = (0..layer.len())
            .filter(|&i| filter.matches(&layer, i))
            .collect();
        assert!(!hits.is_empty(), "{f} selects something");
        for i in hits {
            assert!(
                rects.iter().any(|r| layer.geometry(i).intersects(r)),
                "{f}: feature {i} is outside {rects:?}"
            );
        }
    }
}

#[test]
fn attrs_lists_what_the_filter_reads() {
    let layer = anonymous();
    let f = bind_in(
        &layer,
        "名称 = 'x' AND (階数 > 1 OR 名称 LIKE 'y%') AND S_INTERSECTS(geometry, POINT(0 0))",
        Lang::Text,
    )
    .expect("binds");
    let name = layer.attribute("名称").expect("visible").0;
    let floors = layer.attribute("階数").expect("visible").0;
    assert_eq!(f.attrs(), vec![name, floors]);
    assert!(!layer.is_audited_read(&f.attrs()));
}

#[test]
fn hidden_attributes_are_exactly_as_unknown_as_missing_ones() {
    let hidden = error("担当者 = '山田'");
    let missing = error("存在しない = '山田'");
    assert_eq!(hidden, "unknown property \"担当者\"");
    assert_eq!(missing, "unknown property \"存在しない\"");
    assert_eq!(
        error("CASEI(担当者) LIKE '山%'").replace("担当者", "X"),
        error("CASEI(存在しない) LIKE '山%'").replace("存在しない", "X")
    );
    // Staff with the role see it, and reading it is audited.
    let staff = welfare_staff();
    assert_eq!(select_in(&staff, "担当者 = '山田'", Lang::Text), [0]);
    let f = bind_in(&staff, "担当者 IS NOT NULL", Lang::Text).expect("binds");
    assert!(staff.is_audited_read(&f.attrs()));
}

#[test]
fn type_errors_name_both_sides() {
    assert_eq!(
        error("用途地域 = 3"),
        "cannot compare 用途地域 (string) with 3 (number)"
    );
    assert_eq!(
        error("階数 > '3'"),
        "cannot compare 階数 (integer) with '3' (string)"
    );
    assert_eq!(
        error("開館 = 1"),
        "cannot compare 開館 (boolean) with 1 (number)"
    );
    assert_eq!(
        error("階数 LIKE '1%'"),
        "LIKE compares strings; 階数 is an integer"
    );
    assert_eq!(
        error("名称 LIKE 用途地域"),
        "the LIKE pattern must be a character literal (optionally in CASEI or ACCENTI), found 用途地域"
    );
    assert_eq!(
        error("面積 + 名称 > 0"),
        "arithmetic (+) needs numbers; 名称 is a string"
    );
    assert_eq!(
        error("CASEI(階数) = '1'"),
        "CASEI applies to strings; 階数 is an integer"
    );
    assert_eq!(
        error("S_INTERSECTS(用途地域, POINT(0 0))"),
        "S_INTERSECTS compares geometries (the property \"geometry\" or a geometry literal); 用途地域 is a string"
    );
    assert_eq!(
        error("T_AFTER(名称, DATE('2020-01-01'))"),
        "T_AFTER compares dates, timestamps and intervals; 名称 is a string"
    );
    assert!(error("geometry = 'x'").contains("spatial functions"));
    assert_eq!(
        error("avg(面積) > 3"),
        "unknown function \"avg\": this server offers no custom functions"
    );
    assert_eq!(
        error("A_CONTAINS(名称, ('a', 'b'))"),
        "array functions (A_CONTAINS) are not supported by this server"
    );
    assert_eq!(
        json_error(r#"{"op":"and","args":[{"property":"開館"},true]}"#),
        "expected a condition, found 開館 (boolean); compare it, e.g. 開館 = TRUE"
    );
}

#[test]
fn syntax_errors_say_where_and_what_was_expected() {
    assert_eq!(
        error("用途地域 FOO 'x'"),
        "at character 6: expected a comparison operator (=, <>, <, <=, >, >=, LIKE, IN, BETWEEN, IS), found \"FOO\""
    );
    assert_eq!(
        error("階数 = "),
        "at character 6: expected a property, literal or function, found the end of the filter"
    );
    assert_eq!(
        error("(階数 = 1"),
        "at character 8: expected ')', found the end of the filter"
    );
    assert_eq!(
        error("階数 = 1 1"),
        "at character 8: expected AND, OR or the end of the filter, found \"1\""
    );
    assert_eq!(
        error("名称 = 'abc"),
        "at character 6: unterminated character literal: a closing ' is missing"
    );
    assert_eq!(
        error("名称 # 1"),
        "at character 4: unexpected character '#'"
    );
    assert_eq!(
        error("完了日 = DATE('2024-13-01')"),
        "at character 12: expected a date 'YYYY-MM-DD', found \"2024-13-01\""
    );
    assert_eq!(
        error("S_INTERSECTS(geometry POINT(0 0))"),
        "at character 23: expected ',' and a second argument, found \"POINT\""
    );
    assert_eq!(
        error("面積 BETWEEN 1 OR 2"),
        "at character 14: expected AND (of BETWEEN … AND …), found \"OR\""
    );
    assert_eq!(
        error("階数 IS 3"),
        "at character 7: expected NULL, found \"3\""
    );
    assert_eq!(error(""), "at character 1: the filter is empty");
    assert_eq!(
        error("完了日 < TIMESTAMP('２０２４-04-01T00:00:00Z')"),
        "at character 17: expected a timestamp 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z', found \"２０２４-04-01T00:00:00Z\""
    );
    assert!(error("完了日 < TIMESTAMP('2024-04-01 00:00:00')").contains("expected a timestamp"));
    assert_eq!(
        error("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 1)))"),
        "at character 32: a polygon ring must end with its first point"
    );
    assert_eq!(
        error("S_INTERSECTS(geometry, BBOX(1, 2, 3))"),
        "at character 24: BBOX needs 4 or 6 numbers, found 3"
    );
    assert_eq!(
        error("階数 = NULL"),
        "at character 6: NULL may only be used in IS NULL or IS NOT NULL"
    );
}

#[test]
fn json_errors_point_at_the_member() {
    assert_eq!(
        json_error(r#"{"op":"=","args":[{"property":"階数"}]}"#),
        "at /args: \"=\" takes 2 arguments, found 1"
    );
    assert!(
        json_error(r#"{"op":"=","args":[{"property":"階数"},{"foo":1}]}"#)
            .starts_with("at /args/1: expected a property, literal or function"),
    );
    assert_eq!(
        json_error(r#"{"op":"=","args":[{"property":"階数"},null]}"#),
        "at /args/1: expected a property, literal or function, found null (use isNull to test for null)"
    );
    assert_eq!(
        json_error(
            r#"{"op":"and","args":[{"op":"=","args":[{"property":"階数"},{"date":"2024/04/01"}]},true]}"#
        ),
        "at /args/0/args/1/date: expected a date \"YYYY-MM-DD\", found \"2024/04/01\""
    );
    assert_eq!(
        json_error(
            r#"{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}]}"#
        ),
        "at /args/1/coordinates/0: a polygon ring needs at least 4 points (the last repeating the first), found 3"
    );
    assert_eq!(
        json_error(r#"{"op":"in","args":[{"property":"階数"},3]}"#),
        "at /args/1: expected an array of values, found 3"
    );
    assert_eq!(
        json_error(r#"{"op":"=","args":[{"property":"階数"},1],"x":2}"#),
        "at /x: unexpected member \"x\" (expected only \"op\", \"args\")"
    );
    assert!(
        json_error(r#"{"op":"=","args":[{"property":"階数"} 1]}"#)
            .starts_with("at line 1, column 37: invalid JSON: expected `,` or `]`"),
        "{}",
        json_error(r#"{"op":"=","args":[{"property":"階数"} 1]}"#)
    );
    // Bind errors are the same in both encodings.
    assert_eq!(
        json_error(r#"{"op":"=","args":[{"property":"用途地域"},3]}"#),
        "cannot compare 用途地域 (string) with 3 (number)"
    );
    assert_eq!(
        json_error(r#"{"op":"=","args":[{"property":"担当者"},"山田"]}"#),
        "unknown property \"担当者\""
    );
}

// ---------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let nested = |n: usize| format!("{}階数 = 1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(select(&nested(60)), [3]);
    assert_eq!(select(&nested(MAX_DEPTH)), [3]);
    assert!(error(&nested(MAX_DEPTH + 1)).contains("nests more than 100 levels deep"));
    for deep in [
        nested(10_000),
        format!("{}階数 = 1", "NOT ".repeat(10_000)),
        format!("階数 = {}1", "-".repeat(10_000)),
        format!("階数 = 1{}", " + 1".repeat(10_000)),
        format!("階数 = 2{}", " ^ 2".repeat(10_000)),
        format!("{}1{} = 階数", "CASEI(".repeat(10_000), ")".repeat(10_000)),
        format!(
            "S_INTERSECTS(geometry, {}POINT(0 0){})",
            "GEOMETRYCOLLECTION(".repeat(5_000),
            ")".repeat(5_000)
        ),
    ] {
        let e = error(&deep);
        assert!(e.contains("nests more than 100 levels deep"), "{e}");
    }
    let json_not = |n: usize| {
        format!(
            "{}{{\"op\":\"=\",\"args\":[{{\"property\":\"階数\"}},3]}}{}",
            "{\"op\":\"not\",\"args\":[".repeat(n),
            "]}".repeat(n)
        )
    };
    assert_eq!(select_json(&json_not(41)), [1, 3, 4]);
    let e = json_error(&json_not(10_000));
    assert!(
        e.contains("invalid JSON") || e.contains("levels deep"),
        "{e}"
    );
    let e = json_error(&format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)));
    assert!(e.contains("invalid JSON"), "{e}");
}

#[test]
fn overlong_input_is_refused() {
    let long = format!("名称 = '{}'", "a".repeat(MAX_INPUT_BYTES));
    let e = parse(&long, Lang::Text).unwrap_err().to_string();
    assert!(
        e.starts_with("the filter is ") && e.ends_with("at most 262144 are accepted"),
        "{e}"
    );
}

#[test]
fn random_input_never_panics() {
    use rand::{Rng, SeedableRng};
    let layer = anonymous();
    let pieces = [
        "(",
        ")",
        ",",
        "=",
        "<>",
        "<",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "^",
        "'",
        "\"",
        "..",
        " AND ",
        " OR ",
        "NOT ",
        " LIKE ",
        " BETWEEN ",
        " IN ",
        " IS ",
        "NULL",
        "TRUE",
        "DIV",
        "CASEI(",
        "ACCENTI(",
        "DATE('2024-04-01')",
        "TIMESTAMP('2024-04-01T00:00:00Z')",
        "INTERVAL(",
        "'..'",
        "BBOX(",
        "POINT(",
        "POLYGON((",
        "S_INTERSECTS(",
        "T_DURING(",
        "A_EQUALS(",
        "geometry",
        "階数",
        "名称",
        "完了日",
        "着工日",
        "開館",
        "'がっこう'",
        "'%_\\'",
        "1",
        "2.5",
        "-3e2",
        ".5",
        "1e999",
        "0",
        " ",
        "　",
        "\u{3099}",
        "#",
        "[",
        "{",
        "}",
        "\"op\":",
        "\"args\":[",
        "{\"property\":\"階数\"}",
        "]",
        ":",
        "null",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(20240401);
    for round in 0..4000 {
        let n = rng.random_range(1..40);
        let mut s = String::new();
        for _ in 0..n {
            if rng.random_bool(0.1) {
                s.push(char::from_u32(rng.random_range(0..0x3100)).unwrap_or('x'));
            } else {
                s.push_str(pieces[rng.random_range(0..pieces.len())]);
            }
        }
        let lang = if round % 2 == 0 {
            Lang::Text
        } else {
            Lang::Json
        };
        match parse(&s, lang) {
            Err(e) => {
                if let Some(Location::Char(c)) = e.location {
                    assert!(
                        (1..=s.chars().count() + 1).contains(&c),
                        "{s:?}: position {c} is outside the input"
                    );
                }
                assert!(!e.message.is_empty());
            }
            Ok(expr) => {
                if let Ok(f) = Filter::bind(&expr, &layer, &identity) {
                    for i in 0..layer.len() {
                        f.matches(&layer, i);
                    }
                    f.envelope();
                }
            }
        }
    }
}

#[test]
fn degenerate_and_invalid_literals_do_not_panic() {
    let literals = [
        "POLYGON((139.0 35.9, 139.3 36.1, 139.3 35.9, 139.0 36.1, 139.0 35.9))",
        "POLYGON((139.1 36.0, 139.1 36.0, 139.1 36.0, 139.1 36.0))",
        "POLYGON((139.0 35.98, 139.3 35.98, 139.15 35.98, 139.0 35.98))",
        "LINESTRING(139.1 36.0, 139.1 36.0)",
        "LINESTRING(139.0 35.98, 139.3 35.98, 139.0 35.98)",
        "MULTIPOINT((139.1 36.0), (139.1 36.0))",
        "GEOMETRYCOLLECTION(POINT(139.1 36.0), POLYGON((139.05 35.95, 139.15 35.95, 139.15 36.05, 139.05 36.05, 139.05 35.95)))",
    ];
    for lit in literals {
        for op in SpatialOp::ALL {
            let f = format!("{}(geometry, {lit})", op.keyword());
            select(&f);
            select(&format!("{}({lit}, {lit})", op.keyword()));
        }
    }
}

#[test]
fn mutated_standard_examples_never_panic() {
    use rand::{Rng, SeedableRng};
    let layer = anonymous();
    let mut rng = rand::rngs::StdRng::seed_from_u64(21065);
    let inserts = [
        "(", ")", "'", "\"", ",", "-", "..", " NOT ", "{", "}", "[", "]", "\\", "階数", "9e9",
    ];
    for (file, lang) in [("text", Lang::Text), ("json", Lang::Json)] {
        for (name, original) in examples(file) {
            let chars: Vec<char> = original.chars().collect();
            for _ in 0..40 {
                let mut c = chars.clone();
                let at = rng.random_range(0..=c.len());
                match rng.random_range(0..3) {
                    0 => {
                        let end = (at + rng.random_range(1..6)).min(c.len());
                        c.drain(at..end);
                    }
                    1 => {
                        let piece = inserts[rng.random_range(0..inserts.len())];
                        c.splice(at..at, piece.chars());
                    }
                    _ => {
                        let end = (at + rng.random_range(1..20)).min(c.len());
                        let copy: Vec<char> = c[at..end].to_vec();
                        c.splice(at..at, copy);
                    }
                }
                let s: String = c.into_iter().collect();
                match parse(&s, lang) {
                    Ok(expr) => {
                        if let Ok(f) = Filter::bind(&expr, &layer, &identity) {
                            for i in 0..layer.len() {
                                f.matches(&layer, i);
                            }
                        }
                    }
                    Err(e) => assert!(!e.message.is_empty(), "{name}: {s}"),
                }
            }
        }
    }
}
