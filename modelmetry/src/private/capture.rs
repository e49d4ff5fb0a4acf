//! The compile-time choice of how the macros capture a value and describe an error.
//!
//! The macros capture arguments and return values of any type, without adding a bound to the
//! user's function: the choice between JSON, `Debug` text and a placeholder is made by method
//! resolution at the call site ("autoref specialisation"). The macro writes
//! `(&&&Capture(&value)).__modelmetry_capture()`; the compiler tries the receiver `&&&Capture`
//! first, then derefs one level at a time, so the impl on the most references wins among those
//! whose bounds hold:
//!
//! | impl on          | bound            | captured as                      |
//! | ---------------- | ---------------- | -------------------------------- |
//! | `&&Capture<T>`   | `T: Serialize`   | its JSON                         |
//! | `&Capture<T>`    | `T: Debug`       | its `Debug` text, as a string, with `capture_debug` on; else `"<debug capture off: T>"` |
//! | `Capture<T>`     | none             | a placeholder naming the type    |
//!
//! In a generic function the choice follows the bounds the function declares: a `T` with no
//! bounds is captured as a placeholder.

use std::fmt::{Debug, Display};

use serde::Serialize;
use serde_json::Value;

use crate::capture::{Captured, metadata, value_limit};
use crate::stats;

/// A value to capture; see the module notes above.
#[derive(Clone, Copy)]
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Capture as JSON (chosen when the type implements `Serialize`), capped like any content.
pub trait CaptureSerialize {
    /// The value as JSON.
    fn __modelmetry_capture(&self) -> Captured;
}

impl<T: Serialize + ?Sized> CaptureSerialize for &&Capture<'_, T> {
    fn __modelmetry_capture(&self) -> Captured {
        user_capture(|| metadata(self.0))
    }
}

/// Run a user type's `Serialize`, `Debug` or `Display` for a capture: with tracing off on
/// this thread (so a value that calls an instrumented function does not trace it), and a
/// panic caught and recorded as a placeholder, so that the user's function goes on exactly
/// as without the SDK.
fn user_capture(capture: impl FnOnce() -> Captured) -> Captured {
    match crate::switch::user_code(capture) {
        Ok(captured) => captured,
        Err(payload) => Captured {
            value: Value::String(panicked_placeholder(&*payload)),
            original_bytes: None,
        },
    }
}

/// The placeholder for a value whose capture panicked; the panic is counted.
fn panicked_placeholder(payload: &(dyn std::any::Any + Send)) -> String {
    stats::count_capture_panic();
    crate::diag::once(
        "capture_panicked",
        format_args!(
            "capturing a value panicked (its Serialize, Debug or Display); a placeholder was recorded instead (counted in stats().capture_panics)"
        ),
    );
    format!("<capture panicked: {}>", crate::switch::panic_text(payload))
}

/// Capture as `Debug` text (chosen when the type implements `Debug` but not `Serialize`).
pub trait CaptureDebug {
    /// The value's `Debug` text, as a JSON string.
    fn __modelmetry_capture(&self) -> Captured;
}

impl<T: Debug + ?Sized> CaptureDebug for &Capture<'_, T> {
    fn __modelmetry_capture(&self) -> Captured {
        if !crate::capture::debug_enabled() {
            // A type never meant to be serialised often holds what should not leave the
            // process: its Debug text is opt-in (`Config::capture_debug`).
            return Captured {
                value: Value::String(format!(
                    "<debug capture off: {}>",
                    std::any::type_name::<T>()
                )),
                original_bytes: None,
            };
        }
        user_capture(|| debug_text(self.0, value_limit()))
    }
}

/// Capture as a placeholder (chosen when the type implements neither).
pub trait CaptureOpaque {
    /// A placeholder that names the type.
    fn __modelmetry_capture(&self) -> Captured;
}

impl<T: ?Sized> CaptureOpaque for Capture<'_, T> {
    fn __modelmetry_capture(&self) -> Captured {
        Captured {
            value: Value::String(opaque::<T>()),
            original_bytes: None,
        }
    }
}

/// `value`'s `Debug` text as a JSON string of at most about `limit` bytes. The text past the
/// limit is formatted (to measure it) but never stored.
fn debug_text<T: Debug + ?Sized>(value: &T, limit: usize) -> Captured {
    struct Bounded {
        kept: String,
        limit: usize,
        total: usize,
    }
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.total += s.len();
            let room = self.limit.saturating_sub(self.kept.len());
            if room >= s.len() {
                self.kept.push_str(s);
            } else if room > 0 {
                let mut end = room;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                self.kept.push_str(&s[..end]);
                self.limit = self.kept.len(); // full: keep nothing more
            }
            Ok(())
        }
    }
    let mut out = Bounded {
        kept: String::new(),
        limit,
        total: 0,
    };
    let _ = std::fmt::write(&mut out, format_args!("{value:?}"));
    if out.total > out.kept.len() {
        stats::count_truncated(1);
        out.kept.push('…');
        Captured {
            value: Value::String(out.kept),
            original_bytes: Some(out.total + 2),
        }
    } else {
        Captured {
            value: Value::String(out.kept),
            original_bytes: None,
        }
    }
}

fn opaque<T: ?Sized>() -> String {
    format!(
        "<{}: implements neither Serialize nor Debug>",
        std::any::type_name::<T>()
    )
}

/// A function's return value, seen as an outcome: `Result`s are split into their `Ok` and
/// `Err` values, any other value is an `Ok`. Chosen by the same autoref resolution:
/// `(&&Outcome(&ret)).__modelmetry_outcome()`.
pub struct Outcome<'a, T: ?Sized>(pub &'a T);

/// The outcome of a function that returns a `Result`.
pub trait OutcomeOfResult<'a> {
    /// The `Ok` type.
    type Ok: ?Sized;
    /// The `Err` type.
    type Err: ?Sized;
    /// The result by reference.
    fn __modelmetry_outcome(&self) -> Result<&'a Self::Ok, &'a Self::Err>;
}

impl<'a, T, E> OutcomeOfResult<'a> for &Outcome<'a, Result<T, E>> {
    type Ok = T;
    type Err = E;
    fn __modelmetry_outcome(&self) -> Result<&'a T, &'a E> {
        self.0.as_ref()
    }
}

/// The outcome of a function that returns anything else: always its value.
pub trait OutcomeOfValue<'a> {
    /// The returned type.
    type Ok: ?Sized;
    /// The value by reference.
    fn __modelmetry_outcome(&self) -> Result<&'a Self::Ok, &'a NoError>;
}

impl<'a, T: ?Sized> OutcomeOfValue<'a> for Outcome<'a, T> {
    type Ok = T;
    fn __modelmetry_outcome(&self) -> Result<&'a T, &'a NoError> {
        Ok(self.0)
    }
}

/// The error type of a function that cannot return an error.
#[derive(Debug)]
pub enum NoError {}

impl Display for NoError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

/// An error to describe: for a `std::error::Error` (or a boxed `dyn Error`, which is not one
/// itself), its text and every cause in its `source()` chain (`top: cause: root cause`, as
/// `anyhow`'s `{:#}` shows it); else its `Display` text (alternate form: `anyhow::Error` shows
/// its chain there); else its `Debug` text; else its type's name.
/// `(&&&&&ErrorText(&err)).__modelmetry_error()`.
pub struct ErrorText<'a, E: ?Sized>(pub &'a E);

/// Describe a boxed `dyn Error` (`Box<dyn Error>`, `+ Send`, `+ Send + Sync`: the usual
/// `Result<T, Box<dyn Error>>`) by its text and its causes, as [`ErrorChain`] does an error
/// type. A box of a trait object does not implement `Error` itself, so without this level it
/// would fall to its `Display` text and lose the causes. One level below [`ErrorChain`]: where
/// the error's type is still being inferred when the method is chosen, the first level is
/// picked, and that must be the one that fits most errors.
pub trait ErrorBoxed {
    /// The error's message, with its causes.
    fn __modelmetry_error(&self) -> String;
}

impl<'e> ErrorBoxed for &&&ErrorText<'_, Box<dyn std::error::Error + 'e>> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| chain_text(&**self.0))
    }
}

impl<'e> ErrorBoxed for &&&ErrorText<'_, Box<dyn std::error::Error + Send + 'e>> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| chain_text(&**self.0))
    }
}

impl<'e> ErrorBoxed for &&&ErrorText<'_, Box<dyn std::error::Error + Send + Sync + 'e>> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| chain_text(&**self.0))
    }
}

/// Describe an error by its text and its causes.
pub trait ErrorChain {
    /// The error's message, with its causes.
    fn __modelmetry_error(&self) -> String;
}

impl<E: std::error::Error + ?Sized> ErrorChain for &&&&ErrorText<'_, E> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| chain_text(self.0))
    }
}

/// `err`'s text followed by each cause's, `: `-separated. A cause whose text the message
/// already ends with (an error that prints its source itself) is not repeated.
pub(super) fn chain_text<E: std::error::Error + ?Sized>(err: &E) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    let mut depth = 0;
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !cause_text.is_empty() && !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
        depth += 1;
        if depth == 32 {
            break; // a cycle of sources, or a chain no one reads to the end
        }
    }
    text
}

/// Run a user type's `Display` or `Debug` for an error message: tracing off, a panic caught.
fn user_text(describe: impl FnOnce() -> String) -> String {
    crate::switch::user_code(describe).unwrap_or_else(|payload| panicked_placeholder(&*payload))
}

/// Describe an error by its `Display` text.
pub trait ErrorDisplay {
    /// The error's message.
    fn __modelmetry_error(&self) -> String;
}

impl<E: Display + ?Sized> ErrorDisplay for &&ErrorText<'_, E> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| format!("{:#}", self.0))
    }
}

/// Describe an error by its `Debug` text.
pub trait ErrorDebug {
    /// The error's message.
    fn __modelmetry_error(&self) -> String;
}

impl<E: Debug + ?Sized> ErrorDebug for &ErrorText<'_, E> {
    fn __modelmetry_error(&self) -> String {
        user_text(|| format!("{:?}", self.0))
    }
}

/// Describe an error by its type's name.
pub trait ErrorOpaque {
    /// The error's message.
    fn __modelmetry_error(&self) -> String;
}

impl<E: ?Sized> ErrorOpaque for ErrorText<'_, E> {
    fn __modelmetry_error(&self) -> String {
        format!("an error of type {}", std::any::type_name::<E>())
    }
}

#[cfg(test)]
// The extra borrows are the mechanism under test: they pick the impl.
#[allow(clippy::needless_borrow)]
mod choice_tests {
    use super::*;

    #[derive(Serialize, Debug)]
    struct Both {
        a: u8,
    }
    #[derive(Debug)]
    struct DebugOnly(#[allow(dead_code)] u8); // read only through Debug
    struct Neither;

    struct NoSink;
    impl crate::dispatch::Sink for NoSink {
        fn submit(&self, _: crate::record::FinishedTrace) {}
    }

    #[test]
    fn serialize_wins_over_debug_which_wins_over_nothing() {
        assert_eq!(
            (&&&Capture(&Both { a: 1 })).__modelmetry_capture().value,
            serde_json::json!({"a": 1})
        );
        // Debug capture is off by default: a placeholder with the type's name.
        let off = (&&&Capture(&DebugOnly(2))).__modelmetry_capture().value;
        let off = off.as_str().unwrap_or_default();
        assert!(
            off.starts_with("<debug capture off: ") && off.ends_with("DebugOnly>"),
            "{off}"
        );
        let _debug = crate::dispatch::set_default(crate::dispatch::Dispatch::scoped(
            std::sync::Arc::new(NoSink),
            crate::capture::Settings {
                content: true,
                value_limit: 1000,
                debug: true,
                sample_rate: 1.0,
            },
        ));
        assert_eq!(
            (&&&Capture(&DebugOnly(2))).__modelmetry_capture().value,
            Value::String("DebugOnly(2)".into())
        );
        let opaque = (&&&Capture(&Neither)).__modelmetry_capture().value;
        assert!(
            opaque.as_str().is_some_and(|s| s.contains("Neither")),
            "{opaque}"
        );
        assert_eq!((&&&Capture("hi")).__modelmetry_capture().value, "hi");
    }

    #[test]
    fn debug_text_is_cut_at_the_limit_without_being_stored_whole() {
        let long = DebugOnly(7);
        let whole = debug_text(&long, 1000);
        assert_eq!(whole.value, "DebugOnly(7)");
        assert_eq!(whole.original_bytes, None);
        let cut = debug_text(&long, 5);
        assert_eq!(cut.value, "Debug…");
        assert_eq!(cut.original_bytes, Some("\"DebugOnly(7)\"".len()));
        // Never in the middle of a character.
        let cut = debug_text(&"ééé", 4);
        assert_eq!(cut.value, "\"é…");
    }

    #[test]
    fn results_split_and_errors_describe_themselves() {
        let ok: Result<u8, std::fmt::Error> = Ok(3);
        assert!(matches!((&&Outcome(&ok)).__modelmetry_outcome(), Ok(&3)));
        let err: Result<u8, std::fmt::Error> = Err(std::fmt::Error);
        match (&&Outcome(&err)).__modelmetry_outcome() {
            Err(e) => assert_eq!(
                (&&&&&ErrorText(e)).__modelmetry_error(),
                std::fmt::Error.to_string()
            ),
            Ok(_) => panic!("an Err is an error"),
        }
        assert!(matches!((&&Outcome(&7u8)).__modelmetry_outcome(), Ok(&7)));
        assert!(
            (&&&&&ErrorText(&Neither))
                .__modelmetry_error()
                .contains("Neither")
        );
    }
}
