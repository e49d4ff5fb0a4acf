//! W3C Trace Context: carry the current span to another service in `traceparent` (and pass
//! `tracestate` through), and continue a trace that arrived that way.
//!
//! ```
//! # let _rec = modelmetry::testing::Recorder::install();
//! // The caller: add the headers to an outgoing request.
//! let _trace = modelmetry::start_trace("checkout");
//! let mut headers = Vec::new();
//! modelmetry::propagation::inject(|name, value| headers.push((name.to_owned(), value.to_owned())));
//! assert_eq!(headers[0].0, "traceparent");
//!
//! // The service that receives it: continue the trace under the caller's span.
//! let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
//! let ctx = modelmetry::propagation::extract(get);
//! let _attached = ctx.attach();
//! let _span = modelmetry::start_span("handle", modelmetry::Kind::Other);
//! ```
//!
//! A malformed `traceparent` is ignored, as the W3C spec says: [`extract`] returns an empty
//! context and the receiving service starts a trace of its own. Never a panic.

use crate::context::handle::Context;
use crate::context::stack;
use crate::id::{SpanId, TraceId};

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

/// The `tracestate` we pass on is at most this long (the W3C limit); a longer one is dropped.
const MAX_TRACESTATE: usize = 512;

/// The current span as a `traceparent` value (`00-{trace}-{span}-{flags}`), if a trace is
/// open. The `sampled` flag (`01`) is set when head sampling kept the trace, clear (`00`) when
/// it dropped it ([`Config::sample_rate`](crate::Config::sample_rate)): the receiving service
/// follows it.
pub fn traceparent() -> Option<String> {
    if !crate::dispatch::enabled() {
        return None;
    }
    let (trace, span, _, sampled) = stack::current_propagation()?;
    Some(format_traceparent(trace, span, sampled))
}

/// Call `set(name, value)` for each header that carries the current span to another service:
/// `traceparent`, and `tracestate` when the trace arrived with one. Does nothing when no trace
/// is open.
pub fn inject(mut set: impl FnMut(&str, &str)) {
    if !crate::dispatch::enabled() {
        return;
    }
    if let Some((trace, span, state, sampled)) = stack::current_propagation() {
        set(TRACEPARENT, &format_traceparent(trace, span, sampled));
        if let Some(state) = state {
            set(TRACESTATE, &state);
        }
    }
}

/// The context an incoming request carries, read with `get(header_name)` (names are asked in
/// lowercase). Attach it to continue the caller's trace; an absent or malformed `traceparent`
/// gives an empty context.
pub fn extract(get: impl Fn(&str) -> Option<String>) -> Context {
    let Some(parent) = get(TRACEPARENT) else {
        return Context::default();
    };
    let state = get(TRACESTATE).filter(|s| !s.trim().is_empty() && s.len() <= MAX_TRACESTATE);
    from_headers(&parent, state.as_deref())
}

/// The context of a `traceparent` (and optional `tracestate`) value. Its `sampled` flag is
/// followed: a trace the caller dropped is dropped here too (tail rules may still keep it).
pub fn from_headers(traceparent: &str, tracestate: Option<&str>) -> Context {
    match parse_traceparent(traceparent) {
        Some((trace, span)) => Context::remote_with_state(
            trace,
            span,
            tracestate.map(str::to_owned),
            Some(sampled_flag(traceparent)),
        ),
        None => Context::default(),
    }
}

/// The `sampled` bit of a valid `traceparent`'s flags.
fn sampled_flag(value: &str) -> bool {
    value
        .trim()
        .get(53..55)
        .and_then(|f| u8::from_str_radix(f, 16).ok())
        .is_some_and(|f| f & 1 == 1)
}

fn format_traceparent(trace: TraceId, span: SpanId, sampled: bool) -> String {
    let flags = if sampled { "01" } else { "00" };
    format!("00-{:032x}-{:016x}-{flags}", trace.0, span.0)
}

/// Parse a `traceparent` per W3C Trace Context level 1: `version-traceid-parentid-flags`,
/// lowercase hex; version `ff` and all-zero ids are invalid. A future version may append
/// fields after the flags, separated by `-`.
pub(crate) fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId)> {
    let value = value.trim();
    let bytes = value.as_bytes();
    if bytes.len() < 55 {
        return None;
    }
    let version = &value[0..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    if version == "00" && bytes.len() != 55 {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    if bytes.len() > 55 && bytes[55] != b'-' {
        return None;
    }
    let (trace, span, flags) = (&value[3..35], &value[36..52], &value[53..55]);
    if !is_lower_hex(trace) || !is_lower_hex(span) || !is_lower_hex(flags) {
        return None;
    }
    let trace = u128::from_str_radix(trace, 16).ok()?;
    let span = u64::from_str_radix(span, 16).ok()?;
    if trace == 0 || span == 0 {
        return None;
    }
    Some((TraceId(trace), SpanId(span)))
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_example() {
        let (t, s) = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .expect("valid");
        assert_eq!(t.0, 0x0af7651916cd43dd8448eb211c80319c);
        assert_eq!(s.0, 0xb7ad6b7169203331);
        assert_eq!(
            format_traceparent(t, s, true),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        assert!(sampled_flag(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        ));
        assert!(!sampled_flag(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
        ));
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01",
            "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c8031é-b7ad6b7169203331-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn accepts_future_versions_with_more_fields() {
        assert!(
            parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-ever")
                .is_some()
        );
        assert!(
            parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x").is_none()
        );
    }
}
