//! Captured content (inputs, outputs, messages) and metadata values as JSON.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use serde::Serialize;
use serde_json::Value;

static CONTENT: AtomicBool = AtomicBool::new(true);

/// Whether inputs, outputs, messages and documents are recorded
/// (`MODELMETRY_CAPTURE_CONTENT`, [`Config::capture_content`](crate::Config::capture_content)).
pub fn content_enabled() -> bool {
    CONTENT.load(Relaxed)
}

pub(crate) fn set_content_enabled(on: bool) {
    CONTENT.store(on, Relaxed);
}

/// Content as JSON, or `None` when content capture is off.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Option<Value> {
    content_enabled().then(|| metadata_value(value))
}

/// Any value as JSON. A value that cannot be serialised (a map with non-string keys, a
/// failing `Serialize` impl) becomes a string saying why, never an error in the application.
pub(crate) fn metadata_value<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| Value::String(format!("<not serialisable: {e}>")))
}
