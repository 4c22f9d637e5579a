//! The location report: "what is at this place?" — for each `[[location]]` section of the
//! catalog whose layer the caller may see, the features that contain the place or lie nearest
//! to it, with the section's attributes that the caller may see.

use geo::Rect;

use super::nearest::{self, Place, PlaceParams};
use super::{Format, QueryError, bad, once, parse_format};
use crate::access::{LayerView, View, VisibleAttr};
use crate::config::{LocationSection, MatchRule};

/// A validated `/location` request.
#[derive(Debug, Clone, PartialEq)]
pub struct LocationQuery {
    pub place: Place,
    pub format: Format,
}

impl LocationQuery {
    /// Parses `lon`, `lat` and `f`; anything else is an unknown parameter.
    pub fn parse(
        pairs: &[(String, String)],
        preferred: Format,
    ) -> Result<LocationQuery, QueryError> {
        let mut place = PlaceParams::default();
        let mut format = preferred;
        let mut seen = Vec::new();
        for (k, v) in pairs {
            once(&mut seen, k)?;
            if place.take(k, v)? {
                continue;
            }
            match k.as_str() {
                "f" => format = parse_format(v)?,
                other => return Err(bad(other, "unknown query parameter")),
            }
        }
        Ok(LocationQuery {
            place: place.finish()?,
            format,
        })
    }
}

/// One feature of a section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Index of the feature in the layer.
    pub index: usize,
    /// Metres from the place, for `nearest` sections.
    pub distance_m: Option<f64>,
}

/// One section of the report as the caller sees it.
pub struct SectionReport<'a> {
    pub section: &'a LocationSection,
    pub layer: LayerView,
    /// The section's attributes the caller may see, in the section's order.
    pub attrs: Vec<VisibleAttr>,
    pub hits: Vec<Hit>,
}

impl SectionReport<'_> {
    /// The heading in Japanese: the section's own, else the layer's title.
    pub fn title_ja(&self) -> &str {
        self.section
            .title_ja
            .as_deref()
            .unwrap_or(self.layer.meta().title_ja())
    }

    /// The heading in English: the section's own, else the layer's title.
    pub fn title_en(&self) -> &str {
        self.section
            .title_en
            .as_deref()
            .unwrap_or(self.layer.meta().title_en())
    }
}

/// The report for `place` over every section whose layer `view` shows. A place outside every
/// layer gives every section with no hits.
pub fn report(view: &View, place: Place) -> Vec<SectionReport<'_>> {
    view.location_sections()
        .map(|(section, layer)| {
            let attrs = section
                .attributes
                .iter()
                .filter_map(|name| layer.attribute(name).map(|(a, _)| a))
                .collect();
            let limit = section.max_results();
            let hits = match section.rule {
                MatchRule::Contains => {
                    let here = Rect::new((place.lon, place.lat), (place.lon, place.lat));
                    layer
                        .intersecting(&here)
                        .into_iter()
                        .take(limit)
                        .map(|index| Hit {
                            index,
                            distance_m: None,
                        })
                        .collect()
                }
                MatchRule::Nearest => nearest::nearest(&layer, place, limit, section.within_m)
                    .into_iter()
                    .map(|n| Hit {
                        index: n.index,
                        distance_m: Some(n.distance_m),
                    })
                    .collect(),
            };
            SectionReport {
                section,
                layer,
                attrs,
                hits,
            }
        })
        .collect()
}
