//! Feature queries: parsed and validated from the query string at the edge, then executed
//! against a `LayerView`. Attribute names resolve only through the view, so a hidden attribute
//! is exactly as unknown as one that never existed.

pub mod cql2;

use geo::Rect;

use crate::access::{LayerView, VisibleAttr};
use crate::config::ServerConfig;
use crate::layer::Value;

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
    for (k, v) in pairs {
        match k.as_str() {
            "f" => format = parse_format(v)?,
            other => return Err(bad(other, "unknown query parameter")),
        }
    }
    Ok(format)
}

/// A validated `/items` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    /// One rectangle, or two when the box crosses the antimeridian.
    pub bbox: Option<Vec<Rect<f64>>>,
    /// Equality filters: (attribute, value).
    pub filters: Vec<(VisibleAttr, Value)>,
    /// Attributes to output; `None` is every visible attribute.
    pub properties: Option<Vec<VisibleAttr>>,
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
            filters: Vec::new(),
            properties: None,
            limit: server.default_limit,
            offset: 0,
            format: preferred,
        };
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in pairs {
            if seen.contains(&k.as_str()) {
                return Err(bad(k, "given more than once"));
            }
            seen.push(k);
            match k.as_str() {
                "bbox" => q.bbox = Some(parse_bbox(v)?),
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
        Ok(q)
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

/// `bbox`: `minLon,minLat,maxLon,maxLat` or with heights (6 numbers), in CRS84.
pub fn parse_bbox(v: &str) -> Result<Vec<Rect<f64>>, QueryError> {
    let nums: Vec<f64> = v
        .split(',')
        .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            bad(
                "bbox",
                format!("expected 4 or 6 comma-separated numbers, got \"{v}\""),
            )
        })?;
    let (x1, y1, x2, y2) = match nums.as_slice() {
        [a, b, c, d] => (*a, *b, *c, *d),
        [a, b, _, d, e, _] => (*a, *b, *d, *e),
        _ => {
            return Err(bad(
                "bbox",
                format!(
                    "expected 4 or 6 comma-separated numbers, got {} in \"{v}\"",
                    nums.len()
                ),
            ));
        }
    };
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
        // West edge east of the east edge: the box crosses the antimeridian.
        Ok(vec![
            Rect::new((x1, y1), (180.0, y2)),
            Rect::new((-180.0, y1), (x2, y2)),
        ])
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
    let instant = |s: &str| {
        s == ".."
            || s.is_empty()
            || chrono::DateTime::parse_from_rfc3339(s).is_ok()
            || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
    };
    let ok = match v.split_once('/') {
        Some((a, b)) => {
            instant(a) && instant(b) && !(matches!(a, ".." | "") && matches!(b, ".." | ""))
        }
        None => v != ".." && !v.is_empty() && instant(v),
    };
    if ok {
        Ok(())
    } else {
        Err(bad(
            "datetime",
            format!(
                "expected an RFC 3339 date-time, a date, or an interval \"start/end\" (\"..\" for open), got \"{v}\""
            ),
        ))
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Every feature matching the query, over all pages.
    pub matched: usize,
    /// Indices of this page's features, in layer order.
    pub indices: Vec<usize>,
}

/// Runs the query. Results are in layer order, so `offset` paging is exact and stable over an
/// immutable layer.
pub fn execute(layer: &LayerView, q: &ItemsQuery) -> Page {
    let matches = |i: &usize| q.filters.iter().all(|(a, v)| layer.value(*i, *a) == v);
    let candidates: Box<dyn Iterator<Item = usize>> = match &q.bbox {
        None => Box::new(0..layer.len()),
        Some(rects) if rects.len() == 1 => Box::new(layer.intersecting(&rects[0]).into_iter()),
        Some(rects) => {
            let mut all: Vec<usize> = rects.iter().flat_map(|r| layer.intersecting(r)).collect();
            all.sort_unstable();
            all.dedup();
            Box::new(all.into_iter())
        }
    };
    if q.filters.is_empty() && q.bbox.is_none() {
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
    for i in candidates.filter(matches) {
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
    }
}
