//! Parsing and validation of request parameters: the query strings of metadata, single-feature
//! and `/items` requests, turned into a `Format` or a validated `ItemsQuery` bound to a
//! `LayerView`, so execution never sees a name the caller may not use.

use crate::access::{LayerView, VisibleAttr};
use crate::config::ServerConfig;
use crate::crs::RequestCrs;
use crate::model::Value;

use super::area::{Area, parse_bbox_in};
use super::{QueryError, bad, cql2};

/// Refuses a parameter given twice.
pub(super) fn once<'a>(seen: &mut Vec<&'a str>, k: &'a str) -> Result<(), QueryError> {
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

    /// The attributes to write: the requested properties, else all visible ones.
    pub fn output_attrs<'a>(&'a self, layer: &'a LayerView) -> &'a [VisibleAttr] {
        self.properties.as_deref().unwrap_or(layer.visible())
    }
}

/// `limit`: 1 or more; above the maximum it is clamped (the standard says not to fail).
pub(super) fn parse_limit(v: &str, max: usize) -> Result<usize, QueryError> {
    match v.parse::<usize>() {
        Ok(0) => Err(bad("limit", "must be at least 1")),
        Ok(n) => Ok(n.min(max)),
        Err(_) => Err(bad(
            "limit",
            format!("expected a positive integer, got \"{v}\""),
        )),
    }
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

pub(super) fn parse_properties(v: &str, layer: &LayerView) -> Result<Vec<VisibleAttr>, QueryError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
