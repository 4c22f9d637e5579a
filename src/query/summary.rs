//! Counts of one layer's features per feature of another: damage reports per flood-depth rank,
//! per district, per road route. Each counted feature is placed by a point (its own, or an
//! interior point of a line or area) and falls in every area feature that contains it, or,
//! for line and point layers, to the nearest feature within a distance.

use std::collections::BTreeMap;

use geo::{Geometry, InteriorPoint, Intersects, Point, Rect};

use crate::access::{LayerView, VisibleAttr};
use crate::model::Value;

use super::nearest::{Place, nearest};

/// How counted features are grouped.
pub struct SummaryOf<'a> {
    /// The layer whose features are counted, and which of them.
    pub counted: &'a LayerView,
    pub selected: &'a [usize],
    /// The layer they are counted by.
    pub by: &'a LayerView,
    /// Group `by`'s features by this attribute's value (e.g. 浸水深ランク, 路線名); `None`
    /// counts per feature.
    pub group: Option<VisibleAttr>,
    /// For line and point `by` layers: farthest a counted feature may be from its feature.
    pub within_m: f64,
    /// Also count each group's features by this attribute of the counted layer (e.g. 種別).
    pub split: Option<VisibleAttr>,
}

/// One group of the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group attribute's value, or the feature id.
    pub key: Value,
    pub count: usize,
    /// Counts per value of the split attribute, by value text.
    pub split: BTreeMap<String, usize>,
}

/// The counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Features counted.
    pub total: usize,
    /// Of those, ones in no group.
    pub outside: usize,
    /// Most counted first, then by key.
    pub groups: Vec<Group>,
}

/// A point standing for a feature: the point itself, else an interior point.
fn anchor(g: &Geometry<f64>) -> Option<Point<f64>> {
    match g {
        Geometry::Point(p) => Some(*p),
        other => other.interior_point(),
    }
}

fn is_area(g: &Geometry<f64>) -> bool {
    matches!(
        g,
        Geometry::Polygon(_)
            | Geometry::MultiPolygon(_)
            | Geometry::Rect(_)
            | Geometry::Triangle(_)
    )
}

/// Counts `s.selected` features of `s.counted` per feature (or group) of `s.by`.
pub fn summarize(s: &SummaryOf) -> Summary {
    let areas = !s.by.is_empty() && (0..s.by.len()).all(|i| is_area(s.by.geometry(i)));
    let mut groups: Vec<Group> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut outside = 0;
    for &i in s.selected {
        let hits: Vec<usize> = match anchor(s.counted.geometry(i)) {
            None => Vec::new(),
            Some(p) if areas => {
                let r = Rect::new(p.0, p.0);
                s.by.intersecting(&r)
                    .into_iter()
                    // A point on an area's boundary belongs to it, as in the location report.
                    .filter(|&j| s.by.geometry(j).intersects(&p))
                    .collect()
            }
            Some(p) => nearest(
                s.by,
                Place {
                    lon: p.x(),
                    lat: p.y(),
                },
                1,
                Some(s.within_m),
            )
            .into_iter()
            .map(|n| n.index)
            .collect(),
        };
        // A feature in two areas of one group (two parts of one rank) counts once there.
        let mut keys: Vec<Value> = hits
            .iter()
            .map(|&j| match s.group {
                Some(a) => s.by.value(j, a).clone(),
                None => match s.by.feature_id(j) {
                    crate::model::FeatureId::Int(n) => Value::Int(*n),
                    crate::model::FeatureId::Str(t) => Value::Str(t.clone()),
                },
            })
            .collect();
        keys.dedup();
        let mut seen: Vec<String> = Vec::new();
        for key in keys {
            let k = format!("{key:?}");
            if seen.contains(&k) {
                continue;
            }
            seen.push(k.clone());
            let at = *index.entry(k).or_insert_with(|| {
                groups.push(Group {
                    key,
                    count: 0,
                    split: BTreeMap::new(),
                });
                groups.len() - 1
            });
            let g = &mut groups[at];
            g.count += 1;
            if let Some(a) = s.split {
                *g.split.entry(s.counted.value(i, a).text()).or_insert(0) += 1;
            }
        }
        if seen.is_empty() {
            outside += 1;
        }
    }
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| format!("{:?}", a.key).cmp(&format!("{:?}", b.key)))
    });
    Summary {
        total: s.selected.len(),
        outside,
        groups,
    }
}
