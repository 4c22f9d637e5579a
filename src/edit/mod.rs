//! Durable edits of editable layers. `Editor` is the one way a change reaches the store and the
//! served catalog: it checks the edit against the layer's schema (`input`), commits it to the
//! store (`store`, backed by `gpkg`), then swaps in a catalog whose layer holds the change and
//! announces it to live subscribers. One lock orders these steps, so the served catalog always
//! equals the store's state after the last acknowledged commit.

pub mod gpkg;
pub mod input;
pub mod photo;
pub mod receipt;
pub mod store;

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{FixedOffset, NaiveDate, Utc};
use tokio::sync::broadcast;

use crate::access::{Audience, Principal, View};
use crate::catalog::{Catalog, LayerReport, LiveCatalog, LoadError, feature_of};
use crate::config::{EditConfig, LayerConfig};
use crate::layer::{Feature, FeatureId, Layer};
use input::{Checked, Context, FeatureInput, FeaturePatch};
pub use store::Idempotency;
use store::{Change, Committed, EditStore, NewPhoto, Op, StoreError};

/// Why an edit was refused or failed. The HTTP layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The request body or a value in it is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// The change conflicts with the feature's state, e.g. a status that may not follow (409).
    #[error("{0}")]
    Conflict(String),
    /// The collection or feature does not exist, or the caller may not see it (404).
    #[error("{0}")]
    NotFound(String),
    /// The collection exists but is not editable (405).
    #[error("collection \"{0}\" is read-only")]
    ReadOnly(String),
    /// The caller must sign in to do this (401).
    #[error("sign in to {0}")]
    SignInRequired(&'static str),
    /// The caller is signed in but may not do this (403).
    #[error("you may not {what} in collection \"{layer}\"")]
    Forbidden { what: &'static str, layer: String },
    /// `If-Match` is missing on a change of an existing feature (428).
    #[error(
        "send If-Match with the feature's ETag (from GET) so a change made meanwhile is not overwritten"
    )]
    PreconditionRequired,
    /// `If-Match` names another version than the current one (412).
    #[error(
        "the feature has changed since you read it (it is now at version {current}); read it again and reapply your change"
    )]
    Stale { current: i64 },
    /// The store refused or failed the change.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An uploaded photo was refused.
    #[error(transparent)]
    Photo(#[from] photo::PhotoError),
    #[error("internal: {0}")]
    Internal(String),
}

impl EditError {
    pub fn invalid(m: impl Into<String>) -> EditError {
        EditError::Invalid(m.into())
    }
}

/// A committed change, as live subscribers hear of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub seq: i64,
    pub layer: String,
    pub fid: i64,
    pub op: String,
}

/// What a change is, for the permission check and its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Create => "create features",
            Action::Update => "change features",
            Action::Delete => "delete features",
        }
    }

    fn audience(self, edit: &EditConfig) -> &Audience {
        match self {
            Action::Create => &edit.create,
            Action::Update => &edit.update,
            Action::Delete => &edit.delete,
        }
    }
}

/// Where a change comes from, for the history and for safe retries.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub client: String,
    /// The request's `Idempotency-Key` and the digest of the request, when a key was sent.
    pub idempotency: Option<Idempotency>,
}

/// How many change events a slow live subscriber may fall behind before it re-reads the log.
const EVENT_BUFFER: usize = 1024;

/// The one writer of editable layers.
pub struct Editor {
    store: Arc<dyn EditStore>,
    live: Arc<LiveCatalog>,
    /// Orders commit → catalog swap → announcement, and reloads.
    lock: Mutex<()>,
    events: broadcast::Sender<ChangeEvent>,
}

/// The 404 of an admin request naming a layer that is not editable, hidden or missing.
pub fn no_editable_layer(id: &str) -> EditError {
    EditError::NotFound(format!("no editable layer \"{id}\""))
}

/// Today's date in Japan (UTC+9, no daylight saving), for dates the server sets.
pub fn today_in_japan() -> NaiveDate {
    let now = Utc::now();
    FixedOffset::east_opt(9 * 3600).map_or_else(
        || now.date_naive(),
        |jst| now.with_timezone(&jst).date_naive(),
    )
}

/// A change's `If-Match` precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: whatever the current version is (the editor chose to overwrite).
    Any,
    /// The version the client read.
    Version(i64),
}

impl Editor {
    pub fn new(store: Arc<dyn EditStore>, live: Arc<LiveCatalog>) -> Editor {
        Editor {
            store,
            live,
            lock: Mutex::new(()),
            events: broadcast::channel(EVENT_BUFFER).0,
        }
    }

    pub fn store(&self) -> &dyn EditStore {
        self.store.as_ref()
    }

    /// The catalog being served.
    pub fn live(&self) -> &Arc<LiveCatalog> {
        &self.live
    }

    /// Change events from now on. A receiver that lags gets `Lagged` and should read the
    /// store's log from its last sequence number.
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.events.subscribe()
    }

    fn guard(&self) -> Result<std::sync::MutexGuard<'_, ()>, EditError> {
        self.lock
            .lock()
            .map_err(|_| EditError::Internal("an earlier edit panicked".into()))
    }

    /// Loads the catalog in `dir` again, editable layers from the store, and swaps it in if it
    /// loads. Edits wait meanwhile, so none is lost from the served catalog.
    pub fn reload(&self, dir: &Path) -> Result<Vec<LayerReport>, LoadError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let (catalog, reports) = Catalog::load_with(dir, Some(self.store.as_ref()))?;
        self.live.replace(catalog);
        Ok(reports)
    }

    /// The layer `id` as `principal` may edit it under `action`, from the latest catalog.
    fn editable(
        &self,
        principal: &Principal,
        id: &str,
        action: Action,
    ) -> Result<(View, Arc<Layer>), EditError> {
        let catalog = self.live.snapshot();
        let view = View::new(Arc::clone(&catalog), principal.clone());
        let not_found = || EditError::NotFound(format!("collection \"{id}\" not found"));
        view.layer(id).ok_or_else(not_found)?;
        let layer = catalog.layer(id).cloned().ok_or_else(not_found)?;
        let edit = layer
            .meta
            .edit
            .as_ref()
            .ok_or_else(|| EditError::ReadOnly(id.to_string()))?;
        if !action.audience(edit).admits(principal) {
            return Err(match principal {
                Principal::Anonymous => EditError::SignInRequired(action.verb()),
                Principal::Staff { .. } => EditError::Forbidden {
                    what: action.verb(),
                    layer: id.to_string(),
                },
            });
        }
        Ok((view, layer))
    }

    /// Creates a feature from a GeoJSON Feature.
    pub fn create(
        &self,
        principal: &Principal,
        layer: &str,
        input: FeatureInput,
        origin: Origin,
    ) -> Result<Committed, EditError> {
        let _guard = self.guard()?;
        let (view, l) = self.editable(principal, layer, Action::Create)?;
        let ctx = Context {
            view: &view,
            layer: &l.meta,
            current: None,
            today: today_in_japan(),
            only: None,
        };
        let checked = input::check_feature(&ctx, input)?;
        self.commit(
            principal,
            layer,
            origin,
            Op::Create {
                geometry: checked.geometry,
                properties: checked.properties,
                photos: Vec::new(),
                receipt_hash: None,
            },
        )
    }

    /// Replaces a feature's geometry and the properties the editor sees (`PUT`).
    pub fn replace(
        &self,
        principal: &Principal,
        layer: &str,
        fid: &str,
        if_match: Option<IfMatch>,
        input: FeatureInput,
        origin: Origin,
    ) -> Result<Committed, EditError> {
        self.change(principal, layer, fid, if_match, origin, |ctx| {
            if let Some(id) = &input.id {
                let same = match id {
                    serde_json::Value::String(s) => s == fid,
                    serde_json::Value::Number(n) => n.to_string() == fid,
                    _ => false,
                };
                if !same {
                    return Err(EditError::invalid(format!(
                        "id: the body's id {id} differs from the feature in the URL ({fid})"
                    )));
                }
            }
            input::check_feature(ctx, input)
        })
    }

    /// Applies a JSON Merge Patch to a feature (`PATCH`).
    pub fn patch(
        &self,
        principal: &Principal,
        layer: &str,
        fid: &str,
        if_match: Option<IfMatch>,
        patch: FeaturePatch,
        origin: Origin,
    ) -> Result<Committed, EditError> {
        self.change(principal, layer, fid, if_match, origin, |ctx| {
            input::check_patch(ctx, patch)
        })
    }

    fn change(
        &self,
        principal: &Principal,
        layer: &str,
        fid: &str,
        if_match: Option<IfMatch>,
        origin: Origin,
        check: impl FnOnce(&Context) -> Result<Checked, EditError>,
    ) -> Result<Committed, EditError> {
        let _guard = self.guard()?;
        let (view, l) = self.editable(principal, layer, Action::Update)?;
        let (fid, current) = current_feature(&l, fid)?;
        let expected = expected_version(if_match, current)?;
        let ctx = Context {
            view: &view,
            layer: &l.meta,
            current: Some(current),
            today: today_in_japan(),
            only: None,
        };
        let checked = check(&ctx)?;
        self.commit(
            principal,
            layer,
            origin,
            Op::Replace {
                fid,
                expected_version: expected,
                geometry: checked.geometry,
                properties: checked.properties,
            },
        )
    }

    /// Deletes a feature; its last state stays in the history for an admin to restore.
    pub fn delete(
        &self,
        principal: &Principal,
        layer: &str,
        fid: &str,
        if_match: Option<IfMatch>,
        origin: Origin,
    ) -> Result<Committed, EditError> {
        let _guard = self.guard()?;
        let (_, l) = self.editable(principal, layer, Action::Delete)?;
        let (fid, current) = current_feature(&l, fid)?;
        let expected = expected_version(if_match, current)?;
        self.commit(
            principal,
            layer,
            origin,
            Op::Delete {
                fid,
                expected_version: expected,
            },
        )
    }

    /// Brings back a deleted feature (admins; the caller checks the role).
    pub fn restore(
        &self,
        principal: &Principal,
        layer: &str,
        fid: i64,
        origin: Origin,
    ) -> Result<Committed, EditError> {
        let _guard = self.guard()?;
        let catalog = self.live.snapshot();
        // A layer the admin may not see answers like one that does not exist: neither its
        // features nor whether one is deleted may show.
        View::new(Arc::clone(&catalog), principal.clone())
            .layer(layer)
            .ok_or_else(|| no_editable_layer(layer))?;
        let l = catalog
            .layer(layer)
            .filter(|l| l.meta.edit.is_some())
            .ok_or_else(|| no_editable_layer(layer))?;
        if l.position_of(&fid.to_string()).is_some() {
            return Err(EditError::Conflict(format!(
                "feature {fid} of \"{layer}\" is not deleted"
            )));
        }
        self.commit(principal, layer, origin, Op::Restore { fid })
    }

    /// Adds checked photos to a feature (`update` permission).
    pub fn add_photos(
        &self,
        principal: &Principal,
        layer: &str,
        fid: &str,
        if_match: Option<IfMatch>,
        photos: Vec<NewPhoto>,
        origin: Origin,
    ) -> Result<Committed, EditError> {
        let _guard = self.guard()?;
        let (_, l) = self.editable(principal, layer, Action::Update)?;
        let (fid, current) = current_feature(&l, fid)?;
        let max = l.meta.edit.as_ref().map_or(0, |e| e.photos);
        let have = self.store.photos(layer, fid)?.len();
        if have + photos.len() > max {
            return Err(EditError::invalid(format!(
                "a feature of this layer may carry {max} photo(s); it has {have}"
            )));
        }
        let expected = match if_match {
            Some(m) => Some(expected_version(Some(m), current)?),
            None => None,
        };
        self.commit(
            principal,
            layer,
            origin,
            Op::AddPhotos {
                fid,
                expected_version: expected,
                photos,
            },
        )
    }

    /// Approves a photo for the public view or withdraws it (`update` permission), if the
    /// feature is still at the version `if_match` names.
    pub fn set_photo_public(
        &self,
        principal: &Principal,
        layer: &str,
        fid: &str,
        PhotoApproval { n, public }: PhotoApproval,
        if_match: Option<IfMatch>,
        origin: Origin,
    ) -> Result<Committed, EditError> {
        let _guard = self.guard()?;
        let (_, l) = self.editable(principal, layer, Action::Update)?;
        let (fid, current) = current_feature(&l, fid)?;
        let expected_version = expected_version(if_match, current)?;
        self.commit(
            principal,
            layer,
            origin,
            Op::SetPhotoPublic {
                fid,
                n,
                public,
                expected_version,
            },
        )
    }

    /// A resident's report: the category, description and place they gave, with photos, as a
    /// new feature of the reports layer. Returns the commit and the receipt code, which is
    /// shown once and kept only as a hash.
    pub fn create_report(
        &self,
        report: ResidentReport,
        origin: Origin,
    ) -> Result<(Committed, String), EditError> {
        let _guard = self.guard()?;
        let catalog = self.live.snapshot();
        let settings = catalog
            .reports()
            .cloned()
            .ok_or_else(|| EditError::NotFound("this town takes no reports".into()))?;
        let l = catalog
            .layer(&settings.layer)
            .cloned()
            .ok_or_else(|| EditError::Internal("the reports layer is missing".into()))?;
        let max = l.meta.edit.as_ref().map_or(0, |e| e.photos);
        if report.photos.len() > max {
            return Err(EditError::invalid(format!(
                "photos: at most {max} photo(s) per report, got {}",
                report.photos.len()
            )));
        }
        let view = View::new(Arc::clone(&catalog), Principal::Anonymous);
        let only = [settings.category.clone(), settings.description.clone()];
        let ctx = Context {
            view: &view,
            layer: &l.meta,
            current: None,
            today: today_in_japan(),
            only: Some(&only),
        };
        let mut properties = serde_json::Map::new();
        properties.insert(settings.category.clone(), report.category.into());
        properties.insert(settings.description.clone(), report.description.into());
        let input = FeatureInput {
            geometry: Some(geo::Geometry::Point(geo::Point::new(
                report.lon, report.lat,
            ))),
            properties,
            id: None,
        };
        let checked = input::check_feature(&ctx, input)?;
        let code = receipt::new_code()?;
        let committed = self.commit(
            &Principal::Anonymous,
            &settings.layer,
            origin,
            Op::Create {
                geometry: checked.geometry,
                properties: checked.properties,
                photos: report.photos,
                receipt_hash: Some(receipt::hash(&code)),
            },
        )?;
        Ok((committed, code))
    }

    /// Commits `op` and, unless it replays an earlier commit, swaps in a catalog holding the
    /// change and announces it. Callers hold the lock.
    fn commit(
        &self,
        principal: &Principal,
        layer: &str,
        origin: Origin,
        op: Op,
    ) -> Result<Committed, EditError> {
        let change = Change {
            layer: layer.to_string(),
            op,
            actor: principal.name().to_string(),
            client: origin.client,
            idempotency: origin.idempotency,
        };
        let committed = self.store.commit(&change)?;
        if !committed.replayed {
            self.show(layer, &committed);
            // No subscriber is not an error.
            let _ = self.events.send(ChangeEvent {
                seq: committed.seq,
                layer: layer.to_string(),
                fid: committed.fid,
                op: change.op.name().to_string(),
            });
        }
        Ok(committed)
    }

    /// Swaps in a catalog whose layer `id` holds a committed change.
    fn show(&self, id: &str, committed: &Committed) {
        let catalog = self.live.snapshot();
        let Some(layer) = catalog.layer(id) else {
            return;
        };
        let mut features = layer.features.clone();
        let key = |f: &Feature| match f.id {
            FeatureId::Int(i) => i,
            FeatureId::Str(_) => i64::MIN,
        };
        let at = features.binary_search_by_key(&committed.fid, key);
        match (&committed.feature, at) {
            (Some(f), Ok(i)) => features[i] = feature_of(f.clone()),
            (Some(f), Err(i)) => features.insert(i, feature_of(f.clone())),
            (None, Ok(i)) => {
                features.remove(i);
            }
            (None, Err(_)) => {}
        }
        if let Err(e) = self.swap_in(&catalog, &layer.meta, features) {
            // The change is durable; only the served copy is behind. Read the layer afresh.
            tracing::error!(layer = id, error = %e, "cannot apply a commit in memory; reloading the layer");
            self.reread(&catalog, &layer.meta);
        }
    }

    /// Serves `catalog` with layer `meta` holding `features` (and its views rebuilt).
    fn swap_in(
        &self,
        catalog: &Catalog,
        meta: &LayerConfig,
        features: Vec<Feature>,
    ) -> Result<(), crate::layer::BuildError> {
        let layer = Layer::from_features(meta.clone(), features)?;
        self.live.replace(catalog.with_layer(layer)?);
        Ok(())
    }

    fn reread(&self, catalog: &Catalog, meta: &LayerConfig) {
        let features = match self.store.features(&meta.id) {
            Ok(f) => f.into_iter().map(feature_of).collect(),
            Err(e) => {
                tracing::error!(layer = %meta.id, error = %e, "cannot read the layer from the edit store");
                return;
            }
        };
        if let Err(e) = self.swap_in(catalog, meta, features) {
            tracing::error!(layer = %meta.id, error = %e, "cannot rebuild the layer");
        }
    }
}

/// Whether photo `n` of a feature is shown on the public view.
#[derive(Debug, Clone, Copy)]
pub struct PhotoApproval {
    pub n: i64,
    pub public: bool,
}

/// What a resident sends with a report.
#[derive(Debug, Clone)]
pub struct ResidentReport {
    pub category: String,
    pub description: String,
    pub lon: f64,
    pub lat: f64,
    pub photos: Vec<NewPhoto>,
}

/// The feature with id `fid` of an editable layer.
fn current_feature<'a>(layer: &'a Layer, fid: &str) -> Result<(i64, &'a Feature), EditError> {
    let not_found = || {
        EditError::NotFound(format!(
            "feature \"{fid}\" not found in collection \"{}\"",
            layer.meta.id
        ))
    };
    let i = layer.position_of(fid).ok_or_else(not_found)?;
    let f = &layer.features[i];
    match f.id {
        FeatureId::Int(n) => Ok((n, f)),
        FeatureId::Str(_) => Err(not_found()),
    }
}

/// The version a change was made on: `If-Match` must name the current one.
fn expected_version(if_match: Option<IfMatch>, current: &Feature) -> Result<i64, EditError> {
    match if_match {
        None => Err(EditError::PreconditionRequired),
        Some(IfMatch::Any) => Ok(current.version),
        Some(IfMatch::Version(v)) if v != current.version => Err(EditError::Stale {
            current: current.version,
        }),
        Some(IfMatch::Version(v)) => Ok(v),
    }
}
