//! Slow and many connections (issue #12, point 8): the real accept loop (`http::serve::run`) on
//! a real port over the sample catalog, with limits small enough that each test is quick.
//! Clients from another address bind 127.0.0.2 or 127.0.0.3 (Linux routes all of 127/8 to
//! the loopback).

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use machimap::config::SecurityConfig;
use machimap::http::serve::{ConnectionLimits, raise_open_file_limit, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout, timeout_at};

mod common;

use common::Response;
use common::server::{PASSWORD, Server};
use common::town::Town;

/// Connections one client address opens in the flood tests.
const FLOOD: usize = 3000;
/// The bound on every wait for something the server should do at once or after a 1 s limit.
const WITHIN: Duration = Duration::from_secs(5);

const ATTACKER: [u8; 4] = [127, 0, 0, 1];
const NEIGHBOUR: [u8; 4] = [127, 0, 0, 2];

/// Settings with no rate limits (the tests count connections, not requests) and long
/// timeouts, for each test to shorten what it tests.
fn settings() -> SecurityConfig {
    SecurityConfig {
        public_requests_per_minute: 0,
        login_attempts_per_minute: 0,
        header_timeout_seconds: 30,
        body_timeout_seconds: 30,
        idle_timeout_seconds: 30,
        ..SecurityConfig::default()
    }
}

/// The sample catalog (with an edit store) served by `run` on 127.0.0.1, with the staff user
/// `sato` and a signed-in admin; stopped (through `run`'s shutdown) when dropped.
struct AcceptLoop {
    addr: SocketAddr,
    /// The admin's Bearer token.
    admin: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _town: Town,
}

fn start(security: SecurityConfig) -> AcceptLoop {
    let mut limits = ConnectionLimits::new(&security);
    limits.shutdown_grace = Duration::from_secs(2);
    let town = Town::builder()
        .security(security)
        .edits()
        .user("sato", "危機管理課", &["staff"])
        .signed_in("kanri", "情報政策課", &["staff", "admin"])
        .build();
    let admin = town.token("kanri").to_string();
    let app = town.app.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (bound, addr) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = socket.listen(4096).unwrap();
            bound.send(listener.local_addr().unwrap()).unwrap();
            run(listener, app, limits, async {
                let _ = stopped.await;
            })
            .await;
        });
    });
    AcceptLoop {
        addr: addr.recv().unwrap(),
        admin,
        stop: Some(stop),
        thread: Some(thread),
        _town: town,
    }
}

impl Drop for AcceptLoop {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn connect_from(ip: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((ip, 0))).unwrap();
    // A full listen backlog (a server that stopped accepting) leaves a connect waiting.
    timeout(WITHIN, socket.connect(server))
        .await
        .expect("the server takes connections")
        .unwrap()
}

/// Everything the server sends until it closes the connection, or `None` if it is still
/// open after `WITHIN`.
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let deadline = Instant::now() + WITHIN;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 << 10];
    loop {
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(raw),
            Ok(Ok(n)) => raw.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether the server closes `stream` without answering, within `WITHIN`.
async fn closed_unanswered(stream: &mut TcpStream) -> bool {
    until_closed(stream).await.is_some_and(|raw| raw.is_empty())
}

/// Sends `request` (which should say `Connection: close`) and reads the answer.
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Response {
    stream.write_all(request).await.unwrap();
    let raw = until_closed(stream)
        .await
        .expect("the server closes after a Connection: close answer");
    Response::parse(&raw)
        .unwrap_or_else(|e| panic!("no answer ({e}): {:?}", String::from_utf8_lossy(&raw)))
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: machimap.test\r\nConnection: close\r\n\r\n").into_bytes()
}

fn login_request() -> Vec<u8> {
    let body = serde_json::json!({"username": "sato", "password": PASSWORD}).to_string();
    format!(
        "POST /auth/login HTTP/1.1\r\nHost: machimap.test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What a visitor and a member of staff from `ip` do: the landing page, public items and a
/// sign-in all work.
async fn assert_served(ip: [u8; 4], server: SocketAddr) {
    let landing = exchange(&mut connect_from(ip, server).await, &get("/")).await;
    assert_eq!(landing.status, 200);
    assert!(landing.json()["links"].is_array());
    let items = exchange(
        &mut connect_from(ip, server).await,
        &get("/collections/shelters/items?limit=3"),
    )
    .await;
    assert_eq!(items.status, 200);
    assert_eq!(items.json()["features"].as_array().map(Vec::len), Some(3));
    let login = exchange(&mut connect_from(ip, server).await, &login_request()).await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.json()["token"].is_string());
}

/// `FLOOD` connections from `ip`: a third send nothing, a third half a request head, a third a
/// whole sign-in head and the start of its body.
async fn flood(ip: [u8; 4], server: SocketAddr) -> Vec<TcpStream> {
    // The test process holds both ends of every connection.
    raise_open_file_limit();
    let mut streams = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let mut s = connect_from(ip, server).await;
        let sent: &[u8] = match i % 3 {
            0 => b"",
            1 => b"GET / HTTP/1.1\r\nHost: machimap.test\r\nX-Slow: ",
            _ => {
                b"POST /auth/login HTTP/1.1\r\nHost: machimap.test\r\n\
                   Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user"
            }
        };
        // The server may already have closed a connection over its cap.
        let _ = s.write_all(sent).await;
        streams.push(s);
    }
    streams
}

/// How many of `streams` the server closes within `WITHIN`, and how many it keeps open.
async fn closed_and_open(streams: &mut [TcpStream]) -> (usize, usize) {
    let deadline = Instant::now() + WITHIN;
    let (mut closed, mut open) = (0, 0);
    let mut buf = [0u8; 1024];
    for s in streams {
        loop {
            match timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => {
                    open += 1;
                    break;
                }
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed += 1;
                    break;
                }
                Ok(Ok(_)) => {}
            }
        }
    }
    (closed, open)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_slow_connections_from_one_address_do_not_stop_others() {
    let server = start(SecurityConfig {
        max_connections_per_address: 64,
        max_connections: 1000,
        ..settings()
    });
    let mut streams = flood(ATTACKER, server.addr).await;
    assert_served(NEIGHBOUR, server.addr).await;
    // The server holds the address's 64 places and has closed every other connection of it.
    let (closed, open) = closed_and_open(&mut streams).await;
    assert_eq!((closed, open), (FLOOD - 64, 64));
    assert_served(NEIGHBOUR, server.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_new_connections_are_closed_and_service_resumes_when_it_ends() {
    let server = start(SecurityConfig {
        max_connections_per_address: 0,
        max_connections: 50,
        ..settings()
    });
    let mut streams = flood(ATTACKER, server.addr).await;
    // Every place is taken: another client is refused at once instead of waiting forever.
    let mut refused = connect_from(NEIGHBOUR, server.addr).await;
    assert!(closed_unanswered(&mut refused).await);
    let (closed, open) = closed_and_open(&mut streams).await;
    assert_eq!((closed, open), (FLOOD - 50, 50));
    drop(streams);
    // The accept loop went on all along: the places come back as soon as the flood ends.
    let deadline = Instant::now() + WITHIN;
    loop {
        let mut s = connect_from(NEIGHBOUR, server.addr).await;
        s.write_all(&get("/")).await.unwrap();
        if let Some(answer) = until_closed(&mut s)
            .await
            .as_deref()
            .and_then(|raw| Response::parse(raw).ok())
        {
            assert_eq!(answer.status, 200);
            break;
        }
        assert!(Instant::now() < deadline, "no place came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_served(NEIGHBOUR, server.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_over_its_cap_is_closed_at_once_while_others_are_served() {
    let server = start(SecurityConfig {
        max_connections_per_address: 8,
        ..settings()
    });
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(connect_from(ATTACKER, server.addr).await);
    }
    let mut ninth = connect_from(ATTACKER, server.addr).await;
    assert!(closed_unanswered(&mut ninth).await, "the ninth is closed");
    assert_served(NEIGHBOUR, server.addr).await;
    // The eight held connections are real ones: the first is answered...
    assert_eq!(exchange(&mut held[0], &get("/")).await.status, 200);
    drop(held.remove(0));
    // ...and its place, given back, goes to the next connection from the address.
    let deadline = Instant::now() + WITHIN;
    loop {
        let mut s = connect_from(ATTACKER, server.addr).await;
        s.write_all(&get("/conformance")).await.unwrap();
        if let Some(answer) = until_closed(&mut s)
            .await
            .as_deref()
            .and_then(|raw| Response::parse(raw).ok())
        {
            assert_eq!(answer.status, 200);
            break;
        }
        assert!(Instant::now() < deadline, "the place was not given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_partial_heads_are_closed_after_the_header_timeout() {
    let server = start(SecurityConfig {
        header_timeout_seconds: 1,
        ..settings()
    });
    let mut silent = connect_from(ATTACKER, server.addr).await;
    let mut partial = connect_from(ATTACKER, server.addr).await;
    partial
        .write_all(b"GET / HTTP/1.1\r\nHost: machimap.test\r\n")
        .await
        .unwrap();
    // A head sent a byte at a time is closed too: the timeout is for the whole head.
    let mut dripping = connect_from(ATTACKER, server.addr).await;
    let (mut read_half, mut write_half) = dripping.split();
    let drip = async {
        for b in b"GET / HTTP/1.1\r\nHost: machimap.test\r\nX-Slow: 0123456789abcdef" {
            if write_half.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let mut buf = [0u8; 64];
    let closed = async { timeout(WITHIN, read_half.read(&mut buf)).await };
    let (_, dripped) = tokio::join!(drip, closed);
    assert!(
        matches!(dripped, Ok(Ok(0)) | Ok(Err(_))),
        "the dripping head is closed"
    );
    assert!(closed_unanswered(&mut silent).await, "the silent one");
    assert!(closed_unanswered(&mut partial).await, "the partial head");
    // A kept-alive connection's next head has the same time from its first byte.
    let mut kept = connect_from(NEIGHBOUR, server.addr).await;
    kept.write_all(b"GET /conformance HTTP/1.1\r\nHost: machimap.test\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    // Until the head and as much body as its Content-Length announces have arrived.
    while Response::parse(&raw).is_err() {
        let n = timeout(WITHIN, kept.read(&mut buf)).await.unwrap().unwrap();
        assert!(
            n > 0,
            "the first answer is whole before the connection ends"
        );
        raw.extend_from_slice(&buf[..n]);
    }
    let first = Response::parse(&raw).unwrap();
    assert!(
        first.header("content-length").is_some(),
        "{:?}",
        first.headers
    );
    assert_eq!(first.status, 200);
    kept.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    assert!(
        closed_unanswered(&mut kept).await,
        "the second, partial head"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let server = start(SecurityConfig {
        idle_timeout_seconds: 1,
        ..settings()
    });
    let mut kept = connect_from(NEIGHBOUR, server.addr).await;
    kept.write_all(b"GET /conformance HTTP/1.1\r\nHost: machimap.test\r\n\r\n")
        .await
        .unwrap();
    let raw = until_closed(&mut kept)
        .await
        .expect("closed after being idle");
    assert_eq!(Response::parse(&raw).map(|a| a.status.as_u16()), Ok(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_gets_408_and_an_oversized_declared_body_413_at_once() {
    let server = start(SecurityConfig {
        body_timeout_seconds: 1,
        ..settings()
    });
    let mut stalled = connect_from(ATTACKER, server.addr).await;
    let answer = exchange(
        &mut stalled,
        b"POST /auth/login HTTP/1.1\r\nHost: machimap.test\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"username\": \"sa",
    )
    .await;
    answer.assert_error(408, "RequestTimeout");
    assert_eq!(
        answer.header("connection"),
        Some("close"),
        "{:?}",
        answer.headers
    );

    // No byte of the body is sent: a 413 (not the 408 of the 1 s body timeout) proves the
    // answer came from the declared length alone.
    // Sign-in and reports have limits of their own, the admin's routes the default one.
    let bearer = format!("Authorization: Bearer {}\r\n", server.admin);
    for (path, content_type, auth) in [
        ("/auth/login", "application/json", ""),
        ("/reports", "multipart/form-data; boundary=x", ""),
        ("/admin/roles", "application/json", bearer.as_str()),
    ] {
        let mut s = connect_from(ATTACKER, server.addr).await;
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: machimap.test\r\nContent-Type: {content_type}\r\n\
             {auth}Content-Length: 99999999999\r\n\r\n"
        );
        let answer = exchange(&mut s, request.as_bytes()).await;
        answer.assert_error(413, "PayloadTooLarge");
        assert!(
            answer.json()["description"]
                .as_str()
                .is_some_and(|d| d.contains("99999999999")),
            "{path}"
        );
    }
    // Under the route's limit the body is waited for as usual.
    let mut s = connect_from(ATTACKER, server.addr).await;
    let answer = exchange(
        &mut s,
        b"POST /reports HTTP/1.1\r\nHost: machimap.test\r\n\
          Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 5000000\r\n\r\n--x\r\n",
    )
    .await;
    answer.assert_error(408, "RequestTimeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_targets_and_large_headers_get_414_and_431_documents() {
    let server = start(settings());
    let long = format!("/collections?f={}", "x".repeat(20_000));
    let answer = exchange(&mut connect_from(NEIGHBOUR, server.addr).await, &get(&long)).await;
    answer.assert_error(414, "URITooLong");

    let cookie = format!("theme={}", "c".repeat(40_000));
    let request = format!(
        "GET / HTTP/1.1\r\nHost: machimap.test\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"
    );
    let answer = exchange(
        &mut connect_from(NEIGHBOUR, server.addr).await,
        request.as_bytes(),
    )
    .await;
    answer.assert_error(431, "RequestHeaderFieldsTooLarge");

    let many: String = (0..150).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    let request =
        format!("GET / HTTP/1.1\r\nHost: machimap.test\r\nConnection: close\r\n{many}\r\n");
    let answer = exchange(
        &mut connect_from(NEIGHBOUR, server.addr).await,
        request.as_bytes(),
    )
    .await;
    answer.assert_error(431, "RequestHeaderFieldsTooLarge");

    // A long query that is not over the limit is answered as usual.
    let ids: Vec<String> = (0..700).map(|i| format!("S{i:04}")).collect();
    let filter = format!("ID IN ('{}')", ids.join("','"));
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("filter", &filter)
        .finish();
    let path = format!("/collections/shelters/items?{query}");
    assert!(
        path.len() > 8 << 10 && path.len() < 16 << 10,
        "{}",
        path.len()
    );
    let answer = exchange(&mut connect_from(NEIGHBOUR, server.addr).await, &get(&path)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_ends_the_loop() {
    let mut server = start(settings());
    assert_eq!(
        exchange(&mut connect_from(NEIGHBOUR, server.addr).await, &get("/"))
            .await
            .status,
        200
    );
    let idle = connect_from(NEIGHBOUR, server.addr).await;
    let _ = server.stop.take().unwrap().send(());
    let thread = server.thread.take().unwrap();
    let deadline = std::time::Instant::now() + WITHIN;
    while !thread.is_finished() {
        assert!(std::time::Instant::now() < deadline, "run did not return");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    thread.join().unwrap();
    drop(idle);
    assert!(TcpStream::connect(server.addr).await.is_err());
}

/// The attack on the real binary with its default settings, under an open-file limit
/// of 1024 that it cannot raise: before the caps, a few thousand slow connections took every
/// descriptor and nobody else was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_server_under_a_low_open_file_limit_outlives_a_flood() {
    let server = Server::builder()
        .user("sato", "staff")
        .open_file_limit(1024)
        .start();
    let addr: SocketAddr = server.addr.parse().unwrap();
    let mut streams = flood(ATTACKER, addr).await;
    assert_served(NEIGHBOUR, addr).await;
    // The default cap of one address (256) holds; every other connection was closed.
    let (closed, _) = closed_and_open(&mut streams).await;
    assert!(closed >= FLOOD - 256, "{closed} closed");
    drop(streams);
    assert_served(NEIGHBOUR, addr).await;
}
