//! Durable edits of editable layers. `Editor` is the one way a change reaches the store and the
//! served catalog: it checks the edit against the layer's schema (`input`), commits it to the
//! store (`store`, backed by `gpkg`), then swaps in a catalog whose layer holds the change and
//! announces it to live subscribers. One lock orders these steps, so the served catalog always
//! equals the store's state after the last acknowledged commit.

pub mod input;
pub mod photo;
pub mod receipt;

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{FixedOffset, NaiveDate, Utc};
use tokio::sync::broadcast;

pub use crate::access::Action;
use crate::access::{Catalog, Editable, LayerReport, LiveCatalog, LoadError, Refusal, View};
pub use crate::edit_store::Idempotency;
use crate::edit_store::{Change, Committed, EditStore, NewPhoto, Op, StoreError};
use crate::model::Feature;
use crate::policy::Principal;
use input::{Checked, Context, FeatureInput, FeaturePatch};

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
    ) -> Result<Editable, EditError> {
        View::new(self.live.snapshot(), principal.clone())
            .editable(id, action)
            .map_err(|r| refused(r, id))
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
        let l = self.editable(principal, layer, Action::Create)?;
        let ctx = Context {
            view: l.view(),
            layer: l.config(),
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
        let l = self.editable(principal, layer, Action::Update)?;
        let (fid, current) = current_feature(&l, fid)?;
        let expected = expected_version(if_match, current)?;
        let ctx = Context {
            view: l.view(),
            layer: l.config(),
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
        let l = self.editable(principal, layer, Action::Delete)?;
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
        // A layer the admin may not see answers like one that does not exist: neither its
        // features nor whether one is deleted may show.
        let l = View::new(self.live.snapshot(), principal.clone())
            .edited_layer(layer)
            .map_err(|_| no_editable_layer(layer))?;
        if l.holds(fid) {
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
        let l = self.editable(principal, layer, Action::Update)?;
        let (fid, current) = current_feature(&l, fid)?;
        let max = l.edit().photos;
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
        let l = self.editable(principal, layer, Action::Update)?;
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
        let view = View::new(self.live.snapshot(), Principal::Anonymous);
        if view.reports().is_none() {
            return Err(EditError::NotFound("this town takes no reports".into()));
        }
        let (settings, l) = view
            .report_intake()
            .ok_or_else(|| EditError::Internal("the reports layer is missing".into()))?;
        let max = l.edit().photos;
        if report.photos.len() > max {
            return Err(EditError::invalid(format!(
                "photos: at most {max} photo(s) per report, got {}",
                report.photos.len()
            )));
        }
        let only = [settings.category.clone(), settings.description.clone()];
        let ctx = Context {
            view: l.view(),
            layer: l.config(),
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
        let feature = committed.feature.clone().map(Feature::from);
        match catalog.with_change(id, committed.fid, feature) {
            None => {}
            Some(Ok(next)) => self.live.replace(next),
            Some(Err(e)) => {
                // The change is durable; only the served copy is behind. Read the layer afresh.
                tracing::error!(layer = id, error = %e, "cannot apply a commit in memory; reloading the layer");
                self.reread(&catalog, id);
            }
        }
    }

    fn reread(&self, catalog: &Catalog, id: &str) {
        let features = match self.store.features(id) {
            Ok(f) => f.into_iter().map(Feature::from).collect(),
            Err(e) => {
                tracing::error!(layer = id, error = %e, "cannot read the layer from the edit store");
                return;
            }
        };
        match catalog.with_features(id, features) {
            None => {}
            Some(Ok(next)) => self.live.replace(next),
            Some(Err(e)) => tracing::error!(layer = id, error = %e, "cannot rebuild the layer"),
        }
    }
}

/// The editor's answer when the view does not hand out layer `id`.
fn refused(r: Refusal, id: &str) -> EditError {
    match r {
        Refusal::NotFound => EditError::NotFound(format!("collection \"{id}\" not found")),
        Refusal::ReadOnly => EditError::ReadOnly(id.to_string()),
        Refusal::SignInRequired(verb) => EditError::SignInRequired(verb),
        Refusal::Forbidden(verb) => EditError::Forbidden {
            what: verb,
            layer: id.to_string(),
        },
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
fn current_feature<'a>(layer: &'a Editable, fid: &str) -> Result<(i64, &'a Feature), EditError> {
    layer.current(fid).ok_or_else(|| {
        EditError::NotFound(format!(
            "feature \"{fid}\" not found in collection \"{}\"",
            layer.id()
        ))
    })
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
