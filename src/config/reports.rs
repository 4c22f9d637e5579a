//! The catalog's report settings: the sections of the location report (`[[location]]`) and
//! resident reports (`[reports]`).

use serde::Deserialize;

/// One section of the location report (`[[location]]`): what one layer says about a place.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSection {
    /// Id of the layer the section reads.
    pub layer: String,
    /// How features are picked: those containing the place, or the nearest ones.
    #[serde(rename = "match")]
    pub rule: MatchRule,
    /// Heading in Japanese; default the layer's `title_ja`.
    pub title_ja: Option<String>,
    /// Heading in English; default the layer's `title_en`.
    pub title_en: Option<String>,
    /// Most features listed. Default: 1 for `nearest`, every containing feature for `contains`.
    pub limit: Option<usize>,
    /// `nearest` only: farthest a feature may be, in metres (e.g. the road a lot fronts).
    /// Default: no limit.
    pub within_m: Option<f64>,
    /// Attributes shown, in this order; ones the caller may not see are left out.
    pub attributes: Vec<String>,
}

/// How a location-report section picks features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchRule {
    /// Features whose geometry contains (or touches) the place.
    Contains,
    /// The nearest features, by distance on the ellipsoid.
    Nearest,
}

impl MatchRule {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchRule::Contains => "contains",
            MatchRule::Nearest => "nearest",
        }
    }
}

impl LocationSection {
    /// Most features the section lists.
    pub fn max_results(&self) -> usize {
        match (self.limit, self.rule) {
            (Some(n), _) => n,
            (None, MatchRule::Nearest) => 1,
            (None, MatchRule::Contains) => usize::MAX,
        }
    }
}

/// Most features one location-report section may list.
pub const MAX_LOCATION_LIMIT: usize = 100;

/// Resident reports (`[reports]`): `POST /reports` from the public map creates a feature of an
/// editable layer with a category, a description, a point and photos, and gives the resident
/// a receipt code to follow its status.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsConfig {
    /// The editable point layer reports go to; its workflow gives the status.
    pub layer: String,
    /// The category attribute (a string attribute with codes).
    pub category: String,
    /// The free-text description attribute.
    pub description: String,
}
