//! CSV with coordinate columns: UTF-8 (with or without BOM) or Shift_JIS/CP932, with the
//! national recommended-dataset columns `緯度`/`経度` as well as `lat`/`lon`.

use std::path::Path;

use encoding_rs::{Encoding, SHIFT_JIS, UTF_8};
use geo::{Geometry, Point};

use super::{Problem, Problems, SourceData, match_columns, missing_columns_message};
use crate::config::SourceConfig;
use crate::crs;
use crate::model::{Attribute, Value};

const LON_NAMES: [&str; 5] = ["経度", "lon", "longitude", "lng", "long"];
const LAT_NAMES: [&str; 3] = ["緯度", "lat", "latitude"];

pub fn read(
    path: &Path,
    source: &SourceConfig,
    schema: &[Attribute],
    problems: Problems,
) -> Result<SourceData, Vec<Problem>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Err(problems.fatal(format!("cannot read the file: {e}"))),
    };
    parse(&bytes, source, schema, problems)
}

/// Decodes the text: the configured encoding, else UTF-8 when the bytes are valid UTF-8 (BOM or
/// not), else Shift_JIS, which is what Excel on Japanese Windows writes.
pub fn decode(bytes: &[u8], label: Option<&str>) -> Result<String, String> {
    let encoding: &'static Encoding = match label {
        Some(l) => Encoding::for_label(l.as_bytes())
            .ok_or_else(|| format!("unknown text encoding \"{l}\""))?,
        None if std::str::from_utf8(bytes).is_ok() => UTF_8,
        None => SHIFT_JIS,
    };
    // The BOM decides when present, as spreadsheet programs expect.
    let (text, used, had_errors) = encoding.decode(bytes);
    if had_errors {
        let line = first_bad_line(bytes, used);
        return Err(format!(
            "line {line}: text is not valid {} (set source.encoding in the catalog)",
            used.name()
        ));
    }
    Ok(text.into_owned())
}

/// The line of the first byte sequence that does not decode.
fn first_bad_line(bytes: &[u8], encoding: &'static Encoding) -> usize {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len() * 3);
    let mut line = 1;
    for chunk in bytes.split_inclusive(|&b| b == b'\n') {
        out.clear();
        let (result, _) = decoder.decode_to_string_without_replacement(chunk, &mut out, false);
        if matches!(result, encoding_rs::DecoderResult::Malformed(..)) {
            return line;
        }
        line += 1;
    }
    line
}

pub fn parse(
    bytes: &[u8],
    source: &SourceConfig,
    schema: &[Attribute],
    mut problems: Problems,
) -> Result<SourceData, Vec<Problem>> {
    let text = match decode(bytes, source.encoding.as_deref()) {
        Ok(t) => t,
        Err(e) => return Err(problems.fatal(e)),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = ::csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_string()).collect(),
        Err(e) => return Err(problems.fatal(format!("line 1: cannot read the header: {e}"))),
    };
    let find = |configured: &Option<String>, names: &[&str]| -> Option<usize> {
        match configured {
            Some(c) => columns.iter().position(|h| h == c),
            None => columns
                .iter()
                .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n))),
        }
    };
    let (Some(xi), Some(yi)) = (
        find(&source.x_column, &LON_NAMES),
        find(&source.y_column, &LAT_NAMES),
    ) else {
        let want = |c: &Option<String>, d: &str| c.clone().unwrap_or_else(|| d.to_string());
        return Err(problems.fatal(format!(
            "no coordinate columns: expected {} and {} (set source.x_column/y_column), found {}",
            want(&source.x_column, "経度/lon"),
            want(&source.y_column, "緯度/lat"),
            columns.join(", ")
        )));
    };
    let default_crs = if source.x_column.is_some() || source.y_column.is_some() {
        None
    } else if columns[yi] == "緯度" {
        // The national recommended datasets give JGD2011 latitude/longitude.
        Some("EPSG:6668")
    } else {
        Some(crs::CRS84)
    };
    let cols = match match_columns(&columns, schema) {
        Ok(c) => c,
        Err(missing) => return Err(problems.fatal(missing_columns_message(&missing, &columns))),
    };

    let mut lines = LineCounter {
        text: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                let msg = match e.kind() {
                    ::csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("has {len} fields, the header has {expected_len}"),
                    _ => e.to_string(),
                };
                if !problems.add(Some(format!("line {line}")), msg) {
                    break;
                }
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        let row = row(&record, xi, yi, &columns, &cols, schema);
        if !problems.keep(&mut rows, || format!("line {line}"), row) {
            break;
        }
    }
    problems.finish(SourceData {
        rows,
        declared_crs: None,
        default_crs,
    })
}

/// Line numbers of records, counted as the reader moves forward so each byte is counted once.
/// The csv crate's own line counter drifts on CRLF files (what spreadsheet programs write):
/// there a record's offset can be the `\n` ending the previous line, so that byte is counted.
struct LineCounter<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

impl LineCounter<'_> {
    fn line_at(&mut self, byte: u64) -> usize {
        let end = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .min(self.text.len());
        if end > self.pos {
            self.line += self.text[self.pos..end]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.pos = end;
        }
        self.line
    }
}

fn row(
    record: &::csv::StringRecord,
    xi: usize,
    yi: usize,
    columns: &[String],
    cols: &[usize],
    schema: &[Attribute],
) -> Result<(Geometry<f64>, Vec<Value>), String> {
    let coord = |i: usize| -> Result<f64, String> {
        let t = record.get(i).unwrap_or("").trim();
        if t.is_empty() {
            return Err(format!("\"{}\" is empty", columns[i]));
        }
        t.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("\"{}\": expected a number, got \"{t}\"", columns[i]))
    };
    let point = Point::new(coord(xi)?, coord(yi)?);
    let values = schema
        .iter()
        .zip(cols)
        .map(|(a, &c)| {
            Value::parse(record.get(c).unwrap_or(""), a.kind)
                .map_err(|e| format!("\"{}\": {e}", a.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((Geometry::Point(point), values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AttrType;
    use crate::policy::Audience;

    fn source() -> SourceConfig {
        SourceConfig {
            path: "s.csv".into(),
            format: None,
            encoding: None,
            x_column: None,
            y_column: None,
        }
    }

    fn schema() -> Vec<Attribute> {
        vec![Attribute {
            name: "名称".into(),
            kind: AttrType::String,
            label_ja: "名称".into(),
            label_en: "Name".into(),
            audience: Audience::Public,
        }]
    }

    fn run(bytes: &[u8]) -> Result<SourceData, Vec<Problem>> {
        parse(
            bytes,
            &source(),
            &schema(),
            Problems::new(Path::new("s.csv"), "shelters"),
        )
    }

    #[test]
    fn shift_jis_with_national_columns() {
        let text = "名称,緯度,経度\r\nみどり野小学校,36.02,139.1\r\n";
        let (bytes, _, _) = SHIFT_JIS.encode(text);
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "fixture must really be Shift_JIS"
        );
        let d = run(&bytes).expect("loads");
        assert_eq!(d.default_crs, Some("EPSG:6668"));
        assert_eq!(d.rows[0].1[0], Value::Str("みどり野小学校".into()));
        assert_eq!(d.rows[0].0, Geometry::Point(Point::new(139.1, 36.02)));
    }

    #[test]
    fn utf8_bom_and_lat_lon() {
        let d = run("\u{feff}lat,lon,名称\n36.5,139.5,公園\n".as_bytes()).expect("loads");
        assert_eq!(d.default_crs, Some(crs::CRS84));
        assert_eq!(d.rows[0].0, Geometry::Point(Point::new(139.5, 36.5)));
    }

    #[test]
    fn bad_rows_name_their_line() {
        let e =
            run("名称,緯度,経度\r\na,36,139\r\nb,北緯36度,139\r\nc,36\r\n".as_bytes()).unwrap_err();
        let msgs: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(
            msgs[0].contains("line 3: \"緯度\": expected a number, got \"北緯36度\""),
            "{msgs:?}"
        );
        assert!(
            msgs[1].contains("line 4: has 2 fields, the header has 3"),
            "{msgs:?}"
        );
    }

    #[test]
    fn missing_declared_column_is_named() {
        let e = run("name,緯度,経度\na,36,139\n".as_bytes()).unwrap_err();
        assert!(e[0].message.contains("\"名称\""), "{e:?}");
    }
}
