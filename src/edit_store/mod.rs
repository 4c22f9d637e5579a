//! The contract between the editor and the database that keeps edits. The GeoPackage backend
//! (`gpkg`) is the first; a PostgreSQL/PostGIS backend for several server replicas is planned,
//! so nothing here names SQLite, and every guarantee the editor relies on is stated on the
//! trait: each `commit` is atomic and durable before it returns, versions are checked inside
//! the same transaction as the write, and the change log is totally ordered by `seq`.

use geo::Geometry;
use serde_json::Value as Json;

pub mod gpkg;

use crate::config::LayerConfig;
use crate::model::{AttrType, Feature, FeatureId, GeometryKind, PastState, Value};

/// The table of one editable layer: its columns in schema order.
#[derive(Debug, Clone)]
pub struct TableSpec {
    /// The layer id; also the table name.
    pub layer: String,
    /// Titles, for the store's own metadata (the GeoPackage `gpkg_contents` row).
    pub title: String,
    pub description: String,
    pub geometry: GeometryKind,
    /// Attribute names and types, in schema order.
    pub columns: Vec<(String, AttrType)>,
}

/// A feature as the store holds it: CRS84 geometry and properties in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFeature {
    /// The store's feature id; never reused within a layer, also after a delete.
    pub fid: i64,
    /// 1 when created, +1 on every change (the ETag).
    pub version: i64,
    pub geometry: Geometry<f64>,
    pub properties: Vec<Value>,
    /// RFC 3339 UTC timestamps and the users who made the first and the last change.
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

/// A photo ready to be stored: already checked and stripped of metadata (`edit::photo`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPhoto {
    /// `image/jpeg` or `image/png`.
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// What a stored photo is, without its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoMeta {
    /// 1-based position among the feature's photos; stable (a later photo gets the next one).
    pub n: i64,
    pub media_type: String,
    pub size: i64,
    pub width: u32,
    pub height: u32,
    /// Whether staff approved it for the public view.
    pub public: bool,
    pub created_at: String,
}

/// One change to apply.
#[derive(Debug, Clone)]
pub struct Change {
    pub layer: String,
    pub op: Op,
    /// Who: a staff user name, or `-` for a resident.
    pub actor: String,
    /// The client address, for the history.
    pub client: String,
    /// A client's `Idempotency-Key`: a second commit of the same request under the same key
    /// by the same actor on the same layer changes nothing and returns the first commit's
    /// result with `replayed` set.
    pub idempotency: Option<Idempotency>,
}

/// A client's `Idempotency-Key` with a digest of the request it came with. Keys belong to
/// the actor who sent them: one caller's key never replays another caller's commit, and a
/// key sent again with another request is refused (`StoreError::KeyReused`), never replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    /// SHA-256 of what the request asked for (see `Idempotency::new`).
    pub fingerprint: [u8; 32],
}

impl Idempotency {
    /// The key with the digest of `parts` (each length-prefixed, so no two lists of parts
    /// hash alike): the method, the target and the request's content.
    pub fn new(key: String, parts: &[&[u8]]) -> Idempotency {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in parts {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        Idempotency {
            key,
            fingerprint: h.finalize().into(),
        }
    }
}

/// The kinds of change.
#[derive(Debug, Clone)]
pub enum Op {
    /// A new feature, with its photos and, for a resident's report, the hash of its receipt code.
    Create {
        geometry: Geometry<f64>,
        properties: Vec<Value>,
        photos: Vec<NewPhoto>,
        receipt_hash: Option<[u8; 32]>,
    },
    /// A new state of an existing feature, if it is still at `expected_version`.
    Replace {
        fid: i64,
        expected_version: i64,
        geometry: Geometry<f64>,
        properties: Vec<Value>,
    },
    /// Removes a feature, if it is still at `expected_version`. Its last state stays in the
    /// history, and its photos and receipt stay, so an admin can restore it.
    Delete { fid: i64, expected_version: i64 },
    /// Brings back a deleted feature with its last state, under its old fid.
    Restore { fid: i64 },
    /// Adds photos to an existing feature (a version step, like any change).
    AddPhotos {
        fid: i64,
        expected_version: Option<i64>,
        photos: Vec<NewPhoto>,
    },
    /// Approves a photo for the public view, or withdraws it, if the feature is still at
    /// `expected_version`.
    SetPhotoPublic {
        fid: i64,
        n: i64,
        public: bool,
        expected_version: i64,
    },
}

impl Op {
    /// The name the history and the change log use.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Create { .. } => "create",
            Op::Replace { .. } => "update",
            Op::Delete { .. } => "delete",
            Op::Restore { .. } => "restore",
            Op::AddPhotos { .. } => "photos",
            Op::SetPhotoPublic { .. } => "photo-public",
        }
    }
}

/// The result of a commit.
#[derive(Debug, Clone)]
pub struct Committed {
    /// Position in the change log.
    pub seq: i64,
    pub fid: i64,
    /// The feature after the change; `None` after a delete.
    pub feature: Option<StoredFeature>,
    /// The commit had been made before under the same idempotency key; nothing changed now.
    pub replayed: bool,
}

/// One entry of the change log, in `seq` order.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub seq: i64,
    pub layer: String,
    pub fid: i64,
    /// `Op::name` of the change.
    pub op: String,
    pub actor: String,
    pub client: String,
    /// RFC 3339 UTC.
    pub at: String,
    /// The feature before and after, as GeoJSON Features (properties by attribute name);
    /// `None` where there is no feature (before a create, after a delete).
    pub before: Option<Json>,
    pub after: Option<Json>,
}

/// Why the store refused or failed a change.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("feature {fid} of \"{layer}\" does not exist")]
    NoFeature { layer: String, fid: i64 },
    #[error(
        "feature {fid} has changed (now version {current}, the edit was made on version {expected})"
    )]
    VersionMismatch {
        fid: i64,
        expected: i64,
        current: i64,
    },
    #[error("feature {fid} of \"{layer}\" has no deleted state to restore")]
    NothingToRestore { layer: String, fid: i64 },
    #[error("feature {fid} has no photo {n}")]
    NoPhoto { fid: i64, n: i64 },
    #[error("the Idempotency-Key was used before with another request; send a new key")]
    KeyReused,
    #[error(
        "{location}: the edit store's table for \"{layer}\" does not match the catalog: {message}"
    )]
    Mismatch {
        location: String,
        layer: String,
        message: String,
    },
    #[error("{location}: {message}")]
    Backend { location: String, message: String },
}

/// A durable, transactional store of editable layers.
pub trait EditStore: Send + Sync {
    /// Where the store lives, for messages (`var/edits.gpkg`).
    fn location(&self) -> String;

    /// Creates the layer's table, or checks an existing one against `spec` (adding columns the
    /// catalog has gained; refusing a column whose type changed).
    fn prepare(&self, spec: &TableSpec) -> Result<(), StoreError>;

    /// Every current feature of a layer, ascending fid.
    fn features(&self, layer: &str) -> Result<Vec<StoredFeature>, StoreError>;

    /// Applies one change in one transaction and returns only once it is durable. Version
    /// checks happen inside the transaction, so two writers can never both succeed on one
    /// version. Every successful change appends one `LogEntry`.
    fn commit(&self, change: &Change) -> Result<Committed, StoreError>;

    /// The change log after `seq` (exclusive), oldest first, at most `limit` entries.
    fn log_since(&self, seq: i64, limit: usize) -> Result<Vec<LogEntry>, StoreError>;

    /// The change log of one feature, oldest first.
    fn history(&self, layer: &str, fid: i64) -> Result<Vec<LogEntry>, StoreError>;

    /// The delete entries of features of `layer` that are still deleted, newest first.
    fn deleted(&self, layer: &str) -> Result<Vec<LogEntry>, StoreError>;

    /// The feature as it was right after change `seq` of the log (`None` where it did not
    /// exist then): what a live subscriber who had read up to `seq` could have seen of it.
    fn state_at(&self, layer: &str, fid: i64, seq: i64) -> Result<Option<PastState>, StoreError>;

    /// The secret key of view feature ids (`view_id`), made when the store was created and
    /// kept with it, so a view's ids stay the same across restarts.
    fn view_id_key(&self) -> Result<[u8; 32], StoreError>;

    /// The last `seq` of the change log (0 when empty).
    fn last_seq(&self) -> Result<i64, StoreError>;

    /// The photos of a feature (also of a deleted one), by `n`.
    fn photos(&self, layer: &str, fid: i64) -> Result<Vec<PhotoMeta>, StoreError>;

    /// A photo's media type and bytes.
    fn photo(&self, layer: &str, fid: i64, n: i64)
    -> Result<Option<(String, Vec<u8>)>, StoreError>;

    /// The feature a receipt code hash was given for, if it still exists.
    fn by_receipt(&self, layer: &str, receipt_hash: &[u8; 32]) -> Result<Option<i64>, StoreError>;
}

impl TableSpec {
    /// The table an editable layer needs in the edit store; `None` for other layers.
    pub fn of(cfg: &LayerConfig) -> Option<TableSpec> {
        let edit = cfg.edit()?;
        Some(TableSpec {
            layer: cfg.id.clone(),
            title: cfg.title_ja.clone(),
            description: cfg.description.clone(),
            geometry: edit.geometry,
            columns: cfg
                .attributes
                .iter()
                .map(|a| (a.name.clone(), a.kind))
                .collect(),
        })
    }
}

/// An editable layer's feature as the index holds it.
impl From<StoredFeature> for Feature {
    fn from(stored: StoredFeature) -> Feature {
        Feature {
            id: FeatureId::Int(stored.fid),
            geometry: stored.geometry,
            properties: stored.properties,
            version: stored.version,
        }
    }
}
