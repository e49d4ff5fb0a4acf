//! POST a body to an endpoint (the Modelmetry ingest API, an OTLP collector) with `ureq`,
//! within a deadline.
//!
//! ureq's defaults are wrong for telemetry, so each is set here: no timeouts by default (a
//! dead backend would hang a flush forever), 4xx/5xx turned into errors (losing
//! `Retry-After` and the problem+json body), and redirects followed with our headers (which
//! would carry the API key elsewhere).

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// The most of an error body we read: enough for any problem+json, bounded against a server
/// that streams forever.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// What a transport needs, and nothing more (as sentry-core's `TransportOptions`): where to
/// send, with which headers, within which timeouts, through which route. The exporters fill it
/// in from the settings; the transport knows nothing of API keys, paths or `Config`.
pub(crate) struct TransportOptions {
    /// The full URL requests go to.
    pub(crate) url: String,
    /// Sent with every request. Values are secrets (an API key, a collector token): they are
    /// never printed, and are scrubbed from diagnostics.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) content_type: &'static str,
    /// The most a connection may take to open.
    pub(crate) connect_timeout: Duration,
    /// The most one request may take, from start to answer.
    pub(crate) request_timeout: Duration,
    pub(crate) proxy: Proxy,
}

/// How requests reach the URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proxy {
    /// Through the proxy the environment names (`ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`),
    /// unless `NO_PROXY` names the host: ureq's default.
    FromEnvironment,
    /// Straight to the host. For a loopback URL (plain http allowed, as it stays on this
    /// machine), which a proxy would otherwise carry, key and all, in clear to its own host;
    /// Go's and curl's defaults reach this machine directly too.
    Direct,
}

impl Proxy {
    /// `Direct` for a URL on this machine (see [`Proxy::Direct`]), else `FromEnvironment`.
    pub(crate) fn for_loopback(loopback: bool) -> Proxy {
        if loopback {
            Proxy::Direct
        } else {
            Proxy::FromEnvironment
        }
    }
}

/// A header value, kept out of sight: it has no `Debug`, and the transport never prints it.
struct Secret(String);

pub(crate) struct HttpTransport {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, Secret)>,
    content_type: &'static str,
    request_timeout: Duration,
    /// After a 429, nothing is sent before this instant, by any thread (the server asked).
    paused_until: Mutex<Option<Instant>>,
    /// Set by [`cut`](HttpTransport::cut): shutdown's deadline has come.
    cut: AtomicBool,
    /// Wakes a sender waiting out a backoff or a `Retry-After` when the transport is cut.
    cut_signal: (Mutex<()>, Condvar),
}

/// Why a send failed.
#[derive(Debug)]
pub(crate) enum SendError {
    /// A 4xx other than 429: sending again would fail again.
    Rejected { status: u16, detail: String },
    /// 429, 502, 503, 504: worth retrying, after `retry_after` if the server said.
    Retryable {
        status: u16,
        retry_after: Option<Duration>,
        detail: String,
    },
    /// Any other answer (other 5xx, 3xx): not retried.
    Unexpected { status: u16, detail: String },
    /// No answer: connection refused or reset, DNS, TLS, timeout.
    Network(String),
    /// The deadline had passed before the request could start.
    DeadlinePassed,
    /// Not sent: the server's rate limit (a 429's `Retry-After`) lasts past the deadline.
    RateLimited,
    /// Interrupted, or not started, because shutdown's deadline came: never retried.
    Cut,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Rejected { status, detail } => {
                write!(f, "refused with status {status}: {detail}")
            }
            SendError::Retryable { status, detail, .. } => write!(f, "status {status}: {detail}"),
            SendError::Unexpected { status, detail } => {
                write!(f, "unexpected status {status}: {detail}")
            }
            SendError::Network(reason) => write!(f, "network error: {reason}"),
            SendError::DeadlinePassed => {
                f.write_str("the deadline passed before the request could be sent")
            }
            SendError::RateLimited => f.write_str(
                "not sent: the server's rate limit (429 Retry-After) outlasts the deadline",
            ),
            SendError::Cut => f.write_str("cut off by shutdown's deadline"),
        }
    }
}

impl HttpTransport {
    /// A transport to `options.url`.
    pub(crate) fn new(options: TransportOptions) -> Self {
        let TransportOptions {
            url,
            headers,
            content_type,
            connect_timeout,
            request_timeout,
            proxy,
        } = options;
        let mut builder = ureq::Agent::config_builder();
        if proxy == Proxy::Direct {
            builder = builder.proxy(None);
        }
        let agent: ureq::Agent = builder
            .timeout_connect(Some(connect_timeout))
            .timeout_global(Some(request_timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("modelmetry-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        for (_, value) in &headers {
            crate::diag::add_secret(value);
        }
        if let Some(userinfo) = userinfo_of(&url) {
            // A password in the URL is a secret too, should an error quote the URL.
            crate::diag::add_secret(userinfo);
        }
        HttpTransport {
            agent,
            url,
            headers: headers.into_iter().map(|(k, v)| (k, Secret(v))).collect(),
            content_type,
            request_timeout,
            paused_until: Mutex::new(None),
            cut: AtomicBool::new(false),
            cut_signal: (Mutex::new(()), Condvar::new()),
        }
    }

    /// Interrupt the request in flight (if any) at once and refuse every later one: ureq's
    /// `Agent::shutdown` closes the sockets under a blocked read or write. Shutdown's deadline
    /// must hold even against a request that started long before it with a longer timeout.
    pub(crate) fn cut(&self) {
        {
            let _held = self
                .cut_signal
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.cut.store(true, Ordering::SeqCst);
        }
        self.cut_signal.1.notify_all();
        self.agent.clone().shutdown();
    }

    pub(crate) fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// Sleep for `wait` (a backoff, a `Retry-After`), or less if the transport is cut
    /// meanwhile. True if it was cut.
    pub(crate) fn sleep(&self, wait: Duration) -> bool {
        let end = Instant::now() + wait;
        let mut held = self
            .cut_signal
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.is_cut() {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            held = self
                .cut_signal
                .1
                .wait_timeout(held, end - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The instant before which nothing may be sent, if it is still ahead.
    pub(crate) fn paused_until(&self) -> Option<Instant> {
        let until = *self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        until.filter(|t| *t > Instant::now())
    }

    /// Send nothing before `until` (a later pause already in force is kept).
    pub(crate) fn pause_until(&self, until: Instant) {
        let mut slot = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Some(slot.map_or(until, |t| t.max(until)));
    }

    /// POST `body`, returning by `deadline` whatever the server does: on success, the start of
    /// the answer's body (bounded; an OTLP partial success is read from it).
    pub(crate) fn send(&self, body: &[u8], deadline: Instant) -> Result<Vec<u8>, SendError> {
        if self.is_cut() {
            return Err(SendError::Cut);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(SendError::DeadlinePassed);
        }
        let timeout = remaining.min(self.request_timeout);
        let mut request = self.agent.post(&self.url);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.0.as_str());
        }
        let result = request
            .header("Content-Type", self.content_type)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .send(body);
        let mut response = match result {
            Ok(r) => r,
            Err(_) if self.is_cut() => return Err(SendError::Cut),
            Err(e) => return Err(SendError::Network(describe(&e))),
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            // Reading the (bounded) body also lets the connection be reused.
            let mut answer = Vec::new();
            let _ = response
                .body_mut()
                .as_reader()
                .take(MAX_ERROR_BODY)
                .read_to_end(&mut answer);
            return Ok(answer);
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let mut raw = Vec::new();
        let _ = response
            .body_mut()
            .as_reader()
            .take(MAX_ERROR_BODY)
            .read_to_end(&mut raw);
        let detail = problem_detail(&raw, status);
        Err(match status {
            429 | 502 | 503 | 504 => SendError::Retryable {
                status,
                retry_after,
                detail,
            },
            400..=499 => SendError::Rejected { status, detail },
            _ => SendError::Unexpected { status, detail },
        })
    }
}

/// The `user:password` part of `url`, if it has one.
fn userinfo_of(url: &str) -> Option<&str> {
    let (_, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    authority.rsplit_once('@').map(|(userinfo, _)| userinfo)
}

/// A ureq error in words, never with the request's headers.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::ConnectionFailed => "connection failed".to_owned(),
        ureq::Error::Io(io) => format!("i/o error: {io}"),
        other => other.to_string(),
    }
}

/// The parts we read of the `application/problem+json` body of an error answer (the spec's
/// `ErrorModel`; its `status` repeats the answer's).
#[derive(serde::Deserialize)]
struct ErrorModel {
    /// A short summary of the problem.
    #[serde(default)]
    title: Option<String>,
    /// What went wrong with this request.
    #[serde(default)]
    detail: Option<String>,
    /// Individual errors, each with where it occurred.
    #[serde(default)]
    errors: Option<Vec<ErrorDetail>>,
}

/// One error of an [`ErrorModel`].
#[derive(serde::Deserialize)]
struct ErrorDetail {
    /// Where the error occurred, e.g. `body.Spans[3].Name`.
    #[serde(default)]
    location: Option<String>,
    /// The error's text.
    #[serde(default)]
    message: Option<String>,
}

/// The `detail` of a problem+json body, or its `title`, or the start of the body as text.
pub(crate) fn problem_detail(raw: &[u8], status: u16) -> String {
    if let Ok(problem) = serde_json::from_slice::<ErrorModel>(raw) {
        let mut text = problem.detail.or(problem.title).unwrap_or_default();
        let locations: Vec<String> = problem
            .errors
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| match (e.location, e.message) {
                (Some(l), Some(m)) => Some(format!("{l}: {m}")),
                (None, Some(m)) => Some(m),
                _ => None,
            })
            .collect();
        if !locations.is_empty() {
            text = format!("{text} ({})", locations.join("; "));
        }
        if !text.is_empty() {
            return text;
        }
    }
    let text = String::from_utf8_lossy(raw);
    let text = text.trim();
    if text.is_empty() {
        return format!("HTTP {status} with no body");
    }
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds is still "a very long time", not "no answer": the
        // caller caps it at `MAX_RETRY_AFTER`.
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form senders may generate.
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u32 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u32
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    if day == 0 || day > 31 || *h > 23 || *m > 59 || *sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + sec;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX)),
            "an overflowing delay is the longest delay, not none"
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Foo 1994 08:50:37 GMT", now),
            None
        );
    }

    #[test]
    fn url_passwords_are_found() {
        assert_eq!(userinfo_of("https://u:pw@host/x@y"), Some("u:pw"));
        assert_eq!(userinfo_of("https://host/x@y"), None);
    }

    #[test]
    fn problem_details_are_read() {
        let body = br#"{"title":"Bad Request","status":400,"detail":"validation failed","errors":[{"location":"body.Spans[0].Name","message":"required"}]}"#;
        assert_eq!(
            problem_detail(body, 400),
            "validation failed (body.Spans[0].Name: required)"
        );
        assert_eq!(problem_detail(b"", 502), "HTTP 502 with no body");
        assert_eq!(problem_detail(b"upstream down", 503), "upstream down");
    }
}
