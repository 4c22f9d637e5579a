//! The server on the bundled sample town, in process, for tests that only read it anonymously.

use std::sync::OnceLock;

use super::Response;
use super::town::Town;

/// The layers of the sample town that an anonymous caller sees.
pub const PUBLIC_LAYERS: [&str; 6] = [
    "zoning",
    "roads",
    "flood-zones",
    "landslide-zones",
    "shelters",
    "hiking-courses",
];

/// The sample town, built once per test binary, without the public rate limit (the tests send
/// thousands of requests from one "client").
pub fn town() -> &'static Town {
    static TOWN: OnceLock<Town> = OnceLock::new();
    TOWN.get_or_init(|| Town::builder().build())
}

/// An anonymous GET of `uri` (path and query) from the sample server.
pub async fn get(uri: &str) -> Response {
    town().get(uri, &[]).await
}

/// An anonymous GET that must answer 200, as JSON.
pub async fn get_json(uri: &str) -> serde_json::Value {
    town().get_json(uri, None).await
}
