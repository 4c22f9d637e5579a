//! Load and query figures on a large generated town: bbox queries, CQL2 filters, sorting,
//! output in a plane rectangular CRS, nearest features, the location report and search.
//! Prints numbers; asserts nothing.
//!
//!     cargo bench --bench query [-- SCALE]      (default scale 50; data cached in bench-data/,
//!                                                per version of the generator)

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use machimap::access::Catalog;
use machimap::access::LayerView;
use machimap::access::View;
use machimap::crs::RequestCrs;
use machimap::encode::geojson::{write_feature, write_feature_in};
use machimap::policy::Principal;
use machimap::query::nearest::{self, Place};
use machimap::query::{self, Format, ItemsQuery, location, search};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Runs `f` `n` times and prints p50/p99/max in µs with the average of what `f` returns.
fn measure(
    label: &str,
    n: usize,
    mut f: impl FnMut() -> anyhow::Result<usize>,
) -> anyhow::Result<()> {
    let mut times = Vec::with_capacity(n);
    let mut total = 0usize;
    for _ in 0..n {
        let t = Instant::now();
        total += f()?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "  {:<44} {:>9.0} {:>9.0} {:>9.0} {:>11.1}",
        label,
        times[n / 2],
        times[n * 99 / 100],
        times[n - 1],
        total as f64 / n as f64
    );
    Ok(())
}

/// One items request through parse, execute and GeoJSON encoding, as the handler runs it.
fn items(
    layer: &LayerView,
    view: &View,
    pairs: &[(&str, String)],
    out: &mut Vec<u8>,
) -> anyhow::Result<usize> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let q = ItemsQuery::parse(&pairs, layer, view.server(), Format::Json)
        .map_err(anyhow::Error::msg)?;
    let page = query::execute(layer, &q);
    out.clear();
    for &i in &page.indices {
        write_feature_in(out, layer, i, q.output_attrs(layer), None, q.crs);
    }
    Ok(page.indices.len())
}

fn random_place(layer: &LayerView, rng: &mut StdRng) -> Place {
    let e = layer.extent().expect("extent");
    Place {
        lon: rng.random_range(e.min().x..e.max().x),
        lat: rng.random_range(e.min().y..e.max().y),
    }
}

/// FNV-1a over the names and contents of the files under `root` (its `src/` and `Cargo.toml`),
/// read in path order.
fn source_hash(root: &Path) -> anyhow::Result<u64> {
    let mut files = vec![root.join("Cargo.toml")];
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for path in &files {
        let rel = path.strip_prefix(root)?.to_string_lossy().into_owned();
        for b in rel.into_bytes().into_iter().chain(std::fs::read(path)?) {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    Ok(h)
}

fn main() -> anyhow::Result<()> {
    let scale: u32 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    // The cache is keyed by the generator's source (every file of the machimap-sample crate), so
    // a changed sample (new layers, catalog sections) is generated afresh.
    let generator = source_hash(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sample"))?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("bench-data/scale-{scale}-{:08x}", generator as u32));
    if !dir.join("catalog.toml").exists() {
        let t = Instant::now();
        let summary = machimap_sample::generate(&dir, scale)?;
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

    println!("issue 4 queries ({} = request count):", 500);
    println!(
        "  {:<44} {:>9} {:>9} {:>9} {:>11}",
        "query", "p50 µs", "p99 µs", "max µs", "avg feats"
    );
    let mut out = Vec::with_capacity(1 << 20);
    let layer = |id: &str| {
        view.layer(id)
            .ok_or_else(|| anyhow::anyhow!("no layer {id}"))
    };
    let (zoning, roads, shelters) = (layer("zoning")?, layer("roads")?, layer("shelters")?);
    let ext = zoning.extent().expect("extent");
    let boxes: Vec<String> = (0..500)
        .map(|_| {
            let w = ext.width() * rng.random_range(0.01..0.1);
            let h = ext.height() * rng.random_range(0.01..0.1);
            let x = ext.min().x + rng.random_range(0.0..1.0) * (ext.width() - w);
            let y = ext.min().y + rng.random_range(0.0..1.0) * (ext.height() - h);
            format!("{x},{y},{},{}", x + w, y + h)
        })
        .collect();
    let mut k = 0;
    measure(
        "zoning CQL2 建ぺい率>=60 AND S_INTERSECTS(bbox)",
        500,
        || {
            k = (k + 1) % boxes.len();
            let f = format!(
                "\"建ぺい率\" >= 60 AND S_INTERSECTS(geometry, BBOX({}))",
                boxes[k]
            );
            items(
                &zoning,
                &view,
                &[("filter", f), ("limit", "1000".into())],
                &mut out,
            )
        },
    )?;
    measure(
        "roads CQL2 scan 幅員>6 AND 種別 LIKE '1級%'",
        500,
        || {
            let f = "\"幅員\" > 6 AND \"種別\" LIKE '1級%'".to_string();
            items(
                &roads,
                &view,
                &[("filter", f), ("limit", "100".into())],
                &mut out,
            )
        },
    )?;
    measure("roads sortby=-幅員,路線名 (limit 100)", 500, || {
        items(
            &roads,
            &view,
            &[("sortby", "-幅員,路線名".into()), ("limit", "100".into())],
            &mut out,
        )
    })?;
    measure("roads bbox, crs=EPSG:6677 (limit 1000)", 500, || {
        k = (k + 1) % boxes.len();
        let crs = RequestCrs::parse("EPSG:6677").map_err(anyhow::Error::msg)?;
        items(
            &roads,
            &view,
            &[
                ("bbox", boxes[k].clone()),
                ("crs", crs.uri()),
                ("limit", "1000".into()),
            ],
            &mut out,
        )
    })?;
    measure("roads bbox, CRS84 (the same boxes)", 500, || {
        k = (k + 1) % boxes.len();
        items(
            &roads,
            &view,
            &[("bbox", boxes[k].clone()), ("limit", "1000".into())],
            &mut out,
        )
    })?;
    for (l, kk, max) in [
        (&shelters, 3, None),
        (&roads, 1, Some(10.0)),
        (&zoning, 5, None),
    ] {
        measure(
            &format!("nearest {} k={kk} max={max:?}", l.id()),
            500,
            || {
                let p = random_place(l, &mut rng);
                Ok(nearest::nearest(l, p, kk, max).len())
            },
        )?;
    }
    measure("location report (sample sections)", 500, || {
        let p = random_place(&zoning, &mut rng);
        Ok(location::report(&view, p).len())
    })?;
    let searchable: Vec<LayerView> = view
        .layers()
        .filter(|l| l.search_columns().next().is_some())
        .collect();
    measure(
        "search 'みどり' over every searchable layer",
        500,
        || Ok(search::search(&searchable, &["みどり".to_string()]).len()),
    )?;
    Ok(())
}
