//! The layer catalog: one TOML file in the data folder that lists every layer.
//!
//! Read with `deny_unknown_fields` everywhere so a typo is an error, not a silently ignored
//! setting, and validated as a whole before anything is loaded. The file is read into the
//! private `RawCatalog` (each layer's origin still three optional tables), checked by
//! `validate`, and only then turned into a `CatalogConfig`.
//!
//! - `server`: `[server]` and `[server.security]`.
//! - `layer`: `[[layer]]` and what it holds: origin, source file, edit and view settings,
//!   attributes.
//! - `reports`: the location report (`[[location]]`) and resident reports (`[reports]`).
//! - `validate`: the checks of a whole catalog and the wording of TOML errors.

mod layer;
mod reports;
mod server;
mod tiles;
mod validate;

pub use layer::{
    AttributeConfig, AutoValue, DEFAULT_MAX_LENGTH, EditConfig, LayerConfig, MAX_PHOTOS, Origin,
    SourceConfig, SourceFormat, TargetConfig, ViewConfig, WorkflowConfig,
};
pub use reports::{LocationSection, MAX_LOCATION_LIMIT, MatchRule, ReportsConfig};
pub use server::{EXTENT_MARGIN, MAX_HEADER_BYTES, MAX_URI_BYTES, SecurityConfig, ServerConfig};
pub use tiles::{TileAttributes, TileConfig};
pub use validate::is_valid_layer_id;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::policy::Audience;
use validate::describe_toml_error;

/// Name of the catalog file inside the data folder.
pub const CATALOG_FILE: &str = "catalog.toml";

/// A catalog problem, always naming the file and, where it applies, the layer.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {}{message}", layer.as_ref().map(|l| format!("layer \"{l}\": ")).unwrap_or_default())]
pub struct ConfigError {
    pub file: PathBuf,
    pub layer: Option<String>,
    pub message: String,
}

/// The whole catalog file, validated.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    pub server: ServerConfig,
    pub layers: Vec<LayerConfig>,
    /// The sections of the location report (`GET /location`: "what is at this place?"), in
    /// the order they are shown.
    pub location: Vec<LocationSection>,
    /// Resident reports from the public map; absent when the town takes none.
    pub reports: Option<ReportsConfig>,
}

/// The catalog as the file gives it, checked by `validate` before it becomes a
/// `CatalogConfig`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    server: ServerConfig,
    #[serde(rename = "layer", default)]
    layers: Vec<RawLayer>,
    #[serde(rename = "location", default)]
    location: Vec<LocationSection>,
    reports: Option<ReportsConfig>,
}

/// A `[[layer]]` table as written, with its origin still three optional tables: `validate`
/// checks it before `into_layer` settles the origin.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    id: String,
    title_ja: String,
    title_en: String,
    department: String,
    #[serde(default)]
    description: String,
    source: Option<SourceConfig>,
    edit: Option<EditConfig>,
    view: Option<ViewConfig>,
    crs: Option<String>,
    id_field: Option<String>,
    audience: Audience,
    license: String,
    updated: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(rename = "attribute", default)]
    attributes: Vec<AttributeConfig>,
    #[serde(default)]
    search: Vec<String>,
    #[serde(default)]
    tiles: TileConfig,
}

impl RawLayer {
    /// The layer with its one origin; only for a layer `validate` passed.
    fn into_layer(self) -> LayerConfig {
        let origin = match (self.source, self.edit, self.view) {
            (Some(s), None, None) => Origin::File(s),
            (None, Some(e), None) => Origin::EditStore(e),
            (None, None, Some(v)) => Origin::View(v),
            _ => unreachable!("validate passes only a layer with exactly one origin"),
        };
        LayerConfig {
            id: self.id,
            title_ja: self.title_ja,
            title_en: self.title_en,
            department: self.department,
            description: self.description,
            origin,
            crs: self.crs,
            id_field: self.id_field,
            audience: self.audience,
            license: self.license,
            updated: self.updated,
            keywords: self.keywords,
            attributes: self.attributes,
            search: self.search,
            tiles: self.tiles,
        }
    }
}

impl CatalogConfig {
    /// Reads and validates `catalog.toml` in `dir`.
    pub fn load(dir: &Path) -> Result<CatalogConfig, ConfigError> {
        let file = dir.join(CATALOG_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| ConfigError {
            file: file.clone(),
            layer: None,
            message: format!("cannot read the catalog: {e}"),
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and validates catalog text; `file` is only used in error messages.
    pub fn parse(text: &str, file: &Path) -> Result<CatalogConfig, ConfigError> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            layer: None,
            message: describe_toml_error(text, &e),
        })?;
        raw.validate(file)?;
        Ok(CatalogConfig {
            server: raw.server,
            layers: raw.layers.into_iter().map(RawLayer::into_layer).collect(),
            location: raw.location,
            reports: raw.reports,
        })
    }
}

#[cfg(test)]
mod tests;
