//! Durable edits survive a crash of the real binary.
//!
//! Several clients stream creates of damage reports (each with a unique marker in 内容 and a
//! unique `Idempotency-Key`) into `machimap serve`; once enough have been acknowledged the
//! server is killed with SIGKILL while requests are still in flight, then restarted on the same
//! stores. Every write whose outcome the client never learned is retried with its key and
//! body, as a real client would, and must then succeed. After each crash (two rounds):
//!
//! - every write that got a 2xx is served exactly once, under the fid its answer named;
//! - no marker is stored twice, and nothing else is stored: the layer holds exactly the writes
//!   sent, whether the API reads it or SQLite reads the GeoPackage table itself;
//! - a retry of an acknowledged write replays it (same fid) instead of writing it again;
//! - `PRAGMA integrity_check` answers `ok` and `ogrinfo` opens the GeoPackage and counts the
//!   same features — also on the file exactly as a final SIGKILL left it.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::Response;
use common::geojson::id_text;
use common::server::{Server, add_user, sample_data};
use serde_json::json;

const ITEMS: &str = "/collections/damage-reports/items";
/// Concurrent writers: each has at most one request in flight when the server dies.
const CLIENTS: usize = 6;
/// Acknowledged writes per round before the kill.
const ACKED_BEFORE_KILL: usize = 60;
/// Crashes: the second shows the store also reopens after a crash of a recovered file.
const ROUNDS: usize = 2;
/// `[server] extent` of the sample town, shrunk a little so every point is well inside.
const EXTENT: [f64; 4] = [139.035, 35.985, 139.165, 36.055];

/// One create as a client sends it, kept so a retry repeats it byte for byte.
#[derive(Clone)]
struct Edit {
    marker: String,
    key: String,
    body: String,
}

impl Edit {
    fn new(round: usize, client: usize, n: usize) -> Edit {
        let marker = format!("crash-test r{round} w{client}-{n}");
        // A cheap spread of points over the town, different for every write.
        let h = (round * 7919 + client * 104_729 + n * 1_299_709) as u64;
        let fx = (h.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
        let fy = (h.wrapping_mul(40_503) % 997) as f64 / 997.0;
        let lon = EXTENT[0] + fx * (EXTENT[2] - EXTENT[0]);
        let lat = EXTENT[1] + fy * (EXTENT[3] - EXTENT[1]);
        let body = json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"種別": "道路損傷", "内容": marker},
        })
        .to_string();
        Edit {
            key: format!("crash-r{round}-w{client}-{n}"),
            marker,
            body,
        }
    }
}

/// The fid the `Location` of a create names.
fn created_fid(r: &Response) -> String {
    let location = r.header("location").unwrap_or_else(|| {
        panic!("a {} without Location: {}", r.status, r.body);
    });
    let (path, fid) = location.rsplit_once('/').unwrap();
    assert!(path.ends_with(ITEMS), "{location}");
    fid.to_string()
}

/// Why a request got no complete response.
#[derive(Debug)]
struct Failed {
    /// The connection was open (and the request possibly read by the server): the write may or
    /// may not have happened. Otherwise the server was already gone.
    in_flight: bool,
    error: io::Error,
}

/// `POST` of `edit` as `token`; never panics on a dead server, and only a response read to its
/// last byte (as its Content-Length announces) counts as an answer.
fn post(addr: &str, token: &str, edit: &Edit) -> Result<Response, Failed> {
    let not_sent = |error| Failed {
        in_flight: false,
        error,
    };
    let mut s = TcpStream::connect(addr).map_err(not_sent)?;
    let exchange = |s: &mut TcpStream| -> io::Result<Response> {
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let req = format!(
            "POST {ITEMS} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/geo+json\r\nAuthorization: Bearer {token}\r\n\
             Idempotency-Key: {}\r\nContent-Length: {}\r\n\r\n{}",
            edit.key,
            edit.body.len(),
            edit.body
        );
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        parse(&raw)
    };
    exchange(&mut s).map_err(|error| Failed {
        in_flight: true,
        error,
    })
}

/// A raw response read to the end of the connection; cut short is an error.
fn parse(raw: &[u8]) -> io::Result<Response> {
    // Create answers carry a Content-Length; a shorter body is a response cut by the kill.
    Response::parse(raw).map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e))
}

/// What one streaming client saw in one round.
#[derive(Default)]
struct Stream {
    /// Writes that got a 201: marker → fid.
    acked: Vec<(Edit, String)>,
    /// The write the client was sending when the server died, and whether it was in flight.
    unknown: Option<(Edit, bool)>,
    /// Complete non-201 answers: none may come.
    refused: Vec<(String, u16, String)>,
}

/// Creates until the server stops answering; counts acknowledgements in `acked`.
fn stream(addr: &str, token: &str, round: usize, client: usize, acked: &AtomicUsize) -> Stream {
    let mut seen = Stream::default();
    for n in 0.. {
        let edit = Edit::new(round, client, n);
        match post(addr, token, &edit) {
            Ok(r) if r.status == 201 => {
                let fid = created_fid(&r);
                seen.acked.push((edit, fid));
                acked.fetch_add(1, Ordering::SeqCst);
            }
            Ok(r) => {
                seen.refused.push((edit.marker, r.status.as_u16(), r.body));
                break;
            }
            Err(Failed { in_flight, error }) => {
                eprintln!("client {client}: {} {error}", edit.marker);
                seen.unknown = Some((edit, in_flight));
                break;
            }
        }
    }
    seen
}

/// `GET` through the common helper, which panics if the server does not answer.
fn get(server: &Server, token: &str, path: &str) -> Response {
    server.request("GET", path, Some(token), &[], "")
}

/// Every feature of the layer through the API, following `next` links: (内容, fid).
fn served(server: &Server, token: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    // A small page, so paging is exercised too.
    let mut path = format!("{ITEMS}?limit=25");
    let prefix = format!("http://{}", server.addr);
    loop {
        let r = get(server, token, &path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let page = r.json();
        for f in page["features"].as_array().unwrap() {
            let marker = f["properties"]["内容"].as_str().unwrap_or("").to_string();
            let fid = id_text(&f["id"]);
            out.push((marker, fid));
        }
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next");
        match next {
            Some(l) => {
                let href = l["href"].as_str().unwrap();
                path = href.strip_prefix(&prefix).unwrap_or(href).to_string();
            }
            None => break,
        }
    }
    out
}

/// The layer's table read by SQLite itself, bypassing the server: (内容, fid).
fn stored(gpkg: &Path) -> Vec<(String, String)> {
    let conn =
        rusqlite::Connection::open_with_flags(gpkg, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT \"内容\", fid FROM \"damage-reports\" ORDER BY fid")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            r.get::<_, i64>(1)?.to_string(),
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// `PRAGMA integrity_check` must answer exactly one row, `ok`; `ogrinfo` must open the file
/// and count `expected` features in the layer.
fn assert_sound_file(gpkg: &Path, expected: usize) {
    let conn =
        rusqlite::Connection::open_with_flags(gpkg, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let check: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(check, ["ok"], "integrity_check of {}", gpkg.display());
    drop(conn);

    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-so"])
        .arg(gpkg)
        .arg("damage-reports")
        .output()
        .expect("ogrinfo (GDAL; scripts/setup installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "ogrinfo failed:\n{text}");
    let count: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .unwrap_or_else(|| panic!("no Feature Count from ogrinfo:\n{text}"))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(count, expected, "ogrinfo's Feature Count:\n{text}");
}

/// `rows` as marker → fid, failing on a marker stored twice.
fn by_marker(rows: Vec<(String, String)>, what: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (marker, fid) in rows {
        if let Some(first) = map.insert(marker.clone(), fid.clone()) {
            panic!("{what}: \"{marker}\" is stored twice, as {first} and {fid}");
        }
    }
    map
}

/// Every acknowledged write, and nothing else, through the API and in the file.
fn assert_exactly(server: &Server, token: &str, gpkg: &Path, expected: &BTreeMap<String, String>) {
    let api = by_marker(served(server, token), "the API");
    assert_eq!(
        &api, expected,
        "the API must serve every acknowledged write once, under its fid, and nothing else"
    );
    let file = by_marker(stored(gpkg), "the GeoPackage table");
    assert_eq!(
        &file, expected,
        "the GeoPackage table must hold what the API serves"
    );
    assert_sound_file(gpkg, expected.len());
}

#[test]
fn acknowledged_writes_survive_sigkill_mid_stream_exactly_once() {
    let var = tempfile::tempdir().unwrap();
    let gpkg = var.path().join("edits.gpkg");
    let data = sample_data();
    add_user(var.path(), "sato", "staff,disaster");
    let mut server = Server::start(&data, var.path());
    let mut token = server.login("sato");
    // marker → fid of every write a 2xx acknowledged, over all rounds.
    let mut expected = BTreeMap::new();
    let mut sent = 0;

    for round in 0..ROUNDS {
        let acked = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (addr, token, acked) = (server.addr.clone(), token.clone(), acked.clone());
                thread::spawn(move || stream(&addr, &token, round, client, &acked))
            })
            .collect();
        let start = Instant::now();
        while acked.load(Ordering::SeqCst) < ACKED_BEFORE_KILL
            && !clients.iter().all(|c| c.is_finished())
        {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the writes do not progress"
            );
            thread::sleep(Duration::from_millis(1));
        }
        server.kill();
        let streams: Vec<Stream> = clients.into_iter().map(|c| c.join().unwrap()).collect();

        let refused: Vec<_> = streams.iter().flat_map(|s| &s.refused).collect();
        assert!(refused.is_empty(), "writes refused: {refused:?}");
        let mut unknown = Vec::new();
        for s in &streams {
            sent += s.acked.len();
            for (edit, fid) in &s.acked {
                expected.insert(edit.marker.clone(), fid.clone());
            }
            unknown.extend(s.unknown.clone());
        }
        sent += unknown.len();
        let in_flight = unknown.iter().filter(|(_, f)| *f).count();
        eprintln!(
            "round {round}: killed with {} acknowledged, {in_flight} in flight, {} refused \
             connections",
            streams.iter().map(|s| s.acked.len()).sum::<usize>(),
            unknown.len() - in_flight
        );

        // Before anything reopens the file: every acknowledged write is on disk, as answered.
        let on_disk = by_marker(stored(&gpkg), "the GeoPackage table after the kill");
        for (marker, fid) in &expected {
            assert_eq!(
                on_disk.get(marker),
                Some(fid),
                "acknowledged write \"{marker}\" is not in the file as the crash left it"
            );
        }
        let hidden = unknown
            .iter()
            .filter(|(e, _)| on_disk.contains_key(&e.marker))
            .count();
        eprintln!("round {round}: {hidden} unacknowledged writes had been committed");

        server = Server::start(&data, var.path());
        // Sessions live in the user store, so the token should still work; sign in again if not.
        if get(&server, &token, &format!("{ITEMS}?limit=1")).status != 200 {
            eprintln!("round {round}: the session did not survive the crash; signing in again");
            token = server.login("sato");
        }

        // A client that never heard back retries with the same key and body, and must succeed:
        // either as the first write or as a replay of the one the crash hid from it.
        for (edit, _) in &unknown {
            let r = post(&server.addr, &token, edit).unwrap();
            assert_eq!(r.status, 201, "retry of {}: {}", edit.marker, r.body);
            let fid = created_fid(&r);
            if let Some(first) = on_disk.get(&edit.marker) {
                assert_eq!(&fid, first, "a retry of {} wrote it again", edit.marker);
            }
            expected.insert(edit.marker.clone(), fid);
        }
        // A retry of an acknowledged write replays it: the same fid, no second feature.
        for s in &streams {
            if let Some((edit, fid)) = s.acked.last() {
                let r = post(&server.addr, &token, edit).unwrap();
                assert_eq!(r.status, 201, "replay of {}: {}", edit.marker, r.body);
                assert_eq!(
                    &created_fid(&r),
                    fid,
                    "a replay of {} names another feature",
                    edit.marker
                );
            }
        }

        assert_eq!(expected.len(), sent, "every write sent is acknowledged");
        assert_exactly(&server, &token, &gpkg, &expected);
    }

    // The file exactly as a crash at rest leaves it (WAL not checkpointed) is sound too.
    server.kill();
    assert_sound_file(&gpkg, expected.len());
    assert_eq!(by_marker(stored(&gpkg), "the GeoPackage table"), expected);
}
