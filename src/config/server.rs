//! Server-wide settings: `[server]` and `[server.security]`, with their defaults.

use serde::Deserialize;

/// Server-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Title in Japanese, shown on the landing page. Default "まちマップ".
    #[serde(default = "default_title_ja")]
    pub title_ja: String,
    /// Title in English. Default "machimap".
    #[serde(default = "default_title_en")]
    pub title_en: String,
    /// Landing page description. Default empty.
    #[serde(default)]
    pub description: String,
    /// `limit` when a request gives none. Default 10.
    #[serde(default = "default_limit")]
    pub default_limit: usize,
    /// Largest `limit` a request may ask for. Default 10 000.
    #[serde(default = "max_limit")]
    pub max_limit: usize,
    /// The municipality's extent in CRS84 `[west, south, east, north]`. When set, every loaded
    /// feature must lie within it (give or take `EXTENT_MARGIN`), which catches data delivered
    /// in another CRS than declared (a wrong zone, degrees taken for metres). Default: unset.
    pub extent: Option<[f64; 4]>,
    /// Sign-in, sessions and public hygiene. Read when the server starts (a reload keeps them).
    #[serde(default)]
    pub security: SecurityConfig,
    /// Largest photo accepted with a report or an inspection, bytes. Default 8 MiB.
    #[serde(default = "default_max_photo_bytes")]
    pub max_photo_bytes: usize,
    /// Memory for built vector tiles, MiB; 0 builds every tile on request. Default 256.
    #[serde(default = "default_tile_cache_mb")]
    pub tile_cache_mb: u64,
}

/// Sign-in, session and public-hygiene settings (`[server.security]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Hours a session lasts from sign-in. Default 8 (a working day).
    pub session_hours: u32,
    /// Failed sign-ins in a row after which the user name is locked. Default 5.
    pub max_failed_logins: u32,
    /// Minutes of the first lock; each further failure doubles it, up to a day. Default 15.
    pub lockout_minutes: u32,
    /// Mark the session cookie `Secure` (with the `__Host-` prefix). Browsers accept such
    /// cookies over HTTPS and on `http://localhost`. Default true; turn off only to test over
    /// plain HTTP on another host.
    pub secure_cookie: bool,
    /// Requests per minute from one client address by callers who are not signed in; 0 means
    /// no limit. Bursts of a quarter of it are allowed. Default 600.
    pub public_requests_per_minute: u32,
    /// Sign-in attempts per minute from one client address; 0 means no limit. Default 10.
    pub login_attempts_per_minute: u32,
    /// Residents' reports per hour from one client address, in bursts of up to a third of it;
    /// 0 means no limit. Default 60: phones behind a carrier's shared address (CGNAT) or a
    /// shelter's Wi-Fi all count as one client, and in a disaster many report at once.
    pub reports_per_hour: u32,
    /// Look-ups of a report by its receipt code per hour from one client address, in bursts
    /// of up to a sixth of it; 0 means no limit. Default 120: plenty for a shelter's Wi-Fi,
    /// far too few to guess codes.
    pub receipt_lookups_per_hour: u32,
    /// Largest request body, bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Behind a reverse proxy: take the client address from the last `X-Forwarded-For` entry
    /// (for rate limits and the audit log). Default false.
    pub behind_proxy: bool,
    /// Origins (`https://host`) the web maps may load background tiles, glyphs and sprites
    /// from, added to the Content-Security-Policy. Default: the GSI tile server.
    pub map_origins: Vec<String>,
    /// The address the server is reached at (`https://gis.example.lg.jp`, optionally with a
    /// path prefix). When set, every link starts with it and the `Host` header is not used,
    /// so a forged `Host` cannot put another site into answers a cache keeps. Default: none,
    /// links use the `Host` header (and `X-Forwarded-Proto` only when `behind_proxy`).
    pub public_url: Option<String>,
    /// Seconds a client has to send a whole request head (request line and headers): counted
    /// from the connection's opening for its first request and from the first byte for later
    /// ones. A connection that sends nothing or part of a head is closed then. Default 10: a
    /// head is one packet or a few, even on a weak mobile signal.
    pub header_timeout_seconds: u32,
    /// Seconds a request body may go without a single byte arriving; it is then answered 408
    /// and the connection closed. A pause, not the whole upload: a phone sending photos on a
    /// weak signal may take minutes in all but keeps sending. Default 30.
    pub body_timeout_seconds: u32,
    /// Seconds a kept-alive connection may wait, idle, for its next request. Default 20: long
    /// enough for the next pan of a map, short so idle sockets of a shared address free their
    /// place under `max_connections_per_address`.
    pub idle_timeout_seconds: u32,
    /// Seconds an answer may wait, without any byte leaving, for a client that does not read
    /// it; the connection is closed then. Default 60.
    pub send_timeout_seconds: u32,
    /// Open connections from one client address (an IPv6 /64 counts as one address); further
    /// connections from it are closed at once, unread. 0 means no cap. Behind a reverse proxy
    /// every connection comes from the proxy's address: raise or turn off the cap there and let
    /// the proxy limit its clients. Default 256: a shelter's Wi-Fi or a carrier's shared
    /// address (CGNAT) puts many phones, each with up to six connections, behind one address.
    pub max_connections_per_address: u32,
    /// Open connections in all; at the cap new ones are closed at once. Lowered at start to
    /// what the open-file limit leaves after the files the server itself needs (with a
    /// warning). Default 4096.
    pub max_connections: u32,
    /// Longest request target (path and query), bytes; longer is a 414. Default 16 KiB: a
    /// CQL2 filter or a long list of ids fits, a URL built to exhaust memory does not.
    pub max_uri_bytes: usize,
    /// Largest total of a request's header fields (names, values and line ends), bytes;
    /// larger, or more than 100 fields, is a 431. Default 32 KiB: room for the cookies other
    /// services of the town's domain leave.
    pub max_header_bytes: usize,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            session_hours: 8,
            max_failed_logins: 5,
            lockout_minutes: 15,
            secure_cookie: true,
            public_requests_per_minute: 600,
            login_attempts_per_minute: 10,
            reports_per_hour: 60,
            receipt_lookups_per_hour: 120,
            max_body_bytes: 1 << 20,
            behind_proxy: false,
            map_origins: vec!["https://cyberjapandata.gsi.go.jp".into()],
            public_url: None,
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            idle_timeout_seconds: 20,
            send_timeout_seconds: 60,
            max_connections_per_address: 256,
            max_connections: 4096,
            max_uri_bytes: 16 << 10,
            max_header_bytes: 32 << 10,
        }
    }
}

/// Largest `max_uri_bytes`: the HTTP parser takes no longer request target.
pub const MAX_URI_BYTES: usize = 60 << 10;
/// Largest `max_header_bytes`.
pub const MAX_HEADER_BYTES: usize = 256 << 10;

/// How far (degrees, about 5 km) features may reach beyond `ServerConfig::extent`: hiking
/// courses and rivers cross the town boundary.
pub const EXTENT_MARGIN: f64 = 0.05;

fn default_title_ja() -> String {
    "まちマップ".into()
}
fn default_title_en() -> String {
    "machimap".into()
}
fn default_limit() -> usize {
    10
}
fn max_limit() -> usize {
    10_000
}
fn default_max_photo_bytes() -> usize {
    8 << 20
}

fn default_tile_cache_mb() -> u64 {
    256
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            title_ja: default_title_ja(),
            title_en: default_title_en(),
            description: String::new(),
            default_limit: default_limit(),
            max_limit: max_limit(),
            extent: None,
            security: SecurityConfig::default(),
            max_photo_bytes: default_max_photo_bytes(),
            tile_cache_mb: default_tile_cache_mb(),
        }
    }
}
