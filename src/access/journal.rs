//! Where the catalog changed: each swap (an edit, a reload) adds the areas of the features it
//! changed, per layer, under a new generation number. A cache of answers built from an older
//! catalog asks the journal whether anything it shows changed where it looks, so an edit
//! invalidates exactly the tiles its old or new geometry touches and no others.

use std::collections::HashMap;
use std::sync::Arc;

use geo::{BoundingRect, Intersects, Rect};

use super::layer::Layer;
use crate::model::{Feature, FeatureId};

/// Changes kept; a cached answer older than the oldest is rebuilt.
const KEPT: usize = 4096;

/// Areas of one layer's change kept apart; beyond this they are merged into one rectangle
/// (a reload that moved many features invalidates their common extent).
const AREAS: usize = 256;

/// What changed in a layer.
#[derive(Debug, Clone, PartialEq)]
enum Dirty {
    /// The features in these areas (old and new geometry).
    Areas(Vec<Rect<f64>>),
    /// The layer as a whole: it came, went, or its settings changed.
    Everything,
}

#[derive(Debug, Clone)]
struct Change {
    generation: u64,
    layer: String,
    dirty: Dirty,
}

/// The changes between catalog generations.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    generation: u64,
    /// Every change with a generation above this is in `changes`.
    floor: u64,
    changes: Vec<Change>,
}

impl Journal {
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The journal of the next generation, whose layers are `new` where they were `old`.
    pub(super) fn next(&self, old: &[Arc<Layer>], new: &[Arc<Layer>]) -> Journal {
        let generation = self.generation + 1;
        let mut changes = self.changes.clone();
        let find =
            |layers: &[Arc<Layer>], id: &str| layers.iter().find(|l| l.meta.id == id).cloned();
        let mut ids: Vec<&str> = old.iter().map(|l| l.meta.id.as_str()).collect();
        for l in new {
            if !ids.contains(&l.meta.id.as_str()) {
                ids.push(&l.meta.id);
            }
        }
        for id in ids {
            let dirty = match (find(old, id), find(new, id)) {
                (Some(a), Some(b)) if Arc::ptr_eq(&a, &b) => continue,
                (Some(a), Some(b)) if a.meta == b.meta => match changed_areas(&a, &b) {
                    Some(areas) => Dirty::Areas(areas),
                    None => continue,
                },
                _ => Dirty::Everything,
            };
            changes.push(Change {
                generation,
                layer: id.to_string(),
                dirty,
            });
        }
        let mut floor = self.floor;
        if changes.len() > KEPT {
            let cut = changes.len() - KEPT;
            floor = changes[cut - 1].generation;
            // Keep whole generations: drop every change of the last one cut.
            changes.retain(|c| c.generation > floor);
        }
        Journal {
            generation,
            floor,
            changes,
        }
    }

    /// Whether no layer in `layers` changed inside `area` after generation `since` (up to
    /// this journal's generation). `false` when the journal no longer reaches back that far.
    pub fn unchanged_since<'a>(
        &self,
        since: u64,
        layers: impl Iterator<Item = &'a str> + Clone,
        area: &Rect<f64>,
    ) -> bool {
        if since < self.floor || since > self.generation {
            return false;
        }
        !self
            .changes
            .iter()
            .filter(|c| c.generation > since)
            .filter(|c| layers.clone().any(|l| l == c.layer))
            .any(|c| match &c.dirty {
                Dirty::Everything => true,
                Dirty::Areas(areas) => areas.iter().any(|r| r.intersects(area)),
            })
    }
}

/// The extents of the features that differ between two builds of one layer (old and new
/// geometry of each), or `None` when none does.
fn changed_areas(old: &Layer, new: &Layer) -> Option<Vec<Rect<f64>>> {
    let before: HashMap<&FeatureId, &Feature> = old.features.iter().map(|f| (&f.id, f)).collect();
    let mut seen = 0usize;
    let mut areas = Vec::new();
    for f in &new.features {
        match before.get(&f.id) {
            Some(&o) => {
                seen += 1;
                if o != f {
                    areas.extend(o.geometry.bounding_rect());
                    areas.extend(f.geometry.bounding_rect());
                }
            }
            None => areas.extend(f.geometry.bounding_rect()),
        }
    }
    if seen < old.features.len() {
        let now: std::collections::HashSet<&FeatureId> =
            new.features.iter().map(|f| &f.id).collect();
        for f in &old.features {
            if !now.contains(&f.id) {
                areas.extend(f.geometry.bounding_rect());
            }
        }
    }
    if areas.is_empty() {
        return None;
    }
    if areas.len() > AREAS {
        let mut all = areas[0];
        for r in &areas[1..] {
            all = Rect::new(
                geo::Coord {
                    x: all.min().x.min(r.min().x),
                    y: all.min().y.min(r.min().y),
                },
                geo::Coord {
                    x: all.max().x.max(r.max().x),
                    y: all.max().y.max(r.max().y),
                },
            );
        }
        areas = vec![all];
    }
    Some(areas)
}
