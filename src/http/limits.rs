//! Limits on one request, enforced before or while its handler reads it: the length of the
//! request target (414) and of the header fields (431), a declared body larger than the route
//! takes (413, answered from `Content-Length` before a byte of the body is read) and a body
//! that stops arriving (408). Each is answered with the OGC error document; after a refused
//! body the connection is closed, since what is left of the body is never read.
//!
//! The limits on connections (how many, how long a head may take, idle keep-alive) are
//! `http::serve`'s.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use super::ApiError;
use crate::config::SecurityConfig;

/// Most header fields one request may have (hyper's own default); more is a 431.
pub const MAX_HEADER_FIELDS: usize = 100;

/// The limits `guard` enforces, from `[server.security]`.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    /// Longest request target, bytes.
    pub max_uri_bytes: usize,
    /// Largest total of the header fields, bytes.
    pub max_header_bytes: usize,
    /// The body limit of routes that set none of their own.
    pub max_body_bytes: usize,
    /// Longest wait for the next piece of a request body.
    pub body_timeout: Duration,
}

impl RequestLimits {
    /// The limits of `config`.
    pub fn new(config: &SecurityConfig) -> RequestLimits {
        RequestLimits {
            max_uri_bytes: config.max_uri_bytes,
            max_header_bytes: config.max_header_bytes,
            max_body_bytes: config.max_body_bytes,
            body_timeout: Duration::from_secs(u64::from(config.body_timeout_seconds)),
        }
    }
}

/// The body limit in force for one request: the default, then the route's own (set by
/// `NoteBodyLimit`, which runs after `guard` has put this in the request's extensions).
#[derive(Clone)]
struct LimitInForce(Arc<AtomicUsize>);

/// Why a request was refused while its body was being read.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    TooLarge { declared: u64, limit: usize },
    Stalled(Duration),
}

impl Refusal {
    fn response(self) -> Response {
        let error = match self {
            Refusal::TooLarge { declared, limit } => ApiError::payload_too_large(format!(
                "the request body is {declared} bytes (Content-Length); this resource takes at \
                 most {limit} bytes"
            )),
            Refusal::Stalled(wait) => ApiError::request_timeout(format!(
                "the request body stopped arriving: nothing came for {} s; send the request again",
                wait.as_secs()
            )),
        };
        let mut response = error.into_response();
        // The rest of the body is never read, so the connection cannot carry another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// What a handler sees when `guard` has refused the body it was reading; the handler's own
/// answer is then replaced by the refusal's.
#[derive(Debug, thiserror::Error)]
#[error("the request body was refused")]
struct BodyRefused;

/// Refuses a request whose target or header fields are too long, and watches its body: a
/// declared length over the route's limit and a body that stops arriving are answered here,
/// whatever the handler would have said about the failed read.
pub async fn guard(
    State(limits): State<Arc<RequestLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let target = request.uri().to_string().len();
    if target > limits.max_uri_bytes {
        return ApiError::uri_too_long(format!(
            "the request target (path and query) is {target} bytes; at most {} are accepted",
            limits.max_uri_bytes
        ))
        .into_response();
    }
    let fields = request.headers().len();
    let bytes = header_bytes(request.headers());
    if fields > MAX_HEADER_FIELDS || bytes > limits.max_header_bytes {
        return ApiError::headers_too_large(format!(
            "the request has {fields} header fields of {bytes} bytes in all; at most \
             {MAX_HEADER_FIELDS} fields and {} bytes are accepted",
            limits.max_header_bytes
        ))
        .into_response();
    }
    let declared = content_length(request.headers());
    let limit = LimitInForce(Arc::new(AtomicUsize::new(limits.max_body_bytes)));
    let (refuse, mut refused) = oneshot::channel();
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(limit.clone());
    let body = Body::new(GuardedBody {
        inner: body,
        declared,
        limit,
        timeout: limits.body_timeout,
        stall: None,
        waiting: false,
        checked: false,
        failed: false,
        refuse: Some(refuse),
    });
    let response = tokio::select! {
        biased;
        Ok(refusal) = &mut refused => return refusal.response(),
        response = next.run(Request::from_parts(parts, body)) => response,
    };
    // The handler may have answered its failed read in the same poll that refused it.
    match refused.try_recv() {
        Ok(refusal) => refusal.response(),
        Err(_) => response,
    }
}

/// The size of the header fields as sent in HTTP/1.1: `name: value\r\n`.
fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The layer that tells `guard` a route's own body limit (part of `extract::body_limit`):
/// it runs after `guard`, on the way to the handler, and before the body is first read.
#[derive(Debug, Clone, Copy)]
pub struct NoteBodyLimit(pub usize);

impl<S> Layer<S> for NoteBodyLimit {
    type Service = NoteBodyLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        NoteBodyLimitService {
            inner,
            bytes: self.0,
        }
    }
}

/// The service of [`NoteBodyLimit`].
#[derive(Debug, Clone)]
pub struct NoteBodyLimitService<S> {
    inner: S,
    bytes: usize,
}

impl<S, B> Service<axum::http::Request<B>> for NoteBodyLimitService<S>
where
    S: Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> S::Future {
        if let Some(limit) = request.extensions().get::<LimitInForce>() {
            limit.0.store(self.bytes, Ordering::Relaxed);
        }
        self.inner.call(request)
    }
}

/// A request body under watch: on its first read it checks the declared length against the
/// route's limit, and it fails when no bytes have come for `timeout` while it is read.
struct GuardedBody {
    inner: Body,
    declared: Option<u64>,
    limit: LimitInForce,
    timeout: Duration,
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether the last read found nothing (the stall timer runs from then).
    waiting: bool,
    checked: bool,
    failed: bool,
    refuse: Option<oneshot::Sender<Refusal>>,
}

impl GuardedBody {
    fn refuse(&mut self, refusal: Refusal) -> axum::Error {
        self.failed = true;
        if let Some(refuse) = self.refuse.take() {
            let _ = refuse.send(refusal);
        }
        axum::Error::new(BodyRefused)
    }
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        // A refused body stays refused: ending it instead would pass a truncated body on.
        if this.failed {
            return Poll::Ready(Some(Err(axum::Error::new(BodyRefused))));
        }
        if !this.checked {
            this.checked = true;
            let limit = this.limit.0.load(Ordering::Relaxed);
            if let Some(declared) = this.declared.filter(|&n| n > limit as u64) {
                return Poll::Ready(Some(
                    Err(this.refuse(Refusal::TooLarge { declared, limit })),
                ));
            }
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                let timeout = this.timeout;
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if !this.waiting {
                    this.waiting = true;
                    stall.as_mut().reset(Instant::now() + timeout);
                }
                if stall.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(this.refuse(Refusal::Stalled(timeout)))));
                }
                Poll::Pending
            }
            ready => {
                this.waiting = false;
                ready
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        !self.failed && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_are_counted_as_sent() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("example.jp"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert_eq!(header_bytes(&headers), "host: example.jp\r\n".len() + 20);
        assert_eq!(content_length(&headers), Some(12));
    }
}
