//! Features as CSV for spreadsheets: UTF-8 with a byte-order mark (without it Excel reads
//! the Japanese as Shift_JIS mojibake), CRLF line ends (RFC 4180), a header of attribute
//! names, then `経度`/`緯度` of each feature's point (an interior point for lines and areas)
//! and the full geometry as WKT.

use geo::{Geometry, InteriorPoint};
use wkt::ToWkt;

use crate::access::{LayerView, VisibleAttr};

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = "\u{feff}".as_bytes();

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
            row.extend(attrs.iter().map(|a| layer.value(i, *a).text()));
            row.push(point.map(|p| format!("{:.7}", p.x())).unwrap_or_default());
            row.push(point.map(|p| format!("{:.7}", p.y())).unwrap_or_default());
            row.push(g.wkt_string());
            w.write_record(&row)?;
        }
        w.flush()?;
    }
    Ok(out)
}
