//! Feature queries: parsed and validated from the query string at the edge, then executed
//! against a `LayerView`. Attribute names resolve only through the view, so a hidden attribute
//! is exactly as unknown as one that never existed.

pub mod cql2;
pub mod location;
pub mod nearest;
pub mod search;
pub mod summary;

use std::cmp::Ordering;

use geo::{Coord, Intersects, LineString, Polygon, Rect};

use crate::access::{LayerView, VisibleAttr};
use crate::config::ServerConfig;
use crate::crs::RequestCrs;
use crate::model::Value;

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

/// Refuses a parameter given twice.
fn once<'a>(seen: &mut Vec<&'a str>, k: &'a str) -> Result<(), QueryError> {
    if seen.contains(&k) {
        return Err(bad(k, "given more than once"));
    }
    seen.push(k);
    Ok(())
}

/// Output format asked for with `f`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

/// Parses `f`; only the formats the server writes are accepted.
pub fn parse_format(value: &str) -> Result<Format, QueryError> {
    match value {
        "json" | "geojson" | "application/json" | "application/geo+json" => Ok(Format::Json),
        "html" | "text/html" => Ok(Format::Html),
        other => Err(bad(
            "f",
            format!("unsupported format \"{other}\"; use json or html"),
        )),
    }
}

/// Checks a metadata request's parameters: only `f` is allowed. Without `f` the format is
/// `preferred` (from the Accept header).
pub fn parse_metadata_params(
    pairs: &[(String, String)],
    preferred: Format,
) -> Result<Format, QueryError> {
    let mut format = preferred;
    let mut seen = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "f" => {
                once(&mut seen, k)?;
                format = parse_format(v)?
            }
            other => return Err(bad(other, "unknown query parameter")),
        }
    }
    Ok(format)
}

/// The area a `bbox` selects, in CRS84.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    /// One rectangle, or two when the box crosses the antimeridian. For a box given in a
    /// projected `bbox-crs` this is the envelope of `exact`.
    pub rects: Vec<Rect<f64>>,
    /// A box given in a projected CRS is not a rectangle in longitude and latitude: its
    /// outline, densified, is tested exactly.
    pub exact: Option<Polygon<f64>>,
}

impl Area {
    fn of_rects(rects: Vec<Rect<f64>>) -> Area {
        Area { rects, exact: None }
    }
}

/// One `sortby` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub attr: VisibleAttr,
    pub descending: bool,
}

/// Checks a single-feature request's parameters: `f` and `crs`.
pub fn parse_item_params(
    pairs: &[(String, String)],
    preferred: Format,
) -> Result<(Format, RequestCrs), QueryError> {
    let mut format = preferred;
    let mut crs = RequestCrs::CRS84;
    for (k, v) in pairs {
        match k.as_str() {
            "f" => format = parse_format(v)?,
            "crs" => crs = RequestCrs::parse(v).map_err(|e| bad("crs", e))?,
            other => return Err(bad(other, "unknown query parameter")),
        }
    }
    Ok((format, crs))
}

/// A validated `/items` request.
#[derive(Debug, Clone)]
pub struct ItemsQuery {
    pub bbox: Option<Area>,
    /// The CQL2 `filter`, bound to the layer view.
    pub filter: Option<cql2::Filter>,
    /// Equality filters: (attribute, value).
    pub filters: Vec<(VisibleAttr, Value)>,
    /// Attributes to output; `None` is every visible attribute.
    pub properties: Option<Vec<VisibleAttr>>,
    /// Sort keys, most significant first; empty is layer order.
    pub sortby: Vec<SortKey>,
    /// The CRS of the output geometries (`crs`).
    pub crs: RequestCrs,
    pub limit: usize,
    pub offset: usize,
    pub format: Format,
}

impl ItemsQuery {
    /// Parses decoded query pairs for `layer`. Unknown parameters are errors, as the OGC
    /// conformance tests expect; attribute names are equality filters. Without `f` the format
    /// is `preferred` (from the Accept header).
    pub fn parse(
        pairs: &[(String, String)],
        layer: &LayerView,
        server: &ServerConfig,
        preferred: Format,
    ) -> Result<ItemsQuery, QueryError> {
        let mut q = ItemsQuery {
            bbox: None,
            filter: None,
            filters: Vec::new(),
            properties: None,
            sortby: Vec::new(),
            crs: RequestCrs::CRS84,
            limit: server.default_limit,
            offset: 0,
            format: preferred,
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut bbox = None;
        let mut bbox_crs = RequestCrs::CRS84;
        let mut filter = None;
        let mut filter_lang = cql2::Lang::Text;
        let mut filter_crs = RequestCrs::CRS84;
        for (k, v) in pairs {
            once(&mut seen, k)?;
            match k.as_str() {
                "bbox" => bbox = Some(v),
                "bbox-crs" => bbox_crs = RequestCrs::parse(v).map_err(|e| bad("bbox-crs", e))?,
                "crs" => q.crs = RequestCrs::parse(v).map_err(|e| bad("crs", e))?,
                "sortby" => q.sortby = parse_sortby(v, layer)?,
                "filter" => filter = Some(v),
                "filter-lang" => {
                    filter_lang = match v.as_str() {
                        "cql2-text" => cql2::Lang::Text,
                        "cql2-json" => cql2::Lang::Json,
                        other => {
                            return Err(bad(
                                "filter-lang",
                                format!(
                                    "unsupported language \"{other}\"; use cql2-text or cql2-json"
                                ),
                            ));
                        }
                    }
                }
                "filter-crs" => {
                    filter_crs = RequestCrs::parse(v).map_err(|e| bad("filter-crs", e))?
                }
                "limit" => q.limit = parse_limit(v, server.max_limit)?,
                "offset" => {
                    q.offset = v.parse().map_err(|_| {
                        bad(
                            "offset",
                            format!("expected a non-negative integer, got \"{v}\""),
                        )
                    })?
                }
                "properties" => q.properties = Some(parse_properties(v, layer)?),
                "datetime" => parse_datetime(v)?,
                "f" => q.format = parse_format(v)?,
                name => match layer.attribute(name) {
                    Some((i, attr)) => {
                        let value = Value::parse(v, attr.kind).map_err(|e| bad(name, e))?;
                        q.filters.push((i, value));
                    }
                    None => return Err(bad(name, "unknown query parameter")),
                },
            }
        }
        if let Some(v) = bbox {
            q.bbox = Some(parse_bbox_in(v, bbox_crs)?);
        }
        if let Some(text) = filter {
            let expr = cql2::parse(text, filter_lang).map_err(|e| bad("filter", e.to_string()))?;
            let to_crs84 =
                |g: geo::Geometry<f64>| filter_crs.geometry_to_crs84(&g).map_err(|e| e.to_string());
            q.filter = Some(
                cql2::Filter::bind(&expr, layer, &to_crs84)
                    .map_err(|e| bad("filter", e.to_string()))?,
            );
        }
        Ok(q)
    }

    /// Whether feature `i` meets the query's bbox and filters (one feature, no index: for
    /// deciding whether a change concerns a live subscriber).
    pub fn selects(&self, layer: &LayerView, i: usize) -> bool {
        let g = layer.geometry(i);
        self.filters.iter().all(|(a, v)| layer.value(i, *a) == v)
            && self.filter.as_ref().is_none_or(|f| f.matches(layer, i))
            && self.bbox.as_ref().is_none_or(|b| match &b.exact {
                Some(p) => g.intersects(p),
                None => b.rects.iter().any(|r| g.intersects(r)),
            })
    }

    /// The attributes to write: the requested properties, else all visible ones.
    pub fn output_attrs<'a>(&'a self, layer: &'a LayerView) -> &'a [VisibleAttr] {
        self.properties.as_deref().unwrap_or(layer.visible())
    }
}

/// `limit`: 1 or more; above the maximum it is clamped (the standard says not to fail).
fn parse_limit(v: &str, max: usize) -> Result<usize, QueryError> {
    match v.parse::<usize>() {
        Ok(0) => Err(bad("limit", "must be at least 1")),
        Ok(n) => Ok(n.min(max)),
        Err(_) => Err(bad(
            "limit",
            format!("expected a positive integer, got \"{v}\""),
        )),
    }
}

/// The numbers of a `bbox`, all finite.
fn bbox_numbers(v: &str) -> Result<Vec<f64>, QueryError> {
    v.split(',')
        .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| {
            bad(
                "bbox",
                format!("expected 4 or 6 comma-separated numbers, got \"{v}\""),
            )
        })
}

/// `bbox`: `minLon,minLat,maxLon,maxLat` or with heights (6 numbers), in CRS84.
pub fn parse_bbox(v: &str) -> Result<Vec<Rect<f64>>, QueryError> {
    let [lo, hi] = bbox_corners(v)?;
    lonlat_rects(lo, hi)
}

/// The lower and upper corner of a `bbox` (4 numbers, or 6 with heights, which are dropped),
/// each as (first axis, second axis) of its CRS.
fn bbox_corners(v: &str) -> Result<[Coord<f64>; 2], QueryError> {
    let nums = bbox_numbers(v)?;
    let c = |x: f64, y: f64| Coord { x, y };
    match nums.as_slice() {
        [a, b, d, e] | [a, b, _, d, e, _] => Ok([c(*a, *b), c(*d, *e)]),
        _ => wrong_count(v, nums.len()),
    }
}

/// The CRS84 rectangles of a box from its south-west to its north-east corner: two when the
/// west edge lies east of the east edge, as the box then crosses the antimeridian.
fn lonlat_rects(sw: Coord<f64>, ne: Coord<f64>) -> Result<Vec<Rect<f64>>, QueryError> {
    let ((x1, y1), (x2, y2)) = ((sw.x, sw.y), (ne.x, ne.y));
    if !(-180.0..=180.0).contains(&x1) || !(-180.0..=180.0).contains(&x2) {
        return Err(bad("bbox", "longitudes must be within -180..180"));
    }
    if !(-90.0..=90.0).contains(&y1) || !(-90.0..=90.0).contains(&y2) {
        return Err(bad("bbox", "latitudes must be within -90..90"));
    }
    if y1 > y2 {
        return Err(bad(
            "bbox",
            "the lower latitude is greater than the upper latitude",
        ));
    }
    if x1 <= x2 {
        Ok(vec![Rect::new((x1, y1), (x2, y2))])
    } else {
        Ok(vec![
            Rect::new((x1, y1), (180.0, y2)),
            Rect::new((-180.0, y1), (x2, y2)),
        ])
    }
}

/// `bbox` in `crs` (`bbox-crs`), in the CRS's axis order: lower corner then upper corner.
pub fn parse_bbox_in(v: &str, crs: RequestCrs) -> Result<Area, QueryError> {
    if crs.is_crs84() {
        return parse_bbox(v).map(Area::of_rects);
    }
    let [lo, hi] = bbox_corners(v)?;
    let to84 = |x: f64, y: f64| {
        crs.to_crs84(Coord { x, y }).map_err(|_| {
            bad(
                "bbox",
                format!("({x}, {y}) is outside the area of {}", crs.uri()),
            )
        })
    };
    if crs.is_geographic() {
        // Latitude-first geographic CRSs hold the same numbers as CRS84, axes swapped.
        return lonlat_rects(to84(lo.x, lo.y)?, to84(hi.x, hi.y)?).map(Area::of_rects);
    }
    if lo.x > hi.x || lo.y > hi.y {
        return Err(bad(
            "bbox",
            format!(
                "the lower corner ({}, {}) must not exceed the upper corner ({}, {}) in {}",
                lo.x,
                lo.y,
                hi.x,
                hi.y,
                crs.uri()
            ),
        ));
    }
    // A projected box: its outline, densified so the curved edges in degrees are followed
    // to well under a centimetre at municipal scale.
    const STEPS: usize = 32;
    let corners = [
        (lo.x, lo.y),
        (hi.x, lo.y),
        (hi.x, hi.y),
        (lo.x, hi.y),
        (lo.x, lo.y),
    ];
    let mut ring = Vec::with_capacity(4 * STEPS + 1);
    for w in corners.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        for s in 0..STEPS {
            let t = s as f64 / STEPS as f64;
            ring.push(to84(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)?);
        }
    }
    ring.push(ring[0]);
    let (mut min, mut max) = (ring[0], ring[0]);
    for c in &ring {
        min = Coord {
            x: min.x.min(c.x),
            y: min.y.min(c.y),
        };
        max = Coord {
            x: max.x.max(c.x),
            y: max.y.max(c.y),
        };
    }
    Ok(Area {
        rects: vec![Rect::new(min, max)],
        exact: Some(Polygon::new(LineString::new(ring), vec![])),
    })
}

fn wrong_count<T>(v: &str, n: usize) -> Result<T, QueryError> {
    Err(bad(
        "bbox",
        format!("expected 4 or 6 comma-separated numbers, got {n} in \"{v}\""),
    ))
}

/// `sortby`: comma-separated attributes, each optionally prefixed with `+` (ascending, the
/// default) or `-` (descending).
fn parse_sortby(v: &str, layer: &LayerView) -> Result<Vec<SortKey>, QueryError> {
    let mut keys: Vec<SortKey> = Vec::new();
    for part in v.split(',').map(str::trim) {
        // A `+` in a query string decodes to a space; a leading space is an ascending key.
        let (descending, name) = match part.strip_prefix('-') {
            Some(n) => (true, n.trim()),
            None => (false, part.strip_prefix('+').unwrap_or(part).trim()),
        };
        if name.is_empty() {
            return Err(bad("sortby", format!("empty sort key in \"{v}\"")));
        }
        let (attr, _) = layer
            .attribute(name)
            .ok_or_else(|| bad("sortby", format!("unknown property \"{name}\"")))?;
        if keys.iter().any(|k| k.attr == attr) {
            return Err(bad("sortby", format!("\"{name}\" is given more than once")));
        }
        keys.push(SortKey { attr, descending });
    }
    Ok(keys)
}

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

fn parse_properties(v: &str, layer: &LayerView) -> Result<Vec<VisibleAttr>, QueryError> {
    if v.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for name in v.split(',').map(str::trim) {
        let (i, _) = layer
            .attribute(name)
            .ok_or_else(|| bad("properties", format!("unknown property \"{name}\"")))?;
        if !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

/// `datetime` is validated (an RFC 3339 instant or date, or an interval with `..` for an open
/// end). No layer declares a temporal property yet, so a valid value selects every feature,
/// as the standard allows for collections without temporal information.
fn parse_datetime(v: &str) -> Result<(), QueryError> {
    use chrono::{DateTime, Days, NaiveDate, Utc};
    // The first and last instant a bound stands for (a date is the whole day, UTC); `None`
    // for an open end, `Err` for what is neither.
    type Span = (DateTime<Utc>, DateTime<Utc>);
    let bound = |s: &str| -> Result<Option<Span>, ()> {
        if s == ".." || s.is_empty() {
            return Ok(None);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            let t = t.with_timezone(&Utc);
            return Ok(Some((t, t)));
        }
        let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| ())?;
        let first = d.and_hms_opt(0, 0, 0).ok_or(())?.and_utc();
        let last = d
            .checked_add_days(Days::new(1))
            .and_then(|n| n.and_hms_opt(0, 0, 0))
            .map_or(first, |n| n.and_utc() - chrono::TimeDelta::nanoseconds(1));
        Ok(Some((first, last)))
    };
    let malformed = || {
        bad(
            "datetime",
            format!(
                "expected an RFC 3339 date-time, a date, or an interval \"start/end\" (\"..\" for open), got \"{v}\""
            ),
        )
    };
    match v.split_once('/') {
        Some((a, b)) => match (bound(a), bound(b)) {
            (Ok(None), Ok(None)) | (Err(()), _) | (_, Err(())) => Err(malformed()),
            (Ok(Some((start, _))), Ok(Some((_, end)))) if end < start => Err(bad(
                "datetime",
                format!("the interval \"{v}\" ends before it starts"),
            )),
            _ => Ok(()),
        },
        None => match bound(v) {
            Ok(Some(_)) => Ok(()),
            _ => Err(malformed()),
        },
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
    let selects = |i: &usize| {
        q.filters.iter().all(|(a, v)| layer.value(*i, *a) == v)
            && q.filter.as_ref().is_none_or(|f| f.matches(layer, *i))
            && q.bbox
                .as_ref()
                .and_then(|b| b.exact.as_ref())
                .is_none_or(|p| layer.geometry(*i).intersects(p))
    };
    // The R-tree narrows the candidates by the bbox, else by the area a spatial filter
    // confines matches to.
    let rects = match &q.bbox {
        Some(area) => Some(area.rects.clone()),
        None => q.filter.as_ref().and_then(cql2::Filter::envelope),
    };
    let candidates: Box<dyn Iterator<Item = usize>> = match rects {
        None => Box::new(0..layer.len()),
        Some(rects) if rects.len() == 1 => Box::new(layer.intersecting(&rects[0]).into_iter()),
        Some(rects) => {
            let mut all: Vec<usize> = rects.iter().flat_map(|r| layer.intersecting(r)).collect();
            all.sort_unstable();
            all.dedup();
            Box::new(all.into_iter())
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_forms() {
        assert_eq!(parse_bbox("139,35,140,36").expect("ok").len(), 1);
        assert_eq!(
            parse_bbox("139,35,0,140,36,100").expect("ok")[0].max().x,
            140.0
        );
        assert_eq!(parse_bbox("170,-10,-170,10").expect("ok").len(), 2);
        let e = parse_bbox("1,2,x,4").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bbox: expected 4 or 6 comma-separated numbers, got \"1,2,x,4\""
        );
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("0,50,1,40").is_err());
        assert!(parse_bbox("0,0,1,91").is_err());
    }

    #[test]
    fn limit_rules() {
        assert_eq!(parse_limit("20", 100), Ok(20));
        assert_eq!(parse_limit("5000", 100), Ok(100));
        assert!(parse_limit("0", 100).is_err());
        assert!(parse_limit("unlimited", 100).is_err());
        assert!(parse_limit("-1", 100).is_err());
    }

    #[test]
    fn datetime_forms() {
        assert!(parse_datetime("2024-04-01").is_ok());
        assert!(parse_datetime("2024-04-01T00:00:00Z/..").is_ok());
        assert!(parse_datetime("../2024-04-01").is_ok());
        assert!(parse_datetime("../..").is_err());
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2024-04-01/2024-04-01").is_ok());
        assert!(parse_datetime("2024-04-01/2024-04-01T12:00:00+09:00").is_ok());
        assert!(parse_datetime("2024-04-02/2024-04-01").is_err());
        assert!(parse_datetime("2024-04-01T10:00:00Z/2024-04-01T09:59:59Z").is_err());
    }
}
