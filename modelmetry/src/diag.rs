//! The SDK's own diagnostics: one line each, to a callback the user sets or to stderr.
//!
//! Never a payload, never the API key: only what went wrong and what was counted.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

type Hook = Arc<dyn Fn(&str) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);
static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

pub(crate) fn set_hook(hook: Option<Hook>) {
    *HOOK.write().unwrap_or_else(PoisonError::into_inner) = hook;
}

/// Report a problem.
pub(crate) fn report(message: std::fmt::Arguments<'_>) {
    let text = message.to_string();
    let hook = HOOK.read().unwrap_or_else(PoisonError::into_inner).clone();
    match hook {
        Some(hook) => {
            // A hook that traces is not traced (it would report on itself without end), and
            // a panicking hook must not take the exporter (or the application) down with it.
            let _ = crate::switch::user_code(|| hook(&text));
        }
        None => eprintln!("modelmetry: {text}"),
    }
}

/// Report a problem the first time it happens in this process (it is counted every time).
pub(crate) fn once(key: &'static str, message: std::fmt::Arguments<'_>) {
    let first = SEEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert(key);
    if first {
        report(message);
    }
}
