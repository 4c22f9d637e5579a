//! Execution of an `ItemsQuery`: the one predicate that decides whether a feature is selected,
//! the R-tree preselection, `sortby` order and `offset`/`limit` paging.

use std::cmp::Ordering;

use geo::Geometry;

use crate::access::LayerView;
use crate::model::Value;

use super::area::{Area, candidates};
use super::{ItemsQuery, cql2};

/// Orders two values of one attribute. Nulls come last in either direction, so a
/// descending sort starts with real values (what people reading a table expect).
fn compare_values(a: &Value, b: &Value, descending: bool) -> Ordering {
    let ord = match (a, b) {
        (Value::Null, Value::Null) => return Ordering::Equal,
        (Value::Null, _) => return Ordering::Greater,
        (_, Value::Null) => return Ordering::Less,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        (Value::Int(x), Value::Float(y)) => (*x as f64).total_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.total_cmp(&(*y as f64)),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        // One attribute holds one type; order mixed ones by kind to stay total.
        (x, y) => kind_rank(x).cmp(&kind_rank(y)),
    };
    if descending { ord.reverse() } else { ord }
}

fn kind_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Float(_) => 2,
        Value::Str(_) => 3,
        Value::Date(_) => 4,
    }
}

impl ItemsQuery {
    /// Whether feature `i` meets the query's bbox and filters (one feature, no index: for
    /// deciding whether a change concerns a live subscriber).
    pub fn selects(&self, layer: &LayerView, i: usize) -> bool {
        self.matches(layer, i, Area::meets)
    }

    /// The item predicate, for `selects` and `execute` alike: the equality filters, the CQL2
    /// filter, and the bbox as `in_area` tests it (`Area::meets` for a feature on its own,
    /// `Area::meets_candidate` for one the R-tree found by the bbox's rects).
    fn matches(
        &self,
        layer: &LayerView,
        i: usize,
        in_area: fn(&Area, &Geometry<f64>) -> bool,
    ) -> bool {
        self.filters.iter().all(|(a, v)| layer.value(i, *a) == v)
            && self.filter.as_ref().is_none_or(|f| f.matches(layer, i))
            && self
                .bbox
                .as_ref()
                .is_none_or(|b| in_area(b, layer.geometry(i)))
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Every feature matching the query, over all pages.
    pub matched: usize,
    /// Indices of this page's features, in answer order.
    pub indices: Vec<usize>,
}

/// Runs the query. Results are in layer order, or in `sortby` order with layer order breaking
/// ties, so `offset` paging is exact and stable over an immutable layer.
pub fn execute(layer: &LayerView, q: &ItemsQuery) -> Page {
    // The R-tree narrows the candidates by the bbox, else by the area a spatial filter
    // confines matches to.
    let rects = match &q.bbox {
        Some(area) => Some(area.rects.clone()),
        None => q.filter.as_ref().and_then(cql2::Filter::envelope),
    };
    let candidates = candidates(layer, rects);
    // With a bbox the candidates were found by its rects: only its exact outline is left.
    let selects = |i: &usize| q.matches(layer, *i, Area::meets_candidate);
    let unfiltered = q.filters.is_empty() && q.bbox.is_none() && q.filter.is_none();
    if !q.sortby.is_empty() {
        let mut all: Vec<usize> = if unfiltered {
            (0..layer.len()).collect()
        } else {
            candidates.filter(selects).collect()
        };
        // Layer order breaks ties, so the order is total: pages never overlap or skip, and
        // only the features up to the end of the page need sorting.
        let order = |&a: &usize, &b: &usize| {
            q.sortby
                .iter()
                .map(|k| {
                    compare_values(layer.value(a, k.attr), layer.value(b, k.attr), k.descending)
                })
                .find(|o| o.is_ne())
                .unwrap_or_else(|| a.cmp(&b))
        };
        let matched = all.len();
        let end = q.offset.saturating_add(q.limit).min(matched);
        if end < matched {
            all.select_nth_unstable_by(end, order);
            all.truncate(end);
        }
        all.sort_unstable_by(order);
        let start = q.offset.min(all.len());
        return Page {
            matched,
            indices: all.split_off(start),
        };
    }
    if unfiltered {
        let n = layer.len();
        let start = q.offset.min(n);
        let end = start.saturating_add(q.limit).min(n);
        return Page {
            matched: n,
            indices: (start..end).collect(),
        };
    }
    let mut matched = 0;
    let mut indices = Vec::new();
    for i in candidates.filter(selects) {
        if matched >= q.offset && indices.len() < q.limit {
            indices.push(i);
        }
        matched += 1;
    }
    Page { matched, indices }
}
