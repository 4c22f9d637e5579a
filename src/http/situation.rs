//! The disaster office's picture of the situation: counts of a collection's features per
//! feature of another layer (`/summary`), and everything that matches a query as one GeoJSON
//! or CSV file to take into a spreadsheet or a report (`/export`).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::Path;
use super::features::{audit_read, visible_layer};
use super::{ApiError, AppState, CurrentView, QueryPairs};
use crate::access::{LayerView, VisibleAttr};
use crate::encode::geojson::{write_collection_head, write_feature_in, write_value};
use crate::encode::media;
use crate::query::summary::{SummaryOf, summarize};
use crate::query::{Format, ItemsQuery, QueryError, execute};

/// Default reach of a line or point layer in `/summary`, metres.
const DEFAULT_WITHIN_M: f64 = 30.0;

/// Removes parameter `name` from `pairs` and returns its value; given twice is an error.
fn take(pairs: &mut Vec<(String, String)>, name: &str) -> Result<Option<String>, QueryError> {
    let mut found = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone());
    let first = found.next();
    if found.next().is_some() {
        return Err(QueryError::new(name, "given more than once"));
    }
    pairs.retain(|(k, _)| k != name);
    Ok(first)
}

/// Every feature matching the items parameters in `pairs` (no paging).
fn select_all(
    layer: &crate::access::LayerView,
    pairs: &[(String, String)],
    server: &crate::config::ServerConfig,
) -> Result<(ItemsQuery, Vec<usize>), ApiError> {
    for (k, _) in pairs {
        if matches!(k.as_str(), "limit" | "offset") {
            return Err(QueryError::new(
                k,
                "does not apply here: every matching feature is included",
            )
            .into());
        }
    }
    let mut q = ItemsQuery::parse(pairs, layer, server, Format::Json)?;
    q.limit = usize::MAX;
    q.offset = 0;
    let page = execute(layer, &q);
    Ok((q, page.indices))
}

/// `GET /collections/{id}/summary?by=…[&group=…][&split=…][&within=…]` plus any items
/// parameters (bbox, filter, attribute=value) choosing what is counted.
pub async fn summary(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    Path(id): Path<String>,
    QueryPairs { mut pairs, .. }: QueryPairs,
) -> Result<Response, ApiError> {
    let layer = visible_layer(&view, &id)?;
    let by_id = take(&mut pairs, "by")?.ok_or_else(|| {
        ApiError::from(QueryError::new(
            "by",
            "name the layer to count by, e.g. by=flood-zones",
        ))
    })?;
    let group = take(&mut pairs, "group")?;
    let split = take(&mut pairs, "split")?;
    let within = match take(&mut pairs, "within")? {
        None => DEFAULT_WITHIN_M,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|m| m.is_finite() && *m > 0.0 && *m <= 10_000.0)
            .ok_or_else(|| {
                ApiError::from(QueryError::new(
                    "within",
                    format!("expected metres between 0 and 10000, got \"{v}\""),
                ))
            })?,
    };
    // A hidden layer or attribute is refused exactly like one that does not exist.
    let by = view.layer(&by_id).ok_or_else(|| {
        ApiError::from(QueryError::new("by", format!("no collection \"{by_id}\"")))
    })?;
    let group_attr = named_attr(&by, &by_id, "group", group.as_deref())?;
    let split_attr = named_attr(&layer, &id, "split", split.as_deref())?;
    let (_, selected) = select_all(&layer, &pairs, view.server())?;
    let mut touched: Vec<_> = split_attr.into_iter().collect();
    touched.extend(layer.visible().iter().copied());
    audit_read(&state, &caller, &layer, &touched, || {
        format!("summary by {by_id}")
    })
    .await?;
    audit_read(
        &state,
        &caller,
        &by,
        &group_attr.into_iter().collect::<Vec<_>>(),
        || format!("summary of {id}"),
    )
    .await?;
    let s = summarize(&SummaryOf {
        counted: &layer,
        selected: &selected,
        by: &by,
        group: group_attr,
        within_m: within,
        split: split_attr,
    });
    let groups: Vec<_> = s
        .groups
        .iter()
        .map(|g| {
            let mut key = Vec::new();
            write_value(&mut key, &g.key);
            let key: serde_json::Value =
                serde_json::from_slice(&key).unwrap_or(serde_json::Value::Null);
            let mut doc = json!({ "key": key, "count": g.count });
            if split_attr.is_some() {
                doc["split"] = json!(g.split);
            }
            doc
        })
        .collect();
    let doc = json!({
        "collection": id,
        "by": by_id,
        "group": group,
        "split": split,
        "withinMetres": within,
        "total": s.total,
        "outside": s.outside,
        "groups": groups,
    });
    Ok(super::json_response(axum::http::StatusCode::OK, doc))
}

/// `GET /collections/{id}/export?format=geojson|csv` plus items parameters: every matching
/// feature as a file download.
pub async fn export(
    State(state): State<AppState>,
    CurrentView { view, caller }: CurrentView,
    Path(id): Path<String>,
    QueryPairs { mut pairs, .. }: QueryPairs,
) -> Result<Response, ApiError> {
    let layer = visible_layer(&view, &id)?;
    let csv = match take(&mut pairs, "format")?.as_deref() {
        None | Some("geojson") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(
                QueryError::new("format", format!("expected geojson or csv, got \"{f}\"")).into(),
            );
        }
    };
    let (q, indices) = select_all(&layer, &pairs, view.server())?;
    let attrs = q.output_attrs(&layer).to_vec();
    audit_read(&state, &caller, &layer, &attrs, || {
        format!("export {} features", indices.len())
    })
    .await?;
    let stamp = crate::edit::today_in_japan().format("%Y%m%d");
    let (body, kind, ext) = if csv {
        let l = layer.clone();
        let body =
            tokio::task::spawn_blocking(move || crate::encode::csv::write(&l, &indices, &attrs))
                .await?
                .map_err(|e| ApiError::internal(format!("CSV: {e}")))?;
        (body, "text/csv; charset=utf-8", "csv")
    } else {
        let l = layer.clone();
        let crs = q.crs;
        let body = tokio::task::spawn_blocking(move || {
            let mut out = Vec::with_capacity(indices.len() * 256 + 256);
            write_collection_head(&mut out, Some(indices.len()), indices.len(), &[])?;
            for (n, &i) in indices.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_feature_in(&mut out, &l, i, &attrs, None, crs);
            }
            out.extend_from_slice(b"]}");
            Ok::<_, serde_json::Error>(out)
        })
        .await??;
        (body, media::GEOJSON, "geojson")
    };
    let mut response = ([(header::CONTENT_TYPE, kind)], body).into_response();
    let disposition = format!("attachment; filename=\"{id}-{stamp}.{ext}\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// The visible attribute that parameter `param` names in collection `id`, when it names one;
/// a hidden attribute is refused like one that does not exist.
fn named_attr(
    layer: &LayerView,
    id: &str,
    param: &str,
    name: Option<&str>,
) -> Result<Option<VisibleAttr>, ApiError> {
    let Some(name) = name else { return Ok(None) };
    let attr = layer.attribute(name).map(|(a, _)| a).ok_or_else(|| {
        ApiError::from(QueryError::new(
            param,
            format!("collection \"{id}\" has no attribute \"{name}\""),
        ))
    })?;
    Ok(Some(attr))
}
