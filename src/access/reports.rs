//! What residents see of the reports desk: the form's settings, and the status of one report
//! to whoever holds its receipt code. The reports layer is for staff; this is the one policy
//! that lets part of it out, so it lives here beside the view and not in a handler.

use super::View;
use crate::config::DEFAULT_MAX_LENGTH;
use crate::model::Value;

/// What a report form needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportForm {
    /// The layer reports go to (for the receipt lookup).
    pub layer: String,
    pub categories: Vec<String>,
    pub description_max: usize,
    pub max_photos: usize,
}

/// What a resident may see of their report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportStatus {
    /// The workflow status, null when the layer has none.
    pub status: Value,
    /// Category, description, status, and the attributes a public view of the layer shows,
    /// in schema order.
    pub properties: Vec<(String, Value)>,
}

impl View {
    /// The report form, when the town takes reports (anyone may send one).
    pub fn report_form(&self) -> Option<ReportForm> {
        let r = self.catalog.raw_reports()?;
        let layer = self.catalog.raw_layer(&r.layer)?;
        let attr = |name: &str| layer.meta.attributes.iter().find(|a| a.name == name);
        Some(ReportForm {
            layer: r.layer.clone(),
            categories: attr(&r.category)
                .map(|a| a.codes.clone())
                .unwrap_or_default(),
            description_max: attr(&r.description)
                .and_then(|a| a.max_length)
                .unwrap_or(DEFAULT_MAX_LENGTH),
            max_photos: layer.meta.edit().map_or(0, |e| e.photos),
        })
    }

    /// What the holder of report `fid`'s receipt may see of it: what they wrote, its status,
    /// and what a public view of the reports layer shows. `None` when the town takes no
    /// reports or the report is gone.
    pub fn report_status(&self, fid: i64) -> Option<ReportStatus> {
        let r = self.catalog.raw_reports()?;
        let layer = self.catalog.raw_layer(&r.layer)?;
        let f = &layer.features[layer.position_of(&fid.to_string())?];
        let public: Vec<&str> = self
            .catalog
            .raw_layers()
            .iter()
            .filter(|v| v.meta.view().is_some_and(|v| v.of == r.layer))
            .flat_map(|v| v.meta.attributes.iter().map(|a| a.name.as_str()))
            .collect();
        let status_attr = layer
            .meta
            .edit()
            .and_then(|e| e.workflow.as_ref())
            .map(|w| w.attribute.as_str());
        let mut status = Value::Null;
        let mut properties = Vec::new();
        for (k, a) in layer.meta.attributes.iter().enumerate() {
            let is_status = Some(a.name.as_str()) == status_attr;
            let shown = a.name == r.category
                || a.name == r.description
                || is_status
                || public.contains(&a.name.as_str());
            if shown {
                properties.push((a.name.clone(), f.properties[k].clone()));
            }
            if is_status {
                status = f.properties[k].clone();
            }
        }
        Some(ReportStatus { status, properties })
    }
}
