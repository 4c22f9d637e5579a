//! Durable edits of editable layers: the store contract (`store`), its GeoPackage backend
//! (`gpkg`) and photo checking (`photo`).

pub mod store;
