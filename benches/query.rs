//! Load and query figures on a large generated town. Prints numbers; asserts nothing.
//!
//!     cargo bench --bench query [-- SCALE]      (default scale 50; data cached in bench-data/)

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use machimap::access::{Principal, View};
use machimap::catalog::Catalog;
use machimap::encode::geojson::write_feature;
use machimap::query::{self, Format, ItemsQuery};
use rand::{Rng, SeedableRng};

fn main() -> anyhow::Result<()> {
    let scale: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("bench-data/scale-{scale}"));
    if !dir.join("catalog.toml").exists() {
        let t = Instant::now();
        let summary = machimap::sample::generate(&dir, scale)?;
        let total: usize = summary.layers.iter().map(|(_, n)| n).sum();
        println!(
            "generated scale {scale}: {total} features in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let t = Instant::now();
    let (catalog, reports) = Catalog::load(&dir).map_err(|e| anyhow::anyhow!("{:?}", e.lines()))?;
    println!(
        "load: {:.2} s wall for all layers",
        t.elapsed().as_secs_f64()
    );
    for r in &reports {
        println!(
            "  {:<22} {:>9} features {:>9.1} ms",
            r.id,
            r.features,
            r.elapsed.as_secs_f64() * 1e3
        );
    }
    let view = View::new(Arc::new(catalog), Principal::Anonymous);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    println!("bbox query + GeoJSON encoding, 2000 random boxes per layer (limit 1000):");
    println!(
        "  {:<22} {:>9} {:>9} {:>9} {:>11}",
        "layer", "p50 µs", "p99 µs", "max µs", "avg feats"
    );
    for layer in view.layers() {
        let Some(ext) = layer.extent() else {
            continue;
        };
        let mut times = Vec::with_capacity(2000);
        let mut returned = 0usize;
        let mut out = Vec::with_capacity(1 << 20);
        for _ in 0..2000 {
            let w = ext.width() * rng.random_range(0.001..0.2);
            let h = ext.height() * rng.random_range(0.001..0.2);
            let x = ext.min().x + rng.random_range(0.0..1.0) * (ext.width() - w);
            let y = ext.min().y + rng.random_range(0.0..1.0) * (ext.height() - h);
            let pairs = vec![
                ("bbox".to_string(), format!("{x},{y},{},{}", x + w, y + h)),
                ("limit".to_string(), "1000".to_string()),
            ];
            let t = Instant::now();
            let q = ItemsQuery::parse(&pairs, &layer, view.server(), Format::Json)
                .map_err(anyhow::Error::msg)?;
            debug_assert_eq!(q.format, Format::Json);
            let page = query::execute(&layer, &q);
            out.clear();
            for &i in &page.indices {
                write_feature(&mut out, &layer, i, q.output_attrs(&layer), None);
            }
            times.push(t.elapsed().as_secs_f64() * 1e6);
            returned += page.indices.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  {:<22} {:>9.0} {:>9.0} {:>9.0} {:>11.1}",
            layer.id(),
            times[times.len() / 2],
            times[times.len() * 99 / 100],
            times[times.len() - 1],
            returned as f64 / 2000.0
        );
    }
    Ok(())
}
