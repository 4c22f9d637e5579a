//! Plain, dependency-free HTML views of the JSON documents, so a person can browse the API
//! in a browser (the `alternate` links). Every text is escaped.

use std::fmt::Write;

use serde_json::Value as Json;

/// Escapes text for HTML element and attribute content.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => escape(s),
        Json::Null => String::new(),
        other => escape(&other.to_string()),
    }
}

/// Renders a JSON document (landing page, collections, a collection, a feature collection…)
/// as an HTML page: its title and description, its links, its collections and its features.
pub fn render(doc: &Json) -> String {
    let title = doc
        .get("title")
        .and_then(Json::as_str)
        .or_else(|| doc.get("id").and_then(Json::as_str))
        .unwrap_or("machimap");
    let mut body = String::new();
    let _ = write!(body, "<h1>{}</h1>", escape(title));
    if let Some(d) = doc.get("description").and_then(Json::as_str) {
        let _ = write!(body, "<p>{}</p>", escape(d));
    }
    if let Some(links) = doc.get("links").and_then(Json::as_array) {
        body.push_str("<h2>Links</h2><ul>");
        for l in links {
            let _ = write!(
                body,
                "<li><a href=\"{}\">{}</a> <small>{} {}</small></li>",
                text(&l["href"]),
                text(l.get("title").unwrap_or(&l["rel"])),
                text(&l["rel"]),
                text(&l["type"])
            );
        }
        body.push_str("</ul>");
    }
    if let Some(cols) = doc.get("collections").and_then(Json::as_array) {
        body.push_str("<h2>Collections</h2><ul>");
        for c in cols {
            let href = c["links"]
                .as_array()
                .and_then(|ls| ls.iter().find(|l| l["rel"] == "self"))
                .map(|l| text(&l["href"]))
                .unwrap_or_default();
            let _ = write!(
                body,
                "<li><a href=\"{href}?f=html\">{}</a> — {}</li>",
                text(&c["title"]),
                text(&c["description"])
            );
        }
        body.push_str("</ul>");
    }
    if let Some(features) = doc.get("features").and_then(Json::as_array) {
        features_table(&mut body, features);
    } else if doc.get("type").and_then(Json::as_str) == Some("Feature") {
        features_table(&mut body, std::slice::from_ref(doc));
    }
    format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title></head><body>{body}</body></html>",
        escape(title)
    )
}

/// Members beside `properties` that some answers add to each feature (search, nearest), shown
/// as columns when present.
const FOREIGN_MEMBERS: [&str; 3] = ["collection", "distance_m", "match"];

fn features_table(body: &mut String, features: &[Json]) {
    let foreign: Vec<&str> = FOREIGN_MEMBERS
        .into_iter()
        .filter(|m| features.iter().any(|f| f.get(*m).is_some()))
        .collect();
    let mut columns: Vec<&str> = Vec::new();
    for f in features {
        if let Some(p) = f["properties"].as_object() {
            for k in p.keys() {
                if !columns.contains(&k.as_str()) {
                    columns.push(k);
                }
            }
        }
    }
    body.push_str("<h2>Features</h2><table><tr><th>id</th><th>geometry</th>");
    for m in &foreign {
        let _ = write!(body, "<th>{}</th>", escape(m));
    }
    for c in &columns {
        let _ = write!(body, "<th>{}</th>", escape(c));
    }
    body.push_str("</tr>");
    for f in features {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td>",
            text(&f["id"]),
            text(&f["geometry"]["type"])
        );
        for m in &foreign {
            let _ = write!(body, "<td>{}</td>", text(&f[*m]));
        }
        for c in &columns {
            let _ = write!(body, "<td>{}</td>", text(&f["properties"][*c]));
        }
        body.push_str("</tr>");
    }
    body.push_str("</table>");
}

/// Renders the location report (`encode::location::report_json`): the place, then one table
/// per section with each hit's fields (Japanese labels) and distance.
pub fn render_location(doc: &Json) -> String {
    let title = format!(
        "{}, {} の情報 / What is here",
        text(&doc["lon"]),
        text(&doc["lat"])
    );
    let mut body = String::new();
    let _ = write!(body, "<h1>{title}</h1>");
    if let Some(links) = doc.get("links").and_then(Json::as_array) {
        body.push_str("<ul>");
        for l in links {
            let _ = write!(
                body,
                "<li><a href=\"{}\">{}</a></li>",
                text(&l["href"]),
                text(l.get("title").unwrap_or(&l["rel"]))
            );
        }
        body.push_str("</ul>");
    }
    for s in doc["sections"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let _ = write!(
            body,
            "<section><h2>{} <small>{} ({})</small></h2>",
            text(&s["title_ja"]),
            text(&s["title_en"]),
            text(&s["collection"])
        );
        let results = s["results"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if results.is_empty() {
            body.push_str("<p>該当なし / Nothing here</p></section>");
            continue;
        }
        let nearest = s["match"] == "nearest";
        body.push_str("<table><tr><th>id</th>");
        if let Some(first) = results.first() {
            for f in first["fields"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let _ = write!(
                    body,
                    "<th title=\"{}\">{}</th>",
                    text(&f["label_en"]),
                    text(&f["label_ja"])
                );
            }
        }
        if nearest {
            body.push_str("<th>距離（m）</th>");
        }
        body.push_str("</tr>");
        for r in results {
            let _ = write!(body, "<tr><td>{}</td>", text(&r["id"]));
            for f in r["fields"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let _ = write!(body, "<td>{}</td>", text(&f["value"]));
            }
            if nearest {
                let _ = write!(body, "<td>{}</td>", text(&r["distance_m"]));
            }
            body.push_str("</tr>");
        }
        body.push_str("</table></section>");
    }
    format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body>{body}</body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let page = render(&serde_json::json!({"title": "<script>x</script>", "links": []}));
        assert!(!page.contains("<script>x"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
    }
}
