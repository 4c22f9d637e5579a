//! Feature queries: parsed and validated from the query string at the edge, then executed
//! against a `LayerView`. Attribute names resolve only through the view, so a hidden attribute
//! is exactly as unknown as one that never existed.
//!
//! `params` parses and validates the parameters, `area` turns a `bbox` into the area it
//! selects and searches the R-tree for it, `items` executes an `ItemsQuery`; their public
//! names are re-exported here.

mod area;
pub mod cql2;
mod items;
pub mod location;
pub mod nearest;
mod params;
pub mod search;
pub mod summary;

pub use area::{Area, parse_bbox, parse_bbox_in};
pub use items::{Page, execute};
pub use params::{
    Format, ItemsQuery, SortKey, parse_format, parse_item_params, parse_metadata_params,
};
use params::{once, parse_limit, parse_properties};

/// A request that cannot be answered as asked, naming the parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct QueryError {
    pub param: String,
    pub message: String,
}

impl QueryError {
    pub fn new(param: &str, message: impl Into<String>) -> QueryError {
        QueryError {
            param: param.to_string(),
            message: message.into(),
        }
    }
}

fn bad(param: &str, message: impl Into<String>) -> QueryError {
    QueryError::new(param, message)
}
