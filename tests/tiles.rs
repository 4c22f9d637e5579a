//! Vector tiles read by an independent decoder (PyPI `mapbox-vector-tile`) and checked
//! against a shapely brute force by `tests/tiles_check.py`, on the real `machimap serve`.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

mod common;

use common::server::{Server, sample_data};

/// The sample town with the public rate limit off: the checker asks for hundreds of tiles.
fn unthrottled_sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", sample_data().display()))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "copy the sample town");
    let catalog = dir.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&catalog).unwrap();
    text.push_str("\n[server.security]\npublic_requests_per_minute = 0\n");
    std::fs::write(&catalog, text).unwrap();
    dir
}

/// Runs the checker on `count` random tiles; returns its counts.
fn check(
    server: &Server,
    data: &Path,
    seed: u32,
    count: u32,
    token: Option<&str>,
) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tiles_check.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .arg(server.url())
        .arg(data.join("catalog.toml"))
        .arg(seed.to_string())
        .arg(count.to_string());
    if let Some(t) = token {
        cmd.env("MACHIMAP_TOKEN", t);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("python3 runs: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tiles_check.py (scripts/setup --with-gdal installs its packages) found faults:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

#[test]
fn random_public_tiles_hold_exactly_the_features_that_meet_them() {
    let data = unthrottled_sample();
    let server = Server::builder().data(data.path()).start();
    let counts = check(&server, data.path(), 1, 200, None);
    assert_eq!(counts["tiles"], 200);
    assert!(counts["features"].as_u64().unwrap() > 1000, "{counts}");
    assert!(counts["polygons"].as_u64().unwrap() > 100, "{counts}");
    let layers = counts["layers"].as_array().unwrap();
    for l in [
        "zoning",
        "roads",
        "flood-zones",
        "landslide-zones",
        "shelters",
    ] {
        assert!(
            layers.iter().any(|x| x == l),
            "no {l} feature was checked: {counts}"
        );
    }
    for l in ["water-mains", "water-valves", "evacuation-support"] {
        assert!(!layers.iter().any(|x| x == l), "anonymous tiles hold {l}");
    }
}

#[test]
#[ignore = "open fault: a zoning polygon at 16/25731/58085 loses ~11 square units (seed 2)"]
fn staff_tiles_hold_every_layer_and_low_zooms_thin_by_the_rule() {
    let data = unthrottled_sample();
    let server = Server::builder()
        .data(data.path())
        .user("tiles1", "staff,water,roads,welfare,disaster")
        .start();
    let token = server.login("tiles1");
    let counts = check(&server, data.path(), 2, 200, Some(&token));
    let layers = counts["layers"].as_array().unwrap();
    for l in ["water-mains", "water-valves", "evacuation-support"] {
        assert!(
            layers.iter().any(|x| x == l),
            "no {l} feature was checked: {counts}"
        );
    }
    // The low-zoom rule was exercised (each case checked against the rule by the script).
    let thinned =
        counts["thinned_points"].as_u64().unwrap() + counts["dropped_small"].as_u64().unwrap();
    assert!(
        thinned > 0,
        "no tile below z14 left a feature out: {counts}"
    );
}
