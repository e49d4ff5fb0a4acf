//! The console exporter: each finished trace as an indented tree on stderr.
//!
//! ```text
//! trace chatbot.turn  1.24s  session=conv-42 user=user-7  cost 0.00075 USD
//! ├── llm llm.generate  402ms  gpt-4o  tokens 120→45  cost 0.00075 USD
//! │   └── event tool_selected {"tool":"GetOrderInformation"}
//! ├── tool GetOrderInformation  31ms
//! └── finding response_safe_score = 0.93
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::metadata_keys as keys;
use crate::time::Tick;

use super::{Exporter, Settle, Tally};
use crate::id::SpanId;
use crate::record::{FinishedTrace, Signal, SignalBody, SpanRecord};
use crate::values::FindingValue;

pub(crate) struct Console {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Console {
    pub(crate) fn stderr() -> Self {
        Console {
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }
}

impl Exporter for Console {
    fn export(&self, traces: &[FinishedTrace], _deadline: Instant, _: &dyn Settle) -> Tally {
        let mut text = String::new();
        for t in traces {
            text.push_str(&render(t, true));
        }
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        // stderr going away (a closed pipe) is not the application's problem, nor a reason to
        // count the trace as lost twice: it was rendered, and nowhere else to go.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        Tally {
            sent: traces.iter().map(FinishedTrace::record_count).sum(),
            ..Tally::default()
        }
    }
}

/// Render a trace as a tree. `durations: false` leaves out every time, for snapshots.
pub(crate) fn render(trace: &FinishedTrace, durations: bool) -> String {
    let mut children: HashMap<SpanId, Vec<&SpanRecord>> = HashMap::new();
    let known: std::collections::HashSet<SpanId> = trace.spans.iter().map(|s| s.id).collect();
    let mut top: Vec<&SpanRecord> = Vec::new();
    for s in &trace.spans {
        if s.parent != trace.root_span && known.contains(&s.parent) {
            children.entry(s.parent).or_default().push(s);
        } else {
            top.push(s);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| s.start);
    }
    top.sort_by_key(|s| s.start);
    let mut signals: HashMap<SpanId, Vec<&Signal>> = HashMap::new();
    for sig in &trace.signals {
        let key = if known.contains(&sig.target) {
            sig.target
        } else {
            SpanId::NONE
        };
        signals.entry(key).or_default().push(sig);
    }

    let mut out = String::new();
    match &trace.info {
        Some(info) => {
            let _ = write!(out, "trace {}", info.name);
            if durations {
                if let Some(end) = info.end {
                    let _ = write!(
                        out,
                        "  {}",
                        human(end.saturating_duration_since(info.start))
                    );
                }
            }
            if let Some(s) = &info.session_id {
                let _ = write!(out, "  session={s}");
            }
            if let Some(u) = &info.user_id {
                let _ = write!(out, "  user={u}");
            }
            if !info.tags.is_empty() {
                let _ = write!(out, "  tags=[{}]", info.tags.join(", "));
            }
            // What the turn cost: its spans' costs summed when it was priced.
            if let Some(cost) = info
                .metadata
                .get(keys::TOTAL_COST_USD)
                .and_then(serde_json::Value::as_f64)
            {
                let _ = write!(out, "  cost {} USD", amount_text(cost));
                if let Some(n) = info
                    .metadata
                    .get(keys::TOTAL_SPANS_WITHOUT_COST)
                    .and_then(serde_json::Value::as_u64)
                {
                    let _ = write!(out, " (+{n} unpriced)");
                }
            }
            if let Some(sev) = info.severity {
                let _ = write!(out, "  {}", sev.as_str());
            }
            if let Some(m) = &info.message {
                let _ = write!(out, ": {m}");
            }
        }
        None => {
            let _ = write!(out, "trace {} (continued)", trace.trace_id.to_uuid());
        }
    }
    out.push('\n');
    let root_items = items(&top, signals.get(&SpanId::NONE));
    write_items(&mut out, &root_items, "", &children, &signals, durations);
    out
}

enum Item<'a> {
    Span(&'a SpanRecord),
    Signal(&'a Signal),
}

impl Item<'_> {
    fn at(&self) -> Tick {
        match self {
            Item::Span(s) => s.start,
            Item::Signal(s) => s.at,
        }
    }
}

fn items<'a>(spans: &[&'a SpanRecord], sigs: Option<&Vec<&'a Signal>>) -> Vec<Item<'a>> {
    let mut v: Vec<Item<'a>> = spans.iter().map(|s| Item::Span(s)).collect();
    v.extend(sigs.into_iter().flatten().map(|s| Item::Signal(s)));
    v.sort_by_key(Item::at);
    v
}

fn write_items(
    out: &mut String,
    list: &[Item<'_>],
    prefix: &str,
    children: &HashMap<SpanId, Vec<&SpanRecord>>,
    signals: &HashMap<SpanId, Vec<&Signal>>,
    durations: bool,
) {
    for (i, item) in list.iter().enumerate() {
        let last = i + 1 == list.len();
        let (branch, indent) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        out.push_str(prefix);
        out.push_str(branch);
        match item {
            Item::Span(s) => {
                span_line(out, s, durations);
                let kids = children.get(&s.id).map(Vec::as_slice).unwrap_or(&[]);
                let sub = items(kids, signals.get(&s.id));
                write_items(
                    out,
                    &sub,
                    &format!("{prefix}{indent}"),
                    children,
                    signals,
                    durations,
                );
            }
            Item::Signal(sig) => signal_line(out, sig),
        }
    }
}

fn span_line(out: &mut String, s: &SpanRecord, durations: bool) {
    let _ = write!(out, "{} {}", s.kind, s.name);
    if durations {
        if let Some(end) = s.end {
            let _ = write!(out, "  {}", human(end.saturating_duration_since(s.start)));
        }
    }
    if let Some(d) = &s.data {
        if let Some(model) = d.llm.options.as_ref().and_then(|o| o.model.as_deref()) {
            let _ = write!(out, "  {model}");
        }
        if let Some(u) = &d.llm.usage {
            let amount = |v: &Option<crate::values::UsageValue>| {
                v.as_ref().map_or("?".to_owned(), |v| v.amount.to_string())
            };
            let _ = write!(out, "  tokens {}→{}", amount(&u.input), amount(&u.output));
        }
        if let Some(cost) = d.llm.cost.as_ref().and_then(total_cost) {
            let _ = write!(out, "  cost {} {}", amount_text(cost.0), cost.1);
        } else if d.metadata.contains_key(keys::COST_UNPRICED) {
            out.push_str("  unpriced");
        }
        // Time to first token: a time, so only where times are shown.
        if let (true, Some(ttft)) = (
            durations,
            d.metadata
                .get(keys::TTFT_MS)
                .and_then(serde_json::Value::as_f64),
        ) {
            let _ = write!(
                out,
                "  ttft {}",
                human(Duration::from_secs_f64(ttft / 1_000.0))
            );
        }
        if d.metadata.get(keys::CANCELLED) == Some(&serde_json::Value::Bool(true)) {
            out.push_str("  cancelled");
        }
    }
    if let Some(sev) = s.severity {
        let _ = write!(out, "  {}", sev.as_str());
    }
    if let Some(m) = s.data.as_ref().and_then(|d| d.message.as_ref()) {
        let _ = write!(out, ": {m}");
    }
    out.push('\n');
}

/// The total cost and its currency: the total if given, else input and output summed when
/// they share a currency.
fn total_cost(cost: &crate::values::Cost) -> Option<(f64, &str)> {
    if let Some(t) = &cost.total {
        return Some((t.amount, &t.currency));
    }
    match (&cost.input, &cost.output) {
        (Some(i), Some(o)) if i.currency == o.currency => Some((i.amount + o.amount, &i.currency)),
        (Some(m), None) | (None, Some(m)) => Some((m.amount, &m.currency)),
        _ => None,
    }
}

/// An amount to six significant digits, without trailing zeros: `0.0000288`, not the
/// `0.000028800000000000002` a sum of two prices can be.
fn amount_text(amount: f64) -> String {
    if amount == 0.0 || !amount.is_finite() {
        return amount.to_string();
    }
    let magnitude = amount.abs().log10().floor() as i32;
    let decimals = (5 - magnitude).clamp(0, 15) as usize;
    let text = format!("{amount:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn signal_line(out: &mut String, sig: &Signal) {
    match &sig.body {
        SignalBody::Event { name, metadata } => {
            let _ = write!(out, "event {name}");
            if !metadata.is_empty() {
                let _ = write!(out, " {}", serde_json::Value::Object(metadata.clone()));
            }
        }
        SignalBody::Finding(f) => {
            let value = match &f.value {
                FindingValue::Number(n) => n.to_string(),
                FindingValue::Bool(b) => b.to_string(),
                FindingValue::Text(t) => format!("{t:?}"),
            };
            let _ = write!(out, "finding {} = {value}", f.name);
            if let Some(c) = &f.comment {
                let _ = write!(out, "  ({c})");
            }
        }
    }
    out.push('\n');
}

fn human(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1_000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::stack;
    use crate::record::Kind;

    #[test]
    fn amounts_keep_six_significant_digits() {
        assert_eq!(amount_text(0.000_018 + 0.000_010_8), "0.0000288");
        assert_eq!(amount_text(0.003), "0.003");
        assert_eq!(amount_text(12.5), "12.5");
        assert_eq!(amount_text(1_234_567.0), "1234567");
        assert_eq!(amount_text(0.0), "0");
    }

    #[test]
    fn a_span_line_shows_cost_time_to_first_token_cancelled_and_the_error() {
        let mut rec = stack::new_detached_span("llm.answer".into(), Kind::Llm, SpanId::NONE);
        rec.end = Some(rec.start);
        rec.severity = Some(crate::Severity::Error);
        let data = rec.data_mut();
        data.llm.cost = Some(crate::values::Cost::new(0.25, 0.5, "USD"));
        data.metadata.insert(keys::TTFT_MS.into(), 12.5.into());
        data.metadata.insert(keys::CANCELLED.into(), true.into());
        data.message = Some("upstream: connection reset".into());
        let mut with_times = String::new();
        span_line(&mut with_times, &rec, true);
        assert_eq!(
            with_times,
            "llm llm.answer  0µs  cost 0.75 USD  ttft 12.5ms  cancelled  error: upstream: connection reset\n"
        );
        let mut snapshot = String::new();
        span_line(&mut snapshot, &rec, false);
        assert_eq!(
            snapshot,
            "llm llm.answer  cost 0.75 USD  cancelled  error: upstream: connection reset\n"
        );
    }
}
