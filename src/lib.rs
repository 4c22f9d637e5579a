//! machimap (まちマップ): every department's layers in one server, served through
//! OGC API – Features.
//!
//! Data flows one way: `source` reads files, `crs` reprojects them to CRS84, `layer` indexes
//! them, `catalog` holds them all, `access::View` is what one principal may see, `query`
//! answers requests against a view, `encode` writes the answers and `http` is the thin axum
//! front. Nothing below `http` imports axum. `store` is the embedded SQLite file that
//! holds staff users (`auth`) and the append-only `audit` log.

pub mod access;
pub mod audit;
pub mod auth;
pub mod config;
pub mod crs;
pub mod edit;
pub mod edit_store;
pub mod encode;
pub mod geometry;
pub mod http;
pub mod model;
pub mod policy;
pub mod query;
pub mod source;
pub mod store;
pub mod text;
pub mod view_id;
