//! Sampling: which traces are sent.
//!
//! **Head sampling** ([`Config::sample_rate`](crate::Config::sample_rate),
//! `MODELMETRY_SAMPLE_RATE`) decides when a trace opens, from its trace id alone: the low and
//! high 64 bits of the id are XORed and mixed (SplitMix64's finaliser), and the trace is kept
//! when the top 53 bits of that hash, as a fraction of 2^53, are below the rate. Every service
//! that sees the same trace id (through `traceparent`) with the same rate decides alike; a
//! trace continued from an incoming `traceparent` follows that header's `sampled` flag instead
//! (the caller already decided).
//!
//! A trace dropped at its head is still recorded, cheaply, so that the **tail rules** can keep
//! it when it ends: its spans (names, kinds, times, severity), model names, usage, cost, and
//! findings and events (with their metadata) are kept; nothing of its content is captured
//! (inputs, outputs, messages, documents, queries, embedding inputs), nor spans' and traces'
//! metadata values, nor error texts (an `Err` a `#[span]` function returns is described by
//! the macro, then left out: only the severity is kept).
//! No rule needs content: errors read the severity, finding rules read the finding's name and
//! value, the cost rule the spans' cost, the duration rule the trace's times. A trace a rule
//! keeps is therefore sent without that content.
//!
//! Kept traces carry `modelmetry.sample_rate` in their metadata (the probability of being kept
//! by head sampling alone), and `modelmetry.kept_by` when a tail rule kept a trace the head had
//! dropped. Dropped traces are counted, with their usage and cost, in
//! [`Stats::sampling`](crate::Stats::sampling).

use std::time::Duration;

use crate::metadata_keys as keys;
use crate::record::{FinishedTrace, Severity, SignalBody};
use crate::stats;
use crate::values::FindingValue;

/// A bound on a finding's number, for [`Config::keep_if_finding`](crate::Config::keep_if_finding).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Threshold {
    /// Keep the trace when a finding of that name has a number below this one.
    Below(f64),
    /// Keep the trace when a finding of that name has a number above this one.
    Above(f64),
}

impl Threshold {
    fn holds(self, value: f64) -> bool {
        match self {
            Threshold::Below(t) => value < t,
            Threshold::Above(t) => value > t,
        }
    }
}

/// The sampling settings a `Config` carries.
#[derive(Clone, Debug)]
pub(crate) struct Rules {
    pub(crate) rate: f64,
    pub(crate) keep_errors: bool,
    pub(crate) findings: Vec<(String, Threshold)>,
    pub(crate) cost_over: Option<f64>,
    pub(crate) duration_over: Option<Duration>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            rate: 1.0,
            keep_errors: true,
            findings: Vec::new(),
            cost_over: None,
            duration_over: None,
        }
    }
}

/// The head decision for a trace id at `rate`.
pub(crate) fn head_keeps(trace_id: u128, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let mut z = (trace_id as u64) ^ ((trace_id >> 64) as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    ((z >> 11) as f64) < rate * (1u64 << 53) as f64
}

/// Decide a finished trace (or fragment) at its end: true to send it (with its
/// `modelmetry.sample_rate` written), false when it is dropped (counted, with its usage and
/// cost, in `stats().sampling`).
///
/// A separate step of the pipeline, run on the finished trace before redaction and the
/// fan-out to the exporters.
pub(crate) fn decide(rules: &Rules, trace: &mut FinishedTrace) -> bool {
    if rules.rate >= 1.0 && trace.sampled {
        return true;
    }
    let kept_by = if trace.sampled {
        None
    } else {
        match tail_rule(rules, trace) {
            Some(rule) => Some(rule),
            None => {
                count_dropped(trace);
                return false;
            }
        }
    };
    stats::count_sampled_kept(kept_by.is_some());
    if let Some(info) = trace.info.as_deref_mut() {
        info.metadata
            .insert(keys::SAMPLE_RATE.into(), serde_json::json!(rules.rate));
        if let Some(rule) = kept_by {
            info.metadata.insert(keys::KEPT_BY.into(), rule.into());
        }
    }
    true
}

/// The first tail rule that keeps `trace`, by name.
fn tail_rule(rules: &Rules, trace: &FinishedTrace) -> Option<String> {
    if rules.keep_errors {
        let trace_error = trace
            .info
            .as_ref()
            .is_some_and(|i| i.severity == Some(Severity::Error));
        if trace_error
            || trace
                .spans
                .iter()
                .any(|s| s.severity == Some(Severity::Error))
        {
            return Some("error".into());
        }
    }
    for signal in &trace.signals {
        if let SignalBody::Finding(f) = &signal.body {
            if let FindingValue::Number(n) = f.value {
                for (name, threshold) in &rules.findings {
                    if f.name == name.as_str() && threshold.holds(n) {
                        return Some(format!("finding:{name}"));
                    }
                }
            }
        }
    }
    if let Some(limit) = rules.cost_over {
        if total_cost(trace) > limit {
            return Some("cost".into());
        }
    }
    if let (Some(limit), Some(info)) = (rules.duration_over, trace.info.as_ref()) {
        if let Some(end) = info.end {
            if end.saturating_duration_since(info.start) > limit {
                return Some("duration".into());
            }
        }
    }
    None
}

/// The sum of the spans' cost totals (input + output where no total is given).
fn total_cost(trace: &FinishedTrace) -> f64 {
    spans_cost(trace, |_| true)
}

fn spans_cost(trace: &FinishedTrace, currency: impl Fn(&str) -> bool) -> f64 {
    let mut sum = 0.0;
    for s in &trace.spans {
        let Some(cost) = s.data.as_ref().and_then(|d| d.llm.cost.as_ref()) else {
            continue;
        };
        match &cost.total {
            Some(m) if currency(&m.currency) => sum += m.amount,
            Some(_) => {}
            None => {
                for m in [&cost.input, &cost.output].into_iter().flatten() {
                    if currency(&m.currency) {
                        sum += m.amount;
                    }
                }
            }
        }
    }
    if sum.is_finite() { sum } else { 0.0 }
}

fn count_dropped(trace: &FinishedTrace) {
    let (mut input, mut output, mut total) = (0u64, 0u64, 0u64);
    for s in &trace.spans {
        let Some(usage) = s.data.as_ref().and_then(|d| d.llm.usage.as_ref()) else {
            continue;
        };
        let tokens = |v: &Option<crate::values::UsageValue>| {
            v.as_ref()
                .filter(|v| v.unit == "tokens" && v.amount.is_finite() && v.amount > 0.0)
                .map_or(0, |v| v.amount as u64)
        };
        let (i, o) = (tokens(&usage.input), tokens(&usage.output));
        input += i;
        output += o;
        total += match tokens(&usage.total) {
            0 => i + o,
            t => t,
        };
    }
    let usd = spans_cost(trace, |c| c == "USD");
    stats::count_sampled_out(stats::SampledOut {
        traces: u64::from(trace.info.is_some()),
        records: trace.record_count(),
        input_tokens: input,
        output_tokens: output,
        total_tokens: total,
        cost_usd_nanos: (usd * 1e9).round().max(0.0) as u64,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_edges() {
        for id in [1u128, u128::MAX, 0x1234_5678_9abc_def0_1122_3344_5566_7788] {
            assert!(head_keeps(id, 1.0));
            assert!(!head_keeps(id, 0.0));
        }
    }

    #[test]
    fn decision_is_monotonic_in_the_rate() {
        // A trace kept at a rate is kept at every higher rate: services with different rates
        // keep nested sets.
        for id in 1..2000u128 {
            let id = id.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834);
            let mut kept = false;
            for r in [0.01, 0.1, 0.3, 0.5, 0.9, 1.0] {
                let k = head_keeps(id, r);
                assert!(!kept || k);
                kept = k;
            }
        }
    }
}
