//! Sample data: a deterministic generator of みどり野町 (Midorino-machi), a fictional town in
//! 埼玉県秩父郡, with ten layers delivered the way Japanese municipal departments really deliver
//! them (Shift_JIS shapefiles, old-style GeoJSON with a `crs` member, FlatGeobuf, ledger CSVs with
//! plane coordinates in X=northing / Y=easting, the national recommended evacuation-site CSV
//! layout …) plus the `catalog.toml` that describes them.
//!
//! Everything is laid out in a local frame (metres east / north of the town centre, lon 139.10
//! lat 36.02) and placed in JGD2011 plane rectangular zone IX (EPSG:6677); PROJ converts to
//! geographic coordinates for the layers delivered in degrees. `machimap sample` and the
//! benchmarks (benches/query.rs) call [`generate`].

mod catalog;
mod geography;
mod geometry;
mod hazard;
mod rng;
mod roads;
mod shelters;
mod tourism;
mod water;
mod welfare;
mod writers;
mod zoning;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, ensure};

use crate::catalog::catalog_toml;
use crate::geography::Frame;
use crate::hazard::{build_floods, build_landslides, write_floods, write_landslides};
use crate::roads::{build_roads, write_roads};
use crate::shelters::{build_shelters, write_shelters};
use crate::tourism::{build_hiking, write_hiking};
use crate::water::{
    build_mains, build_repairs, build_valves, write_mains, write_repairs, write_valves,
};
use crate::welfare::{build_support, write_support};
use crate::writers::write_file;
use crate::zoning::{build_zoning, write_zoning};

/// What [`generate`] wrote: every layer id with its feature count, in catalog order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    pub layers: Vec<(String, usize)>,
}

/// Writes the sample town into `dir` (created if needed): every layer's source file and
/// `catalog.toml`.
///
/// `scale` 1 is the committed sample (well under 3 MB). Larger scales multiply feature counts for
/// benchmarks: the ledger-like layers (roads, water mains, valves, repairs, support persons) grow
/// by `5 * scale - 4`, the others by `scale`, so scale 50 gives about 280 000 features. The same
/// scale always gives byte-identical output.
pub fn generate(dir: &Path, scale: u32) -> Result<GenerateSummary> {
    ensure!(scale >= 1, "scale must be at least 1");
    let big = (5 * scale as usize).saturating_sub(4);
    let small = scale as usize;
    let frame = Frame::new()?;
    for sub in [
        "zoning", "roads", "water", "hazard", "shelters", "tourism", "welfare",
    ] {
        fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
    }

    let zoning = build_zoning(scale)?;
    write_zoning(dir, &frame, &zoning)?;

    let roads = build_roads(150 * big, scale)?;
    write_roads(dir, &frame, &roads)?;

    let mains = build_mains(&roads, 400 * big, scale)?;
    write_mains(dir, &frame, &mains)?;

    let valves = build_valves(&mains, 300 * big, scale)?;
    write_valves(dir, &frame, &valves)?;

    let repairs = build_repairs(&mains, &valves, 200 * big, scale)?;
    write_repairs(dir, &frame, &repairs)?;

    let floods = build_floods(scale)?;
    write_floods(dir, &frame, &floods)?;

    let slides = build_landslides(40 * small, scale)?;
    write_landslides(dir, &frame, &slides)?;

    let shelters = build_shelters(&floods, &slides, 25 * small, scale)?;
    write_shelters(dir, &frame, &shelters)?;

    let hikes = build_hiking(8 * small, scale)?;
    write_hiking(dir, &frame, &hikes)?;

    let people = build_support(&roads, 60 * big, scale)?;
    write_support(dir, &frame, &people)?;

    let summary = GenerateSummary {
        layers: vec![
            ("zoning".into(), zoning.len()),
            ("roads".into(), roads.len()),
            ("water-mains".into(), mains.len()),
            ("water-valves".into(), valves.len()),
            ("repair-history".into(), repairs.len()),
            ("flood-zones".into(), floods.len()),
            ("landslide-zones".into(), slides.len()),
            ("shelters".into(), shelters.len()),
            ("hiking-courses".into(), hikes.len()),
            ("evacuation-support".into(), people.len()),
        ],
    };
    write_file(&dir.join("catalog.toml"), catalog_toml().as_bytes())?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn read_tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
                    out.insert(rel, fs::read(&path).expect("read"));
                }
            }
        }
        out
    }

    #[test]
    fn generation_is_deterministic_and_every_layer_has_features() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let sa = generate(a.path(), 1).expect("generate a");
        let sb = generate(b.path(), 1).expect("generate b");
        assert_eq!(sa, sb);
        assert_eq!(sa.layers.len(), 10);
        for (id, n) in &sa.layers {
            assert!(*n > 0, "layer {id} is empty");
        }
        let ta = read_tree(a.path());
        let tb = read_tree(b.path());
        assert!(ta.contains_key(Path::new("catalog.toml")));
        assert!(ta.contains_key(Path::new("zoning/youto_chiiki.cpg")));
        assert!(!ta.contains_key(Path::new("hazard/shinsui_souteikuiki.cpg")));
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        for (path, bytes) in &ta {
            assert!(
                tb.get(path) == Some(bytes),
                "{} differs between runs",
                path.display()
            );
        }
        let total: usize = ta.values().map(Vec::len).sum();
        assert!(total < 3 * 1024 * 1024, "sample is {total} bytes");
    }

    /// `data/` is what `machimap sample` writes at scale 1: after changing the generator, run it
    /// again and commit the result.
    #[test]
    fn scale_1_is_the_committed_data() {
        let out = tempfile::tempdir().expect("tempdir");
        generate(out.path(), 1).expect("generate");
        let committed = read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"));
        let generated = read_tree(out.path());
        assert_eq!(
            generated.keys().collect::<Vec<_>>(),
            committed.keys().collect::<Vec<_>>()
        );
        for (path, bytes) in &generated {
            assert!(
                committed.get(path) == Some(bytes),
                "data/{} is not what the generator writes: run `machimap sample`",
                path.display()
            );
        }
    }
}
