//! GDAL's OGC API – Features client (the OAPIF driver, what QGIS uses too) against the real
//! `machimap serve` on a local port.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running server, killed when dropped.
struct Server {
    child: Child,
    url: String,
    _store: tempfile::TempDir,
}

impl Server {
    fn start(data: &Path) -> Server {
        let store = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_machimap"))
            .args(["serve", "--bind", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("MACHIMAP_STORE", store.path().join("store.sqlite"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(u) = line.strip_prefix("machimap listening on ") {
                break u.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url,
            _store: store,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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

fn fixture_town() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/town")
}

#[test]
fn gdal_lists_public_layers_only() {
    let server = Server::start(&fixture_town());
    let out = gdal("ogrinfo", &["-ro", "-q", &format!("OAPIF:{}/", server.url)]);
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
    let server = Server::start(&fixture_town());
    let ds = format!("OAPIF:{}/", server.url);
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
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let server = Server::start(&data);
    let ds = format!("OAPIF:{}/", server.url);
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
