//! machimap (まちマップ): every department's layers in one server, served through
//! OGC API – Features.
//!
//! Data flows one way, and `tests/architecture.rs` holds the code to it (see
//! docs/architecture.md): the shared vocabulary (`policy`, `model`, `geometry`, `text`,
//! `view_id`) at the bottom; `config`; `source` reads files and the `edit_store` keeps edited
//! features, `crs` reprojects them to CRS84; `access` holds the catalog of indexed layers and
//! hands out `View`s, the catalog as one principal may see it and the only way to features;
//! `query` answers requests against a view, `encode` writes the answers, `edit` is the one
//! writer, and `http` is the thin front, the only module that speaks HTTP. `store` is the
//! embedded SQLite file that holds staff users (`auth`) and the append-only `audit` log.

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
pub mod tiles;
pub mod view_id;
