//! What every response of a public-facing server needs: security headers, CORS only where
//! reading is public and per-client rate limits.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::ApiError;
use super::identity::ClientAddr;
use crate::config::SecurityConfig;

/// Per-client limits: anonymous requests and sign-in attempts.
pub struct RateLimits {
    public: Option<DefaultKeyedRateLimiter<String>>,
    login: Option<DefaultKeyedRateLimiter<String>>,
    reports: Option<DefaultKeyedRateLimiter<String>>,
    receipts: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
}

/// `per_minute` sustained, with bursts of `burst`; `None` (no limit) for 0.
fn limiter(per_minute: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Some(RateLimiter::keyed(
        Quota::per_minute(rate).allow_burst(burst),
    ))
}

/// `per_hour` sustained, with bursts of `burst`; `None` (no limit) for 0.
fn hourly_limiter(per_hour: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<String>> {
    NonZeroU32::new(per_hour)?;
    let period = std::time::Duration::from_secs(3600) / per_hour;
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Some(RateLimiter::keyed(
        Quota::with_period(period)?.allow_burst(burst),
    ))
}

impl RateLimits {
    pub fn new(config: &SecurityConfig) -> RateLimits {
        RateLimits {
            // A map page loads in a burst (collections, items of several layers), then idles.
            public: limiter(
                config.public_requests_per_minute,
                config.public_requests_per_minute / 4,
            ),
            // A person mistyping needs a few tries at once; a script needs many.
            login: limiter(
                config.login_attempts_per_minute,
                config.login_attempts_per_minute,
            ),
            // Each report is a durable write with photos: far fewer than reads.
            reports: hourly_limiter(config.reports_per_hour, config.reports_per_hour / 3),
            // A resident looks up a receipt now and then; guessing codes takes millions.
            receipts: hourly_limiter(
                config.receipt_lookups_per_hour,
                config.receipt_lookups_per_hour / 6,
            ),
            checks: AtomicU64::new(0),
        }
    }

    /// One request from a caller who is not signed in.
    pub fn check_public(&self, client: &ClientAddr) -> Result<(), ApiError> {
        self.check(self.public.as_ref(), client, "requests")
    }

    /// One sign-in attempt.
    pub fn check_login(&self, client: &ClientAddr) -> Result<(), ApiError> {
        self.check(self.login.as_ref(), client, "sign-in attempts")
    }

    /// One resident's report.
    pub fn check_report(&self, client: &ClientAddr) -> Result<(), ApiError> {
        self.check(self.reports.as_ref(), client, "reports")
    }

    /// One look-up of a report by its receipt code (signed in or not).
    pub fn check_receipt(&self, client: &ClientAddr) -> Result<(), ApiError> {
        self.check(self.receipts.as_ref(), client, "receipt look-ups")
    }

    fn check(
        &self,
        limiter: Option<&DefaultKeyedRateLimiter<String>>,
        client: &ClientAddr,
        what: &str,
    ) -> Result<(), ApiError> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        // Forget idle clients now and then so the table does not grow without bound.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
        }
        limiter.check_key(&limit_key(client)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let retry_after = wait.as_secs() + 1;
            ApiError::too_many_requests(
                format!("too many {what} from this address; try again in {retry_after} s"),
                retry_after,
            )
        })
    }
}

/// The key a client is counted under: its IPv4 address, or the /64 network of an IPv6 address
/// (one household or phone gets a whole /64 and could otherwise rotate through it).
fn limit_key(client: &ClientAddr) -> String {
    match client.0.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => client.0.clone(),
    }
}

/// The Content-Security-Policy: scripts and styles from this server only; MapLibre's workers
/// from blob URLs; background tiles from the configured map origins.
pub fn content_security_policy(config: &SecurityConfig) -> String {
    let maps = config.map_origins.join(" ");
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob: {maps}; connect-src 'self' {maps}; font-src 'self' {maps}; \
         worker-src 'self' blob:; child-src blob:; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    )
}

/// Security headers on every response; `no-store` on anything answered to a signed-in
/// caller and on sign-in and admin answers, so internal data and tokens never land in a
/// shared cache or a kiosk PC's browser cache.
pub async fn security_headers(
    State(csp): State<HeaderValue>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let private = request.headers().contains_key(header::AUTHORIZATION)
        || request.headers().contains_key(header::COOKIE)
        || path.starts_with("/auth/")
        || path.starts_with("/admin/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.append(
        header::VARY,
        HeaderValue::from_static("Authorization, Cookie"),
    );
    if private {
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// CORS for the public read endpoints: any origin may read, without credentials, and the
/// `Authorization` header is not allowed cross-origin, so another site's page can never use
/// a staff token through a visitor's browser.
pub fn public_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
        // What a map revalidating tiles and items or resuming a live stream sends; never
        // Authorization or cookies.
        .allow_headers([
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::IF_MODIFIED_SINCE,
            header::CACHE_CONTROL,
            header::HeaderName::from_static("last-event-id"),
        ])
        .max_age(std::time::Duration::from_secs(3600))
        // A web map reading another CRS needs to see which one it got (Part 2); one that
        // revalidates an item needs its ETag.
        .expose_headers([header::HeaderName::from_static("content-crs"), header::ETAG])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let a = limit_key(&ClientAddr("2001:db8:1:2:aaaa::1".into()));
        let b = limit_key(&ClientAddr("2001:db8:1:2:bbbb::9".into()));
        let c = limit_key(&ClientAddr("2001:db8:1:3::1".into()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(limit_key(&ClientAddr("192.0.2.7".into())), "192.0.2.7");
    }
}
