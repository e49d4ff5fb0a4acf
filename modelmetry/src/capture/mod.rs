//! Captured content (inputs, outputs) and metadata values as JSON: capped in size and with
//! non-finite numbers written as text.
//!
//! `serde_json::to_value` has two traps for an SDK: it turns NaN and ±infinity into `null`
//! without a word (the data silently changes), and it copies a value whole however large it
//! is (a 50 MB prompt becomes 50 MB more of memory held until export). So values are built by
//! a serde `Serializer` of our own (`serializer.rs`) that
//! - writes a non-finite `f32`/`f64` as the string `"NaN"`, `"Infinity"` or `"-Infinity"`, and
//!   an integer beyond 64 bits as its decimal string, and counts each in
//!   [`Stats::sanitized`](crate::Stats);
//! - stops at a budget of JSON bytes ([`Config::max_value_bytes`](crate::Config), 256 KiB by
//!   default): strings are cut (ending in `…`), arrays and maps keep their first entries, and
//!   nothing past the budget is ever copied. A cut value is counted in
//!   [`Stats::truncated`](crate::Stats) and noted in the record's metadata under
//!   `modelmetry.truncated` as `{"field": ..., "original_bytes": ...}`.
//!
//! | file | job |
//! | --- | --- |
//! | `mod.rs` | [`Captured`], and the front door: `content`, `metadata`, `capped` |
//! | `settings.rs` | the switches: content capture on or off, the per-value cap (global, or per thread for a scoped dispatch) |
//! | `limits.rs` | sizes as JSON, measured without building: `json_len`, `json_str_len`, `cut_str` |
//! | `serializer.rs` | the budgeted serde `Serializer` |
//!
//! What only the macros call (the compile-time choice of JSON, `Debug` text or a placeholder)
//! is in `private/capture.rs`.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::stats;

mod limits;
mod serializer;
mod settings;

pub(crate) use limits::{cut_str, json_len, json_str_len};
pub use settings::content_enabled;
pub(crate) use settings::{
    DEFAULT_MAX_VALUE_BYTES, Settings, content_switch, debug_enabled, sample_rate, sampled_out,
    set_global_settings, set_sampled_out, set_thread_settings, value_limit,
};

/// The metadata key under which cut values are listed.
pub(crate) const TRUNCATED_KEY: &str = crate::metadata_keys::TRUNCATED;

/// A value as captured: its JSON, and its size before it was cut, if it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    pub(crate) value: Value,
    pub(crate) original_bytes: Option<usize>,
}

impl Captured {
    /// The value, after noting in `metadata` that field `field` was cut, if it was.
    pub(crate) fn noted(self, metadata: &mut Map<String, Value>, field: &str) -> Value {
        if let Some(original) = self.original_bytes {
            note_truncated(metadata, field, original);
        }
        self.value
    }

    /// Insert the value into `metadata` under `key`, noting a cut as `Metadata.{key}`.
    pub(crate) fn insert_into(self, metadata: &mut Map<String, Value>, key: &str) {
        let value = self.noted(metadata, &format!("Metadata.{key}"));
        metadata.insert(key.to_owned(), value);
    }
}

/// Add `{"field": field, "original_bytes": original}` to `metadata["modelmetry.truncated"]`.
pub(crate) fn note_truncated(metadata: &mut Map<String, Value>, field: &str, original: usize) {
    let entry = serde_json::json!({"field": field, "original_bytes": original});
    match metadata.get_mut(TRUNCATED_KEY) {
        Some(Value::Array(list)) => list.push(entry),
        _ => {
            metadata.insert(TRUNCATED_KEY.to_owned(), Value::Array(vec![entry]));
        }
    }
}

/// Content as JSON, capped; `None` when content capture is off.
pub(crate) fn content<T: Serialize + ?Sized>(value: &T) -> Option<Captured> {
    content_enabled().then(|| metadata(value))
}

/// Any value as JSON, capped. A value that cannot be serialised (a map with keys that are not
/// strings or numbers, a failing `Serialize` impl) becomes a string saying why, never an error
/// in the application.
pub(crate) fn metadata<T: Serialize + ?Sized>(value: &T) -> Captured {
    capped(value, value_limit()).unwrap_or_else(|| Captured {
        value: Value::String("…".into()),
        original_bytes: Some(json_len(value)),
    })
}

/// `value` as JSON of at most `limit` bytes, counted in the stats; `None` if not even an
/// empty value fits.
pub(crate) fn capped<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<Captured> {
    let (captured, non_finite) = build(value, limit)?;
    if non_finite > 0 {
        stats::count_sanitized(non_finite);
    }
    if captured.original_bytes.is_some() {
        stats::count_truncated(1);
    }
    Some(captured)
}

/// `value` as JSON of at most `limit` bytes, for the record-level cut (which counts its own
/// fields): `None` if not even an empty value fits.
pub(crate) fn fit_value(value: &Value, limit: usize) -> Option<Value> {
    build(value, limit).map(|(c, _)| c.value)
}

/// The capture itself, and the number of non-finite numbers written as text.
fn build<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<(Captured, u64)> {
    let built = serializer::build(value, limit)?;
    // Measuring the original serialises it once more, keeping nothing: only when it was cut.
    let original_bytes = built.cut.then(|| json_len(value));
    Some((
        Captured {
            value: built.value,
            original_bytes,
        },
        built.non_finite,
    ))
}
