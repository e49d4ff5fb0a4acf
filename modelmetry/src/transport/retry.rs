//! Sending one request with the retry rules every exporter shares: network errors and
//! 429/502/503/504 are retried with exponential backoff and full jitter until the deadline;
//! `Retry-After` (seconds or an HTTP date) is honoured, capped; after a 429 nothing is sent by
//! any thread of the client until its time has passed (the transport's gate). Every other
//! answer is final.

use std::time::{Duration, Instant};

use super::http::{HttpTransport, SendError};
use crate::stats;

/// The longest a `Retry-After` is obeyed: a server (or a clock) asking for more is capped.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The first backoff; it doubles with each retry, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// POST `body` (holding `records` records), retrying network errors and 429/502/503/504 until
/// `deadline`. On success, the start of the answer's body.
pub(crate) fn send_with_retry(
    transport: &HttpTransport,
    body: &[u8],
    records: u64,
    deadline: Instant,
) -> Result<Vec<u8>, SendError> {
    let mut attempt: u32 = 0;
    loop {
        if let Some(until) = transport.paused_until() {
            if until >= deadline {
                stats::count_skipped_send();
                return Err(SendError::RateLimited);
            }
            if transport.sleep(until.saturating_duration_since(Instant::now())) {
                return Err(SendError::Cut);
            }
        }
        let error = match transport.send(body, deadline) {
            Ok(answer) => return Ok(answer),
            Err(e @ (SendError::Retryable { .. } | SendError::Network(_))) => e,
            Err(e) => return Err(e),
        };
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << attempt.min(16))
            .min(MAX_BACKOFF);
        let now = Instant::now();
        let jitter = (crate::id::random_u128() as u64 >> 11) as f64 / (1u64 << 53) as f64;
        let wait = retry_wait(&error, backoff, jitter);
        if matches!(error, SendError::Retryable { status: 429, .. }) {
            // The gate: every sender of this client waits for it, not only this one.
            transport.pause_until(now + wait);
            if now + wait >= deadline {
                stats::count_skipped_send();
                return Err(SendError::RateLimited);
            }
        }
        if now + wait >= deadline {
            return Err(error);
        }
        if transport.sleep(wait) {
            return Err(SendError::Cut);
        }
        stats::count_retried(records);
        attempt += 1;
    }
}

/// How long to wait before retrying after `error`: the server's `Retry-After` (capped at
/// [`MAX_RETRY_AFTER`]), else for a 429 the backoff, else a random share (`jitter`, in
/// [0, 1)) of the backoff, so that clients that failed together do not retry together.
fn retry_wait(error: &SendError, backoff: Duration, jitter: f64) -> Duration {
    match error {
        SendError::Retryable {
            retry_after: Some(after),
            ..
        } => (*after).min(MAX_RETRY_AFTER),
        SendError::Retryable { status: 429, .. } => backoff.min(MAX_RETRY_AFTER),
        _ => backoff.mul_f64(jitter.clamp(0.0, 1.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_obeyed_up_to_its_cap_and_backoff_is_jittered() {
        let after = |status: u16, secs: Option<u64>| SendError::Retryable {
            status,
            retry_after: secs.map(Duration::from_secs),
            detail: String::new(),
        };
        let backoff = Duration::from_millis(400);
        assert_eq!(
            retry_wait(&after(429, Some(3)), backoff, 0.5),
            Duration::from_secs(3)
        );
        assert_eq!(
            retry_wait(&after(503, Some(7)), backoff, 0.5),
            Duration::from_secs(7)
        );
        assert_eq!(
            retry_wait(&after(429, Some(86_400)), backoff, 0.5),
            MAX_RETRY_AFTER
        );
        assert_eq!(retry_wait(&after(429, None), backoff, 0.5), backoff);
        assert_eq!(
            retry_wait(&after(503, None), backoff, 0.25),
            Duration::from_millis(100)
        );
        let network = SendError::Network("refused".into());
        assert_eq!(retry_wait(&network, backoff, 0.0), Duration::ZERO);
        assert!(retry_wait(&network, backoff, 0.999) < backoff);
    }
}
