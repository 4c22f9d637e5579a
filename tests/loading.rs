//! Loading: a valid catalog with one layer per format, checked against what GDAL reads from the
//! same files, and broken catalogs, each of which must give one clear error naming the file
//! and the place, with `validate` failing and `serve` refusing to start.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use geo::Geometry;
use machimap::access::{Catalog, LoadError};
use machimap::model::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of the valid fixture town in a temporary folder, to break.
fn town_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture("town")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn edit(dir: &Path, file: &str, f: impl FnOnce(String) -> String) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, f(text)).unwrap();
}

/// `Feature Count` as GDAL's ogrinfo reports it.
fn ogr_count(path: &Path, extra: &[&str]) -> usize {
    let out = Command::new("ogrinfo")
        .args(["-ro", "-so", "-al"])
        .args(extra)
        .arg(path)
        .output()
        .expect("ogrinfo (GDAL) must be installed: scripts/setup installs gdal-bin");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .unwrap_or_else(|| {
            panic!(
                "no feature count from ogrinfo for {}: {text}",
                path.display()
            )
        })
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn every_format_loads_with_gdals_feature_counts() {
    let dir = fixture("town");
    let (_, reports) = Catalog::load(&dir).unwrap_or_else(|e| panic!("{:?}", e.lines()));
    let count = |id: &str| reports.iter().find(|r| r.id == id).unwrap().features;
    assert_eq!(count("zoning"), ogr_count(&dir.join("zoning.shp"), &[]));
    assert_eq!(count("roads"), ogr_count(&dir.join("roads.geojson"), &[]));
    assert_eq!(count("hiking"), ogr_count(&dir.join("hiking.fgb"), &[]));
    assert_eq!(
        count("shelters"),
        ogr_count(
            &dir.join("shelters.csv"),
            &[
                "-oo",
                "X_POSSIBLE_NAMES=経度",
                "-oo",
                "Y_POSSIBLE_NAMES=緯度"
            ]
        )
    );
}

#[test]
fn shift_jis_text_holes_and_multipolygons_survive_loading() {
    let (catalog, _) = Catalog::load(&fixture("town")).unwrap();
    let view = machimap::access::View::new(
        std::sync::Arc::new(catalog),
        machimap::policy::Principal::Staff {
            user: "test".into(),
            department: "情報政策課".into(),
            roles: Default::default(),
        },
    );
    let z = view.layer("zoning").unwrap();
    let (name_attr, _) = z.attribute("用途地域").unwrap();
    let f1 = z.position_of("1").unwrap();
    assert_eq!(z.value(f1, name_attr), &Value::Str("商業地域".into()));
    match z.geometry(f1) {
        Geometry::Polygon(p) => assert_eq!(p.interiors().len(), 1, "the hole is kept"),
        g => panic!("expected a polygon, got {g:?}"),
    }
    let f3 = z.position_of("3").unwrap();
    assert!(matches!(z.geometry(f3), Geometry::MultiPolygon(m) if m.0.len() == 2));
    // Zone IX (-66000 E, 2000 N) is near lon 139.27, lat 36.02: reprojected, not raw metres.
    let r = z.extent().unwrap();
    assert!(
        r.min().x > 139.0 && r.max().x < 139.2 && r.min().y > 35.9 && r.max().y < 36.1,
        "{r:?}"
    );

    let s = view.layer("shelters").unwrap();
    let (n, _) = s.attribute("名称").unwrap();
    let (flood, _) = s.attribute("災害種別_洪水").unwrap();
    assert_eq!(s.value(0, n), &Value::Str("みどり野小学校".into()));
    assert_eq!(s.value(0, flood), &Value::Bool(true));
    assert_eq!(s.value(1, flood), &Value::Null);

    let roads = view.layer("roads").unwrap();
    assert!(roads.position_of("2-014").is_some());
}

/// Loads a broken copy and returns every error line.
fn load_errors(dir: &Path) -> Vec<String> {
    match Catalog::load(dir) {
        Ok(_) => panic!("a broken catalog loaded"),
        Err(e) => e.lines(),
    }
}

/// Runs the real binary's `validate` and `serve` on a broken folder: both must fail, `validate`
/// printing the problem; `serve` must not start listening.
fn cli_refuses(dir: &Path, expect: &str) {
    let bin = env!("CARGO_BIN_EXE_machimap");
    let out = Command::new(bin).arg("validate").arg(dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "validate succeeded on a broken catalog"
    );
    assert!(
        stderr.contains(expect),
        "validate output lacks {expect:?}: {stderr}"
    );
    let store = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args(["serve", "--bind", "127.0.0.1:0", "--data"])
        .arg(dir)
        .env("MACHIMAP_STORE", store.path().join("store.sqlite"))
        .env("MACHIMAP_EDITS", store.path().join("edits.gpkg"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve started on a broken catalog");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(
        stderr.contains(expect) && stderr.contains("not starting"),
        "{stderr}"
    );
}

#[test]
fn truncated_geojson_names_file_and_line() {
    let dir = town_copy();
    edit(dir.path(), "roads.geojson", |t| {
        t[..t.len() / 2].to_string()
    });
    let errors = load_errors(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("roads.geojson: layer \"roads\": line "),
        "{errors:?}"
    );
    assert!(errors[0].contains("EOF"), "{errors:?}");
    cli_refuses(dir.path(), "roads.geojson");
}

#[test]
fn wrong_crs_code_is_named() {
    let dir = town_copy();
    edit(dir.path(), "catalog.toml", |t| {
        t.replace(
            "source = { path = \"roads.geojson\" }",
            "source = { path = \"roads.geojson\" }\ncrs = \"EPSG:66770\"",
        )
    });
    let errors = load_errors(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("layer \"roads\""), "{errors:?}");
    assert!(
        errors[0].contains("EPSG:66770") && errors[0].contains("catalog"),
        "{errors:?}"
    );
    cli_refuses(dir.path(), "EPSG:66770");
}

#[test]
fn data_in_another_zone_than_declared_is_refused() {
    // Zone IX coordinates declared as zone VIII land ~120 km west of the town.
    let dir = town_copy();
    edit(dir.path(), "catalog.toml", |t| {
        t.replace(
            "source = { path = \"zoning.shp\" }",
            "source = { path = \"zoning.shp\" }\ncrs = \"EPSG:6676\"",
        )
    });
    let errors = load_errors(dir.path());
    assert!(
        errors
            .iter()
            .all(|e| e.contains("zoning.shp: layer \"zoning\": feature ")),
        "{errors:?}"
    );
    assert!(
        errors[0].contains("outside the town's extent"),
        "{errors:?}"
    );
    assert_eq!(errors.len(), 3, "one per feature: {errors:?}");
}

#[test]
fn missing_dbf_is_named() {
    let dir = town_copy();
    std::fs::remove_file(dir.path().join("zoning.dbf")).unwrap();
    let errors = load_errors(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("zoning.dbf is missing"), "{errors:?}");
    cli_refuses(dir.path(), "zoning.dbf");
}

#[test]
fn bad_csv_row_names_its_line() {
    let dir = town_copy();
    let p = dir.path().join("shelters.csv");
    let mut bytes = std::fs::read(&p).unwrap();
    let (row, _, _) =
        encoding_rs::SHIFT_JIS.encode("消防団詰所,みどり野町上町,北緯36度,139.1,20,\r\n");
    bytes.extend_from_slice(&row);
    std::fs::write(&p, bytes).unwrap();
    let errors = load_errors(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("shelters.csv: layer \"shelters\": line 5: \"緯度\": expected a number, got \"北緯36度\""),
        "{errors:?}"
    );
    cli_refuses(dir.path(), "line 5");
}

#[test]
fn unknown_catalog_key_is_named_with_line_and_layer() {
    let dir = town_copy();
    edit(dir.path(), "catalog.toml", |t| {
        t.replace(
            "department = \"道路課\"",
            "department = \"道路課\"\ncolour = \"red\"",
        )
    });
    let errors = load_errors(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("catalog.toml: line "), "{errors:?}");
    assert!(
        errors[0].contains("layer \"roads\"") && errors[0].contains("colour"),
        "{errors:?}"
    );
    cli_refuses(dir.path(), "colour");
}

#[test]
fn declared_attribute_missing_from_the_file_is_named() {
    let dir = town_copy();
    edit(dir.path(), "catalog.toml", |t| {
        t.replace("name = \"想定収容人数\"", "name = \"収容人数\"")
    });
    let errors = load_errors(dir.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("shelters.csv") && errors[0].contains("\"収容人数\""),
        "{errors:?}"
    );
}

#[test]
fn problems_in_several_layers_are_all_reported() {
    let dir = town_copy();
    std::fs::remove_file(dir.path().join("zoning.dbf")).unwrap();
    edit(dir.path(), "roads.geojson", |t| t[..20].to_string());
    let Err(LoadError::Sources(problems)) = Catalog::load(dir.path()) else {
        panic!("expected source problems");
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[test]
fn validate_passes_on_a_valid_catalog_and_reports_counts() {
    let out = Command::new(env!("CARGO_BIN_EXE_machimap"))
        .arg("validate")
        .arg(fixture("town"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("zoning") && stdout.contains("3 features"),
        "{stdout}"
    );
}

/// Every file of the sample town, cut short or with bytes overwritten at random places, must
/// load or be refused with problems — never crash its reader (the catalog would then report
/// "the loader crashed").
#[test]
fn damaged_files_are_refused_without_crashing() {
    use rand::{Rng, SeedableRng};
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&data).unwrap() {
        let dir = dir.unwrap().path();
        if dir.is_dir() {
            for f in std::fs::read_dir(&dir).unwrap() {
                files.push(f.unwrap().path());
            }
        }
    }
    assert!(files.len() >= 15, "sample files: {files:?}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut refused = 0;
    for file in &files {
        let original = std::fs::read(file).unwrap();
        for round in 0..6 {
            let tmp = tempfile::tempdir().unwrap();
            copy_tree(&data, tmp.path());
            let target = tmp.path().join(file.strip_prefix(&data).unwrap());
            let mut bytes = original.clone();
            if round % 2 == 0 {
                bytes.truncate(rng.random_range(0..bytes.len().max(1)));
            } else {
                for _ in 0..8 {
                    let i = rng.random_range(0..bytes.len().max(1));
                    if let Some(b) = bytes.get_mut(i) {
                        *b = rng.random();
                    }
                }
            }
            std::fs::write(&target, &bytes).unwrap();
            if let Err(e) = Catalog::load(tmp.path()) {
                refused += 1;
                for line in e.lines() {
                    assert!(!line.contains("crashed"), "{}: {line}", target.display());
                }
            }
        }
    }
    assert!(
        refused > files.len(),
        "too few damaged files were refused: {refused}"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}
