//! Tests of the GeoPackage backend, split as the backend is: the edits it commits (`edits`), the
//! file it keeps (`file`) and GDAL reading it (`gdal`); shared fixtures are here.

mod edits;
mod file;
mod gdal;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use geo::{Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Polygon, point};

use super::*;
use crate::edit_store::{Idempotency, NewPhoto, Op};
use crate::model::{AttrType, GeometryKind, Value};

const LAYER: &str = "road-damage";

fn spec(layer: &str, geometry: GeometryKind) -> TableSpec {
    TableSpec {
        layer: layer.into(),
        title: format!("道路損傷通報 {layer}"),
        description: "住民からの道路損傷の通報".into(),
        geometry,
        columns: vec![
            ("種別".into(), AttrType::String),
            ("受付日".into(), AttrType::Date),
            ("件数".into(), AttrType::Integer),
            ("深さ_cm".into(), AttrType::Number),
            ("対応済".into(), AttrType::Boolean),
        ],
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn props(kind: &str, day: u32, count: i64) -> Vec<Value> {
    vec![
        Value::Str(kind.into()),
        Value::Date(date(2024, 4, day)),
        Value::Int(count),
        Value::Float(f64::from(day) * 1.5),
        Value::Bool(count % 2 == 0),
    ]
}

fn pt(x: f64, y: f64) -> Geometry<f64> {
    Geometry::Point(point! { x: x, y: y })
}

fn change(layer: &str, op: Op) -> Change {
    Change {
        layer: layer.into(),
        op,
        actor: "tanaka".into(),
        client: "192.0.2.10".into(),
        idempotency: None,
    }
}

/// `op` under `key`, with the op's name standing for the request it came from.
fn keyed(layer: &str, op: Op, key: &str) -> Change {
    Change {
        idempotency: Some(Idempotency::new(key.into(), &[op.name().as_bytes()])),
        ..change(layer, op)
    }
}

/// Commits `op` on the test layer, which must succeed.
fn commit(store: &GeoPackage, op: Op, what: &str) -> Committed {
    store.commit(&change(LAYER, op)).expect(what)
}

fn delete(fid: i64, expected_version: i64) -> Op {
    Op::Delete {
        fid,
        expected_version,
    }
}

fn replace(fid: i64, expected_version: i64, geometry: Geometry<f64>, properties: Vec<Value>) -> Op {
    Op::Replace {
        fid,
        expected_version,
        geometry,
        properties,
    }
}

fn create(geometry: Geometry<f64>, properties: Vec<Value>) -> Op {
    Op::Create {
        geometry,
        properties,
        photos: vec![],
        receipt_hash: None,
    }
}

fn photo(byte: u8) -> NewPhoto {
    NewPhoto {
        media_type: "image/jpeg",
        bytes: vec![0xFF, 0xD8, byte, 0xFF, 0xD9],
        width: 640,
        height: 480,
    }
}

/// A prepared store in a fresh directory (nested, to show `open` creates directories).
fn fresh() -> (tempfile::TempDir, PathBuf, GeoPackage) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("var/edits.gpkg");
    let store = GeoPackage::open(&path).expect("open");
    store
        .prepare(&spec(LAYER, GeometryKind::Point))
        .expect("prepare");
    (dir, path, store)
}

fn sql<T: rusqlite::types::FromSql>(path: &Path, query: &str) -> T {
    let conn = Connection::open(path).expect("open with plain SQLite");
    conn.query_row(query, [], |r| r.get(0)).expect(query)
}

fn ops(entries: &[LogEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.op.as_str()).collect()
}

/// One geometry of each kind, with coordinates whose shortest decimal forms are long.
fn geometries() -> Vec<(GeometryKind, Geometry<f64>)> {
    let x = 139.0 + 1.0 / 3.0;
    let y = 35.0 + 0.1 + 0.2;
    let ring = |dx: f64| {
        LineString::from(vec![
            (x + dx, y),
            (x + dx + 0.01, y),
            (x + dx + 0.01, y + 0.01),
            (x + dx, y + 0.01),
            (x + dx, y),
        ])
    };
    let hole = LineString::from(vec![
        (x + 0.002, y + 0.002),
        (x + 0.002, y + 0.004),
        (x + 0.004, y + 0.004),
        (x + 0.002, y + 0.002),
    ]);
    vec![
        // Default serde_json parsing reads this one back 1 ulp off (see `float_roundtrip`).
        (GeometryKind::Point, pt(136.82311861277213, y)),
        (
            GeometryKind::LineString,
            Geometry::LineString(LineString::from(vec![(x, y), (x + 1e-9, y - 1e-9)])),
        ),
        (
            GeometryKind::Polygon,
            Geometry::Polygon(Polygon::new(ring(0.0), vec![hole.clone()])),
        ),
        (
            GeometryKind::MultiPoint,
            Geometry::MultiPoint(MultiPoint(vec![
                point! { x: x, y: y },
                point! { x: -x, y: -y },
            ])),
        ),
        (
            GeometryKind::MultiLineString,
            Geometry::MultiLineString(MultiLineString(vec![ring(0.0), ring(1.0)])),
        ),
        (
            GeometryKind::MultiPolygon,
            Geometry::MultiPolygon(MultiPolygon(vec![
                Polygon::new(ring(0.0), vec![hole]),
                Polygon::new(ring(0.5), vec![]),
            ])),
        ),
    ]
}

fn every_value() -> Vec<Vec<Value>> {
    vec![
        vec![
            Value::Str("陥没（歩道）\"引用\" 'quote' 🚧".into()),
            Value::Date(date(2024, 2, 29)),
            Value::Int(i64::MAX),
            Value::Float(121.04940354630095),
            Value::Bool(true),
        ],
        vec![
            Value::Str(String::new().into()),
            Value::Date(date(1989, 1, 8)),
            Value::Int(i64::MIN),
            Value::Float(-(0.1 + 0.2)),
            Value::Bool(false),
        ],
        vec![Value::Null; 5],
    ]
}

fn layer_of(kind: GeometryKind) -> String {
    format!("kind-{}", kind.name().to_ascii_lowercase())
}
