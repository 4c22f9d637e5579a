//! Writers for query answers: GeoJSON (streamed), CSV, Mapbox Vector Tiles, and plain HTML
//! pages for people.

pub mod csv;
pub mod geojson;
pub mod html;
pub mod location;
pub mod mvt;

use serde::Serialize;

/// A link as OGC API documents write it.
#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub href: String,
    pub rel: &'static str,
    #[serde(rename = "type")]
    pub media_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl Link {
    pub fn new(href: impl Into<String>, rel: &'static str, media_type: &'static str) -> Link {
        Link {
            href: href.into(),
            rel,
            media_type,
            title: None,
        }
    }

    pub fn titled(mut self, title: impl Into<String>) -> Link {
        self.title = Some(title.into());
        self
    }
}

/// Media types used in responses.
pub mod media {
    pub const JSON: &str = "application/json";
    pub const GEOJSON: &str = "application/geo+json";
    pub const HTML: &str = "text/html";
    pub const OPENAPI: &str = "application/vnd.oai.openapi+json;version=3.0";
    pub const SCHEMA: &str = "application/schema+json";
}
