//! The checks a catalog passes before anything is loaded, and the wording of TOML errors:
//! every message names the file and, where it applies, the layer or `[[location]]` section.

use std::collections::HashSet;
use std::path::Path;

use super::{
    AttributeConfig, AutoValue, ConfigError, EditConfig, LocationSection, MAX_HEADER_BYTES,
    MAX_LOCATION_LIMIT, MAX_PHOTOS, MAX_URI_BYTES, MatchRule, RawCatalog, RawLayer, ReportsConfig,
    SecurityConfig, SourceFormat, ViewConfig,
};
use crate::model::{AttrType, GeometryKind};

impl RawCatalog {
    pub(super) fn validate(&self, file: &Path) -> Result<(), ConfigError> {
        let err = |layer: Option<&str>, message: String| ConfigError {
            file: file.to_path_buf(),
            layer: layer.map(str::to_owned),
            message,
        };
        let s = &self.server;
        if s.max_limit == 0 || s.default_limit == 0 || s.default_limit > s.max_limit {
            return Err(err(
                None,
                format!(
                    "server: default_limit ({}) and max_limit ({}) must be positive with default_limit <= max_limit",
                    s.default_limit, s.max_limit
                ),
            ));
        }
        s.security.check().map_err(|m| err(None, m))?;
        if let Some([w, so, e, n]) = s.extent {
            let ok = [w, so, e, n].iter().all(|v| v.is_finite())
                && (-180.0..=180.0).contains(&w)
                && (-180.0..=180.0).contains(&e)
                && (-90.0..=90.0).contains(&so)
                && (-90.0..=90.0).contains(&n)
                && w < e
                && so < n;
            if !ok {
                return Err(err(
                    None,
                    "server.extent must be [west, south, east, north] in degrees with west < east and south < north".into(),
                ));
            }
        }
        let mut ids = HashSet::new();
        for layer in &self.layers {
            let id = layer.id.as_str();
            if !is_valid_layer_id(id) {
                return Err(err(
                    Some(id),
                    "id must be 1-64 characters of lowercase ASCII letters, digits, '-' or '_'"
                        .into(),
                ));
            }
            if !ids.insert(id) {
                return Err(err(Some(id), "id is used by more than one layer".into()));
            }
            if chrono::NaiveDate::parse_from_str(&layer.updated, "%Y-%m-%d").is_err() {
                return Err(err(
                    Some(id),
                    format!(
                        "updated: expected a date YYYY-MM-DD, got \"{}\"",
                        layer.updated
                    ),
                ));
            }
            check_origin(layer, &self.layers).map_err(|m| err(Some(id), m))?;
            let mut names = HashSet::new();
            for attr in &layer.attributes {
                if attr.name.is_empty() {
                    return Err(err(Some(id), "an attribute has an empty name".into()));
                }
                if !names.insert(attr.name.as_str()) {
                    return Err(err(
                        Some(id),
                        format!("attribute \"{}\" is declared twice", attr.name),
                    ));
                }
                if let Some(a) = &attr.audience
                    && !a.is_within(&layer.audience)
                {
                    return Err(err(
                        Some(id),
                        format!(
                            "attribute \"{}\": audience {a} is broader than the layer's ({})",
                            attr.name, layer.audience
                        ),
                    ));
                }
            }
            check_edit_attributes(layer).map_err(|m| err(Some(id), m))?;
            let declared: Vec<&str> = layer.attributes.iter().map(|a| a.name.as_str()).collect();
            layer.tiles.check(&declared).map_err(|m| err(Some(id), m))?;
            // Layer metadata is shown to everyone who sees the layer, so it must not name an
            // attribute hidden from some of them.
            for attr in &layer.attributes {
                if attr.audience.as_ref().is_some_and(|a| a != &layer.audience) {
                    let texts = [&layer.title_ja, &layer.title_en, &layer.description];
                    if texts.iter().any(|t| t.contains(&attr.name))
                        || layer.keywords.iter().any(|k| k.contains(&attr.name))
                    {
                        return Err(err(
                            Some(id),
                            format!(
                                "the title, description or keywords name attribute \"{}\", which is hidden from part of the layer's audience",
                                attr.name
                            ),
                        ));
                    }
                }
            }
            let mut searched = HashSet::new();
            for name in &layer.search {
                let Some(attr) = layer.attributes.iter().find(|a| &a.name == name) else {
                    return Err(err(
                        Some(id),
                        format!("search: \"{name}\" is not a declared attribute"),
                    ));
                };
                if attr.kind != AttrType::String {
                    return Err(err(
                        Some(id),
                        format!("search: attribute \"{name}\" is not of type string"),
                    ));
                }
                if !searched.insert(name.as_str()) {
                    return Err(err(
                        Some(id),
                        format!("search: attribute \"{name}\" is listed twice"),
                    ));
                }
            }
            if let Some(idf) = &layer.id_field
                && !names.contains(idf.as_str())
            {
                return Err(err(
                    Some(id),
                    format!("id_field \"{idf}\" is not a declared attribute"),
                ));
            }
            // Feature ids are shown to everyone who sees the layer.
            if let Some(idf) = &layer.id_field
                && layer.attributes.iter().any(|a| {
                    &a.name == idf && a.audience.as_ref().is_some_and(|x| x != &layer.audience)
                })
            {
                return Err(err(
                    Some(id),
                    format!(
                        "id_field \"{idf}\" has a narrower audience than the layer, but feature ids are shown to everyone who sees the layer"
                    ),
                ));
            }
        }
        if let Some(r) = &self.reports {
            r.check(&self.layers)
                .map_err(|m| err(None, format!("[reports]: {m}")))?;
        }
        for (n, section) in self.location.iter().enumerate() {
            section.check(&self.layers).map_err(|m| {
                err(
                    None,
                    format!("{}: {m}", section_name(n + 1, &section.layer)),
                )
            })?;
        }
        Ok(())
    }
}

/// Checks where a layer's features come from: exactly one of a file, the edit store or another
/// layer, with the settings that go with it.
fn check_origin(layer: &RawLayer, layers: &[RawLayer]) -> Result<(), String> {
    match (&layer.source, &layer.edit, &layer.view) {
        (Some(source), None, None) => {
            if source.format.is_none() && SourceFormat::from_path(&source.path).is_none() {
                return Err(format!(
                    "source.path \"{}\": cannot tell the format from the extension; set source.format",
                    source.path.display()
                ));
            }
            if let Some(enc) = &source.encoding
                && encoding_rs::Encoding::for_label(enc.as_bytes()).is_none()
            {
                return Err(format!("source.encoding: unknown text encoding \"{enc}\""));
            }
            Ok(())
        }
        (None, Some(edit), None) => {
            if layer.crs.is_some() || layer.id_field.is_some() {
                return Err(
                    "an editable layer is stored in CRS84 with the store's feature ids: remove crs and id_field"
                        .into(),
                );
            }
            edit.check(layer, layers)
        }
        (None, None, Some(view)) => {
            if layer.crs.is_some() || layer.id_field.is_some() {
                return Err(
                    "a view layer takes its geometry and ids from the layer it shows: remove crs and id_field"
                        .into(),
                );
            }
            view.check(layer, layers)
        }
        (None, None, None) => Err("give source (a file), edit (an editable layer) or view".into()),
        _ => Err("give only one of source, edit and view".into()),
    }
}

/// The edit-only attribute settings (`required`, `max_length`, `auto`) and code lists.
fn check_edit_attributes(layer: &RawLayer) -> Result<(), String> {
    for a in &layer.attributes {
        let name = &a.name;
        if layer.edit.is_none() && (a.required || a.max_length.is_some() || a.auto.is_some()) {
            return Err(format!(
                "attribute \"{name}\": required, max_length and auto apply only to editable layers"
            ));
        }
        if !a.codes.is_empty() && a.kind != AttrType::String {
            return Err(format!(
                "attribute \"{name}\": codes apply only to string attributes"
            ));
        }
        if a.codes
            .iter()
            .enumerate()
            .any(|(i, c)| a.codes[..i].contains(c))
        {
            return Err(format!("attribute \"{name}\": a code is listed twice"));
        }
        if a.max_length.is_some() && a.kind != AttrType::String {
            return Err(format!(
                "attribute \"{name}\": max_length applies only to string attributes"
            ));
        }
        if a.max_length == Some(0) {
            return Err(format!("attribute \"{name}\": max_length must be positive"));
        }
        if let Some(auto) = a.auto {
            let want = match auto {
                AutoValue::CreatedDate | AutoValue::UpdatedDate => AttrType::Date,
                AutoValue::CreatedBy | AutoValue::UpdatedBy => AttrType::String,
            };
            if a.kind != want {
                return Err(format!(
                    "attribute \"{name}\": auto {auto:?} needs type {}",
                    want.name()
                ));
            }
            if a.required {
                return Err(format!(
                    "attribute \"{name}\": an auto attribute is set by the server, so it cannot be required"
                ));
            }
        }
    }
    Ok(())
}

/// A string attribute of `layer` by name, for the edit settings that name one.
fn string_attribute<'a>(
    layer: &'a RawLayer,
    setting: &str,
    name: &str,
) -> Result<&'a AttributeConfig, String> {
    let a = layer
        .attributes
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| format!("{setting}: \"{name}\" is not a declared attribute"))?;
    if a.kind != AttrType::String {
        return Err(format!(
            "{setting}: attribute \"{name}\" is not of type string"
        ));
    }
    Ok(a)
}

impl EditConfig {
    fn check(&self, layer: &RawLayer, layers: &[RawLayer]) -> Result<(), String> {
        for (what, a) in [
            ("edit.create", &self.create),
            ("edit.update", &self.update),
            ("edit.delete", &self.delete),
        ] {
            if !a.is_within(&layer.audience) {
                return Err(format!(
                    "{what}: audience {a} is broader than the layer's ({}); editors must see the layer",
                    layer.audience
                ));
            }
        }
        if self.photos > MAX_PHOTOS {
            return Err(format!("edit.photos must be 0 to {MAX_PHOTOS}"));
        }
        if let Some(w) = &self.workflow {
            let a = string_attribute(layer, "edit.workflow.attribute", &w.attribute)?;
            if a.codes.is_empty() {
                return Err(format!(
                    "edit.workflow: attribute \"{}\" needs codes listing every status",
                    w.attribute
                ));
            }
            if a.auto.is_some() {
                return Err("edit.workflow: the status attribute cannot be auto".into());
            }
            let statuses = std::iter::once(&w.initial).chain(
                w.transitions
                    .iter()
                    .flat_map(|(from, to)| std::iter::once(from).chain(to)),
            );
            for s in statuses {
                if !a.codes.contains(s) {
                    return Err(format!(
                        "edit.workflow: status \"{s}\" is not one of the codes of \"{}\"",
                        w.attribute
                    ));
                }
            }
        }
        if let Some(t) = &self.target {
            string_attribute(layer, "edit.target.layer_attribute", &t.layer_attribute)?;
            string_attribute(layer, "edit.target.id_attribute", &t.id_attribute)?;
            if t.layers.is_empty() {
                return Err("edit.target.layers: name at least one layer".into());
            }
            for l in &t.layers {
                if !layers.iter().any(|x| &x.id == l) {
                    return Err(format!(
                        "edit.target.layers: layer \"{l}\" is not in the catalog"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl ViewConfig {
    fn check(&self, layer: &RawLayer, layers: &[RawLayer]) -> Result<(), String> {
        let Some(base) = layers.iter().find(|l| l.id == self.of) else {
            return Err(format!(
                "view.of: layer \"{}\" is not in the catalog",
                self.of
            ));
        };
        if base.view.is_some() {
            return Err(format!("view.of: layer \"{}\" is itself a view", self.of));
        }
        for a in &layer.attributes {
            match base.attributes.iter().find(|b| b.name == a.name) {
                Some(b) if b.kind == a.kind => {}
                Some(_) => {
                    return Err(format!(
                        "attribute \"{}\" has another type than in layer \"{}\"",
                        a.name, self.of
                    ));
                }
                None => {
                    return Err(format!(
                        "attribute \"{}\" is not an attribute of layer \"{}\"",
                        a.name, self.of
                    ));
                }
            }
        }
        match (&self.where_attribute, self.where_in.is_empty()) {
            (None, true) => Ok(()),
            (Some(name), false) => string_attribute(base, "view.where_attribute", name).map(|_| ()),
            _ => Err("view: give where_attribute and where_in together".into()),
        }
    }
}

impl ReportsConfig {
    fn check(&self, layers: &[RawLayer]) -> Result<(), String> {
        let Some(layer) = layers.iter().find(|l| l.id == self.layer) else {
            return Err(format!("layer \"{}\" is not in the catalog", self.layer));
        };
        let Some(edit) = &layer.edit else {
            return Err(format!("layer \"{}\" is not editable", self.layer));
        };
        if edit.geometry != GeometryKind::Point {
            return Err(format!("layer \"{}\" must hold points", self.layer));
        }
        if edit.workflow.is_none() {
            return Err(format!(
                "layer \"{}\" needs edit.workflow (the status residents see)",
                self.layer
            ));
        }
        let category = string_attribute(layer, "category", &self.category)?;
        if category.codes.is_empty() {
            return Err(format!(
                "category: attribute \"{}\" needs codes",
                self.category
            ));
        }
        string_attribute(layer, "description", &self.description)?;
        Ok(())
    }
}

impl SecurityConfig {
    fn check(&self) -> Result<(), String> {
        if self.session_hours == 0 || self.session_hours > 24 * 30 {
            return Err("server.security.session_hours must be 1 to 720".into());
        }
        if self.max_failed_logins == 0 || self.lockout_minutes == 0 {
            return Err(
                "server.security.max_failed_logins and lockout_minutes must be positive".into(),
            );
        }
        if self.max_body_bytes < 1024 {
            return Err("server.security.max_body_bytes must be at least 1024".into());
        }
        for (name, secs) in [
            ("header_timeout_seconds", self.header_timeout_seconds),
            ("body_timeout_seconds", self.body_timeout_seconds),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
            ("send_timeout_seconds", self.send_timeout_seconds),
        ] {
            if !(1..=3600).contains(&secs) {
                return Err(format!("server.security.{name} must be 1 to 3600"));
            }
        }
        if self.max_connections == 0 {
            return Err("server.security.max_connections must be positive".into());
        }
        if self.max_connections_per_address > self.max_connections {
            return Err(
                "server.security.max_connections_per_address must not exceed max_connections"
                    .into(),
            );
        }
        // Above these the HTTP parser's own limits answer first, without an error document.
        if !(1024..=MAX_URI_BYTES).contains(&self.max_uri_bytes) {
            return Err(format!(
                "server.security.max_uri_bytes must be 1024 to {MAX_URI_BYTES}"
            ));
        }
        if !(4096..=MAX_HEADER_BYTES).contains(&self.max_header_bytes) {
            return Err(format!(
                "server.security.max_header_bytes must be 4096 to {MAX_HEADER_BYTES}"
            ));
        }
        for o in &self.map_origins {
            let host = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            // The value goes into a header: only a plain origin may pass.
            let ok = host.is_some_and(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
            });
            if !ok {
                return Err(format!(
                    "server.security.map_origins: \"{o}\" is not an origin like https://tiles.example.jp"
                ));
            }
        }
        if let Some(u) = &self.public_url {
            let rest = u
                .strip_prefix("https://")
                .or_else(|| u.strip_prefix("http://"));
            // The value starts every link: a plain origin and an optional path, nothing to escape.
            let ok = rest.is_some_and(|r| {
                let (host, path) = r.split_once('/').unwrap_or((r, ""));
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
                    && path
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~/".contains(c))
                    && !u.ends_with('/')
            });
            if !ok {
                return Err(format!(
                    "server.security.public_url: \"{u}\" is not an address like https://gis.example.lg.jp or https://www.example.lg.jp/map (no trailing /)"
                ));
            }
        }
        Ok(())
    }
}

/// How errors name a location-report section: `[[location]] #2 (layer "roads")`.
fn section_name(number: usize, layer: &str) -> String {
    format!("[[location]] #{number} (layer \"{layer}\")")
}

impl LocationSection {
    fn check(&self, layers: &[RawLayer]) -> Result<(), String> {
        let Some(layer) = layers.iter().find(|l| l.id == self.layer) else {
            return Err(format!("layer \"{}\" is not in the catalog", self.layer));
        };
        if self.attributes.is_empty() {
            return Err("attributes: name at least one attribute to show".into());
        }
        for (i, name) in self.attributes.iter().enumerate() {
            if !layer.attributes.iter().any(|a| &a.name == name) {
                return Err(format!(
                    "attributes: \"{name}\" is not a declared attribute of layer \"{}\"",
                    layer.id
                ));
            }
            if self.attributes[..i].contains(name) {
                return Err(format!("attributes: \"{name}\" is listed twice"));
            }
        }
        if let Some(n) = self.limit
            && (n == 0 || n > MAX_LOCATION_LIMIT)
        {
            return Err(format!("limit must be 1 to {MAX_LOCATION_LIMIT}, got {n}"));
        }
        if let Some(m) = self.within_m {
            if self.rule != MatchRule::Nearest {
                return Err("within_m applies only to match = \"nearest\"".into());
            }
            if !(m.is_finite() && m > 0.0) {
                return Err(format!(
                    "within_m must be a positive number of metres, got {m}"
                ));
            }
        }
        Ok(())
    }
}

/// Layer ids appear in URLs, so they stay plain.
pub fn is_valid_layer_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A TOML error with its line and column, and the `[[layer]]` it falls in when there is one.
pub(super) fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_string();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let location = before.rfind("[[location]]");
    if location.is_some_and(|at| before.rfind("[[layer]]").is_none_or(|l| l < at)) {
        let number = before.matches("[[location]]").count();
        let start = location.unwrap_or(0);
        // The section's `layer = …` may come after the error: read to the next table.
        let rest = &text[start + "[[location]]".len()..];
        let section = &rest[..rest.find("[[").unwrap_or(rest.len())];
        let layer = key_value(section, "layer").unwrap_or_default();
        return format!(
            "line {line}, column {col} ({}): {}",
            section_name(number, &layer),
            e.message()
        );
    }
    let layer = layer_id_before(before);
    match layer {
        Some(l) => format!("line {line}, column {col} (layer \"{l}\"): {}", e.message()),
        None => format!("line {line}, column {col}: {}", e.message()),
    }
}

/// The value of the first `key = "…"` line in `table`.
fn key_value(table: &str, key: &str) -> Option<String> {
    table.lines().find_map(|l| {
        let rest = l.trim().strip_prefix(key)?.trim_start().strip_prefix('=')?;
        Some(rest.trim().trim_matches('"').to_string())
    })
}

/// The `id = "…"` of the last `[[layer]]` table opened before this point of the file.
fn layer_id_before(before: &str) -> Option<String> {
    let start = before.rfind("[[layer]]")?;
    key_value(&before[start..], "id")
}
