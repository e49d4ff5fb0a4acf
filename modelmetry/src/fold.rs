//! Folds: how a [`Traced`](crate::Traced) stream turns its items into its span's output.
//!
//! | fold | items | output |
//! | --- | --- | --- |
//! | [`Text`] | anything `AsRef<str>` (text chunks) | the chunks joined |
//! | [`Json`] | anything `Serialize` | a JSON array of the items |
//! | [`Results`] | `Result<T, E>` | the inner fold's output of the `Ok` values; an `Err` closes the span as an error with its `Display` text |
//! | [`FromFn`] | anything | what your closure accumulates (e.g. only the last chunk's usage) |
//! | [`Nothing`] | anything | none |
//!
//! Output is bounded like any captured value ([`Config::max_value_bytes`](crate::Config)):
//! past the cap, items are still counted but no longer kept, and the cut is marked in the span's
//! metadata. With content capture off, nothing is kept.

use std::fmt::Display;

use serde::Serialize;
use serde_json::Value;

use crate::capture;

/// What a fold hands over when its stream's span closes: the output, and whether it was cut.
pub trait FoldOutput {
    /// The output so far (`None`: no output). Called once, when the stream closes, with its
    /// span current (so a fold may record on it), and only while content capture is on.
    fn output(&mut self) -> Option<serde_json::Value>;

    /// The size in bytes of everything seen, if the output had to be cut to stay within the
    /// capture limit; the cut is then marked in the span's metadata.
    fn original_bytes(&self) -> Option<usize> {
        None
    }
}

/// How a traced stream sees its items: which are errors, and what goes into the output.
///
/// `item` runs while the stream's span is current, so a fold can also record on it (usage
/// from a final chunk, for example, with [`current_span`](crate::current_span)).
pub trait Fold<T>: FoldOutput {
    /// See one item. `Err(text)` says the item is a failure: the span closes as an error with
    /// that text.
    fn item(&mut self, item: &T) -> Result<(), String>;
}

/// Joins text chunks.
#[derive(Debug, Default, Clone)]
pub struct Text {
    text: String,
    seen: usize,
    cut: bool,
}

impl<T: AsRef<str>> Fold<T> for Text {
    fn item(&mut self, item: &T) -> Result<(), String> {
        let chunk = item.as_ref();
        self.seen += chunk.len();
        if self.cut || !capture::content_enabled() {
            return Ok(());
        }
        let room = capture::value_limit().saturating_sub(self.text.len());
        if chunk.len() <= room {
            self.text.push_str(chunk);
        } else {
            let mut end = room;
            while !chunk.is_char_boundary(end) {
                end -= 1;
            }
            self.text.push_str(&chunk[..end]);
            self.cut = true;
        }
        Ok(())
    }
}

impl FoldOutput for Text {
    fn output(&mut self) -> Option<Value> {
        Some(Value::String(std::mem::take(&mut self.text)))
    }

    fn original_bytes(&self) -> Option<usize> {
        self.cut.then_some(self.seen)
    }
}

/// Keeps every item as JSON, in a list.
#[derive(Debug, Default, Clone)]
pub struct Json {
    items: Vec<Value>,
    kept: usize,
    seen: usize,
    cut: bool,
}

impl<T: Serialize> Fold<T> for Json {
    fn item(&mut self, item: &T) -> Result<(), String> {
        if !capture::content_enabled() {
            return Ok(());
        }
        let value = capture::metadata(item).value;
        let size = capture::json_len(&value) + 1;
        self.seen += size;
        if !self.cut && self.kept + size <= capture::value_limit() {
            self.kept += size;
            self.items.push(value);
        } else {
            self.cut = true;
        }
        Ok(())
    }
}

impl FoldOutput for Json {
    fn output(&mut self) -> Option<Value> {
        Some(Value::Array(std::mem::take(&mut self.items)))
    }

    fn original_bytes(&self) -> Option<usize> {
        self.cut.then_some(self.seen)
    }
}

/// For streams of `Result`s: an `Err` item closes the span as an error (its `Display` text is
/// the span's message); `Ok` values go to the inner fold.
#[derive(Debug, Default, Clone)]
pub struct Results<F>(pub F);

impl<T, E: Display, F: Fold<T>> Fold<Result<T, E>> for Results<F> {
    fn item(&mut self, item: &Result<T, E>) -> Result<(), String> {
        match item {
            Ok(v) => self.0.item(v),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl<F: FoldOutput> FoldOutput for Results<F> {
    fn output(&mut self) -> Option<Value> {
        self.0.output()
    }

    fn original_bytes(&self) -> Option<usize> {
        self.0.original_bytes()
    }
}

/// A fold of your own: `f(&mut output, &item)` runs for each item (with the span current), and
/// whatever `output` holds at the end becomes the span's output (`null`: none).
///
/// ```
/// use modelmetry::fold::FromFn;
/// // Keep only the last chunk.
/// let last = FromFn::new(|out: &mut serde_json::Value, chunk: &&str| {
///     *out = serde_json::Value::from(*chunk);
///     Ok(())
/// });
/// # let _ = last;
/// ```
pub struct FromFn<G> {
    output: Value,
    f: G,
}

impl<G> FromFn<G> {
    /// A fold that runs `f` on each item of type `T`. `f` returns `Err(text)` for an item that
    /// is a failure (the span then closes as an error with that text).
    pub fn new<T>(f: G) -> Self
    where
        G: FnMut(&mut Value, &T) -> Result<(), String>,
    {
        FromFn {
            output: Value::Null,
            f,
        }
    }
}

impl<T, G: FnMut(&mut Value, &T) -> Result<(), String>> Fold<T> for FromFn<G> {
    fn item(&mut self, item: &T) -> Result<(), String> {
        (self.f)(&mut self.output, item)
    }
}

impl<G> FoldOutput for FromFn<G> {
    fn output(&mut self) -> Option<Value> {
        match std::mem::take(&mut self.output) {
            Value::Null => None,
            v => Some(v),
        }
    }
}

impl<G> std::fmt::Debug for FromFn<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FromFn").finish_non_exhaustive()
    }
}

/// Keeps nothing: the span records timing, items and errors only.
#[derive(Debug, Default, Clone, Copy)]
pub struct Nothing;

impl<T> Fold<T> for Nothing {
    fn item(&mut self, _: &T) -> Result<(), String> {
        Ok(())
    }
}

impl FoldOutput for Nothing {
    fn output(&mut self) -> Option<Value> {
        None
    }
}
