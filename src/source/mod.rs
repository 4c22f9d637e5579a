//! Source file readers, one module per format. Each returns geometries in the file's own CRS
//! with properties in schema order, or every problem it found with its place in the file.

pub mod csv;
pub mod fgb;
pub mod geojson;
pub mod shapefile;

use std::fmt;
use std::path::{Path, PathBuf};

use geo::Geometry;

use crate::config::{LayerConfig, SourceConfig, SourceFormat};
use crate::model::{Attribute, Value};

/// How many problems one file may report before the reader gives up on it.
pub const MAX_PROBLEMS: usize = 50;

/// One problem in a source file, with the place it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: PathBuf,
    pub layer: Option<String>,
    /// `feature 12`, `line 7`, `record 3` …; `None` for the file as a whole.
    pub place: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file.display())?;
        if let Some(l) = &self.layer {
            write!(f, "layer \"{l}\": ")?;
        }
        if let Some(p) = &self.place {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// What a reader produces: raw-CRS geometries with schema-ordered properties.
#[derive(Debug, Default)]
pub struct SourceData {
    pub rows: Vec<(Geometry<f64>, Vec<Value>)>,
    /// The CRS the file declares (`.prj`, GeoJSON `crs`, FlatGeobuf header), if any.
    pub declared_crs: Option<String>,
    /// The CRS the format implies when nothing is declared (CRS84 for GeoJSON).
    pub default_crs: Option<&'static str>,
}

/// Collects problems for one file and knows where they are.
pub struct Problems {
    file: PathBuf,
    layer: String,
    list: Vec<Problem>,
}

impl Problems {
    pub fn new(file: &Path, layer: &str) -> Problems {
        Problems {
            file: file.to_path_buf(),
            layer: layer.to_string(),
            list: Vec::new(),
        }
    }

    /// Records a problem; returns false once the file has too many to go on.
    pub fn add(&mut self, place: Option<String>, message: impl Into<String>) -> bool {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(Problem {
                file: self.file.clone(),
                layer: Some(self.layer.clone()),
                place,
                message: message.into(),
            });
        }
        self.list.len() < MAX_PROBLEMS
    }

    /// Keeps a row, or records why it was refused; returns false once the file has too many
    /// problems to go on.
    pub fn keep<T>(
        &mut self,
        rows: &mut Vec<T>,
        place: impl FnOnce() -> String,
        row: Result<T, String>,
    ) -> bool {
        match row {
            Ok(r) => {
                rows.push(r);
                true
            }
            Err(msg) => self.add(Some(place()), msg),
        }
    }

    /// A problem with the whole file, returned as the reader's only answer.
    pub fn fatal(mut self, message: impl Into<String>) -> Vec<Problem> {
        self.add(None, message);
        self.list
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `Ok(data)` when nothing was wrong, else every problem.
    /// The rows of a format whose CRS the file declares (or not), or every problem found.
    pub fn finish_declared(
        self,
        rows: Vec<(Geometry<f64>, Vec<Value>)>,
        declared_crs: Option<String>,
    ) -> Result<SourceData, Vec<Problem>> {
        self.finish(SourceData {
            rows,
            declared_crs,
            default_crs: None,
        })
    }

    pub fn finish(self, data: SourceData) -> Result<SourceData, Vec<Problem>> {
        if self.list.is_empty() {
            Ok(data)
        } else {
            Err(self.list)
        }
    }
}

/// Reads a layer's source file, by the format the catalog gives or the extension implies.
pub fn read(
    dir: &Path,
    cfg: &LayerConfig,
    source: &SourceConfig,
    schema: &[Attribute],
) -> Result<SourceData, Vec<Problem>> {
    let path = dir.join(&source.path);
    let problems = Problems::new(&path, &cfg.id);
    let format = source.format.or_else(|| SourceFormat::from_path(&path));
    match format {
        Some(SourceFormat::Geojson) => geojson::read(&path, schema, problems),
        Some(SourceFormat::Flatgeobuf) => fgb::read(&path, schema, problems),
        Some(SourceFormat::Csv) => csv::read(&path, source, schema, problems),
        Some(SourceFormat::Shapefile) => shapefile::read(&path, source, schema, problems),
        None => Err(problems.fatal("cannot tell the format from the extension; set source.format")),
    }
}

/// Finds, case-insensitively where exact fails, the column of each declared attribute.
/// Returns the column index per schema attribute, or the names that are missing.
pub fn match_columns(columns: &[String], schema: &[Attribute]) -> Result<Vec<usize>, Vec<String>> {
    let mut found = Vec::with_capacity(schema.len());
    let mut missing = Vec::new();
    for a in schema {
        let hit = columns
            .iter()
            .position(|c| c == &a.name)
            .or_else(|| columns.iter().position(|c| c.eq_ignore_ascii_case(&a.name)));
        match hit {
            Some(i) => found.push(i),
            None => missing.push(a.name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(missing)
    }
}

/// The message for declared attributes that a file does not have.
pub fn missing_columns_message(missing: &[String], columns: &[String]) -> String {
    format!(
        "attribute(s) {} declared in the catalog are not in the file (it has: {})",
        quote_list(missing),
        quote_list(columns)
    )
}

fn quote_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}
