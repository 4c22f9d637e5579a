//! The location report as a JSON document.

use serde_json::{Value as Json, json};

use super::Link;
use crate::query::location::SectionReport;
use crate::query::nearest::Place;

/// Metres rounded to the centimetre.
pub fn metres(d: f64) -> f64 {
    (d * 100.0).round() / 100.0
}

/// The report: the place, then one entry per section with its hits, each hit with its feature
/// id, its fields (name, Japanese and English label, value) and, for `nearest` sections, the
/// distance in metres.
pub fn report_json(place: Place, sections: &[SectionReport<'_>], links: &[Link]) -> Json {
    let sections: Vec<Json> = sections
        .iter()
        .map(|s| {
            let results: Vec<Json> = s
                .hits
                .iter()
                .map(|h| {
                    let fields: Vec<Json> = s
                        .attrs
                        .iter()
                        .map(|&a| {
                            let attr = s.layer.schema(a);
                            json!({
                                "name": attr.name,
                                "label_ja": attr.label_ja,
                                "label_en": attr.label_en,
                                "value": s.layer.value(h.index, a).to_json(),
                            })
                        })
                        .collect();
                    let mut r = json!({
                        "id": match s.layer.feature_id(h.index) {
                            crate::model::FeatureId::Int(i) => json!(i),
                            crate::model::FeatureId::Str(t) => json!(t),
                        },
                        "fields": fields,
                    });
                    if let Some(d) = h.distance_m {
                        r["distance_m"] = json!(metres(d));
                    }
                    r
                })
                .collect();
            let mut doc = json!({
                "collection": s.layer.id(),
                "title_ja": s.title_ja(),
                "title_en": s.title_en(),
                "match": s.section.rule.as_str(),
            });
            if let Some(m) = s.section.within_m {
                doc["within_m"] = json!(m);
            }
            doc["results"] = json!(results);
            doc
        })
        .collect();
    json!({
        "type": "LocationReport",
        "lon": place.lon,
        "lat": place.lat,
        "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "links": links,
        "sections": sections,
    })
}
