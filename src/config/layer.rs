//! One `[[layer]]`: where its features come from (a file, the edit store or another layer)
//! and the attributes it serves.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::TileConfig;
use crate::model::{AttrType, GeometryKind};
use crate::policy::Audience;

/// One layer as the catalog declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerConfig {
    /// URL id: lowercase ASCII letters, digits, `-` and `_`.
    pub id: String,
    pub title_ja: String,
    pub title_en: String,
    /// Owning department, e.g. 都市計画課.
    pub department: String,
    pub description: String,
    /// Where the features come from: a file, the edit store or another layer.
    pub origin: Origin,
    /// Source CRS such as `EPSG:6677`; when absent it is taken from the file (`.prj`, GeoJSON
    /// `crs` member, FlatGeobuf header), and GeoJSON/CSV without one are CRS84 / JGD2011.
    pub crs: Option<String>,
    /// Attribute holding the feature id; when absent ids are 1-based positions in the file.
    pub id_field: Option<String>,
    /// Who may see the layer: `"public"`, `"internal"` or a list of roles.
    pub audience: Audience,
    pub license: String,
    /// Last update of the source data, `YYYY-MM-DD`.
    pub updated: String,
    /// Keywords for the collection metadata.
    pub keywords: Vec<String>,
    /// Attribute schema: only these attributes are served; everything else in the file is dropped.
    pub attributes: Vec<AttributeConfig>,
    /// Text attributes `GET /search` looks in, e.g. `["名称", "名称_カナ"]`. Each caller
    /// searches only those it may see. Default: none (the layer is not searched).
    pub search: Vec<String>,
    /// How the layer is drawn in vector tiles (`[layer.tiles]`).
    pub tiles: TileConfig,
}

/// Where a layer's features come from: the catalog gives exactly one of `[layer.source]`,
/// `[layer.edit]` and `[layer.view]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Read from a file.
    File(SourceConfig),
    /// Editable: the features live in the edit store.
    EditStore(EditConfig),
    /// A published part of another layer.
    View(ViewConfig),
}

impl LayerConfig {
    /// The file the layer is read from, when it is.
    pub fn source(&self) -> Option<&SourceConfig> {
        match &self.origin {
            Origin::File(s) => Some(s),
            _ => None,
        }
    }
    /// How the layer is edited, when it is editable.
    pub fn edit(&self) -> Option<&EditConfig> {
        match &self.origin {
            Origin::EditStore(e) => Some(e),
            _ => None,
        }
    }
    /// The layer this one shows part of, when it is a view.
    pub fn view(&self) -> Option<&ViewConfig> {
        match &self.origin {
            Origin::View(v) => Some(v),
            _ => None,
        }
    }
}

/// An editable layer (`[layer.edit]`): stored in the edit store, changed through OGC API –
/// Features Part 4.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditConfig {
    /// The one geometry type the layer holds.
    pub geometry: GeometryKind,
    /// Who may create features (`POST`); each of these must see the layer.
    pub create: Audience,
    /// Who may change features (`PUT`, `PATCH`) and approve photos.
    pub update: Audience,
    /// Who may delete features; an admin can restore them.
    pub delete: Audience,
    /// Most photos one feature may carry. Default 0 (no photos).
    #[serde(default)]
    pub photos: usize,
    /// A status attribute whose value may only move along the given transitions.
    pub workflow: Option<WorkflowConfig>,
    /// Records about features of other layers (inspections of a valve, repairs of a road).
    pub target: Option<TargetConfig>,
}

/// A status workflow (`[layer.edit.workflow]`), e.g. 受付 → 対応中 → 完了 / 対象外.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowConfig {
    /// The status attribute (a string attribute with codes).
    pub attribute: String,
    /// The status every new feature starts with.
    pub initial: String,
    /// For each status, the statuses it may move to. Statuses not listed are final.
    pub transitions: std::collections::BTreeMap<String, Vec<String>>,
}

impl WorkflowConfig {
    /// Whether the status may move from `from` to `to` (staying is always allowed).
    pub fn allows(&self, from: &str, to: &str) -> bool {
        from == to
            || self
                .transitions
                .get(from)
                .is_some_and(|next| next.iter().any(|n| n == to))
    }
}

/// What an editable layer's records are about (`[layer.edit.target]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The string attribute naming the target's layer id.
    pub layer_attribute: String,
    /// The string attribute holding the target feature's id.
    pub id_attribute: String,
    /// The layers records may be about.
    pub layers: Vec<String>,
}

/// A view layer (`view = { … }`): the features of another layer that meet a condition, with
/// only the attributes the view declares. Photos are shown only where staff approved them.
/// Rebuilt whenever the other layer changes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewConfig {
    /// The layer shown.
    pub of: String,
    /// Only features whose `where_attribute` is one of `where_in`.
    pub where_attribute: Option<String>,
    #[serde(default)]
    pub where_in: Vec<String>,
}

/// Where a layer's features come from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Path relative to the data folder.
    pub path: PathBuf,
    /// Format; when absent it follows the file extension.
    pub format: Option<SourceFormat>,
    /// Text encoding of CSV or DBF (`utf-8`, `shift_jis`, `cp932`, …). When absent: CSV is
    /// detected (UTF-8 if valid, else Shift_JIS), DBF follows its `.cpg`, else Shift_JIS.
    pub encoding: Option<String>,
    /// CSV column holding easting/longitude; detected from `経度`/`lon`/`longitude` when absent.
    pub x_column: Option<String>,
    /// CSV column holding northing/latitude; detected from `緯度`/`lat`/`latitude` when absent.
    pub y_column: Option<String>,
}

/// Source file formats the loaders understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Geojson,
    Flatgeobuf,
    Csv,
    Shapefile,
}

impl SourceFormat {
    /// The format a file extension implies.
    pub fn from_path(path: &Path) -> Option<SourceFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "geojson" | "json" => Some(SourceFormat::Geojson),
            "fgb" => Some(SourceFormat::Flatgeobuf),
            "csv" => Some(SourceFormat::Csv),
            "shp" => Some(SourceFormat::Shapefile),
            _ => None,
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Geojson => "geojson",
            SourceFormat::Flatgeobuf => "flatgeobuf",
            SourceFormat::Csv => "csv",
            SourceFormat::Shapefile => "shapefile",
        })
    }
}

/// One declared attribute.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeConfig {
    /// Name in the source file and in the API (Japanese names are fine).
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttrType,
    pub label_ja: String,
    #[serde(default)]
    pub label_en: String,
    /// Narrower audience than the layer's, e.g. a name column on an otherwise public layer.
    pub audience: Option<Audience>,
    /// The allowed values of a string attribute (a code list such as 種別). Listed in the
    /// queryables; an edit with another value is refused.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Editable layers: an edit must give a value.
    #[serde(default)]
    pub required: bool,
    /// Editable layers: longest text, in characters. Default `DEFAULT_MAX_LENGTH`.
    pub max_length: Option<usize>,
    /// Editable layers: the server sets the value; clients may not.
    pub auto: Option<AutoValue>,
}

/// Values the server fills in on editable layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoValue {
    /// The date the feature was created (a date attribute).
    CreatedDate,
    /// The date of the latest change (a date attribute).
    UpdatedDate,
    /// The staff user who created it, `-` for a resident (a string attribute).
    CreatedBy,
    /// The staff user who made the latest change (a string attribute).
    UpdatedBy,
}

/// Longest text of an editable string attribute without `max_length`.
pub const DEFAULT_MAX_LENGTH: usize = 2000;

/// Most photos an editable layer may allow per feature.
pub const MAX_PHOTOS: usize = 10;
