//! The accept loop: HTTP/1.1 connections served with hyper, each bounded in time and all of
//! them in number, so that clients that connect and then send slowly, send nothing or read
//! nothing cannot take the server's file descriptors from everyone else.
//!
//! - A new connection must send its first whole request head within the header timeout; a
//!   later head must be whole within the header timeout of its first byte; between requests a
//!   connection may wait idle for the idle timeout. Past its deadline a connection is closed.
//!   (hyper's own header timer is not used: it also cuts idle keep-alives.)
//! - An answer that no byte of leaves for the send timeout (the client does not read) ends its
//!   connection.
//! - Connections from one address (an IPv6 /64) are capped, and so are all of them together.
//!   Above a cap a connection is accepted and closed at once, before anything is read from it,
//!   so the listen backlog keeps moving and one address cannot take every place.
//! - Accept errors (no file descriptor left) are logged at most every few seconds and the loop
//!   pauses briefly instead of spinning.
//!
//! Only HTTP/1.1 is spoken, as before: browsers speak HTTP/2 only over TLS, and TLS ends at
//! the reverse proxy. The request-level limits (URI and header size, body size and body
//! stalls) are the router's, in `http::limits`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use super::limits::MAX_HEADER_FIELDS;
use crate::config::SecurityConfig;

/// File descriptors kept from connections for the server's own: the stores, the layer files
/// a reload reads, the blocking pool, the runtime.
const RESERVED_FILES: u64 = 256;
/// The pause after an accept error that is not one client's problem.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often at most each kind of refused connection or accept error is logged.
const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The limits on connections, from `[server.security]`.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time for a whole request head.
    pub header_timeout: Duration,
    /// Time a connection may wait idle for its next request.
    pub idle_timeout: Duration,
    /// Time an answer may wait for a client that does not read it.
    pub send_timeout: Duration,
    /// Open connections in all (lowered to what the open-file limit allows).
    pub max_connections: usize,
    /// Open connections per client address; 0 for no cap.
    pub max_per_address: usize,
    /// Largest request head the HTTP parser buffers (more is hyper's bare 431): well above the
    /// router's own URI and header limits, so that they answer, with an error document.
    pub max_head_bytes: usize,
    /// How long shutdown waits for answers being sent (a change stream never ends by itself).
    pub shutdown_grace: Duration,
}

impl ConnectionLimits {
    /// The limits of `config`.
    pub fn new(config: &SecurityConfig) -> ConnectionLimits {
        let seconds = |s: u32| Duration::from_secs(u64::from(s));
        ConnectionLimits {
            header_timeout: seconds(config.header_timeout_seconds),
            idle_timeout: seconds(config.idle_timeout_seconds),
            send_timeout: seconds(config.send_timeout_seconds),
            max_connections: config.max_connections as usize,
            max_per_address: config.max_connections_per_address as usize,
            max_head_bytes: (2 * (config.max_uri_bytes + config.max_header_bytes)).max(64 << 10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open answers finish for
/// `limits.shutdown_grace` and returns. Raises the process's open-file limit as far as allowed.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = connection_cap(limits.max_connections, raise_open_file_limit());
    tracing::info!(
        max_connections,
        per_address = limits.max_per_address,
        "accepting connections"
    );
    let caps = Arc::new(Caps::new(max_connections, limits.max_per_address));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(limits.max_head_bytes)
        // Above the router's own count, so that it answers, with an error document.
        .max_headers(2 * MAX_HEADER_FIELDS);
    let http = Arc::new(http);
    let limits = Arc::new(limits);
    let (stop, stopping) = watch::channel(false);
    let accept_errors = Throttle::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // The client left before its connection was taken: nothing to do.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                accept_errors.warn(|repeated| {
                    tracing::warn!(error = %e, repeated, "cannot accept connections; pausing");
                });
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(admission) = caps.admit(peer.ip()) else {
            // Closed unread: a connection over a cap costs nothing but the accept.
            drop(stream);
            continue;
        };
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            Arc::clone(&http),
            Arc::clone(&limits),
            admission,
            stopping.clone(),
        ));
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(true);
    if tokio::time::timeout(limits.shutdown_grace, stop.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            "answers still being sent {} s after shutdown began; cutting them",
            limits.shutdown_grace.as_secs()
        );
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it ends, times out or shutdown has let its answer finish.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    http: Arc<http1::Builder>,
    limits: Arc<ConnectionLimits>,
    _admission: Admission,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: Arc::clone(&activity),
        send_timeout: limits.send_timeout,
        send_stall: None,
        stalled: false,
    });
    let service = hyper::service::service_fn({
        let activity = Arc::clone(&activity);
        move |mut request: Request<Incoming>| {
            let in_flight = activity.request_began();
            // What `into_make_service_with_connect_info` gave handlers (`ClientAddr`).
            request.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                let Ok(response) = app.oneshot(request).await;
                Ok::<_, Infallible>(response.map(|body| Answer {
                    body,
                    _in_flight: in_flight,
                }))
            }
        }
    });
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(&limits);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, client = %peer, "connection ended with an error");
                }
                return;
            }
            () = activity.changed.notified() => {}
            () = sleep_until(deadline) => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(client = %peer, "connection closed: no request in time");
                    return;
                }
            }
            _ = stopping.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// What one connection is doing, for its deadline.
struct Activity {
    state: Mutex<ActivityState>,
    /// Told when the deadline may have come nearer: a head began, an answer ended.
    changed: Notify,
}

struct ActivityState {
    opened: Instant,
    requests: u64,
    in_flight: usize,
    last_answer: Instant,
    /// When the first byte of the next request head came, once one has.
    head_began: Option<Instant>,
}

impl Activity {
    fn new() -> Activity {
        let now = Instant::now();
        Activity {
            state: Mutex::new(ActivityState {
                opened: now,
                requests: 0,
                in_flight: 0,
                last_answer: now,
                head_began: None,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the connection is to be closed if nothing happens; `None` while a request is
    /// being answered (its body has its own timeout, the answer the send timeout).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let s = self.lock();
        if s.in_flight > 0 {
            None
        } else if s.requests == 0 {
            Some(s.opened + limits.header_timeout)
        } else if let Some(began) = s.head_began {
            Some(began + limits.header_timeout)
        } else {
            Some(s.last_answer + limits.idle_timeout)
        }
    }

    fn bytes_read(&self) {
        let mut s = self.lock();
        if s.requests > 0 && s.in_flight == 0 && s.head_began.is_none() {
            s.head_began = Some(Instant::now());
            drop(s);
            self.changed.notify_one();
        }
    }

    fn request_began(self: &Arc<Self>) -> InFlight {
        let mut s = self.lock();
        s.requests += 1;
        s.in_flight += 1;
        s.head_began = None;
        InFlight(Arc::clone(self))
    }
}

/// A request being answered, until its answer has been sent or dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.last_answer = Instant::now();
        s.head_began = None;
        drop(s);
        self.0.changed.notify_one();
    }
}

/// An answer's body, holding its request in flight until it is sent or dropped.
struct Answer {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket: tells `Activity` when bytes arrive, and fails a write that the
/// client has not let through for the send timeout.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    send_timeout: Duration,
    send_stall: Option<Pin<Box<Sleep>>>,
    /// Whether the last write or flush could not go on (the stall timer runs from then).
    stalled: bool,
}

impl Watched {
    fn watch_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.stalled = false;
            return result;
        }
        let timeout = self.send_timeout;
        let stall = self
            .send_stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if !self.stalled {
            self.stalled = true;
            stall.as_mut().reset(Instant::now() + timeout);
        }
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client has not read its answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.watch_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.watch_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.watch_write(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The open connections, in all and per client address.
struct Caps {
    open: AtomicUsize,
    max: usize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    max_per_address: usize,
    full: Throttle,
    crowded: Throttle,
}

/// One connection's place under the caps, given back when it closes.
struct Admission {
    caps: Arc<Caps>,
    address: Option<IpAddr>,
}

impl Caps {
    fn new(max: usize, max_per_address: usize) -> Caps {
        Caps {
            open: AtomicUsize::new(0),
            max,
            per_address: Mutex::new(HashMap::new()),
            max_per_address,
            full: Throttle::default(),
            crowded: Throttle::default(),
        }
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a connection from `ip`, or `None` when either cap is reached.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admission> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.full.warn(|repeated| {
                tracing::warn!(
                    max = self.max,
                    repeated,
                    "connection cap reached: closing new connections"
                );
            });
            return None;
        }
        let address = if self.max_per_address == 0 {
            None
        } else {
            let key = address_key(ip);
            let mut counts = self.counts();
            let open = counts.entry(key).or_insert(0);
            if *open >= self.max_per_address {
                drop(counts);
                self.open.fetch_sub(1, Ordering::AcqRel);
                self.crowded.warn(|repeated| {
                    tracing::warn!(
                        client = %key,
                        max = self.max_per_address,
                        repeated,
                        "connection cap of one address reached: closing its new connections"
                    );
                });
                return None;
            }
            *open += 1;
            Some(key)
        };
        Some(Admission {
            caps: Arc::clone(self),
            address,
        })
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(key) = self.address {
            let mut counts = self.caps.counts();
            if let Some(open) = counts.get_mut(&key) {
                *open = open.saturating_sub(1);
                if *open == 0 {
                    counts.remove(&key);
                }
            }
        }
        self.caps.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The address a client's connections are counted under: its IPv4 address (also when it
/// comes IPv4-mapped on an IPv6 socket), or the /64 network of an IPv6 address (one household
/// or phone gets a whole /64 and could otherwise rotate through it).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// Logs one kind of event at most once every `LOG_EVERY`, with how many were not logged.
#[derive(Default)]
struct Throttle {
    last: Mutex<Option<std::time::Instant>>,
    suppressed: AtomicU64,
}

impl Throttle {
    fn warn(&self, log: impl FnOnce(u64)) {
        let now = std::time::Instant::now();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        drop(last);
        log(self.suppressed.swap(0, Ordering::Relaxed));
    }
}

/// Raises the soft open-file limit to the hard one where it is lower; returns the soft limit
/// then in force (`None` for none).
pub fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return limit.maximum,
            Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
        }
    }
    limit.current
}

/// The connection cap under an open-file limit of `open_files`, which must also leave room
/// for the server's own files.
fn connection_cap(configured: usize, open_files: Option<u64>) -> usize {
    let Some(files) = open_files else {
        return configured;
    };
    let room = usize::try_from(files.saturating_sub(RESERVED_FILES))
        .unwrap_or(usize::MAX)
        .max(1);
    if configured > room {
        tracing::warn!(
            configured,
            open_file_limit = files,
            using = room,
            "server.security.max_connections is more than the open-file limit allows"
        );
        room
    } else {
        configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_connections_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("address");
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa::1")),
            address_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            address_key(ip("2001:db8:1:2::1")),
            address_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(address_key(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn caps_give_places_back_when_connections_close() {
        let caps = Arc::new(Caps::new(3, 2));
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let first = caps.admit(a).expect("first from a");
        let second = caps.admit(a).expect("second from a");
        assert!(caps.admit(a).is_none(), "a is at its cap");
        let third = caps.admit(b).expect("b has room");
        assert!(caps.admit(b).is_none(), "all places are taken");
        drop(first);
        assert!(caps.admit(b).is_some(), "a place came back");
        drop((second, third));
        assert_eq!(caps.open.load(Ordering::Acquire), 0);
        assert!(caps.counts().is_empty());
    }

    #[test]
    fn the_cap_leaves_room_for_the_servers_own_files() {
        assert_eq!(connection_cap(4096, Some(1 << 20)), 4096);
        assert_eq!(connection_cap(4096, Some(1024)), 1024 - 256);
        assert_eq!(connection_cap(4096, None), 4096);
        assert_eq!(connection_cap(4096, Some(10)), 1);
    }
}
