//! Findings and events: values and happenings recorded on a span or on a trace.

use crate::time::Tick;

use serde::Serialize;
use serde_json::Map;

use crate::capture;
use crate::context::stack::{self, Slot};
use crate::record::{FindingRecord, Name, Signal, SignalBody};
use crate::stats::{self, Loss};
use crate::values::FindingValue;

/// A finding: a named value (number, boolean or string) about a span or a trace, such as a
/// score, a token count or a verdict.
///
/// ```
/// use modelmetry::Finding;
/// Finding::new("response_safe_score", 0.93)
///     .comment("checked by the moderation model")
///     .record();
/// ```
///
/// A number that is NaN or infinite cannot be sent as JSON: recording it drops the finding and
/// counts it in [`Stats::dropped`](crate::Stats)`.non_finite`, never a panic and never a `null`.
#[derive(Debug, Clone)]
#[must_use = "a finding is only recorded by `.record()`"]
pub struct Finding {
    name: Name,
    value: FindingValue,
    comment: Option<String>,
    description: Option<String>,
    metadata: Map<String, serde_json::Value>,
}

impl Finding {
    /// A finding named `name` with `value` (any number, `bool`, `&str` or `String`).
    pub fn new(name: impl Into<Name>, value: impl Into<FindingValue>) -> Self {
        Finding {
            name: name.into(),
            value: value.into(),
            comment: None,
            description: None,
            metadata: Map::new(),
        }
    }

    /// Add a comment.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Add a description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Add a metadata entry.
    pub fn metadata<T: Serialize + ?Sized>(mut self, key: &str, value: &T) -> Self {
        capture::metadata(value).insert_into(&mut self.metadata, key);
        self
    }

    /// Add a metadata entry already captured as JSON (for the macros).
    pub(crate) fn metadata_value(mut self, key: &str, value: capture::Captured) -> Self {
        value.insert_into(&mut self.metadata, key);
        self
    }

    /// Record on the current span, or on the trace when no span is open. Returns `false` if
    /// it was not recorded (no trace open, tracing disabled, or a non-finite number), which
    /// [`stats`](crate::stats) counts.
    pub fn record(self) -> bool {
        self.record_at(At::Innermost)
    }

    pub(crate) fn record_at(self, at: At) -> bool {
        if !crate::dispatch::enabled() {
            return false;
        }
        if let FindingValue::Number(n) = self.value {
            if !n.is_finite() {
                stats::count_drop(Loss::NonFinite, 1);
                crate::diag::once(
                    "non_finite",
                    format_args!(
                        "finding `{}` has the non-finite value {n}; JSON cannot carry it, so the finding was dropped (counted in stats().dropped.non_finite)",
                        self.name
                    ),
                );
                return false;
            }
        }
        let body = SignalBody::Finding(Box::new(FindingRecord {
            name: self.name,
            value: self.value,
            comment: self.comment,
            description: self.description,
            metadata: self.metadata,
        }));
        push(body, at)
    }
}

/// An event: something that happened at an instant, with metadata.
///
/// ```
/// modelmetry::Event::new("tool_selected").with("tool", "GetOrderInformation").record();
/// ```
#[derive(Debug, Clone)]
#[must_use = "an event is only recorded by `.record()`"]
pub struct Event {
    name: Name,
    metadata: Map<String, serde_json::Value>,
}

impl Event {
    /// An event named `name`.
    pub fn new(name: impl Into<Name>) -> Self {
        Event {
            name: name.into(),
            metadata: Map::new(),
        }
    }

    /// Add a metadata entry.
    pub fn with<T: Serialize + ?Sized>(mut self, key: &str, value: &T) -> Self {
        capture::metadata(value).insert_into(&mut self.metadata, key);
        self
    }

    /// Add a metadata entry already captured as JSON (for the macros).
    pub(crate) fn with_value(mut self, key: &str, value: capture::Captured) -> Self {
        value.insert_into(&mut self.metadata, key);
        self
    }

    /// Record on the current span, or on the trace when no span is open. Returns `false` if
    /// it was not recorded (no trace open, or tracing disabled).
    pub fn record(self) -> bool {
        self.record_at(At::Innermost)
    }

    pub(crate) fn record_at(self, at: At) -> bool {
        if !crate::dispatch::enabled() {
            return false;
        }
        push(
            SignalBody::Event {
                name: self.name,
                metadata: self.metadata,
            },
            at,
        )
    }
}

/// Where a finding or event is recorded.
#[derive(Clone, Copy, Debug)]
pub(crate) enum At {
    /// The innermost open span on this thread, or its trace when no span is open.
    Innermost,
    /// The span in this slot.
    Span(Slot),
    /// The trace of the frame with this serial, itself (not one of its spans).
    Trace(u64),
    /// The trace innermost on this thread, itself.
    InnermostTrace,
}

fn push(body: SignalBody, place: At) -> bool {
    let at = Tick::now();
    let make = |target| Signal { target, at, body };
    let pushed = match place {
        At::Innermost => stack::push_signal(make),
        At::Span(slot) => stack::push_signal_at(slot, make),
        At::Trace(serial) => stack::push_trace_signal(Some(serial), make),
        At::InnermostTrace => stack::push_trace_signal(None, make),
    };
    if !pushed {
        stats::count_drop(Loss::NoActiveTrace, 1);
        crate::diag::once(
            "no_active_trace",
            format_args!(
                "a finding or event was recorded with no trace open on this thread; it was dropped (counted in stats().dropped.no_active_trace)"
            ),
        );
    }
    pushed
}

macro_rules! finding_value_from {
    ($variant:ident: $($t:ty),*) => {$(
        impl From<$t> for FindingValue {
            fn from(v: $t) -> Self {
                FindingValue::$variant(v.into())
            }
        }
    )*};
}

finding_value_from!(Number: f64, f32, i8, i16, i32, u8, u16, u32);
finding_value_from!(Bool: bool);
finding_value_from!(Text: String, &str);

impl From<i64> for FindingValue {
    /// Integers beyond ±2^53 lose precision, as they would in any JSON number.
    fn from(v: i64) -> Self {
        FindingValue::Number(v as f64)
    }
}

impl From<u64> for FindingValue {
    /// Integers beyond 2^53 lose precision, as they would in any JSON number.
    fn from(v: u64) -> Self {
        FindingValue::Number(v as f64)
    }
}

impl From<usize> for FindingValue {
    fn from(v: usize) -> Self {
        FindingValue::Number(v as f64)
    }
}

impl From<std::borrow::Cow<'_, str>> for FindingValue {
    fn from(v: std::borrow::Cow<'_, str>) -> Self {
        FindingValue::Text(v.into_owned())
    }
}
