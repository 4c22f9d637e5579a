//! `[layer.tiles]`: how a layer is drawn in vector tiles.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The zooms a layer is in tiles at, whether low zooms may leave features out, and which
/// attributes the tiles of each zoom carry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TileConfig {
    /// Lowest zoom (tile matrix) whose tiles hold the layer. Default 0.
    pub minzoom: u8,
    /// Highest zoom whose tiles hold the layer; maps draw deeper zooms from it. Default 24.
    pub maxzoom: u8,
    /// Never leave a feature out at low zooms (shelters, hazard zones): see the low-zoom
    /// rule in `tiles::build`. Default false.
    pub keep: bool,
    /// The attributes tiles carry from a zoom on, e.g. `{ "0" = ["名称"], "15" = ["*"] }`:
    /// a zoom takes the list of the highest key at or below it (none below the lowest key);
    /// `"*"` is every attribute. The caller's view still decides: a hidden attribute is in no
    /// one's tiles. Default: every attribute at every zoom.
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl Default for TileConfig {
    fn default() -> Self {
        TileConfig {
            minzoom: 0,
            maxzoom: 24,
            keep: false,
            attributes: BTreeMap::new(),
        }
    }
}

/// Which of a layer's attributes tiles at one zoom carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TileAttributes<'a> {
    All,
    Only(&'a [String]),
}

impl TileAttributes<'_> {
    pub fn includes(&self, name: &str) -> bool {
        match self {
            TileAttributes::All => true,
            TileAttributes::Only(names) => names.iter().any(|n| n == name || n == "*"),
        }
    }
}

impl TileConfig {
    /// Whether tiles of zoom `z` hold the layer.
    pub fn covers(&self, z: u8) -> bool {
        (self.minzoom..=self.maxzoom).contains(&z)
    }

    /// The attributes of zoom `z` (keys were checked to be zooms by `check`).
    pub fn attributes_at(&self, z: u8) -> TileAttributes<'_> {
        if self.attributes.is_empty() {
            return TileAttributes::All;
        }
        let best = self
            .attributes
            .iter()
            .filter_map(|(k, v)| k.parse::<u8>().ok().map(|k| (k, v)))
            .filter(|(k, _)| *k <= z)
            .max_by_key(|(k, _)| *k);
        match best {
            Some((_, names)) => TileAttributes::Only(names),
            None => TileAttributes::Only(&[]),
        }
    }

    /// Checks the settings against the layer's attribute names.
    pub(super) fn check(&self, names: &[&str]) -> Result<(), String> {
        if self.maxzoom > 24 || self.minzoom > self.maxzoom {
            return Err(format!(
                "tiles: minzoom ({}) and maxzoom ({}) must satisfy 0 <= minzoom <= maxzoom <= 24",
                self.minzoom, self.maxzoom
            ));
        }
        for (zoom, list) in &self.attributes {
            if !zoom.parse::<u8>().is_ok_and(|z| z <= 24) || zoom.starts_with('+') {
                return Err(format!(
                    "tiles.attributes: key \"{zoom}\" is not a zoom from 0 to 24"
                ));
            }
            for name in list {
                if name != "*" && !names.contains(&name.as_str()) {
                    return Err(format!(
                        "tiles.attributes.\"{zoom}\": \"{name}\" is not a declared attribute"
                    ));
                }
            }
        }
        Ok(())
    }
}
