//! The SDK's own diagnostics: one line each, to a callback the user sets or to stderr.
//!
//! Never a payload, never the API key: only what went wrong and what was counted.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

type Hook = Arc<dyn Fn(&str) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);
static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
/// Every secret the client was configured with (the API key, OTLP header values): cut out of
/// every diagnostic, whatever a server echoes back.
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
/// Secrets shorter than this are not scrubbed (a one-letter "key" would mangle every line).
const MIN_SECRET: usize = 4;
/// At most this many secrets are remembered (re-initialising adds its own).
const MAX_SECRETS: usize = 64;

/// Remember `secret` so that no diagnostic ever shows it.
pub(crate) fn add_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    if all.iter().any(|s| s == secret) {
        return;
    }
    if all.len() >= MAX_SECRETS {
        all.remove(0);
    }
    all.push(secret.to_owned());
}

/// `text` with every configured secret replaced by `<redacted>`.
pub(crate) fn scrub(text: &str) -> String {
    let all = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = text.to_owned();
    for secret in all.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "<redacted>");
        }
    }
    out
}

pub(crate) fn set_hook(hook: Option<Hook>) {
    *HOOK.write().unwrap_or_else(PoisonError::into_inner) = hook;
}

/// Report a problem.
pub(crate) fn report(message: std::fmt::Arguments<'_>) {
    let text = scrub(&message.to_string());
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

/// Report a problem to `hook` (a client's `on_error`, before that client's hook is installed),
/// or as [`report`] does without one.
pub(crate) fn report_to(hook: Option<&Hook>, message: std::fmt::Arguments<'_>) {
    match hook {
        Some(hook) => {
            let text = scrub(&message.to_string());
            let _ = crate::switch::user_code(|| hook(&text));
        }
        None => report(message),
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

/// `url` with any user info (`user:password@`) replaced: it may hold a password.
pub(crate) fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://<redacted>@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}
