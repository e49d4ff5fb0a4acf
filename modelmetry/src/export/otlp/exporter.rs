//! Delivering OTLP/HTTP requests, by the same rules as the Modelmetry transport: the shared
//! retry loop (429/502/503/504 and network errors only, `Retry-After`, the 429 gate), a
//! deadline, requests bounded in bytes, a 413 split in half down to single spans. A partial
//! success is never retried: its rejected spans are counted and its message reported once.
//! Any other 4xx (a 400 included) drops the request whole: the OTLP spec says not to retry
//! it, and a collector's 400 names no span to isolate.
//!
//! Each request (one batch, its retries included) is bounded by the OTLP timeout
//! (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s by default) as well as by the export's deadline; the
//! body is gzipped (`Content-Encoding: gzip`) when compression is on. The size bound applies
//! to the uncompressed body, which is what collectors limit.
//!
//! `stats()` counts records, the pipeline's unit: a span with the events and findings that
//! ride on it (a span with one finding is 2 records). An OTLP partial success counts spans
//! (`rejected_spans`) and does not say which: when every span of the request was rejected,
//! all its records are; otherwise each rejected span counts as the request's mean weight in
//! records, rounded up. The report says both numbers. OTLP has no disk spool: with one
//! configured, it applies to the Modelmetry API only.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use prost::Message as _;

use super::proto::{ExportTraceServiceResponse, Span};
use super::{OtlpCompression, OtlpConfig};
use crate::config::{self, Config};
use crate::diag;
use crate::export::{Exporter, Settle, Tally};
use crate::id::SpanId;
use crate::record::FinishedTrace;
use crate::transport::http::{HttpTransport, Proxy, SendError, TransportOptions};
use crate::transport::retry;

pub(crate) struct OtlpExporter {
    otlp: OtlpConfig,
    transport: HttpTransport,
    max_bytes: usize,
    /// Problems already reported: each is reported once per client.
    reported: Mutex<HashSet<String>>,
}

impl OtlpExporter {
    pub(crate) fn new(config: &Config, otlp: OtlpConfig) -> Self {
        let mut headers = otlp.headers.clone();
        if otlp.compression == OtlpCompression::Gzip {
            headers.push(("Content-Encoding".to_owned(), "gzip".to_owned()));
        }
        // Reported now, through the application's hook when it set one (the client installs
        // that hook only after building its exporters).
        for warning in &otlp.warnings {
            diag::report_to(config.on_error.as_ref(), format_args!("OTLP: {warning}"));
        }
        let transport = HttpTransport::new(TransportOptions {
            url: otlp.endpoint.clone(),
            headers,
            content_type: otlp.protocol.content_type(),
            connect_timeout: config.connect_timeout,
            request_timeout: config.request_timeout,
            proxy: Proxy::for_loopback(config::targets_loopback(&otlp.endpoint)),
        });
        OtlpExporter {
            max_bytes: otlp.max_request_bytes,
            otlp,
            transport,
            reported: Mutex::new(HashSet::new()),
        }
    }

    fn report_once(&self, message: String) {
        let first = self
            .reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(message.clone());
        if first {
            diag::report(format_args!(
                "OTLP: {message} (further reports like this one are counted, not printed)"
            ));
        }
    }

    /// Send `spans` (each with its weight in records) as one request, or in halves when the
    /// request is too large for us or the server; each request's outcome is counted as it
    /// comes.
    fn send(&self, spans: &[(Span, u64)], deadline: Instant, settle: &dyn Settle) {
        let weight: u64 = spans.iter().map(|(_, w)| w).sum();
        let only: Vec<Span> = spans.iter().map(|(s, _)| s.clone()).collect();
        let body = self.otlp.encode_spans(only);
        if body.len() > self.max_bytes {
            return self.halves(
                spans,
                deadline,
                settle,
                "the request is over the size limit",
            );
        }
        let mut tally = Tally::default();
        let body = match self.otlp.compression {
            OtlpCompression::Gzip => gzip(&body),
            OtlpCompression::None => body,
        };
        let deadline = deadline.min(Instant::now() + self.otlp.timeout);
        match retry::send_with_retry(&self.transport, &body, weight, deadline) {
            Ok(answer) => {
                let (rejected_spans, message) = partial_success(&answer);
                let rejected = rejected_records(rejected_spans, spans.len() as u64, weight);
                tally.sent += weight - rejected;
                tally.rejected += rejected;
                if rejected > 0 {
                    let problem = format!(
                        "the collector rejected {rejected_spans} of {} span(s) ({rejected} \
                         record(s) with their events and findings): {message}",
                        spans.len()
                    );
                    tally.problem = Some(problem.clone());
                    self.report_once(problem);
                }
            }
            Err(SendError::Rejected {
                status: 413,
                detail,
            }) => return self.halves(spans, deadline, settle, &detail),
            Err(SendError::Rejected { status, detail }) => {
                tally.rejected += weight;
                let problem =
                    format!("the collector refused a request with status {status}: {detail}");
                tally.problem = Some(problem.clone());
                self.report_once(problem);
            }
            Err(SendError::RateLimited) => tally.rate_limited += weight,
            Err(SendError::Cut) => tally.shutdown += weight,
            Err(e) => {
                tally.network += weight;
                tally.problem = Some(format!("spans not delivered: {e}"));
                self.report_once(format!("spans not delivered: {e}"));
            }
        }
        settle.settle(&tally, false);
    }

    fn halves(&self, spans: &[(Span, u64)], deadline: Instant, settle: &dyn Settle, why: &str) {
        if spans.len() < 2 {
            let weight: u64 = spans.iter().map(|(_, w)| w).sum();
            let tally = Tally {
                too_large: weight,
                problem: Some(format!("a span is too large to send alone ({why})")),
                ..Tally::default()
            };
            settle.settle(&tally, false);
            self.report_once(format!("a span is too large to send alone ({why})"));
            return;
        }
        let (a, b) = spans.split_at(spans.len() / 2);
        self.send(a, deadline, settle);
        self.send(b, deadline, settle);
    }
}

impl Exporter for OtlpExporter {
    fn name(&self) -> &'static str {
        "OpenTelemetry"
    }

    fn export(&self, traces: &[FinishedTrace], deadline: Instant, settle: &dyn Settle) -> Tally {
        let spans = weighted_spans(&self.otlp, traces);
        // A first cut by protobuf size (JSON is larger: an over-size request is halved).
        let overhead = 256;
        let mut group: Vec<(Span, u64)> = Vec::new();
        let mut size = overhead;
        for (span, weight) in spans {
            let len = span.encoded_len() + 8;
            if !group.is_empty() && size + len > self.max_bytes {
                self.send(&std::mem::take(&mut group), deadline, settle);
                size = overhead;
            }
            size += len;
            group.push((span, weight));
        }
        if !group.is_empty() {
            self.send(&group, deadline, settle);
        }
        Tally::default()
    }

    fn paused_until(&self) -> Option<Instant> {
        self.transport.paused_until()
    }

    fn cut(&self) {
        self.transport.cut();
    }
}

/// The OTLP spans of `traces`, each with the number of our records it carries: itself (the
/// trace, or a span) and the events and findings that became its span events.
fn weighted_spans(otlp: &OtlpConfig, traces: &[FinishedTrace]) -> Vec<(Span, u64)> {
    let mut out = Vec::new();
    for t in traces {
        let mut signals: HashMap<SpanId, u64> = HashMap::new();
        for sig in &t.signals {
            *signals.entry(sig.target).or_default() += 1;
        }
        let spans = otlp.spans(t);
        let trace_level = signals.remove(&SpanId::NONE).unwrap_or(0);
        for (i, span) in spans.into_iter().enumerate() {
            let id = span
                .span_id
                .as_slice()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            let mut weight = 1 + signals.remove(&SpanId(id)).unwrap_or(0);
            // Trace-level signals ride on the root span (or the first span of a fragment).
            if i == 0 {
                weight += trace_level;
            }
            out.push((span, weight));
        }
    }
    out
}

/// `body` gzipped. Writing into a `Vec` cannot fail.
fn gzip(body: &[u8]) -> Vec<u8> {
    let mut out = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::default(),
    );
    let _ = out.write_all(body);
    out.finish().unwrap_or_default()
}

/// The records lost when the collector rejected `rejected` of the `spans` spans of a request
/// weighing `weight` records: all of them when every span was, else the rejected spans at the
/// request's mean weight, rounded up (the answer does not say which spans it rejected).
fn rejected_records(rejected: u64, spans: u64, weight: u64) -> u64 {
    if rejected == 0 || spans == 0 {
        return 0;
    }
    if rejected >= spans {
        return weight;
    }
    rejected.saturating_mul(weight).div_ceil(spans).min(weight)
}

/// The rejected span count and message of an OTLP answer (protobuf or JSON); `(0, "")` for
/// a full success (an empty or unreadable body).
fn partial_success(answer: &[u8]) -> (u64, String) {
    if answer.is_empty() {
        return (0, String::new());
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(answer) {
        let p = &v["partialSuccess"];
        let rejected = match &p["rejectedSpans"] {
            serde_json::Value::String(s) => s.parse().unwrap_or(0),
            n => n.as_u64().unwrap_or(0),
        };
        return (
            rejected,
            p["errorMessage"].as_str().unwrap_or_default().to_owned(),
        );
    }
    match ExportTraceServiceResponse::decode(answer) {
        Ok(r) => r
            .partial_success
            .map(|p| {
                (
                    u64::try_from(p.rejected_spans).unwrap_or(0),
                    p.error_message,
                )
            })
            .unwrap_or_default(),
        Err(_) => (0, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_spans_become_records_in_the_requests_units() {
        // 20 spans, 10 of them with a finding: 30 records.
        assert_eq!(
            rejected_records(20, 20, 30),
            30,
            "all rejected: all records"
        );
        assert_eq!(
            rejected_records(25, 20, 30),
            30,
            "never more than were sent"
        );
        assert_eq!(rejected_records(0, 20, 30), 0);
        assert_eq!(
            rejected_records(1, 20, 30),
            2,
            "the mean weight, rounded up"
        );
        assert_eq!(rejected_records(10, 20, 30), 15);
        assert_eq!(rejected_records(1, 3, 3), 1);
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let body = b"chat gpt-4o ".repeat(100);
        let packed = gzip(&body);
        assert!(packed.len() < body.len() / 10, "{}", packed.len());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, body);
    }

    #[test]
    fn partial_success_in_both_encodings() {
        assert_eq!(partial_success(b""), (0, String::new()));
        assert_eq!(partial_success(b"{}"), (0, String::new()));
        let json = br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#;
        assert_eq!(partial_success(json), (3, "too old".into()));
        let pb = ExportTraceServiceResponse {
            partial_success: Some(super::super::proto::ExportTracePartialSuccess {
                rejected_spans: 2,
                error_message: "bad".into(),
            }),
        }
        .encode_to_vec();
        assert_eq!(partial_success(&pb), (2, "bad".into()));
    }
}
