//! Residents' reports against the real `machimap serve` binary over real sockets, with the edit
//! store in a test folder:
//!
//! - a phone photo's GPS position becomes the report's place, but neither it nor the camera's
//!   make and model is left in the photo the GeoPackage stores, staff are served, or the public
//!   view serves once approved (JPEG with EXIF; PNG with eXIf and tEXt);
//! - a 20 MB photo, a text file named `.jpg` and a truncated JPEG are each refused with a clear
//!   4xx, and the GeoPackage is byte-for-byte as it was in every table they could touch;
//! - the staff's live stream (SSE) shows a new report within one second, filters by category,
//!   and after a reconnect with `Last-Event-ID` delivers what was missed, nothing twice;
//! - the public view's stream says nothing about a report until staff make it public, and then
//!   only the view's attributes.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use axum::http::Method;
use exif::Tag;
use image::ImageFormat;
use machimap::edit_store::EditStore;
use serde_json::{Value as Json, json};

use common::Response;
use common::geojson::id_text;
use common::multipart::{Part, multipart};
use common::photo::{
    Gps, assert_no_camera_metadata, camera_exif, contains, decode, dimensions, encode_jpeg,
    encode_png, exif_app1, exif_fields, jpeg_segment, picture, png_chunk, splice_jpeg, splice_png,
};
use common::server::Server;
use common::sse::{EventStream, SseEvent};
use common::town::Town;

/// 36°1'12.5" N, 139°6'30.25" E as a phone writes it.
const JPEG_GPS: Gps = Gps {
    lat: [(36, 1), (1, 1), (1250, 100)],
    lat_ref: b'N',
    lon: [(139, 1), (6, 1), (3025, 100)],
    lon_ref: b'E',
};
/// The same position in degrees, by hand: 36 + 1/60 + 12.5/3600 and 139 + 6/60 + 30.25/3600.
const JPEG_LAT: f64 = 36.020_138_888_888_89;
const JPEG_LON: f64 = 139.108_402_777_777_77;

/// 35°59'30" N, 139°4'48" E: 35 + 59/60 + 30/3600 and 139 + 4/60 + 48/3600.
const PNG_GPS: Gps = Gps {
    lat: [(35, 1), (59, 1), (30, 1)],
    lat_ref: b'N',
    lon: [(139, 1), (4, 1), (48, 1)],
    lon_ref: b'E',
};
const PNG_LAT: f64 = 35.991_666_666_666_67;
const PNG_LON: f64 = 139.08;

/// A place in the town for reports located on the map.
const LON: f64 = 139.1;
const LAT: f64 = 36.01;

/// The attributes of the public view `reports-public` (data/catalog.toml).
const VIEW_ATTRIBUTES: [&str; 5] = ["種別", "状況", "対応内容", "受付日", "更新日"];

/// The real server with its stores in a temporary folder and a disaster-office clerk signed
/// in, with what the report tests ask of it.
struct Desk {
    server: Server,
    /// `Bearer …` of the clerk (roles staff, disaster).
    staff: String,
}

impl Desk {
    fn start() -> Desk {
        let server = Server::builder().user("sato", "staff,disaster").start();
        let staff = format!("Bearer {}", server.login("sato"));
        Desk { server, staff }
    }

    fn addr(&self) -> &str {
        &self.server.addr
    }

    /// An anonymous request.
    fn anonymous(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.server.request(method, path, None, headers, body)
    }

    /// A request as the clerk.
    fn as_staff(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        let mut all = vec![("Authorization", self.staff.as_str())];
        all.extend_from_slice(headers);
        self.server.request(method, path, None, &all, body)
    }

    /// A resident's report sent as JSON, located on the map; returns the answer's document.
    fn report(&self, category: &str, description: &str) -> Json {
        self.report_at(category, description, LON, LAT)
    }

    /// A resident's report at (`lon`, `lat`).
    fn report_at(&self, category: &str, description: &str, lon: f64, lat: f64) -> Json {
        let body = json!({
            "category": category,
            "description": description,
            "lon": lon,
            "lat": lat,
        });
        let r = self.anonymous(
            "POST",
            "/reports",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        );
        assert_eq!(r.status, 201, "report {description}: {}", r.text());
        r.json()
    }

    /// The damage-reports features as staff see them.
    fn staff_items(&self) -> Json {
        let r = self.as_staff(
            "GET",
            "/collections/damage-reports/items?limit=1000",
            &[],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// The id of the report whose description is `description`, found as staff would.
    fn fid_of(&self, description: &str) -> String {
        let items = self.staff_items();
        let found: Vec<String> = items["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["properties"]["内容"] == description)
            .map(|f| id_text(&f["id"]))
            .collect();
        assert_eq!(found.len(), 1, "one report says {description}: {items}");
        found[0].clone()
    }

    /// The id the public view gives report `fid`: the view's only feature at the same place
    /// (view ids are opaque, not the report numbers).
    fn public_id_of(&self, fid: &str) -> String {
        let staff = self.as_staff(
            "GET",
            &format!("/collections/damage-reports/items/{fid}"),
            &[],
            b"",
        );
        assert_eq!(staff.status, 200, "{}", staff.text());
        let place = serde_json::from_str::<Json>(&staff.text()).unwrap()["geometry"].clone();
        let public = self.anonymous(
            "GET",
            "/collections/reports-public/items?limit=1000",
            &[],
            b"",
        );
        assert_eq!(public.status, 200, "{}", public.text());
        let doc: Json = serde_json::from_str(&public.text()).unwrap();
        let found: Vec<String> = doc["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["geometry"] == place)
            .map(|f| id_text(&f["id"]))
            .collect();
        assert_eq!(found.len(), 1, "one public report at {place}: {doc}");
        assert_ne!(found[0], fid, "the view's ids are not the report numbers");
        found[0].clone()
    }

    /// The ETag staff read for report `fid`.
    fn etag_of(&self, fid: &str) -> String {
        let item = format!("/collections/damage-reports/items/{fid}");
        let got = self.as_staff("GET", &item, &[], b"");
        assert_eq!(got.status, 200, "{}", got.text());
        got.header("etag").expect("an ETag").to_string()
    }

    /// Moves report `fid` to workflow state `state`, as staff do with its ETag.
    fn set_state(&self, fid: &str, state: &str) {
        staff_patch(self, fid, json!({ "状況": state }));
    }

    /// The edit store, opened beside the running server (WAL allows a second reader).
    fn store(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.server.var.join("edits.gpkg"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// Photo `n` of report `fid` as the GeoPackage holds it: (bytes, media type, width,
    /// height, public).
    fn stored_photo(&self, fid: &str, n: i64) -> (Vec<u8>, String, u32, u32, bool) {
        self.store()
            .query_row(
                "SELECT bytes, media_type, width, height, public FROM machimap_photo
                 WHERE layer = 'damage-reports' AND fid = ?1 AND n = ?2",
                rusqlite::params![fid.parse::<i64>().unwrap(), n],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap()
    }

    /// What a refused upload must not change: row counts, largest ids and content sizes of the
    /// report table and every side table a report writes, and the AUTOINCREMENT counters.
    fn snapshot(&self) -> Vec<String> {
        let db = self.store();
        let mut out = Vec::new();
        for (table, id, size) in [
            ("\"damage-reports\"", "fid", "0"),
            ("machimap_feature", "rowid", "0"),
            ("machimap_photo", "rowid", "length(bytes)"),
            ("machimap_history", "seq", "length(\"after\")"),
            ("machimap_receipt", "rowid", "0"),
            ("machimap_idempotency", "rowid", "0"),
        ] {
            let row: (i64, i64, i64) = db
                .query_row(
                    &format!(
                        "SELECT count(*), coalesce(max({id}), 0), coalesce(sum({size}), 0) \
                         FROM {table}"
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            out.push(format!("{table}: {row:?}"));
        }
        let mut q = db
            .prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name")
            .unwrap();
        let counters = q
            .query_map([], |r| {
                Ok(format!(
                    "{}={}",
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?
                ))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        out.push(format!("sqlite_sequence: {counters:?}"));
        out
    }
}

/// `POST /reports` with a multipart form.
fn post_form(t: &Desk, parts: &[Part]) -> Response {
    let (content_type, body) = multipart(parts);
    t.anonymous(
        "POST",
        "/reports",
        &[("Content-Type", &content_type)],
        &body,
    )
}

fn assert_close(got: &Json, want: f64, what: &str) {
    let got = got
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {got}"));
    assert!((got - want).abs() < 1e-6, "{what}: {got} != {want}");
}

/// Asserts what a cleaned photo must be: none of the planted metadata, and still an image of
/// the size that was sent.
fn assert_clean(bytes: &[u8], gps: Gps, format: ImageFormat, size: (u32, u32), what: &str) {
    assert_no_camera_metadata(bytes, gps, what);
    assert_eq!(dimensions(bytes, format), size, "{what}: size");
}

/// Sends a report with one photo and no lon/lat: it must be placed where the photo's GPS
/// says. Returns the report's fid.
fn report_placed_by_photo(
    t: &Desk,
    category: &str,
    description: &str,
    photo: Part<'_>,
    (lon, lat): (f64, f64),
) -> String {
    let r = post_form(
        t,
        &[
            Part::Text("category", category),
            Part::Text("description", description),
            photo,
        ],
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer["located"], "photo", "{answer}");
    assert_eq!(answer["photos"], 1, "{answer}");
    assert_close(&answer["lon"], lon, "lon");
    assert_close(&answer["lat"], lat, "lat");
    t.fid_of(description)
}

#[test]
fn stored_and_served_photos_carry_no_exif_gps() {
    let t = Desk::start();
    let img = picture(64, 48);
    // Orientation 6 (rotate 90°), as a phone held upright writes it.
    let jpeg = splice_jpeg(
        &encode_jpeg(&img),
        &[exif_app1(&camera_exif(true, 6, JPEG_GPS))],
    );
    // The upload really carries what must go: an EXIF reader finds the GPS, make and model.
    let planted: Vec<Tag> = exif_fields(&jpeg).into_iter().map(|(t, _)| t).collect();
    for tag in [Tag::GPSLatitude, Tag::GPSLongitude, Tag::Make, Tag::Model] {
        assert!(planted.contains(&tag), "{tag} not planted: {planted:?}");
    }

    // No lon/lat: the place comes from the photo.
    let description = "歩道の段差が大きく崩れている";
    let photo = Part::File("photo", "IMG_2041.JPG", "image/jpeg", &jpeg);
    let fid = report_placed_by_photo(&t, "道路損傷", description, photo, (JPEG_LON, JPEG_LAT));
    let item = t.as_staff(
        "GET",
        &format!("/collections/damage-reports/items/{fid}"),
        &[],
        b"",
    );
    let coordinates = &item.json()["geometry"]["coordinates"];
    assert_close(&coordinates[0], JPEG_LON, "stored lon");
    assert_close(&coordinates[1], JPEG_LAT, "stored lat");

    // (a) What the GeoPackage holds.
    let (stored, media_type, width, height, public) = t.stored_photo(&fid, 1);
    assert_eq!(media_type, "image/jpeg");
    assert_eq!((width, height), (64, 48));
    assert!(
        !public,
        "a resident's photo is not public until staff approve it"
    );
    assert_clean(
        &stored,
        JPEG_GPS,
        ImageFormat::Jpeg,
        (64, 48),
        "stored JPEG",
    );
    // Only the orientation is kept, or a phone photo would show sideways.
    assert_eq!(exif_fields(&stored), vec![(Tag::Orientation, Some(6))]);

    // (b) What staff are served.
    let photo = format!("/collections/damage-reports/items/{fid}/photos/1");
    let served = t.as_staff("GET", &photo, &[], b"");
    assert_eq!(served.status, 200, "{}", served.text());
    assert_eq!(served.header("content-type"), Some("image/jpeg"));
    assert_clean(
        &served.bytes,
        JPEG_GPS,
        ImageFormat::Jpeg,
        (64, 48),
        "served to staff",
    );
    assert_eq!(served.bytes, stored);

    // (c) What the public view serves: nothing before the report is public and the photo
    // approved, then the same clean bytes.
    // Not public yet: the view has no such feature (neither under the number nor otherwise).
    let by_number = format!("/collections/reports-public/items/{fid}/photos/1");
    assert_eq!(t.anonymous("GET", &by_number, &[], b"").status, 404);
    t.set_state(&fid, "対応中");
    let public_photo = format!(
        "/collections/reports-public/items/{}/photos/1",
        t.public_id_of(&fid)
    );
    assert_eq!(
        t.anonymous("GET", &public_photo, &[], b"").status,
        404,
        "not approved yet"
    );
    let approve = t.as_staff(
        "PATCH",
        &photo,
        &[
            ("Content-Type", "application/json"),
            ("If-Match", &t.etag_of(&fid)),
        ],
        br#"{"public":true}"#,
    );
    assert_eq!(approve.status, 200, "{}", approve.text());
    let served = t.anonymous("GET", &public_photo, &[], b"");
    assert_eq!(served.status, 200, "{}", served.text());
    assert_clean(
        &served.bytes,
        JPEG_GPS,
        ImageFormat::Jpeg,
        (64, 48),
        "served publicly",
    );
    assert_eq!(served.bytes, stored);

    // A PNG with the position in an eXIf chunk and again as text in a tEXt chunk.
    let gps_text: &[u8] = b"GPS\0N35.991667 E139.080000 CanaryPngText";
    let png = splice_png(
        &encode_png(&img),
        &[
            png_chunk(b"eXIf", &camera_exif(false, 1, PNG_GPS)),
            png_chunk(b"tEXt", gps_text),
        ],
    );
    assert!(
        exif_fields(&png)
            .iter()
            .any(|(t, _)| *t == Tag::GPSLatitude)
    );
    let description = "公園の遊具が壊れている";
    let photo = Part::File("photo", "screenshot.png", "image/png", &png);
    let fid = report_placed_by_photo(&t, "公園", description, photo, (PNG_LON, PNG_LAT));
    let (stored, media_type, ..) = t.stored_photo(&fid, 1);
    let served = t.as_staff(
        "GET",
        &format!("/collections/damage-reports/items/{fid}/photos/1"),
        &[],
        b"",
    );
    assert_eq!(served.status, 200, "{}", served.text());
    assert_eq!(media_type, "image/png");
    for (bytes, what) in [(&stored, "stored PNG"), (&served.bytes, "served PNG")] {
        assert_clean(bytes, PNG_GPS, ImageFormat::Png, (64, 48), what);
        assert!(exif_fields(bytes).is_empty(), "{what}: EXIF left");
        for gone in [&b"eXIf"[..], b"tEXt", b"35.991667", b"CanaryPngText"] {
            assert!(
                !contains(bytes, gone),
                "{what}: {} survived",
                String::from_utf8_lossy(gone)
            );
        }
        // PNG is lossless: the pixels are exactly those encoded.
        assert_eq!(decode(bytes, ImageFormat::Png), img, "{what}: pixels");
    }
}

/// A structurally valid JPEG of exactly `size` bytes: `jpeg` padded with comment segments.
fn padded_jpeg(jpeg: &[u8], size: usize) -> Vec<u8> {
    let mut segments = Vec::new();
    let mut remaining = size - jpeg.len();
    while remaining > 0 {
        // A segment is 4 bytes of marker and length and at most 65533 bytes of payload; never
        // leave 1 to 3 bytes, which no segment can fill.
        let mut payload = (remaining - 4).min(65_533);
        if (1..4).contains(&(remaining - 4 - payload)) {
            payload -= 4;
        }
        segments.push(jpeg_segment(0xFE, &vec![b'x'; payload]));
        remaining -= payload + 4;
    }
    let out = splice_jpeg(jpeg, &segments);
    assert_eq!(out.len(), size);
    out
}

/// A report form located on the map, with `photos`.
fn located_form<'a>(lon: &'a str, lat: &'a str, photos: Vec<Part<'a>>) -> Vec<Part<'a>> {
    let mut parts = vec![
        Part::Text("category", "道路損傷"),
        Part::Text("description", "写真つきの通報"),
        Part::Text("lon", lon),
        Part::Text("lat", lat),
    ];
    parts.extend(photos);
    parts
}

#[test]
fn bad_uploads_get_a_clear_4xx_and_leave_the_store_unchanged() {
    let t = Desk::start();
    // One report already in the store, so counts and largest ids are not all zero.
    t.report("道路損傷", "側溝のふたが割れている");
    let form = t.anonymous("GET", "/reports", &[], b"").json();
    let max_bytes = form["photos"]["maxBytes"].as_u64().unwrap();
    let before = t.snapshot();
    let count_before = t.staff_items()["numberMatched"].clone();
    assert_eq!(count_before, 1);

    let good = encode_jpeg(&picture(64, 48));
    let (lon, lat) = (LON.to_string(), LAT.to_string());

    // A 20 MB photo alone, and after a good one that must not be stored on its own either.
    let huge = padded_jpeg(&good, 20_000_000);
    assert!(huge.len() as u64 > max_bytes);
    let mb = max_bytes as f64 / f64::from(1 << 20);
    for with_good in [false, true] {
        let mut photos = Vec::new();
        if with_good {
            photos.push(Part::File("photo", "small.jpg", "image/jpeg", &good));
        }
        photos.push(Part::File("photo", "huge.jpg", "image/jpeg", &huge));
        let r = post_form(&t, &located_form(&lon, &lat, photos));
        assert_eq!(r.status, 413, "{}", r.text());
        let description = Response::error_description(&r);
        assert!(
            description.contains("limit")
                && (description.contains(&format!("{mb} MB"))
                    || description.contains(&format!("{mb:.1} MB"))),
            "the size limit ({mb} MB) is not said: {description}"
        );
    }

    // A text file named like a photo and declared as one.
    let text = "道路に穴が開いています。写真は後で送ります。\n".repeat(20);
    let photo = Part::File("photo", "damage.jpg", "image/jpeg", text.as_bytes());
    let r = post_form(&t, &located_form(&lon, &lat, vec![photo]));
    assert_eq!(r.status, 415, "{}", r.text());
    let description = Response::error_description(&r);
    assert!(
        description.contains("JPEG") && description.contains("PNG") && description.contains("text"),
        "does not say it is a text file and not a JPEG or PNG: {description}"
    );

    // A JPEG cut off in the middle of its image data, as an interrupted upload leaves it.
    let truncated = &good[..good.len() * 2 / 3];
    let photo = Part::File("photo", "IMG_0002.jpg", "image/jpeg", truncated);
    let r = post_form(&t, &located_form(&lon, &lat, vec![photo]));
    assert!(
        (400..500).contains(&r.status.as_u16()),
        "{} {}",
        r.status,
        r.text()
    );
    let description = Response::error_description(&r);
    assert!(!description.is_empty());

    assert_eq!(t.snapshot(), before, "a refused upload changed the store");
    assert_eq!(t.staff_items()["numberMatched"], count_before);

    // The snapshot does see a change: the same form with the good photo is stored.
    let photo = Part::File("photo", "small.jpg", "image/jpeg", &good);
    let r = post_form(&t, &located_form(&lon, &lat, vec![photo]));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_ne!(t.snapshot(), before);
    assert_eq!(t.staff_items()["numberMatched"], 2);
}

/// Reads events until one satisfies `wanted` or `deadline` passes; returns it (if any) and the
/// events read before it.
fn read_until(
    stream: &mut EventStream,
    deadline: Instant,
    wanted: impl Fn(&SseEvent) -> bool,
) -> (Option<SseEvent>, Vec<SseEvent>) {
    let mut before = Vec::new();
    while let Some(event) = stream.next_before(deadline) {
        if wanted(&event) {
            return (Some(event), before);
        }
        before.push(event);
    }
    (None, before)
}

/// The description (内容) of a `feature` event's report; `None` for other events.
fn described(event: &SseEvent) -> Option<String> {
    if event.event.as_deref() != Some("feature") {
        return None;
    }
    event.json()["properties"]["内容"]
        .as_str()
        .map(str::to_string)
}

fn is_feature_saying(description: &str) -> impl Fn(&SseEvent) -> bool + '_ {
    move |e| described(e).as_deref() == Some(description)
}

#[test]
fn the_staff_stream_shows_a_report_within_a_second_and_resumes_without_a_gap() {
    let t = Desk::start();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", "種別 IN ('道路損傷','河川')")
        .append_pair("bbox", "139.03,35.98,139.17,36.06")
        .finish();
    let path = format!("/collections/damage-reports/changes?{query}");
    let auth = [("Authorization", t.staff.as_str())];
    let mut stream = EventStream::open(t.addr(), &path, &auth);

    t.report("道路損傷", "A 県道の路肩が崩れた");
    let answered = Instant::now();
    let (a, _) = read_until(
        &mut stream,
        answered + Duration::from_secs(1),
        is_feature_saying("A 県道の路肩が崩れた"),
    );
    let a = a.expect("the new report's feature event within one second of its creation");
    assert!(answered.elapsed() <= Duration::from_secs(1));

    // 公園 is outside the filter. B comes after it, so once B is here X's event would be too.
    t.report("公園", "X 公園のベンチが壊れた");
    t.report("河川", "B 川の水位が高い");
    let (b, between) = read_until(
        &mut stream,
        Instant::now() + Duration::from_secs(10),
        is_feature_saying("B 川の水位が高い"),
    );
    let b = b.expect("B's feature event");
    assert_ne!(a.event_id(), b.event_id(), "each event its own id");
    assert!(
        between
            .iter()
            .all(|e| e.event.as_deref() != Some("feature")),
        "a feature outside the filter was sent: {between:?}"
    );

    // Disconnected while three reports come in.
    drop(stream);
    let missed = ["C 道路に倒木", "D 河川敷に土砂", "E 路面の陥没"];
    for (i, d) in missed.iter().enumerate() {
        t.report(if i == 1 { "河川" } else { "道路損傷" }, d);
    }
    let last = b.event_id().to_string();
    let mut headers = auth.to_vec();
    headers.push(("Last-Event-ID", &last));
    let mut stream = EventStream::open(t.addr(), &path, &headers);
    let mut seen: Vec<SseEvent> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !missed
        .iter()
        .all(|d| seen.iter().any(|e| described(e).as_deref() == Some(*d)))
    {
        let event = stream
            .next_before(deadline)
            .unwrap_or_else(|| panic!("missed reports not all re-sent; got {seen:?}"));
        seen.push(event);
    }
    // And a live one after the catch-up.
    t.report("道路損傷", "F カーブミラーの前に穴");
    let (f, more) = read_until(
        &mut stream,
        Instant::now() + Duration::from_secs(10),
        is_feature_saying("F カーブミラーの前に穴"),
    );
    let f = f.expect("a live event after the reconnect");
    seen.extend(more);
    for e in &seen {
        assert!(
            ![a.event_id(), b.event_id()].contains(&e.event_id()),
            "sent again after Last-Event-ID {last}: {e:?}"
        );
        let d = described(e).unwrap_or_default();
        assert!(
            !d.starts_with('A') && !d.starts_with('B'),
            "sent again: {e:?}"
        );
    }
    let order: Vec<String> = seen.iter().filter_map(described).collect();
    assert_eq!(order, missed, "each missed report once, in order");
    assert!(seen.iter().all(|e| e.event_id() != f.event_id()));

    // The query parameter resumes too (EventSource cannot set headers on a first connection).
    drop(stream);
    t.report("河川", "G 堤防に亀裂");
    let resumed = format!("{path}&lastEventId={}", f.event_id());
    let mut stream = EventStream::open(t.addr(), &resumed, &auth);
    let (g, before) = read_until(
        &mut stream,
        Instant::now() + Duration::from_secs(10),
        is_feature_saying("G 堤防に亀裂"),
    );
    assert!(g.is_some(), "G missed; got {before:?}");
    assert!(before.iter().all(|e| described(e).is_none()), "{before:?}");
}

#[test]
fn the_public_stream_says_nothing_of_a_report_until_it_is_public() {
    let t = Desk::start();
    let mut stream = EventStream::open(t.addr(), "/collections/reports-public/changes", &[]);
    let secret = "R1 隣の家の前に不法投棄（山田さん宅）";
    t.report("不法投棄", secret);
    let public_one = "R2 市道の舗装がはがれている";
    t.report("道路損傷", public_one);
    let fid = t.fid_of(public_one);
    t.set_state(&fid, "対応中");
    let public_id = t.public_id_of(&fid);

    let (event, before) = read_until(&mut stream, Instant::now() + Duration::from_secs(10), |e| {
        e.event.as_deref() == Some("feature") && id_text(&e.json()["id"]) == public_id
    });
    let event = event.unwrap_or_else(|| panic!("no feature event for {fid}; got {before:?}"));
    assert!(event.id.is_some());
    let feature = event.json();
    let properties = feature["properties"].as_object().unwrap();
    assert_eq!(properties["状況"], "対応中");
    for key in properties.keys() {
        assert!(
            VIEW_ATTRIBUTES.contains(&key.as_str()),
            "{key} is not an attribute of the public view: {feature}"
        );
    }
    assert!(!event.data.contains("舗装がはがれている"), "{}", event.data);
    assert!(!event.data.contains("sato"), "{}", event.data);

    // Reports in 受付 are not public: an event about them, even a `remove`, would tell that
    // they exist and how many there are.
    assert!(
        before.is_empty(),
        "the public stream sent events about reports it does not show: {before:?}"
    );
}

/// Staff change report `fid`'s `properties` (a merge patch), with its ETag.
fn staff_patch(t: &Desk, fid: &str, properties: Json) {
    let item = format!("/collections/damage-reports/items/{fid}");
    let etag = t.etag_of(fid);
    let patch = json!({ "properties": properties }).to_string();
    let r = t.as_staff(
        "PATCH",
        &item,
        &[
            ("Content-Type", "application/merge-patch+json"),
            ("If-Match", &etag),
        ],
        patch.as_bytes(),
    );
    assert_eq!(r.status, 200, "PATCH {item}: {}", r.text());
}

#[test]
fn the_public_stream_neither_counts_hidden_writes_nor_tells_of_internal_work() {
    let t = Desk::start();
    let public_path = "/collections/reports-public/changes";
    let mut stream = EventStream::open(t.addr(), public_path, &[]);
    let first = "P1 市道に穴";
    t.report("道路損傷", first);
    let first_fid = t.fid_of(first);
    t.set_state(&first_fid, "対応中");
    let first_public = t.public_id_of(&first_fid);
    let is_feature = |id: String| {
        move |e: &SseEvent| e.event.as_deref() == Some("feature") && id_text(&e.json()["id"]) == id
    };
    let (a, _) = read_until(
        &mut stream,
        Instant::now() + Duration::from_secs(10),
        is_feature(first_public.clone()),
    );
    let a = a.expect("the first public report's event");

    // Five writes the public cannot see: reports still in 受付, and staff work on internal
    // attributes of the public report (its description, not shown by the view).
    for n in 0..3 {
        t.report("道路損傷", &format!("H{n} まだ受付中"));
    }
    staff_patch(
        &t,
        &first_fid,
        json!({ "内容": "P1 市道に穴（職員が追記: 深さ 20 cm）" }),
    );
    staff_patch(
        &t,
        &first_fid,
        json!({ "内容": "P1 市道に穴（職員が追記: 深さ 25 cm）" }),
    );
    let second = "P2 ガードレールが曲がっている";
    t.report_at("道路損傷", second, LON + 0.01, LAT);
    let second_fid = t.fid_of(second);
    t.set_state(&second_fid, "対応中");
    let second_public = t.public_id_of(&second_fid);
    let (b, between) = read_until(
        &mut stream,
        Instant::now() + Duration::from_secs(10),
        is_feature(second_public.clone()),
    );
    let b = b.expect("the second public report's event");
    assert!(
        between
            .iter()
            .all(|e| e.event.as_deref() != Some("feature")),
        "the public stream told of internal work on a public report: {between:?}"
    );

    // The ids say nothing of the writes between: not a count, not close together.
    let number = |e: &SseEvent| {
        let id = e.event_id();
        assert!(
            id.len() == 16 && id.bytes().all(|c| c.is_ascii_hexdigit()),
            "event id {id:?} is not an opaque id"
        );
        u64::from_str_radix(id, 16).unwrap()
    };
    let (ia, ib) = (number(&a), number(&b));
    assert!(
        ia.abs_diff(ib) > 1 << 20,
        "event ids {} and {} are close: they count the writes between",
        a.event_id(),
        b.event_id()
    );

    // A resumption from an id the stream never gave is refused, not answered from the log's
    // start (whose first id would tell how many writes came before).
    let r = t.anonymous("GET", &format!("{public_path}?lastEventId=0"), &[], b"");
    assert_eq!(r.status, 400, "{}", r.text());
    // Resuming after A sends B and only B: nothing for the hidden writes.
    drop(stream);
    let mut resumed = EventStream::open(t.addr(), public_path, &[("Last-Event-ID", a.event_id())]);
    let mut replayed = Vec::new();
    while let Some(e) = resumed.next_before(Instant::now() + Duration::from_secs(2)) {
        if e.event.as_deref() == Some("feature") {
            replayed.push(id_text(&e.json()["id"]));
        }
    }
    assert_eq!(replayed, [second_public], "the replay after A");
}

#[test]
fn a_broken_chunked_upload_is_a_bad_request_not_a_too_large_one() {
    use std::io::{Read, Write};
    let t = Desk::start();
    let before = t.staff_items()["numberMatched"].clone();
    let send = |content_type: &str, body: &[u8]| {
        let mut s = std::net::TcpStream::connect(t.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let head = format!(
            "POST /reports HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n",
            t.addr()
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(body);
        // The sender stops there (a phone losing signal mid-upload closes the same way).
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        String::from_utf8_lossy(&raw).to_string()
    };
    let part = "--b\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n穴\r\n";
    let json = r#"{"category": "道路損傷", "description": "穴"#;
    for (what, content_type, body) in [
        (
            "a JSON report whose chunk size is not hexadecimal",
            "application/json",
            format!("{:x}\r\n{json}\r\nzz\r\n", json.len()),
        ),
        (
            "a JSON report cut off mid-chunk",
            "application/json",
            format!("{:x}\r\n{json}\r\n100\r\nabc", json.len()),
        ),
        (
            "a chunk size that is not hexadecimal",
            "multipart/form-data; boundary=b",
            format!("{:x}\r\n{part}\r\nzz\r\n", part.len()),
        ),
        (
            "a chunk size too large to be a number",
            "multipart/form-data; boundary=b",
            format!(
                "{:x}\r\n{part}\r\nffffffffffffffffff\r\nabc\r\n",
                part.len()
            ),
        ),
        (
            "a chunk larger than the upload limit announced and cut short",
            "multipart/form-data; boundary=b",
            format!("{:x}\r\n{part}\r\n7fffffff\r\nabc", part.len()),
        ),
        (
            "a chunk extension that never ends",
            "multipart/form-data; boundary=b",
            format!("{:x}\r\n{part}\r\n5;{}", part.len(), "x".repeat(70_000)),
        ),
        (
            "a chunk without its line end",
            "multipart/form-data; boundary=b",
            format!("{:x}\r\n{part}XX5\r\nabcde\r\n0\r\n\r\n", part.len()),
        ),
    ] {
        let answer = send(content_type, body.as_bytes());
        let status = answer.split(' ').nth(1).unwrap_or_default();
        assert_eq!(status, "400", "{what}: {answer}");
        let json = &answer[answer.find("\r\n\r\n").map_or(0, |i| i + 4)..];
        assert!(
            json.contains("\"code\"")
                && (json.contains("malformed") || json.contains("could not be read")),
            "{what}: {answer}"
        );
    }
    assert_eq!(t.staff_items()["numberMatched"], before);
}

/// A path id that is not a number and a body that is not the multipart it says it is get the
/// OGC error document (`{code, description, status}` as JSON), not axum's plain-text
/// rejections, and nothing is stored.
#[tokio::test]
async fn malformed_path_ids_and_multipart_bodies_get_the_ogc_error_document() {
    let t = Town::builder().edits().build();
    for uri in [
        "/collections/x/items/abc/photos/zz",
        "/collections/damage-reports/items/abc/photos/zz",
        "/collections/damage-reports/items/1/photos/zz",
    ] {
        let r = t.get(uri, &[]).await;
        assert!(
            r.status == 400 || r.status == 404,
            "{uri}: {} {}",
            r.status,
            r.body
        );
        r.assert_error(
            r.status.as_u16(),
            if r.status == 400 {
                "InvalidRequest"
            } else {
                "NotFound"
            },
        );
    }
    let before = t
        .edits()
        .features("damage-reports")
        .expect("features")
        .len();
    let part = "--b\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\n道路損傷";
    for (what, content_type, body) in [
        (
            "no boundary line at all",
            "multipart/form-data; boundary=b",
            "just some text".to_string(),
        ),
        (
            "a part that never ends",
            "multipart/form-data; boundary=b",
            part.to_string(),
        ),
        (
            "a part whose headers never end",
            "multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=\"category\"".to_string(),
        ),
        (
            "no boundary in Content-Type",
            "multipart/form-data",
            format!("{part}\r\n--b--\r\n"),
        ),
    ] {
        let r = t
            .send(
                Method::POST,
                "/reports",
                None,
                &[("Content-Type", content_type)],
                body.into_bytes(),
            )
            .await;
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        r.assert_error(400, "InvalidRequest");
    }
    assert_eq!(
        t.edits()
            .features("damage-reports")
            .expect("features")
            .len(),
        before
    );
}
