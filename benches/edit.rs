//! What a durable edit costs, by the size of the layer it goes into. Prints numbers; asserts
//! nothing.
//!
//!     cargo bench --bench edit            # layers of 0 and 20 000 reports
//!     cargo bench --bench edit -- 50000   # another size
//!
//! Each edit is one fsync'd SQLite transaction (WAL, synchronous=FULL) plus the rebuild of the
//! layer in memory (features, R-tree, views), so its cost grows with the layer: this shows how
//! far one layer of reports can grow before edits feel slow on the field tablets.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use machimap::access::{Catalog, LiveCatalog};
use machimap::edit::input::{FeatureInput, FeaturePatch};
use machimap::edit::{Editor, IfMatch, Origin};
use machimap::edit_store::TableSpec;
use machimap::edit_store::gpkg::GeoPackage;
use machimap::edit_store::{Change, EditStore, Op};
use machimap::model::Value;
use machimap::policy::Principal;

const LAYER: &str = "damage-reports";

fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

/// A point in the sample town, spread by `i`.
fn place(i: usize) -> (f64, f64) {
    let x = (i * 7919 % 10_007) as f64 / 10_007.0;
    let y = (i * 104_729 % 10_009) as f64 / 10_009.0;
    (139.04 + 0.12 * x, 35.99 + 0.06 * y)
}

/// Writes `n` reports straight into the store (no in-memory rebuild per write), as a town
/// would have after a season of reports.
fn seed(store: &GeoPackage, data: &Path, n: usize) -> anyhow::Result<()> {
    let config = machimap::config::CatalogConfig::load(data)?;
    let layer = config
        .layers
        .iter()
        .find(|l| l.id == LAYER)
        .ok_or_else(|| anyhow::anyhow!("no {LAYER} in the sample catalog"))?;
    let spec = TableSpec::of(layer).ok_or_else(|| anyhow::anyhow!("{LAYER} is not editable"))?;
    store.prepare(&spec)?;
    for i in 0..n {
        let properties = spec
            .columns
            .iter()
            .map(|(name, _)| match name.as_str() {
                "種別" => Value::Str("道路損傷".into()),
                "内容" => Value::Str(format!("ベンチマーク用の通報 {i}").into()),
                "状況" => Value::Str("受付".into()),
                _ => Value::Null,
            })
            .collect();
        let (lon, lat) = place(i);
        store.commit(&Change {
            layer: LAYER.into(),
            op: Op::Create {
                geometry: geo::Point::new(lon, lat).into(),
                properties,
                photos: vec![],
                receipt_hash: None,
            },
            actor: "bench".into(),
            client: "bench".into(),
            idempotency: None,
        })?;
    }
    Ok(())
}

fn run(data: &Path, size: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(GeoPackage::open(&dir.path().join("edits.gpkg"))?);
    let t = Instant::now();
    seed(&store, data, size)?;
    if size > 0 {
        println!(
            "seeded {size} reports in {:.1} s ({:.2} ms per fsync'd commit, no rebuild)",
            t.elapsed().as_secs_f64(),
            t.elapsed().as_secs_f64() * 1e3 / size as f64
        );
    }
    let (catalog, _) = Catalog::load_with(data, Some(store.as_ref() as &dyn EditStore))
        .map_err(|e| anyhow::anyhow!("{:?}", e.lines()))?;
    let editor = Editor::new(
        Arc::clone(&store) as Arc<dyn EditStore>,
        Arc::new(LiveCatalog::new(catalog)),
    );
    let clerk = Principal::Staff {
        user: "bench".into(),
        department: "危機管理課".into(),
        roles: ["staff".to_string(), "disaster".to_string()].into(),
    };
    let origin = || Origin {
        client: "bench".into(),
        idempotency: None,
    };
    let rounds = 200;
    let mut creates = Vec::new();
    let mut fids = Vec::new();
    for i in 0..rounds {
        let (lon, lat) = place(size + i);
        let body = serde_json::json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"種別": "河川", "内容": "ベンチマーク"},
        })
        .to_string();
        let t = Instant::now();
        let input = FeatureInput::parse(body.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let c = editor
            .create(&clerk, LAYER, input, origin())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        creates.push(t.elapsed().as_secs_f64() * 1e3);
        fids.push(c.fid);
    }
    let mut patches = Vec::new();
    for fid in &fids {
        let t = Instant::now();
        let patch = FeaturePatch::parse(r#"{"properties":{"状況":"対応中"}}"#.as_bytes())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        editor
            .patch(
                &clerk,
                LAYER,
                &fid.to_string(),
                Some(IfMatch::Version(1)),
                patch,
                origin(),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        patches.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (c50, c99) = percentiles(creates.clone());
    let (p50, p99) = percentiles(patches);
    let per_second = rounds as f64 / (creates.iter().sum::<f64>() / 1e3);
    println!(
        "layer of {size:>6}: create p50 {c50:.1} ms, p99 {c99:.1} ms ({per_second:.0}/s one at a time); \
         patch (also rebuilds the public view) p50 {p50:.1} ms, p99 {p99:.1} ms"
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let sizes: Vec<usize> = match std::env::args().nth(1).filter(|a| !a.starts_with('-')) {
        Some(n) => vec![n.parse()?],
        None => vec![0, 20_000],
    };
    for size in sizes {
        run(&data, size)?;
    }
    Ok(())
}
