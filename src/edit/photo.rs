//! Checking and cleaning the photos that residents and field staff upload with damage reports
//! and inspections.
//!
//! A resident's phone writes the exact GPS position of their home, the phone model and often
//! the owner's name into the photo's metadata. None of that may be stored or served, so a photo
//! is rebuilt from the parts a viewer needs to show it and nothing else: pixels, colour profile,
//! transparency, and the camera orientation (without which a phone photo shows sideways). The
//! GPS position is read before the metadata goes, so the caller can offer it as the report's
//! location, but it is never left in the bytes.
//!
//! The type is sniffed from the content, never from the file name, and the structure is walked
//! completely (JPEG marker segments, PNG chunks and their CRCs) before anything is kept: a file
//! that is cut off or claims an absurd size is refused with a message saying where and why.
//!
//! [`clean`] does a few linear passes over the bytes; for multi-megabyte uploads call it from
//! `spawn_blocking` rather than on the async executor.

use exif::{In, Tag, Value};

/// The largest photo, in pixels, that is accepted: decoding a bigger one to show or thumbnail
/// it would need gigabytes (a small file can claim a huge size: a decompression bomb).
pub const MAX_PIXELS: u64 = 100_000_000;

/// The longest side, in pixels, that is accepted.
pub const MAX_SIDE: u32 = 20_000;

const JPEG_MAGIC: &[u8] = &[0xFF, 0xD8, 0xFF];
const PNG_MAGIC: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// The PNG chunks that are kept: the critical ones and those that only affect how the pixels
/// are rendered (transparency, colour, pixel size, animation). Every other ancillary chunk
/// (`eXIf`, `tEXt`, `zTXt`, `iTXt`, `tIME`, private ones) is dropped, and so is `iCCP`: an
/// ICC profile holds free text (its description and copyright tags, and any tag a writer
/// adds), and without it a viewer shows the pixels as sRGB, as `sRGB`/`gAMA`/`cHRM` say.
const PNG_KEPT: [&[u8; 4]; 14] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"pHYs",
    b"bKGD", b"acTL", b"fcTL", b"fdAT",
];

/// A photo that passed the checks, with its metadata removed.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanPhoto {
    /// `image/jpeg` or `image/png`.
    pub media_type: &'static str,
    /// The cleaned file: no EXIF (except a rewritten orientation), XMP, IPTC, comments or text.
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// `(lon, lat)` in WGS84 degrees from the original EXIF, south and west negative; `None`
    /// when absent, unreadable, out of range, or exactly (0, 0) (what some phones write when
    /// they had no fix). It is not in `bytes`.
    pub gps: Option<(f64, f64)>,
}

/// Why an upload is not accepted. The messages are for the person who uploaded it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PhotoError {
    #[error("the photo is empty (0 bytes)")]
    Empty,
    #[error(
        "the photo is {}; photos may be at most {}",
        megabytes(*.size, true),
        megabytes(*.limit, false)
    )]
    TooLarge { size: usize, limit: usize },
    /// `found` says what the content looks like ("a GIF image", "a text file", …).
    #[error("only JPEG and PNG photos are accepted; this file is {found}")]
    NotJpegOrPng { found: &'static str },
    /// Cut off or structurally broken; the text says where.
    #[error("the photo is damaged or incomplete: {0}")]
    Damaged(String),
    #[error(
        "the photo is {width}×{height} pixels; photos may have at most 100 megapixels and \
         20000 pixels on a side"
    )]
    TooManyPixels { width: u32, height: u32 },
    /// A PNG chunk that a viewer must understand but this server cannot check.
    #[error("the PNG uses an unknown required chunk \"{name}\" at byte {at}")]
    UnknownPngChunk { name: String, at: usize },
}

/// Checks an uploaded photo and returns it without metadata.
///
/// `max_bytes` is checked first, before anything is parsed. The type is decided by the content
/// (JPEG `FF D8 FF`, PNG signature); anything else is refused.
pub fn clean(bytes: &[u8], max_bytes: usize) -> Result<CleanPhoto, PhotoError> {
    if bytes.len() > max_bytes {
        return Err(PhotoError::TooLarge {
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.starts_with(JPEG_MAGIC) {
        clean_jpeg(bytes)
    } else if bytes.starts_with(PNG_MAGIC) {
        clean_png(bytes)
    } else if bytes.starts_with(&PNG_MAGIC[..4]) {
        // "\x89PNG" with the rest changed is what a text-mode transfer (CRLF conversion) does.
        Err(damaged(
            "the PNG signature is damaged (was the file sent as text?)".to_owned(),
        ))
    } else {
        Err(PhotoError::NotJpegOrPng {
            found: describe(bytes),
        })
    }
}

fn damaged(what: String) -> PhotoError {
    PhotoError::Damaged(what)
}

/// `bytes` in MB with one decimal; the upload's size is rounded up and the limit down so that
/// a file just over the limit never reads "10 MB; at most 10 MB".
fn megabytes(bytes: usize, round_up: bool) -> String {
    let tenths = if round_up {
        bytes.div_ceil(100_000)
    } else {
        bytes / 100_000
    };
    match (tenths / 10, tenths % 10) {
        (0, 0) => format!("{bytes} bytes"),
        (whole, 0) => format!("{whole} MB"),
        (whole, tenth) => format!("{whole}.{tenth} MB"),
    }
}

fn check_dimensions(width: u32, height: u32) -> Result<(), PhotoError> {
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoError::TooManyPixels { width, height });
    }
    Ok(())
}

/// What a refused file looks like, so the message can tell the user what they sent.
fn describe(bytes: &[u8]) -> &'static str {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"GIF87a") || starts(b"GIF89a") {
        return "a GIF image";
    }
    if bytes.get(4..8) == Some(b"ftyp") {
        return match bytes.get(8..12) {
            Some(b"avif" | b"avis") => "an AVIF image",
            Some(b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1") => {
                "a HEIC/HEIF image (set the camera to \"Most Compatible\" or export as JPEG)"
            }
            _ => "a video or other media file",
        };
    }
    if starts(b"%PDF-") {
        return "a PDF document";
    }
    if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return "a WebP image";
    }
    if starts(b"II*\0") || starts(b"MM\0*") {
        return "a TIFF image";
    }
    let head = &bytes[..bytes.len().min(1024)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text,
        // Cutting at 1024 bytes may split a character; the part before it is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return "content of an unknown type",
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
    {
        return "content of an unknown type";
    }
    let start = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    if start.starts_with("<svg") || (start.starts_with("<?xml") && start.contains("<svg")) {
        "an SVG image"
    } else if start.starts_with("<!doctype html") || start.starts_with("<html") {
        "an HTML page"
    } else if start.starts_with('<') {
        "an XML or HTML document"
    } else {
        "a text file"
    }
}

/// What is taken from the original EXIF before it is dropped.
#[derive(Debug, Default)]
struct ExifFacts {
    gps: Option<(f64, f64)>,
    /// 2..=8 only: 1 (upright) needs no EXIF, other values are invalid.
    orientation: Option<u16>,
}

/// Reads GPS and orientation from a TIFF-structured EXIF block. Broken EXIF gives what could be
/// read, or nothing: it is dropped anyway, so it is no reason to refuse the photo.
fn read_exif(tiff: &[u8]) -> ExifFacts {
    let parsed = exif::Reader::new()
        .continue_on_error(true)
        .read_raw(tiff.to_vec())
        .or_else(|e| e.distill_partial_result(|_| {}));
    let Ok(exif) = parsed else {
        return ExifFacts::default();
    };
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|o| u16::try_from(o).ok())
        .filter(|o| (2..=8).contains(o));
    ExifFacts {
        gps: gps_position(&exif),
        orientation,
    }
}

fn gps_position(exif: &exif::Exif) -> Option<(f64, f64)> {
    let lat = gps_degrees(exif, Tag::GPSLatitude)?;
    let lon = gps_degrees(exif, Tag::GPSLongitude)?;
    // Without its reference a coordinate could be on the other side of the globe: no guessing.
    let lat = match gps_ref(exif, Tag::GPSLatitudeRef)? {
        b'N' => lat,
        b'S' => -lat,
        _ => return None,
    };
    let lon = match gps_ref(exif, Tag::GPSLongitudeRef)? {
        b'E' => lon,
        b'W' => -lon,
        _ => return None,
    };
    let valid = lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0;
    // Exactly (0, 0) is what some phones write without a fix, not a place in a municipality.
    (valid && (lat, lon) != (0.0, 0.0)).then_some((lon, lat))
}

/// Degrees from EXIF's degrees/minutes/seconds rationals (some writers give fewer parts).
fn gps_degrees(exif: &exif::Exif, tag: Tag) -> Option<f64> {
    let Value::Rational(parts) = &exif.get_field(tag, In::PRIMARY)?.value else {
        return None;
    };
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    // A zero denominator gives an infinity or NaN here, refused by the range check.
    Some(
        parts
            .iter()
            .zip([1.0, 60.0, 3600.0])
            .map(|(part, per_degree)| part.to_f64() / per_degree)
            .sum(),
    )
}

fn gps_ref(exif: &exif::Exif, tag: Tag) -> Option<u8> {
    let Value::Ascii(strings) = &exif.get_field(tag, In::PRIMARY)?.value else {
        return None;
    };
    Some(strings.first()?.first()?.to_ascii_uppercase())
}

/// The whole EXIF kept in a cleaned photo: a big-endian TIFF whose IFD0 holds only the
/// Orientation tag (0x0112, SHORT, count 1).
fn orientation_tiff(orientation: u16) -> [u8; 26] {
    let [hi, lo] = orientation.to_be_bytes();
    [
        b'M', b'M', 0, 42, // big-endian TIFF
        0, 0, 0, 8, // IFD0 right after the header
        0, 1, // one entry
        0x01, 0x12, 0, 3, 0, 0, 0, 1, hi, lo, 0, 0, // Orientation, SHORT, 1 value
        0, 0, 0, 0, // no next IFD (no thumbnail)
    ]
}

// --- JPEG -----------------------------------------------------------------------------------

/// Rebuilds a JPEG from its marker segments, keeping those needed to decode and colour it.
fn clean_jpeg(input: &[u8]) -> Result<CleanPhoto, PhotoError> {
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut pos = 2;
    let mut frame: Option<(u32, u32)> = None;
    let mut scans = 0usize;
    let mut exif_read = false;
    let mut gps = None;
    loop {
        let marker_at = pos;
        match input.get(pos) {
            Some(0xFF) => {}
            Some(other) => {
                return Err(damaged(format!(
                    "expected a JPEG marker at byte {pos}, found 0x{other:02X}"
                )));
            }
            None => {
                return Err(damaged(format!(
                    "the JPEG ends at byte {pos} without an end-of-image marker"
                )));
            }
        }
        // Any number of 0xFF fill bytes may precede a marker; they are not copied.
        while input.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = input.get(pos) else {
            return Err(damaged(format!(
                "the JPEG ends at byte {pos} without an end-of-image marker"
            )));
        };
        pos += 1;
        match marker {
            0x00 => {
                return Err(damaged(format!(
                    "stray 0xFF00 at byte {marker_at} outside the image data"
                )));
            }
            0xD8 => {
                return Err(damaged(format!(
                    "a second start-of-image marker at byte {marker_at}"
                )));
            }
            0xD9 => {
                // Whatever follows EOI (phone "motion photo" videos, appended archives) is
                // dropped with it.
                out.extend_from_slice(&[0xFF, 0xD9]);
                break;
            }
            // TEM and RSTn stand alone, without a length.
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&[0xFF, marker]);
                continue;
            }
            _ => {}
        }
        let past_end = || {
            damaged(format!(
                "JPEG segment at byte {marker_at} runs past the end of the file"
            ))
        };
        let length = input
            .get(pos..pos + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or_else(past_end)?;
        if length < 2 {
            return Err(damaged(format!(
                "JPEG segment at byte {marker_at} has an impossible length of {length}"
            )));
        }
        let end = pos + length;
        let payload = input.get(pos + 2..end).ok_or_else(past_end)?;
        // The segment as written (length and payload), without fill bytes before its marker.
        let body = &input[pos..end];
        let copy = |out: &mut Vec<u8>| {
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(body);
        };
        match marker {
            // SOF0..SOF15; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if frame.is_some() {
                    return Err(damaged(format!(
                        "a second JPEG frame header at byte {marker_at}"
                    )));
                }
                let [_precision, h1, h0, w1, w0, ..] = *payload else {
                    return Err(damaged(format!(
                        "the JPEG frame header at byte {marker_at} is too short"
                    )));
                };
                let height = u32::from(u16::from_be_bytes([h1, h0]));
                let width = u32::from(u16::from_be_bytes([w1, w0]));
                if width == 0 || height == 0 {
                    return Err(damaged(format!(
                        "the JPEG frame header at byte {marker_at} gives a size of \
                         {width}×{height} pixels"
                    )));
                }
                check_dimensions(width, height)?;
                frame = Some((width, height));
                copy(&mut out);
            }
            // SOS: the header, then entropy-coded data up to the next marker that is not RSTn.
            0xDA => {
                if frame.is_none() {
                    return Err(damaged(format!(
                        "JPEG image data at byte {marker_at} comes before the frame header"
                    )));
                }
                copy(&mut out);
                let data_end = entropy_end(input, end)?;
                out.extend_from_slice(&input[end..data_end]);
                scans += 1;
                pos = data_end;
                continue;
            }
            // APP0: only JFIF, and without its thumbnail (which may show what was cropped).
            0xE0 => {
                if let Some(jfif) = payload.get(..12).filter(|p| p.starts_with(b"JFIF\0")) {
                    out.extend_from_slice(&[0xFF, 0xE0, 0, 16]);
                    out.extend_from_slice(jfif);
                    out.extend_from_slice(&[0, 0]);
                }
            }
            // APP1: EXIF or XMP. Only the first EXIF is read (later ones are not what viewers
            // use), and at most its orientation is written back in its place.
            0xE1 => {
                if let Some(tiff) = payload.strip_prefix(b"Exif\0\0")
                    && !exif_read
                {
                    exif_read = true;
                    let facts = read_exif(tiff);
                    gps = facts.gps;
                    if let Some(orientation) = facts.orientation {
                        out.extend_from_slice(&[0xFF, 0xE1, 0, 34]);
                        out.extend_from_slice(b"Exif\0\0");
                        out.extend_from_slice(&orientation_tiff(orientation));
                    }
                }
            }
            // APP14 Adobe (the transform flag for CMYK/YCCK) is needed to decode the colours.
            0xEE if payload.starts_with(b"Adobe") => copy(&mut out),
            // Other APPn (an APP2 ICC profile, whose tags hold free text; MPF, IPTC,
            // Photoshop, Ducky, maker data …) and COM comments. Without a profile the pixels
            // are shown as sRGB, which is what phones mostly take.
            0xE2..=0xEF | 0xFE => {}
            // Tables (DQT, DHT, DAC), DRI, DNL and the rest are needed to decode.
            _ => copy(&mut out),
        }
        pos = end;
    }
    let Some((width, height)) = frame else {
        return Err(damaged(
            "the JPEG has no frame header (SOF), so its size is unknown".to_owned(),
        ));
    };
    if scans == 0 {
        return Err(damaged("the JPEG has no image data (SOS)".to_owned()));
    }
    Ok(CleanPhoto {
        media_type: "image/jpeg",
        bytes: out,
        width,
        height,
        gps,
    })
}

/// Where the entropy-coded data starting at `start` ends: at the 0xFF of the first marker that
/// is not a stuffed 0xFF00 or a restart marker RSTn.
fn entropy_end(input: &[u8], start: usize) -> Result<usize, PhotoError> {
    let mut at = start;
    while let Some(offset) = input
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
    {
        let ff = at + offset;
        let mut next = ff + 1;
        while input.get(next) == Some(&0xFF) {
            next += 1;
        }
        match input.get(next) {
            Some(0x00 | 0xD0..=0xD7) => at = next + 1,
            Some(_) => return Ok(ff),
            None => break,
        }
    }
    Err(damaged(format!(
        "the JPEG image data starting at byte {start} is cut off before the end-of-image \
         marker"
    )))
}

// --- PNG ------------------------------------------------------------------------------------

/// Rebuilds a PNG from its chunks, each CRC-checked, keeping those needed to render it.
fn clean_png(input: &[u8]) -> Result<CleanPhoto, PhotoError> {
    let mut kept: Vec<&[u8]> = Vec::new();
    let mut size: Option<(u32, u32)> = None;
    let mut has_data = false;
    let mut facts: Option<ExifFacts> = None;
    let mut pos = PNG_MAGIC.len();
    loop {
        let Some(header) = input.get(pos..pos + 8) else {
            return Err(damaged(if pos == input.len() {
                format!("the PNG ends at byte {pos} without an IEND chunk")
            } else {
                format!("PNG chunk header at byte {pos} runs past the end of the file")
            }));
        };
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(damaged(format!(
                "PNG chunk at byte {pos} has an invalid type {kind:02X?}"
            )));
        }
        let name = String::from_utf8_lossy(&kind).into_owned();
        if length > 0x7FFF_FFFF {
            return Err(damaged(format!(
                "PNG chunk \"{name}\" at byte {pos} has an impossible length"
            )));
        }
        let data_end = pos.saturating_add(8).saturating_add(length as usize);
        let Some(chunk) = input.get(pos..data_end.saturating_add(4)) else {
            return Err(damaged(format!(
                "PNG chunk \"{name}\" at byte {pos} runs past the end of the file"
            )));
        };
        let data = &input[pos + 8..data_end];
        let stored_crc = u32::from_be_bytes([
            input[data_end],
            input[data_end + 1],
            input[data_end + 2],
            input[data_end + 3],
        ]);
        if crc32fast::hash(&input[pos + 4..data_end]) != stored_crc {
            return Err(damaged(format!(
                "PNG chunk \"{name}\" at byte {pos} fails its checksum (CRC)"
            )));
        }
        if size.is_none() && &kind != b"IHDR" {
            return Err(damaged(format!(
                "the PNG starts with chunk \"{name}\" instead of the IHDR header"
            )));
        }
        match &kind {
            b"IHDR" => {
                if size.is_some() {
                    return Err(damaged(format!("a second PNG header (IHDR) at byte {pos}")));
                }
                let [w3, w2, w1, w0, h3, h2, h1, h0, _, _, _, _, _] = *data else {
                    return Err(damaged(format!(
                        "the PNG header (IHDR) at byte {pos} has {length} bytes instead of 13"
                    )));
                };
                let width = u32::from_be_bytes([w3, w2, w1, w0]);
                let height = u32::from_be_bytes([h3, h2, h1, h0]);
                if width == 0 || height == 0 {
                    return Err(damaged(format!(
                        "the PNG header (IHDR) gives a size of {width}×{height} pixels"
                    )));
                }
                check_dimensions(width, height)?;
                size = Some((width, height));
                kept.push(chunk);
            }
            b"IEND" => {
                // Anything after IEND is dropped.
                kept.push(chunk);
                break;
            }
            // Only the first eXIf is read; every one is dropped.
            b"eXIf" => {
                facts.get_or_insert_with(|| read_exif(data));
            }
            known if PNG_KEPT.contains(&known) => {
                has_data |= known == b"IDAT";
                kept.push(chunk);
            }
            // An uppercase first letter marks a chunk a viewer must understand: dropping it
            // could change the image, keeping it unchecked could carry anything.
            _ if kind[0].is_ascii_uppercase() => {
                return Err(PhotoError::UnknownPngChunk { name, at: pos });
            }
            _ => {}
        }
        pos = data_end + 4;
    }
    let Some((width, height)) = size else {
        return Err(damaged("the PNG has no header (IHDR)".to_owned()));
    };
    if !has_data {
        return Err(damaged("the PNG has no image data (IDAT)".to_owned()));
    }
    let facts = facts.unwrap_or_default();
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(PNG_MAGIC);
    for (i, chunk) in kept.iter().enumerate() {
        out.extend_from_slice(chunk);
        // Browsers honour eXIf orientation only before the image data: right after IHDR.
        if i == 0
            && let Some(orientation) = facts.orientation
        {
            write_png_chunk(&mut out, b"eXIf", &orientation_tiff(orientation));
        }
    }
    Ok(CleanPhoto {
        media_type: "image/png",
        bytes: out,
        width,
        height,
        gps: facts.gps,
    })
}

fn write_png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    // PNG limits chunk data to 2^31-1 bytes; only the 26-byte orientation EXIF is written here.
    let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_be_bytes());
    let crc_from = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[crc_from..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// The photo builder the integration tests use too (real encoder pixels, EXIF spliced in).
#[cfg(test)]
#[path = "../../tests/common/photo.rs"]
#[allow(dead_code)]
mod builder;

#[cfg(test)]
mod tests {
    use super::builder::{
        Gps, MAKE, MODEL, contains, decode, encode_jpeg, encode_png, exif_app1, gps_latitude_entry,
        jpeg_segment, png_chunk, rationals,
    };
    use super::*;
    use image::{ImageFormat, RgbImage};
    use rand::{Rng, SeedableRng};
    use std::io::Cursor;

    const LIMIT: usize = 10_000_000;
    /// Canaries planted in the metadata; none may appear in a cleaned photo.
    const TEXT_KEYWORD: &[u8] = b"CanaryAuthor";
    const XMP_CANARY: &[u8] = b"CanaryXmpLocation";
    const COMMENT_CANARY: &[u8] = b"CanaryComment";
    const TRAILER_CANARY: &[u8] = b"CanaryAfterEnd";
    /// 35° 59' 12.34" and 139° 5' 67.89", worked out by hand:
    /// 35 + 0.983333… + 0.003427777… and 139 + 0.083333… + 0.018858333….
    const LAT: f64 = 35.986_761_111_111_11;
    const LON: f64 = 139.102_191_666_666_67;

    fn picture() -> RgbImage {
        super::builder::picture(48, 32)
    }

    fn find(haystack: &[u8], needle: &[u8]) -> usize {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("needle present")
    }

    /// A TIFF as a phone writes it, with the position above in the given hemispheres.
    fn camera_exif(little: bool, orientation: u16, lat_ref: u8, lon_ref: u8) -> Vec<u8> {
        let gps = Gps {
            lat: [(35, 1), (59, 1), (1234, 100)],
            lat_ref,
            lon: [(139, 1), (5, 1), (6789, 100)],
            lon_ref,
        };
        super::builder::camera_exif(little, orientation, gps)
    }

    /// `segments` inserted right after SOI, and `trailer` after EOI.
    fn splice_jpeg(jpeg: &[u8], segments: &[Vec<u8>], trailer: &[u8]) -> Vec<u8> {
        [
            super::builder::splice_jpeg(jpeg, segments),
            trailer.to_vec(),
        ]
        .concat()
    }

    /// `chunks` inserted right after IHDR, and `trailer` after IEND.
    fn splice_png(png: &[u8], chunks: &[Vec<u8>], trailer: &[u8]) -> Vec<u8> {
        [super::builder::splice_png(png, chunks), trailer.to_vec()].concat()
    }

    fn assert_gps(gps: Option<(f64, f64)>, lon: f64, lat: f64) {
        let (got_lon, got_lat) = gps.expect("GPS read");
        assert!((got_lon - lon).abs() < 1e-9, "lon {got_lon} != {lon}");
        assert!((got_lat - lat).abs() < 1e-9, "lat {got_lat} != {lat}");
    }

    fn read_back_exif(bytes: &[u8]) -> Option<exif::Exif> {
        exif::Reader::new()
            .read_from_container(&mut Cursor::new(bytes))
            .ok()
    }

    fn assert_no_metadata(bytes: &[u8]) {
        for canary in [
            MAKE,
            MODEL,
            TEXT_KEYWORD,
            XMP_CANARY,
            COMMENT_CANARY,
            TRAILER_CANARY,
            b"GPSLatitude",
        ] {
            assert!(
                !contains(bytes, canary),
                "{} survived",
                String::from_utf8_lossy(canary)
            );
        }
        for little in [true, false] {
            assert!(!contains(bytes, &gps_latitude_entry(little)));
            assert!(!contains(bytes, &rationals(little, &[(1234, 100)])));
            assert!(!contains(bytes, &rationals(little, &[(6789, 100)])));
        }
        if let Some(exif) = read_back_exif(bytes) {
            for tag in [
                Tag::GPSLatitude,
                Tag::GPSLongitude,
                Tag::GPSLatitudeRef,
                Tag::Make,
                Tag::Model,
            ] {
                assert!(exif.get_field(tag, In::PRIMARY).is_none(), "{tag} survived");
            }
        }
    }

    #[test]
    fn jpeg_loses_its_metadata_but_keeps_its_pixels_and_gps_is_read() {
        let img = picture();
        let plain = encode_jpeg(&img);
        let xmp = [
            &b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><exif:GPSLatitude>35,59.2N</exif:GPSLatitude>"[..],
            XMP_CANARY,
            b"</x:xmpmeta>",
        ]
        .concat();
        let upload = splice_jpeg(
            &plain,
            &[
                exif_app1(&camera_exif(true, 1, b'N', b'E')),
                jpeg_segment(0xE1, &xmp),
                jpeg_segment(0xED, &[&b"Photoshop 3.0\0"[..], COMMENT_CANARY].concat()),
                jpeg_segment(0xFE, COMMENT_CANARY),
            ],
            TRAILER_CANARY,
        );
        let photo = clean(&upload, LIMIT).expect("clean");
        assert_eq!(photo.media_type, "image/jpeg");
        assert_eq!((photo.width, photo.height), (48, 32));
        assert_gps(photo.gps, LON, LAT);
        assert_no_metadata(&photo.bytes);
        // Orientation 1 needs no EXIF at all.
        assert!(!contains(&photo.bytes, b"Exif\0\0"));
        assert!(read_back_exif(&photo.bytes).is_none());
        assert!(photo.bytes.ends_with(&[0xFF, 0xD9]));
        let original = decode(&plain, ImageFormat::Jpeg);
        let cleaned = decode(&photo.bytes, ImageFormat::Jpeg);
        assert_eq!(cleaned.dimensions(), original.dimensions());
        assert_eq!(cleaned.as_raw(), original.as_raw());
    }

    #[test]
    fn south_and_west_give_negative_degrees_in_either_byte_order() {
        let plain = encode_jpeg(&picture());
        for little in [true, false] {
            let upload = splice_jpeg(
                &plain,
                &[exif_app1(&camera_exif(little, 1, b'S', b'W'))],
                b"",
            );
            assert_gps(clean(&upload, LIMIT).expect("clean").gps, -LON, -LAT);
        }
        let png = splice_png(
            &encode_png(&picture()),
            &[png_chunk(b"eXIf", &camera_exif(false, 1, b'N', b'W'))],
            b"",
        );
        assert_gps(clean(&png, LIMIT).expect("clean").gps, -LON, LAT);
    }

    #[test]
    fn unusable_gps_is_none_and_does_not_refuse_the_photo() {
        let plain = encode_jpeg(&picture());
        // A reference letter that is neither N nor S.
        let upload = splice_jpeg(&plain, &[exif_app1(&camera_exif(true, 1, b'X', b'E'))], b"");
        assert_eq!(clean(&upload, LIMIT).expect("clean").gps, None);
        // Latitude 35°59'12.34" made into 135°: out of range.
        let mut tiff = camera_exif(true, 1, b'N', b'E');
        let at = find(&tiff, &rationals(true, &[(35, 1)]));
        tiff[at] = 135;
        let upload = splice_jpeg(&plain, &[exif_app1(&tiff)], b"");
        assert_eq!(clean(&upload, LIMIT).expect("clean").gps, None);
        // A zero denominator.
        let mut tiff = camera_exif(true, 1, b'N', b'E');
        let at = find(&tiff, &rationals(true, &[(1234, 100)]));
        tiff[at + 4] = 0;
        let upload = splice_jpeg(&plain, &[exif_app1(&tiff)], b"");
        assert_eq!(clean(&upload, LIMIT).expect("clean").gps, None);
        // EXIF that is not TIFF at all.
        let upload = splice_jpeg(&plain, &[exif_app1(b"garbage, not a TIFF")], b"");
        let photo = clean(&upload, LIMIT).expect("clean");
        assert_eq!(photo.gps, None);
        assert!(!contains(&photo.bytes, b"garbage"));
    }

    #[test]
    fn orientation_survives_as_the_only_exif_field() {
        let img = picture();
        let jpeg = splice_jpeg(
            &encode_jpeg(&img),
            &[exif_app1(&camera_exif(true, 6, b'N', b'E'))],
            b"",
        );
        let png = splice_png(
            &encode_png(&img),
            &[png_chunk(b"eXIf", &camera_exif(true, 6, b'N', b'E'))],
            b"",
        );
        for (upload, format) in [(jpeg, ImageFormat::Jpeg), (png, ImageFormat::Png)] {
            let photo = clean(&upload, LIMIT).expect("clean");
            assert_gps(photo.gps, LON, LAT);
            assert_no_metadata(&photo.bytes);
            let exif = read_back_exif(&photo.bytes).expect("orientation EXIF written back");
            let fields: Vec<_> = exif.fields().collect();
            assert_eq!(fields.len(), 1, "{format:?}");
            assert_eq!(fields[0].tag, Tag::Orientation);
            assert_eq!(fields[0].value.get_uint(0), Some(6));
            assert!(contains(&photo.bytes, &orientation_tiff(6)));
            assert_eq!(decode(&photo.bytes, format).dimensions(), (48, 32));
        }
    }

    #[test]
    fn png_keeps_rendering_chunks_and_exact_pixels_and_drops_text() {
        let img = picture();
        let plain = encode_png(&img);
        let gamma = png_chunk(b"gAMA", &45455u32.to_be_bytes());
        let phys = png_chunk(b"pHYs", &[0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1]);
        let upload = splice_png(
            &plain,
            &[
                png_chunk(b"eXIf", &camera_exif(false, 1, b'N', b'E')),
                gamma.clone(),
                png_chunk(b"tEXt", &[TEXT_KEYWORD, b"\0Taro Yamada"].concat()),
                png_chunk(b"iTXt", &[XMP_CANARY, b"\0\0\0\0\0x"].concat()),
                png_chunk(b"tIME", &[0x07, 0xE8, 1, 2, 3, 4, 5]),
                png_chunk(b"prVt", COMMENT_CANARY),
                png_chunk(
                    b"iCCP",
                    &[b"icc\0\0"[..].to_vec(), COMMENT_CANARY.to_vec()].concat(),
                ),
                phys.clone(),
            ],
            TRAILER_CANARY,
        );
        let photo = clean(&upload, LIMIT).expect("clean");
        assert_eq!(photo.media_type, "image/png");
        assert_eq!((photo.width, photo.height), (48, 32));
        assert_gps(photo.gps, LON, LAT);
        assert_no_metadata(&photo.bytes);
        for dropped in [&b"eXIf"[..], b"tEXt", b"iTXt", b"tIME", b"prVt", b"iCCP"] {
            assert!(!contains(&photo.bytes, dropped));
        }
        assert!(contains(&photo.bytes, &gamma));
        assert!(contains(&photo.bytes, &phys));
        assert!(photo.bytes.ends_with(&png_chunk(b"IEND", b"")));
        assert!(read_back_exif(&photo.bytes).is_none());
        assert_eq!(decode(&photo.bytes, ImageFormat::Png), img);
    }

    #[test]
    fn jpeg_keeps_the_adobe_segment_and_drops_the_rest_with_the_icc_profile() {
        let plain = encode_jpeg(&picture());
        // Free text rides in an ICC profile's tags as easily as in a comment.
        let icc = jpeg_segment(
            0xE2,
            &[&b"ICC_PROFILE\0\x01\x01"[..], COMMENT_CANARY].concat(),
        );
        // Adobe with transform 1 (YCbCr), as the image really is.
        let adobe = jpeg_segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01");
        let jfif_with_thumbnail = jpeg_segment(
            0xE0,
            &[&b"JFIF\0\x01\x02\0\0\x48\0\x48\x01\x01"[..], COMMENT_CANARY].concat(),
        );
        let upload = splice_jpeg(
            &plain,
            &[
                icc.clone(),
                jpeg_segment(0xE2, &[&b"MPF\0"[..], COMMENT_CANARY].concat()),
                jpeg_segment(0xEC, &[&b"Ducky\0"[..], COMMENT_CANARY].concat()),
                jpeg_segment(0xE3, COMMENT_CANARY),
                jpeg_segment(0xEF, COMMENT_CANARY),
                adobe.clone(),
                jfif_with_thumbnail,
            ],
            b"",
        );
        let photo = clean(&upload, LIMIT).expect("clean");
        assert!(!contains(&photo.bytes, b"ICC_PROFILE"));
        assert!(contains(&photo.bytes, &adobe));
        assert!(!contains(&photo.bytes, COMMENT_CANARY));
        assert!(contains(
            &photo.bytes,
            &jpeg_segment(0xE0, b"JFIF\0\x01\x02\0\0\x48\0\x48\0\0")
        ));
        assert_eq!(
            decode(&photo.bytes, ImageFormat::Jpeg).as_raw(),
            decode(&upload, ImageFormat::Jpeg).as_raw()
        );
    }

    #[test]
    fn entropy_data_with_stuffing_and_restarts_is_copied_and_fill_bytes_dropped() {
        let sof = jpeg_segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        let sos = jpeg_segment(0xDA, &[1, 1, 0, 0, 0x3F, 0]);
        let data = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56];
        let upload = [
            &[0xFF, 0xD8][..],
            &sof,
            &[0xFF, 0xFF, 0xFF][..], // fill bytes before a marker
            &sos,
            &data,
            &[0xFF, 0xFF, 0xD9],
            TRAILER_CANARY,
        ]
        .concat();
        let photo = clean(&upload, LIMIT).expect("clean");
        let expected = [&[0xFF, 0xD8][..], &sof, &sos, &data, &[0xFF, 0xD9]].concat();
        assert_eq!(photo.bytes, expected);
        assert_eq!((photo.width, photo.height), (1, 1));
    }

    fn refused(bytes: &[u8]) -> PhotoError {
        clean(bytes, LIMIT).expect_err("refused")
    }

    #[test]
    fn other_content_is_refused_whatever_it_is_called() {
        for (bytes, found) in [
            (&b"Report: the road by the school is flooded.\n"[..], "a text file"),
            (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9", "a GIF image"),
            (
                b"<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>",
                "an HTML page",
            ),
            (b"\xef\xbb\xbf  <?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>", "an SVG image"),
            (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
            (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "a HEIC/HEIF image"),
            (b"\x00\x01\x02\x03\x04\x05", "content of an unknown type"),
        ] {
            let error = refused(bytes);
            assert_eq!(error, PhotoError::NotJpegOrPng { found: describe(bytes) });
            let message = error.to_string();
            assert!(message.starts_with(&format!(
                "only JPEG and PNG photos are accepted; this file is {found}"
            )), "{message}");
        }
        assert_eq!(refused(b"").to_string(), "the photo is empty (0 bytes)");
        let mut png = encode_png(&picture());
        png[4] = b'\n'; // CRLF converted to LF
        assert!(
            refused(&png)
                .to_string()
                .contains("PNG signature is damaged")
        );
    }

    #[test]
    fn truncated_jpeg_says_where() {
        let plain = encode_jpeg(&picture());
        let sos = find(&plain, &[0xFF, 0xDA]);
        let sos_end = sos + 2 + usize::from(u16::from_be_bytes([plain[sos + 2], plain[sos + 3]]));
        let middle = (sos_end + plain.len() - 2) / 2;
        assert_eq!(
            refused(&plain[..middle]).to_string(),
            format!(
                "the photo is damaged or incomplete: the JPEG image data starting at byte \
                 {sos_end} is cut off before the end-of-image marker"
            )
        );
        let dqt = find(&plain, &[0xFF, 0xDB]);
        for cut in [dqt + 1, dqt + 3, dqt + 10] {
            assert_eq!(
                refused(&plain[..cut]).to_string(),
                if cut == dqt + 1 {
                    format!(
                        "the photo is damaged or incomplete: the JPEG ends at byte {cut} \
                         without an end-of-image marker"
                    )
                } else {
                    format!(
                        "the photo is damaged or incomplete: JPEG segment at byte {dqt} runs \
                         past the end of the file"
                    )
                }
            );
        }
        // Without EOI, cut exactly after the image data.
        assert!(matches!(
            refused(&plain[..plain.len() - 2]),
            PhotoError::Damaged(m) if m.contains("cut off before the end-of-image marker")
        ));
        // No frame header at all.
        let no_sof = [
            &[0xFF, 0xD8][..],
            &jpeg_segment(0xDB, &[0; 65]),
            &[0xFF, 0xD9],
        ]
        .concat();
        assert!(
            refused(&no_sof)
                .to_string()
                .contains("no frame header (SOF)")
        );
    }

    #[test]
    fn png_with_a_bad_crc_or_unknown_critical_chunk_is_refused() {
        let plain = encode_png(&picture());
        let idat = find(&plain, b"IDAT") - 4;
        let mut bad = plain.clone();
        bad[idat + 10] ^= 0x01;
        assert_eq!(
            refused(&bad).to_string(),
            format!(
                "the photo is damaged or incomplete: PNG chunk \"IDAT\" at byte {idat} fails \
                 its checksum (CRC)"
            )
        );
        let upload = splice_png(&plain, &[png_chunk(b"ABCD", b"x")], b"");
        assert_eq!(
            refused(&upload),
            PhotoError::UnknownPngChunk {
                name: "ABCD".to_owned(),
                at: 33
            }
        );
        assert!(
            refused(&plain[..plain.len() - 12])
                .to_string()
                .contains("without an IEND chunk")
        );
        let iend = plain.len() - 12;
        assert_eq!(
            refused(&plain[..plain.len() - 5]).to_string(),
            format!(
                "the photo is damaged or incomplete: PNG chunk header at byte {iend} runs past \
                 the end of the file"
            )
        );
        assert_eq!(
            refused(&plain[..plain.len() - 3]).to_string(),
            format!(
                "the photo is damaged or incomplete: PNG chunk \"IEND\" at byte {iend} runs \
                 past the end of the file"
            )
        );
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        // Not a photo at all: only the size check can have refused it.
        let zeros = vec![0u8; 12_345_678];
        let error = clean(&zeros, 10_000_000).expect_err("too large");
        assert_eq!(
            error,
            PhotoError::TooLarge {
                size: 12_345_678,
                limit: 10_000_000
            }
        );
        assert_eq!(
            error.to_string(),
            "the photo is 12.4 MB; photos may be at most 10 MB"
        );
        let just_over = vec![0u8; 10_000_001];
        assert_eq!(
            clean(&just_over, 10_000_000)
                .expect_err("too large")
                .to_string(),
            "the photo is 10.1 MB; photos may be at most 10 MB"
        );
        let jpeg = encode_jpeg(&picture());
        assert!(matches!(
            clean(&jpeg, jpeg.len() - 1),
            Err(PhotoError::TooLarge { .. })
        ));
        assert!(clean(&jpeg, jpeg.len()).is_ok());
    }

    #[test]
    fn huge_dimensions_are_refused_from_the_header() {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&50_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        // Only the header: the claim alone must be enough to refuse.
        let bomb = [PNG_MAGIC, &png_chunk(b"IHDR", &ihdr)].concat();
        let error = refused(&bomb);
        assert_eq!(
            error,
            PhotoError::TooManyPixels {
                width: 50_000,
                height: 50_000
            }
        );
        assert!(error.to_string().contains("50000×50000 pixels"));
        // 20001 wide is refused although it is far below 100 megapixels.
        let sof = jpeg_segment(0xC2, &[8, 0, 10, 0x4E, 0x21, 1, 1, 0x11, 0]);
        let jpeg = [&[0xFF, 0xD8][..], &sof].concat();
        assert_eq!(
            refused(&jpeg),
            PhotoError::TooManyPixels {
                width: 20_001,
                height: 10
            }
        );
        assert!(check_dimensions(20_000, 5_000).is_ok());
        assert!(check_dimensions(10_001, 10_000).is_err());
    }

    /// Recomputes the CRC of every chunk whose length fits, so that mutations reach the chunk
    /// checks behind the CRC.
    fn fix_crcs(png: &mut [u8]) {
        let mut pos = 8;
        while let Some(header) = png.get(pos..pos + 8) {
            let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let Some(data_end) = pos.checked_add(8 + length) else {
                return;
            };
            if data_end + 4 > png.len() {
                return;
            }
            let crc = crc32fast::hash(&png[pos + 4..data_end]);
            png[data_end..data_end + 4].copy_from_slice(&crc.to_be_bytes());
            pos = data_end + 4;
        }
    }

    fn mutate(rng: &mut rand::rngs::StdRng, base: &[u8]) -> Vec<u8> {
        let mut bytes = base.to_vec();
        for _ in 0..rng.random_range(1..=3) {
            let len = bytes.len();
            match rng.random_range(0..5) {
                0 => bytes.truncate(rng.random_range(0..=len)),
                1 if len > 0 => {
                    let at = rng.random_range(0..len);
                    bytes[at] = rng.random();
                }
                // Bytes that mean something to the parsers: markers, fill, lengths.
                2 if len > 0 => {
                    let at = rng.random_range(0..len);
                    bytes[at] = [0x00, 0xFF, 0xD9, 0xDA, 0xE1, 0x7F, 0x80][rng.random_range(0..7)];
                }
                3 if len > 0 => {
                    let from = rng.random_range(0..len);
                    let to = rng.random_range(from..=len.min(from + 64));
                    bytes.drain(from..to);
                }
                _ => {
                    let at = rng.random_range(0..=len);
                    let junk: Vec<u8> =
                        (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
                    bytes.splice(at..at, junk);
                }
            }
        }
        bytes
    }

    #[test]
    fn mutated_uploads_never_panic_and_cleaning_is_idempotent() {
        let img = picture();
        let jpeg = splice_jpeg(
            &encode_jpeg(&img),
            &[
                exif_app1(&camera_exif(true, 6, b'N', b'E')),
                jpeg_segment(0xFE, COMMENT_CANARY),
            ],
            b"",
        );
        let png = splice_png(
            &encode_png(&img),
            &[
                png_chunk(b"eXIf", &camera_exif(false, 8, b'S', b'W')),
                png_chunk(b"tEXt", &[TEXT_KEYWORD, b"\0x"].concat()),
            ],
            b"",
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x9e0_7a6);
        let (mut cleaned, mut refused) = (0, 0);
        for i in 0..2000 {
            let mut upload = mutate(&mut rng, if i % 2 == 0 { &jpeg } else { &png });
            if i % 4 == 1 {
                fix_crcs(&mut upload);
            }
            match clean(&upload, LIMIT) {
                Ok(photo) => {
                    cleaned += 1;
                    let again = clean(&photo.bytes, LIMIT).expect("a cleaned photo cleans");
                    assert_eq!(again.bytes, photo.bytes, "case {i} is not idempotent");
                    assert_eq!((again.width, again.height), (photo.width, photo.height));
                }
                Err(error) => {
                    refused += 1;
                    assert!(!error.to_string().is_empty());
                }
            }
        }
        // Both outcomes must really have been exercised.
        assert!(
            cleaned > 100 && refused > 100,
            "{cleaned} cleaned, {refused} refused"
        );
    }
}
