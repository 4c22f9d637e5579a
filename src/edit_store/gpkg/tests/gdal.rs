//! GDAL's view of the file, and files written by GDAL or by plain SQLite.

use std::process::Command;

use serde_json::json;

use super::*;

/// Runs a GDAL tool; `None` (test skipped) when GDAL is not installed, except under CI.
fn gdal(tool: &str, args: &[&str]) -> Option<String> {
    let out = match Command::new(tool).args(args).output() {
        Ok(out) => out,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{tool} cannot run ({e}); CI needs Debian's gdal-bin"
            );
            eprintln!("skipped: {tool} cannot run ({e}); apt-get install gdal-bin");
            return None;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{tool} {args:?} failed:\n{text}");
    Some(text)
}

/// GDAL's name of a geometry type in `ogrinfo` output.
fn ogr_name(kind: GeometryKind) -> &'static str {
    match kind {
        GeometryKind::Point => "Point",
        GeometryKind::LineString => "Line String",
        GeometryKind::Polygon => "Polygon",
        GeometryKind::MultiPoint => "Multi Point",
        GeometryKind::MultiLineString => "Multi Line String",
        GeometryKind::MultiPolygon => "Multi Polygon",
    }
}

/// The lines of GDAL output that report a problem.
fn complaints(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("ERROR") || l.contains("Warning"))
        .collect()
}

#[test]
fn ogrinfo_reads_every_layer_without_complaint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("edits.gpkg");
    {
        let store = GeoPackage::open(&path).expect("open");
        for (kind, g) in geometries() {
            let layer = layer_of(kind);
            store.prepare(&spec(&layer, kind)).expect("prepare");
            for values in every_value() {
                store
                    .commit(&change(&layer, create(g.clone(), values)))
                    .expect("create");
            }
        }
        store
            .prepare(&spec(LAYER, GeometryKind::Point))
            .expect("prepare");
        let c = commit(
            &store,
            create(pt(139.7, 35.6), props("陥没", 1, 7)),
            "create",
        );
        commit(
            &store,
            replace(c.fid, 1, pt(139.75, 35.65), props("ひび割れ", 9, 7)),
            "replace",
        );
    }
    let file = path.to_str().expect("utf-8 path");
    let Some(summary) = gdal("ogrinfo", &["-ro", "-al", "-so", file]) else {
        return;
    };
    assert_eq!(complaints(&summary), Vec::<&str>::new(), "{summary}");
    let layers: Vec<&str> = summary.split("Layer name: ").skip(1).collect();
    let mut names: Vec<&str> = layers
        .iter()
        .filter_map(|s| s.lines().next())
        .filter(|n| !n.starts_with("machimap_"))
        .collect();
    names.sort_unstable();
    let mut expected: Vec<String> = geometries().iter().map(|(k, _)| layer_of(*k)).collect();
    expected.push(LAYER.into());
    expected.sort_unstable();
    assert_eq!(names, expected, "{summary}");
    // GDAL lists tables missing from gpkg_contents as non-spatial tables while a file
    // registers no attribute tables: the side tables show up, but never as map layers.
    for s in layers.iter().filter(|s| s.starts_with("machimap_")) {
        assert!(s.contains("Geometry: None"), "{s}");
    }
    for (kind, _) in geometries() {
        let name = layer_of(kind);
        let section = layers
            .iter()
            .find(|s| s.starts_with(&format!("{name}\n")))
            .unwrap_or_else(|| panic!("no layer {name} in:\n{summary}"));
        for line in [
            format!("Geometry: {}", ogr_name(kind)),
            "Feature Count: 3".to_string(),
            format!("IDENTIFIER=道路損傷通報 {name}"),
            "FID Column = fid".into(),
            "Geometry Column NOT NULL = geom".into(),
            "種別: String".into(),
            "受付日: Date".into(),
            "件数: Integer64".into(),
            "深さ_cm: Real".into(),
            "対応済: Integer(Boolean)".into(),
        ] {
            assert!(
                section.contains(&line),
                "{name}: no \"{line}\" in:\n{section}"
            );
        }
    }
    let Some(dump) = gdal("ogrinfo", &["-ro", "-al", file, LAYER]) else {
        return;
    };
    assert_eq!(complaints(&dump), Vec::<&str>::new(), "{dump}");
    for line in [
        "種別 (String) = ひび割れ",
        "受付日 (Date) = 2024/04/09",
        "件数 (Integer64) = 7",
        "深さ_cm (Real) = 13.5",
        "対応済 (Integer(Boolean)) = 0",
        "POINT (139.75 35.65)",
    ] {
        assert!(dump.contains(line), "no \"{line}\" in:\n{dump}");
    }
}

#[test]
fn a_geopackage_written_by_gdal_is_read_and_edited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gdal.gpkg");
    let file = path.to_str().expect("utf-8 path");
    let geojson_of = |g: &Geometry<f64>| {
        json!({"type": "FeatureCollection", "features": [{
            "type": "Feature",
            "geometry": serde_json::to_value(geojson::Geometry::new(
                geojson::GeometryValue::from(g),
            )).expect("geometry json"),
            "properties": {"種別": "陥没", "件数": 3, "深さ_cm": 2.5},
        }]})
    };
    let columns = vec![
        ("種別".to_string(), AttrType::String),
        ("件数".to_string(), AttrType::Integer),
        ("深さ_cm".to_string(), AttrType::Number),
    ];
    for (i, (kind, g)) in geometries().into_iter().enumerate() {
        let source = dir.path().join(format!("{i}.geojson"));
        std::fs::write(&source, geojson_of(&g).to_string()).expect("write geojson");
        let layer = layer_of(kind);
        let mut args = vec!["-f", "GPKG", "-lco", "SPATIAL_INDEX=NO", "-nln", &layer];
        if i > 0 {
            args.push("-update");
        }
        let source = source.to_str().expect("utf-8 path").to_string();
        args.extend([file, source.as_str()]);
        if gdal("ogr2ogr", &args).is_none() {
            return;
        }
    }
    let store = GeoPackage::open(&path).expect("open GDAL's file");
    for (kind, g) in geometries() {
        let layer = layer_of(kind);
        let s = TableSpec {
            columns: columns.clone(),
            ..spec(&layer, kind)
        };
        store.prepare(&s).expect("prepare GDAL's table");
        let read = store.features(&layer).expect("features");
        assert_eq!(read.len(), 1);
        assert_eq!(
            format!("{:?}", read[0].geometry),
            format!("{g:?}"),
            "{layer}"
        );
        assert_eq!(
            read[0].properties,
            [Value::Str("陥没".into()), Value::Int(3), Value::Float(2.5)]
        );
        assert_eq!(
            read[0].version, 1,
            "rows without metadata read as version 1"
        );
        store
            .commit(&change(
                &layer,
                Op::Replace {
                    fid: read[0].fid,
                    expected_version: 1,
                    geometry: g.clone(),
                    properties: vec![Value::Str("補修済".into()), Value::Int(4), Value::Null],
                },
            ))
            .expect("edit GDAL's table");
    }
    drop(store);
    let Some(dump) = gdal("ogrinfo", &["-ro", "-al", file]) else {
        return;
    };
    assert!(dump.contains("種別 (String) = 補修済"), "{dump}");
    assert_eq!(complaints(&dump), Vec::<&str>::new(), "{dump}");

    // GDAL's default R-tree index has triggers only GDAL can run: refused up front.
    let indexed = dir.path().join("indexed.gpkg");
    let indexed = indexed.to_str().expect("utf-8 path");
    let source = dir.path().join("0.geojson");
    let source = source.to_str().expect("utf-8 path");
    if gdal(
        "ogr2ogr",
        &["-f", "GPKG", "-nln", "points", indexed, source],
    )
    .is_none()
    {
        return;
    }
    let store = GeoPackage::open(Path::new(indexed)).expect("open");
    let refused = store.prepare(&TableSpec {
        columns,
        ..spec("points", GeometryKind::Point)
    });
    assert!(
        matches!(&refused, Err(StoreError::Mismatch { message, .. }) if message.contains("R-tree")),
        "{refused:?}"
    );
}

#[test]
fn a_sqlite_file_that_is_not_a_geopackage_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.sqlite");
    Connection::open(&path)
        .expect("create")
        .execute_batch("CREATE TABLE user (id INTEGER PRIMARY KEY)")
        .expect("table");
    let r = GeoPackage::open(&path);
    assert!(
        matches!(&r, Err(StoreError::Backend { message, .. }) if message.contains("not a GeoPackage")),
        "{:?}",
        r.err()
    );
    let tables: i64 = sql(&path, "SELECT count(*) FROM sqlite_master");
    assert_eq!(tables, 1);
}
