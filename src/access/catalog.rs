//! The set of loaded layers. Built whole and validated before it is served; the server swaps
//! in a new one atomically on reload, so readers never wait and never see a half-loaded set.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use geo::Geometry;

use super::journal::Journal;
use super::layer::{BuildError, Layer};
use crate::config::{
    CatalogConfig, ConfigError, EXTENT_MARGIN, LayerConfig, LocationSection, ReportsConfig,
    ServerConfig, SourceConfig,
};
use crate::crs::{self, ToCrs84};
use crate::edit_store::{EditStore, TableSpec};
use crate::geometry;
use crate::model::{Feature, FeatureId, PastState};
use crate::source::{self, Problem};
use crate::view_id::ViewIds;

/// Every layer of the catalog, loaded and indexed.
pub struct Catalog {
    pub server: ServerConfig,
    layers: Vec<Arc<Layer>>,
    /// The location report's sections, validated against the layers.
    location: Vec<LocationSection>,
    /// Resident reports, when the town takes them.
    reports: Option<ReportsConfig>,
    /// The ids views give the features they show.
    view_ids: ViewIds,
    /// Where this catalog differs from those before it (set by `LiveCatalog::replace`).
    pub(in crate::access) journal: Journal,
}

/// How one layer loaded, for the start-up report.
#[derive(Debug, Clone)]
pub struct LayerReport {
    pub id: String,
    pub features: usize,
    pub elapsed: Duration,
}

/// One layer loaded with the time it took, or every problem found in it.
type Loaded = Result<(Layer, Duration), Vec<Problem>>;

/// Why a catalog could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{} problem(s) in the layer sources", .0.len())]
    Sources(Vec<Problem>),
}

impl LoadError {
    /// Every problem, one per line, for the console.
    pub fn lines(&self) -> Vec<String> {
        match self {
            LoadError::Config(e) => vec![e.to_string()],
            LoadError::Sources(p) => p.iter().map(ToString::to_string).collect(),
        }
    }
}

impl Catalog {
    /// Loads the catalog in `dir` and every layer it lists, with editable layers empty (no
    /// edit store). Succeeds only if every layer loads; otherwise returns every problem found.
    pub fn load(dir: &Path) -> Result<(Catalog, Vec<LayerReport>), LoadError> {
        Self::load_with(dir, None)
    }

    /// Loads the catalog in `dir`, editable layers from `edits`.
    pub fn load_with(
        dir: &Path,
        edits: Option<&dyn EditStore>,
    ) -> Result<(Catalog, Vec<LayerReport>), LoadError> {
        let config = CatalogConfig::load(dir)?;
        Self::from_config(dir, config, edits)
    }

    /// Loads the layers of an already parsed catalog: files in parallel, editable layers from
    /// `edits` (preparing their tables), then the views over them.
    pub fn from_config(
        dir: &Path,
        config: CatalogConfig,
        edits: Option<&dyn EditStore>,
    ) -> Result<(Catalog, Vec<LayerReport>), LoadError> {
        let extent = config.server.extent;
        let mut results: Vec<Option<Loaded>> = std::thread::scope(|s| {
            let handles: Vec<_> = config
                .layers
                .iter()
                .map(|cfg| {
                    cfg.source().map(|src| {
                        s.spawn(move || {
                            let start = Instant::now();
                            load_layer(dir, cfg, src, extent).map(|l| (l, start.elapsed()))
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .zip(&config.layers)
                .map(|(h, cfg)| {
                    h.map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(vec![problem_of(
                                dir,
                                cfg,
                                "the loader crashed on this file",
                            )])
                        })
                    })
                })
                .collect()
        });
        for (slot, cfg) in results.iter_mut().zip(&config.layers) {
            if cfg.edit().is_some() {
                let start = Instant::now();
                *slot = Some(load_editable(dir, cfg, edits).map(|l| (l, start.elapsed())));
            }
        }
        // Without an edit store, editable layers and so views are empty: any key will do.
        let view_ids = match edits {
            Some(e) => e.view_id_key().map(ViewIds::new).map_err(|e| e.to_string()),
            None => Ok(ViewIds::new([0; 32])),
        };
        for (i, cfg) in config.layers.iter().enumerate() {
            let Some(view) = cfg.view() else { continue };
            let start = Instant::now();
            let base = config.layers.iter().position(|l| l.id == view.of);
            let ids = match &view_ids {
                Ok(ids) => ids,
                Err(e) => {
                    results[i] = Some(Err(vec![problem_of(dir, cfg, e)]));
                    continue;
                }
            };
            let built = match base.and_then(|b| results[b].as_ref()) {
                Some(Ok((base, _))) => Layer::view_of(cfg.clone(), base, ids)
                    .map(|l| (l, start.elapsed()))
                    .map_err(|e| vec![problem_of(dir, cfg, &e.to_string())]),
                _ => Err(vec![problem_of(
                    dir,
                    cfg,
                    &format!("the layer it shows (\"{}\") did not load", view.of),
                )]),
            };
            results[i] = Some(built);
        }
        let mut layers = Vec::new();
        let mut reports = Vec::new();
        let mut problems = Vec::new();
        for r in results.into_iter().flatten() {
            match r {
                Ok((layer, elapsed)) => {
                    reports.push(LayerReport {
                        id: layer.meta.id.clone(),
                        features: layer.features.len(),
                        elapsed,
                    });
                    layers.push(Arc::new(layer));
                }
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(LoadError::Sources(problems));
        }
        Ok((
            Catalog {
                server: config.server,
                layers,
                location: config.location,
                reports: config.reports,
                view_ids: view_ids.unwrap_or_else(|_| ViewIds::new([0; 32])),
                journal: Journal::default(),
            },
            reports,
        ))
    }

    /// This catalog after a committed change to editable layer `id`: feature `fid` is now
    /// `feature`, or gone when `None`; the views of the layer are rebuilt. `None` when `id` is
    /// not a layer of this catalog.
    pub fn with_change(
        &self,
        id: &str,
        fid: i64,
        feature: Option<Feature>,
    ) -> Option<Result<Catalog, BuildError>> {
        let layer = self.raw_layer(id)?;
        let mut features = layer.features.clone();
        let key = |f: &Feature| match f.id {
            FeatureId::Int(i) => i,
            FeatureId::Str(_) => i64::MIN,
        };
        let at = features.binary_search_by_key(&fid, key);
        match (feature, at) {
            (Some(f), Ok(i)) => features[i] = f,
            (Some(f), Err(i)) => features.insert(i, f),
            (None, Ok(i)) => {
                features.remove(i);
            }
            (None, Err(_)) => {}
        }
        self.with_features(id, features)
    }

    /// This catalog with layer `id` holding `features` (as read again from the edit store).
    pub fn with_features(
        &self,
        id: &str,
        features: Vec<Feature>,
    ) -> Option<Result<Catalog, BuildError>> {
        let meta = self.raw_layer(id)?.meta.clone();
        Some(Layer::from_features(meta, features).and_then(|l| self.with_layer(l)))
    }

    /// This catalog with one layer replaced (after an edit) and every view of it rebuilt.
    fn with_layer(&self, layer: Layer) -> Result<Catalog, BuildError> {
        let layer = Arc::new(layer);
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            if l.meta.id == layer.meta.id {
                layers.push(Arc::clone(&layer));
            } else if l.meta.view().is_some_and(|v| v.of == layer.meta.id) {
                layers.push(Arc::new(Layer::view_of(
                    l.meta.clone(),
                    &layer,
                    &self.view_ids,
                )?));
            } else {
                layers.push(Arc::clone(l));
            }
        }
        Ok(Catalog {
            server: self.server.clone(),
            layers,
            location: self.location.clone(),
            reports: self.reports.clone(),
            view_ids: self.view_ids.clone(),
            journal: self.journal.clone(),
        })
    }

    /// The id collection `id` gives feature `fid` of the layer it edits or shows: the number
    /// on an editable layer, an opaque id on a view.
    pub(in crate::access) fn feature_id_in(&self, id: &str, fid: i64) -> String {
        match self.raw_layer(id) {
            Some(l) if l.meta.view().is_some() => self.view_ids.encode(fid),
            _ => fid.to_string(),
        }
    }

    /// The feature number behind id `feature` of collection `id` (see `feature_id_in`).
    ///
    pub(in crate::access) fn edited_fid(&self, id: &str, feature: &str) -> Option<i64> {
        match self.raw_layer(id) {
            Some(l) if l.meta.view().is_some() => self.view_ids.decode(feature),
            _ => feature.parse().ok(),
        }
    }

    /// The id of the live stream's event for change-log position `seq`. Only `access::View`
    pub(in crate::access) fn event_id(&self, seq: i64) -> String {
        self.view_ids.events().encode(seq)
    }

    /// The change-log position behind an event id (see `event_id`).
    pub(in crate::access) fn event_seq(&self, id: &str) -> Option<i64> {
        self.view_ids.events().decode(id)
    }

    /// Whether any layer is edited through the API.
    pub fn has_editable_layers(&self) -> bool {
        self.layers.iter().any(|l| l.meta.edit().is_some())
    }

    /// Resident reports' settings, when the town takes them.
    pub(in crate::access) fn raw_reports(&self) -> Option<&ReportsConfig> {
        self.reports.as_ref()
    }

    /// All layers in catalog order, whatever their audience.
    pub(in crate::access) fn raw_layers(&self) -> &[Arc<Layer>] {
        &self.layers
    }

    /// Every role named by a layer or attribute audience.
    pub fn audience_roles(&self) -> std::collections::BTreeSet<String> {
        let mut roles = std::collections::BTreeSet::new();
        for layer in &self.layers {
            let audiences = std::iter::once(&layer.meta.audience)
                .chain(layer.schema.iter().map(|a| &a.audience));
            for a in audiences {
                if let crate::policy::Audience::Roles(r) = a {
                    roles.extend(r.iter().cloned());
                }
            }
        }
        roles
    }

    /// The location report's sections, whatever their layers' audience. Only `access::View`
    pub(in crate::access) fn raw_location_sections(&self) -> &[LocationSection] {
        &self.location
    }

    /// A layer by id, whatever its audience.
    pub(in crate::access) fn raw_layer(&self, id: &str) -> Option<&Arc<Layer>> {
        self.layers.iter().find(|l| l.meta.id == id)
    }

    /// Layer `id` as it would be if its edited layer held only feature `fid` in the state
    /// `past`: a view applies its condition, so the result is empty when the view did not
    /// show the feature then. `None` when `id` is neither an editable layer nor a view of one.
    ///
    pub(in crate::access) fn raw_as_of(
        &self,
        id: &str,
        fid: i64,
        past: PastState,
    ) -> Option<Layer> {
        let layer = self.raw_layer(id)?;
        let edited = match layer.meta.view() {
            Some(v) => self.raw_layer(&v.of)?,
            None if layer.meta.edit().is_some() => layer,
            None => return None,
        };
        let feature = Feature {
            id: FeatureId::Int(fid),
            geometry: past.geometry,
            properties: past.properties,
            version: past.version,
        };
        let base = Layer::from_features(edited.meta.clone(), vec![feature]).ok()?;
        if layer.meta.view().is_some() {
            Layer::view_of(layer.meta.clone(), &base, &self.view_ids).ok()
        } else {
            Some(base)
        }
    }
}

/// The catalog the server is serving now; replaced whole on reload.
pub struct LiveCatalog {
    current: ArcSwap<Catalog>,
    /// Held while a catalog is swapped in, so each journal follows the one before it.
    swapping: Mutex<()>,
}

impl LiveCatalog {
    pub fn new(catalog: Catalog) -> LiveCatalog {
        LiveCatalog {
            current: ArcSwap::from_pointee(catalog),
            swapping: Mutex::new(()),
        }
    }

    /// The current snapshot; it stays valid for as long as the caller holds it.
    pub fn snapshot(&self) -> Arc<Catalog> {
        self.current.load_full()
    }

    /// Swaps in a catalog that has already loaded successfully, one generation after the
    /// current one, its journal telling where they differ.
    pub fn replace(&self, mut catalog: Catalog) {
        let _one_at_a_time = self.swapping.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.current.load_full();
        catalog.journal = old.journal.next(&old.layers, &catalog.layers);
        self.current.store(Arc::new(catalog));
    }
}

/// A problem with a whole layer, placed at its source file (or the catalog).
fn problem_of(dir: &Path, cfg: &LayerConfig, message: &str) -> Problem {
    let file = match cfg.source() {
        Some(s) => dir.join(&s.path),
        None => dir.join(crate::config::CATALOG_FILE),
    };
    Problem {
        file,
        layer: Some(cfg.id.clone()),
        place: None,
        message: message.to_string(),
    }
}

/// Reads an editable layer from the edit store, preparing its table; empty without a store.
fn load_editable(
    dir: &Path,
    cfg: &LayerConfig,
    edits: Option<&dyn EditStore>,
) -> Result<Layer, Vec<Problem>> {
    let features = match (edits, TableSpec::of(cfg)) {
        (Some(store), Some(spec)) => {
            let problem =
                |e: crate::edit_store::StoreError| vec![problem_of(dir, cfg, &e.to_string())];
            store.prepare(&spec).map_err(problem)?;
            store
                .features(&cfg.id)
                .map_err(problem)?
                .into_iter()
                .map(Feature::from)
                .collect()
        }
        _ => Vec::new(),
    };
    Layer::from_features(cfg.clone(), features)
        .map_err(|e| vec![problem_of(dir, cfg, &e.to_string())])
}

/// Reads, reprojects and indexes one layer.
fn load_layer(
    dir: &Path,
    cfg: &LayerConfig,
    src: &SourceConfig,
    extent: Option<[f64; 4]>,
) -> Result<Layer, Vec<Problem>> {
    let path = dir.join(&src.path);
    let problem = |place: Option<String>, message: String| Problem {
        file: path.clone(),
        layer: Some(cfg.id.clone()),
        place,
        message,
    };
    let schema = Layer::schema_of(cfg);
    let data = source::read(dir, cfg, src, &schema)?;

    let (crs_name, origin) = match (&cfg.crs, &data.declared_crs, data.default_crs) {
        (Some(c), declared, _) => {
            if let Some(d) = declared
                && crs::normalize_name(d) != crs::normalize_name(c)
                && !d.contains('[')
            {
                tracing::warn!(layer = %cfg.id, catalog = %c, file = %d, "catalog CRS overrides the file's");
            }
            (c.clone(), "the catalog")
        }
        (None, Some(d), _) => (d.clone(), "the file"),
        (None, None, Some(d)) => (d.to_string(), "the format's default"),
        (None, None, None) => {
            return Err(vec![problem(
                None,
                "the file does not say its CRS (no .prj or header CRS); set crs in the catalog"
                    .into(),
            )]);
        }
    };
    let to_crs84 = ToCrs84::new(&crs_name)
        .map_err(|e| vec![problem(None, format!("CRS from {origin}: {e}"))])?;

    let mut rows = Vec::with_capacity(data.rows.len());
    let mut problems = Vec::new();
    for (index, (geometry, props)) in data.rows.into_iter().enumerate() {
        let transformed = to_crs84
            .geometry(&geometry)
            .map_err(|e| e.to_string())
            .and_then(|g| match extent {
                Some(ext) => within_extent(&g, ext, &crs_name, origin).map(|()| g),
                None => Ok(g),
            });
        match transformed {
            Ok(g) => rows.push((geometry::right_hand_rule(g), props)),
            Err(e) => {
                problems.push(problem(Some(format!("feature {index}")), e));
                if problems.len() >= source::MAX_PROBLEMS {
                    break;
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Layer::build(cfg.clone(), rows).map_err(|e| vec![problem(None, e.to_string())])
}

/// Checks that a CRS84 geometry lies in the town's extent (with the margin).
fn within_extent(
    g: &Geometry<f64>,
    extent: [f64; 4],
    crs: &str,
    origin: &str,
) -> Result<(), String> {
    let Some(c) = geometry::outside_extent(g, extent, EXTENT_MARGIN) else {
        return Ok(());
    };
    let [w, s, e, n] = extent;
    Err(format!(
        "lies at lon {:.5}, lat {:.5}, outside the town's extent (server.extent {w}, {s}, {e}, {n}); \
         is the CRS right? ({} from {origin})",
        c.x,
        c.y,
        crs::short(crs)
    ))
}
