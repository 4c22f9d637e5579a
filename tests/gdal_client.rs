//! GDAL's OGC API – Features client (the OAPIF driver, what QGIS uses too) against the real
//! `machimap serve` on a local port.

#![allow(clippy::unwrap_used)]

use std::process::Command;

mod common;

use common::server::{Server, fixture_town, sample_data, user_add};

fn gdal(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("{tool} (GDAL) must be installed (scripts/setup installs gdal-bin): {e}")
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn gdal_lists_public_layers_only() {
    let server = Server::builder().data(&fixture_town()).start();
    let out = gdal(
        "ogrinfo",
        &["-ro", "-q", &format!("OAPIF:{}/", server.url())],
    );
    for id in ["zoning", "roads", "shelters"] {
        assert!(out.contains(id), "GDAL does not list {id}: {out}");
    }
    assert!(
        !out.contains("hiking"),
        "an internal layer is listed: {out}"
    );
}

#[test]
fn gdal_reads_features_attributes_and_counts() {
    let server = Server::builder().data(&fixture_town()).start();
    let ds = format!("OAPIF:{}/", server.url());
    let summary = gdal("ogrinfo", &["-ro", "-so", &ds, "zoning"]);
    assert!(summary.contains("Feature Count: 3"), "{summary}");
    let json = gdal("ogr2ogr", &["-f", "GeoJSON", "/vsistdout/", &ds, "zoning"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let features = doc["features"].as_array().unwrap();
    assert_eq!(features.len(), 3);
    let names: Vec<&str> = features
        .iter()
        .map(|f| f["properties"]["用途地域"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"商業地域") && names.contains(&"第一種住居地域"),
        "{names:?}"
    );
    // The internal attribute of a public layer does not reach GDAL either.
    let roads = gdal("ogr2ogr", &["-f", "GeoJSON", "/vsistdout/", &ds, "roads"]);
    assert!(roads.contains("中央通り線"), "{roads}");
    assert!(!roads.contains("幅員"), "hidden attribute leaked: {roads}");
}

#[test]
fn gdal_pages_through_the_whole_sample_layer() {
    // The sample town has layers larger than one page; GDAL follows the next links.
    let data = sample_data();
    let server = Server::builder().data(&data).start();
    let ds = format!("OAPIF:{}/", server.url());
    let source = gdal(
        "ogrinfo",
        &[
            "-ro",
            "-so",
            "-al",
            data.join("roads/shido.geojson").to_str().unwrap(),
        ],
    );
    let expected: usize = source
        .lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        expected > 50,
        "the sample roads layer is too small to page: {expected}"
    );
    let json = gdal(
        "ogr2ogr",
        &[
            "-f",
            "GeoJSON",
            "/vsistdout/",
            "-oo",
            "PAGE_SIZE=37",
            &ds,
            "roads",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ids: std::collections::BTreeSet<String> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["路線番号"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(doc["features"].as_array().unwrap().len(), expected);
    assert_eq!(ids.len(), expected, "duplicate features across pages");
}

/// A staff script's view: GDAL with the Bearer token from `/auth/login` in
/// `GDAL_HTTP_HEADERS` sees the layers of the user's roles, reads them whole, and each read of
/// the restricted layer is in the audit log.
#[test]
fn gdal_with_a_staff_token_reads_the_internal_map() {
    let data = sample_data();
    let server = Server::builder().data(&data).start();
    let add = user_add(
        &server.var,
        &[
            "fukushi",
            "--department",
            "福祉課",
            "--roles",
            "staff,welfare",
        ],
        "福祉課の長い長いパスワードです",
    );
    assert!(add.status.success());
    let token = server.login_with("fukushi", "福祉課の長い長いパスワードです");
    let header = format!("Authorization: Bearer {token}");

    let ds = format!("OAPIF:{}/", server.url());
    let with_token = ["--config", "GDAL_HTTP_HEADERS", header.as_str()];
    let anon = gdal("ogrinfo", &["-ro", "-q", &ds]);
    let staff = gdal("ogrinfo", &[&with_token[..], &["-ro", "-q", &ds]].concat());
    for id in ["evacuation-support", "water-mains", "repair-history"] {
        assert!(!anon.contains(id), "anonymous GDAL lists {id}: {anon}");
        assert!(
            staff.contains(id),
            "GDAL with a token does not list {id}: {staff}"
        );
    }

    // Every row of the register, read through pages, equals the CSV the department delivered.
    let csv = std::fs::read_to_string(data.join("welfare/youshiensha.csv")).unwrap();
    let expected: std::collections::BTreeSet<String> = csv
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    let json = gdal(
        "ogr2ogr",
        &[
            &with_token[..],
            &[
                "-f",
                "GeoJSON",
                "/vsistdout/",
                "-oo",
                "PAGE_SIZE=25",
                &ds,
                "evacuation-support",
            ],
        ]
        .concat(),
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ids: std::collections::BTreeSet<String> = doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["管理番号"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, expected);

    let log = server
        .command()
        .args(["audit", "--actor", "fukushi", "--limit", "1000"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    let reads = log
        .lines()
        .filter(|l| l.contains(" read ") && l.contains("evacuation-support"))
        .count();
    assert!(
        reads >= expected.len().div_ceil(25),
        "GDAL read {} pages, the audit log has {reads} reads:\n{log}",
        expected.len().div_ceil(25)
    );
}
