//! Photos as phones make them, for tests of what the server stores and serves: real JPEG and
//! PNG pixels from the `image` encoder with an EXIF block spliced in (camera make and model,
//! orientation and a GPS position), and checks that none of that metadata is left in a file.
//! Built here byte by byte after the TIFF/EXIF and PNG specifications, independently of the
//! server's own cleaning code.

use std::io::Cursor;

use exif::{Context, In, Tag};
use image::{ExtendedColorType, ImageEncoder, ImageFormat, Rgb, RgbImage};

/// Canaries planted as the camera's make and model; neither may survive.
pub const MAKE: &[u8] = b"CanaryPhoneMaker-5d1e";
pub const MODEL: &[u8] = b"CanaryPhoneModel-c07b";

/// A GPS position as EXIF writes it: degrees, minutes and seconds as rationals.
#[derive(Clone, Copy)]
pub struct Gps {
    pub lat: [(u32, u32); 3],
    pub lat_ref: u8,
    pub lon: [(u32, u32); 3],
    pub lon_ref: u8,
}

/// A test picture with some structure, so the JPEG has real entropy-coded data.
pub fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 5) as u8, (y * 7) as u8, ((x * y) % 251) as u8])
    })
}

pub fn encode_jpeg(img: &RgbImage) -> Vec<u8> {
    let mut buf = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("encode jpeg");
    buf
}

pub fn encode_png(img: &RgbImage) -> Vec<u8> {
    let mut buf = Vec::new();
    image::codecs::png::PngEncoder::new(&mut buf)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgb8,
        )
        .expect("encode png");
    buf
}

/// Decodes `bytes` as `format`; panics if it does not decode.
pub fn decode(bytes: &[u8], format: ImageFormat) -> RgbImage {
    image::load_from_memory_with_format(bytes, format)
        .unwrap_or_else(|e| panic!("does not decode as {format:?}: {e}"))
        .to_rgb8()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn u16_bytes(little: bool, v: u16) -> [u8; 2] {
    if little {
        v.to_le_bytes()
    } else {
        v.to_be_bytes()
    }
}

fn u32_bytes(little: bool, v: u32) -> [u8; 4] {
    if little {
        v.to_le_bytes()
    } else {
        v.to_be_bytes()
    }
}

/// RATIONAL values as a TIFF in this byte order stores them.
pub fn rationals(little: bool, parts: &[(u32, u32)]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|&(n, d)| [u32_bytes(little, n), u32_bytes(little, d)].concat())
        .collect()
}

/// The GPS latitude IFD entry's head (tag 2, RATIONAL, count 3) in this byte order.
pub fn gps_latitude_entry(little: bool) -> Vec<u8> {
    [
        &u16_bytes(little, 2)[..],
        &u16_bytes(little, 5),
        &u32_bytes(little, 3),
    ]
    .concat()
}

/// A TIFF as a phone writes it: IFD0 with Make, Model, Orientation and a pointer to a GPS IFD
/// with latitude and longitude and their references.
pub fn camera_exif(little: bool, orientation: u16, gps: Gps) -> Vec<u8> {
    let ascii = |s: &[u8]| [s, b"\0"].concat();
    let ifd_len = |entries: usize| 2 + 12 * entries + 4;
    let gps_at = 8 + ifd_len(4);
    let data_at = gps_at + ifd_len(4);
    // (tag, type, count, value in the file's byte order)
    let ifd0: Vec<(u16, u16, u32, Vec<u8>)> = vec![
        (0x010F, 2, MAKE.len() as u32 + 1, ascii(MAKE)),
        (0x0110, 2, MODEL.len() as u32 + 1, ascii(MODEL)),
        (0x0112, 3, 1, u16_bytes(little, orientation).to_vec()),
        (0x8825, 4, 1, u32_bytes(little, gps_at as u32).to_vec()),
    ];
    let gps_ifd: Vec<(u16, u16, u32, Vec<u8>)> = vec![
        (0x0001, 2, 2, vec![gps.lat_ref, 0]),
        (0x0002, 5, 3, rationals(little, &gps.lat)),
        (0x0003, 2, 2, vec![gps.lon_ref, 0]),
        (0x0004, 5, 3, rationals(little, &gps.lon)),
    ];
    let mut out = if little {
        b"II*\0".to_vec()
    } else {
        b"MM\0*".to_vec()
    };
    out.extend_from_slice(&u32_bytes(little, 8));
    let mut data = Vec::new();
    for ifd in [ifd0, gps_ifd] {
        out.extend_from_slice(&u16_bytes(little, ifd.len() as u16));
        for (tag, kind, count, value) in ifd {
            out.extend_from_slice(&u16_bytes(little, tag));
            out.extend_from_slice(&u16_bytes(little, kind));
            out.extend_from_slice(&u32_bytes(little, count));
            if value.len() <= 4 {
                let mut inline = value.clone();
                inline.resize(4, 0);
                out.extend_from_slice(&inline);
            } else {
                let at = (data_at + data.len()) as u32;
                out.extend_from_slice(&u32_bytes(little, at));
                data.extend_from_slice(&value);
                if data.len() % 2 == 1 {
                    data.push(0);
                }
            }
        }
        out.extend_from_slice(&u32_bytes(little, 0));
    }
    assert_eq!(out.len(), data_at);
    out.extend_from_slice(&data);
    out
}

pub fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).expect("segment fits");
    [&[0xFF, marker][..], &length.to_be_bytes(), payload].concat()
}

/// The APP1 segment holding `tiff` as EXIF.
pub fn exif_app1(tiff: &[u8]) -> Vec<u8> {
    jpeg_segment(0xE1, &[&b"Exif\0\0"[..], tiff].concat())
}

/// `segments` inserted right after SOI.
pub fn splice_jpeg(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    for segment in segments {
        out.extend_from_slice(segment);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[4..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// `chunks` inserted right after IHDR (signature 8 bytes, IHDR 12 + 13).
pub fn splice_png(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let after_ihdr = 8 + 12 + 13;
    assert_eq!(&png[12..16], b"IHDR");
    let mut out = png[..after_ihdr].to_vec();
    for chunk in chunks {
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&png[after_ihdr..]);
    out
}

/// The EXIF fields the `exif` crate finds in a JPEG or PNG, or none when it finds no EXIF.
pub fn exif_fields(bytes: &[u8]) -> Vec<(Tag, Option<u32>)> {
    match exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => exif
            .fields()
            .map(|f| (f.tag, f.value.get_uint(0)))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Asserts that `bytes` carry none of what `camera_exif(…, gps)` planted: no GPS field the
/// `exif` crate can find, no make or model, and neither the GPS IFD entries nor the position's
/// rationals in either byte order anywhere in the file.
pub fn assert_no_camera_metadata(bytes: &[u8], gps: Gps, what: &str) {
    let fields = exif_fields(bytes);
    for (tag, _) in &fields {
        assert!(
            tag.context() != Context::Gps && *tag != Tag::GPSInfoIFDPointer,
            "{what}: GPS field {tag} survived"
        );
        assert!(
            !matches!(*tag, Tag::Make | Tag::Model),
            "{what}: {tag} survived"
        );
    }
    if let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        assert!(exif.get_field(Tag::GPSLatitude, In::PRIMARY).is_none());
        assert!(exif.get_field(Tag::GPSLongitude, In::PRIMARY).is_none());
    }
    for canary in [MAKE, MODEL] {
        assert!(
            !contains(bytes, canary),
            "{what}: {} survived",
            String::from_utf8_lossy(canary)
        );
    }
    for little in [true, false] {
        assert!(
            !contains(bytes, &gps_latitude_entry(little)),
            "{what}: the GPS latitude entry survived"
        );
        assert!(
            !contains(bytes, &rationals(little, &gps.lat)),
            "{what}: the latitude's rationals survived"
        );
        assert!(
            !contains(bytes, &rationals(little, &gps.lon)),
            "{what}: the longitude's rationals survived"
        );
    }
}

/// The image's width and height, read from the bytes by the `image` decoder.
pub fn dimensions(bytes: &[u8], format: ImageFormat) -> (u32, u32) {
    decode(bytes, format).dimensions()
}
