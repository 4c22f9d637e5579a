//! Vector tiles (OGC API – Tiles, WebMercatorQuad, Mapbox Vector Tile 2.1) built on request
//! from a caller's view: `grid` numbers the tiles, `clip` turns a feature into tile geometry,
//! `build` chooses the layers, attributes and features of one tile, and `cache` keeps built
//! tiles for callers who see the same content until an edit touches them.

pub mod build;
pub mod cache;
pub mod clip;
pub mod grid;

pub use build::{DETAIL_ZOOM, ID_PROPERTY, LayerPlan, OutOfZoom, TileSet};
pub use cache::{EncodedTile, TileCache};
pub use grid::{MAX_ZOOM, TileId, TileIdError};
