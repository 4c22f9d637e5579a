//! Features as CSV for spreadsheets: UTF-8 with a byte-order mark (without it Excel reads
//! the Japanese as Shift_JIS mojibake), CRLF line ends (RFC 4180), a header of attribute
//! names, then `経度`/`緯度` of each feature's point (an interior point for lines and areas)
//! and the full geometry as WKT. Text that a spreadsheet would take for a formula (it starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading `'`, as
//! OWASP advises: a resident's `=HYPERLINK(…)` must reach the clerk's Excel as text.

use geo::{Geometry, InteriorPoint};
use wkt::ToWkt;

use crate::access::{LayerView, VisibleAttr};
use crate::model::Value;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = "\u{feff}".as_bytes();

/// The characters a spreadsheet starts a formula (or a DDE call) with, in half and full width
/// (Japanese input methods type the latter, and Excel reads both).
const FORMULA_START: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// A value as a cell: text that would start a formula is quoted with `'`. Numbers, dates and
/// booleans are written as they are (a negative number is a number, not a formula).
fn cell(value: &Value) -> String {
    match value {
        Value::Str(s) if s.starts_with(FORMULA_START) => format!("'{s}"),
        other => other.text(),
    }
}

/// Writes features `indices` of `layer` with attributes `attrs`.
pub fn write(
    layer: &LayerView,
    indices: &[usize],
    attrs: &[VisibleAttr],
) -> Result<Vec<u8>, csv::Error> {
    let mut out = BOM.to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let mut header = vec!["id".to_string()];
        header.extend(attrs.iter().map(|a| layer.schema(*a).name.clone()));
        header.extend(["経度".into(), "緯度".into(), "WKT".into()]);
        w.write_record(&header)?;
        for &i in indices {
            let g = layer.geometry(i);
            let point = match g {
                Geometry::Point(p) => Some(*p),
                other => other.interior_point(),
            };
            let mut row = vec![layer.feature_id(i).to_string()];
            row.extend(attrs.iter().map(|a| cell(layer.value(i, *a))));
            row.push(point.map(|p| format!("{:.7}", p.x())).unwrap_or_default());
            row.push(point.map(|p| format!("{:.7}", p.y())).unwrap_or_default());
            row.push(g.wkt_string());
            w.write_record(&row)?;
        }
        w.flush()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_starts_a_formula_is_quoted_and_numbers_are_not() {
        let text = |s: &str| cell(&Value::Str(s.into()));
        assert_eq!(
            text("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        for s in ["+1", "-1+2", "@SUM(A1)", "\tx", "\rx", "＝1+1"] {
            assert_eq!(text(s), format!("'{s}"), "{s:?}");
        }
        assert_eq!(text("道路に穴 = 危険"), "道路に穴 = 危険");
        assert_eq!(cell(&Value::Float(-3.5)), "-3.5");
        assert_eq!(cell(&Value::Int(-2)), "-2");
    }
}
